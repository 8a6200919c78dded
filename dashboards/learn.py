"""The Learn page (DESIGN §8): guided lessons for educators.

This first version renders the page frame; lessons are added in the following commits.
"""

from __future__ import annotations

import solara


@solara.component
def LearnPage() -> None:
    """The educator page: a list of short lessons, each a question, a prediction and a run."""
    with solara.Column():
        solara.Markdown("# Learn")
        solara.Markdown(
            "Short lessons for a class: each asks a question, records the class's prediction, "
            "runs a pair of simulations and shows the one chart that answers it."
        )
