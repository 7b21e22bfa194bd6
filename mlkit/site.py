"""The demo: run the notebook series and the reports, then write ``build/index.html``."""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import resource
import shutil
import subprocess
import tempfile
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
    cpu_seconds: float = 0.0  # the kernel and the Dask workers it started
    energy_j: float | None = None
    co2e_g: float | None = None
    footprint_method: str = ""
    screenshot: str | None = None  # relative to the site root


def _children_cpu_seconds() -> float:
    # Kernels and their Dask workers are reaped children: their CPU time lands here.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _footprint(cpu_seconds: float) -> tuple[float | None, float | None, str]:
    """Estimated energy (J) and CO2e (g) of ``cpu_seconds`` of CPU work (mlkit.carbon)."""
    try:
        from .carbon import estimate

        est = estimate(hours=cpu_seconds / 3600, n_cores=1, cpu_usage=1.0,
                       region=os.environ.get("MLKIT_CARBON_REGION") or None)
        return est.footprint.energy_j, est.co2e_g, "estimated from CPU time"
    except Exception as exc:  # noqa: BLE001 - a missing estimate must not break the site
        return None, None, f"unavailable ({exc})"


def _screenshot(page: Path, png: Path) -> bool:
    """A thumbnail of ``page`` rendered offline in Debian's chromium, when it is installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return False
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        try:
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--virtual-time-budget=6000", "--window-size=1200,900",
                 f"--screenshot={png}", page.resolve().as_uri()],
                capture_output=True, timeout=120, check=True,
            )
        except (subprocess.SubprocessError, OSError):
            return False
    return png.is_file()


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _run_entry(entry: ManifestEntry, profile: str, out: Path) -> SiteEntry:
    site_entry = _execute_entry(entry, profile, out, cpu_before=_children_cpu_seconds())
    if site_entry.html:
        png = out / "screenshots" / f"{entry.name}.png"
        if _screenshot(out / site_entry.html, png):
            site_entry.screenshot = str(png.relative_to(out))
    return site_entry


def _execute_entry(entry: ManifestEntry, profile: str, out: Path, *, cpu_before: float) -> SiteEntry:
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
        status, html_rel, error = "ok", str(rel), ""
    except Exception as exc:  # noqa: BLE001 - one failing notebook must not hide the others
        traceback.print_exc()
        status, html_rel, error = "failed", None, str(exc)
    cpu = max(_children_cpu_seconds() - cpu_before, 0.0)
    energy, co2e, method = _footprint(cpu)
    return SiteEntry(entry.name, entry.kind, title, profile, time.perf_counter() - start, status, html_rel, error,
                     cpu_seconds=cpu, energy_j=energy, co2e_g=co2e, footprint_method=method)


def _gallery(out: Path, used: set[str]) -> str:
    """Screenshots left in ``screenshots/`` by the browser tests (JupyterLab, widgets)."""
    shots = sorted(p for p in (out / "screenshots").glob("*.png") if str(p.relative_to(out)) not in used)
    if not shots:
        return ""
    imgs = "\n".join(f'<a href="{p.relative_to(out)}"><img alt="{p.stem}" src="{p.relative_to(out)}"></a>' for p in shots)
    return f"<h2>Widgets in JupyterLab (from the browser tests)</h2>\n<div class='gallery'>\n{imgs}\n</div>"


def write_index(entries: list[SiteEntry], out: Path, *, profile: str) -> Path:
    """Write ``index.html`` (and ``index.json``) linking every executed notebook and report."""
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for e in entries:
        link = f'<a href="{html.escape(e.html)}">{html.escape(e.title)}</a>' if e.html else html.escape(e.title)
        status = "ok" if e.status == "ok" else f'<span class="failed" title="{html.escape(e.error)}">failed</span>'
        thumb = (f'<a href="{html.escape(e.html or "")}"><img class="thumb" alt="{html.escape(e.title)}" '
                 f'src="{html.escape(e.screenshot)}"></a>' if e.screenshot else "")
        energy = (f"{e.energy_j:,.0f} J · {e.co2e_g * 1000:,.1f} mg CO2e" if e.energy_j is not None and e.co2e_g is not None
                  else "–")
        rows.append(
            f"<tr><td>{thumb}</td><td>{link}<br><code>{html.escape(e.name)}</code> · {e.kind}</td>"
            f"<td class='num'>{e.seconds:.1f} s</td><td class='num'>{e.cpu_seconds:.1f} s</td>"
            f"<td class='num' title='{html.escape(e.footprint_method)}'>{energy}</td><td>{status}</td></tr>"
        )
    total = sum(e.seconds for e in entries)
    total_j = sum(e.energy_j or 0 for e in entries)
    total_g = sum(e.co2e_g or 0 for e in entries)
    gallery = _gallery(out, {e.screenshot for e in entries if e.screenshot})
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mlkit-suite demo</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4em .6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.failed {{ color: #b00; font-weight: bold; }}
img.thumb {{ width: 220px; border: 1px solid #ccc; }}
.gallery img {{ width: 320px; margin: .3em; border: 1px solid #ccc; }}
</style></head><body>
<h1>mlkit-suite: the notebook series</h1>
<p>Executed with profile <b>{html.escape(profile)}</b> on {when}; total run time {total:.1f} s,
estimated footprint {total_j:,.0f} J ({total_g * 1000:,.1f} mg CO2e; CPU time of each kernel and its Dask
workers priced by <code>mlkit.carbon.estimate</code>). Every page below is self-contained and opens offline.</p>
<table><thead><tr><th></th><th>Notebook / report</th><th>Run time</th><th>CPU time</th><th>Energy, CO2e (estimated)</th><th>Status</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
{gallery}
</body></html>
"""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "index.json", json.dumps([asdict(e) for e in entries], indent=2))
    return atomic_write_text(out / "index.html", page)


def build_demo(profile: str = "workshop", out_dir: str | Path | None = None, only: list[str] | None = None) -> list[SiteEntry]:
    """Run every manifest notebook in ``profile`` and every report; write the index page."""
    # Absolute, so that pages written under it can be linked relative to it (`--out build`).
    out = Path(out_dir).resolve() if out_dir is not None else build_dir()
    entries = []
    # The series in its numbered order, then the reports.
    for entry in sorted(load_manifest(), key=lambda e: (e.kind != "notebook", e.path.name)):
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
