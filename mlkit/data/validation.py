"""Validation: infer a schema from a sample, then check a whole frame against it in one pass."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError, DataValidationError, EmptyDataError, Problem, check_frame
from .scan import ScanResult, leakage_auc, scan
from .schema import ColumnSpec, Schema, kind_of

__all__ = ["ValidationReport", "infer_schema", "sample_frame", "validate", "validate_and_profile"]


def sample_frame(df, n_rows: int = 100_000, *, max_partitions: int = 8) -> pd.DataFrame:
    """A pandas sample of ``df``: the first rows of up to ``max_partitions`` evenly spread
    partitions (reads only those partitions), or the pandas frame's head."""
    check_frame(df, where="sample")
    if not hasattr(df, "dask"):
        return df.iloc[:n_rows] if len(df) > n_rows else df
    import dask

    k = min(max_partitions, df.npartitions)
    picks = sorted(set(np.linspace(0, df.npartitions - 1, k).round().astype(int).tolist()))
    per = max(1, n_rows // len(picks))
    parts = dask.compute(*[df.partitions[i].head(per, npartitions=1, compute=False) for i in picks])
    return pd.concat(parts)


def infer_schema(
    df,
    *,
    target: str | None = None,
    sample_rows: int = 100_000,
    range_margin: float = 0.25,
    missing_slack: float = 0.02,
    max_categories: int = 100,
) -> Schema:
    """A :class:`Schema` inferred from a sample of ``df`` (pandas or Dask).

    Ranges are the sample's min/max widened by ``range_margin`` x (max - min) (not below 0
    for a non-negative column), so that values the sample missed by chance still pass while
    sentinels (-1, 999) and unit mix-ups fail. Allowed categories are the dtype's categories
    or, for text columns with at most ``max_categories`` values, those seen. A column with no
    missing values in the sample may have none; otherwise up to the sample rate + ``missing_slack``.
    """
    sample = sample_frame(df, sample_rows)
    if len(sample) == 0:
        raise EmptyDataError("infer_schema: empty frame: 0 rows; expected at least one row")
    if target is not None and target not in sample.columns:
        raise DataError(f"infer_schema: target {target!r} not in the frame; it has {list(sample.columns)}")
    cols: dict[str, ColumnSpec] = {}
    for name in sample.columns:
        s = sample[name]
        kind = kind_of(s.dtype)
        if kind not in {"int", "float", "bool", "category", "string", "datetime"}:
            kind = "string"
        rate = float(s.isna().mean())
        max_missing = 0.0 if rate == 0 else min(1.0, rate + missing_slack)
        spec = ColumnSpec(kind, max_missing=max_missing)
        if kind in {"int", "float"} and s.notna().any():
            lo, hi = float(s.min()), float(s.max())
            pad = range_margin * (hi - lo)
            spec.min = max(lo - pad, 0.0) if lo >= 0 else lo - pad
            spec.max = hi + pad
            if kind == "int":
                spec.min, spec.max = float(np.floor(spec.min)), float(np.ceil(spec.max))
        elif kind == "category":
            spec.categories = list(s.cat.categories)
        elif kind == "string":
            values = s.dropna().astype(str).unique()
            if len(values) <= max_categories:
                spec.categories = sorted(values)
        cols[name] = spec
    return Schema(cols, target=target)


@dataclass
class ValidationReport:
    """Result of :func:`validate`: ``.problems``, ``.table``, ``.figure()``, ``.ok``.

    ``.table`` has one row per problem (frame-wide problems have column ``"(frame)"``);
    ``.leakage`` holds each feature's binned single-feature AUC against the target.
    """

    problems: list[Problem]
    n_rows: int
    n_columns: int
    seconds: float
    stats: ScanResult | None = None
    leakage: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def table(self) -> pd.DataFrame:
        rows = [
            {"column": p.column if p.column is not None else "(frame)", "check": p.check, "severity": p.severity, "message": p.message, "value": p.value}
            for p in self.problems
        ]
        return pd.DataFrame(rows, columns=["column", "check", "severity", "message", "value"])

    def by_check(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.check] = out.get(p.check, 0) + 1
        return out

    def columns_with(self, check: str) -> list[str]:
        """Columns with a problem of this check (``"(frame)"`` for frame-wide ones such as duplicates)."""
        return [p.column if p.column is not None else "(frame)" for p in self.problems if p.check == check]

    def figure(self):
        """Plotly bar chart: problems per column, coloured by check."""
        import plotly.graph_objects as go

        t = self.table
        fig = go.Figure()
        if len(t):
            for check, part in t.groupby("check", sort=True):
                counts = part.groupby("column").size()
                fig.add_bar(x=counts.index.tolist(), y=counts.to_numpy().tolist(), name=str(check),
                            hovertext=[" | ".join(part[part.column == c].message) for c in counts.index])
        fig.update_layout(
            barmode="stack",
            title=f"Validation: {len(self.errors)} error(s), {len(self.problems) - len(self.errors)} warning(s) "
            f"over {self.n_rows:,} rows",
            xaxis_title="column", yaxis_title="problems", height=380, template="plotly_white",
        )
        return fig

    def profile(self, bins: int = 30):
        """The :class:`~mlkit.data.Profile` of the validated data, from the same pass (no re-read)."""
        from .profiling import Profile

        if self.stats is None:
            raise DataError("this report holds no statistics to profile")
        return Profile.from_scan(self.stats, bins=bins)

    def raise_if_failed(self) -> None:
        if not self.ok:
            ordered = self.errors + [p for p in self.problems if p.severity != "error"]
            raise DataValidationError(
                ordered,
                header=f"data validation failed: {len(self.errors)} error(s) over {self.n_rows:,} rows",
            )

    def summary(self) -> dict[str, Any]:
        return {"ok": self.ok, "n_rows": self.n_rows, "n_errors": len(self.errors),
                "n_warnings": len(self.problems) - len(self.errors), "by_check": self.by_check()}

    def _repr_html_(self) -> str:
        head = f"<b>{'OK' if self.ok else 'FAILED'}</b>: {len(self.errors)} error(s), " \
               f"{len(self.problems) - len(self.errors)} warning(s), {self.n_rows:,} rows, {self.seconds:.2f} s"
        return f"<p>{head}</p>" + self.table._repr_html_()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _check(stats: ScanResult, schema: Schema, dtypes: dict[str, Any], frame_columns: list[str],
           leakage_threshold: float) -> tuple[list[Problem], dict[str, float]]:
    problems: list[Problem] = []
    n = stats.n_rows
    for name in frame_columns:
        if name not in schema.columns:
            problems.append(Problem(name, "columns", "column is not in the schema (unexpected)", "warning"))
    for name, spec in schema.columns.items():
        if name not in stats.columns:
            continue
        cs = stats.columns[name]
        have = kind_of(dtypes[name])
        if have != spec.kind and not (spec.kind == "float" and have == "int"):
            problems.append(Problem(name, "dtype", f"expected {spec.kind}, got {have} ({dtypes[name]})"))
        if cs.n_below:
            problems.append(Problem(name, "range", f"{cs.n_below:,} value(s) below the minimum {_fmt(spec.min)} "
                                    f"(smallest {_fmt(cs.vmin)})", value=cs.n_below))
        if cs.n_above:
            problems.append(Problem(name, "range", f"{cs.n_above:,} value(s) above the maximum {_fmt(spec.max)} "
                                    f"(largest {_fmt(cs.vmax)})", value=cs.n_above))
        if cs.n_nonfinite:
            problems.append(Problem(name, "range", f"{cs.n_nonfinite:,} infinite value(s)", value=cs.n_nonfinite))
        if spec.categories is not None:
            allowed = {str(c) for c in spec.categories}
            if cs.cat_counts is not None:
                counts = cs.cat_counts[:, :-1].sum(axis=0)
                bad = {str(c): int(k) for c, k in zip(cs.categories, counts) if k > 0 and str(c) not in allowed}
                if bad:
                    total = sum(bad.values())
                    shown = ", ".join(f"{c!r} ({k:,})" for c, k in sorted(bad.items(), key=lambda kv: -kv[1])[:5])
                    problems.append(Problem(name, "categories", f"{total:,} value(s) not among the allowed "
                                            f"{len(allowed)} categories: {shown}", value=total))
            elif cs.kmv is None and cs.values is not None:  # categorical counted per value
                bad = {k: int(v.sum()) for k, v in cs.values.items() if k not in allowed}
                if bad:
                    total = sum(bad.values())
                    shown = ", ".join(f"{c!r} ({k:,})" for c, k in sorted(bad.items(), key=lambda kv: -kv[1])[:5])
                    problems.append(Problem(name, "categories", f"{total:,} value(s) not among the allowed "
                                            f"{len(allowed)} categories: {shown}", value=total))
            elif cs.n_not_allowed:
                shown = ", ".join(repr(v) for v in cs.not_allowed_examples)
                problems.append(Problem(name, "categories", f"{cs.n_not_allowed:,} value(s) not among the allowed "
                                        f"{len(allowed)} categories, e.g. {shown}", value=cs.n_not_allowed))
        rate = cs.n_missing / n
        if spec.max_missing is not None and rate > spec.max_missing:
            problems.append(Problem(name, "missing", f"missing rate {rate:.2%} exceeds the allowed "
                                    f"{spec.max_missing:.2%} ({cs.n_missing:,} rows)", value=round(rate, 6)))
    for name, cs in stats.columns.items():  # every scanned column, in the schema or not
        if name == schema.target:
            continue
        if n > 1 and cs.n_present > 0 and cs.distinct <= 1:
            problems.append(Problem(name, "constant", "column has a single value in every row; it carries no "
                                    "information", value=1))
        elif cs.n_present == 0:
            problems.append(Problem(name, "constant", "column is entirely missing", value=0))
    if stats.duplicate_rows:
        rate = stats.duplicate_rate
        if rate > schema.max_duplicate_rate:
            how = "" if stats.duplicates_exact else " (estimated from a hash sample)"
            problems.append(Problem(None, "duplicates", f"{stats.duplicate_rows:,.0f} duplicate row(s){how}, "
                                    f"rate {rate:.3%} (allowed {schema.max_duplicate_rate:.3%})", value=round(rate, 6)))
    leakage: dict[str, float] = {}
    if stats.target is not None:
        for name, cs in stats.columns.items():
            if name == stats.target:
                continue
            auc = leakage_auc(cs)
            if np.isfinite(auc):
                leakage[name] = round(float(auc), 4)
                if auc >= leakage_threshold:
                    problems.append(Problem(name, "leakage", f"alone predicts {stats.target!r} almost perfectly "
                                            f"(binned AUC {auc:.4f} >= {leakage_threshold}); is it derived from "
                                            "the label or measured after it?", value=round(float(auc), 4)))
    return problems, leakage


def _prepare(df, schema: Schema) -> tuple[list[str], list[Problem]]:
    if not isinstance(schema, Schema):
        raise DataError(f"schema must be an mlkit.data.Schema (see infer_schema), got {type(schema).__name__}")
    frame_cols = list(df.columns)
    problems = [
        Problem(c, "columns", f"column named in the schema is missing from the frame (it has "
                f"{len(frame_cols)} columns: {', '.join(map(str, frame_cols[:8]))}{', ...' if len(frame_cols) > 8 else ''})")
        for c in schema.columns if c not in frame_cols
    ]
    return [c for c in schema.columns if c in frame_cols] + [c for c in frame_cols if c not in schema.columns], problems


def validate(
    df,
    schema: Schema,
    strict: bool = False,
    *,
    leakage_threshold: float = 0.99,
    duplicates: bool = True,
) -> ValidationReport:
    """Check ``df`` (pandas or Dask) against ``schema`` in one pass over the data.

    Checks: columns present (and unexpected ones), dtypes, ranges, allowed categories,
    missing rates, duplicate rows, constant columns, and label-leakage hints (a feature
    whose binned values alone separate ``schema.target`` with AUC >= ``leakage_threshold``).

    Parameters
    ----------
    strict : raise :class:`DataValidationError` listing every problem (with its column)
        when any error is found, instead of returning the report.

    Raises
    ------
    EmptyDataError for a frame with no rows; DataError for duplicate column names.
    """
    report, _ = _validate(df, schema, strict=strict, leakage_threshold=leakage_threshold,
                          duplicates=duplicates, want_profile=False)
    return report


def _validate(df, schema, *, strict, leakage_threshold, duplicates, want_profile, bins: int = 30):
    check_frame(df, where="validate")
    started = time.perf_counter()
    columns, problems = _prepare(df, schema)
    target = schema.target if schema.target in df.columns else None
    stats = scan(df, schema=schema, target=target, columns=columns, duplicates=duplicates)
    found, leakage = _check(stats, schema, dict(df.dtypes.items()), list(df.columns), leakage_threshold)
    report = ValidationReport(problems + found, stats.n_rows, len(columns), time.perf_counter() - started,
                              stats=stats, leakage=leakage)
    if strict:
        report.raise_if_failed()
    prof = None
    if want_profile:
        from .profiling import Profile

        prof = Profile.from_scan(stats, bins=bins)
    return report, prof


def validate_and_profile(df, schema: Schema, strict: bool = False, *, leakage_threshold: float = 0.99,
                         bins: int = 30):
    """:func:`validate` and :func:`mlkit.data.profile` from the same single pass.

    Returns
    -------
    (ValidationReport, Profile)
    """
    return _validate(df, schema, strict=strict, leakage_threshold=leakage_threshold, duplicates=True,
                     want_profile=True, bins=bins)
