"""Kept for notebooks that import it from here; the sampler lives in :mod:`mlkit.memory`."""

from ..memory import PeakMemory, tree_rss

__all__ = ["PeakMemory", "tree_rss"]
