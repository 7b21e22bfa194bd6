"""Start JupyterLab from the project's venv on 127.0.0.1 and drive it with Playwright.

Playwright drives Debian's chromium (``executable_path``); ``playwright install`` (which
downloads a browser) is never used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from mlkit.paths import build_dir
from tests.browser import FLAGS, chromium

SCREENSHOTS = build_dir() / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path) -> Iterator[str]:
    """Run ``jupyter lab`` serving ``root``; yield its base URL with the token query."""
    port, token = _free_port(), secrets.token_hex(16)
    log = open(root / "jupyterlab.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.open_browser=False", "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MLKIT_HEADLESS": "0", "JUPYTER_CONFIG_DIR": str(root / ".jupyter-config")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; see {root / 'jupyterlab.log'}") from None
                time.sleep(0.5)
        yield f"{base}|{token}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextlib.contextmanager
def lab_page(server: str, notebook: str) -> Iterator:
    """A Playwright page with ``notebook`` open in JupyterLab."""
    from playwright.sync_api import sync_playwright

    base, token = server.split("|")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=FLAGS[1:], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{base}/lab/tree/{notebook}?token={token}")
            page.locator(".jp-NotebookPanel").first.wait_for()
            # JupyterLab may ask which kernel to start; the notebook names python3, so accept it.
            select = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
            with contextlib.suppress(Exception):
                select.wait_for(timeout=5_000)
                select.click()
            with contextlib.suppress(Exception):
                page.get_by_role("button", name="No", exact=True).click(timeout=2_000)  # the news toast
            # Wait for the kernel to have started and be idle before running anything.
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=90_000)
            page.get_by_text("Python 3 (mlkit) | Idle").first.wait_for(timeout=90_000)
            try:
                yield page
            except BaseException:
                # Keep what the learner would have seen, for the failure report.
                with contextlib.suppress(Exception):
                    screenshot(page, f"FAILED-{Path(notebook).stem}")
                raise
        finally:
            browser.close()


def run_all(page, timeout_ms: int = 240_000) -> None:
    """Run every cell through the Run menu and wait until the kernel is idle again."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_timeout(500)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=timeout_ms)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] .ansi-red-fg, .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    if errors.count():
        raise AssertionError("a cell raised in JupyterLab: " + errors.first.inner_text()[:2000])


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def parameterized_copy(notebook: Path, dest: Path, parameters: dict) -> Path:
    """Copy ``notebook`` into ``dest`` with ``parameters`` injected after its parameters cell
    (papermill's own injection; the kernel stays the notebook's, ``python3``)."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(notebook))  # papermill's reader: every cell gets its tags list
    nb = parameterize_notebook(nb, parameters, kernel_name=nb.metadata.kernelspec.name, language="python")
    out = Path(dest) / Path(notebook).name
    nbformat.write(nb, out)
    return out


def run_code(page, code: str, timeout_ms: int = 60_000) -> str:
    """Append a code cell holding ``code`` at the end of the notebook, run it as a learner would
    (Shift+Enter) and return the text of its output."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    n_before = cells.count()
    last = cells.last
    last.scroll_into_view_if_needed()
    last.locator(".jp-InputPrompt").first.click()  # selects the cell, command mode
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # insert a cell below
    page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > {n_before}")
    cell = cells.nth(n_before)
    page.keyboard.press("Enter")  # edit mode
    cell.locator(".cm-content").wait_for()
    # insert_text does not trigger the editor's auto-closing brackets or indentation.
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    # Done when its prompt shows an execution count ("[*]" while running, "[ ]" before).
    page.wait_for_function(
        "(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];"
        " const p = c && c.querySelector('.jp-InputPrompt'); return p && /\\[\\d+\\]/.test(p.innerText); }",
        arg=n_before, timeout=timeout_ms)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=timeout_ms)
    return cell.locator(".jp-OutputArea").inner_text()


def drag_slider(page, slider, fraction: float) -> None:
    """Drag the handle of an ipywidgets slider (locator of its ``.widget-slider``) with the mouse
    to ``fraction`` of its track, as a learner would."""
    handle = slider.locator(".noUi-handle").first
    track = slider.locator(".noUi-target").first
    handle.scroll_into_view_if_needed()
    hb, tb = handle.bounding_box(), track.bounding_box()
    y = hb["y"] + hb["height"] / 2
    page.mouse.move(hb["x"] + hb["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(tb["x"] + fraction * tb["width"], y, steps=12)
    page.mouse.up()


def set_slider_readout(page, slider, text: str) -> None:
    """Type ``text`` into an ipywidgets slider's editable readout and press Enter."""
    readout = slider.locator(".widget-readout")
    readout.scroll_into_view_if_needed()
    readout.click()
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")
