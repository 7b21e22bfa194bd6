"""Where things live: the project checkout, bundled data, build outputs, scratch space."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["build_dir", "data_dir", "notebooks_dir", "project_root", "reports_dir", "scratch_dir"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout holding ``notebooks/`` and ``reports/`` (``$MLKIT_ROOT`` overrides).

    For an editable install this is the repository; otherwise the current directory.
    """
    env = os.environ.get("MLKIT_ROOT")
    if env:
        return Path(env).resolve()
    candidate = _PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
        return candidate
    return Path.cwd().resolve()


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def reports_dir() -> Path:
    return project_root() / "reports"


def build_dir() -> Path:
    """Where executed notebooks, HTML and the demo site go (``$MLKIT_BUILD_DIR`` overrides)."""
    env = os.environ.get("MLKIT_BUILD_DIR")
    return Path(env).resolve() if env else project_root() / "build"


def data_dir() -> Path:
    """The datasets bundled inside the package (compressed, with attribution)."""
    return _PACKAGE_DIR / "datasets"


def scratch_dir() -> Path:
    """Space for large generated data such as Parquet (``$MLKIT_SCRATCH`` overrides)."""
    env = os.environ.get("MLKIT_SCRATCH")
    return Path(env).resolve() if env else build_dir() / "scratch"
