"""Record values from a notebook so that tests and reports can read them back.

``record(name, value)`` writes a display output with the custom MIME type
:data:`RECORD_MIME` (plus a readable ``text/plain`` line) into the current cell.
:func:`mlkit.notebook.read_records` reads them back from an executed notebook.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["RECORD_MIME", "RecordError", "record", "recorded", "reset_records", "to_json_safe"]

RECORD_MIME = "application/vnd.mlkit.record+json"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")

# name -> (cell key, value). The cell key lets a user re-run the same cell in
# JupyterLab without tripping the duplicate check, while a second cell that
# reuses a name (a real mistake) is refused.
_RECORDED: dict[str, tuple[Any, Any]] = {}


class RecordError(ValueError):
    """A value that cannot be recorded (bad name, duplicate, not JSON-safe)."""


def to_json_safe(value: Any, *, name: str = "value", _path: str = "") -> Any:
    """Return ``value`` as plain JSON types, or raise :class:`RecordError`.

    numpy scalars become Python scalars and tuples become lists; non-finite
    floats, non-string keys and objects with no JSON form are refused.
    """
    where = f"{name}{_path}"
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"record {where!r}: non-finite float {value!r} cannot be recorded")
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise RecordError(
                    f"record {where!r}: dict keys must be str, got {type(key).__name__} {key!r}"
                )
            out[key] = to_json_safe(item, name=name, _path=f"{_path}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v, name=name, _path=f"{_path}[{i}]") for i, v in enumerate(value)]
    raise RecordError(
        f"record {where!r}: {type(value).__name__} is not JSON-safe; "
        "record numbers, strings, booleans, None, or lists/dicts of them"
    )


def _cell_key() -> Any:
    """Identify the notebook cell being executed, or None outside a kernel."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    if shell is None:
        return None
    kernel = getattr(shell, "kernel", None)
    if kernel is not None:
        try:
            parent = kernel.get_parent()
            cell_id = (parent.get("metadata") or {}).get("cellId")
            if cell_id:
                return ("cell", cell_id, shell.execution_count)
        except Exception:  # noqa: BLE001 - kernels differ; fall back below
            pass
    return ("exec", shell.execution_count)


def record(name: str, value: Any) -> None:
    """Record ``value`` under ``name`` in the current notebook output.

    Parameters
    ----------
    name : str
        Identifier-like name (letters, digits, ``_ . - /``), unique per notebook run.
    value : JSON-safe value
        Number, string, bool, None, or list/dict of them. numpy scalars are accepted.

    Returns None, so that a trailing ``record(...)`` does not echo an ``Out[]`` line;
    the recorded (JSON-safe) value is in :func:`recorded`.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RecordError(
            f"record name must be a non-empty identifier-like string "
            f"(letters, digits, '_', '.', '-', '/'), got {name!r}"
        )
    safe = to_json_safe(value, name=name)
    key = _cell_key()
    previous = _RECORDED.get(name)
    if previous is not None:
        prev_key = previous[0]
        same_cell_rerun = (
            key is not None
            and prev_key is not None
            and key[0] == "cell"
            and prev_key[0] == "cell"
            and key[1] == prev_key[1]
            and key[2] != prev_key[2]
        )
        if not same_cell_rerun:
            raise RecordError(
                f"record {name!r} was already recorded in this session "
                f"(value {previous[1]!r}); use a distinct name"
            )
    _RECORDED[name] = (key, safe)
    text = f"mlkit.record: {name} = {json.dumps(safe)}"
    try:
        from IPython.display import display

        display({RECORD_MIME: {"name": name, "value": safe}, "text/plain": text}, raw=True)
    except ImportError:  # pragma: no cover
        print(text)


def recorded() -> dict[str, Any]:
    """Values recorded so far in this kernel session, by name."""
    return {name: value for name, (_, value) in _RECORDED.items()}


def reset_records() -> None:
    """Forget the values recorded in this session (for scripts and tests)."""
    _RECORDED.clear()
