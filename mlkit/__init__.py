"""mlkit: helpers for engineering large-scale machine learning in notebooks.

Every public function takes pandas or Dask collections with the same call and
runs on the embedded local Dask cluster, a user's scheduler, or a GPU.
"""

from __future__ import annotations

from .profiles import PROFILES, pick
from .records import record, recorded, reset_records

__version__ = "0.1.0"

__all__ = ["PROFILES", "__version__", "client", "device", "pick", "record", "recorded", "reset_records"]


def client(address: str | None = None, **kwargs):
    """The session's Dask client (see :func:`mlkit.compute.client`)."""
    from .compute import client as _client

    return _client(address, **kwargs)


def device(prefer: str | None = None):
    """CPU/GPU report and matching settings (see :func:`mlkit.compute.device`)."""
    from .compute import device as _device

    return _device(prefer)


def _setup_notebook() -> None:
    # Inside a kernel, make plotly figures write HTML as well as their JSON so
    # they survive nbconvert export (plotly >= 6 otherwise drops them).
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from .plotting import use_mlkit_renderer

        use_mlkit_renderer()


_setup_notebook()
