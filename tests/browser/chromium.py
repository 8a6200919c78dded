"""A local dashboard server and Debian's Chromium, as the browser tests and benchmarks start them.

Playwright's own browser download does not work on these machines: the tests and the
``benchmarks/bench_dashboard_*.py`` scripts drive Debian's ``chromium`` with these flags.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
"""Chromium's flags for headless runs here (no profile flag: Playwright makes its own)."""


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen, seconds: float = 120.0) -> None:
    """Wait until ``url`` answers 200.

    Raises:
        RuntimeError: ``proc`` (the server) exited, or no answer within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer from {url} within {seconds:.0f} s")
        time.sleep(0.3)
