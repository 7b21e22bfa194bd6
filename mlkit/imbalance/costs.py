"""Cost matrices for binary decisions.

Convention (the same as :func:`sklearn.metrics.confusion_matrix`): **rows are the true
class, columns the predicted class**, in the order (negative = 0, positive = 1)::

                    predicted 0   predicted 1
    true 0 (neg)    C00 (TN)      C01 (FP)
    true 1 (pos)    C10 (FN)      C11 (TP)

German Credit's documented matrix (:data:`mlkit.data.GERMAN_CREDIT_COSTS`, rows/columns
``good``, ``bad``; positive class ``bad_credit = 1``) is ``[[0, 1], [5, 0]]``: accepting a bad
credit (a false negative) costs 5, refusing a good one (a false positive) costs 1.

For a calibrated probability ``p`` of the positive class, predicting positive costs
``(1 - p) C01 + p C11`` in expectation and predicting negative ``(1 - p) C00 + p C10``, so the
Bayes-optimal rule is ``p >= t*`` with ``t* = (C01 - C00) / ((C01 - C00) + (C10 - C11))``
(1/6 for German Credit). The same costs give cost-sensitive class weights
``w0 = C01 - C00``, ``w1 = C10 - C11`` (Elkan 2001).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .checks import ImbalanceError

__all__ = ["CostMatrix", "as_cost_matrix"]


@dataclass(frozen=True)
class CostMatrix:
    """A 2x2 cost matrix, rows = true class, columns = predicted class, order (0, 1)."""

    c00: float  # true negative
    c01: float  # false positive
    c10: float  # false negative
    c11: float  # true positive

    @property
    def array(self) -> np.ndarray:
        return np.array([[self.c00, self.c01], [self.c10, self.c11]], dtype=float)

    @property
    def bayes_threshold(self) -> float:
        """Probability above which predicting positive is cheaper (for calibrated scores)."""
        fp_gain = self.c01 - self.c00
        fn_gain = self.c10 - self.c11
        return float(fp_gain / (fp_gain + fn_gain))

    @property
    def class_weights(self) -> dict[int, float]:
        """Cost-sensitive class weights ``{0: C01 - C00, 1: C10 - C11}`` (Elkan 2001)."""
        return {0: float(self.c01 - self.c00), 1: float(self.c10 - self.c11)}

    def total(self, tn: Any, fp: Any, fn: Any, tp: Any) -> Any:
        """Total cost of confusion counts (scalars or arrays)."""
        return self.c00 * tn + self.c01 * fp + self.c10 * fn + self.c11 * tp

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.array,
            index=pd.Index([0, 1], name="true"),
            columns=pd.Index([0, 1], name="predicted"),
        )


def _from_frame(df: pd.DataFrame, positive: Any, name: str) -> np.ndarray:
    if df.shape != (2, 2):
        raise ImbalanceError(
            f"{name}: a cost matrix must be 2x2 (rows = true class, columns = predicted class), got shape {df.shape}"
        )
    if set(df.index) != set(df.columns):
        raise ImbalanceError(
            f"{name}: row labels {list(df.index)} (true class) and column labels {list(df.columns)} "
            "(predicted class) must name the same two classes"
        )
    labels = list(df.index)
    if positive is None:
        if set(labels) == {0, 1}:
            positive = 1
        else:
            # Taken in the order given: first row/column = negative, second = positive.
            positive = labels[1]
    if positive not in labels:
        raise ImbalanceError(f"{name}: positive={positive!r} is not one of its class labels {labels}")
    negative = next(lab for lab in labels if lab != positive)
    order = [negative, positive]
    return df.loc[order, order].to_numpy(dtype=float)


def as_cost_matrix(cost: Any, *, positive: Any = None, name: str = "cost_matrix") -> CostMatrix:
    """Read a cost matrix from an array, nested list, DataFrame, dict, or :class:`CostMatrix`.

    Parameters
    ----------
    cost : 2x2 array-like (rows = true, columns = predicted, order negative, positive), a
        labelled DataFrame (e.g. :data:`mlkit.data.GERMAN_CREDIT_COSTS`), the dict form
        ``{predicted: {true: cost}}`` of ``DataFrame.to_dict()`` (``df.attrs["cost_matrix"]``
        of :func:`mlkit.data.load_german_credit`), or a :class:`CostMatrix`.
    positive : label of the positive class in a labelled DataFrame/dict. Default: ``1`` when
        the labels are 0/1, otherwise the *second* row (as in German Credit's good, bad).

    Raises
    ------
    ImbalanceError
        Wrong shape, NaN/infinite or negative costs, mismatched labels, or a matrix where a
        correct decision costs at least as much as the wrong one (no sensible threshold).
    """
    if isinstance(cost, CostMatrix):
        return cost
    if isinstance(cost, Mapping):
        cost = pd.DataFrame(cost)
    if isinstance(cost, pd.DataFrame):
        arr = _from_frame(cost, positive, name)
    else:
        if isinstance(cost, (str, bytes)) or not isinstance(cost, (Sequence, np.ndarray)):
            raise ImbalanceError(f"{name}: expected a 2x2 array or DataFrame, got {type(cost).__name__}")
        try:
            arr = np.asarray(cost, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ImbalanceError(f"{name}: could not read it as a 2x2 numeric array ({exc})") from None
        if arr.shape != (2, 2):
            raise ImbalanceError(
                f"{name}: a cost matrix must be 2x2 (rows = true class, columns = predicted class), "
                f"got shape {arr.shape}"
            )
    if not np.isfinite(arr).all():
        raise ImbalanceError(f"{name}: costs must be finite numbers, got {arr.tolist()}")
    if (arr < 0).any():
        raise ImbalanceError(f"{name}: costs must be >= 0 (use costs, not gains), got {arr.tolist()}")
    c = CostMatrix(float(arr[0, 0]), float(arr[0, 1]), float(arr[1, 0]), float(arr[1, 1]))
    if c.c01 <= c.c00 or c.c10 <= c.c11:
        raise ImbalanceError(
            f"{name}: each error must cost more than the correct decision (C01 > C00 and C10 > C11; "
            f"rows = true, columns = predicted), got {arr.tolist()}"
        )
    return c
