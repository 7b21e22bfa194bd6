"""Run profiles: one notebook, four sizes.

Every notebook has a ``PROFILE`` parameter; sizes are derived from it *below*
the parameters cell (papermill does not recompute derived values), e.g.::

    n_rows = N_ROWS or mlkit.pick(PROFILE, smoke=2_000, ci=50_000, workshop=1_000_000, full=50_000_000)
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["PROFILES", "check_profile", "pick"]

PROFILES = ("smoke", "ci", "workshop", "full")
T = TypeVar("T")


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is a known profile name, else raise ``ValueError``."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return profile


def pick(profile: str, **by_profile: Any) -> Any:
    """The value for ``profile`` among ``smoke=, ci=, workshop=, full=`` keyword values.

    ``full`` falls back to ``workshop`` and ``smoke`` to ``ci`` when not given.
    """
    check_profile(profile)
    unknown = set(by_profile) - set(PROFILES)
    if unknown:
        raise ValueError(f"pick() got unknown profile names {sorted(unknown)}; expected {PROFILES}")
    fallback = {"full": "workshop", "smoke": "ci"}
    name = profile
    while name not in by_profile:
        if name not in fallback:
            raise ValueError(f"pick() has no value for profile {profile!r}")
        name = fallback[name]
    return by_profile[name]
