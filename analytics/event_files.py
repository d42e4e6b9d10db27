"""The file of qualifications and actions (`python -m analytics actions export/import`): the
collections data (analytics.collections) written to one table, and such a file, of this tool or of
another, imported with the rules of a submission: all its rows or none, a file once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from analytics import clock, contract, export, ingest, submission_checks, submissions
from analytics.collections import DETAIL_FIELDS, CollectionsDB
from analytics.scope import EVERYTHING, Scope
from analytics.store import Store
from analytics.submission_checks import ACTION_INPUT_SCHEMA, EVENT_INPUT_SCHEMA, ROW

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
    ).cast(EVENT_INPUT_SCHEMA)
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
        .cast(ACTION_INPUT_SCHEMA)
    )
    dates = (
        pl.concat([events.get_column("event_date"), actions.get_column("action_date")]).drop_nulls().unique()
    )
    reference = submission_checks.reference(store, dates.sort().to_list(), scope)
    event_rows, action_rows = submissions.write_checked(
        db,
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
