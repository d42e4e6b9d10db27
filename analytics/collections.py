"""The collections data: qualification events on open items and collection actions on customers,
their vocabulary (the allowed values, the row schemas) and `CollectionsDB`, the handle every reader
and writer goes through, with the story of items and customers (`history`, `timeline`).

The tables (queries/collections_schema.sql; where they live and how a transaction is run:
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
Item events and actions are written by analytics.submissions (each submission in one transaction,
after the checks of analytics.submission_checks). Nothing is updated in place: an item's state is the
one its latest event on or before the as-of date set (analytics.item_states). Every row has its
business date (`event_date`, `action_date`: the as-of date it was submitted at), who recorded it
(`user_name`) and when (`recorded_at`, UTC); a row imported from another tool's history keeps who
recorded it there in `original_author` (null otherwise): the importing user is the one who recorded
it here.

What derives from the data lives beside it: promises and their outcomes (analytics.promises), item
states (analytics.item_states), dispute figures (analytics.disputes), collector activity and coaching
(analytics.coaching), the file of events (analytics.event_files).

The allowed values live here rather than in `contract` because they are not imported ERP data; they
would move there if the events ever became an imported table of their own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl

from analytics import collections_db, contract, labels
from analytics.store import Store

FILE_NAME = "collections.duckdb"
# 1: item_events, actions, imports. 2: coaching_notes (created on opening a file of version 1).
# 3: the tables of recovery scenarios (created on opening an older file).
# 4: original_author of item_events and actions (added on opening an older file), with
# scenario_steps.attach_statement (false by default: readable by version 4). All in one schema file a
# back end (queries/collections_schema.sql, collections_schema.pg.sql), applied on opening.
SCHEMA_VERSION = 4
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
SOURCES = ("app", "import", "demo")

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


class CollectionsRefused(Exception):
    """A submission was refused; nothing was written. `messages` name the item or action and the field."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("Refused, nothing was written:\n" + "\n".join(f"- {m}" for m in messages))


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


def _naming_any(document_ids: Sequence[str]) -> pl.Expr:
    """Whether an action (a row of ACTION_SCHEMA) names any of the documents."""
    wanted = list(document_ids)
    return pl.col("document_ids").list.eval(pl.element().is_in(wanted)).list.any()


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
            frame = frame.filter(_naming_any(document_ids))
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

    def append(self, statements: Sequence[tuple[str, dict[str, object]]]) -> None:
        """Run statements (queries/NAME.sql, bound parameters) in one transaction: the inserts of the
        append-only tables other modules own (analytics.scenarios). A statement that fails rolls
        them all back; a duplicate key (another session or process wrote it first) raises
        collections_db.Conflict."""
        with self.backend.writing() as tx:
            for name, params in statements:
                tx.execute(name, params)


# --- what derives from the events ------------------------------------------------------------------


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
    actions = db.actions().filter(_naming_any(wanted) | pl.col("customer_id").is_in(customers))
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
