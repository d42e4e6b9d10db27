"""The collector's day: what to do at an as-of date, for one collector or everyone in scope.

Every overdue or followed-up item falls in the first of these sections that applies:

1. `broken_promise`: its current promise to pay is broken (promised date + grace passed unpaid).
2. `promise_due`: its current promise falls due today, or fell due and is still within its grace days.
3. `next_action`: the customer's latest action set a next action date that is today or past, and names
   the item (an action naming no item covers the customer's overdue items).
4. `new_overdue`: it became overdue in the last 7 days (1 to 7 days past due), not qualified.
5. `dispute_waiting`: in dispute past its expected resolution: chase the internal owner.
6. `overdue`: the rest of the overdue items that nothing is waiting on (not in dispute, litigation or
   proposed as bad debt, no open promise), ranked by priority score.

Only items with a positive open amount are worked (credit notes and cash on account are not chased).

Beside the sections, the pre-due call list (`likely_late`, from the payment predictions of
analytics.predictions, which a caller may have later than the worklist): invoices not yet due whose
p_late is at least 0.6, in no section, nothing waiting on them (as for `overdue`), ranked by amount at
risk (open amount x p_late); `likely_late_of` groups them by customer like the sections.

Priority score = open amount (functional currency) x age factor x risk factor, where
  age factor  = 1 + min(days past due, 180) / 30   (1 at the due date, 2 at 30 days, at most 7)
  risk factor = A 1.0, B 1.2, C 1.5, D 2.0, any other or no risk class 1.2.
Every section lists its items by descending score.

A call covers several invoices: `customers` has one row per (section, customer), with its items and
their total. Counts: `to_do_today` customers in sections 1 to 5, of which `late` are past their date
(broken promises, next actions before today, disputes past their expected resolution); `done_today`
actions logged at the as-of date by the collector's user name or on the collector's customers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl

from analytics import contract
from analytics.aging import aged_items
from analytics.collections import CollectionsDB
from analytics.item_states import NARROW_READ_ITEMS, item_states
from analytics.labels import SECTION_LABELS as SECTION_LABELS
from analytics.promises import PROMISE_GRACE_DAYS
from analytics.scope import EVERYTHING, Scope
from analytics.store import Store

SECTIONS = ("broken_promise", "promise_due", "next_action", "new_overdue", "dispute_waiting", "overdue")
RISK_FACTORS = {"A": 1.0, "B": 1.2, "C": 1.5, "D": 2.0}
UNKNOWN_RISK_FACTOR = 1.2
AGE_FACTOR_CAP_DAYS = 180
NEW_OVERDUE_DAYS = 7
# States with someone else to wait for: not worked as plain overdue items.
WAITING_STATES = ("disputed", "litigation", "bad_debt_proposed")
AMOUNT = "open_amount_functional"
CENT = Decimal("0.01")

ITEM_COLUMNS = (
    "section",
    "section_rank",
    "customer_id",
    "customer_name",
    "collector",
    "risk_class",
    "document_id",
    "document_type",
    "due_date",
    "days_past_due",
    "currency",
    "open_amount",
    "open_amount_functional",
    "state",
    "promise_status",
    "promised_date",
    "promised_amount",
    "dispute_reason",
    "internal_owner",
    "expected_resolution",
    "last_action_date",
    "next_action_date",
    "task_date",
    "late",
    "age_factor",
    "risk_factor",
    "priority_score",
)


@dataclass(frozen=True)
class WorklistQuery:
    """A request for a worklist. `collector` None: every collector's customers in scope. `user` is the
    user name whose actions count as done (the collector's name by default)."""

    as_of: date
    collector: str | None = None
    scope: Scope = EVERYTHING
    user: str | None = None
    grace_days: int = PROMISE_GRACE_DAYS
    new_overdue_days: int = NEW_OVERDUE_DAYS


@dataclass(frozen=True)
class Worklist:
    """counts: to_do_today, late, done_today (customers), overdue_items, overdue_amount.
    customers: one row per (section, customer) in section order then by score; items: ITEM_COLUMNS."""

    counts: dict[str, object]
    customers: pl.DataFrame
    items: pl.DataFrame


def age_factor(days_past_due: pl.Expr) -> pl.Expr:
    """1 + min(days past due, 180) / 30; 1 for items not past due."""
    return 1 + days_past_due.clip(0, AGE_FACTOR_CAP_DAYS).cast(pl.Float64) / 30


def risk_factor(risk_class: pl.Expr) -> pl.Expr:
    """A 1.0, B 1.2, C 1.5, D 2.0; anything else 1.2."""
    return risk_class.replace_strict(RISK_FACTORS, default=UNKNOWN_RISK_FACTOR, return_dtype=pl.Float64)


def priority_score(amount: pl.Expr, days_past_due: pl.Expr, risk_class: pl.Expr) -> pl.Expr:
    """Open amount x age factor x risk factor, rounded to 2 decimals."""
    return (amount.cast(pl.Float64) * age_factor(days_past_due) * risk_factor(risk_class)).round(2)


@dataclass(frozen=True)
class CollectionsInputs:
    """What a worklist reads from the collections database at an as-of date, for a set of items:
    states (item_states of the items), latest (each customer's latest action:
    customer_id, customer_next_action_date, last_document_ids), actions_today (the actions at the
    as-of date) and marks (CollectionsDB.marks when they were read: what they include)."""

    states: pl.DataFrame
    latest: pl.DataFrame
    actions_today: pl.DataFrame
    marks: tuple[int, int, int]


def _latest_actions(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "customer_id",
        pl.col("next_action_date").alias("customer_next_action_date"),
        "last_document_ids",
    )


def collections_inputs(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope,
    items: pl.DataFrame,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
    con: duckdb.DuckDBPyConnection | None = None,
) -> CollectionsInputs:
    """The collections inputs of `items` (aging.aged_items at as_of), read whole."""
    marks = db.marks()  # before reading: what lands meanwhile is read again at the next refresh
    states = item_states(db, store, as_of, scope, grace_days=grace_days, items=items, con=con)
    latest = _latest_actions(db.latest_actions(as_of))
    return CollectionsInputs(states, latest, db.actions(since=as_of, until=as_of), marks)


def refreshed_inputs(
    previous: CollectionsInputs,
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope,
    items: pl.DataFrame,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
    con: duckdb.DuckDBPyConnection | None = None,
) -> CollectionsInputs:
    """`previous` brought up to the collections database's present: the states of the documents and
    the latest actions of the customers written since its marks are read again and put in place of
    theirs, the rest kept. Equal to collections_inputs read whole (an item's state depends on its own
    events and actions, a customer's latest action on its own actions); a replaced history, or more
    writes than a few saves, is read whole."""
    marks = db.marks()
    if marks == previous.marks:
        return previous
    replaced, event_id, action_id = previous.marks
    if marks[0] != replaced or marks[1] < event_id or marks[2] < action_id:
        return collections_inputs(db, store, as_of, scope, items, grace_days=grace_days, con=con)
    documents, customers = db.written_after(event_id, action_id)
    changed = items.filter(pl.col("document_id").is_in(documents))
    if changed.height > NARROW_READ_ITEMS:
        return collections_inputs(db, store, as_of, scope, items, grace_days=grace_days, con=con)
    states = previous.states
    if changed.height:
        fresh = item_states(db, store, as_of, scope, grace_days=grace_days, items=changed, con=con)
        states = pl.concat(
            [states.filter(~pl.col("document_id").is_in(fresh.get_column("document_id").implode())), fresh]
        ).sort("document_id")
    latest = previous.latest
    if customers:
        fresh = _latest_actions(db.latest_actions(as_of, customers))
        latest = pl.concat([latest.filter(~pl.col("customer_id").is_in(customers)), fresh]).sort(
            "customer_id"
        )
    return CollectionsInputs(states, latest, db.actions(since=as_of, until=as_of), marks)


class LiveWorklist:
    """The worklists of one as-of date and scope kept up to date for every reader of one process (the
    app shares one per data version, date and scope): the collections inputs of all the items in
    scope are read whole once, then each `refresh` reads only what was written since (a save: a few
    documents and one customer), and the worklists built from them are kept until the next write.
    Safe to share between threads."""

    def __init__(
        self,
        store: Store,
        as_of: date,
        scope: Scope,
        items: pl.DataFrame,
        grace_days: int = PROMISE_GRACE_DAYS,
    ) -> None:
        self.store, self.as_of, self.scope, self.items, self.grace_days = (
            store,
            as_of,
            scope,
            items,
            grace_days,
        )
        self._lock = threading.Lock()
        self._inputs: CollectionsInputs | None = None
        self._built: dict[tuple, Worklist] = {}
        # Per key, the predictions the pre-due list was made from (compared by identity) and the list.
        self._likely: dict[tuple, tuple[pl.DataFrame, LikelyLate]] = {}

    def refresh(self, db: CollectionsDB) -> CollectionsInputs:
        """The inputs as the collections database has them now."""
        with self._lock:
            arguments = (db, self.store, self.as_of, self.scope, self.items)
            if self._inputs is None:
                inputs = collections_inputs(*arguments, grace_days=self.grace_days)
            else:
                inputs = refreshed_inputs(self._inputs, *arguments, grace_days=self.grace_days)
            if inputs is not self._inputs:
                self._inputs, self._built, self._likely = inputs, {}, {}
            return inputs

    def worklist(self, db: CollectionsDB, request: WorklistQuery) -> Worklist:
        """The worklist of `request` (its date, scope and grace days those of this worklist)."""
        if (request.as_of, request.scope, request.grace_days) != (self.as_of, self.scope, self.grace_days):
            raise ValueError("the request's as-of date, scope and grace days are not this live worklist's")
        inputs = self.refresh(db)
        key = (inputs.marks, request.collector, request.user, request.new_overdue_days)
        with self._lock:
            built = self._built.get(key) if self._inputs is inputs else None
        if built is None:
            built = worklist_of(self.items, inputs, request)
            with self._lock:
                if self._inputs is inputs:
                    self._built[key] = built
        return built

    def likely_late(
        self,
        db: CollectionsDB,
        request: WorklistQuery,
        predictions: pl.DataFrame,
        threshold: float | None = None,
    ) -> LikelyLate:
        """The pre-due call list of `request` (likely_late_of, at `threshold` or LIKELY_LATE_P) from
        `predictions` (the whole company's at this worklist's date), kept until the next write or other
        predictions."""
        threshold = LIKELY_LATE_P if threshold is None else threshold
        day = self.worklist(db, request)
        inputs = self.refresh(db)
        key = (inputs.marks, request.collector, request.user, request.new_overdue_days, threshold)
        with self._lock:
            made = self._likely.get(key) if self._inputs is inputs else None
        if made is not None and made[0] is predictions:
            return made[1]
        listed = likely_late_of(self.items, inputs, day, predictions, request, threshold)
        with self._lock:
            if self._inputs is inputs:
                self._likely[key] = (predictions, listed)
        return listed


def worklist(
    db: CollectionsDB, store: Store, request: WorklistQuery, *, items: pl.DataFrame | None = None
) -> Worklist:
    """The worklist of `request` (see the module's docstring). `items` (aging.aged_items at as_of for
    the scope) can be passed when the caller has them already."""
    con = store.connect()
    if items is None:
        items = aged_items(store, request.as_of, request.scope, con)
    if request.collector is not None:
        items = items.filter(pl.col("collector") == request.collector)
    inputs = collections_inputs(
        db, store, request.as_of, request.scope, items, grace_days=request.grace_days, con=con
    )
    return worklist_of(items, inputs, request)


def worklist_of(items: pl.DataFrame, inputs: CollectionsInputs, request: WorklistQuery) -> Worklist:
    """The worklist of `request` from the aged items in scope and their collections inputs (which may
    cover more items than the request's collector has)."""
    as_of = request.as_of
    if request.collector is not None:
        items = items.filter(pl.col("collector") == request.collector)
    states, latest = inputs.states, inputs.latest
    # The items the customer's due next action is about: those it named, or all when it named none.
    followed = (
        latest.filter(pl.col("customer_next_action_date") <= as_of)
        .explode("last_document_ids")
        .select("customer_id", "customer_next_action_date", pl.col("last_document_ids").alias("document_id"))
    )
    named = followed.filter(pl.col("document_id").is_not_null()).select(
        "document_id", pl.lit(True).alias("named_by_due_action")
    )
    whole_customer = followed.filter(pl.col("document_id").is_null()).select(
        "customer_id", pl.lit(True).alias("customer_action_due")
    )

    frame = (
        items.join(states.drop("customer_id"), on="document_id", how="left")
        .join(latest.select("customer_id", "customer_next_action_date"), on="customer_id", how="left")
        .join(named, on="document_id", how="left")
        .join(whole_customer, on="customer_id", how="left")
        .filter(pl.col(AMOUNT) > 0)
    )
    section = _section(request)
    ranked = (
        frame.with_columns(section.alias("section"))
        .filter(pl.col("section").is_not_null())
        .with_columns(
            pl.col("section")
            .replace_strict(SECTIONS, list(range(1, len(SECTIONS) + 1)))
            .alias("section_rank"),
            age_factor(pl.col("days_past_due")).round(4).alias("age_factor"),
            risk_factor(pl.col("risk_class")).alias("risk_factor"),
            priority_score(pl.col(AMOUNT), pl.col("days_past_due"), pl.col("risk_class")).alias(
                "priority_score"
            ),
        )
        .with_columns(_task_date(request).alias("task_date"))
        .with_columns(
            (
                pl.col("section").is_in(["broken_promise", "dispute_waiting"])
                | ((pl.col("section") == "next_action") & (pl.col("task_date") < as_of))
            )
            .fill_null(False)
            .alias("late")
        )
        .with_columns(
            pl.when(pl.col("section") == "next_action")
            .then(pl.col("customer_next_action_date"))
            .otherwise(pl.col("next_action_date"))
            .alias("next_action_date")
        )
    )
    item_frame = ranked.select(ITEM_COLUMNS).sort(
        ["section_rank", "priority_score", "customer_id", "document_id"],
        descending=[False, True, False, False],
    )

    actions_today = inputs.actions_today
    mine = items.select("customer_id").unique()
    if request.collector is not None:
        user = request.user or request.collector
        done = actions_today.filter(
            (pl.col("user_name") == user)
            | pl.col("customer_id").is_in(mine.get_column("customer_id").implode())
        )
    else:
        done = actions_today.join(mine, on="customer_id", how="semi")
    customers = _customers(item_frame, done)
    tasks = customers.filter(pl.col("section") != "overdue")
    overdue = frame.filter(pl.col("days_past_due") > 0)
    return Worklist(
        counts={
            "to_do_today": tasks.get_column("customer_id").n_unique(),
            "late": tasks.filter(pl.col("late")).get_column("customer_id").n_unique(),
            "done_today": done.height,
            "overdue_items": overdue.height,
            "overdue_amount": _money(overdue.get_column(AMOUNT).sum()),
        },
        customers=customers,
        items=item_frame,
    )


def _money(value: object) -> Decimal:
    return Decimal(value).quantize(CENT) if value is not None else Decimal("0.00")


def _section(request: WorklistQuery) -> pl.Expr:
    as_of = request.as_of
    state = pl.col("state")
    status = pl.col("promise_status")
    overdue = pl.col("days_past_due") > 0
    due_action = pl.col("customer_next_action_date") <= as_of
    return (
        pl.when((state == "promise_to_pay") & (status == "broken"))
        .then(pl.lit("broken_promise"))
        .when((state == "promise_to_pay") & (status == "open") & (pl.col("promised_date") <= as_of))
        .then(pl.lit("promise_due"))
        .when(
            due_action
            & (
                pl.col("named_by_due_action").fill_null(False)
                | (
                    pl.col("customer_action_due").fill_null(False)
                    & overdue
                    & ~state.is_in(list(WAITING_STATES))
                )
            )
        )
        .then(pl.lit("next_action"))
        .when((state == "none") & pl.col("days_past_due").is_between(1, request.new_overdue_days))
        .then(pl.lit("new_overdue"))
        .when((state == "disputed") & (pl.col("expected_resolution") < as_of))
        .then(pl.lit("dispute_waiting"))
        .when(
            overdue & ~state.is_in(list(WAITING_STATES)) & ~((state == "promise_to_pay") & (status == "open"))
        )
        .then(pl.lit("overdue"))
    )


def _task_date(request: WorklistQuery) -> pl.Expr:
    """The day each task came due: the promise's deadline, the promised date, the next action date,
    the first day overdue, the expected resolution."""
    section = pl.col("section")
    return (
        pl.when(section == "broken_promise")
        .then(pl.col("promised_date") + timedelta(days=request.grace_days))
        .when(section == "promise_due")
        .then(pl.col("promised_date"))
        .when(section == "next_action")
        .then(pl.col("customer_next_action_date"))
        .when(section == "new_overdue")
        .then(pl.col("due_date") + timedelta(days=1))
        .when(section == "dispute_waiting")
        .then(pl.col("expected_resolution"))
        .cast(pl.Date)
    )


def _customers(items: pl.DataFrame, done: pl.DataFrame) -> pl.DataFrame:
    """One row per (section, customer): its items (best score first), their total and score."""
    done_customers = done.select("customer_id").unique().with_columns(pl.lit(True).alias("done_today"))
    return (
        items.group_by("section", "section_rank", "customer_id", "customer_name", "collector", "risk_class")
        .agg(
            pl.col("document_id").alias("document_ids"),
            pl.len().alias("items"),
            pl.col(AMOUNT).sum().cast(contract.MONEY).alias("total_open_amount"),
            pl.col("days_past_due").max().alias("max_days_past_due"),
            pl.col("priority_score").sum().round(2).alias("priority_score"),
            pl.col("task_date").min().alias("task_date"),
            pl.col("late").any().alias("late"),
            pl.col("last_action_date").max().alias("last_action_date"),
            pl.col("next_action_date").min().alias("next_action_date"),
        )
        .join(done_customers, on="customer_id", how="left")
        .with_columns(pl.col("done_today").fill_null(False))
        .sort(["section_rank", "priority_score", "customer_id"], descending=[False, True, False])
    )


# --- the pre-due call list ---------------------------------------------------------------------------

LIKELY_LATE = "likely_late"
LIKELY_LATE_LABEL = "Likely to be paid late (not yet due)"
LIKELY_LATE_P = 0.6
LIKELY_LATE_COLUMNS = (
    "reason",
    "document_id",
    "customer_id",
    "due_date",
    "open_amount_functional",
    "p_late",
    "predicted_payment_date",
    "predicted_days_late",
    "amount_at_risk",
)


def likely_late(predictions: pl.DataFrame, as_of: date, threshold: float = LIKELY_LATE_P) -> pl.DataFrame:
    """The "likely late" reason: invoices not yet due at `as_of` whose p_late is at least `threshold`
    (`predictions`: analytics.predictions.predict at as_of), ranked by amount at risk, open amount x
    p_late (LIKELY_LATE_COLUMNS): the ones to call about before they are late."""
    at_risk = (pl.col(AMOUNT).cast(pl.Float64) * pl.col("p_late")).round(2)
    return (
        predictions.filter(pl.col("due_date") > pl.lit(as_of), pl.col("p_late") >= threshold)
        .with_columns(reason=pl.lit(LIKELY_LATE), amount_at_risk=at_risk)
        .sort(["amount_at_risk", "document_id"], descending=[True, False])
        .select(LIKELY_LATE_COLUMNS)
    )


LIKELY_LATE_RANK = len(SECTIONS) + 1
LIKELY_LATE_ITEM_COLUMNS = (
    "section",
    "section_rank",
    "customer_id",
    "customer_name",
    "collector",
    "risk_class",
    "document_id",
    "document_type",
    "due_date",
    "days_past_due",
    "currency",
    "open_amount",
    "open_amount_functional",
    "state",
    "last_action_date",
    "next_action_date",
    "p_late",
    "predicted_payment_date",
    "predicted_days_late",
    "amount_at_risk",
)


@dataclass(frozen=True)
class LikelyLate:
    """The pre-due call list: items (LIKELY_LATE_ITEM_COLUMNS, by descending amount at risk) and
    customers (one row per customer: its items, their open total and amount at risk, the highest
    p_late, the first due date and predicted payment, the last action; by descending amount at risk)."""

    customers: pl.DataFrame
    items: pl.DataFrame


def likely_late_of(
    items: pl.DataFrame,
    inputs: CollectionsInputs,
    day: Worklist,
    predictions: pl.DataFrame,
    request: WorklistQuery,
    threshold: float = LIKELY_LATE_P,
) -> LikelyLate:
    """The pre-due call list of `request`: the likely_late invoices among `items` (aging.aged_items in
    scope, the request's collector's), with a positive open amount, in none of `day`'s sections and
    with nothing waiting on them (no dispute, litigation, bad debt proposal or open promise)."""
    if request.collector is not None:
        items = items.filter(pl.col("collector") == request.collector)
    reason = likely_late(predictions, request.as_of, threshold)
    states = inputs.states.select(
        "document_id", "state", "promise_status", "last_action_date", "next_action_date"
    )
    waiting = pl.col("state").is_in(list(WAITING_STATES)) | (
        (pl.col("state") == "promise_to_pay") & (pl.col("promise_status") == "open")
    )
    listed = (
        items.filter(pl.col(AMOUNT) > 0)
        .select(
            "document_id",
            "customer_name",
            "collector",
            "risk_class",
            "document_type",
            "days_past_due",
            "currency",
            "open_amount",
        )
        .unique("document_id", keep="first")
        .join(reason, on="document_id", how="inner")
        .join(day.items.select("document_id"), on="document_id", how="anti")
        .join(states, on="document_id", how="left")
        .with_columns(pl.col("state").fill_null("none"))
        .filter(~waiting.fill_null(False))
        .with_columns(
            section=pl.lit(LIKELY_LATE),
            section_rank=pl.lit(LIKELY_LATE_RANK),
        )
        .sort(["amount_at_risk", "document_id"], descending=[True, False])
        .select(LIKELY_LATE_ITEM_COLUMNS)
    )
    customers = (
        listed.group_by("section", "section_rank", "customer_id", "customer_name", "collector", "risk_class")
        .agg(
            pl.col("document_id").alias("document_ids"),
            pl.len().alias("items"),
            pl.col(AMOUNT).sum().cast(contract.MONEY).alias("total_open_amount"),
            pl.col("amount_at_risk").sum().round(2).alias("amount_at_risk"),
            pl.col("p_late").max().alias("p_late"),
            pl.col("due_date").min().alias("due_date"),
            pl.col("predicted_payment_date").min().alias("predicted_payment_date"),
            pl.col("last_action_date").max().alias("last_action_date"),
        )
        .sort(["amount_at_risk", "customer_id"], descending=[True, False])
    )
    return LikelyLate(customers=customers, items=listed)
