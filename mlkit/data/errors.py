"""Errors raised by :mod:`mlkit.data`: each names the file, row and/or column at fault."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "ChecksumError",
    "DataError",
    "DataValidationError",
    "EmptyDataError",
    "MalformedCSVError",
    "Problem",
    "UnknownCategoryError",
    "check_frame",
]


class DataError(ValueError):
    """Bad data or bad arguments about data (base class)."""


class EmptyDataError(DataError):
    """A frame with no rows (or no columns) where data was expected."""


class MalformedCSVError(DataError):
    """A CSV file whose row does not parse; names the file and the line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class ChecksumError(DataError):
    """A bundled file whose bytes do not match the recorded md5."""


class UnknownCategoryError(DataError):
    """A category seen at transform time that was not seen at fit time."""


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`mlkit.data.validate`."""

    column: str | None  # None for whole-frame problems (duplicate rows, empty frame)
    check: str  # e.g. "dtype", "range", "categories", "missing", "duplicates", "constant", "leakage"
    message: str
    severity: str = "error"  # "error" or "warning"
    value: float | int | str | None = None  # the measured number (rate, count), if any

    def __str__(self) -> str:
        where = f"column {self.column!r}" if self.column is not None else "frame"
        return f"[{self.check}] {where}: {self.message}"


class DataValidationError(DataError):
    """Raised by ``validate(..., strict=True)``; ``.problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem] | str, *, header: str | None = None) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems)
            return
        self.problems = list(problems)
        head = header or f"data validation failed with {len(self.problems)} problem(s)"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


def _duplicates(names: Iterable) -> list:
    seen: set = set()
    dup: list = []
    for name in names:
        if name in seen and name not in dup:
            dup.append(name)
        seen.add(name)
    return dup


def check_frame(df, *, where: str = "frame", allow_empty_rows: bool = True) -> None:
    """Boundary checks shared by every public function: a DataFrame with unique column names.

    Raises :class:`DataError` for a non-frame or duplicate column names and
    :class:`EmptyDataError` for a frame without columns (or without rows for pandas when
    ``allow_empty_rows`` is False; Dask row counts are checked after the pass).
    """
    import pandas as pd

    try:
        import dask.dataframe as dd

        frame_types: tuple = (pd.DataFrame, dd.DataFrame)
    except ImportError:  # pragma: no cover
        frame_types = (pd.DataFrame,)
    if not isinstance(df, frame_types):
        raise DataError(f"{where}: expected a pandas or Dask DataFrame, got {type(df).__name__}")
    dup = _duplicates(df.columns)
    if dup:
        raise DataError(
            f"{where}: duplicate column names {[str(d) for d in dup]}; column names must be unique "
            "(rename or drop the repeated columns)"
        )
    if len(df.columns) == 0:
        raise EmptyDataError(f"{where}: empty frame: it has no columns; expected at least one column")
    if not allow_empty_rows and isinstance(df, pd.DataFrame) and len(df) == 0:
        raise EmptyDataError(
            f"{where}: empty frame: 0 rows (columns {list(map(str, df.columns))[:10]}); "
            "expected at least one row"
        )
