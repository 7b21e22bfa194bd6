"""Headless Debian Chromium for tests: render a local page offline and return its DOM."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

# Flags that keep Chromium off the network (this machine has none) and quiet.
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Debian's chromium is needed for browser tests: run `make browser` "
                           "(apt-get install -y chromium)")
    return path


def rendered_dom(page: Path, *, wait_ms: int = 8000) -> str:
    """The DOM of ``page`` after its scripts ran (virtual time ``wait_ms``)."""
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={wait_ms}",
             "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        )
    return proc.stdout
