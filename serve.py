"""The server: `streamlit run serve.py` serves app.py, and as it starts, before anyone asks for a page,
loads the app's modules and warms the shared caches of the data folder in the background. It also
serves POST /_ar/daily, through which `python -m analytics daily` hands the app the daily run while
the app holds the collections database (analytics.app_link: DIR/.app.json, a token, loopback only).

Without it the first person to open a page after a start waits for what only the first run would
otherwise do: importing Polars, DuckDB, Plotly and the app's modules (about 1.5 s on 2 cores), then
the caches every page reads (the positions, the alerts, the forecast). The server answers at once;
a first page asked for while the warm-up runs waits only for what is still missing (Python's import
lock, Streamlit's lock per cache key).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from analytics import app_link

_LOG = logging.getLogger(__name__)
# Named like pages._cache.WARM_THREAD's threads, whose "no script run context" warning is dropped.
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


# The token of DIR/.app.json and the address the server listens on, set as it starts.
_LINK: dict[str, str] = {}
# One daily run at a time in this process: a second request waits, then finds everything sent.
_DAILY_RUN = threading.Lock()


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _daily_run(as_of: date, user: str, password: str | None) -> Response:
    """The daily run with the process's own collections database (the one every session shares)."""
    from analytics import daily, settings
    from analytics.collections_db import CollectionsBusy, CollectionsUnreachable
    from analytics.store import DataFolderUnwritable
    from pages import _cache, _session

    current = _session.store()
    try:
        db = _cache.collections_db_of(current)
    except (CollectionsBusy, CollectionsUnreachable, DataFolderUnwritable) as error:
        return _refused(503, f"the app cannot open the collections database either: {error}")
    environ = dict(os.environ)
    if password:
        environ[settings.PASSWORD_VARIABLE] = password
    with _DAILY_RUN:
        result = daily.run(current, as_of, user=user, environ=environ, db=db)
    return Response(json.dumps(result.to_json()), media_type="application/json")


async def _daily(request: Request) -> Response:
    """POST /_ar/daily {"data", "as_of", "user"[, "smtp_password"]}: the run's summary as JSON."""
    token = _LINK.get("token")
    if token is None:
        return _refused(503, "the app has not announced itself in the data folder")
    headers = {name.lower(): value for name, value in request.headers.items()}
    client = request.client.host if request.client else None
    refusal = app_link.refusal(client, headers, token, _LINK.get("address"))
    if refusal is not None:
        _LOG.warning("daily run refused: %s", refusal)
        return _refused(403, refusal)
    try:
        body = await request.json()
        as_of = date.fromisoformat(body["as_of"])
        user = str(body["user"]).strip()
        data = Path(body["data"]).resolve()
        password = body.get("smtp_password")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        return _refused(400, f"a daily run is asked as {{data, as_of: YYYY-MM-DD, user}}: {error}")
    from pages import _session

    if not user:
        return _refused(400, "user: empty")
    if data != _session.store().root.resolve():
        return _refused(409, f"this app serves {_session.store().root.resolve()}, not {data}")
    return await run_in_threadpool(_daily_run, as_of, user, password if isinstance(password, str) else None)


def _announce() -> Path | None:
    """Write DIR/.app.json for the commands of the data folder; None when it cannot be written."""
    from streamlit import config

    from pages import _session

    root = _session.data_dir()
    address = str(config.get_option("server.address") or "")
    try:
        root.mkdir(parents=True, exist_ok=True)
        _LINK["token"] = app_link.announce(
            root, app_link.loopback_url(address, config.get_option("server.port"))
        )
    except OSError:
        # A folder this user may not write: the pages say so; the daily run is then the command's own.
        _LOG.warning("the app could not write %s", root / app_link.APP_FILE, exc_info=True)
        return None
    _LINK["address"] = address.strip("[]")
    return root


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    threading.Thread(target=_start, name=START_THREAD, daemon=True).start()
    announced = _announce()
    try:
        yield
    finally:
        if announced is not None:
            app_link.withdraw(announced, _LINK["token"])


app = st.App("app.py", lifespan=_lifespan, routes=[Route(app_link.ROUTE, _daily, methods=["POST"])])
