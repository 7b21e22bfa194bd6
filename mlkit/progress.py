"""Progress bars that suit where the code runs.

In JupyterLab, ``tqdm.auto`` draws a widget bar. Under papermill or in a report
(``$MLKIT_HEADLESS=1``, set by :func:`mlkit.notebook.run`) a widget bar would be
saved without its state, so a plain text bar is printed instead, updated rarely
to keep the executed notebook small. ``$MLKIT_PROGRESS=off`` silences them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["bar", "track", "track_futures"]


def _mode() -> str:
    mode = os.environ.get("MLKIT_PROGRESS", "auto").lower()
    if mode not in {"auto", "text", "off"}:
        raise ValueError(f"$MLKIT_PROGRESS must be 'auto', 'text' or 'off', got {mode!r}")
    if mode == "auto" and os.environ.get("MLKIT_HEADLESS") == "1":
        return "text"
    return mode


def bar(total: int | None = None, desc: str | None = None, **kwargs: Any):
    """A tqdm progress bar appropriate to the environment (call ``.update(n)``, ``.close()``)."""
    mode = _mode()
    if mode == "off":
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, disable=True, **kwargs)
    if mode == "text":
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, file=sys.stdout, mininterval=5.0, ascii=True, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, **kwargs)


def track(iterable: Iterable, desc: str | None = None, total: int | None = None) -> Iterator:
    """Iterate ``iterable`` with a progress bar."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with bar(total=total, desc=desc) as pbar:
        for item in iterable:
            yield item
            pbar.update(1)


def track_futures(futures: Sequence, desc: str | None = None) -> list:
    """Wait for Dask futures with a progress bar; return their results in the given order.

    A failed task raises its exception here (the remaining futures are cancelled).
    """
    from distributed import as_completed

    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    with bar(total=len(futures), desc=desc) as pbar:
        try:
            for future in as_completed(futures):
                results[index[future.key]] = future.result()
                pbar.update(1)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return results
