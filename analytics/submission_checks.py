"""What a qualification or an action submitted to the collections data is checked against, and the
checks (analytics.submissions writes what passes them): the item must be open at the event's date and
its customer in the user's scope; a promised date or expected resolution not in the past; promised
and disputed amounts positive and not above the item's open amount; enumerated fields within their
allowed values (analytics.collections); a comment for a dispute, a resolution, litigation and a
bad-debt proposal; a resolution only of an open dispute (checked against the recorded events, in the
writing transaction). A problem names its row and column (source, row, column, message).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

import duckdb
import polars as pl

from analytics import contract, ingest
from analytics.collections import (
    ACTION_OUTCOMES,
    ACTION_SCHEMA,
    ACTION_TYPES,
    DETAIL_FIELDS,
    DISPUTE_REASONS,
    EVENT_FIELDS,
    ITEM_EVENT_SCHEMA,
    QUALIFICATIONS,
    RESOLUTION_OUTCOMES,
)
from analytics.scope import Scope, customers_in_scope
from analytics.store import Store, query

COMMENT_REQUIRED = {
    "disputed": "a dispute",
    "dispute_resolved": "a dispute resolution",
    "litigation": "litigation",
    "bad_debt_proposed": "a bad-debt proposal",
}
# Internal columns of the frames checked before writing.
ROW = ingest.ROW
PROBLEM_SCHEMA = {"source": pl.String(), "row": pl.Int64(), "column": pl.String(), "message": pl.String()}
_REFERENCE_CACHE_SIZE = 16


@dataclass(frozen=True)
class Reference:
    """What input is checked against: the items open at the dates the input speaks of (check_date,
    document_id, customer_id, open_amount_functional) and every customer with whether the user's scope
    covers it (customer_id, in_scope)."""

    open_items: pl.DataFrame
    customers: pl.DataFrame


# The references built lately, by (store, store version, dates, scope).
_references: OrderedDict[tuple, Reference] = OrderedDict()
_references_lock = threading.Lock()


def reference(store: Store, dates: Sequence[date], scope: Scope) -> Reference:
    """The open items at `dates` and the customers with their scope flag, kept for a few
    (store version, dates, scope) keys: a store's generation never changes once written."""
    key = (str(store.root), store.version(), tuple(sorted(set(dates))), scope)
    with _references_lock:
        if key in _references:
            _references.move_to_end(key)
            return _references[key]
    con = store.connect()
    try:
        in_scope = customers_in_scope(con, scope).get_column("customer_id")
        customers = store.read(contract.CUSTOMERS).select(
            "customer_id", pl.col("customer_id").is_in(in_scope.implode()).alias("in_scope")
        )
        reference = Reference(open_items_at(store, sorted(set(dates)), con), customers)
    finally:
        con.close()
    with _references_lock:
        _references[key] = reference
        while len(_references) > _REFERENCE_CACHE_SIZE:
            _references.popitem(last=False)
    return reference


def open_items_at(store: Store, dates: Sequence[date], con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The open items at each date (check_date, document_id, customer_id, open_amount_functional):
    the store's open items for one date (an imported snapshot is the truth of its date); for several,
    derived from documents and payments, except at the dates of imported snapshots."""
    manifest = store.manifest()
    snapshots = set(manifest.snapshot_dates) if manifest else set()
    columns = ["check_date", "document_id", "customer_id", "open_amount_functional"]
    single = len(dates) == 1
    frames = [
        store.open_items(day, con).with_columns(pl.lit(day).alias("check_date")).select(columns)
        for day in dates
        if single or day in snapshots
    ]
    derived = [day for day in dates if not single and day not in snapshots]
    if derived:
        frames.append(con.sql(query("collections_open_items_at_dates"), params={"dates": derived}).pl())
    schema = {
        "check_date": pl.Date(),
        "document_id": pl.String(),
        "customer_id": pl.String(),
        "open_amount_functional": contract.MONEY,
    }
    return pl.concat([pl.DataFrame(schema=schema), *[f.select(columns).cast(schema) for f in frames]])


# --- checking input --------------------------------------------------------------------------------


def _normalised(column: str) -> pl.Expr:
    """An enumerated value as the contract spells it: 'Billing error' -> billing_error."""
    return (
        pl.col(column).str.strip_chars().str.to_lowercase().str.replace_all(r"[ \-]+", "_").replace("", None)
    )


def _blank(column: str) -> pl.Expr:
    return pl.col(column).str.strip_chars().replace("", None)


Rule = tuple[str, pl.Expr, pl.Expr]


@dataclass(frozen=True)
class RuleSet:
    """Rules ready to run: per rule, the column it names and an expression giving its message where
    the rule is broken (null elsewhere). Built once, as expressions take Python time to build."""

    columns: dict[str, str]
    checks: tuple[pl.Expr, ...]


def _rule_set(rules: list[Rule]) -> RuleSet:
    return RuleSet(
        columns={f"rule_{i}": column for i, (column, _, _) in enumerate(rules)},
        checks=tuple(
            pl.when(condition).then(message.cast(pl.String)).otherwise(None).alias(f"rule_{i}")
            for i, (_, condition, message) in enumerate(rules)
        ),
    )


def _rule_problems(frame: pl.DataFrame, source: str, rules: RuleSet) -> pl.DataFrame:
    """The problems (source, row, column, message) of `frame` under `rules`, all rules in one pass."""
    if frame.is_empty():
        return pl.DataFrame(schema=PROBLEM_SCHEMA)
    found = frame.select(pl.col(ROW).cast(pl.Int64).alias("row"), *rules.checks).unpivot(
        index="row", variable_name="rule", value_name="message"
    )
    return found.filter(pl.col("message").is_not_null()).select(
        pl.lit(source).alias("source"),
        "row",
        pl.col("rule").replace_strict(rules.columns).alias("column"),
        "message",
    )


def _quoted(column: str) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), pl.col(column).str.slice(0, 60), pl.lit("'"))


def _not_one_of(column: str, allowed: tuple[str, ...], when: pl.Expr | None = None) -> Rule:
    wrong = pl.col(column).is_not_null() & ~pl.col(column).is_in(list(allowed))
    return (
        column,
        wrong if when is None else when & wrong,
        pl.format("{} is not one of: {}", _quoted(column), pl.lit(", ".join(allowed))),
    )


def _required(column: str, when: pl.Expr, what: str) -> Rule:
    return column, when & pl.col(column).is_null(), pl.lit(f"required {what}".strip())


def _in_the_past(column: str, day: str, what: str, when: pl.Expr | None = None) -> Rule:
    past = pl.col(column) < pl.col(day)
    return (
        column,
        past if when is None else when & past,
        pl.format("{} is in the past (the {} is {})", pl.col(column), pl.lit(what), pl.col(day)),
    )


def _amount_rules(column: str, event_type: str) -> list[Rule]:
    of_type = (pl.col("event_type") == event_type) & pl.col("open_amount").is_not_null()
    amount = pl.col(column)
    return [
        (column, of_type & (amount <= 0), pl.format("must be positive, got {}", amount)),
        (
            column,
            of_type & (amount > 0) & (amount > pl.col("open_amount")),
            pl.format("{} is above the item's open amount {}", amount, pl.col("open_amount")),
        ),
    ]


@cache
def _event_rules() -> RuleSet:
    kind = pl.col("event_type")
    has_item = pl.col("open_amount").is_not_null()
    return _rule_set(
        [
            ("event_type", kind.is_null(), pl.lit("required")),
            _not_one_of("event_type", QUALIFICATIONS),
            ("document_id", pl.col("document_id").is_null(), pl.lit("required: the document qualified")),
            (
                "document_id",
                pl.col("document_id").is_not_null() & ~has_item,
                pl.format("{} is not an open item at {}", _quoted("document_id"), pl.col("event_date")),
            ),
            (
                "document_id",
                has_item & ~pl.col("in_scope").fill_null(False),
                pl.format(
                    "{} is outside your scope (customer {})",
                    _quoted("document_id"),
                    pl.col("item_customer_id"),
                ),
            ),
            (
                "customer_id",
                pl.col("customer_id").is_not_null()
                & pl.col("item_customer_id").is_not_null()
                & (pl.col("customer_id") != pl.col("item_customer_id")),
                pl.format(
                    "{} belongs to customer {}, not {}",
                    _quoted("document_id"),
                    pl.col("item_customer_id"),
                    pl.col("customer_id"),
                ),
            ),
            ("user_name", pl.col("user_name").is_null(), pl.lit("required")),
            _required("promised_date", kind == "promise_to_pay", "for a promise to pay"),
            _in_the_past("promised_date", "event_date", "date of the event", kind == "promise_to_pay"),
            *_amount_rules("promised_amount", "promise_to_pay"),
            _required("dispute_reason", kind == "disputed", "for a dispute"),
            _not_one_of("dispute_reason", DISPUTE_REASONS, kind == "disputed"),
            *_amount_rules("disputed_amount", "disputed"),
            _in_the_past("expected_resolution", "event_date", "date of the event", kind == "disputed"),
            _required("outcome", kind == "dispute_resolved", "for a dispute resolution"),
            _not_one_of("outcome", RESOLUTION_OUTCOMES, kind == "dispute_resolved"),
            (
                "comment",
                kind.is_in(list(COMMENT_REQUIRED)) & pl.col("comment").is_null(),
                pl.format("required for {}", kind.replace_strict(COMMENT_REQUIRED, default="")),
            ),
        ]
    )


@cache
def _event_preparation() -> tuple[tuple[pl.Expr, ...], tuple[pl.Expr, ...], tuple[pl.Expr, ...]]:
    """The expressions check_events runs: normalise the input, fill the amounts left empty with the
    open amount, then complete the customer and empty the fields of other event types."""
    kind = pl.col("event_type")
    normalise = (
        _normalised("event_type"),
        _normalised("dispute_reason"),
        _normalised("outcome"),
        _blank("comment"),
        _blank("user_name"),
        _blank("internal_owner"),
    )
    fill = (
        pl.when(kind == "promise_to_pay")
        .then(pl.col("promised_amount").fill_null(pl.col("open_amount")))
        .alias("promised_amount"),
        pl.when(kind == "disputed")
        .then(pl.col("disputed_amount").fill_null(pl.col("open_amount")))
        .alias("disputed_amount"),
    )
    complete = (
        pl.coalesce("customer_id", "item_customer_id").alias("customer_id"),
        *[
            pl.when(kind.is_in([t for t, fields in EVENT_FIELDS.items() if name in fields]))
            .then(pl.col(name))
            .alias(name)
            for name in DETAIL_FIELDS
        ],
    )
    return normalise, fill, complete


def check_events(events: pl.DataFrame, reference: Reference) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Check qualification events (ROW, document_id, customer_id (may be empty: the item's), event_type,
    event_date, the detail fields, comment, user_name) against the reference. Returns the events
    completed (customer_id, amounts left empty filled with the open amount, fields of other types
    emptied) and the problems (source, row, column, message). Resolutions are checked against the
    recorded events by check_resolutions."""
    if events.is_empty():
        return events, pl.DataFrame(schema=PROBLEM_SCHEMA)
    normalise, fill, complete = _event_preparation()
    items = reference.open_items.select(
        pl.col("check_date").alias("event_date"),
        "document_id",
        pl.col("customer_id").alias("item_customer_id"),
        pl.col("open_amount_functional").alias("open_amount"),
    )
    checked = (
        events.with_columns(*normalise)
        .join(items, on=["event_date", "document_id"], how="left")
        .join(
            reference.customers.rename({"customer_id": "item_customer_id"}), on="item_customer_id", how="left"
        )
        .sort(ROW)
        .with_columns(*fill)
    )
    return checked.with_columns(*complete), _rule_problems(checked, "event", _event_rules())


@cache
def _resolution_rules() -> RuleSet:
    unresolvable = (pl.col("event_type") == "dispute_resolved") & (
        pl.col("previous").is_null() | (pl.col("previous") != "disputed")
    )
    message = pl.format("{} has no open dispute to resolve", _quoted("document_id"))
    return _rule_set([("event_type", unresolvable, message)])


def check_resolutions(events: pl.DataFrame, prior: pl.DataFrame) -> pl.DataFrame:
    """Problems of resolutions of a document whose latest event before them is not a dispute. `prior`
    (document_id, event_type, event_date, event_id) are the recorded events; the new ones come after
    the recorded ones of their date, in their own order."""
    if events.filter(pl.col("event_type") == "dispute_resolved").is_empty():
        return pl.DataFrame(schema=PROBLEM_SCHEMA)
    last = int(prior.get_column("event_id").max() or 0) if prior.height else 0
    timeline = pl.concat(
        [
            prior.select(
                "document_id",
                "event_type",
                "event_date",
                pl.col("event_id").cast(pl.Int64).alias("order"),
                pl.lit(None, pl.Int64).alias(ROW),
            ),
            events.select(
                "document_id",
                "event_type",
                "event_date",
                (pl.col(ROW).cast(pl.Int64) + last + 1).alias("order"),
                pl.col(ROW).cast(pl.Int64),
            ),
        ]
    ).sort("document_id", "event_date", "order")
    previous = timeline.with_columns(pl.col("event_type").shift(1).over("document_id").alias("previous"))
    return _rule_problems(previous.filter(pl.col(ROW).is_not_null()), "event", _resolution_rules())


@cache
def _action_rules() -> RuleSet:
    known = pl.col("in_scope").is_not_null()
    return _rule_set(
        [
            ("action_type", pl.col("action_type").is_null(), pl.lit("required")),
            _not_one_of("action_type", ACTION_TYPES),
            ("outcome", pl.col("outcome").is_null(), pl.lit("required")),
            _not_one_of("outcome", ACTION_OUTCOMES),
            ("customer_id", pl.col("customer_id").is_null(), pl.lit("required")),
            (
                "customer_id",
                pl.col("customer_id").is_not_null() & ~known,
                pl.format("unknown customer {}", _quoted("customer_id")),
            ),
            (
                "customer_id",
                known & ~pl.col("in_scope").fill_null(False),
                pl.format("customer {} is outside your scope", _quoted("customer_id")),
            ),
            _in_the_past("next_action_date", "action_date", "date of the action"),
            (
                "comment",
                (pl.col("action_type") == "note") & pl.col("comment").is_null(),
                pl.lit("required for a note"),
            ),
            ("user_name", pl.col("user_name").is_null(), pl.lit("required")),
        ]
    )


@cache
def _concerned_rules() -> RuleSet:
    """Each document an action names must be an open item of its customer at its date."""
    elsewhere = pl.col("item_customer_id").is_null() | (pl.col("item_customer_id") != pl.col("customer_id"))
    message = pl.format(
        "{} is not an open item of customer {} at {}",
        _quoted("document_id"),
        pl.col("customer_id"),
        pl.col("action_date"),
    )
    return _rule_set([("document_ids", elsewhere, message)])


def check_actions(actions: pl.DataFrame, reference: Reference) -> pl.DataFrame:
    """Problems (source, row, column, message) of actions (ROW, customer_id, action_type, outcome,
    contact_person, comment, next_action_date, document_ids, action_date, user_name)."""
    if actions.is_empty():
        return pl.DataFrame(schema=PROBLEM_SCHEMA)
    checked = actions.with_columns(*action_normalisation()).join(
        reference.customers, on="customer_id", how="left"
    )
    found = [_rule_problems(checked, "action", _action_rules())]
    concerned = (
        checked.select(ROW, "customer_id", "action_date", "document_ids")
        .explode("document_ids")
        .rename({"document_ids": "document_id"})
        .filter(pl.col("document_id").is_not_null())
    )
    if concerned.height:
        items = reference.open_items.select(
            pl.col("check_date").alias("action_date"),
            "document_id",
            pl.col("customer_id").alias("item_customer_id"),
        )
        concerned = concerned.join(items, on=["action_date", "document_id"], how="left")
        found.append(_rule_problems(concerned, "action", _concerned_rules()))
    return pl.concat(found).sort("row", maintain_order=True)


@cache
def action_normalisation() -> tuple[pl.Expr, ...]:
    return (
        _normalised("action_type"),
        _normalised("outcome"),
        _blank("comment"),
        _blank("contact_person"),
        _blank("user_name"),
    )


def history_problems(store: Store, events: pl.DataFrame, actions: pl.DataFrame) -> pl.DataFrame:
    """The problems (source, row, column, message) a whole history (frames of ITEM_EVENT_SCHEMA and
    ACTION_SCHEMA, e.g. the demo's) would meet if each row were submitted at its date, in date order,
    by a user whose scope covers everything: rows are numbered from 0 in the frames' order."""
    con = store.connect()
    dates = pl.concat([events.get_column("event_date"), actions.get_column("action_date")]).unique().sort()
    reference = Reference(
        open_items_at(store, dates.to_list(), con),
        store.read(contract.CUSTOMERS).select("customer_id", pl.lit(True).alias("in_scope")),
    )
    numbered = events.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    ordered = (
        numbered.drop("event_id", strict=False)
        .sort("event_date", "recorded_at", ROW)
        .with_row_index("event_id")
    )
    prior = ordered.select(
        "document_id", "event_type", "event_date", pl.col("event_id").cast(pl.Int64)
    ).clear()
    completed, event_problems = check_events(
        ordered.select(list(EVENT_INPUT_SCHEMA)).cast(EVENT_INPUT_SCHEMA), reference
    )
    event_problems = pl.concat([event_problems, check_resolutions(completed, prior)])
    logged = actions.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    action_problems = check_actions(
        logged.select(list(ACTION_INPUT_SCHEMA)).cast(ACTION_INPUT_SCHEMA), reference
    )
    return pl.concat([event_problems, action_problems]).sort("source", "row")


# The frames checked: one row of input each, numbered by ROW, with the columns of the rows written but
# those the writing gives (ids, submission, when, the source and the original author).
_WRITTEN = ("event_id", "action_id", "submission_id", "recorded_at", "source", "original_author")
EVENT_INPUT_SCHEMA = {ROW: pl.Int64(), **{n: t for n, t in ITEM_EVENT_SCHEMA.items() if n not in _WRITTEN}}
ACTION_INPUT_SCHEMA = {ROW: pl.Int64(), **{n: t for n, t in ACTION_SCHEMA.items() if n not in _WRITTEN}}
