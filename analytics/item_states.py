"""Each open item's collections state at an as-of date: the state its latest qualification event on
or before that date set (STATE_AFTER), with the details of its promise (and the promise's outcome,
analytics.promises) or of its dispute, and the latest action naming it (analytics.collections holds
the events and actions).
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from analytics import contract
from analytics.aging import aged_items
from analytics.collections import CollectionsDB
from analytics.promises import PROMISE_GRACE_DAYS, settle_promises
from analytics.scope import EVERYTHING, Scope
from analytics.store import Store

STATES = ("none", "promise_to_pay", "disputed", "litigation", "bad_debt_proposed")
# The state an item is in after each qualification event: a resolution or a clearing ends it.
STATE_AFTER = {
    "promise_to_pay": "promise_to_pay",
    "disputed": "disputed",
    "dispute_resolved": "none",
    "litigation": "litigation",
    "bad_debt_proposed": "bad_debt_proposed",
    "cleared": "none",
}
# Up to this many items, item_states reads the events and actions of those documents alone.
NARROW_READ_ITEMS = 2_000

ITEM_STATE_COLUMNS = (
    "document_id",
    "customer_id",
    "state",
    "state_since",
    "promise_status",
    "promised_date",
    "promised_amount",
    "dispute_reason",
    "internal_owner",
    "disputed_amount",
    "expected_resolution",
    "dispute_age_days",
    "last_action_date",
    "next_action_date",
)


def item_states(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
    items: pl.DataFrame | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """One row per item open at `as_of` for the customers in scope (or per row of `items`, a frame of
    aging.aged_items) with its collections state (ITEM_STATE_COLUMNS): state (none, promise_to_pay,
    disputed, litigation, bad_debt_proposed) from its latest event on or before as_of, and since when;
    for a promise its status (open / kept / broken), date and amount; for a dispute its reason, owner,
    amount, expected resolution and age in days; the date of the latest action naming the item and
    the next action date that action set."""
    if items is None:
        con = con or store.connect()
        items = aged_items(store, as_of, scope, con)
    # A few items (those a save changed) are read alone; many, by reading everything once.
    narrowed = items.get_column("document_id").to_list() if items.height <= NARROW_READ_ITEMS else []
    current = db.current_qualifications(as_of, narrowed).join(
        items.select("document_id"), on="document_id", how="semi"
    )
    current = current.with_columns(pl.col("last_event_type").replace_strict(STATE_AFTER).alias("state"))
    promises = current.filter(pl.col("state") == "promise_to_pay").select(
        pl.col("promise_event_id").alias("event_id"),
        "document_id",
        pl.col("promise_recorded_on").alias("event_date"),
        "promised_date",
        "promised_amount",
    )
    if con is None and promises.height:  # a store connection only to settle promises (a save often has none)
        con = store.connect()
    status = settle_promises(con, promises, as_of, grace_days).select("document_id", "promise_status")
    actions = db.item_actions(as_of, narrowed)
    promise = pl.col("state") == "promise_to_pay"
    dispute = pl.col("state") == "disputed"
    return (
        items.select("document_id", "customer_id")
        .join(current.drop("customer_id"), on="document_id", how="left")
        .join(status, on="document_id", how="left")
        .join(actions, on="document_id", how="left")
        .with_columns(
            pl.col("state").fill_null("none"),
            *[pl.when(promise).then(pl.col(c)).alias(c) for c in ("promised_date", "promised_amount")],
            *[
                pl.when(dispute).then(pl.col(c)).alias(c)
                for c in ("dispute_reason", "internal_owner", "disputed_amount", "expected_resolution")
            ],
            pl.when(dispute)
            .then((pl.lit(as_of) - pl.col("dispute_opened_on")).dt.total_days())
            .cast(pl.Int32)
            .alias("dispute_age_days"),
        )
        .with_columns(
            pl.when(pl.col("state") == "none")
            .then(None)
            .otherwise(pl.col("state_since"))
            .alias("state_since")
        )
        .select(
            *ITEM_STATE_COLUMNS[:2],
            pl.col("state"),
            pl.col("state_since").cast(pl.Date),
            pl.col("promise_status").cast(pl.String),
            pl.col("promised_date").cast(pl.Date),
            pl.col("promised_amount").cast(contract.MONEY),
            pl.col("dispute_reason").cast(pl.String),
            pl.col("internal_owner").cast(pl.String),
            pl.col("disputed_amount").cast(contract.MONEY),
            pl.col("expected_resolution").cast(pl.Date),
            "dispute_age_days",
            pl.col("last_action_date").cast(pl.Date),
            pl.col("next_action_date").cast(pl.Date),
        )
        .sort("document_id")
    )
