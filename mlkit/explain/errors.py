"""Errors raised by :mod:`mlkit.explain`, each naming what was wrong and what was expected."""

from __future__ import annotations

from typing import Any

__all__ = ["CostExceededError", "ExplainError", "FeatureMismatchError", "UnsupportedModelError"]


class ExplainError(ValueError):
    """Bad input to an explanation (sizes, columns, arguments)."""


class FeatureMismatchError(ExplainError):
    """The columns of ``X`` differ from the features the model was trained on."""


class UnsupportedModelError(TypeError):
    """A model type with no explanation route."""


class CostExceededError(ExplainError):
    """A request whose estimated cost is above the allowed budget; ``.estimate`` holds the estimate."""

    def __init__(self, message: str, estimate: Any = None) -> None:
        super().__init__(message)
        self.estimate = estimate
