"""How fast the dashboard appears: Explore's first render and a page switch, in headless Chromium.

Starts the app as ``ketasim dashboard`` does (``solara run --production``) on a free loopback
port and drives Debian's Chromium with Playwright:

- **first render**: a fresh browser context (empty cache, a new session) opens Explore; timed from
  the navigation to every Explore chart drawn (each panel holds plotly's SVG) and the levers
  shown in the sidebar;
- **page switch**: in that page, from a click on a page button in the app bar to the page's
  content shown: Explore -> Compare (its "Run comparison" button), Compare -> Learn (the lesson
  list), Learn -> Explore (every chart drawn and visible, the levers back in the sidebar).

Each is repeated ``--repeat`` times (default 5) and the median printed, with the range. The
server's first page (Solara compresses plotly.js for it: about 2 s once per server start) is
visited before the timed runs and printed apart. Browser console errors and page errors of the
timed runs are counted and printed; the script exits 1 if there are any.

    uv run python benchmarks/bench_dashboard_load.py [--repeat 5] [--width 1400 --height 900]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.chromium import CHROMIUM, LAUNCH_ARGS, free_port, wait_for_http  # noqa: E402

N_EXPLORE_CHARTS = 7
CHARTS_DRAWN = """n => {
  const plots = document.querySelectorAll('.panel .js-plotly-plot .main-svg');
  const shown = [...plots].filter(p => p.getBoundingClientRect().width > 0);
  return shown.length >= 2 * n;  // plotly draws two .main-svg layers per chart
}"""


def start_server(port: int) -> subprocess.Popen:
    """``solara run dashboards/app.py --production`` on 127.0.0.1:``port``, answering HTTP."""
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    cmd = [sys.executable, "-m", "solara", "run", str(ROOT / "dashboards" / "app.py")]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--production", "--no-open"]
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}", server)
    except RuntimeError:
        server.kill()
        raise
    return server


def _page_button(page, label: str):
    return page.locator(".page-link", has_text=label).first


def one_visit(browser, url: str, size: tuple[int, int], errors: list[str]) -> dict[str, float]:
    """Open Explore in a fresh context, then switch pages; seconds for each step."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def console(msg) -> None:
        if msg.type == "error":
            errors.append(f"console: {msg.text}")

    page.on("console", console)
    try:
        out: dict[str, float] = {}
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_function(CHARTS_DRAWN, arg=N_EXPLORE_CHARTS, timeout=120_000, polling=50)
        page.locator(".lever-bundled_payment").wait_for(timeout=60_000)
        out["first_render_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        _page_button(page, "Compare").click()
        page.get_by_role("button", name="Run comparison", exact=True).wait_for(timeout=60_000)
        out["explore_to_compare_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        _page_button(page, "Learn").click()
        page.locator(".ketasim-lesson-pick").first.wait_for(timeout=60_000)
        out["compare_to_learn_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        _page_button(page, "Explore").click()
        page.wait_for_function(CHARTS_DRAWN, arg=N_EXPLORE_CHARTS, timeout=60_000, polling=50)
        page.get_by_role("button", name="Play", exact=True).wait_for(timeout=60_000)
        page.locator(".lever-bundled_payment").wait_for(timeout=60_000)  # the sidebar is back
        out["learn_to_explore_s"] = time.perf_counter() - t0
        page.wait_for_timeout(500)  # errors logged just after the switch still count
        return out
    finally:
        context.close()


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 2),
        "min_s": round(min(values), 2),
        "max_s": round(max(values), 2),
    }


def main() -> int:
    """Run the benchmark, print one JSON object; exit 1 on any browser error."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    # Other work on the machine slows every number here: the load is printed with them.
    load_at_start = round(os.getloadavg()[0], 2)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            warm_errors: list[str] = []
            t0 = time.perf_counter()
            one_visit(browser, url, (args.width, args.height), warm_errors)
            server_first_page = time.perf_counter() - t0
            errors: list[str] = []
            visits = [
                one_visit(browser, url, (args.width, args.height), errors)
                for _ in range(args.repeat)
            ]
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    result = {
        "viewport": f"{args.width}x{args.height}",
        "repeat": args.repeat,
        **{key: _summary([v[key] for v in visits]) for key in visits[0]},
        "server_first_visit_with_switches_s": round(server_first_page, 2),
        "browser_errors": len(errors),
        "browser_error_lines": errors[:10],
        "cpu_count": os.cpu_count(),
        "load_average_1min_at_start": load_at_start,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))
    first = result["first_render_s"]["median_s"]
    switches = [result[k]["median_s"] for k in visits[0] if k != "first_render_s"]
    print(
        f"Explore first render (median of {args.repeat}): {first:.2f} s; "
        f"page switch (median of {args.repeat}, slowest of the three kinds): "
        f"{max(switches):.2f} s; browser errors: {len(errors)}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
