"""Diagnose class imbalance: counts and prevalence overall and per group, pandas or Dask.

``class_balance(df, target, by="group")`` returns a :class:`ClassBalance` with the
fairlearn ``MetricFrame`` shape: ``.overall`` (one row), ``.by_group`` (one row per group)
and ``.disparity()`` (how far the groups' prevalences are apart). One pass over the two
columns; a Dask frame is reduced on the cluster and only the small table comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .checks import ImbalanceError, is_dask

__all__ = ["ClassBalance", "class_balance", "wilson_interval"]

#: Fewer positives than this in a group makes its prevalence (and any metric on it) shaky.
FEW_POSITIVES = 30


def wilson_interval(k: np.ndarray | int, n: np.ndarray | int, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion ``k / n`` (well-behaved near 0, unlike Wald)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / n, np.nan)
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def _table(counts: pd.DataFrame) -> pd.DataFrame:
    """counts: columns n_neg, n_pos (index = group or 'overall') -> the diagnosis table."""
    out = counts.copy()
    out["n"] = out["n_neg"] + out["n_pos"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["prevalence"] = np.where(out["n"] > 0, out["n_pos"] / out["n"], np.nan)
        minority = np.minimum(out["n_pos"], out["n_neg"])
        majority = np.maximum(out["n_pos"], out["n_neg"])
        # majority:minority (e.g. 99.0 for a 1 % positive set); inf for a single class.
        out["imbalance_ratio"] = np.where(minority > 0, majority / np.maximum(minority, 1), np.inf)
    lo, hi = wilson_interval(out["n_pos"].to_numpy(), out["n"].to_numpy())
    out["prevalence_low"] = lo
    out["prevalence_high"] = hi
    out["single_class"] = (out["n_pos"] == 0) | (out["n_neg"] == 0)
    out["few_positives"] = out["n_pos"] < FEW_POSITIVES
    return out[["n", "n_pos", "n_neg", "prevalence", "prevalence_low", "prevalence_high",
                "imbalance_ratio", "single_class", "few_positives"]]


@dataclass
class ClassBalance:
    """Class counts and prevalence: ``overall``, ``by_group`` and ``disparity()``.

    Attributes
    ----------
    overall : one-row DataFrame (n, n_pos, n_neg, prevalence with 95 % Wilson interval,
        imbalance_ratio = majority/minority, single_class, few_positives).
    by_group : the same columns per value of ``by`` (None without ``by``).
    n_missing_label : rows whose label is missing (excluded from the counts).
    """

    target: str
    by: str | None
    overall: pd.DataFrame
    by_group: pd.DataFrame | None = None
    n_missing_label: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def prevalence(self) -> float:
        return float(self.overall["prevalence"].iloc[0])

    @property
    def imbalance_ratio(self) -> float:
        return float(self.overall["imbalance_ratio"].iloc[0])

    def disparity(self) -> dict[str, float]:
        """Spread of prevalence across groups: ``difference`` (max - min) and ``ratio`` (min / max)."""
        if self.by_group is None:
            raise ImbalanceError("disparity() needs class_balance(..., by=<column>)")
        prev = self.by_group["prevalence"].dropna()
        hi, lo = float(prev.max()), float(prev.min())
        return {"difference": hi - lo, "ratio": lo / hi if hi > 0 else float("nan"),
                "max_group": str(prev.idxmax()), "min_group": str(prev.idxmin())}

    def __repr__(self) -> str:
        parts = [f"class balance of {self.target!r}", self.overall.to_string()]
        if self.by_group is not None:
            parts += [f"by {self.by!r}:", self.by_group.to_string()]
        parts += [f"warning: {w}" for w in self.warnings]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        parts = [f"<b>class balance of <code>{self.target}</code></b>", self.overall.to_html()]
        if self.by_group is not None:
            parts += [f"<b>by <code>{self.by}</code></b>", self.by_group.to_html()]
        parts += [f"<p>⚠ {w}</p>" for w in self.warnings]
        return "\n".join(parts)


def _counts_pandas(pdf: pd.DataFrame, target: str, by: str | None) -> pd.DataFrame:
    """Long table of counts by (group, label) including missing labels/groups."""
    cols = [target] if by is None else [by, target]
    sub = pdf[cols]
    if isinstance(sub[target].dtype, pd.CategoricalDtype):
        sub = sub.assign(**{target: sub[target].astype(sub[target].cat.categories.dtype)})
    return sub.groupby(cols, dropna=False, observed=True).size().rename("count").reset_index()


def class_balance(df, target: str, by: str | None = None) -> ClassBalance:
    """Class counts and prevalence of a binary ``target``, overall and per group of ``by``.

    Parameters
    ----------
    df : pandas or Dask DataFrame.
    target : the 0/1 (or bool) label column. Missing labels are counted and left out.
    by : optional column whose groups get their own row (e.g. a sensitive attribute).

    Returns
    -------
    ClassBalance

    Raises
    ------
    ImbalanceError
        A missing column, or labels that are not binary. A single class is *reported*
        (``single_class``), not refused: that is what a diagnosis is for.
    """
    if not hasattr(df, "columns"):
        raise ImbalanceError(f"class_balance: expected a pandas or Dask DataFrame, got {type(df).__name__}")
    for arg, col in (("target", target), ("by", by)):
        if col is not None and col not in df.columns:
            raise ImbalanceError(f"class_balance: {arg} column {col!r} not in the frame; it has {list(map(str, df.columns))}")
    if is_dask(df):
        import dask

        parts = [dask.delayed(_counts_pandas)(p, target, by) for p in df.to_delayed()]
        long = pd.concat(dask.compute(*parts), ignore_index=True)
        keys = [target] if by is None else [by, target]
        long = long.groupby(keys, dropna=False, observed=True)["count"].sum().reset_index()
    else:
        long = _counts_pandas(df, target, by)

    labels = long[target]
    missing = labels.isna()
    n_missing = int(long.loc[missing, "count"].sum())
    long = long[~missing]
    values = set(pd.unique(long[target]).tolist())
    bad = values - {0, 1}  # True/False compare equal to 1/0
    if bad:
        shown = sorted(map(repr, values))[:6]
        raise ImbalanceError(
            f"class_balance: target {target!r} must be binary 0/1 (or bool), got values {', '.join(shown)}; "
            "encode the positive class as 1"
        )
    long = long.assign(**{target: long[target].astype(int)})
    total = long.groupby(target)["count"].sum()
    overall = _table(pd.DataFrame({"n_neg": [int(total.get(0, 0))], "n_pos": [int(total.get(1, 0))]}, index=["overall"]))
    by_group = None
    warnings: list[str] = []
    if n_missing:
        warnings.append(f"{n_missing} row(s) with a missing {target!r} were left out")
    if bool(overall["single_class"].iloc[0]):
        warnings.append(f"{target!r} has a single class: nothing to rebalance, and ranking metrics are undefined")
    if by is not None:
        wide = long.pivot_table(index=by, columns=target, values="count", aggfunc="sum", fill_value=0, observed=True, dropna=False)
        wide = wide.reindex(columns=[0, 1], fill_value=0).rename(columns={0: "n_neg", 1: "n_pos"})
        wide.columns.name = None
        by_group = _table(wide.astype("int64"))
        thin = by_group.index[by_group["few_positives"]].tolist()
        if thin:
            warnings.append(
                f"group(s) {[str(g) for g in thin][:8]} of {by!r} have fewer than {FEW_POSITIVES} positives: "
                "their prevalence and any per-group metric are uncertain (see prevalence_low/high)"
            )
    return ClassBalance(target=target, by=by, overall=overall, by_group=by_group,
                        n_missing_label=n_missing, warnings=warnings)
