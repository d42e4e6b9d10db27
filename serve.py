"""The server: `streamlit run serve.py` serves app.py, and as it starts, before anyone asks for a page,
loads the app's modules and warms the shared caches of the data folder in the background.

Without it the first person to open a page after a start waits for what only the first run would
otherwise do: importing Polars, DuckDB, Plotly and the app's modules (about 1.5 s on 2 cores), then
the caches every page reads (the positions, the alerts, the forecast). The server answers at once;
a first page asked for while the warm-up runs waits only for what is still missing (Python's import
lock, Streamlit's lock per cache key).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st

_LOG = logging.getLogger(__name__)
# Named like pages._shell.WARM_THREAD's threads, whose "no script run context" warning is dropped.
START_THREAD = "warm caches at start"

# What app.py and the pages import: imported here, their first run finds them loaded.
PAGE_MODULES = (
    "analytics.access",
    "analytics.demo",
    "pages._sidebar",
    "pages._sign_in",
    "pandas",  # Streamlit converts every table through it
    "pyarrow",
    "plotly.graph_objects",
    "plotly.io",
    "pages.widgets",
    "pages._panel",
    "pages._paging",
    "analytics.aging",
    "analytics.kpis",
    "analytics.coaching",
    "analytics.forecast",
    "analytics.worklist",
    "analytics.scenarios",
    "analytics.reminders",
    "analytics.export",
)


def _start() -> None:
    """Import the app's modules, then warm the data folder's caches as app.py's first run would."""
    for name in PAGE_MODULES:
        importlib.import_module(name)
    import plotly.graph_objects as go
    import polars as pl

    go.Figure().to_plotly_json()  # Plotly loads its validators on a first figure
    pl.DataFrame({"amount": [1.5]}).to_pandas()  # and Polars its pandas bridge on a first table
    # Imported here, not at the top: their caches are made once the runtime runs (in the lifespan).
    from pages import _session, _shell

    try:
        current = _session.store()
        if current.exists():
            _shell.warm(current)
    except Exception:  # noqa: BLE001 - app.py's first run shows what is wrong with the data folder
        _LOG.warning("the start could not warm the caches", exc_info=True)


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    threading.Thread(target=_start, name=START_THREAD, daemon=True).start()
    yield


app = st.App("app.py", lifespan=_lifespan)
