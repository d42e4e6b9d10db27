"""Promises to pay and their outcomes: each promise settled against the store's payments.

A promise to pay is KEPT when cash and credit-note payments on its document, from the day it was
recorded to promised_date + grace (default 3 days), reach the promised amount, or settle the document
in full; BROKEN when that day has passed without it; OPEN until then. Payments after the as-of date
are unknown at that date, so a past as-of date gives the same answer whatever today is. The promises
are the collections data's promise_to_pay events (analytics.collections); settlements are kept per
generation of the store (queries/collections_promise_settlements.sql).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from datetime import date, timedelta

import duckdb
import polars as pl

from analytics import contract
from analytics.collections import ITEM_EVENT_SCHEMA, ZERO, CollectionsDB
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store, query

PROMISE_GRACE_DAYS = 3
PROMISE_STATUSES = ("open", "kept", "broken")

# What settles a promise depends only on its document, the day it was recorded, the end of its window
# and the amount promised, and on the store's payments and documents: a generation's files never change
# once written, so settlements are kept per generation (the files a connection's views read) and only
# the promises not yet seen are settled against the payments (a save adds one or two; an import or a
# new as-of date moves windows, and those are settled then).
_SETTLEMENT_KEY = ("document_id", "recorded_on", "window_end", "promised_amount")
_SETTLEMENT_SCHEMA = {
    "document_id": pl.String(),
    "recorded_on": pl.Date(),
    "window_end": pl.Date(),
    "promised_amount": contract.MONEY,
    "settled_amount": contract.MONEY,
    "settled_on": pl.Date(),
}
# Generations kept, and settlements per generation before it starts again (many as-of dates).
SETTLEMENT_GENERATIONS = 4
SETTLEMENT_ROWS = 2_000_000
_settlements: OrderedDict[tuple[str, ...], pl.DataFrame] = OrderedDict()
_settlements_lock = threading.Lock()
_PARQUET_FILES = re.compile(r"parquet_scan\(list_value\(([^)]*)\)")


def forget_settlements() -> None:
    """Drop the settlements kept (the next settlement of each promise reads the payments again)."""
    with _settlements_lock:
        _settlements.clear()


def kept_settlements() -> int:
    """How many promise windows are kept settled, over every generation kept."""
    with _settlements_lock:
        return sum(frame.height for frame in _settlements.values())


def _generation_key(con: duckdb.DuckDBPyConnection) -> tuple[str, ...] | None:
    """The Parquet files the connection's payments and documents views read (Store.connect), or None
    when they read anything else (a table, a frame): then nothing is kept."""
    rows = con.execute(
        "select view_name, sql from duckdb_views() where not internal and view_name in ('payments', 'documents')"
    ).fetchall()
    files = []
    for name, sql in sorted(rows):
        found = _PARQUET_FILES.search(sql or "")
        if found is None:
            return None
        files.append(f"{name}:{found.group(1)}")
    return tuple(files) if len(files) == 2 else None


def _settle(con: duckdb.DuckDBPyConnection, windows: pl.DataFrame) -> pl.DataFrame:
    """Settle promise windows (_SETTLEMENT_KEY, distinct) against the payments: _SETTLEMENT_SCHEMA."""
    numbered = windows.with_row_index("event_id")
    settled = con.sql(
        query("collections_promise_settlements"),
        params={
            "event_ids": numbered.get_column("event_id").to_list(),
            "document_ids": numbered.get_column("document_id").to_list(),
            "recorded_on": numbered.get_column("recorded_on").to_list(),
            "window_ends": numbered.get_column("window_end").to_list(),
            "promised_amounts": numbered.get_column("promised_amount").to_list(),
        },
    ).pl()
    return (
        numbered.join(settled.cast({"event_id": pl.UInt32}), on="event_id", how="left")
        .drop("event_id")
        .cast(_SETTLEMENT_SCHEMA)
        .select(list(_SETTLEMENT_SCHEMA))
    )


def _settlements_of(con: duckdb.DuckDBPyConnection, windows: pl.DataFrame) -> pl.DataFrame:
    """The settlement of each distinct window, from those kept for the connection's generation, the
    others settled now and kept."""
    key = _generation_key(con)
    if key is None:
        return _settle(con, windows)
    with _settlements_lock:
        known = _settlements.get(key)
        if known is not None:
            _settlements.move_to_end(key)
    if known is None:
        known = pl.DataFrame(schema=_SETTLEMENT_SCHEMA)
    missing = windows.join(known, on=list(_SETTLEMENT_KEY), how="anti", nulls_equal=True)
    if missing.is_empty():
        return known
    fresh = _settle(con, missing)
    with _settlements_lock:
        # Another thread may have settled some of them meanwhile: the figures are the same, keep one.
        current = _settlements.get(key, pl.DataFrame(schema=_SETTLEMENT_SCHEMA))
        merged = pl.concat([current, fresh]).unique(list(_SETTLEMENT_KEY), keep="first", maintain_order=True)
        if merged.height > SETTLEMENT_ROWS:
            merged = fresh
        _settlements[key] = merged
        _settlements.move_to_end(key)
        while len(_settlements) > SETTLEMENT_GENERATIONS:
            _settlements.popitem(last=False)
    return pl.concat([known, fresh])


def settle_promises(
    con: duckdb.DuckDBPyConnection | None,
    promises: pl.DataFrame,
    as_of: date,
    grace_days: int = PROMISE_GRACE_DAYS,
) -> pl.DataFrame:
    """Each promise (event_id, document_id, event_date, promised_date, promised_amount) with its deadline
    (promised_date + grace), settled_amount (cash and credit notes on the document from event_date to
    the deadline, or to as_of before it), settled_on and promise_status (open / kept / broken at as_of).
    `con` is a store connection (payments and documents; None only when there are no promises).
    Settlements are kept per generation of the store: only promises not settled before against it are
    settled against the payments."""
    frame = promises.with_columns(
        (pl.col("promised_date") + timedelta(days=grace_days)).alias("deadline"),
    ).with_columns(pl.min_horizontal("deadline", pl.lit(as_of)).alias("window_end"))
    windows = frame.select(
        "document_id",
        pl.col("event_date").cast(pl.Date).alias("recorded_on"),
        pl.col("window_end").cast(pl.Date),
        pl.col("promised_amount").cast(contract.MONEY),
    )
    if windows.height:
        settled = windows.join(
            _settlements_of(con, windows.unique()),
            on=list(_SETTLEMENT_KEY),
            how="left",
            nulls_equal=True,
            maintain_order="left",
        ).select("settled_amount", "settled_on")
    else:
        settled = pl.DataFrame(schema={"settled_amount": contract.MONEY, "settled_on": pl.Date})
    return (
        pl.concat([frame, settled], how="horizontal")
        .with_columns(
            pl.col("settled_amount").fill_null(ZERO).cast(contract.MONEY),
            pl.when(pl.col("settled_on").is_not_null())
            .then(pl.lit("kept"))
            .when(pl.lit(as_of) > pl.col("deadline"))
            .then(pl.lit("broken"))
            .otherwise(pl.lit("open"))
            .alias("promise_status"),
        )
        .drop("window_end")
    )


def promise_outcomes(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
    since: date | None = None,
    deadlines: tuple[date, date] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """Every promise to pay recorded from `since` to `as_of` for the customers in scope, with its outcome
    at as_of: event_id, document_id, customer_id, customer_name, collector, event_date, promised_date,
    promised_amount, deadline, settled_amount, settled_on, promise_status, user_name. `deadlines`
    (first, end): only the promises whose deadline (promised date + grace) is on or after first and
    before end (those alone are settled against the payments)."""
    con = con or store.connect()
    if deadlines is None:
        promises = db.events(since=since, until=as_of).filter(pl.col("event_type") == "promise_to_pay")
    else:
        # Those promises alone are read (not every event of the history).
        grace = timedelta(days=grace_days)
        promises = db.read(
            "collections_promises",
            since=since,
            until=as_of,
            promised_from=deadlines[0] - grace,
            promised_before=deadlines[1] - grace,
        ).cast(ITEM_EVENT_SCHEMA)
    customers = customers_in_scope(con, scope).select("customer_id", "customer_name", "collector")
    promises = promises.join(customers, on="customer_id", how="inner")
    settled = settle_promises(
        con,
        promises.select("event_id", "document_id", "event_date", "promised_date", "promised_amount"),
        as_of,
        grace_days,
    )
    return (
        promises.select("event_id", "document_id", "customer_id", "customer_name", "collector", "user_name")
        .join(settled, on="event_id", how="inner")
        .select(
            "event_id",
            "document_id",
            "customer_id",
            "customer_name",
            "collector",
            "event_date",
            "promised_date",
            "promised_amount",
            "deadline",
            "settled_amount",
            "settled_on",
            "promise_status",
            "user_name",
        )
        .sort("event_date", "event_id")
    )
