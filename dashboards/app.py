"""The ketasim dashboard: Explore, Compare and Learn (DESIGN §8).

Serve it with ``uv run ketasim dashboard`` (127.0.0.1:8765) or ``solara run dashboards/app.py``.
Each browser session gets its own model and settings: the layout creates them once per session
and hands them to the pages, so switching page keeps the run, and two analysts never share one.
Front-end files come from ``solara-assets`` and figures from anywidget, so it works offline.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# ``solara run dashboards/app.py`` puts dashboards/ (not the project root) on the path.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
# The server must not phone home (offline machines, locked-down networks); the CLI sets this
# too, but ``solara run`` started by hand does not.
os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")

import solara  # noqa: E402

from dashboards.compare_page import ComparePage  # noqa: E402
from dashboards.explore import SESSION, ExplorePage, ExploreSession  # noqa: E402
from dashboards.learn import LearnPage  # noqa: E402

TITLE = "ketasim: ketamine-assisted therapy and the institutions that deliver it"


@solara.component
def Layout(children: list | None = None) -> None:
    """App bar with page tabs; owns this browser session's state."""
    session = solara.use_memo(ExploreSession, [])
    SESSION.provide(session)
    solara.Title("ketasim")
    solara.AppLayout(children=children or [], title=TITLE, color="#37474f")


routes = [
    solara.Route(path="/", component=ExplorePage, label="Explore"),
    solara.Route(path="compare", component=ComparePage, label="Compare"),
    solara.Route(path="learn", component=LearnPage, label="Learn"),
]
