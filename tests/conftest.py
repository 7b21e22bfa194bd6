"""Shared fixtures: keep tests off the user's build dir and away from a user's scheduler."""

from __future__ import annotations

import os

import pytest

# Tests always run on the embedded default unless a test sets the scheduler itself.
os.environ.pop("MLKIT_SCHEDULER", None)
os.environ.setdefault("MLKIT_HEADLESS", "1")


@pytest.fixture
def fresh_records():
    from mlkit.records import reset_records

    reset_records()
    yield
    reset_records()


@pytest.fixture(scope="session")
def dask_client():
    """The embedded LocalCluster client, shared by the whole test session."""
    import mlkit.compute

    c = mlkit.compute.client()
    yield c
    mlkit.compute.shutdown()


@pytest.fixture
def shell():
    """An IPython shell whose mlkit carbon ledger (if any) is stopped afterwards."""
    from IPython.core.interactiveshell import InteractiveShell

    from mlkit.carbon.ledger import _SHELL_ATTR

    sh = InteractiveShell.instance()
    yield sh
    current = getattr(sh, _SHELL_ATTR, None)
    if current is not None:
        current.stop()
