"""How long one Explore step takes: model step, reading the frames, building the figures.

A step is 7 simulated days with the default 2,000 patients. Measured in-process for a year of
steps under two presets, and optionally (``--browser``) end to end in headless Chromium: from
the click on Step to the delivery panel showing the new day.

    uv run python benchmarks/bench_dashboard_step.py [--patients 2000] [--days 365] [--browser]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboards.explore import build_figures, snapshot  # noqa: E402
from dashboards.levers import DAYS_PER_STEP  # noqa: E402
from dashboards.plotly_widget import figure_json  # noqa: E402
from scenarios.api import build, load_scenario  # noqa: E402


def _stats(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000.0 for v in values)
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
        "max_ms": round(ms[-1], 1),
    }


def bench_in_process(preset: str, n_patients: int, days: int) -> dict:
    """Time each step of a run: model, frames, figures, their JSON (what the chart widget sends)."""
    model = build(load_scenario(preset), n_patients=n_patients, days=days, seed=0)
    parts: dict[str, list[float]] = {"model": [], "frames": [], "figures": [], "json": []}
    total: list[float] = []
    while model.time < model.days:
        t0 = time.perf_counter()
        model.run_until(min(float(model.time) + DAYS_PER_STEP, float(model.days)))
        t1 = time.perf_counter()
        snap = snapshot(model)
        t2 = time.perf_counter()
        figs = build_figures(snap)
        t3 = time.perf_counter()
        for fig in figs.values():
            figure_json(fig)
        t4 = time.perf_counter()
        parts["model"].append(t1 - t0)
        parts["frames"].append(t2 - t1)
        parts["figures"].append(t3 - t2)
        parts["json"].append(t4 - t3)
        total.append(t4 - t0)
    out = {"preset": preset, "n_patients": n_patients, "days": days, "steps": len(total)}
    out.update({k: _stats(v) for k, v in parts.items()})
    out["step_total"] = _stats(total)
    out["final_integrated_delivery_rate"] = model.summary()["integrated_delivery_rate"]
    return out


def bench_browser(steps: int) -> dict:
    """Click Step ``steps`` times in headless Chromium; time click -> new day drawn in the panel."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    cmd = [sys.executable, "-m", "solara", "run", str(ROOT / "dashboards" / "app.py")]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--production", "--no-open"]
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        t_start = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.perf_counter() - t_start > 120:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.3)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(url)
            page.get_by_role("button", name="Play", exact=True).wait_for(timeout=120_000)
            page.locator(".panel-delivery .js-plotly-plot").wait_for(timeout=120_000)
            first_load = time.perf_counter() - t0
            times = []
            for k in range(1, steps + 1):
                day = k * DAYS_PER_STEP
                t0 = time.perf_counter()
                page.get_by_role("button", name=f"Step +{DAYS_PER_STEP} days", exact=True).click()
                page.locator(".sim-day", has_text=f"Day {day} of").wait_for(timeout=60_000)
                # Done when the pathways panel in the browser holds this step's days.
                page.wait_for_function(
                    "([sel, n]) => { const el = document.querySelector(sel);"
                    " return el && el._fullData && el._fullData.length && el._fullData[0].x"
                    " && el._fullData[0].x.length >= n; }",
                    arg=[".panel-pathways .js-plotly-plot", day],
                    timeout=60_000,
                )
                times.append(time.perf_counter() - t0)
            browser.close()
        return {"first_load_s": round(first_load, 2), "steps": steps, "step_render": _stats(times)}
    finally:
        server.terminate()
        server.wait(timeout=15)


def main() -> None:
    """Run the benchmark and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--browser", action="store_true", help="also time steps in Chromium")
    parser.add_argument("--browser-steps", type=int, default=10)
    args = parser.parse_args()
    result = {
        "in_process": [
            bench_in_process(p, args.patients, args.days) for p in ("baseline", "bundled_payment")
        ],
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if args.browser:
        result["browser"] = bench_browser(args.browser_steps)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
