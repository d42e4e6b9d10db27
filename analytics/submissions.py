"""Submissions to the collections data: a side panel's qualifications and action (`submit`), a file's
rows (analytics.event_files) or a whole history (`load_history`, the demo's), each written in one
transaction with ids following on from the last ones committed, after the checks of
analytics.submission_checks; the check of a resolution against the recorded events is made inside
the writing transaction, so that a dispute another session or process resolved meanwhile is seen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import polars as pl

from analytics import collections_db, submission_checks
from analytics.collections import ACTION_SCHEMA, ITEM_EVENT_SCHEMA, CollectionsDB, CollectionsRefused, utc_now
from analytics.scope import Scope
from analytics.store import Store
from analytics.submission_checks import (
    ACTION_INPUT_SCHEMA,
    EVENT_INPUT_SCHEMA,
    ROW,
    Reference,
    action_normalisation,
    check_actions,
    check_events,
    check_resolutions,
)


@dataclass(frozen=True)
class Qualification:
    """A qualification event on one open item. Only the fields of its event_type are kept
    (collections.EVENT_FIELDS); an amount left at None means the item's whole open amount."""

    document_id: str
    event_type: str
    comment: str = ""
    promised_date: date | None = None
    promised_amount: Decimal | None = None
    dispute_reason: str | None = None
    disputed_amount: Decimal | None = None
    internal_owner: str | None = None
    expected_resolution: date | None = None
    # For dispute_resolved: one of collections.RESOLUTION_OUTCOMES.
    outcome: str | None = None


@dataclass(frozen=True)
class Action:
    """A collection action on a customer. In a submission that also qualifies items, the action concerns
    those items too: they are added to its document_ids."""

    customer_id: str
    action_type: str
    outcome: str
    comment: str = ""
    contact_person: str | None = None
    next_action_date: date | None = None
    document_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Submission:
    """What one submit of the side panel records: all of it or nothing."""

    qualifications: tuple[Qualification, ...] = ()
    action: Action | None = None


@dataclass(frozen=True)
class SubmitResult:
    submission_id: str
    event_ids: tuple[int, ...]
    action_id: int | None
    recorded_at: datetime


def submit(
    db: CollectionsDB,
    submission: Submission,
    *,
    store: Store,
    as_of: date,
    scope: Scope,
    user: str,
    linked: Sequence[tuple[str, dict[str, object]]] = (),
) -> SubmitResult:
    """Check a submission against the store's open items at `as_of` and the user's scope, then write
    all its rows in one transaction; or raise CollectionsRefused and write nothing. `linked`
    statements (queries/NAME.sql, parameters) go in the same transaction with the action's id bound
    as $action_id: what another module records about the action (analytics.scenarios' step)."""
    user = (user or "").strip()
    if not user:
        raise CollectionsRefused(["user_name: required (who records this)"])
    events, actions = _submission_frames(submission, as_of, user)
    messages = _submission_messages(submission)
    reference = submission_checks.reference(store, [as_of], scope)

    def refuse(problems: pl.DataFrame, completed: pl.DataFrame) -> None:
        found = messages + _mismatched_customers(completed, actions)
        if problems.height:
            found += _labelled(problems, completed)
        if found:
            raise CollectionsRefused(found)

    event_rows, action_rows = write_checked(
        db, events, actions, reference, source="app", refuse=refuse, link_documents=True, linked=linked
    )
    return SubmitResult(
        submission_id=(event_rows if event_rows.height else action_rows).get_column("submission_id").first(),
        event_ids=tuple(event_rows.get_column("event_id").to_list()),
        action_id=action_rows.get_column("action_id").first() if action_rows.height else None,
        recorded_at=(event_rows if event_rows.height else action_rows).get_column("recorded_at").first(),
    )


def write_checked(
    db: CollectionsDB,
    events: pl.DataFrame,
    actions: pl.DataFrame,
    reference: Reference,
    *,
    source: str,
    refuse: Callable[[pl.DataFrame, pl.DataFrame], None],
    link_documents: bool = False,
    imported: dict[str, object] | None = None,
    linked: Sequence[tuple[str, dict[str, object]]] = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Check events and actions (the frames of check_events and check_actions) and write them in one
    transaction, holding the writer lock from the check of the recorded events to the commit.
    `refuse(problems, completed_events)` raises when the input is refused."""
    # What the store decides is checked outside the lock; what recorded events decide, inside it.
    completed, problems = check_events(events, reference)
    problems = pl.concat([problems, check_actions(actions, reference)])
    if link_documents:
        actions = _with_qualified_documents(actions, completed)
    resolving = completed.filter(pl.col("event_type") == "dispute_resolved")
    submission_id = str(uuid.uuid4())
    recorded_at = utc_now()
    event_rows = _event_rows(completed, submission_id, recorded_at, source)
    action_rows = _action_rows(actions, submission_id, recorded_at, source)
    with db.backend.writing() as tx:
        # Checked in the transaction that writes, after the writer lock: a dispute another
        # session or process resolved meanwhile is seen here, and the resolution refused.
        if resolving.height:
            prior = _prior_events(tx, resolving)
            problems = pl.concat([problems, check_resolutions(completed, prior)])
        refuse(problems, completed)
        if imported is not None:
            imported = {
                **imported,
                "item_events": event_rows.height,
                "actions": action_rows.height,
                "recorded_at": recorded_at,
            }
        first_event, first_action = _append(tx, event_rows, action_rows, imported=imported, linked=linked)
    return (
        event_rows.with_columns(pl.col("event_id") + first_event),
        action_rows.with_columns(pl.col("action_id") + first_action),
    )


def load_history(
    db: CollectionsDB, events: pl.DataFrame, actions: pl.DataFrame, *, replace: bool = False
) -> tuple[int, int]:
    """Bulk-insert a history (the demo's) in one transaction, ids given in date order; with
    `replace`, the previous history goes in the same transaction (a new company, a new story).
    The frames have the columns of ITEM_EVENT_SCHEMA and ACTION_SCHEMA; ids may be left out."""
    events = events.drop("event_id", strict=False).sort("event_date", "recorded_at", "document_id")
    actions = actions.drop("action_id", strict=False).sort("action_date", "recorded_at", "customer_id")
    event_rows = _with_original_author(events.with_row_index("event_id")).select(
        [pl.col(n).cast(t) for n, t in ITEM_EVENT_SCHEMA.items()]
    )
    action_rows = _with_original_author(actions.with_row_index("action_id")).select(
        [pl.col(n).cast(t) for n, t in ACTION_SCHEMA.items()]
    )
    with db.backend.writing() as tx:
        _append(tx, event_rows, action_rows, replace=replace)
    return event_rows.height, action_rows.height


def _append(
    tx: collections_db.Transaction,
    event_rows: pl.DataFrame,
    action_rows: pl.DataFrame,
    *,
    replace: bool = False,
    imported: dict[str, object] | None = None,
    linked: Sequence[tuple[str, dict[str, object]]] = (),
) -> tuple[int, int]:
    """Write rows (ids numbered from 0) in the transaction `tx`, their ids following on from the
    last ones committed; returns the first ids given."""
    last_event, last_action = (0, 0) if replace else tx.last_ids()
    first_event, first_action = last_event + 1, last_action + 1
    if replace:
        tx.execute("collections_delete_item_events")
        tx.execute("collections_delete_actions")
        # The scenario steps logged with those actions go with them.
        tx.execute("scenarios_delete_step_log")
        # The same ids may now mean other rows: readers holding rows must read them all again.
        tx.replaced()
    tx.insert(event_rows, "event_id", first_event, "item_event", "item_events")
    tx.insert(action_rows, "action_id", first_action, "action", "actions")
    if imported is not None:
        tx.execute("collections_append_import", imported)
    action_id = first_action if action_rows.height else None
    for name, params in linked:
        tx.execute(name, {**params, "action_id": action_id})
    return first_event, first_action


def _prior_events(tx: collections_db.Transaction, events: pl.DataFrame) -> pl.DataFrame:
    """The recorded events of the documents about to be qualified (what a resolution is checked against)."""
    documents = events.get_column("document_id").drop_nulls().unique().sort().to_list()
    if not documents:
        return pl.DataFrame(
            schema={
                "document_id": pl.String,
                "event_type": pl.String,
                "event_date": pl.Date,
                "event_id": pl.Int64,
            }
        )
    frame = tx.read(
        "collections_item_events", document_ids=documents, customer_ids=[], since=None, until=None
    )
    return frame.select("document_id", "event_type", "event_date", "event_id")


def _submission_frames(submission: Submission, as_of: date, user: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    events = pl.DataFrame(
        [
            {
                ROW: position,
                "document_id": q.document_id,
                "customer_id": None,
                "event_type": q.event_type,
                "event_date": as_of,
                "promised_date": q.promised_date,
                "promised_amount": q.promised_amount,
                "dispute_reason": q.dispute_reason,
                "disputed_amount": q.disputed_amount,
                "internal_owner": q.internal_owner,
                "expected_resolution": q.expected_resolution,
                "outcome": q.outcome,
                "comment": q.comment,
                "user_name": user,
            }
            for position, q in enumerate(submission.qualifications)
        ],
        schema=EVENT_INPUT_SCHEMA,
    )
    action = submission.action
    actions = pl.DataFrame(
        [
            {
                ROW: 0,
                "customer_id": action.customer_id,
                "action_type": action.action_type,
                "outcome": action.outcome,
                "contact_person": action.contact_person,
                "comment": action.comment,
                "next_action_date": action.next_action_date,
                "document_ids": list(action.document_ids),
                "action_date": as_of,
                "user_name": user,
            }
        ]
        if action is not None
        else [],
        schema=ACTION_INPUT_SCHEMA,
    )
    return events, actions


def _submission_messages(submission: Submission) -> list[str]:
    messages = []
    if not submission.qualifications and submission.action is None:
        messages.append("nothing to record: qualify an item or log an action")
    seen: set[str] = set()
    for qualification in submission.qualifications:
        if qualification.document_id in seen:
            messages.append(f"document {qualification.document_id}: qualified twice in one submission")
        seen.add(qualification.document_id)
    return messages


def _mismatched_customers(events: pl.DataFrame, action: pl.DataFrame) -> list[str]:
    """Items qualified along with an action must be the action's customer's."""
    if not action.height or not events.height:
        return []
    customer = action.get_column("customer_id").first()
    other = events.filter(pl.col("customer_id").is_not_null() & (pl.col("customer_id") != customer))
    return [
        f"document {row['document_id']}, customer_id: belongs to customer {row['customer_id']}, "
        f"not to {customer}, the customer of the action"
        for row in other.iter_rows(named=True)
    ]


def _labelled(problems: pl.DataFrame, events: pl.DataFrame) -> list[str]:
    """'document I1, promised_date: ...' / 'action, outcome: ...' for a submission's problems."""
    labels = events.select(
        pl.col(ROW).alias("row"), pl.format("document {}", pl.col("document_id")).alias("label")
    )
    labelled = (
        problems.join(labels, on="row", how="left")
        .sort(pl.col("source") == "action", "row", maintain_order=True)
        .with_columns(
            pl.when(pl.col("source") == "action")
            .then(pl.lit("action"))
            .otherwise(pl.col("label"))
            .alias("label")
        )
        .unique(["label", "column", "message"], keep="first", maintain_order=True)
    )
    return [f"{r['label']}, {r['column']}: {r['message']}" for r in labelled.iter_rows(named=True)]


def _with_qualified_documents(action: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """The action's documents, then the items qualified with it that it does not name yet."""
    if not action.height or not events.height:
        return action
    qualified = events.get_column("document_id").to_list()
    return action.with_columns(
        pl.col("document_ids").list.concat(pl.lit(pl.Series([qualified]))).list.unique(maintain_order=True)
    )


def _with_original_author(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows with their original author: none (null) unless an import of another tool's history gave one."""
    if "original_author" in frame.columns:
        return frame
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias("original_author"))


def _event_rows(events: pl.DataFrame, submission_id: str, recorded_at: datetime, source: str) -> pl.DataFrame:
    """The rows to write, event_id numbered from 0 in date and input order."""
    return _rows(events, "event_id", "event_date", ITEM_EVENT_SCHEMA, submission_id, recorded_at, source)


def _action_rows(
    actions: pl.DataFrame, submission_id: str, recorded_at: datetime, source: str
) -> pl.DataFrame:
    """The rows to write, action_id numbered from 0 in date and input order."""
    return _rows(
        actions,
        "action_id",
        "action_date",
        ACTION_SCHEMA,
        submission_id,
        recorded_at,
        source,
        *action_normalisation(),
    )


def _rows(
    frame: pl.DataFrame,
    key: str,
    day: str,
    schema: dict[str, pl.DataType],
    submission_id: str,
    recorded_at: datetime,
    source: str,
    *normalise: pl.Expr,
) -> pl.DataFrame:
    """The rows of `schema` to write, `key` numbered from 0 by `day` and input order."""
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        _with_original_author(frame)
        .sort(day, ROW)
        .with_row_index(key)
        .with_columns(
            *normalise,
            pl.lit(submission_id).alias("submission_id"),
            pl.lit(recorded_at).alias("recorded_at"),
            pl.lit(source).alias("source"),
        )
        .select([pl.col(n).cast(t) for n, t in schema.items()])
    )
