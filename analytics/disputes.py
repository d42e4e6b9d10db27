"""Disputes and promises at an as-of date: the figures of the disputes and promises page
(pages/disputes.py), from the items' collections states (analytics.collections) and the promises'
outcomes. Open disputes by reason, owner and age band; disputes resolved and their outcomes; promises
due this week and broken; the share of the overdue amount carrying a qualification; a monthly trend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from analytics import contract
from analytics.aging import aged_items
from analytics.collections import RESOLUTION_OUTCOMES, ZERO, CollectionsDB
from analytics.item_states import item_states
from analytics.promises import PROMISE_GRACE_DAYS, settle_promises
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store

DISPUTE_AGE_BANDS = ((30, "0-30"), (60, "31-60"), (90, "61-90"))
DISPUTE_AGE_OVER = "+90"


@dataclass(frozen=True)
class DisputeSummary:
    """The disputes and promises page's figures at an as-of date, for the customers in scope.

    figures: open_disputes, disputed_amount, promises_kept, promises_broken, kept_rate (% of the
    promises decided in the 90 days to as_of), overdue_amount, qualified_overdue_amount,
    qualification_rate (% of the overdue amount carrying a qualification).
    open_disputes: one row per open dispute; by_reason / by_owner / by_age: open disputes grouped;
    resolution_by_reason: disputes resolved in the 12 months to as_of, their average days to resolve and
    outcomes; promises_due_this_week: promises falling due in the week (Monday to Sunday) of as_of;
    broken_promises: items whose current promise is broken; qualification_by_collector; monthly: one row
    per month of the 12 to as_of (disputes opened and resolved, promises made, kept and broken by the
    month of their deadline, kept rate, actions logged)."""

    figures: dict[str, Decimal | int | float | None]
    open_disputes: pl.DataFrame
    by_reason: pl.DataFrame
    by_owner: pl.DataFrame
    by_age: pl.DataFrame
    resolution_by_reason: pl.DataFrame
    promises_due_this_week: pl.DataFrame
    broken_promises: pl.DataFrame
    qualification_by_collector: pl.DataFrame
    monthly: pl.DataFrame = field(default_factory=pl.DataFrame)


def age_band(days: pl.Expr) -> pl.Expr:
    """'0-30', '31-60', '61-90', '+90' from an age in days."""
    expression = pl.when(days <= DISPUTE_AGE_BANDS[0][0]).then(pl.lit(DISPUTE_AGE_BANDS[0][1]))
    for high, label in DISPUTE_AGE_BANDS[1:]:
        expression = expression.when(days <= high).then(pl.lit(label))
    return expression.otherwise(pl.lit(DISPUTE_AGE_OVER))


def months_back(as_of: date, months: int) -> date:
    """The first day of the month `months - 1` months before as_of's."""
    index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _money_sum(column: str) -> pl.Expr:
    return pl.col(column).sum().cast(contract.MONEY)


def _rate(part: Decimal | int, whole: Decimal | int) -> float | None:
    return round(float(part) / float(whole) * 100, 1) if whole else None


def dispute_summary(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
    months: int = 12,
    items: pl.DataFrame | None = None,
    states: pl.DataFrame | None = None,
) -> DisputeSummary:
    """Disputes, promises and the qualification rate at `as_of` (see DisputeSummary). `items`
    (aging.aged_items) and `states` (item_states of those items) at as_of for the scope can be passed
    when the caller has them."""
    con = store.connect()
    if items is None:
        items = aged_items(store, as_of, scope, con)
    if states is None:
        states = item_states(db, store, as_of, scope, grace_days=grace_days, items=items, con=con)
    customers = customers_in_scope(con, scope)
    stated = items.select(
        "document_id",
        "customer_name",
        "collector",
        "days_past_due",
        pl.col("open_amount_functional").alias("open_amount"),
    ).join(states, on="document_id", how="inner")

    open_disputes = (
        stated.filter(pl.col("state") == "disputed")
        .with_columns(
            (pl.lit(as_of) - pl.col("dispute_age_days").cast(pl.Int64) * timedelta(days=1)).alias(
                "opened_on"
            ),
            age_band(pl.col("dispute_age_days")).alias("age_band"),
            (pl.col("expected_resolution") < pl.lit(as_of))
            .fill_null(False)
            .alias("past_expected_resolution"),
        )
        .select(
            "document_id",
            "customer_id",
            "customer_name",
            "collector",
            "dispute_reason",
            "internal_owner",
            "disputed_amount",
            "open_amount",
            "opened_on",
            pl.col("dispute_age_days").alias("age_days"),
            "age_band",
            "expected_resolution",
            "past_expected_resolution",
        )
        .sort("age_days", "document_id", descending=[True, False])
    )

    def grouped(key: str) -> pl.DataFrame:
        return (
            open_disputes.group_by(key)
            .agg(
                pl.len().alias("disputes"),
                _money_sum("disputed_amount").alias("disputed_amount"),
                pl.col("age_days").mean().round(1).alias("average_age_days"),
                pl.col("age_days").max().alias("oldest_age_days"),
                pl.col("past_expected_resolution").sum().alias("past_expected_resolution"),
            )
            .sort("disputed_amount", key, descending=[True, False], nulls_last=True)
        )

    bands = [label for _, label in DISPUTE_AGE_BANDS] + [DISPUTE_AGE_OVER]
    by_age = (
        pl.DataFrame({"age_band": bands, "position": list(range(len(bands)))})
        .join(
            open_disputes.group_by("age_band").agg(
                pl.len().alias("disputes"), _money_sum("disputed_amount").alias("disputed_amount")
            ),
            on="age_band",
            how="left",
        )
        .sort("position")
        .select(
            "age_band",
            pl.col("disputes").fill_null(0).cast(pl.UInt32),
            pl.col("disputed_amount").fill_null(ZERO).cast(contract.MONEY),
        )
    )

    start = months_back(as_of, months)
    events = db.events(until=as_of).join(
        customers.select("customer_id", "collector"), on="customer_id", how="inner"
    )
    resolutions = dispute_resolutions(events).filter(pl.col("resolved_on") >= start)
    resolution_by_reason = (
        resolutions.group_by("dispute_reason")
        .agg(
            pl.len().alias("resolved"),
            pl.col("days_to_resolve").mean().round(1).alias("average_days_to_resolve"),
            *[(pl.col("outcome") == o).sum().alias(o) for o in RESOLUTION_OUTCOMES],
        )
        .sort("resolved", "dispute_reason", descending=[True, False])
    )

    promise_columns = [
        "document_id",
        "customer_id",
        "customer_name",
        "collector",
        "promised_date",
        "promised_amount",
        "promise_status",
        "open_amount",
    ]
    current_promises = stated.filter(pl.col("state") == "promise_to_pay")
    monday = as_of - timedelta(days=as_of.weekday())
    due_this_week = (
        current_promises.filter(pl.col("promised_date").is_between(monday, monday + timedelta(days=6)))
        .select(promise_columns)
        .sort("promised_date", "document_id")
    )
    broken = (
        current_promises.filter(pl.col("promise_status") == "broken")
        .with_columns(
            (pl.lit(as_of) - pl.col("promised_date")).dt.total_days().alias("days_since_promised_date")
        )
        .select(*promise_columns, "days_since_promised_date")
        .sort("days_since_promised_date", "document_id", descending=[True, False])
    )

    # The promises of the 120 days before the first month on: those made count by the month they were
    # made; kept and broken by the month of their deadline and in the kept rate when it falls in the
    # last 90 days, so that only the promises falling due from then on need settling against the
    # payments (the costly part).
    promises = events.filter(
        pl.col("event_type") == "promise_to_pay", pl.col("event_date") >= start - timedelta(days=120)
    )
    first_deadline = min(start, as_of - timedelta(days=89))
    due = promises.filter((pl.col("promised_date") + timedelta(days=grace_days)) >= first_deadline)
    settled = settle_promises(
        con,
        due.select("event_id", "document_id", "event_date", "promised_date", "promised_amount"),
        as_of,
        grace_days,
    )
    outcomes = promises.select("event_id", "event_date").join(
        settled.select("event_id", "deadline", "promise_status"), on="event_id", how="left"
    )
    recent = outcomes.filter(
        pl.col("promise_status") != "open",
        (pl.col("deadline") > as_of - timedelta(days=90)),
    )
    kept = recent.filter(pl.col("promise_status") == "kept").height
    broken_count = recent.height - kept

    overdue = stated.filter(pl.col("days_past_due") > 0, pl.col("open_amount") > 0)
    qualified = pl.col("state") != "none"
    by_collector = (
        overdue.group_by("collector")
        .agg(
            _money_sum("open_amount").alias("overdue_amount"),
            pl.col("open_amount").filter(qualified).sum().cast(contract.MONEY).alias("qualified_amount"),
        )
        .with_columns(
            pl.when(pl.col("overdue_amount") > 0)
            .then(
                (
                    pl.col("qualified_amount").cast(pl.Float64)
                    / pl.col("overdue_amount").cast(pl.Float64)
                    * 100
                ).round(1)
            )
            .alias("qualification_rate")
        )
        .sort("overdue_amount", "collector", descending=[True, False], nulls_last=True)
    )
    overdue_amount = _decimal(overdue.get_column("open_amount").sum())
    qualified_amount = _decimal(overdue.filter(qualified).get_column("open_amount").sum())
    disputed_amount = _decimal(open_disputes.get_column("disputed_amount").sum())

    # The monthly counts need the date of each action alone.
    actions = (
        db.read("collections_action_dates", since=start, until=as_of)
        .cast({"customer_id": pl.String, "action_date": pl.Date})
        .join(customers.select("customer_id"), on="customer_id", how="semi")
    )
    monthly = _monthly(events, resolutions, outcomes, actions, start, as_of)
    return DisputeSummary(
        figures={
            "open_disputes": open_disputes.height,
            "disputed_amount": disputed_amount,
            "promises_kept": kept,
            "promises_broken": broken_count,
            "kept_rate": _rate(kept, recent.height),
            "overdue_amount": overdue_amount,
            "qualified_overdue_amount": qualified_amount,
            "qualification_rate": _rate(qualified_amount, overdue_amount),
        },
        open_disputes=open_disputes,
        by_reason=grouped("dispute_reason"),
        by_owner=grouped("internal_owner"),
        by_age=by_age,
        resolution_by_reason=resolution_by_reason,
        promises_due_this_week=due_this_week,
        broken_promises=broken,
        qualification_by_collector=by_collector,
        monthly=monthly,
    )


def _decimal(value: object) -> Decimal:
    return Decimal(value).quantize(ZERO) if value is not None else ZERO


def dispute_resolutions(events: pl.DataFrame) -> pl.DataFrame:
    """One row per resolution: the dispute it closed (the document's event just before it), its reason,
    opening date, outcome and days to resolve."""
    # Only the documents with a resolution can have one: their events alone are ordered (a few
    # hundred of a history's hundred thousands).
    resolved = events.filter(pl.col("event_type") == "dispute_resolved").get_column("document_id").unique()
    ordered = (
        events.filter(pl.col("document_id").is_in(resolved.implode())).sort(
            "document_id", "event_date", "event_id"
        )
    ).with_columns(
        pl.col("event_date").shift(1).over("document_id").alias("opened_on"),
        pl.col("dispute_reason").shift(1).over("document_id").alias("reason_before"),
        pl.col("event_type").shift(1).over("document_id").alias("type_before"),
    )
    return ordered.filter(
        pl.col("event_type") == "dispute_resolved", pl.col("type_before") == "disputed"
    ).select(
        "document_id",
        "customer_id",
        "collector",
        pl.col("reason_before").alias("dispute_reason"),
        "opened_on",
        pl.col("event_date").alias("resolved_on"),
        "outcome",
        "user_name",
        (pl.col("event_date") - pl.col("opened_on")).dt.total_days().alias("days_to_resolve"),
    )


def _monthly(
    events: pl.DataFrame,
    resolutions: pl.DataFrame,
    outcomes: pl.DataFrame,
    actions: pl.DataFrame,
    start: date,
    as_of: date,
) -> pl.DataFrame:
    months = pl.date_range(start, as_of, interval="1mo", eager=True).dt.month_end().alias("month")
    frame = pl.DataFrame({"month": months})

    def count(source: pl.DataFrame, day: str, name: str, *conditions: pl.Expr) -> pl.DataFrame:
        selected = source.filter(*conditions) if conditions else source
        return selected.group_by(pl.col(day).dt.month_end().alias("month")).agg(pl.len().alias(name))

    parts = [
        count(events, "event_date", "disputes_opened", pl.col("event_type") == "disputed"),
        count(resolutions, "resolved_on", "disputes_resolved"),
        resolutions.group_by(pl.col("resolved_on").dt.month_end().alias("month")).agg(
            pl.col("days_to_resolve").mean().round(1).alias("average_days_to_resolve")
        ),
        count(outcomes, "event_date", "promises_made"),
        count(outcomes, "deadline", "promises_kept", pl.col("promise_status") == "kept"),
        count(outcomes, "deadline", "promises_broken", pl.col("promise_status") == "broken"),
        count(actions, "action_date", "actions"),
    ]
    for part in parts:
        frame = frame.join(part, on="month", how="left")
    counts = [
        "disputes_opened",
        "disputes_resolved",
        "promises_made",
        "promises_kept",
        "promises_broken",
        "actions",
    ]
    decided = pl.col("promises_kept") + pl.col("promises_broken")
    return (
        frame.with_columns(pl.col(counts).fill_null(0).cast(pl.UInt32))
        .with_columns(
            pl.when(decided > 0)
            .then((pl.col("promises_kept").cast(pl.Float64) / decided * 100).round(1))
            .alias("kept_rate")
        )
        .sort("month")
    )
