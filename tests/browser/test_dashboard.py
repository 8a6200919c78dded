"""End-to-end tests of the dashboard in headless Chromium (Explore, Compare, a lesson).

They use the session fixtures of ``conftest.py``: one Solara server for the whole file and a
fresh 1400 x 900 page per test, which fails on any page or console error and saves a screenshot
into ``artifacts/screenshots/``. With ``KETASIM_DOCS_SCREENSHOTS=1`` they also refresh the
pictures in ``docs/img/`` (1400 x 900 window, cut below the last whole chart).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from dashboards.lessons import find_lesson
from tests.browser.fit import assert_fits, plot_reports

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMG = ROOT / "docs" / "img"
LOAD_TIMEOUT_MS = 120_000
SIZES = {"1280x800": (1280, 800), "1400x900": (1400, 900), "1920x1080": (1920, 1080)}


def docs_screenshot(page, name: str, top: str, bottom: str) -> None:
    """Save ``docs/img/NAME.png``: the window from ``top``'s row down to ``bottom``'s end."""
    if not os.environ.get("KETASIM_DOCS_SCREENSHOTS"):
        return
    page.mouse.move(0, 0)  # no hover label or plotly toolbar in the picture
    page.locator(top).first.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(800)
    box = page.locator(bottom).first.bounding_box()
    size = page.viewport_size
    height = min(size["height"], math.ceil(box["y"] + box["height"] + 12))
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(DOCS_IMG / f"{name}.png"),
        clip={"x": 0, "y": 0, "width": size["width"], "height": height},
    )


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
        "el => (el._fullData && el._fullData.length) ? Array.from(el._fullData[0].y) : []"
    )
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def _charts_drawn(page, scope: str, n: int) -> None:
    page.wait_for_function(
        "([scope, n]) => [...document.querySelectorAll(scope + ' .panel .js-plotly-plot')]"
        ".filter(p => p._fullLayout && p.getBoundingClientRect().width > 0).length >= n",
        arg=[scope, n],
        timeout=60_000,
    )


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


def _open_group(page, group: str) -> None:
    """Open a closed group of levers in Explore's sidebar."""
    page.locator(".lever-group-toggle", has_text=group).first.click()


def _go(page, label: str) -> None:
    page.locator(".page-link", has_text=label).first.click()


def test_explore_renders_every_panel_offline(app_url, page):
    from playwright.sync_api import expect

    requests = _open(page, app_url)
    assert _day(page) == "Day 0 of 365"
    _charts_drawn(page, ".ketasim-explore", 7)
    for key in ("delivery", "pathways", "severity", "spending", "patient_flow", "money_flow"):
        # Before a run: what will be shown, not empty axes.
        expect(page.locator(f".panel-{key}")).to_contain_text("Press Step or Play to see")
    page.get_by_role("button", name="Step +7 days", exact=True).click()
    expect(page.locator(".sim-day")).to_have_text("Day 7 of 365")
    page.get_by_role("button", name="Step +7 days", exact=True).click()
    expect(page.locator(".sim-day")).to_have_text("Day 14 of 365")
    panels = page.locator(".panel .js-plotly-plot")
    expect(panels).to_have_count(7)
    for key in ("pathways", "severity", "spending", "patient_flow", "money_flow", "delays"):
        plot = page.locator(f".panel-{key} .js-plotly-plot").first
        expect(plot).to_be_visible()
        expect(page.locator(f".panel-{key}")).not_to_contain_text("Press Step or Play")
        n_traces = plot.evaluate("el => (el._fullData || []).length")
        assert n_traces > 0, f"panel {key} has no data after two steps"
    assert _delivery_series(page), "the delivery panel has no values by day 14"
    expect(page.locator(".kpi-idr")).not_to_have_text("-")
    # Every request the page made went to this machine: the app works offline. plotly.js is
    # fetched once for the page, from the local assets, not once per chart.
    hosts = {urlparse(u.removeprefix("blob:")).hostname for u in requests}
    hosts.discard(None)  # data: URLs
    assert hosts <= {"127.0.0.1"}, f"requests left the machine: {sorted(hosts)}"
    plotly_js = {u for u in requests if urlparse(u).path.endswith("plotly.min.js")}
    assert len(plotly_js) == 1, f"plotly.js from {len(plotly_js)} addresses: {plotly_js}"
    assert "/static/assets/plotly.min.js?v=" in plotly_js.pop()
    downloads = page.evaluate(
        "performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('plotly.min.js') && e.transferSize > 0).length"
    )
    assert downloads == 1, f"plotly.js downloaded {downloads} times for one page"
    assert not any("widgetbundle" in u for u in requests), "FigureWidget's bundle was loaded"


def test_bundled_payment_raises_integrated_delivery(app_url, page):
    """The acceptance check: a year of baseline, then a year with bundled payment switched on."""
    from playwright.sync_api import expect

    _open(page, app_url)
    baseline = _run_to_end(page, 365)
    _toggle(page, "bundled_payment")
    expect(page.locator(".sim-day")).to_have_text("Day 0 of 365")  # settings restart the run
    expect(page.get_by_text("baseline+custom")).to_be_visible()
    bundled = _run_to_end(page, 365)
    page.wait_for_timeout(1000)
    docs_screenshot(page, "dashboard-explore", ".ketasim-explore", ".panel-pathways")
    docs_screenshot(page, "dashboard-flows", ".panel-patient_flow", ".panel-patient_flow")
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
    _open_group(page, "Benefit design and budgets")
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
    expect(page.locator(".input-rel_therapist_supply")).to_have_count(0)  # its group is closed
    _open_group(page, "Therapist workforce")
    expect(page.locator(".input-rel_therapist_supply input")).to_have_value("2")
    expect(page.locator(".input-usd_training_subsidy input")).to_have_value("4000")
    # Number boxes say their unit, not "value".
    expect(page.locator(".lever-usd_bundle_per_episode label")).to_have_text("USD per episode")


def _set_fields(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = page.locator(f".input-{name} input")
        field.fill(value)
        field.press("Enter")


def test_compare_runs_a_small_comparison(app_url, page):
    """Reached from Explore by the page button: bundled_payment (base) vs baseline settings."""
    from playwright.sync_api import expect

    _open(page, app_url)
    _go(page, "Compare")
    page.get_by_role("button", name="Run comparison", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
    expect(page.locator(".v-navigation-drawer")).to_have_count(0)  # no empty sidebar
    page.locator(".ketasim-compare .v-select").first.click()
    page.get_by_role("option", name="bundled_payment", exact=True).click()
    # Too small a catchment for the bundle to act: the page says so, and why.
    _set_fields(page, {"replications": "2", "n_patients": "300", "days": "60"})
    warning = page.locator(".ketasim-compare .lever-warning")
    expect(warning).to_contain_text("300 patients give 2 clinic(s) and 4 therapist(s)")
    expect(warning).to_contain_text("use at least 459 patients")
    _set_fields(page, {"n_patients": "500"})
    expect(warning).to_have_count(0)
    expect(page.get_by_text("4 runs (2 per arm)")).to_be_visible()
    page.get_by_role("button", name="Run comparison", exact=True).click()
    headline = page.locator(".compare-headline")
    expect(headline).to_contain_text("baseline vs bundled_payment", timeout=150_000)
    expect(headline).to_contain_text("2 paired replications × 500 patients × 60 days")
    expect(headline).to_contain_text("Integrated delivery (share, over the run)")
    expect(page.locator(".compare-economics")).to_contain_text("Net monetary benefit")
    _charts_drawn(page, ".ketasim-compare", 2)
    expect(page.locator(".ketasim-compare .js-plotly-plot:visible")).to_have_count(2)
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


@pytest.mark.parametrize("size", ["1280x800", "1400x900"])
def test_every_plot_fits_its_container_and_shows_the_last_day(app_url, page, size):
    """Explore after a year, Compare after a comparison and a lesson, at 1280 and 1400 px.

    Each page is checked in the window it opened in, then after the window is resized to the
    other width and to 1920 px: every chart within its container, its legend, title and axis
    titles inside it, no legend over an axis title, every Sankey's last column shown, and every
    day axis reaching the last simulated day. Pages are reached with the page buttons; the page
    fixture fails the test on any console error.
    """
    from playwright.sync_api import expect

    first = SIZES[size]
    others = [s for s in SIZES.values() if s != first]
    page.set_viewport_size({"width": first[0], "height": first[1]})
    _open(page, app_url)
    _toggle(page, "bundled_payment")
    expect(page.get_by_text("baseline+custom")).to_be_visible()
    _run_to_end(page, 365)

    def check(scope: str, last_day: float, where: str, sizes=(first, *others, first)) -> None:
        for width, height in sizes:
            page.set_viewport_size({"width": width, "height": height})
            # The ResizeObserver re-fits on the next frame; Sankey nodes then glide to their
            # new places for about 0.8 s: wait for the charts to settle.
            deadline = time.monotonic() + 5.0
            while True:
                page.wait_for_timeout(300)
                try:
                    assert_fits(plot_reports(page, scope), last_day, f"{where} at {width} px:")
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise

    _charts_drawn(page, ".ketasim-explore", 7)
    check(".ketasim-explore", 365, "Explore")

    _go(page, "Compare")
    page.get_by_role("button", name="Run comparison", exact=True).wait_for(timeout=LOAD_TIMEOUT_MS)
    _set_fields(page, {"replications": "3", "n_patients": "1000", "days": "365"})
    page.get_by_role("button", name="Run comparison", exact=True).click()
    headline = page.locator(".compare-headline")
    expect(headline).to_contain_text("baseline+custom vs baseline", timeout=150_000)
    expect(headline).to_contain_text("3 paired")
    _charts_drawn(page, ".ketasim-compare", 2)
    check(".ketasim-compare", 365, "Compare")
    if first == SIZES["1400x900"]:
        docs_screenshot(page, "dashboard-compare", ".panel-forest", ".panel-forest")

    lesson = find_lesson("01_window")
    _go(page, "Learn")
    box = page.locator(f".ketasim-lesson-{lesson.name}")
    expect(box.get_by_role("button", name="Run the lesson", exact=True)).to_be_visible()
    box.get_by_text(lesson.spec.prediction.same, exact=True).click()
    box.get_by_role("button", name="Run the lesson", exact=True).click()
    expect(box.locator(".js-plotly-plot")).to_be_visible(timeout=60_000)
    assert lesson.protocols is not None
    check(f".ketasim-lesson-{lesson.name}", lesson.protocols[0].follow_up_days, "Lesson")
    if first == SIZES["1400x900"]:
        scope = f".ketasim-lesson-{lesson.name}"
        docs_screenshot(page, "lesson-window", f"{scope} .panel-lesson", f"{scope} .v-alert")

    _go(page, "Explore")  # back: the charts are kept and drawn again at once
    _charts_drawn(page, ".ketasim-explore", 7)
    expect(page.locator(".sim-day")).to_have_text("Day 365 of 365")
    check(".ketasim-explore", 365, "Explore again", sizes=(first,))
