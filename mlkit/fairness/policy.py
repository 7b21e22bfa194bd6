"""Fairness policies and verdicts: pass / fail / inconclusive, judged on confidence intervals.

A criterion compares each group with a reference group on one or more metrics. A
comparison *passes* when its whole confidence interval lies inside the policy's bounds,
*fails* when its whole interval lies outside them, and is *inconclusive* otherwise (or when
the metric is undefined for a group, with the reason). A criterion fails when any
comparison fails, passes when all pass, and is inconclusive otherwise. Verdicts are never
NaN: every one comes with a reason.

Bounds: ``max_difference`` bounds ``|metric(group) - metric(reference)|``; ``min_ratio``
bounds the symmetric ratio ``min(q, 1/q)`` with ``q = metric(group) / metric(reference)``
(the four-fifths rule is ``min_ratio=0.8`` on the selection rate against the best-off group).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

__all__ = [
    "CRITERIA",
    "FAIL",
    "INCONCLUSIVE",
    "PASS",
    "Policy",
    "combine_verdicts",
    "judge_difference",
    "judge_ratio",
]

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"

#: Named criteria and the metrics they compare across groups.
CRITERIA: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "equal_opportunity": ("tpr",),
    "equalized_odds": ("tpr", "fpr"),
    "predictive_parity": ("precision",),
}


@dataclass(frozen=True)
class Policy:
    """What counts as fair enough, and how sure we must be.

    Parameters
    ----------
    criteria : names from :data:`CRITERIA` to judge.
    max_difference : largest allowed ``|group - reference|`` (None: not checked).
    min_ratio : smallest allowed symmetric ratio to the reference (None: not checked).
    reference : ``"best-off"`` (the group with the best value of each metric: highest
        selection rate/TPR/precision, lowest FPR), ``"largest"`` (most rows) or a group label.
    confidence : family-wise confidence of the intervals behind each verdict.
    correction : ``"bonferroni"``, ``"sidak"`` or ``"none"``, over the comparisons of a criterion.
    min_group_size : groups with fewer rows are flagged as small (their intervals are wide).
    """

    criteria: tuple[str, ...] = ("demographic_parity", "equal_opportunity", "equalized_odds", "predictive_parity")
    max_difference: float | None = 0.1
    min_ratio: float | None = 0.8
    reference: str | tuple = "best-off"
    confidence: float = 0.95
    correction: str = "bonferroni"
    min_group_size: int = 30
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        unknown = [c for c in self.criteria if c not in CRITERIA]
        if unknown:
            raise ValueError(f"Policy: unknown criteria {unknown}; expected some of {sorted(CRITERIA)}")
        if self.max_difference is None and self.min_ratio is None:
            raise ValueError("Policy: give max_difference, min_ratio or both")
        if self.max_difference is not None and not 0 <= self.max_difference <= 1:
            raise ValueError(f"Policy: max_difference must be in [0, 1], got {self.max_difference}")
        if self.min_ratio is not None and not 0 < self.min_ratio <= 1:
            raise ValueError(f"Policy: min_ratio must be in (0, 1], got {self.min_ratio}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"Policy: confidence must be in (0, 1), got {self.confidence}")

    @classmethod
    def four_fifths(cls, **overrides) -> Policy:
        """The EEOC four-fifths rule: selection-rate ratio to the best-off group >= 0.8."""
        kw = {"criteria": ("demographic_parity",), "max_difference": None, "min_ratio": 0.8,
              "reference": "best-off", "name": "four_fifths"}
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def max_gap(cls, max_difference: float = 0.1, **overrides) -> Policy:
        """Every criterion's difference to the best-off group at most ``max_difference``."""
        kw = {"max_difference": max_difference, "min_ratio": None, "name": "max_difference"}
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def named(cls, name: str, **overrides) -> Policy:
        """``"four_fifths"``, ``"max_difference"`` or ``"default"`` (both bounds, all criteria)."""
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if name == "four_fifths":
            return cls.four_fifths(**overrides)
        if name == "max_difference":
            return cls.max_gap(**overrides)
        if name == "default":
            return cls(name="default", **overrides)
        raise ValueError(f"unknown policy {name!r}; expected 'four_fifths', 'max_difference' or 'default'")

    def as_dict(self) -> dict:
        out = asdict(self)
        out["criteria"] = list(self.criteria)
        out["reference"] = list(self.reference) if isinstance(self.reference, tuple) else self.reference
        return out


def _finite(*xs: float) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def judge_difference(low: float, high: float, bound: float) -> str:
    """Verdict for a difference interval against ``|difference| <= bound``."""
    if not _finite(low, high):
        return INCONCLUSIVE
    if low > bound or high < -bound:
        return FAIL
    if -bound <= low and high <= bound:
        return PASS
    return INCONCLUSIVE


def judge_ratio(low: float, high: float, bound: float) -> str:
    """Verdict for a ratio interval against ``bound <= ratio <= 1 / bound``."""
    if not _finite(low, high):
        return INCONCLUSIVE
    if high < bound or low > 1.0 / bound:
        return FAIL
    if bound <= low and high <= 1.0 / bound:
        return PASS
    return INCONCLUSIVE


def combine_verdicts(verdicts: list[str]) -> str:
    """Fail if any fails; pass if all pass (and there is at least one); else inconclusive."""
    if FAIL in verdicts:
        return FAIL
    if verdicts and all(v == PASS for v in verdicts):
        return PASS
    return INCONCLUSIVE
