"""Where ketasim writes by default, importable without loading the store's database engine.

The command line shows these defaults in its help, so they live apart from ``scenarios.store``
(which imports DuckDB): listing the commands or running one simulation does not load it.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_STORE = Path("results") / "ketasim.duckdb"
"""The results store that ``batch``, ``results`` and ``export`` use unless given ``--store``."""
