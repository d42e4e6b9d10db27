"""The caches every session shares: aged items, trends, KPI series, forecasts, payer behaviour,
collections states and recovery steps, keyed on small values and the data versions, the process's
one collections database, and the payment predictions (worked out in a background thread)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

import polars as pl
import streamlit as st

from analytics import aging, contract, disputes, forecast, kpis, predictions, scenarios, worklist
from analytics.collections import CollectionsDB
from analytics.collections_db import CollectionsBusy, CollectionsUnreachable
from analytics.scope import Scope
from analytics.scope import customers_in_scope as _customers_in_scope
from analytics.store import DataFolderUnwritable, Store
from pages._session import Context

_LOG = logging.getLogger(__name__)


# A resource, not data: the sidebar reads it at every run, and a copy of a few thousand values out of
# the cache each time is what it would cost (callers must not modify the lists).
@st.cache_resource(ttl=600, max_entries=16, show_spinner=False)
def _dimension_values(root: str, version: str, rights: Scope) -> dict[str, list[str]]:
    """The values each customer dimension takes among the customers a user may see."""
    customers = _customers_in_scope(Store(root).connect(), rights)
    return {
        dimension: customers.get_column(dimension).drop_nulls().unique().sort().to_list()
        for dimension in contract.DIMENSIONS
    }


@st.cache_resource(ttl=900, max_entries=12, show_spinner=False)
def aged_items(root: str, version: str, as_of: date, scope: Scope, revalue: bool = False):
    """The aged open items of a date and scope (revalued at the latest exchange rates with `revalue`),
    shared by every session (Polars frames are not copied: callers must not modify them). Keyed on the
    data version, so an import is seen at once."""
    return aging.aged_items(Store(root), as_of, scope, revalue=revalue)


def items_for(ctx: Context, as_of: date | None = None, revalue: bool = False):
    return aged_items(str(ctx.store.root), ctx.store.version(), as_of or ctx.as_of, ctx.scope, revalue)


@st.cache_data(ttl=900, max_entries=32, show_spinner=False)
def _trend(root: str, version: str, month_ends: tuple[date, ...], boundaries: tuple[int, ...], scope: Scope):
    return aging.trend(Store(root), list(month_ends), boundaries, scope)


def cached_trend(ctx: Context, month_ends: tuple[date, ...], boundaries: tuple[int, ...]):
    return _trend(str(ctx.store.root), ctx.store.version(), month_ends, boundaries, ctx.scope)


@st.cache_data(ttl=900, max_entries=32, show_spinner=False)
def _series(root: str, version: str, start: date, end: date, by: str | None, scope: Scope):
    return kpis.month_end_series(Store(root), start, end, by=by, scope=scope, as_of=end)


def cached_series(ctx: Context, months: int, by: str | None = None):
    """The month-end KPI series of the `months` months up to the as-of date (its last full month end
    when the as-of date is not one)."""
    start = kpis.month_end(ctx.as_of, -(months - 1)).replace(day=1)
    return _series(str(ctx.store.root), ctx.store.version(), start, ctx.as_of, by, ctx.scope)


# A resource, as the aged items it starts from: its items (a row per open item) are shared, not pickled
# into the cache and out again at each hit (callers must not modify them).
@st.cache_resource(ttl=900, max_entries=16, show_spinner=False)
def _forecast(root: str, version: str, as_of: date, scope: Scope):
    return forecast.cash_forecast(Store(root), as_of, scope, items=aged_items(root, version, as_of, scope))


@st.cache_data(ttl=3600, max_entries=16, show_spinner="Back-testing the forecast on past month ends...")
def _forecast_accuracy(root: str, version: str, as_of: date, scope: Scope):
    return forecast.accuracy(forecast.backtest(Store(root), as_of, scope=scope))


def cached_forecast(ctx: Context):
    """The 13-week cash forecast at the as-of date."""
    return _forecast(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


def cached_forecast_accuracy(ctx: Context):
    """The forecast's back-tested error per week horizon (six past month ends rebuilt and compared)."""
    return _forecast_accuracy(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _payers(root: str, version: str, as_of: date, scope: Scope):
    return kpis.payer_behaviour(Store(root), as_of, scope)


def cached_payers(ctx: Context):
    """Each customer's payment behaviour and rating at the as-of date."""
    return _payers(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


@st.cache_resource(show_spinner=False)
def _collections_db(root: str):
    return CollectionsDB.for_store(Store(root))


def collections_db(ctx: Context):
    """The app's one collections database (shared by every session of this process). Stops the page
    when another process holds the file, or the PostgreSQL server cannot be reached (instance_notice
    says so at the top); not cached then, so the next run tries again."""
    try:
        return _collections_db(str(ctx.store.root))
    except CollectionsBusy:
        st.info("This part needs the collections database, which another instance holds (see above).")
        st.stop()
    except CollectionsUnreachable:
        st.info("This part needs the collections database, whose server cannot be reached (see above).")
        st.stop()
    except DataFolderUnwritable:
        st.info("This part needs the collections database, which this user may not open (see above).")
        st.stop()


def collections_available(ctx: Context) -> bool:
    """False when another process holds the collections database, or its server cannot be reached
    (the page then shows its figures without what needs it)."""
    try:
        _collections_db(str(ctx.store.root))
    except (CollectionsBusy, CollectionsUnreachable, DataFolderUnwritable):
        return False
    return True


# A resource, as the aged items it holds: one live worklist per data version, date and scope, shared by
# every session and brought up to date by each read (a save reads its few documents alone).
@st.cache_resource(ttl=900, max_entries=12, show_spinner=False)
def _live_worklist(root: str, version: str, as_of: date, scope: Scope):
    return worklist.LiveWorklist(Store(root), as_of, scope, aged_items(root, version, as_of, scope))


def live_worklist(ctx: Context):
    """The live worklist of the sidebar's date and scope (analytics.worklist.LiveWorklist)."""
    return _live_worklist(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


def item_states(ctx: Context):
    """Each open item's collections state at the as-of date (promise, dispute...), as the collections
    database has it now: a save's items are read again, not every item (callers must not modify it)."""
    return live_worklist(ctx).refresh(collections_db(ctx)).states


def dimension_values_of(ctx: Context, dimension: str) -> list[str]:
    """The values a customer dimension takes among the customers the user may see."""
    return _dimension_values(str(ctx.store.root), ctx.store.version(), ctx.user.rights()).get(dimension, [])


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _customers(root: str, version: str, scope: Scope) -> pl.DataFrame:
    return _customers_in_scope(Store(root).connect(), scope).sort("customer_name", "customer_id")


def customers_in_scope(ctx: Context) -> pl.DataFrame:
    """The customers the sidebar's scope covers, by name."""
    return _customers(str(ctx.store.root), ctx.store.version(), ctx.scope)


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _dispute_summary(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    # The aged items and their states are cached for every page: the summary does not redo them.
    items = aged_items(root, version, as_of, scope)
    states = _live_worklist(root, version, as_of, scope).refresh(_collections_db(root)).states
    return disputes.dispute_summary(
        _collections_db(root), Store(root), as_of, scope, items=items, states=states
    )


def cached_dispute_summary(ctx: Context):
    db = collections_db(ctx)
    return _dispute_summary(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


def collections_db_of(current: Store):
    """The app's collections database of a data folder (before the sidebar's context exists)."""
    return _collections_db(str(current.root))


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _scenario_day(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    # The proposals are among the positions, and the alerts those of the banner: both cached under the
    # same keys (the positions from the live worklist's item states, so a save reads its items alone).
    return (
        scenarios.proposals_from(_positions(root, version, collections_version, as_of, scope)),
        _scenario_alerts(root, version, collections_version, as_of, scope),
    )


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _positions(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    items = aged_items(root, version, as_of, scope)
    # The item states are kept up to date for every page that shows them (the live worklist's).
    states = _live_worklist(root, version, as_of, scope).refresh(_collections_db(root)).states
    return scenarios.positions(_collections_db(root), Store(root), as_of, scope, items=items, states=states)


def scenario_positions(ctx: Context) -> pl.DataFrame:
    """Where each customer in scope stands in its recovery scenario at the as-of date, refreshed on
    each write to the collections database (events, actions, scenarios, rules, settings)."""
    db = collections_db(ctx)
    return _positions(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


def scenario_day(ctx: Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The recovery steps due at the as-of date and the alerts since the previous run, refreshed on
    each save."""
    db = collections_db(ctx)
    return _scenario_day(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _scenario_alerts(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    items = aged_items(root, version, as_of, scope)
    return scenarios.alerts(_collections_db(root), Store(root), as_of, scope, items=items)


def scenario_alerts(ctx: Context) -> pl.DataFrame:
    """The alerts since the previous run alone, refreshed on each save: for a page that shows them
    without the steps due (working out every customer's step is the costly part of scenario_day)."""
    db = collections_db(ctx)
    return _scenario_alerts(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


@st.cache_resource(ttl=900, max_entries=16, show_spinner=False)
def _settlements(root: str, version: str, after: date, until: date) -> pl.DataFrame:
    return aging.settlements_between(Store(root), after, until)


def settlements_between(ctx: Context, after: date, until: date) -> pl.DataFrame:
    """aging.settlements_between (a DuckDB scan of every payment, behind the roll rates), keyed on the
    data version (an import is seen at once). The frame is shared: callers must not modify it."""
    return _settlements(str(ctx.store.root), ctx.store.version(), after, until)


# --- after a save --------------------------------------------------------------------------------------

# The name of the threads that fill shared caches outside any session (pages._shell drops Streamlit's
# "missing ScriptRunContext" warning for them: they draw nothing).
WARM_THREAD = "warm caches"


# Seconds the warm-up after a save waits before it starts (longer than a save's rerun at 1M documents).
AFTER_SAVE_DELAY_S = 1.5


class _AfterSave:
    """After a save, the caches keyed on the collections version that the saving person's next pages
    read (the alerts of the overview's banner, the recovery positions behind the worklist's steps due
    and the recovery page) are computed again in one background thread, while the person reads what the save changed. Saves that come
    while it works are warmed once it is done, for the latest version only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Context | None = None
        self._running = False

    def warm(self, ctx: Context) -> None:
        with self._lock:
            self._pending = ctx
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._drain, name=f"{WARM_THREAD} after a save", daemon=False).start()

    def _drain(self) -> None:
        # The save's own rerun (the panel closed, the tables redrawn) goes first: one Python process
        # runs one thread at a time, and the person is waiting for that rerun, not for this.
        time.sleep(AFTER_SAVE_DELAY_S)
        while True:
            with self._lock:
                ctx, self._pending = self._pending, None
                if ctx is None:
                    self._running = False
                    return
            started = time.perf_counter()
            try:
                scenario_alerts(ctx)
                scenario_positions(ctx)
                _LOG.info("warmed the caches after a save in %.0f ms", (time.perf_counter() - started) * 1000)
            except Exception:  # noqa: BLE001 - a failed warm-up costs only time: the page computes it again
                _LOG.warning("warming the caches after a save failed", exc_info=True)


_AFTER_SAVE = _AfterSave()


def warm_after_save(ctx: Context) -> None:
    """Recompute in the background what a save made stale for the pages `ctx` (its date and scope) opens
    next; returns at once."""
    _AFTER_SAVE.warm(ctx)


# --- payment predictions ------------------------------------------------------------------------------

# The month ends the customer page's "How good is this" back-tests (the command line's has 12): each is
# a training of its own, a few seconds at 1M documents.
PREDICTION_BACKTEST_MONTHS = 3
# One prediction job at a time in this process: on a shared machine, two trainings at once would only
# slow each other and the pages.
_PREDICTION_SLOT = threading.Semaphore(1)


class PredictionJob:
    """The invoice predictions of the whole company at an as-of date and their back-test beside the
    baseline, worked out in a background thread: a page reads what is ready and never waits."""

    def __init__(self, root: str, as_of: date) -> None:
        self.root = root
        self.as_of = as_of
        self.predictions: pl.DataFrame | None = None
        self.scored: pl.DataFrame | None = None
        self.dates = predictions.backtest_dates(as_of, PREDICTION_BACKTEST_MONTHS)
        self.failed: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"predictions {as_of}", daemon=False)
        self._thread.start()

    def _run(self) -> None:
        try:
            with _PREDICTION_SLOT:
                store = Store(self.root)
                self.predictions = predictions.predict(store, self.as_of)
                self.scored = predictions.backtest_scored(store, self.dates, until=self.as_of)
        except Exception as error:  # noqa: BLE001 - the page says it failed; the rest of it works
            _LOG.warning("the payment predictions of %s at %s failed", self.root, self.as_of, exc_info=True)
            self.failed = str(error) or type(error).__name__
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job has ended (for a script or a test: a page does not wait)."""
        return self._done.wait(timeout)

    def backtest(self, customers: pl.DataFrame | None = None) -> pl.DataFrame | None:
        """The back-test's figures (analytics.predictions.BACKTEST_COLUMNS) over `customers`
        (customer_id; None: every customer), or None while it is worked out."""
        if self.scored is None:
            return None
        scored = self.scored
        if customers is not None:
            scored = scored.join(customers.select("customer_id"), on="customer_id", how="semi")
        return predictions.backtest_figures(scored, self.dates)


@st.cache_resource(ttl=3600, max_entries=4, show_spinner=False)
def _prediction_job(root: str, version: str, as_of: date) -> PredictionJob:
    return PredictionJob(root, as_of)


def prediction_job(ctx: Context) -> PredictionJob:
    """The payment predictions at the sidebar's as-of date, started once per data version and date for
    the whole server (the first call starts them; none waits for them)."""
    return _prediction_job(str(ctx.store.root), ctx.store.version(), ctx.as_of)
