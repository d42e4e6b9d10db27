"""The app shell's shared work, done once per data version for the whole server rather than at every
run of every session: the caches warmed in the background at the first run after a start (or after an
import), and the overview's alert banner.

Every cache filled here is one the pages read through `widgets` (keyed the same way), so a page
opened later finds it filled; a part asked for by a page while this thread computes it is computed
once (Streamlit's caches hold a lock per key) and waited for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date

import streamlit as st
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager

from analytics import access
from analytics.forecast import BACKTEST_AUTOMATIC_ITEMS
from analytics.scope import Scope
from analytics.store import Store
from pages import _cache, _session, widgets

_LOG = logging.getLogger(__name__)
# The months of the overview's DSO trend (its figures are warmed for the first page).
OVERVIEW_TREND_MONTHS = 13


class _NotForTheWarmThread(logging.Filter):
    """Drops Streamlit's "missing ScriptRunContext" warning for the warm-up thread: it belongs to no
    session on purpose (what it computes goes to the shared caches only, it draws nothing)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.threadName.startswith(_cache.WARM_THREAD)


logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_NotForTheWarmThread())


def warm(current: Store) -> None:
    """Start filling, in background threads, the shared caches that every session's first page
    reads (at the default as-of date, for the whole company), once per data version for the whole
    server: concurrent first sessions start it once, and this run goes on at once."""
    if not current.exists():
        return
    _warming(str(current.root), current.version())


@st.cache_resource(max_entries=4, show_spinner=False)
def _warming(root: str, version: str) -> tuple[threading.Thread, ...]:
    # A resource, as Streamlit computes one per key under a lock: one warm-up per data version. Not
    # daemon threads (they would inherit the script thread's flag): a process ending while DuckDB
    # computes in one would abort; it waits for the warm-up instead.
    _LOG.info("warming the caches of %s (%s)", root, version)
    threads = tuple(
        threading.Thread(target=_warm, args=(root, part), name=f"{_cache.WARM_THREAD} {version} {n}", daemon=False)
        for n, part in enumerate((_collections_part, _figures_part), start=1)
    )
    for thread in threads:
        thread.start()
    return threads


def company_context(current: Store) -> _session.Context:
    """What the sidebar gives an unrestricted user who chose nothing: the default as-of date and the
    whole company."""
    manifest = current.manifest()
    return _session.Context(current, manifest, _session.default_as_of(manifest), Scope(), access.DEMO_USER)


def _collections_part(ctx: _session.Context) -> None:
    """The collections database, then the alerts (the first page's longest part: started at once, it
    is under way before the page asks for it)."""
    if _cache.collections_available(ctx):  # opens the collections database's writer
        _cache.items_for(ctx)
        alert_banner(ctx)
    _cache.dimension_values_of(ctx, "collector")


def _figures_part(ctx: _session.Context) -> None:
    """The figures the overview asks for after the alerts (its back-test and forecast) computed beside
    them, then what the other pages share (the customers in scope, the DSO trend), and the payment
    predictions started in a thread of their own (the customer page shows them when ready)."""
    if _cache.items_for(ctx).height <= BACKTEST_AUTOMATIC_ITEMS:
        _cache.cached_forecast_accuracy(ctx)
    _cache.cached_forecast(ctx)
    _cache.customers_in_scope(ctx)
    _cache.cached_series(ctx, months=OVERVIEW_TREND_MONTHS)
    _cache.prediction_job(ctx)


def _warm(root: str, part: Callable[[_session.Context], None]) -> None:
    """Fill one part of the caches. A part a page asks for while a thread computes it is computed
    once and waited for (Streamlit's caches hold a lock per key)."""
    started = time.perf_counter()
    try:
        ctx = company_context(Store(root))
        if ctx.manifest is None:
            return
        part(ctx)
        _LOG.info("warmed %s of %s in %.0f ms", part.__name__, root, (time.perf_counter() - started) * 1000)
    except Exception:  # noqa: BLE001 - a failed warm-up costs only time: the page computes it again
        _LOG.warning("warming the caches of %s failed", root, exc_info=True)


def alert_banner(ctx: _session.Context) -> str | None:
    """'3 fell due unpaid · 1 promise broken ...', the alerts since the previous run, or None when
    there is none: worked out once per data and collections version, date and scope."""
    db = _cache.collections_db(ctx)
    return _alert_banner(
        str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope, ctx
    )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def _alert_banner(
    root: str, version: str, collections_version: str, as_of: date, scope: Scope, _ctx: _session.Context
) -> str | None:
    alerts = _cache.scenario_alerts(_ctx)
    return None if alerts.is_empty() else widgets.alerts_summary(alerts)


def navigation_in_sidebar() -> None:
    """Let app.py's st.navigation menu show in the sidebar, and never the files of pages/.

    Until a first st.navigation call, Streamlit takes the pages/ folder for the old kind of multipage
    app and lists its files (widgets, _runs...) in the sidebar: .streamlit/config.toml's
    client.showSidebarNavigation = false hides that list, but it also hides st.navigation's menu. So
    the app ends the old mode (as st.navigation would) and only then turns the option back on for
    this server: a session starting in between can no longer list the files."""
    PagesManager.uses_pages_directory = False
    if config.get_option("client.showSidebarNavigation") is False:
        st.set_option("client.showSidebarNavigation", True)
