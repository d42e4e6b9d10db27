"""Coaching notes: a team lead's note on a collector, with measurable objectives for the next period,
kept in the collections data (analytics.collections; the coaching_notes table), never changed: a new
note follows an old one. analytics.coaching measures the objectives (by the names of
OBJECTIVE_METRICS) on the collector's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl

from analytics import contract
from analytics.collections import ZERO, CollectionsDB, CollectionsRefused, utc_now
from analytics.scope import Scope, customers_in_scope
from analytics.store import Store

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


def add_note(
    db: CollectionsDB, note: CoachingNote, *, store: Store, as_of: date, scope: Scope, user: str
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
    with db.backend.writing() as tx:
        note_id = int(tx.read("collections_last_note_id").item(0, 0)) + 1
        tx.execute("collections_insert_coaching_note", {**row, "note_id": note_id})
    return note_id


def notes(
    db: CollectionsDB, *, collectors: Sequence[str] | None = None, until: date | None = None
) -> pl.DataFrame:
    """Coaching notes (NOTE_SCHEMA), oldest first, of the collectors given (all when none) written
    on or before `until` (any date when None)."""
    frame = db.read("collections_coaching_notes", collectors=list(collectors or []), until=until)
    if frame.height and frame.schema["objectives"] != NOTE_SCHEMA["objectives"]:
        # PostgreSQL keeps the objectives as JSON: their amounts and dates come back as text.
        objectives = [[_objective(o) for o in listed] for listed in frame.get_column("objectives")]
        frame = frame.with_columns(pl.Series("objectives", objectives, dtype=NOTE_SCHEMA["objectives"]))
    return pl.concat([pl.DataFrame(schema=NOTE_SCHEMA), frame.cast(NOTE_SCHEMA)])


def _objective(record: dict) -> dict[str, object]:
    """An objective read from JSON, its target and due date typed again."""
    target, due = record.get("target"), record.get("due_date")
    return {
        **record,
        "target": None if target is None else Decimal(str(target)),
        "due_date": None if due is None else date.fromisoformat(due),
    }
