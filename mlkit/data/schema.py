"""Schemas: what each column should look like (kind, range, categories, missing rate)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = ["KINDS", "ColumnSpec", "Schema", "kind_of"]

KINDS = ("int", "float", "bool", "category", "string", "datetime")


def kind_of(dtype) -> str:
    """The schema kind of a pandas/numpy dtype."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "string"
    return str(dtype)


@dataclass
class ColumnSpec:
    """Expectations for one column. ``None`` means "not checked"."""

    kind: str
    min: float | None = None
    max: float | None = None
    categories: list | None = None  # allowed values for category/string columns
    max_missing: float | None = 0.0  # highest allowed fraction of missing values

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"column kind must be one of {KINDS}, got {self.kind!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise DataError(f"column spec min {self.min} is above max {self.max}")
        if self.max_missing is not None and not 0 <= self.max_missing <= 1:
            raise DataError(f"max_missing must be in [0, 1], got {self.max_missing}")


@dataclass
class Schema:
    """Column expectations for :func:`mlkit.data.validate` and :func:`mlkit.data.read_csv`.

    ``target`` (optional) names the label column used for leakage hints.
    """

    columns: dict[str, ColumnSpec]
    target: str | None = None
    max_duplicate_rate: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.target is not None and self.target not in self.columns:
            raise DataError(
                f"schema target {self.target!r} is not one of its columns {list(self.columns)}"
            )

    @classmethod
    def from_kinds(cls, kinds: dict[str, str], **kwargs: Any) -> Schema:
        """A schema checking only column presence and kind."""
        return cls({name: ColumnSpec(kind, max_missing=None) for name, kind in kinds.items()}, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for spec in out["columns"].values():
            if spec["categories"] is not None:
                spec["categories"] = [_plain(c) for c in spec["categories"]]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Schema:
        cols = {name: ColumnSpec(**spec) for name, spec in raw["columns"].items()}
        return cls(cols, **{k: v for k, v in raw.items() if k != "columns"})

    def table(self) -> pd.DataFrame:
        rows = []
        for name, s in self.columns.items():
            cats = None if s.categories is None else len(s.categories)
            rows.append(
                {"column": name, "kind": s.kind, "min": s.min, "max": s.max,
                 "n_categories": cats, "max_missing": s.max_missing}
            )
        return pd.DataFrame(rows).set_index("column")

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
