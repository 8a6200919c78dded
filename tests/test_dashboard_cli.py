"""``ketasim dashboard``: one kill of its PID frees the port; page loads print no warnings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.chromium import free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
KETASIM = Path(sys.executable).parent / "ketasim"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def dashboard(tmp_path):
    """``ketasim dashboard`` on a free port, its output in a file; killed if a test fails."""
    if not KETASIM.exists():
        pytest.skip(f"no ketasim script next to {sys.executable}")
    port = free_port()
    log = (tmp_path / "dashboard.log").open("w+")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [str(KETASIM), "dashboard", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc, port, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def test_one_kill_of_the_pid_frees_the_port(dashboard):
    proc, port, log = dashboard
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url, proc)
    for _ in range(3):  # page loads: each used to print Solara's 12-line samesite warning
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200
    os.kill(proc.pid, signal.SIGTERM)
    started = time.monotonic()
    while not _port_is_free(port) and time.monotonic() - started < 5.0:
        time.sleep(0.1)
    freed = time.monotonic() - started
    assert _port_is_free(port), "the port is still taken 5 s after one kill of ketasim's PID"
    proc.wait(timeout=10)
    print(f"\nport {port} free {freed:.2f} s after the kill")
    log.seek(0)
    output = log.read()
    assert "serving ketasim on" in output
    for line in output.splitlines():
        assert "warn" not in line.lower(), f"the server printed a warning: {line}"


def test_a_port_in_use_is_refused_in_one_line(dashboard, capsys):
    proc, port, _ = dashboard
    wait_for_http(f"http://127.0.0.1:{port}", proc)
    from scenarios.cli import main

    assert main(["dashboard", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ketasim: error: --host 127.0.0.1 --port {port}: cannot listen there")
    assert "\n" not in err


def test_the_page_preloads_plotly_js_which_browsers_may_keep(dashboard):
    """The page's head starts loading plotly.js; its address never changes content."""
    from dashboards.plotly_widget import PLOTLY_JS_PATH

    proc, port, _ = dashboard
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url, proc)
    with urllib.request.urlopen(url, timeout=10) as resp:
        page = resp.read().decode()
    assert f"ketasimLoadPlotly({PLOTLY_JS_PATH!r}".replace("'", '"') in page
    with urllib.request.urlopen(url + PLOTLY_JS_PATH, timeout=30) as resp:
        assert resp.status == 200
        assert "immutable" in resp.headers["Cache-Control"], resp.headers["Cache-Control"]
        assert resp.read(40).startswith(b"/**\n* plotly.js v")
