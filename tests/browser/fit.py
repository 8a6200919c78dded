"""What a browser test reads about each drawn plotly chart: does it fit, and is it all there?"""

from __future__ import annotations

from dataclasses import dataclass

# For each plot inside `scope`: its container's width (the `.panel` around it), the width plotly
# drew, the x-axis range and the largest x of the data on that axis, and whether the legend, the
# title and the axis titles lie inside the drawing without the legend covering the x-axis title.
_REPORT_JS = """
scope => {
  const box = (el) => el ? el.getBoundingClientRect() : null;
  const inside = (b, s) => !b || b.width === 0 || (b.left >= s.left - 1 && b.right <= s.right + 1
    && b.top >= s.top - 1 && b.bottom <= s.bottom + 1);
  const overlap = (a, b) => !!a && !!b && a.width > 0 && b.width > 0 && !(a.right <= b.left
    || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top);
  const out = [];
  for (const panel of document.querySelectorAll(scope + ' .panel')) {
    const plot = panel.querySelector('.js-plotly-plot');
    if (!plot || !plot._fullLayout) continue;
    const svg = box(plot.querySelector('.main-svg'));
    const full = plot._fullLayout;
    let xMax = null;
    for (const trace of plot._fullData || []) {
      if (trace.visible === false || (trace.xaxis || 'x') !== 'x' || !trace.x) continue;
      for (const v of trace.x) if (typeof v === 'number' && (xMax === null || v > xMax)) xMax = v;
    }
    const sankey = (plot._fullData || []).some(t => t.type === 'sankey');
    const nodes = [...plot.querySelectorAll('.sankey-node rect')].map(box);
    const legend = box(plot.querySelector('.legend'));
    const xTitle = box(plot.querySelector('.xtitle'));
    out.push({
      panel: [...panel.classList].find(c => c.startsWith('panel-')) || '?',
      container: panel.getBoundingClientRect().width,
      drawn: svg ? svg.width : 0,
      xRange: full.xaxis && full.xaxis.visible !== false ? full.xaxis.range : null,
      xMax: xMax,
      xTitle: full.xaxis && full.xaxis.title ? full.xaxis.title.text : '',
      sankeyRight: nodes.length ? Math.max(...nodes.map(n => n.right)) - svg.left : null,
      sankey: sankey,
      legendInside: inside(legend, svg),
      titleInside: inside(box(plot.querySelector('.gtitle')), svg),
      axisTitlesInside: [...plot.querySelectorAll('.xtitle, .ytitle, .y2title')]
        .every(t => inside(box(t), svg)),
      legendOverXTitle: overlap(legend, xTitle),
    });
  }
  return out;
}
"""


@dataclass(frozen=True)
class PlotReport:
    """One drawn chart, as the browser measured it (px and axis units)."""

    panel: str
    container: float
    drawn: float
    x_range: tuple[float, float] | None
    x_max: float | None
    x_title: str
    sankey_right: float | None
    sankey: bool
    legend_inside: bool
    title_inside: bool
    axis_titles_inside: bool
    legend_over_x_title: bool


def plot_reports(page, scope: str) -> list[PlotReport]:
    """Every drawn chart in ``scope`` (a CSS selector), in page order."""
    rows = page.evaluate(_REPORT_JS, scope)
    return [
        PlotReport(
            panel=r["panel"],
            container=r["container"],
            drawn=r["drawn"],
            x_range=tuple(r["xRange"]) if r["xRange"] else None,
            x_max=r["xMax"],
            x_title=r["xTitle"] or "",
            sankey_right=r["sankeyRight"],
            sankey=r["sankey"],
            legend_inside=r["legendInside"],
            title_inside=r["titleInside"],
            axis_titles_inside=r["axisTitlesInside"],
            legend_over_x_title=r["legendOverXTitle"],
        )
        for r in rows
    ]


def assert_fits(reports: list[PlotReport], last_day: float, where: str) -> None:
    """Each chart within its container, its parts inside it, day axes reaching ``last_day``."""
    assert reports, f"{where}: no chart drawn"
    for r in reports:
        name = f"{where} {r.panel}"
        assert r.drawn > 100, f"{name}: drawn {r.drawn:.0f} px wide"
        assert r.drawn <= r.container + 1, f"{name}: {r.drawn:.0f} px in {r.container:.0f} px"
        assert r.legend_inside, f"{name}: the legend is cut"
        assert r.title_inside, f"{name}: the title is cut"
        assert r.axis_titles_inside, f"{name}: an axis title is cut"
        assert not r.legend_over_x_title, f"{name}: the legend covers the x-axis title"
        if r.sankey:
            assert r.sankey_right is not None and r.sankey_right <= r.drawn + 1, (
                f"{name}: the Sankey's last column is cut ({r.sankey_right} of {r.drawn} px)"
            )
        if any(day in r.x_title.lower() for day in ("day of the run", "days since the first")):
            assert r.x_max is not None and r.x_max >= last_day - 1, (
                f"{name}: the data end on day {r.x_max}, not {last_day}"
            )
            assert r.x_range is not None and r.x_range[1] >= last_day, (
                f"{name}: the x axis ends at {r.x_range}, before day {last_day}"
            )
