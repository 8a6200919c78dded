"""End-to-end tests of the dashboard in headless Chromium (Explore and Compare).

They use the session fixtures of ``conftest.py``: one Solara server for the whole file and a
fresh browser page per test (which saves a screenshot into ``artifacts/screenshots/``). With
``KETASIM_DOCS_SCREENSHOTS=1`` they also refresh ``docs/img/dashboard-*.png``.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMG = ROOT / "docs" / "img"
LOAD_TIMEOUT_MS = 120_000


def _docs_screenshot(page, name: str) -> None:
    if os.environ.get("KETASIM_DOCS_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / f"dashboard-{name}.png"), full_page=True)


def _open(page, url: str) -> list[str]:
    """Open the app, wait for real content, and return the list of requested URLs."""
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto(url)
    page.get_by_role("button", name="Play", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
    return requests


def _day(page) -> str:
    return page.locator(".sim-day").inner_text()


def _delivery_series(page) -> list[float]:
    """The y values the browser has drawn in the integrated-delivery panel."""
    values = page.locator(".panel-delivery .js-plotly-plot").first.evaluate(
        "el => (el.data && el.data.length) ? el.data[0].y : []"
    )
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def _run_to_end(page, days: int) -> float:
    """Press Run to end; wait for the last day to be drawn; return the panel's last value."""
    page.get_by_role("button", name="Run to end", exact=True).click()
    page.locator(".sim-day", has_text=f"Day {days} of {days}").wait_for(timeout=150_000)
    deadline = time.monotonic() + 30
    while True:  # the figure update reaches the browser just after the day counter
        series = _delivery_series(page)
        if len(series) >= days - 10 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(250)
    assert series, "the integrated-delivery panel drew no values"
    return series[-1]


def _toggle(page, lever: str) -> None:
    page.locator(f".lever-{lever} input[role=switch]").first.click(force=True)


def test_explore_renders_every_panel_offline(app_url, page):
    from playwright.sync_api import expect

    requests = _open(page, app_url)
    assert _day(page) == "Day 0 of 365"
    page.get_by_role("button", name="Step +7 days", exact=True).click()
    expect(page.locator(".sim-day")).to_have_text("Day 7 of 365")
    page.get_by_role("button", name="Step +7 days", exact=True).click()
    expect(page.locator(".sim-day")).to_have_text("Day 14 of 365")
    panels = page.locator(".panel .js-plotly-plot")
    expect(panels).to_have_count(7)
    for key in ("pathways", "severity", "spending", "patient_flow", "money_flow", "delays"):
        plot = page.locator(f".panel-{key} .js-plotly-plot").first
        expect(plot).to_be_visible()
        n_traces = plot.evaluate("el => (el.data || []).length")
        assert n_traces > 0, f"panel {key} has no data after two steps"
    assert _delivery_series(page), "the delivery panel has no values by day 14"
    expect(page.locator(".kpi-idr")).not_to_have_text("-")
    # Every request the page made went to this machine: the app works offline.
    hosts = {urlparse(u.removeprefix("blob:")).hostname for u in requests}
    hosts.discard(None)  # data: URLs
    assert hosts <= {"127.0.0.1"}, f"requests left the machine: {sorted(hosts)}"


def test_bundled_payment_raises_integrated_delivery(app_url, page):
    """The acceptance check: a year of baseline, then a year with bundled payment switched on."""
    from playwright.sync_api import expect

    _open(page, app_url)
    baseline = _run_to_end(page, 365)
    _toggle(page, "bundled_payment")
    expect(page.locator(".sim-day")).to_have_text("Day 0 of 365")  # settings restart the run
    expect(page.get_by_text("baseline+custom")).to_be_visible()
    bundled = _run_to_end(page, 365)
    _docs_screenshot(page, "explore")
    assert 0.05 <= baseline <= 0.3, f"baseline integrated delivery {baseline:.2f}"
    assert bundled >= baseline + 0.15, (
        f"bundled payment should raise integrated delivery clearly: {baseline:.2f} -> {bundled:.2f}"
    )


def test_bad_input_is_refused_beside_the_field(app_url, page):
    from playwright.sync_api import expect

    _open(page, app_url)
    page.get_by_role("button", name="Step +7 days", exact=True).click()
    expect(page.locator(".sim-day")).to_have_text("Day 7 of 365")
    field = page.locator(".input-usd_bundle_per_episode input")
    field.fill("abc")
    field.press("Enter")
    error = page.locator(".lever-usd_bundle_per_episode .lever-error")
    expect(error).to_contain_text("'abc' is not a number")
    expect(error).to_contain_text("still running with 7000")
    cost = page.locator(".input-p_cost_share input")
    cost.fill("1.5")
    cost.press("Enter")
    expect(page.locator(".lever-p_cost_share .lever-error")).to_contain_text("at most 1")
    # The model kept its settings and day, and keeps running.
    expect(page.locator(".sim-day")).to_have_text("Day 7 of 365")
    page.get_by_role("button", name="Step +7 days", exact=True).click()
    expect(page.locator(".sim-day")).to_have_text("Day 14 of 365")
    # A valid value clears the message (and restarts the run with it).
    field.fill("8000")
    field.press("Enter")
    expect(error).to_have_count(0)
    expect(page.locator(".sim-day")).to_have_text("Day 0 of 365")


def test_preset_picker_loads_levers(app_url, page):
    from playwright.sync_api import expect

    _open(page, app_url)
    page.locator(".v-select").first.click()
    page.get_by_role("option", name="integrated_ideal", exact=True).click()
    expect(page.get_by_text("integrated_ideal").first).to_be_visible()
    expect(page.locator(".input-rel_therapist_supply input")).to_have_value("2")
    expect(page.locator(".input-usd_training_subsidy input")).to_have_value("4000")


def test_compare_runs_a_small_comparison(app_url, page):
    """Opened by its own address (a fresh session): baseline settings vs bundled_payment.

    Navigating there from Explore with the page buttons currently raises browser-side
    "no comm channel defined" errors from the Explore plots (see docs/dashboard.md).
    """
    from playwright.sync_api import expect

    page.goto(f"{app_url}/compare")
    page.get_by_role("button", name="Run comparison", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
    page.locator(".v-select").first.click()
    page.get_by_role("option", name="bundled_payment", exact=True).click()
    for name, value in (("replications", "2"), ("n_patients", "300"), ("days", "60")):
        field = page.locator(f".input-{name} input")
        field.fill(value)
        field.press("Enter")
    expect(page.get_by_text("4 runs (2 per arm)")).to_be_visible()
    page.get_by_role("button", name="Run comparison", exact=True).click()
    headline = page.locator(".compare-headline")
    expect(headline).to_contain_text("baseline vs bundled_payment", timeout=150_000)
    expect(headline).to_contain_text("2 paired replications × 300 patients × 60 days")
    expect(page.locator(".compare-economics")).to_contain_text("Net monetary benefit")
    expect(page.locator(".js-plotly-plot:visible")).to_have_count(2)
    with page.expect_download() as info:
        page.get_by_text("Download results (CSV)").click()
    csv = Path(info.value.path()).read_text()
    assert csv.startswith("base,policy,metric,base_mean"), csv[:80]
    assert "integrated_delivery_rate" in csv and "icer_usd_per_qaly" in csv
    with page.expect_download() as info:
        page.get_by_text("Download current settings (scenario TOML)").click()
    toml_path = Path(info.value.path())
    from scenarios.api import load_scenario

    target = toml_path.with_suffix(".toml")
    target.write_text(toml_path.read_text())
    assert load_scenario(target).policy == load_scenario("baseline").policy
    _docs_screenshot(page, "compare")
