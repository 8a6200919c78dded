"""Fixtures for browser tests: a Solara server on a free loopback port and headless Chromium.

The server is started by the tests and stopped by them. Chromium is Debian's (``.ci/run``
installs it); Playwright's own browser download does not work on these machines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, LAUNCH_ARGS, free_port, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    pytest.skip("chromium not installed: apt-get install -y chromium")


@pytest.fixture(scope="session")
def app_url():
    """Serve dashboards/app.py on 127.0.0.1 and yield its URL; stop it afterwards."""
    _require_chromium()
    port = free_port()
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    log = (ROOT / "artifacts").resolve()
    log.mkdir(parents=True, exist_ok=True)
    out = (log / "solara-server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "solara",
            "run",
            str(ROOT / "dashboards" / "app.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--production",
            "--no-open",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(url, proc)
        except RuntimeError as exc:
            pytest.fail(f"{exc}; see {out.name}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh 1400 x 900 page; fails the test on any page or console error; saves a screenshot.

    Console errors count as failures too: the errors users saw ("no comm channel defined",
    "Invalid color specifier") were logged to the console, not raised as page errors.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))

    def console(msg) -> None:
        if msg.type == "error":
            errors.append(f"console: {msg.text}")

    pg.on("console", console)
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
    assert not errors, f"page errors: {errors}"
