"""The process-tree memory sampler shared by notebooks, tests and benchmarks."""

from __future__ import annotations

import time

import numpy as np
import psutil
import pytest

from mlkit.memory import PeakMemory, tree_memory, tree_rss


def test_rss_and_pss_of_the_tree():
    me = psutil.Process()
    rss, pss = tree_memory(), tree_memory(kind="pss")
    assert tree_rss() == pytest.approx(rss, rel=0.05)
    assert rss >= me.memory_info().rss * 0.95 and pss > 0
    assert pss <= rss * 1.05  # shared pages count once in PSS, once per process in RSS
    with pytest.raises(ValueError, match="kind must be 'rss' or 'pss', got 'uss'"):
        tree_memory(kind="uss")
    with pytest.raises(ValueError, match="got 'uss'"):
        PeakMemory(kind="uss")


@pytest.mark.parametrize("kind", ["rss", "pss"])
def test_peak_sees_a_transient_allocation(kind):
    with PeakMemory(kind=kind, interval=0.01) as mem:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
        time.sleep(0.1)
        del block
    assert mem.peak - mem.baseline > 48 * 2**20
