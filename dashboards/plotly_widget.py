"""A light plotly chart for Solara: one small anywidget per chart, plotly.js loaded once per page.

Why not ``solara.FigurePlotly``: its widget (plotly's ``FigureWidget``) carries the whole of
plotly.js (about 5 MB) in every chart's front-end module, so a page of seven charts moves about
36 MB over the websocket and evaluates plotly.js seven times (11-14 s before Explore appears);
it draws before its element is attached, so it falls back to 700 px and is clipped in a narrower
cell; and its JavaScript sends layout changes back to Python after Solara has closed it on a page
switch ("no comm channel defined"). ``benchmarks/bench_dashboard_load.py`` measures this app.

This widget's front-end module is about 2 kB. It loads plotly.min.js for the page unless
``window.Plotly`` exists (a promise shared by every chart on the page and by the page's head,
which starts the download: one download and one evaluation for all charts), draws with
``Plotly.react`` in ``responsive`` mode with the layout's width removed (the chart takes its
container's width; the layout's height becomes the container's height), redraws when the
figure JSON changes (at most once per animation frame), re-fits when its element changes size
(a ``ResizeObserver``: window resizes, a sidebar opening, a hidden page shown again) and never
sends anything back to Python.

plotly.min.js is served from the installed plotly package (``plotly/package_data``), added to
Solara's static assets at import, so the page needs no network. Its URL carries Solara's hash of
the file (``?v=...``), for which Solara sends a one-year immutable cache header: a browser
downloads it once per plotly version.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import anywidget
import plotly
import plotly.graph_objects as go
import plotly.io as pio
import solara
import solara.server.server
import solara.server.settings
import traitlets

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
"""The installed plotly package's front-end files (``plotly.min.js`` among them)."""

PLOTLY_JS = "plotly.min.js"

CONFIG = {"responsive": True, "displaylogo": False}
"""Plotly's config for every dashboard chart."""

# Loads plotly.js once per page: every chart (and the page's head, see ``_page_script``) waits on
# the same promise, so a page of charts makes one download and one evaluation. The file is
# fetched at once (into the browser's cache) but run from a <script> element only after the
# page's load event: a <script> element added earlier would hold that event, which Solara waits
# for before it mounts the app. A <script> element (not eval) lets the browser keep the compiled
# code for the next visit.
_LOADER = r"""
function ketasimLoadPlotly(path) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__ketasimPlotly) {
    const url = ((window.solara && window.solara.rootPath) || "") + path;
    const file = fetch(url).then((r) => r.ok ? r.blob() : Promise.reject(new Error(url)));
    const loaded = new Promise((resolve) => {
      if (document.readyState === "complete") resolve();
      else window.addEventListener("load", resolve, { once: true });
    });
    const ready = Promise.all([file, loaded]).then(() => new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => reject(new Error(url));
      document.head.appendChild(script);
    }));
    ready.catch(() => { window.__ketasimPlotly = null; });
    window.__ketasimPlotly = ready;
  }
  return window.__ketasimPlotly;
}
"""

_ESM = (
    _LOADER
    + r"""
function render({ model, el }) {
  const div = document.createElement("div");
  div.className = "ketasim-chart";
  div.style.width = "100%";
  el.style.width = "100%";
  el.appendChild(div);
  let Plotly = null;
  let frame = 0;
  let alive = true;
  let stale = true;

  function draw() {
    frame = 0;
    if (!alive || !Plotly) return;
    if (div.clientWidth === 0) { stale = true; return; }  // hidden: draw when shown
    stale = false;
    const fig = JSON.parse(model.get("figure") || "{}");
    const layout = fig.layout || {};
    if (layout.height) div.style.height = layout.height + "px";
    delete layout.width;
    delete layout.height;
    layout.autosize = true;
    Plotly.react(div, fig.data || [], layout, fig.config || {});
  }
  function schedule() {
    stale = true;
    if (!frame) frame = requestAnimationFrame(draw);
  }
  const observer = new ResizeObserver(() => {
    if (!alive || !Plotly || div.clientWidth === 0) return;
    if (stale) schedule();
    else Plotly.Plots.resize(div);
  });
  observer.observe(div);
  model.on("change:figure", schedule);
  ketasimLoadPlotly(model.get("plotly_js")).then(
    (lib) => { Plotly = lib; schedule(); },
    (err) => { div.textContent = "The chart library did not load from " + err.message; },
  );
  return () => {
    alive = false;
    observer.disconnect();
    model.off("change:figure", schedule);
    if (frame) cancelAnimationFrame(frame);
    if (Plotly) Plotly.purge(div);
  };
}

export default { render };
"""
)


def _page_script(plotly_path: str) -> str:
    """Solara's ``custom.js``: start loading plotly.js in the page's head.

    Solara inlines ``/static/assets/custom.js`` in every page's head, before its own scripts, so
    plotly.js downloads and evaluates while Solara starts and the server renders the page,
    instead of after the first chart appears (about 1.5 s later on these machines).
    """
    return (
        "/* ketasim (dashboards/plotly_widget.py): load plotly.js while the app starts. */\n"
        + _LOADER
        + f"ketasimLoadPlotly({json.dumps(plotly_path)});\n"
    )


def _asset_dir(version: str) -> Path:
    """A folder for a generated ``custom.js`` in the user's cache, named after its content.

    Named by a hash of the script (which holds plotly.js's version), so two servers of
    different versions of this code never write each other's file.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    for root in (Path(base), Path(tempfile.gettempdir())):
        folder = root / "ketasim" / "dashboard-assets" / version
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise OSError("no writable cache folder for the dashboard's custom.js")


def serve_plotly_js() -> str:
    """Serve plotly.min.js and a ``custom.js`` that preloads it from Solara's static assets.

    Returns:
        plotly.min.js's path below the server root, with the file's hash as its version query.
    """
    # Solara's own content hash (md5), which its static files check a ?v= against before they
    # send the one-year "immutable" cache header.
    version = solara.server.server.file_content_hash(PLOTLY_DIR / PLOTLY_JS)[:12]
    path = f"/static/assets/{PLOTLY_JS}?v={version}"
    script = _page_script(path)
    folder = _asset_dir(hashlib.sha256(script.encode()).hexdigest()[:16])
    target = folder / "custom.js"
    if not target.exists() or target.read_text(encoding="utf-8") != script:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(script)
        os.replace(tmp, target)
    extra = solara.server.settings.assets.extra_locations
    # Ours before Solara's own assets (searched last), so this custom.js replaces its empty one.
    for location in (str(PLOTLY_DIR), str(folder)):
        if location not in extra:
            extra.append(location)
    return path


PLOTLY_JS_PATH = serve_plotly_js()


class PlotlyChart(anywidget.AnyWidget):
    """One plotly chart drawn by plotly.js in the browser; Python only sends the figure JSON."""

    _esm = _ESM
    figure = traitlets.Unicode("{}").tag(sync=True)
    """The figure as JSON: ``{"data": [...], "layout": {...}, "config": {...}}``."""
    plotly_js = traitlets.Unicode(PLOTLY_JS_PATH).tag(sync=True)
    """plotly.min.js's path below the server root."""


def figure_json(fig: go.Figure) -> str:
    """A figure and the dashboard's plotly config as the JSON the widget draws."""
    return pio.json.to_json_plotly({**fig.to_dict(), "config": CONFIG})


@solara.component
def Chart(fig: go.Figure) -> None:
    """Draw ``fig`` at its container's width (re-sent only when the figure changes)."""
    payload = solara.use_memo(lambda: figure_json(fig), [fig])
    PlotlyChart.element(figure=payload)
