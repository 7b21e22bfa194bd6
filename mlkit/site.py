"""The demo: run the notebook series and the reports, then write ``build/index.html``."""

from __future__ import annotations

import datetime as _dt
import html
import json
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from .atomic import atomic_write_text
from .export import export_html
from .manifest import ManifestEntry, load_manifest
from .notebook import run
from .paths import build_dir
from .report import render

__all__ = ["SiteEntry", "build_demo", "write_index"]


@dataclass
class SiteEntry:
    name: str
    kind: str
    title: str
    profile: str
    seconds: float
    status: str  # "ok" or "failed"
    html: str | None  # path relative to the site root
    error: str = ""


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _run_entry(entry: ManifestEntry, profile: str, out: Path) -> SiteEntry:
    title = _title(entry.path)
    start = time.perf_counter()
    try:
        if entry.kind == "report":
            result = render(
                entry.name, entry.parameters, profile=profile, out_dir=out / "reports",
                timeout=entry.timeout or 1800, progress=True,
            )
            rel = result.html_path.relative_to(out)
        else:
            result = run(
                entry.path, profile=profile, parameters=entry.parameters,
                output=out / "notebooks" / entry.path.name, timeout=entry.timeout or 1800, progress=True,
            )
            footer = f"Executed with profile <b>{profile}</b> in {result.seconds:.1f} s"
            rel = export_html(result.output_path, footer=footer).relative_to(out)
        return SiteEntry(entry.name, entry.kind, title, profile, time.perf_counter() - start, "ok", str(rel))
    except Exception as exc:  # noqa: BLE001 - one failing notebook must not hide the others
        traceback.print_exc()
        return SiteEntry(entry.name, entry.kind, title, profile, time.perf_counter() - start, "failed", None, str(exc))


def write_index(entries: list[SiteEntry], out: Path, *, profile: str) -> Path:
    """Write ``index.html`` (and ``index.json``) linking every executed notebook and report."""
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for e in entries:
        link = f'<a href="{html.escape(e.html)}">{html.escape(e.title)}</a>' if e.html else html.escape(e.title)
        status = "ok" if e.status == "ok" else f'<span class="failed" title="{html.escape(e.error)}">failed</span>'
        rows.append(
            f"<tr><td>{link}</td><td>{e.kind}</td><td><code>{html.escape(e.name)}</code></td>"
            f"<td class='num'>{e.seconds:.1f} s</td><td>{status}</td></tr>"
        )
    total = sum(e.seconds for e in entries)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mlkit-suite demo</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4em .6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.failed {{ color: #b00; font-weight: bold; }}
</style></head><body>
<h1>mlkit-suite: the notebook series</h1>
<p>Executed with profile <b>{html.escape(profile)}</b> on {when}; total run time {total:.1f} s.
Every page below is self-contained and opens offline.</p>
<table><thead><tr><th>Notebook / report</th><th>Kind</th><th>File</th><th>Run time</th><th>Status</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "index.json", json.dumps([asdict(e) for e in entries], indent=2))
    return atomic_write_text(out / "index.html", page)


def build_demo(profile: str = "workshop", out_dir: str | Path | None = None, only: list[str] | None = None) -> list[SiteEntry]:
    """Run every manifest notebook in ``profile`` and every report; write the index page."""
    out = Path(out_dir) if out_dir is not None else build_dir()
    entries = []
    for entry in load_manifest():
        if only and entry.name not in only:
            continue
        if profile not in entry.profiles:
            continue
        print(f"[mlkit demo] {entry.kind} {entry.name} ({profile}) ...", flush=True)
        site_entry = _run_entry(entry, profile, out)
        print(f"[mlkit demo]   {site_entry.status} in {site_entry.seconds:.1f} s", flush=True)
        entries.append(site_entry)
    write_index(entries, out, profile=profile)
    return entries
