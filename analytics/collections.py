"""The collections workspace: qualification events on open items and collection actions on customers,
and what derives from them: each item's current state, promise outcomes, dispute figures, histories.

Owns the collections data (queries/collections_schema.sql; where it lives and how it is written:
analytics.collections_db, `<data>/collections.duckdb` or PostgreSQL when AR_COLLECTIONS_URL is set):
    item_events     one row per qualification of one document (event_id, the event's fields, who, when)
    actions         one row per action on a customer, with the documents it concerns (a list)
    imports         the files of events imported, by checksum (a file is imported once)
    coaching_notes  one row per note of a team lead on a collector, with its objectives (a list)
    scenarios, scenario_steps, scenario_rule_sets, scenario_rules, scenario_assignments,
    scenario_step_log, scenario_runs, scenario_settings, customer_contacts
                    recovery scenarios and what was done of them (analytics.scenarios owns them:
                    their tables), written through `append` or with a submission
    schema_version  the schema versions applied to the database
written only through `CollectionsDB` (one per process), each submission in one transaction, the checks
that recorded rows decide (a resolution needs an open dispute) made inside it. Nothing is
updated in place: an item's state is the one its latest event on or before the as-of date set
(`STATE_AFTER`). Every row has its business date (`event_date`, `action_date`: the as-of date it was
submitted at), who recorded it (`user_name`) and when (`recorded_at`, UTC); a row imported from another
tool's history keeps who recorded it there in `original_author` (null otherwise): the importing user is
the one who recorded it here.

Rules (DESIGN.md's "Collector" and "Credit manager"):
- A promise to pay is KEPT when cash and credit-note payments on its document, from the day it was
  recorded to promised_date + grace (default 3 days), reach the promised amount, or settle the
  document in full; BROKEN when that day has passed without it; OPEN until then. Payments after the
  as-of date are unknown at that date, so a past as-of date gives the same answer whatever today is.
- Input is checked before anything is written (`CollectionsRefused` lists every problem, naming the
  field): the item must be open at the event's date and its customer in the user's scope; a promised
  date or expected resolution not in the past; promised and disputed amounts positive and not above
  the item's open amount; enumerated fields within their allowed values; a comment for a dispute, a
  resolution, litigation and a bad-debt proposal; a resolution only of an open dispute.

The allowed values live here rather than in `contract` because they are not imported ERP data; they
would move there if the events ever became an imported table of their own.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from analytics import clock, collections_db, contract, export, ingest, labels
from analytics.aging import aged_items

# Re-exported: the app and the commands catch them as collections.CollectionsBusy, ...
from analytics.collections_db import CollectionsBusy, CollectionsUnreachable, Conflict  # noqa: F401
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store, query

FILE_NAME = "collections.duckdb"
# 1: item_events, actions, imports. 2: coaching_notes (created on opening a file of version 1).
# 3: the tables of recovery scenarios (created on opening an older file).
# 4: original_author of item_events and actions (added on opening an older file), with
# scenario_steps.attach_statement (false by default: readable by version 4). All in one schema file a
# back end (queries/collections_schema.sql, collections_schema.pg.sql), applied on opening.
SCHEMA_VERSION = 4
PROMISE_GRACE_DAYS = 3
ZERO = Decimal("0.00")

QUALIFICATIONS = (
    "promise_to_pay",
    "disputed",
    "dispute_resolved",
    "litigation",
    "bad_debt_proposed",
    "cleared",
)
DISPUTE_REASONS = ("price", "quality", "delivery", "billing_error", "duplicate", "other")
RESOLUTION_OUTCOMES = ("credit_note_to_issue", "customer_to_pay", "partially_justified", "other")
ACTION_TYPES = ("call", "email", "letter", "registered_letter", "sms", "meeting", "note")
ACTION_OUTCOMES = (
    "reached",
    "no_answer",
    "promise_obtained",
    "dispute_raised",
    "wrong_contact",
    "left_message",
    "other",
)
STATES = ("none", "promise_to_pay", "disputed", "litigation", "bad_debt_proposed")
PROMISE_STATUSES = ("open", "kept", "broken")
# The state an item is in after each qualification event: a resolution or a clearing ends it.
STATE_AFTER = {
    "promise_to_pay": "promise_to_pay",
    "disputed": "disputed",
    "dispute_resolved": "none",
    "litigation": "litigation",
    "bad_debt_proposed": "bad_debt_proposed",
    "cleared": "none",
}
COMMENT_REQUIRED = {
    "disputed": "a dispute",
    "dispute_resolved": "a dispute resolution",
    "litigation": "litigation",
    "bad_debt_proposed": "a bad-debt proposal",
}
DISPUTE_AGE_BANDS = ((30, "0-30"), (60, "31-60"), (90, "61-90"))
DISPUTE_AGE_OVER = "+90"
SOURCES = ("app", "import", "demo")
# What a coaching objective can measure (analytics.coaching measures each, by the same name) and how.
OBJECTIVE_METRICS = (
    "over_90",
    "overdue",
    "pct_overdue",
    "coverage_30",
    "promise_kept_rate",
    "actions_per_day",
)
COMPARISONS = ("<=", ">=")

ITEM_EVENT_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.Int64(),
    "submission_id": pl.String(),
    "document_id": pl.String(),
    "customer_id": pl.String(),
    "event_type": pl.String(),
    "event_date": pl.Date(),
    "promised_date": pl.Date(),
    "promised_amount": contract.MONEY,
    "dispute_reason": pl.String(),
    "disputed_amount": contract.MONEY,
    "internal_owner": pl.String(),
    "expected_resolution": pl.Date(),
    "outcome": pl.String(),
    "comment": pl.String(),
    "user_name": pl.String(),
    "recorded_at": pl.Datetime("us"),
    "source": pl.String(),
    "original_author": pl.String(),
}
OBJECTIVE_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String(),
    "comparison": pl.String(),
    "target": contract.MONEY,
    "due_date": pl.Date(),
    "text": pl.String(),
}
NOTE_SCHEMA: dict[str, pl.DataType] = {
    "note_id": pl.Int64(),
    "collector": pl.String(),
    "note_date": pl.Date(),
    "period": pl.String(),
    "comment": pl.String(),
    "objectives": pl.List(pl.Struct(OBJECTIVE_SCHEMA)),
    "user_name": pl.String(),
    "recorded_at": pl.Datetime("us"),
    "source": pl.String(),
}
ACTION_SCHEMA: dict[str, pl.DataType] = {
    "action_id": pl.Int64(),
    "submission_id": pl.String(),
    "customer_id": pl.String(),
    "action_type": pl.String(),
    "outcome": pl.String(),
    "contact_person": pl.String(),
    "comment": pl.String(),
    "next_action_date": pl.Date(),
    "document_ids": pl.List(pl.String()),
    "action_date": pl.Date(),
    "user_name": pl.String(),
    "recorded_at": pl.Datetime("us"),
    "source": pl.String(),
    "original_author": pl.String(),
}
# The fields of each qualification that are kept; the others are left empty.
EVENT_FIELDS = {
    "promise_to_pay": ("promised_date", "promised_amount"),
    "disputed": ("dispute_reason", "disputed_amount", "internal_owner", "expected_resolution"),
    "dispute_resolved": ("outcome",),
    "litigation": (),
    "bad_debt_proposed": (),
    "cleared": (),
}
DETAIL_FIELDS = (
    "promised_date",
    "promised_amount",
    "dispute_reason",
    "disputed_amount",
    "internal_owner",
    "expected_resolution",
    "outcome",
)

# The file of `export_events` and `import_events` (`python -m analytics actions export/import`): one
# row per qualification or action; an action's documents separated by ";". id, recorded_at and source
# are written for reference and ignored on import (an import records its own). An imported row is
# recorded by the importing user; the file's original_author, else its user_name, when another's, is
# kept as the row's original_author.
EXCHANGE = contract.Table(
    "collections_events",
    key=None,
    columns=(
        contract.Column("kind", "text", required=True, allowed=("qualification", "action")),
        contract.Column("id", "integer"),
        contract.Column("date", "date", required=True),
        contract.Column("customer_id", "text"),
        contract.Column("document_ids", "text"),
        contract.Column("type", "text", required=True),
        contract.Column("outcome", "text"),
        contract.Column("promised_date", "date"),
        contract.Column("promised_amount", "money"),
        contract.Column("dispute_reason", "text"),
        contract.Column("disputed_amount", "money"),
        contract.Column("internal_owner", "text"),
        contract.Column("expected_resolution", "date"),
        contract.Column("contact_person", "text"),
        contract.Column("next_action_date", "date"),
        contract.Column("comment", "text"),
        contract.Column("user_name", "text"),
        contract.Column("original_author", "text"),
        contract.Column("recorded_at", "text"),
        contract.Column("source", "text"),
    ),
)
DOCUMENT_SEPARATOR = ";"

# Internal columns of the frames checked before writing.
ROW = ingest.ROW
_PROBLEM_SCHEMA = {"source": pl.String(), "row": pl.Int64(), "column": pl.String(), "message": pl.String()}
_REFERENCE_CACHE_SIZE = 16


class CollectionsRefused(Exception):
    """A submission was refused; nothing was written. `messages` name the item or action and the field."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("Refused, nothing was written:\n" + "\n".join(f"- {m}" for m in messages))


@dataclass(frozen=True)
class Qualification:
    """A qualification event on one open item. Only the fields of its event_type are kept (EVENT_FIELDS);
    an amount left at None means the item's whole open amount."""

    document_id: str
    event_type: str
    comment: str = ""
    promised_date: date | None = None
    promised_amount: Decimal | None = None
    dispute_reason: str | None = None
    disputed_amount: Decimal | None = None
    internal_owner: str | None = None
    expected_resolution: date | None = None
    # For dispute_resolved: one of RESOLUTION_OUTCOMES.
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
class Objective:
    """A measurable objective of a coaching note: `metric` (one of OBJECTIVE_METRICS) `comparison`
    (<= or >=) `target` by `due_date`, e.g. over_90 <= 50000.00 by 2026-11-30; `text` says it in words."""

    metric: str
    comparison: str
    target: Decimal
    due_date: date
    text: str = ""


@dataclass(frozen=True)
class CoachingNote:
    """A team lead's note on a collector: a comment and objectives for the next period (`period`: the
    period the lead was looking at, week, month or quarter, kept for reference)."""

    collector: str
    comment: str = ""
    objectives: tuple[Objective, ...] = ()
    period: str | None = None


@dataclass(frozen=True)
class SubmitResult:
    submission_id: str
    event_ids: tuple[int, ...]
    action_id: int | None
    recorded_at: datetime


@dataclass(frozen=True)
class ImportedEvents:
    """What an import of a file of events wrote."""

    file_name: str
    item_events: int
    actions: int

    def summary(self) -> str:
        return (
            f"{self.item_events:,} qualification{'s' if self.item_events != 1 else ''} and "
            f"{self.actions:,} action{'s' if self.actions != 1 else ''} imported from {self.file_name}"
        )


@dataclass(frozen=True)
class Reference:
    """What input is checked against: the items open at the dates the input speaks of (check_date,
    document_id, customer_id, open_amount_functional) and every customer with whether the user's scope
    covers it (customer_id, in_scope)."""

    open_items: pl.DataFrame
    customers: pl.DataFrame


def utc_now() -> datetime:
    """The current UTC time, naive (as every timestamp of the project is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _label_of(column: str) -> pl.Expr:
    """A code column's values as their labels (analytics.labels), for the sentences a person reads."""
    return pl.col(column).replace_strict(labels.VALUES, default=pl.col(column), return_dtype=pl.String)


def _between(frame: pl.DataFrame, column: str, since: date | None, until: date | None) -> pl.DataFrame:
    if since is not None:
        frame = frame.filter(pl.col(column) >= since)
    if until is not None:
        frame = frame.filter(pl.col(column) <= until)
    return frame


class _Mirror:
    """One append-only table of the collections database (item events, actions) held in memory for
    every reader of the process: read whole once, then only the rows after the last id it holds, and
    whole again once a history was replaced. A save then costs its readers the save's rows, not the
    table's. Ids grow in the order the process's one writer commits them, so the rows after the
    last id held are exactly the ones not held yet."""

    def __init__(
        self, after_query: str, key: str, day: str, mark: int, schema: dict[str, pl.DataType]
    ) -> None:
        # mark: the place of the table's last id in CollectionsDB.marks(); day: its business date.
        self.after_query, self.key, self.order, self.mark, self.schema = (
            after_query,
            key,
            [day, key],
            mark,
            schema,
        )
        self._lock = threading.Lock()
        self._held: tuple[int, int, pl.DataFrame] | None = None  # (replacements, last id, rows)

    def rows(self, db: CollectionsDB) -> pl.DataFrame:
        """The table's rows as the database has them now, oldest first."""
        with self._lock:
            marks = db.marks()
            replaced, last = marks[0], marks[self.mark]
            held = self._held
            if held is not None and held[0] == replaced and held[1] >= last:
                return held[2]
            start = held[1] if held is not None and held[0] == replaced else 0
            fresh = db.read(self.after_query, after=start).cast(self.schema)
            if db.marks()[0] != replaced:  # replaced while being read: not a continuation any more
                start, fresh = 0, db.read(self.after_query, after=0).cast(self.schema)
                replaced = db.marks()[0]
            rows = fresh if start == 0 else pl.concat([held[2], fresh]).sort(self.order)
            newest = rows.get_column(self.key).max() if rows.height else 0
            self._held = (replaced, max(last, int(newest or 0)), rows)
            return rows


class CollectionsDB:
    """The collections database of a data folder behind its back end (analytics.collections_db): the
    embedded file, or PostgreSQL when AR_COLLECTIONS_URL is set. Safe to share between threads (the
    app keeps one per data folder). Only one process can open the embedded file; with PostgreSQL any
    number of processes work at once."""

    def __init__(self, path: str | os.PathLike[str], *, url: str | None = None) -> None:
        self.path = Path(path).resolve()
        self._cache_lock = threading.Lock()
        self._references: OrderedDict[tuple, Reference] = OrderedDict()
        self.backend = collections_db.open_backend(self.path, url)
        try:
            collections_db.migrate(self.backend, SCHEMA_VERSION, utc_now())
            self.backend.start()
        except BaseException:
            self.backend.close()
            raise
        self._events = _Mirror(
            "collections_item_events_after", "event_id", "event_date", 1, ITEM_EVENT_SCHEMA
        )
        self._actions = _Mirror("collections_actions_after", "action_id", "action_date", 2, ACTION_SCHEMA)

    @classmethod
    def for_store(cls, store: Store) -> CollectionsDB:
        """The collections database of a store's data folder: PostgreSQL when AR_COLLECTIONS_URL is set
        in the environment, else <data>/collections.duckdb."""
        return cls(store.root / FILE_NAME, url=os.environ.get(collections_db.URL_VARIABLE) or None)

    @property
    def shared(self) -> bool:
        """Whether other processes may write the database at the same time (PostgreSQL)."""
        return self.backend.kind == "postgresql"

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> CollectionsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------

    def read(self, name: str, **params: object) -> pl.DataFrame:
        """The rows of queries/NAME.sql run over the collections database with bound parameters."""
        return self.backend.read(name, params)

    def events(
        self,
        *,
        document_ids: Sequence[str] | None = None,
        customer_ids: Sequence[str] | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> pl.DataFrame:
        """Item events (ITEM_EVENT_SCHEMA), oldest first, narrowed by any filter given."""
        frame = self._events.rows(self)
        if document_ids is not None and len(document_ids):
            frame = frame.filter(pl.col("document_id").is_in(list(document_ids)))
        if customer_ids is not None and len(customer_ids):
            frame = frame.filter(pl.col("customer_id").is_in(list(customer_ids)))
        return _between(frame, "event_date", since, until)

    def actions(
        self,
        *,
        customer_ids: Sequence[str] | None = None,
        document_ids: Sequence[str] | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> pl.DataFrame:
        """Actions (ACTION_SCHEMA), oldest first, narrowed by any filter given (a document filter keeps
        the actions naming any of the documents)."""
        frame = self._actions.rows(self)
        if customer_ids is not None and len(customer_ids):
            frame = frame.filter(pl.col("customer_id").is_in(list(customer_ids)))
        if document_ids is not None and len(document_ids):
            wanted = list(document_ids)
            frame = frame.filter(pl.col("document_ids").list.eval(pl.element().is_in(wanted)).list.any())
        return _between(frame, "action_date", since, until)

    def latest_actions(self, as_of: date, customer_ids: Sequence[str] | None = None) -> pl.DataFrame:
        """One row per customer (of `customer_ids` when given) with an action on or before `as_of`, by
        customer_id: its latest action (last_action_date, last_action_type, last_outcome,
        last_user_name, last_document_ids) and the next_action_date that action set."""
        return (
            self.actions(customer_ids=customer_ids, until=as_of)
            .unique("customer_id", keep="last")  # the actions come oldest first: the last is the latest
            .select(
                "customer_id",
                pl.col("action_date").alias("last_action_date"),
                pl.col("action_type").alias("last_action_type"),
                pl.col("outcome").alias("last_outcome"),
                pl.col("user_name").alias("last_user_name"),
                pl.col("document_ids").alias("last_document_ids"),
                "next_action_date",
            )
            .sort("customer_id")
        )

    def current_qualifications(self, as_of: date, document_ids: Sequence[str] | None = None) -> pl.DataFrame:
        """One row per document (of `document_ids` when given) with an event on or before `as_of`, in no
        particular order (read by document_id): its latest event (last_event_type, state_since: it sets the item's state), and the
        details of its latest promise to pay (promise_event_id, promise_recorded_on, promised_date,
        promised_amount) and of its latest dispute (dispute_opened_on, dispute_reason,
        disputed_amount, internal_owner, expected_resolution)."""
        events = self.events(document_ids=document_ids, until=as_of)  # oldest first

        def latest(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.unique("document_id", keep="last")

        promises = latest(events.filter(pl.col("event_type") == "promise_to_pay")).select(
            "document_id",
            pl.col("event_id").alias("promise_event_id"),
            pl.col("event_date").alias("promise_recorded_on"),
            "promised_date",
            "promised_amount",
        )
        disputes = latest(events.filter(pl.col("event_type") == "disputed")).select(
            "document_id",
            pl.col("event_date").alias("dispute_opened_on"),
            "dispute_reason",
            "disputed_amount",
            "internal_owner",
            "expected_resolution",
        )
        return (
            latest(events)
            .select(
                "document_id",
                "customer_id",
                pl.col("event_type").alias("last_event_type"),
                pl.col("event_date").alias("state_since"),
            )
            .join(promises, on="document_id", how="left")
            .join(disputes, on="document_id", how="left")
        )

    def item_actions(self, as_of: date, document_ids: Sequence[str] | None = None) -> pl.DataFrame:
        """One row per document (of `document_ids` when given) named by an action on or before
        `as_of`, in no particular order (read by document_id): the date of its latest action (last_action_date) and the
        next_action_date that action set."""
        named = (
            self.actions(document_ids=document_ids, until=as_of)
            .select("action_date", "next_action_date", pl.col("document_ids").alias("document_id"))
            .explode("document_id")
            .drop_nulls("document_id")
        )
        if document_ids is not None and len(document_ids):
            named = named.filter(pl.col("document_id").is_in(list(document_ids)))
        return named.unique(
            "document_id", keep="last"
        ).select(  # the actions come oldest first: the last is the latest
            "document_id", pl.col("action_date").alias("last_action_date"), "next_action_date"
        )

    def data_version(self) -> str:
        """A short key that changes whenever something is written, by any process (for caches)."""
        return self.backend.data_version()

    def marks(self) -> tuple[int, int, int]:
        """(histories replaced, last event id, last action id): where the item events and actions
        stand, for a reader that keeps what it derived from them and reads only what came after
        (`written_after`). A replaced history starts over, so that reader must too."""
        return self.backend.marks()

    def written_after(self, event_id: int, action_id: int) -> tuple[list[str], list[str]]:
        """The documents and the customers that the item events after `event_id` and the actions after
        `action_id` concern (an action concerns its customer and the documents it names)."""
        frame = self.read("collections_written_after", event_id=event_id, action_id=action_id)
        documents = frame.get_column("document_id").drop_nulls().unique().sort().to_list()
        customers = frame.get_column("customer_id").drop_nulls().unique().sort().to_list()
        return documents, customers

    # --- writing -------------------------------------------------------------------------------

    def submit(
        self,
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
        reference = self.reference(store, [as_of], scope)

        def refuse(problems: pl.DataFrame, completed: pl.DataFrame) -> None:
            found = messages + _mismatched_customers(completed, actions)
            if problems.height:
                found += _labelled(problems, completed)
            if found:
                raise CollectionsRefused(found)

        event_rows, action_rows = self._check_and_append(
            events, actions, reference, source="app", refuse=refuse, link_documents=True, linked=linked
        )
        return SubmitResult(
            submission_id=(event_rows if event_rows.height else action_rows)
            .get_column("submission_id")
            .first(),
            event_ids=tuple(event_rows.get_column("event_id").to_list()),
            action_id=action_rows.get_column("action_id").first() if action_rows.height else None,
            recorded_at=(event_rows if event_rows.height else action_rows).get_column("recorded_at").first(),
        )

    def _check_and_append(
        self,
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
        with self.backend.writing() as tx:
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
            first_event, first_action = self._append(
                tx, event_rows, action_rows, imported=imported, linked=linked
            )
        return (
            event_rows.with_columns(pl.col("event_id") + first_event),
            action_rows.with_columns(pl.col("action_id") + first_action),
        )

    def load_history(
        self, events: pl.DataFrame, actions: pl.DataFrame, *, replace: bool = False
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
        with self.backend.writing() as tx:
            self._append(tx, event_rows, action_rows, replace=replace)
        return event_rows.height, action_rows.height

    def _append(
        self,
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

    def append(self, statements: Sequence[tuple[str, dict[str, object]]]) -> None:
        """Run statements (queries/NAME.sql, bound parameters) in one transaction: the inserts of the
        append-only tables other modules own (analytics.scenarios). A statement that fails rolls
        them all back; a duplicate key (another session or process wrote it first) raises
        collections_db.Conflict."""
        with self.backend.writing() as tx:
            for name, params in statements:
                tx.execute(name, params)

    # --- coaching notes ------------------------------------------------------------------------

    def add_coaching_note(
        self, note: CoachingNote, *, store: Store, as_of: date, scope: Scope, user: str
    ) -> int:
        """Record a team lead's note on a collector at `as_of` (its note_date), or raise
        CollectionsRefused and write nothing: the collector must hold customers in the user's scope,
        the note must say something (a comment or an objective), each objective name a metric of
        OBJECTIVE_METRICS, a comparison of COMPARISONS, a target and a due date not before as_of.
        Returns the note's id. Notes are never changed: a new note follows an old one."""
        user = (user or "").strip()
        messages = [] if user else ["user_name: required (who records this)"]
        collector = (note.collector or "").strip()
        comment = (note.comment or "").strip() or None
        if not collector:
            messages.append("collector: required")
        else:
            con = store.connect()
            try:
                known = customers_in_scope(con, scope).get_column("collector").drop_nulls().unique()
            finally:
                con.close()
            if collector not in known.to_list():
                messages.append(f"collector: '{collector}' holds no customer in your scope")
        if comment is None and not note.objectives:
            messages.append("nothing to record: write a comment or set an objective")
        for position, objective in enumerate(note.objectives, start=1):
            label = f"objective {position}"
            if objective.metric not in OBJECTIVE_METRICS:
                messages.append(
                    f"{label}, metric: '{objective.metric}' is not one of: {', '.join(OBJECTIVE_METRICS)}"
                )
            if objective.comparison not in COMPARISONS:
                messages.append(
                    f"{label}, comparison: '{objective.comparison}' is not one of: {', '.join(COMPARISONS)}"
                )
            if objective.target is None:
                messages.append(f"{label}, target: required")
            if objective.due_date is None:
                messages.append(f"{label}, due_date: required")
            elif objective.due_date < as_of:
                messages.append(
                    f"{label}, due_date: {objective.due_date} is in the past (the note is of {as_of})"
                )
        if messages:
            raise CollectionsRefused(messages)
        row = {
            "collector": collector,
            "note_date": as_of,
            "period": note.period,
            "comment": comment,
            "objectives": [
                {
                    "metric": o.metric,
                    "comparison": o.comparison,
                    "target": Decimal(str(o.target)).quantize(ZERO),
                    "due_date": o.due_date,
                    "text": (o.text or "").strip() or None,
                }
                for o in note.objectives
            ],
            "user_name": user,
            "recorded_at": utc_now(),
            "source": "app",
        }
        with self.backend.writing() as tx:
            note_id = int(tx.read("collections_last_note_id").item(0, 0)) + 1
            tx.execute("collections_insert_coaching_note", {**row, "note_id": note_id})
        return note_id

    def coaching_notes(
        self, *, collectors: Sequence[str] | None = None, until: date | None = None
    ) -> pl.DataFrame:
        """Coaching notes (NOTE_SCHEMA), oldest first, of the collectors given (all when none) written
        on or before `until` (any date when None)."""
        frame = self.read("collections_coaching_notes", collectors=list(collectors or []), until=until)
        if frame.height and frame.schema["objectives"] != NOTE_SCHEMA["objectives"]:
            # PostgreSQL keeps the objectives as JSON: their amounts and dates come back as text.
            objectives = [[_objective(o) for o in listed] for listed in frame.get_column("objectives")]
            frame = frame.with_columns(pl.Series("objectives", objectives, dtype=NOTE_SCHEMA["objectives"]))
        return pl.concat([pl.DataFrame(schema=NOTE_SCHEMA), frame.cast(NOTE_SCHEMA)])

    # --- what input is checked against ---------------------------------------------------------

    def reference(self, store: Store, dates: Sequence[date], scope: Scope) -> Reference:
        """The open items at `dates` and the customers with their scope flag, kept for a few
        (store version, dates, scope) keys: a store's generation never changes once written."""
        key = (str(store.root), store.version(), tuple(sorted(set(dates))), scope)
        with self._cache_lock:
            if key in self._references:
                self._references.move_to_end(key)
                return self._references[key]
        con = store.connect()
        try:
            in_scope = customers_in_scope(con, scope).get_column("customer_id")
            customers = store.read(contract.CUSTOMERS).select(
                "customer_id", pl.col("customer_id").is_in(in_scope.implode()).alias("in_scope")
            )
            reference = Reference(open_items_at(store, sorted(set(dates)), con), customers)
        finally:
            con.close()
        with self._cache_lock:
            self._references[key] = reference
            while len(self._references) > _REFERENCE_CACHE_SIZE:
                self._references.popitem(last=False)
        return reference


def _objective(record: dict) -> dict[str, object]:
    """An objective read from JSON, its target and due date typed again."""
    target, due = record.get("target"), record.get("due_date")
    return {
        **record,
        "target": None if target is None else Decimal(str(target)),
        "due_date": None if due is None else date.fromisoformat(due),
    }


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
        return pl.DataFrame(schema=_PROBLEM_SCHEMA)
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
        return events, pl.DataFrame(schema=_PROBLEM_SCHEMA)
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
        return pl.DataFrame(schema=_PROBLEM_SCHEMA)
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
        return pl.DataFrame(schema=_PROBLEM_SCHEMA)
    checked = actions.with_columns(*_action_normalisation()).join(
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
def _action_normalisation() -> tuple[pl.Expr, ...]:
    return (
        _normalised("action_type"),
        _normalised("outcome"),
        _blank("comment"),
        _blank("contact_person"),
        _blank("user_name"),
    )


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
        ordered.select(list(_EVENT_INPUT_SCHEMA)).cast(_EVENT_INPUT_SCHEMA), reference
    )
    event_problems = pl.concat([event_problems, check_resolutions(completed, prior)])
    logged = actions.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    action_problems = check_actions(
        logged.select(list(_ACTION_INPUT_SCHEMA)).cast(_ACTION_INPUT_SCHEMA), reference
    )
    return pl.concat([event_problems, action_problems]).sort("source", "row")


# --- building rows ---------------------------------------------------------------------------------

_EVENT_INPUT_SCHEMA = {
    ROW: pl.Int64(),
    "document_id": pl.String(),
    "customer_id": pl.String(),
    "event_type": pl.String(),
    "event_date": pl.Date(),
    "promised_date": pl.Date(),
    "promised_amount": contract.MONEY,
    "dispute_reason": pl.String(),
    "disputed_amount": contract.MONEY,
    "internal_owner": pl.String(),
    "expected_resolution": pl.Date(),
    "outcome": pl.String(),
    "comment": pl.String(),
    "user_name": pl.String(),
}
_ACTION_INPUT_SCHEMA = {
    ROW: pl.Int64(),
    "customer_id": pl.String(),
    "action_type": pl.String(),
    "outcome": pl.String(),
    "contact_person": pl.String(),
    "comment": pl.String(),
    "next_action_date": pl.Date(),
    "document_ids": pl.List(pl.String()),
    "action_date": pl.Date(),
    "user_name": pl.String(),
}


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
        schema=_EVENT_INPUT_SCHEMA,
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
        schema=_ACTION_INPUT_SCHEMA,
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
    if events.is_empty():
        return pl.DataFrame(schema=ITEM_EVENT_SCHEMA)
    return (
        _with_original_author(events)
        .sort("event_date", ROW)
        .with_row_index("event_id")
        .with_columns(
            pl.lit(submission_id).alias("submission_id"),
            pl.lit(recorded_at).alias("recorded_at"),
            pl.lit(source).alias("source"),
        )
        .select([pl.col(n).cast(t) for n, t in ITEM_EVENT_SCHEMA.items()])
    )


def _action_rows(
    actions: pl.DataFrame, submission_id: str, recorded_at: datetime, source: str
) -> pl.DataFrame:
    """The rows to write, action_id numbered from 0 in date and input order."""
    if actions.is_empty():
        return pl.DataFrame(schema=ACTION_SCHEMA)
    return (
        _with_original_author(actions)
        .sort("action_date", ROW)
        .with_row_index("action_id")
        .with_columns(
            *_action_normalisation(),
            pl.lit(submission_id).alias("submission_id"),
            pl.lit(recorded_at).alias("recorded_at"),
            pl.lit(source).alias("source"),
        )
        .select([pl.col(n).cast(t) for n, t in ACTION_SCHEMA.items()])
    )


# --- what derives from the events ------------------------------------------------------------------


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


def _scoped_customers(con: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    return customers_in_scope(con, scope).select("customer_id", "customer_name", *contract.DIMENSIONS)


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
    customers = _scoped_customers(con, scope).select("customer_id", "customer_name", "collector")
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


HISTORY_COLUMNS = (
    "kind",
    "id",
    "submission_id",
    "date",
    "recorded_at",
    "customer_id",
    "document_ids",
    "type",
    "outcome",
    "details",
    "comment",
    "contact_person",
    "next_action_date",
    "user_name",
)


def history(
    db: CollectionsDB, *, document_ids: Sequence[str] | None = None, customer_id: str | None = None
) -> pl.DataFrame:
    """The story of items or of a customer, newest first: qualification events and actions in one list
    (HISTORY_COLUMNS; kind is 'qualification' or 'action', details a readable line of the event's
    fields, e.g. 'promised 400.00 by 2026-03-20')."""
    wanted = list(document_ids or [])
    customers = [customer_id] if customer_id else []
    events = db.events().filter(pl.col("document_id").is_in(wanted) | pl.col("customer_id").is_in(customers))
    actions = db.actions().filter(
        pl.col("document_ids").list.eval(pl.element().is_in(wanted)).list.any()
        | pl.col("customer_id").is_in(customers)
    )
    frame = pl.concat(
        [
            events.select(
                pl.lit("qualification").alias("kind"),
                pl.col("event_id").alias("id"),
                "submission_id",
                pl.col("event_date").alias("date"),
                "recorded_at",
                "customer_id",
                pl.concat_list("document_id").alias("document_ids"),
                pl.col("event_type").alias("type"),
                "outcome",
                "promised_date",
                "promised_amount",
                "dispute_reason",
                "disputed_amount",
                "internal_owner",
                "expected_resolution",
                pl.lit(None, pl.String).alias("contact_person"),
                pl.lit(None, pl.Date).alias("next_action_date"),
                "comment",
                "user_name",
                "original_author",
            ),
            actions.select(
                pl.lit("action").alias("kind"),
                pl.col("action_id").alias("id"),
                "submission_id",
                pl.col("action_date").alias("date"),
                "recorded_at",
                "customer_id",
                "document_ids",
                pl.col("action_type").alias("type"),
                "outcome",
                pl.lit(None, pl.Date).alias("promised_date"),
                pl.lit(None, contract.MONEY).alias("promised_amount"),
                pl.lit(None, pl.String).alias("dispute_reason"),
                pl.lit(None, contract.MONEY).alias("disputed_amount"),
                pl.lit(None, pl.String).alias("internal_owner"),
                pl.lit(None, pl.Date).alias("expected_resolution"),
                "contact_person",
                "next_action_date",
                "comment",
                "user_name",
                "original_author",
            ),
        ]
    ).sort(["date", "recorded_at", "kind", "id"], descending=True)
    kind = pl.col("type")

    def part(label: str, column: str) -> pl.Expr:
        return pl.when(pl.col(column).is_not_null()).then(pl.format(label, pl.col(column).cast(pl.String)))

    details = (
        pl.when(kind == "promise_to_pay")
        .then(pl.format("promised {} by {}", pl.col("promised_amount"), pl.col("promised_date")))
        .when(kind == "disputed")
        .then(
            pl.concat_str(
                pl.format(
                    "{} dispute of {}",
                    _label_of("dispute_reason").str.to_lowercase(),
                    pl.col("disputed_amount"),
                ),
                part(", owner {}", "internal_owner"),
                part(", expected by {}", "expected_resolution"),
                ignore_nulls=True,
            )
        )
        .when(kind == "dispute_resolved")
        .then(pl.format("resolved: {}", _label_of("outcome").str.to_lowercase()))
        .when(kind == "litigation")
        .then(pl.lit("sent to litigation"))
        .when(kind == "bad_debt_proposed")
        .then(pl.lit("proposed as bad debt"))
        .when(kind == "cleared")
        .then(pl.lit("back to normal"))
        .otherwise(
            pl.concat_str(
                pl.format("{}: {}", kind, pl.col("outcome")),
                part(", contact {}", "contact_person"),
                part(", next action {}", "next_action_date"),
                ignore_nulls=True,
            )
        )
    )
    # Who recorded a row here, and whose it was in the tool its history was imported from.
    recorded_by = (
        pl.when(pl.col("original_author").is_not_null())
        .then(pl.format("{}, imported from {}'s history", pl.col("user_name"), pl.col("original_author")))
        .otherwise(pl.col("user_name"))
    )
    return frame.with_columns(details.alias("details"), recorded_by.alias("user_name")).select(
        HISTORY_COLUMNS
    )


TIMELINE_COLUMNS = (
    "submission_id",
    "date",
    "recorded_at",
    "kinds",
    "action_type",
    "outcome",
    "qualification",
    "documents",
    "details",
    "comment",
    "contact_person",
    "next_action_date",
    "user_name",
)


def timeline(db: CollectionsDB, customer_id: str) -> pl.DataFrame:
    """The customer's story, one row per submission, newest first (TIMELINE_COLUMNS): a dispute recorded
    on 8 invoices with a call is one line naming them. kinds: 'action' and/or 'qualification';
    action_type, outcome, contact_person, next_action_date: the submission's action (null without
    one); qualification: the event type given to its items; documents: the documents it concerns,
    comma-separated; details: its qualification's fields in words, each item's named when there are
    several ('I1: promised 400.00 by 2026-04-07; I2: ...'); recorded_at: when it
    was saved (UTC); user_name: who."""
    story = history(db, customer_id=customer_id)
    action = pl.col("kind") == "action"
    qualification = pl.col("kind") == "qualification"
    return (
        story.group_by("submission_id")
        .agg(
            pl.col("date").first(),
            pl.col("recorded_at").max(),
            pl.col("kind").unique().sort().alias("kinds"),
            pl.col("type").filter(action).first().alias("action_type"),
            pl.col("outcome").filter(action).first(),
            pl.col("type").filter(qualification).first().alias("qualification"),
            pl.col("document_ids")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .drop_nulls()
            .unique()
            .sort()
            .str.join(", ")
            .alias("documents"),
            pl.format("{}: {}", pl.col("document_ids").list.first(), pl.col("details"))
            .filter(qualification)
            .sort()
            .str.join("; ")
            .alias("details_by_document"),
            pl.col("details").filter(qualification).first().alias("details"),
            qualification.sum().alias("qualified"),
            pl.col("comment").drop_nulls().first(),
            pl.col("contact_person").filter(action).first(),
            pl.col("next_action_date").filter(action).first(),
            pl.col("user_name").first(),
            pl.col("id").max().alias("last_id"),
        )
        # Several items: each one's line, named (their amounts differ); one item: its line.
        .with_columns(
            pl.when(pl.col("qualified") > 1).then("details_by_document").otherwise("details").alias("details")
        )
        .sort(["date", "recorded_at", "last_id"], descending=True)
        .select(TIMELINE_COLUMNS)
    )


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


def _month_end(day: date) -> date:
    following = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return following - timedelta(days=1)


def _months_back(as_of: date, months: int) -> date:
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
    customers = _scoped_customers(con, scope)
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

    start = _months_back(as_of, months)
    events = db.events(until=as_of).join(
        customers.select("customer_id", "collector"), on="customer_id", how="inner"
    )
    resolutions = _resolutions(events).filter(pl.col("resolved_on") >= start)
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


def _resolutions(events: pl.DataFrame) -> pl.DataFrame:
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


def collector_activity(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
    months: int = 12,
) -> pl.DataFrame:
    """The work done, one row per (month, user_name) over the `months` to as_of, for the customers in
    scope (the team lead's coaching view): actions logged and how many of them were calls, emails and
    letters (registered or not); contacts reached (reached, promise_obtained, dispute_raised); promises
    obtained, and of those falling due that month, kept and broken; disputes raised and resolved;
    follow-ups (actions after one that set a next action date) and how many came after that date."""
    con = store.connect()
    start = _months_back(as_of, months)
    customers = _scoped_customers(con, scope).select("customer_id")
    actions = (
        db.actions(until=as_of)
        .join(customers, on="customer_id", how="semi")
        .sort("customer_id", "action_date", "action_id")
        .with_columns(pl.col("next_action_date").shift(1).over("customer_id").alias("planned"))
        .filter(pl.col("action_date") >= start)
        .with_columns(pl.col("action_date").dt.month_end().alias("month"))
    )
    events = (
        db.events(since=start, until=as_of)
        .join(customers, on="customer_id", how="semi")
        .with_columns(pl.col("event_date").dt.month_end().alias("month"))
    )
    outcomes = promise_outcomes(db, store, as_of, scope, grace_days=grace_days, con=con).filter(
        pl.col("deadline").is_between(start, as_of)
    )
    keys = ["month", "user_name"]
    reached = ("reached", "promise_obtained", "dispute_raised")
    parts = [
        actions.group_by(keys).agg(
            pl.len().alias("actions"),
            (pl.col("action_type") == "call").sum().alias("calls"),
            (pl.col("action_type") == "email").sum().alias("emails"),
            pl.col("action_type").is_in(["letter", "registered_letter"]).sum().alias("letters"),
            pl.col("outcome").is_in(list(reached)).sum().alias("reached"),
            pl.col("planned").is_not_null().sum().alias("follow_ups"),
            (pl.col("action_date") > pl.col("planned")).sum().alias("late_follow_ups"),
        ),
        events.group_by(keys).agg(
            (pl.col("event_type") == "promise_to_pay").sum().alias("promises_obtained"),
            (pl.col("event_type") == "disputed").sum().alias("disputes_raised"),
            (pl.col("event_type") == "dispute_resolved").sum().alias("disputes_resolved"),
        ),
        outcomes.group_by(pl.col("deadline").dt.month_end().alias("month"), "user_name").agg(
            (pl.col("promise_status") == "kept").sum().alias("promises_kept"),
            (pl.col("promise_status") == "broken").sum().alias("promises_broken"),
        ),
    ]
    grid = pl.concat([part.select(keys) for part in parts]).unique()
    for part in parts:
        grid = grid.join(part, on=keys, how="left")
    counts = [c for c in grid.columns if c not in keys]
    decided = pl.col("promises_kept") + pl.col("promises_broken")
    return (
        grid.with_columns(pl.col(counts).fill_null(0).cast(pl.UInt32))
        .with_columns(
            pl.when(decided > 0)
            .then((pl.col("promises_kept").cast(pl.Float64) / decided * 100).round(1))
            .alias("kept_rate"),
            pl.when(pl.col("follow_ups") > 0)
            .then((pl.col("late_follow_ups").cast(pl.Float64) / pl.col("follow_ups") * 100).round(1))
            .alias("late_follow_up_rate"),
        )
        .select(
            "month",
            "user_name",
            "actions",
            "calls",
            "emails",
            "letters",
            "reached",
            "promises_obtained",
            "promises_kept",
            "promises_broken",
            "kept_rate",
            "disputes_raised",
            "disputes_resolved",
            "follow_ups",
            "late_follow_ups",
            "late_follow_up_rate",
        )
        .sort("month", "user_name")
    )


# --- export and import -----------------------------------------------------------------------------


def export_events(db: CollectionsDB, since: date | None = None, until: date | None = None) -> pl.DataFrame:
    """Qualifications and actions in one table of EXCHANGE's columns (the file `import_events` reads),
    in date order."""
    events = db.events(since=since, until=until)
    actions = db.actions(since=since, until=until)
    stamp = "%Y-%m-%d %H:%M:%S"
    qualifications = events.select(
        pl.lit("qualification").alias("kind"),
        pl.col("event_id").alias("id"),
        pl.col("event_date").alias("date"),
        "customer_id",
        pl.col("document_id").alias("document_ids"),
        pl.col("event_type").alias("type"),
        *DETAIL_FIELDS,
        "comment",
        "user_name",
        "original_author",
        pl.col("recorded_at").dt.to_string(stamp),
        "source",
    )
    logged = actions.select(
        pl.lit("action").alias("kind"),
        pl.col("action_id").alias("id"),
        pl.col("action_date").alias("date"),
        "customer_id",
        pl.col("document_ids").list.join(DOCUMENT_SEPARATOR),
        pl.col("action_type").alias("type"),
        "outcome",
        "contact_person",
        "next_action_date",
        "comment",
        "user_name",
        "original_author",
        pl.col("recorded_at").dt.to_string(stamp),
        "source",
    )
    schema = EXCHANGE.schema | {"recorded_at": pl.String()}
    return (
        pl.concat([pl.DataFrame(schema=schema), qualifications, logged], how="diagonal_relaxed")
        .select(EXCHANGE.names)
        .cast(schema)
        .sort("date", "kind", "id", descending=[False, True, False])
    )


def import_events(
    db: CollectionsDB,
    path: str | os.PathLike[str],
    store: Store,
    *,
    user: str,
    scope: Scope = EVERYTHING,
    today: date | None = None,
    aliases: Sequence[str] = (),
    others_allowed: bool = True,
) -> ImportedEvents:
    """Import a CSV or XLSX file of EXCHANGE's columns (as `export_events` writes) with the rules of a
    submission, each row checked at its own date: all rows or none, else ImportRefused naming the file,
    row and column; a file already imported is refused. Every row is recorded by `user`; a row whose
    original_author (else user_name) is someone else than `user` or its `aliases` keeps that name as its
    original author, and is refused unless `others_allowed` (the importing user's role may import)."""
    path = Path(path)
    name = path.name
    file_format = ingest.FileFormat()
    # A CSV export of ours escaped formula-like text with an apostrophe: read it back as it was.
    raw = export.unescape_formulas(ingest.read_raw(path, file_format))
    typed, found = ingest.parse_columns(
        ingest.apply_mapping(raw, EXCHANGE, ingest.TableMapping(), name), EXCHANGE, file_format, name
    )
    today = today or clock.today()
    with open(path, "rb") as handle:  # streamed: the file may be as large as the import limits allow
        checksum = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
    problems = [
        ingest.Problem(name, row["row"], row["column"], row["message"])
        for frame in found
        for row in frame.iter_rows(named=True)
    ]
    for earlier in db.read("collections_imports_of_checksum", checksum=checksum).iter_rows(named=True):
        problems.append(
            ingest.Problem(
                name,
                None,
                None,
                f"this file was already imported by {earlier['user_name']} on {earlier['recorded_at']:%Y-%m-%d %H:%M}",
            )
        )
    future = typed.filter(pl.col("date") > today)
    problems += [
        ingest.Problem(name, row[ROW], "date", f"{row['date']} is in the future (today is {today})")
        for row in future.iter_rows(named=True)
    ]
    mine = {name.strip().lower() for name in (user, *aliases)}
    author = pl.coalesce("original_author", "user_name")
    typed = typed.with_columns(
        pl.when(author.str.to_lowercase().is_in(sorted(mine)).not_()).then(author).alias("original_author"),
        pl.lit(user.strip() or None, dtype=pl.String).alias("user_name"),
        pl.col("original_author").is_not_null().alias("__given_original"),
    )
    if not others_allowed:
        problems += [
            ingest.Problem(
                name,
                row[ROW],
                "original_author" if row["__given_original"] else "user_name",
                f"{row['original_author']!r} recorded this row, not {user}: only a role that may import "
                "data brings another's history",
            )
            for row in typed.filter(pl.col("original_author").is_not_null()).iter_rows(named=True)
        ]
    qualification_rows = typed.filter(pl.col("kind") == "qualification")
    several = qualification_rows.filter(pl.col("document_ids").str.contains(DOCUMENT_SEPARATOR, literal=True))
    problems += [
        ingest.Problem(name, row[ROW], "document_ids", "a qualification concerns exactly one document")
        for row in several.iter_rows(named=True)
    ]
    events = qualification_rows.select(
        pl.col(ROW).cast(pl.Int64),
        pl.col("document_ids").str.strip_chars().alias("document_id"),
        "customer_id",
        pl.col("type").alias("event_type"),
        pl.col("date").alias("event_date"),
        *DETAIL_FIELDS,
        "comment",
        "user_name",
        "original_author",
    ).cast(_EVENT_INPUT_SCHEMA)
    actions = (
        typed.filter(pl.col("kind") == "action")
        .select(
            pl.col(ROW).cast(pl.Int64),
            "customer_id",
            pl.col("type").alias("action_type"),
            "outcome",
            "contact_person",
            "comment",
            "next_action_date",
            pl.col("document_ids")
            .fill_null("")
            .str.split(DOCUMENT_SEPARATOR)
            .list.eval(pl.element().str.strip_chars().filter(pl.element() != "")),
            pl.col("date").alias("action_date"),
            "user_name",
            "original_author",
        )
        .cast(_ACTION_INPUT_SCHEMA)
    )
    dates = (
        pl.concat([events.get_column("event_date"), actions.get_column("action_date")]).drop_nulls().unique()
    )
    reference = db.reference(store, dates.sort().to_list(), scope)
    event_rows, action_rows = db._check_and_append(
        events,
        actions,
        reference,
        source="import",
        refuse=lambda found, _completed: _refuse_import(name, problems, found),
        imported={"file_name": name, "checksum": checksum, "user_name": user},
    )
    return ImportedEvents(name, event_rows.height, action_rows.height)


def _refuse_import(name: str, earlier: list[ingest.Problem], found: pl.DataFrame) -> None:
    problems = earlier + [
        ingest.Problem(name, row["row"], row["column"], row["message"]) for row in found.iter_rows(named=True)
    ]
    if problems:
        problems.sort(key=lambda p: (p.row or 0, p.column or ""))
        raise ingest.ImportRefused(problems)
