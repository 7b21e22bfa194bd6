"""Render a parameterized report notebook from ``reports/`` to offline HTML (+ JSON).

``render("fairness_audit", {"dataset": "adult"})`` runs ``reports/fairness_audit.ipynb``
through :func:`mlkit.notebook.run`, writes ``<out>/fairness_audit.html`` with the code
hidden, and ``<out>/fairness_audit.json`` holding the parameters, run time and every
value the report recorded. A report may record ``gates`` (a dict of booleans, e.g.
``{"violation": True}``) that ``mlkit report ... --fail-on violation`` turns into a
non-zero exit.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .export import export_html
from .notebook import DEFAULT_CELL_TIMEOUT, run
from .paths import build_dir, reports_dir

__all__ = ["ReportResult", "available_reports", "find_report", "render"]


@dataclass
class ReportResult:
    name: str
    html_path: Path
    json_path: Path
    notebook_path: Path
    records: dict[str, Any]
    seconds: float

    @property
    def gates(self) -> dict[str, bool]:
        gates = self.records.get("gates", {})
        return {str(k): bool(v) for k, v in gates.items()} if isinstance(gates, dict) else {}


def available_reports() -> list[str]:
    return sorted(p.stem for p in reports_dir().glob("*.ipynb"))


def find_report(name: str) -> Path:
    """The report notebook called ``name`` (or a path to one)."""
    candidate = Path(name)
    if candidate.suffix == ".ipynb" and candidate.is_file():
        return candidate.resolve()
    path = reports_dir() / f"{name}.ipynb"
    if not path.is_file():
        known = ", ".join(available_reports()) or "none"
        raise FileNotFoundError(f"no report named {name!r} in {reports_dir()}; available: {known}")
    return path


def render(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    profile: str | None = None,
    out_dir: str | os.PathLike | None = None,
    timeout: float | None = DEFAULT_CELL_TIMEOUT,
    progress: bool = False,
) -> ReportResult:
    """Run report ``name`` and write its HTML and JSON summary into ``out_dir``.

    Parameters are checked against the report's parameters cell before it runs.
    """
    path = find_report(name)
    out = Path(out_dir) if out_dir is not None else build_dir() / "reports"
    out.mkdir(parents=True, exist_ok=True)
    result = run(
        path,
        profile=profile,
        parameters=parameters,
        output=out / f"{path.stem}.ipynb",
        timeout=timeout,
        progress=progress,
    )
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"mlkit report <b>{path.stem}</b> · generated {when} · run time {result.seconds:.1f} s"
    html_path = export_html(
        result.output_path,
        out / f"{path.stem}.html",
        hide_input=True,
        show_records=False,
        title=path.stem.replace("_", " ").capitalize(),
        footer=footer,
    )
    json_path = out / f"{path.stem}.json"
    atomic_write_text(
        json_path,
        json.dumps({
            "report": path.stem,
            "generated": when,
            "seconds": round(result.seconds, 3),
            "profile": profile,
            "parameters": result.parameters,
            "records": result.records,
            "html": html_path.name,
        }, indent=2, sort_keys=True),
    )
    return ReportResult(path.stem, html_path, json_path, result.output_path, result.records, result.seconds)
