"""The ketasim dashboard: Explore, Compare and Learn (docs/dashboard.md, docs/educators.md).

Serve it with ``uv run ketasim dashboard`` (127.0.0.1:8765) or ``solara run dashboards/app.py``.
Each browser session gets its own model and settings: the layout creates them once per session
and hands them to the pages, so switching page keeps the run, and two analysts never share one.
Front-end files come from ``solara-assets`` and figures from anywidget, so it works offline.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# ``solara run dashboards/app.py`` puts dashboards/ (not the project root) on the path.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
# The server must not phone home (offline machines, locked-down networks); the CLI sets this
# too, but ``solara run`` started by hand does not.
os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
# Solara warns on every page load (12 lines) when a page is asked for over plain http by any
# host name but "localhost" (e.g. 127.0.0.1): it would like a SameSite=None session cookie, for
# pages embedded in another site's iframe, and that needs https. This app is not embedded; the
# SameSite=Lax cookie Solara falls back to is the right one, so the warning says nothing here.
warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")

import solara  # noqa: E402
import solara.server.settings  # noqa: E402

# Solara's "This website runs on Solara" banner sits over the bottom right of the page, where it
# covered chart axes and lesson text; the page title names the app in the browser's tab.
solara.server.settings.theme.show_banner = False
solara.server.settings.theme.title = "ketasim"

from dashboards.compare_page import ComparePage  # noqa: E402
from dashboards.explore import SESSION, ExplorePage, ExploreSession, warm_up  # noqa: E402
from dashboards.learn import LearnPage  # noqa: E402

# The server imports this module once, at start: do the first session's one-off work now (model
# kernels loaded from their cache, plotly's validators, pandas' paths), not in the first page.
warm_up()

TITLE = "ketasim: ketamine-assisted therapy and the institutions that deliver it"


@solara.component
def Layout(children: list | None = None) -> None:
    """App bar with one button per page; owns this browser session's state.

    Pages stay mounted once visited and are hidden, not removed, when another page is shown: an
    Explore run keeps its charts, and coming back to a page draws nothing anew.
    ``children`` (the routed page Solara would render) is therefore not used.

    ``AppLayout`` takes its first child as the sidebar when it has more than one child that is
    not its ``AppBar``, so the app bar is given as an ``AppBar`` and all pages as one child:
    only Explore's ``solara.Sidebar`` (while Explore is shown) opens a sidebar.
    """
    session = solara.use_memo(ExploreSession, [])
    SESSION.provide(session)
    current, all_routes = solara.use_route()
    visited = solara.use_ref(set())
    visited.current.add(current.path)
    del children
    with solara.AppLayout(title=TITLE, navigation=False, color="#37474f"):
        with solara.AppBar():
            PageButtons(current, all_routes)
        with solara.Div(classes=["ketasim-pages"]):
            for route in all_routes:
                if route.path not in visited.current:
                    continue
                active = route is current
                # Keys like "/" clash with reacton's own key paths: name the page instead.
                key = f"page-{route.path.strip('/') or 'explore'}"
                with solara.Div(style={"display": "block" if active else "none"}).key(key):
                    if route.component is ExplorePage:
                        ExplorePage(active=active)
                    else:
                        route.component()


@solara.component
def PageButtons(current: solara.Route, all_routes: list[solara.Route]) -> None:
    """One button per page in the app bar; the current one underlined."""
    with solara.Row(gap="0px", style={"background": "transparent"}):
        for route in all_routes:
            active = route is current
            with solara.Link(solara.resolve_path(route)):
                solara.Button(
                    route.label,
                    text=True,
                    classes=["page-link"],
                    style={
                        "color": "white",
                        "font-weight": "bold" if active else "normal",
                        "border-bottom": "2px solid white" if active else "none",
                    },
                )


routes = [
    # The root route's layout wraps its siblings too: one Layout, one session, for every page.
    solara.Route(path="/", component=ExplorePage, label="Explore", layout=Layout),
    solara.Route(path="compare", component=ComparePage, label="Compare"),
    solara.Route(path="learn", component=LearnPage, label="Learn"),
]
