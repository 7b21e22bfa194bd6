"""Errors of :mod:`mlkit.deep`, each naming what was wrong and where."""

from __future__ import annotations

__all__ = ["CheckpointMismatchError", "DeepError", "NonFiniteLossError", "PartitionSchemaError"]


class DeepError(ValueError):
    """Base class of the errors raised by :mod:`mlkit.deep`."""


class PartitionSchemaError(DeepError):
    """A partition lacks a column, or holds it with an unusable dtype."""

    def __init__(self, partition: str, column: str, problem: str) -> None:
        self.partition = partition
        self.column = column
        self.problem = problem
        super().__init__(f"partition {partition}: column {column!r} {problem}")


class CheckpointMismatchError(DeepError):
    """A checkpoint saved from another architecture than the model it is loaded into."""


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stopped."""

    def __init__(self, message: str, *, epoch: int, step: int, last_good_checkpoint: str | None) -> None:
        self.epoch = epoch
        self.step = step
        self.last_good_checkpoint = last_good_checkpoint
        super().__init__(message)
