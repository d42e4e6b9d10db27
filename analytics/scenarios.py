"""Recovery scenarios: the framework of the friendly phase of collection. Owns the scenarios, their
assignment to customers, the engine that proposes each customer's due step at a date, the alerts, the
settings (penalties, alert thresholds, the sender of reminders), customers' contacts, and the
scheduled run. Stored in the collections database (its tables in queries/collections_schema.sql), append-only:
an edit writes a new version; the current one is the latest.

A scenario is an ordered list of steps: an offset in days from the due date of the customer's oldest
unsettled non-disputed item (negative: before it), an action type, a reminder template, a minimum
amount, automatic or to be confirmed, a minimum interval since the previous reminder. Its friendly
phase ends `friendly_phase_end_days` after that due date (90 at most); only internal escalation and
litigation handover steps come after it.

Assignment: a customer's explicit assignment, else the first rule in priority order matching one of
its dimensions (value compared without case or surrounding spaces), else the default scenario.
Archived scenarios are never assigned.

The engine, for a customer at date D (`positions`; `proposals` keeps the steps due):
- The customer's items are its open items of positive amount. Items in dispute, litigation or
  proposed as bad debt are out of the scenario (a resolved dispute brings the item back).
- The reference is the earliest due date of the remaining items; days_from_due = D - reference.
- An open promise to pay on one of them pauses the customer's scenario until the promised date plus
  grace; a broken promise ends the pause at once (a kept one settles the item).
- The cycle: the steps decided (confirmed or skipped) before D whose items include one still open.
  Steps go forward only: a step is due when its offset is after the last decided one and at most
  days_from_due, and the items it concerns reach its minimum amount. Of those, the latest is
  proposed (earlier ones it supersedes are not): one step at a time, never a step back. A step
  before the due date (offset <= 0) is not proposed once the due date has passed.
- A step concerns the items at least min(offset, 1) days past due: for a pre-due step, the items
  due within -offset days and the overdue ones; after the due date, every overdue item.
- Its due date is reference + offset, but not before the previous reminder (the latest call, e-mail,
  letter, registered letter, SMS or meeting logged before D) plus the step's minimum interval.
- `done` says the step was decided on D itself (the day's list stays the same all day).
- Customers past the end of their scenario's friendly phase are flagged (beyond_friendly_phase).

Decisions: `confirm` logs the step's action through submissions.submit (internal escalation and
litigation handover as a note; a handover also qualifies the items as litigation) and `skip` logs
a note; both record the step in scenario_step_log in the same transaction, with what was sent
(channel, recipient, subject, text) for a confirmation.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.message import EmailMessage
from pathlib import Path

import duckdb
import polars as pl

from analytics import contract, reminders, submissions
from analytics.aging import aged_items
from analytics.collections import CollectionsDB, CollectionsRefused, utc_now
from analytics.collections_db import Conflict
from analytics.item_states import item_states
from analytics.labels import ALERT_LABELS
from analytics.labels import STATUS_LABELS as STATUS_LABELS
from analytics.promises import PROMISE_GRACE_DAYS, promise_outcomes
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.settings import SettingsInvalid, smtp_of
from analytics.store import Store
from analytics.submissions import Action, Qualification, Submission, SubmitResult

ACTION_TYPES = (
    "email",
    "letter",
    "registered_letter",
    "call",
    "sms",
    "internal_escalation",
    "litigation_handover",
)
ACTION_LABELS = {
    "email": "e-mail",
    "letter": "letter",
    "registered_letter": "registered letter",
    "call": "call",
    "sms": "SMS",
    "internal_escalation": "internal escalation",
    "litigation_handover": "litigation handover",
}
# Steps that can go out without a collector: written reminders.
AUTOMATIC_ACTION_TYPES = ("email", "letter", "registered_letter")
# The only steps allowed after the end of the friendly phase.
AFTER_FRIENDLY_PHASE = ("internal_escalation", "litigation_handover")
# The action each step logs in the collections history (collections.ACTION_TYPES).
LOGGED_ACTION = {
    "email": "email",
    "letter": "letter",
    "registered_letter": "registered_letter",
    "call": "call",
    "sms": "sms",
    "internal_escalation": "note",
    "litigation_handover": "note",
}
# The actions that count as a reminder for the minimum interval between two reminders.
REMINDER_ACTION_TYPES = ("call", "email", "letter", "registered_letter", "sms", "meeting")
# Item states that take an item out of the scenario (item_states.STATES).
OUT_OF_SCENARIO_STATES = ("disputed", "litigation", "bad_debt_proposed")
MAX_FRIENDLY_PHASE_DAYS = 90
EARLIEST_OFFSET = -60
LATEST_OFFSET = 180
DECISIONS = ("confirmed", "skipped")
# How a confirmed step went out: by SMTP, as an .eml or PDF downloaded or written, or by hand.
CHANNELS = ("smtp", "eml", "pdf", "manual", "none")
# The outcome of an action logged for a written reminder (collections.ACTION_OUTCOMES).
SENT_OUTCOME = "other"
STATUSES = ("due", "waiting", "paused", "upcoming", "finished", "out_of_scenario", "no_scenario")
ALERT_KINDS = ("new_overdue", "broken_promise", "over_credit_limit", "large_overdue_no_action")
AMOUNT = "open_amount_functional"
ZERO = Decimal("0.00")
CENT = Decimal("0.01")

PROPOSAL_COLUMNS = (
    "customer_id",
    "customer_name",
    "scenario",
    "step",
    "action_type",
    "due_date",
    "items",
    "amount",
    "automatic",
    "done",
    "step_label",
    "decision",
    "document_ids",
    "scenario_id",
    "scenario_version",
    "offset_days",
    "template",
    "collector",
    "days_from_due",
    "beyond_friendly_phase",
)
POSITION_COLUMNS = (
    "customer_id",
    "customer_name",
    "collector",
    "scenario_id",
    "scenario",
    "scenario_version",
    "assignment",
    "assignment_reason",
    "status",
    "reason",
    "step",
    "step_label",
    "offset_days",
    "action_type",
    "template",
    "automatic",
    "min_interval_days",
    "due_date",
    "document_ids",
    "items",
    "amount",
    "open_amount",
    "reference_due_date",
    "days_from_due",
    "last_reminder_date",
    "paused_until",
    "beyond_friendly_phase",
    "decision",
    "done",
)
ALERT_COLUMNS = (
    "alert",
    "customer_id",
    "customer_name",
    "collector",
    "document_id",
    "amount",
    "date",
    "detail",
)


class ScenarioRefused(Exception):
    """A scenario, rule set, assignment or decision was refused; nothing was written."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("Refused, nothing was written:\n" + "\n".join(f"- {m}" for m in messages))


# --- scenarios --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a scenario. `offset_days` from the due date of the customer's oldest unsettled
    non-disputed item (negative: before it)."""

    offset_days: int
    action_type: str
    template: str
    min_amount: Decimal = ZERO
    automatic: bool = False
    min_interval_days: int = 0
    # An e-mail step: the customer's statement of account (analytics.statement) attached as a PDF.
    attach_statement: bool = False

    @property
    def label(self) -> str:
        """'+15 d call', '-15 d e-mail'."""
        return step_label(self.offset_days, self.action_type)


@dataclass(frozen=True)
class Scenario:
    """A recovery scenario at one version (0: not saved yet). Steps in offset order."""

    scenario_id: str | None
    name: str
    steps: tuple[Step, ...]
    friendly_phase_end_days: int = 60
    description: str = ""
    version: int = 0
    archived: bool = False
    user_name: str | None = None
    recorded_at: datetime | None = None


def step_label(offset_days: int, action_type: str) -> str:
    return f"{offset_days:+d} d {ACTION_LABELS.get(action_type, action_type)}"


def _step_label_expression() -> pl.Expr:
    sign = pl.when(pl.col("offset_days") >= 0).then(pl.lit("+")).otherwise(pl.lit(""))
    return pl.concat_str(
        sign,
        pl.col("offset_days").cast(pl.String),
        pl.lit(" d "),
        pl.col("action_type").replace_strict(ACTION_LABELS, default=pl.col("action_type")),
    )


def _steps(*rows: tuple[int, str, str, str, bool, int]) -> tuple[Step, ...]:
    return tuple(Step(o, a, t, Decimal(m), auto, i) for o, a, t, m, auto, i in rows)


# The scenarios written on first use (scenario_id, name, description, friendly phase end, steps:
# offset, action, template, minimum amount, automatic, minimum interval).
DEFAULT_SCENARIOS = (
    Scenario(
        "standard_b2b",
        "Standard B2B",
        _steps(
            (-15, "email", "pre_due_reminder", "0.00", True, 0),
            (5, "email", "first_reminder", "0.00", True, 5),
            (15, "call", "call_script", "0.00", False, 5),
            (30, "letter", "reminder_letter", "0.00", False, 7),
            (45, "registered_letter", "formal_notice", "100.00", False, 10),
            (60, "internal_escalation", "internal_escalation", "0.00", False, 7),
            (75, "litigation_handover", "litigation_handover", "500.00", False, 10),
        ),
        friendly_phase_end_days=60,
        description="Business customers: a reminder before the due date, then e-mail, call, letter, "
        "formal notice and escalation within 60 days; litigation at 75.",
    ),
    Scenario(
        "risky",
        "Risky customers",
        _steps(
            (-10, "email", "pre_due_reminder", "0.00", True, 0),
            (1, "email", "first_reminder", "0.00", True, 1),
            (7, "call", "call_script", "0.00", False, 3),
            (15, "letter", "reminder_letter", "0.00", False, 5),
            (21, "registered_letter", "formal_notice", "0.00", False, 5),
            (30, "internal_escalation", "internal_escalation", "0.00", False, 5),
            (45, "litigation_handover", "litigation_handover", "0.00", False, 7),
        ),
        friendly_phase_end_days=30,
        description="Risk class D: tighter, a call in the first week, formal notice at 21 days.",
    ),
    Scenario(
        "public_sector",
        "Public sector",
        _steps(
            (-15, "email", "pre_due_reminder", "0.00", True, 0),
            (10, "email", "first_reminder", "0.00", True, 7),
            (30, "call", "call_script", "0.00", False, 10),
            (45, "letter", "reminder_letter", "0.00", False, 10),
            (60, "email", "second_reminder", "0.00", False, 10),
            (75, "registered_letter", "formal_notice", "100.00", False, 10),
            (90, "internal_escalation", "internal_escalation", "0.00", False, 10),
        ),
        friendly_phase_end_days=90,
        description="Public bodies pay slowly but surely: softer and longer, no litigation handover.",
    ),
    Scenario(
        "export",
        "Export",
        _steps(
            (-20, "email", "pre_due_reminder", "0.00", True, 0),
            (7, "email", "first_reminder", "0.00", True, 7),
            (20, "call", "call_script", "0.00", False, 7),
            (35, "email", "second_reminder", "0.00", False, 7),
            (50, "registered_letter", "formal_notice", "100.00", False, 10),
            (75, "internal_escalation", "internal_escalation", "0.00", False, 10),
            (90, "litigation_handover", "litigation_handover", "1000.00", False, 10),
        ),
        friendly_phase_end_days=75,
        description="Foreign customers: an earlier pre-due reminder (transfers take longer), e-mail first.",
    ),
)


@dataclass(frozen=True)
class Rule:
    """Customers whose `dimension` has `value` get `scenario_id`."""

    dimension: str
    value: str
    scenario_id: str


@dataclass(frozen=True)
class Rules:
    """The assignment rules in priority order and the default scenario (version 0: never saved)."""

    rules: tuple[Rule, ...]
    default_scenario_id: str | None
    version: int = 0


DEFAULT_RULES = Rules(
    (
        Rule("risk_class", "D", "risky"),
        Rule("segment", "Public sector", "public_sector"),
        Rule("segment", "Export", "export"),
    ),
    "standard_b2b",
)


def ensure_defaults(db: CollectionsDB, user: str = "system") -> bool:
    """Write the default scenarios and rules on first use (an empty database); True when written."""
    if db.read("scenarios_current").height or db.read("scenarios_rules_current").height:
        return False
    now = utc_now()
    statements: list[tuple[str, dict[str, object]]] = []
    for scenario in DEFAULT_SCENARIOS:
        statements += _scenario_statements(replace(scenario, version=1), user, now)
    statements += _rules_statements(replace(DEFAULT_RULES, version=1), user, now)
    try:
        db.append(statements)
    except Conflict:
        # Another session of this process wrote them first.
        return False
    return True


def scenarios(db: CollectionsDB, *, include_archived: bool = False) -> list[Scenario]:
    """The current version of every scenario, by name (defaults written on first use)."""
    ensure_defaults(db)
    heads = db.read("scenarios_current")
    steps = db.read("scenarios_current_steps")
    found = []
    for head in heads.iter_rows(named=True):
        if head["archived"] and not include_archived:
            continue
        own = steps.filter(pl.col("scenario_id") == head["scenario_id"]).sort("step")
        found.append(
            Scenario(
                scenario_id=head["scenario_id"],
                name=head["name"],
                steps=tuple(
                    Step(
                        int(row["offset_days"]),
                        row["action_type"],
                        row["template"],
                        Decimal(row["min_amount"]),
                        bool(row["automatic"]),
                        int(row["min_interval_days"]),
                        bool(row["attach_statement"]),
                    )
                    for row in own.iter_rows(named=True)
                ),
                friendly_phase_end_days=int(head["friendly_phase_end_days"]),
                description=head["description"] or "",
                version=int(head["version"]),
                archived=bool(head["archived"]),
                user_name=head["user_name"],
                recorded_at=head["recorded_at"],
            )
        )
    return found


def scenario(db: CollectionsDB, scenario_id: str) -> Scenario:
    """The current version of one scenario (archived or not)."""
    for found in scenarios(db, include_archived=True):
        if found.scenario_id == scenario_id:
            return found
    raise ScenarioRefused([f"scenario_id: no scenario {scenario_id!r}"])


def scenario_versions(db: CollectionsDB, scenario_id: str) -> pl.DataFrame:
    """Every version of a scenario, newest first: version, name, friendly_phase_end_days, archived,
    steps, step_list, user_name, recorded_at."""
    return db.read("scenarios_versions", scenario_id=scenario_id)


def current_steps(db: CollectionsDB) -> pl.DataFrame:
    """The steps of the current version of every active scenario: scenario_id, scenario_version,
    scenario (its name), friendly_phase_end_days, step, offset_days, action_type, template,
    min_amount, automatic, min_interval_days, attach_statement, step_label."""
    rows = [
        {
            "scenario_id": s.scenario_id,
            "scenario_version": s.version,
            "scenario": s.name,
            "friendly_phase_end_days": s.friendly_phase_end_days,
            "step": position,
            "offset_days": step.offset_days,
            "action_type": step.action_type,
            "template": step.template,
            "min_amount": step.min_amount,
            "automatic": step.automatic,
            "min_interval_days": step.min_interval_days,
            "attach_statement": step.attach_statement,
        }
        for s in scenarios(db)
        for position, step in enumerate(s.steps, start=1)
    ]
    schema = {
        "scenario_id": pl.String(),
        "scenario_version": pl.Int64(),
        "scenario": pl.String(),
        "friendly_phase_end_days": pl.Int64(),
        "step": pl.Int64(),
        "offset_days": pl.Int64(),
        "action_type": pl.String(),
        "template": pl.String(),
        "min_amount": contract.MONEY,
        "automatic": pl.Boolean(),
        "min_interval_days": pl.Int64(),
        "attach_statement": pl.Boolean(),
    }
    return pl.DataFrame(rows, schema=schema).with_columns(_step_label_expression().alias("step_label"))


def check_scenario(candidate: Scenario, others: Sequence[Scenario] = ()) -> list[str]:
    """What is wrong with a scenario (empty: nothing), each message naming the field or the step."""
    messages = []
    name = candidate.name.strip()
    clash = next(
        (
            o
            for o in others
            if o.name.strip().lower() == name.lower()
            and o.scenario_id != candidate.scenario_id
            and not o.archived
        ),
        None,
    )
    if not name:
        messages.append("name: required")
    elif clash is not None:
        messages.append(f"name: another scenario is called {clash.name!r}")
    end = candidate.friendly_phase_end_days
    if not 1 <= end <= MAX_FRIENDLY_PHASE_DAYS:
        messages.append(
            f"friendly_phase_end_days: the friendly phase ends 1 to {MAX_FRIENDLY_PHASE_DAYS} days "
            f"after the due date, got {end}"
        )
    if not candidate.steps:
        messages.append("steps: a scenario needs at least one step")
    templates = set(reminders.template_names())
    seen: set[int] = set()
    for position, step in enumerate(candidate.steps, start=1):
        where = f"step {position}"
        if step.offset_days in seen:
            messages.append(f"{where}, offset_days: two steps at {step.offset_days:+d} days")
        seen.add(step.offset_days)
        if not EARLIEST_OFFSET <= step.offset_days <= LATEST_OFFSET:
            messages.append(
                f"{where}, offset_days: {step.offset_days} is outside {EARLIEST_OFFSET} to {LATEST_OFFSET} days"
            )
        if step.action_type not in ACTION_TYPES:
            messages.append(
                f"{where}, action_type: {step.action_type!r} is not one of: {', '.join(ACTION_TYPES)}"
            )
        elif step.offset_days > end and step.action_type not in AFTER_FRIENDLY_PHASE:
            messages.append(
                f"{where}: {step.label} comes after the end of the friendly phase ({end:+d} d); only "
                "an internal escalation or a litigation handover can"
            )
        if step.template not in templates:
            messages.append(
                f"{where}, template: {step.template!r} is not one of: {', '.join(sorted(templates))}"
            )
        if step.min_amount < 0:
            messages.append(f"{where}, min_amount: must not be negative, got {step.min_amount}")
        if step.min_interval_days < 0:
            messages.append(f"{where}, min_interval_days: must not be negative, got {step.min_interval_days}")
        if step.attach_statement and step.action_type != "email":
            messages.append(
                f"{where}, attach_statement: only an e-mail carries the statement of account, not a "
                f"{ACTION_LABELS.get(step.action_type, step.action_type)}"
            )
        if step.automatic and step.action_type not in AUTOMATIC_ACTION_TYPES:
            messages.append(
                f"{where}, automatic: only e-mails and letters go out on their own, not a "
                f"{ACTION_LABELS.get(step.action_type, step.action_type)}"
            )
    return messages


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_") or "scenario"


def save_scenario(
    db: CollectionsDB, candidate: Scenario, *, user: str, base_version: int | None = None
) -> Scenario:
    """Record `candidate` as the next version of its scenario (a new scenario when scenario_id is
    None), its steps sorted by offset; or raise ScenarioRefused. `base_version`: the version the edit
    started from, refused if another one was saved meanwhile."""
    user = (user or "").strip()
    existing = scenarios(db, include_archived=True)
    messages = [] if user else ["user_name: required (who records this)"]
    messages += check_scenario(candidate, existing)
    current = next((s for s in existing if s.scenario_id == candidate.scenario_id), None)
    if candidate.scenario_id is not None and current is None:
        messages.append(f"scenario_id: no scenario {candidate.scenario_id!r}")
    if current is not None and base_version is not None and current.version != base_version:
        messages.append(
            f"{current.name} was changed by {current.user_name} meanwhile (version {current.version}, "
            f"you edited version {base_version}): reload it"
        )
    if messages:
        raise ScenarioRefused(messages)
    scenario_id = candidate.scenario_id
    if scenario_id is None:
        taken = {s.scenario_id for s in existing}
        base = scenario_id = _slug(candidate.name)
        counter = 2
        while scenario_id in taken:
            scenario_id, counter = f"{base}_{counter}", counter + 1
    saved = replace(
        candidate,
        scenario_id=scenario_id,
        name=candidate.name.strip(),
        description=candidate.description.strip(),
        steps=tuple(sorted(candidate.steps, key=lambda s: s.offset_days)),
        version=(current.version if current else 0) + 1,
        user_name=user,
        recorded_at=utc_now(),
    )
    try:
        db.append(_scenario_statements(saved, user, saved.recorded_at))
    except Conflict:
        raise ScenarioRefused([f"{saved.name} was changed by someone else meanwhile: reload it"]) from None
    return saved


def copy_scenario(db: CollectionsDB, scenario_id: str, name: str, *, user: str) -> Scenario:
    """A new scenario with the steps of another, under a new name."""
    source = scenario(db, scenario_id)
    return save_scenario(
        db,
        replace(
            source, scenario_id=None, name=name, version=0, archived=False, description=source.description
        ),
        user=user,
    )


def archive_scenario(db: CollectionsDB, scenario_id: str, *, user: str) -> Scenario:
    """Retire a scenario (a new, archived version): no customer gets it any more."""
    current = scenario(db, scenario_id)
    return save_scenario(db, replace(current, archived=True), user=user, base_version=current.version)


def _scenario_statements(s: Scenario, user: str, now: datetime | None) -> list[tuple[str, dict[str, object]]]:
    statements: list[tuple[str, dict[str, object]]] = [
        (
            "scenarios_insert_scenario",
            {
                "scenario_id": s.scenario_id,
                "version": s.version,
                "name": s.name,
                "description": s.description or None,
                "friendly_phase_end_days": s.friendly_phase_end_days,
                "archived": s.archived,
                "user_name": user,
                "recorded_at": now,
            },
        )
    ]
    for position, step in enumerate(s.steps, start=1):
        statements.append(
            (
                "scenarios_insert_step",
                {
                    "scenario_id": s.scenario_id,
                    "version": s.version,
                    "step": position,
                    "offset_days": step.offset_days,
                    "action_type": step.action_type,
                    "template": step.template,
                    "min_amount": Decimal(step.min_amount).quantize(CENT),
                    "automatic": step.automatic,
                    "min_interval_days": step.min_interval_days,
                    "attach_statement": step.attach_statement,
                },
            )
        )
    return statements


STEP_EDITOR_SCHEMA = {
    "offset_days": pl.Int64(),
    "action_type": pl.String(),
    "template": pl.String(),
    "min_amount": pl.Float64(),
    "automatic": pl.Boolean(),
    "min_interval_days": pl.Int64(),
    "attach_statement": pl.Boolean(),
}


def steps_frame(steps: Sequence[Step]) -> pl.DataFrame:
    """Steps as a table to edit (STEP_EDITOR_SCHEMA; amounts as floats for the grid)."""
    return pl.DataFrame(
        [
            {
                "offset_days": s.offset_days,
                "action_type": s.action_type,
                "template": s.template,
                "min_amount": float(s.min_amount),
                "automatic": s.automatic,
                "min_interval_days": s.min_interval_days,
                "attach_statement": s.attach_statement,
            }
            for s in steps
        ],
        schema=STEP_EDITOR_SCHEMA,
    )


def default_template(action_type: str, offset_days: int) -> str:
    """The template a new step of this type and offset starts with."""
    if action_type == "email":
        return "pre_due_reminder" if offset_days <= 0 else "first_reminder"
    return {
        "letter": "reminder_letter",
        "registered_letter": "formal_notice",
        "call": "call_script",
        "sms": "sms_reminder",
        "internal_escalation": "internal_escalation",
        "litigation_handover": "litigation_handover",
    }.get(action_type, "first_reminder")


def steps_from_frame(frame: pl.DataFrame) -> tuple[Step, ...]:
    """Steps from an edited table (rows with no offset and no action are left out); a missing template
    is the action's default, other missing values are refused (ScenarioRefused names the row)."""
    messages = []
    found = []
    for position, row in enumerate(frame.iter_rows(named=True), start=1):
        offset, action = row.get("offset_days"), row.get("action_type")
        if offset is None and not action:
            continue
        if offset is None:
            messages.append(f"step {position}, offset_days: required")
            continue
        if not action:
            messages.append(f"step {position}, action_type: required")
            continue
        try:
            amount = Decimal(str(row.get("min_amount") or 0)).quantize(CENT)
        except InvalidOperation:
            messages.append(f"step {position}, min_amount: not a number: {row.get('min_amount')!r}")
            continue
        found.append(
            Step(
                int(offset),
                str(action),
                row.get("template") or default_template(str(action), int(offset)),
                amount,
                bool(row.get("automatic") or False),
                int(row.get("min_interval_days") or 0),
                bool(row.get("attach_statement") or False),
            )
        )
    if messages:
        raise ScenarioRefused(messages)
    return tuple(found)


# --- assignment ---------------------------------------------------------------------------------------


def rules(db: CollectionsDB) -> Rules:
    """The current assignment rules (defaults written on first use)."""
    ensure_defaults(db)
    frame = db.read("scenarios_rules_current")
    if frame.is_empty():
        return Rules((), None, 0)
    first = frame.row(0, named=True)
    return Rules(
        tuple(
            Rule(row["dimension"], row["value"], row["scenario_id"])
            for row in frame.filter(pl.col("priority").is_not_null()).sort("priority").iter_rows(named=True)
        ),
        first["default_scenario_id"],
        int(first["version"]),
    )


def save_rules(db: CollectionsDB, candidate: Rules, *, user: str, base_version: int | None = None) -> Rules:
    """Record the rule set as its next version; or raise ScenarioRefused."""
    user = (user or "").strip()
    messages = [] if user else ["user_name: required (who records this)"]
    active = {s.scenario_id: s.name for s in scenarios(db)}
    current = rules(db)
    if base_version is not None and current.version != base_version:
        messages.append(f"the rules were changed meanwhile (version {current.version}): reload them")
    for priority, rule in enumerate(candidate.rules, start=1):
        if rule.dimension not in contract.DIMENSIONS:
            messages.append(
                f"rule {priority}, dimension: {rule.dimension!r} is not one of: {', '.join(contract.DIMENSIONS)}"
            )
        if not (rule.value or "").strip():
            messages.append(f"rule {priority}, value: required")
        if rule.scenario_id not in active:
            messages.append(f"rule {priority}, scenario: {rule.scenario_id!r} is not an active scenario")
    if candidate.default_scenario_id is not None and candidate.default_scenario_id not in active:
        messages.append(f"default scenario: {candidate.default_scenario_id!r} is not an active scenario")
    if messages:
        raise ScenarioRefused(messages)
    saved = replace(
        candidate,
        rules=tuple(replace(r, value=r.value.strip()) for r in candidate.rules),
        version=current.version + 1,
    )
    try:
        db.append(_rules_statements(saved, user, utc_now()))
    except Conflict:
        raise ScenarioRefused(["the rules were changed by someone else meanwhile: reload them"]) from None
    return saved


def _rules_statements(r: Rules, user: str, now: datetime) -> list[tuple[str, dict[str, object]]]:
    statements: list[tuple[str, dict[str, object]]] = [
        (
            "scenarios_insert_rule_set",
            {
                "version": r.version,
                "default_scenario_id": r.default_scenario_id,
                "user_name": user,
                "recorded_at": now,
            },
        )
    ]
    for priority, rule in enumerate(r.rules, start=1):
        statements.append(
            (
                "scenarios_insert_rule",
                {
                    "version": r.version,
                    "priority": priority,
                    "dimension": rule.dimension,
                    "value": rule.value,
                    "scenario_id": rule.scenario_id,
                },
            )
        )
    return statements


def assign(db: CollectionsDB, store: Store, customer_id: str, scenario_id: str | None, *, user: str) -> None:
    """Assign a scenario to a customer explicitly (None: give the customer back to the rules)."""
    user = (user or "").strip()
    messages = [] if user else ["user_name: required (who records this)"]
    known = store.read(contract.CUSTOMERS).get_column("customer_id")
    if customer_id not in known.to_list():
        messages.append(f"customer_id: unknown customer {customer_id!r}")
    if scenario_id is not None and scenario_id not in {s.scenario_id for s in scenarios(db)}:
        messages.append(f"scenario: {scenario_id!r} is not an active scenario")
    if messages:
        raise ScenarioRefused(messages)
    db.append(
        [
            (
                "scenarios_insert_assignment",
                {
                    "customer_id": customer_id,
                    "scenario_id": scenario_id,
                    "user_name": user,
                    "recorded_at": utc_now(),
                },
            )
        ]
    )


def assignments(
    db: CollectionsDB,
    store: Store,
    scope: Scope = EVERYTHING,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """Who gets which scenario and why, one row per customer in scope: customer_id, customer_name,
    collector and the other dimensions, scenario_id, scenario, assignment (explicit / rule / default /
    none) and assignment_reason."""
    con = con or store.connect()
    customers = customers_in_scope(con, scope).select("customer_id", "customer_name", *contract.DIMENSIONS)
    active = {s.scenario_id: s.name for s in scenarios(db)}
    current = rules(db)
    explicit = (
        db.read("scenarios_assignments_current")
        .filter(pl.col("scenario_id").is_in(list(active)))
        .select(
            "customer_id",
            pl.col("scenario_id").alias("explicit_scenario_id"),
            pl.col("user_name").alias("assigned_by"),
            pl.col("recorded_at").cast(pl.Date).alias("assigned_on"),
        )
    )
    frame = customers.join(explicit, on="customer_id", how="left")
    chosen = pl.col("explicit_scenario_id")
    scenario_id = pl.when(chosen.is_not_null()).then(chosen)
    source = pl.when(chosen.is_not_null()).then(pl.lit("explicit"))
    reason = pl.when(chosen.is_not_null()).then(
        pl.format("assigned to this customer by {} on {}", pl.col("assigned_by"), pl.col("assigned_on"))
    )
    for priority, rule in enumerate(current.rules, start=1):
        if rule.scenario_id not in active or rule.dimension not in contract.DIMENSIONS:
            continue
        matches = pl.col(rule.dimension).str.strip_chars().str.to_lowercase() == rule.value.strip().lower()
        label = contract.DIMENSION_LABELS[rule.dimension].lower()
        scenario_id = scenario_id.when(matches).then(pl.lit(rule.scenario_id))
        source = source.when(matches).then(pl.lit("rule"))
        reason = reason.when(matches).then(pl.lit(f"rule {priority}: {label} is {rule.value}"))
    default = current.default_scenario_id if current.default_scenario_id in active else None
    scenario_id = scenario_id.otherwise(pl.lit(default, pl.String))
    source = source.otherwise(pl.lit("default" if default else "none"))
    reason = reason.otherwise(pl.lit("the default scenario" if default else "no rule matches and no default"))
    names = pl.DataFrame(
        {"scenario_id": list(active), "scenario": list(active.values())},
        schema={"scenario_id": pl.String(), "scenario": pl.String()},
    )
    return (
        frame.with_columns(
            scenario_id.alias("scenario_id"), source.alias("assignment"), reason.alias("assignment_reason")
        )
        .join(names, on="scenario_id", how="left")
        .select(
            "customer_id",
            "customer_name",
            *contract.DIMENSIONS,
            "scenario_id",
            "scenario",
            "assignment",
            "assignment_reason",
        )
        .sort("customer_name", "customer_id")
    )


# --- settings and contacts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Penalties shown in reminders, alert rules, and the sender of reminders.

    Alerts: items falling due unpaid since the previous run (`first_run_lookback_days` back when there
    is none), promises broken since then, customers over their credit limit (`credit_limit_alerts`),
    customers whose overdue amount is at least `large_overdue_amount` with no action for
    `no_action_days` days."""

    penalties_enabled: bool = False
    annual_interest_rate: Decimal = Decimal("10.00")
    fixed_fee: Decimal = Decimal("40.00")
    large_overdue_amount: Decimal = Decimal("10000.00")
    no_action_days: int = 14
    first_run_lookback_days: int = 7
    credit_limit_alerts: bool = True
    sender_name: str = "Accounts receivable"
    sender_address: str = ""
    sender_email: str = ""
    payment_details: str = ""
    version: int = 0

    @property
    def penalties(self) -> reminders.Penalties:
        return reminders.Penalties(self.penalties_enabled, self.annual_interest_rate, self.fixed_fee)

    @property
    def sender(self) -> reminders.Sender:
        return reminders.Sender(
            self.sender_name, self.sender_address, self.sender_email, self.payment_details
        )


_DECIMAL_SETTINGS = ("annual_interest_rate", "fixed_fee", "large_overdue_amount")


def settings(db: CollectionsDB) -> Settings:
    """The current settings (the defaults of Settings before any is saved)."""
    frame = db.read("scenarios_settings_current")
    if frame.is_empty():
        return Settings()
    row = frame.row(0, named=True)
    stored = json.loads(row["settings"])
    known = {f.name for f in fields(Settings)} - {"version"}
    values = {k: (Decimal(v) if k in _DECIMAL_SETTINGS else v) for k, v in stored.items() if k in known}
    return Settings(**values, version=int(row["version"]))


def save_settings(db: CollectionsDB, candidate: Settings, *, user: str) -> Settings:
    """Record the settings as their next version; or raise ScenarioRefused."""
    user = (user or "").strip()
    messages = [] if user else ["user_name: required (who records this)"]
    if candidate.annual_interest_rate < 0:
        messages.append("annual_interest_rate: must not be negative")
    if candidate.fixed_fee < 0:
        messages.append("fixed_fee: must not be negative")
    if candidate.large_overdue_amount <= 0:
        messages.append("large_overdue_amount: must be positive")
    if candidate.no_action_days < 1:
        messages.append("no_action_days: at least 1")
    if candidate.first_run_lookback_days < 1:
        messages.append("first_run_lookback_days: at least 1")
    if candidate.sender_email and not _looks_like_email(candidate.sender_email):
        messages.append(f"sender_email: {candidate.sender_email!r} is not an e-mail address")
    if messages:
        raise ScenarioRefused(messages)
    saved = replace(candidate, version=settings(db).version + 1)
    payload = {
        k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(saved).items() if k != "version"
    }
    try:
        db.append(
            [
                (
                    "scenarios_insert_settings",
                    {
                        "version": saved.version,
                        "settings": json.dumps(payload),
                        "user_name": user,
                        "recorded_at": utc_now(),
                    },
                )
            ]
        )
    except Conflict:
        raise ScenarioRefused(["the settings were changed by someone else meanwhile: reload them"]) from None
    return saved


def _looks_like_email(text: str) -> bool:
    return re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text.strip()) is not None


def contacts(db: CollectionsDB) -> pl.DataFrame:
    """Each customer's current contact for reminders: customer_id, contact_name, email, postal_address."""
    return db.read("scenarios_contacts_current").select(
        "customer_id", "contact_name", "email", "postal_address"
    )


def contact(db: CollectionsDB, customer_id: str) -> dict[str, str | None]:
    """A customer's contact (empty values when none is recorded)."""
    rows = contacts(db).filter(pl.col("customer_id") == customer_id).to_dicts()
    return (
        rows[0]
        if rows
        else {"customer_id": customer_id, "contact_name": None, "email": None, "postal_address": None}
    )


def save_contact(
    db: CollectionsDB,
    customer_id: str,
    *,
    user: str,
    email: str | None = None,
    contact_name: str | None = None,
    postal_address: str | None = None,
) -> None:
    """Record where a customer's reminders go (the latest contact holds)."""
    user = (user or "").strip()
    email = (email or "").strip() or None
    messages = [] if user else ["user_name: required (who records this)"]
    if email and not _looks_like_email(email):
        messages.append(f"email: {email!r} is not an e-mail address")
    if messages:
        raise ScenarioRefused(messages)
    db.append(
        [
            (
                "scenarios_insert_contact",
                {
                    "customer_id": customer_id,
                    "contact_name": (contact_name or "").strip() or None,
                    "email": email,
                    "postal_address": (postal_address or "").strip() or None,
                    "user_name": user,
                    "recorded_at": utc_now(),
                },
            )
        ]
    )


# --- the engine -----------------------------------------------------------------------------------------

_STEP_LOG_SCHEMA = {
    "log_id": pl.String(),
    "customer_id": pl.String(),
    "scenario_id": pl.String(),
    "scenario_version": pl.Int64(),
    "step": pl.Int64(),
    "offset_days": pl.Int64(),
    "action_type": pl.String(),
    "decision": pl.String(),
    "channel": pl.String(),
    "action_id": pl.Int64(),
    "document_ids": pl.List(pl.String()),
    "log_date": pl.Date(),
    "recipient": pl.String(),
    "subject": pl.String(),
    "content": pl.String(),
    "user_name": pl.String(),
    "recorded_at": pl.Datetime("us"),
}


def step_log(
    db: CollectionsDB, *, customer_ids: Sequence[str] | None = None, until: date | None = None
) -> pl.DataFrame:
    """The decisions on scenario steps, oldest first (what was confirmed or skipped, and sent)."""
    frame = db.read("scenarios_step_log", customer_ids=list(customer_ids or []), until=until)
    return pl.concat([pl.DataFrame(schema=_STEP_LOG_SCHEMA), frame.cast(_STEP_LOG_SCHEMA)])


def positions(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    items: pl.DataFrame | None = None,
    states: pl.DataFrame | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    grace_days: int = PROMISE_GRACE_DAYS,
) -> pl.DataFrame:
    """Where every customer in scope with a positive open item stands in its scenario at `as_of`
    (POSITION_COLUMNS): status (STATUSES) and why, the step due (or the next one ahead), its due date,
    the items it concerns and their amount (see the module's docstring). `items`: aging.aged_items
    at as_of for the scope, and `states`: item_states of those items, when the caller
    has them."""
    con = con or store.connect()
    if items is None:
        items = aged_items(store, as_of, scope, con)
    if states is None:
        states = item_states(db, store, as_of, scope, grace_days=grace_days, items=items, con=con)
    steps = current_steps(db)
    assigned = assignments(db, store, scope, con=con).select(
        "customer_id",
        "customer_name",
        "collector",
        "scenario_id",
        "scenario",
        "assignment",
        "assignment_reason",
    )
    positive = (
        items.filter(pl.col(AMOUNT) > 0, pl.col("document_type") != contract.UNAPPLIED_CASH)
        .select("customer_id", "document_id", "due_date", "days_past_due", AMOUNT)
        .join(
            states.select("document_id", "state", "promise_status", "promised_date"),
            on="document_id",
            how="left",
        )
    )
    eligible = positive.filter(~pl.col("state").fill_null("none").is_in(list(OUT_OF_SCENARIO_STATES)))
    held = positive.group_by("customer_id").agg(
        pl.col(AMOUNT).sum().cast(contract.MONEY).alias("open_amount")
    )
    reference = eligible.group_by("customer_id").agg(pl.col("due_date").min().alias("reference_due_date"))
    paused = (
        eligible.filter((pl.col("state") == "promise_to_pay") & (pl.col("promise_status") == "open"))
        .group_by("customer_id")
        .agg((pl.col("promised_date").max() + timedelta(days=grace_days)).alias("paused_until"))
    )
    logs = step_log(db, until=as_of)
    in_cycle = (
        logs.filter(pl.col("log_date") < as_of)
        .select("log_id", "customer_id", "scenario_id", "offset_days", "document_ids")
        .explode("document_ids")
        .rename({"document_ids": "document_id"})
        .join(positive.select("customer_id", "document_id"), on=["customer_id", "document_id"], how="semi")
        .group_by("customer_id", "scenario_id")
        .agg(pl.col("offset_days").max().alias("last_offset_done"))
    )
    today = (
        logs.filter(pl.col("log_date") == as_of)
        .sort("recorded_at")
        .group_by("customer_id", "scenario_id", "offset_days")
        .agg(pl.col("decision").last())
    )
    reminded = db.read(
        "scenarios_last_reminders", as_of=as_of, action_types=list(REMINDER_ACTION_TYPES)
    ).select("customer_id", pl.col("last_reminder_date").cast(pl.Date))
    phase = steps.select("scenario_id", "scenario_version", "friendly_phase_end_days").unique("scenario_id")
    base = (
        assigned.join(held, on="customer_id", how="inner")
        .join(reference, on="customer_id", how="left")
        .join(paused, on="customer_id", how="left")
        .join(in_cycle, on=["customer_id", "scenario_id"], how="left")
        .join(reminded, on="customer_id", how="left")
        .join(phase, on="scenario_id", how="left")
        .with_columns((pl.lit(as_of) - pl.col("reference_due_date")).dt.total_days().alias("days_from_due"))
    )
    started = base.filter(pl.col("reference_due_date").is_not_null(), pl.col("scenario_id").is_not_null())
    ahead = pl.col("last_offset_done").is_null() | (pl.col("offset_days") > pl.col("last_offset_done"))
    candidates = (
        started.select("customer_id", "scenario_id", "days_from_due", "last_offset_done")
        .join(steps.drop("scenario", "scenario_version", "friendly_phase_end_days"), on="scenario_id")
        .filter(
            ahead,
            pl.col("offset_days") <= pl.col("days_from_due"),
            # A reminder before the due date is stale once it has passed.
            (pl.col("offset_days") > 0) | (pl.col("days_from_due") <= 0),
        )
    )
    concerned = (
        candidates.select("customer_id", "step", "offset_days")
        .join(eligible.select("customer_id", "document_id", "days_past_due", AMOUNT), on="customer_id")
        .filter(pl.col("days_past_due") >= pl.min_horizontal(pl.col("offset_days"), pl.lit(1)))
        .group_by("customer_id", "step")
        .agg(
            pl.col("document_id").sort().alias("document_ids"),
            pl.len().cast(pl.Int64).alias("items"),
            pl.col(AMOUNT).sum().cast(contract.MONEY).alias("amount"),
        )
    )
    step_columns = [
        "step",
        "step_label",
        "offset_days",
        "action_type",
        "template",
        "automatic",
        "min_interval_days",
    ]
    due = (
        candidates.join(concerned, on=["customer_id", "step"], how="inner")
        .filter(pl.col("amount") >= pl.col("min_amount"))
        .sort(["customer_id", "offset_days"], descending=[False, True])
        .unique("customer_id", keep="first", maintain_order=True)
        .select(
            "customer_id", *step_columns, "document_ids", "items", "amount", pl.lit(True).alias("is_due_step")
        )
    )
    following = (
        started.select("customer_id", "scenario_id", "days_from_due", "last_offset_done")
        .join(steps.drop("scenario", "scenario_version", "friendly_phase_end_days"), on="scenario_id")
        .filter(ahead, pl.col("offset_days") > pl.col("days_from_due"))
        .sort(["customer_id", "offset_days"])
        .unique("customer_id", keep="first", maintain_order=True)
        .select("customer_id", *step_columns)
    )
    chosen = pl.concat(
        [due, following.join(due.select("customer_id"), on="customer_id", how="anti")], how="diagonal"
    )
    frame = base.join(chosen, on="customer_id", how="left").with_columns(
        pl.col("is_due_step").fill_null(False),
        pl.max_horizontal(
            pl.col("reference_due_date") + pl.duration(days=pl.col("offset_days")),
            pl.col("last_reminder_date") + pl.duration(days=pl.col("min_interval_days")),
            pl.col("paused_until") + timedelta(days=1),
        ).alias("due_date"),
    )
    frame = frame.join(
        today.rename({"offset_days": "decided_offset"}),
        left_on=["customer_id", "scenario_id", "offset_days"],
        right_on=["customer_id", "scenario_id", "decided_offset"],
        how="left",
    )
    status = (
        pl.when(pl.col("scenario_id").is_null())
        .then(pl.lit("no_scenario"))
        .when(pl.col("reference_due_date").is_null())
        .then(pl.lit("out_of_scenario"))
        .when(pl.col("step").is_null())
        .then(pl.lit("finished"))
        .when(pl.col("paused_until") >= as_of)
        .then(pl.lit("paused"))
        .when(pl.col("is_due_step") & (pl.col("due_date") <= as_of))
        .then(pl.lit("due"))
        .when(pl.col("is_due_step"))
        .then(pl.lit("waiting"))
        .otherwise(pl.lit("upcoming"))
    )
    frame = frame.with_columns(
        status.alias("status"),
        (pl.col("days_from_due") > pl.col("friendly_phase_end_days"))
        .fill_null(False)
        .alias("beyond_friendly_phase"),
    ).with_columns(
        pl.when(pl.col("status") == "due").then(pl.col("decision")).alias("decision"),
    )
    return (
        frame.with_columns(
            pl.col("decision").is_not_null().alias("done"),
            _reason().alias("reason"),
            pl.col("document_ids").fill_null(pl.lit([], pl.List(pl.String()))),
            pl.col("items").fill_null(0),
        )
        .select(
            *[pl.col(c) for c in POSITION_COLUMNS[:5]],
            pl.col("scenario_version").cast(pl.Int64),
            *[pl.col(c) for c in POSITION_COLUMNS[6:]],
        )
        .sort(
            pl.col("status").replace_strict(STATUSES, list(range(len(STATUSES)))),
            "due_date",
            "customer_name",
            "customer_id",
            nulls_last=True,
        )
    )


def _reason() -> pl.Expr:
    status = pl.col("status")
    oldest = pl.format(
        "oldest item due {} ({} days)", pl.col("reference_due_date"), pl.col("days_from_due").cast(pl.String)
    )
    return (
        pl.when(status == "no_scenario")
        .then(pl.lit("no scenario assigned: set a default scenario"))
        .when(status == "out_of_scenario")
        .then(pl.lit("every open item is in dispute, litigation or proposed as bad debt"))
        .when(status == "finished")
        .then(pl.concat_str(oldest, pl.lit("; no step left in the scenario")))
        .when(status == "paused")
        .then(pl.format("promise to pay: paused until {} (grace included)", pl.col("paused_until")))
        .when(status == "due")
        .then(
            pl.concat_str(
                oldest, pl.format("; {} due {}", pl.col("step_label"), pl.col("due_date")), separator=""
            )
        )
        .when(status == "waiting")
        .then(
            pl.format(
                "last reminder {}: {} waits until {} ({} days between reminders)",
                pl.col("last_reminder_date"),
                pl.col("step_label"),
                pl.col("due_date"),
                pl.col("min_interval_days").cast(pl.String),
            )
        )
        .otherwise(
            pl.concat_str(oldest, pl.format("; next: {} on {}", pl.col("step_label"), pl.col("due_date")))
        )
    )


def proposals(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    items: pl.DataFrame | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    grace_days: int = PROMISE_GRACE_DAYS,
) -> pl.DataFrame:
    """The steps due at `as_of` for the customers in scope, one row per customer (PROPOSAL_COLUMNS):
    customer_id, customer_name, scenario (its name), step (its position in the scenario), action_type,
    due_date, items (how many), amount, automatic, done (decided today), then step_label, decision
    (confirmed / skipped / null), document_ids, scenario_id, scenario_version, offset_days, template,
    collector, days_from_due, beyond_friendly_phase. Undecided first, by due date then amount."""
    return proposals_from(positions(db, store, as_of, scope, items=items, con=con, grace_days=grace_days))


def proposals_from(found: pl.DataFrame) -> pl.DataFrame:
    """The proposals (PROPOSAL_COLUMNS) among positions already computed."""
    return (
        found.filter(pl.col("status") == "due")
        .select(PROPOSAL_COLUMNS)
        .sort(["done", "due_date", "amount", "customer_id"], descending=[False, False, True, False])
    )


# --- decisions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """One proposed step (a row of `proposals`)."""

    customer_id: str
    customer_name: str
    scenario_id: str
    scenario: str
    scenario_version: int
    step: int
    step_label: str
    offset_days: int
    action_type: str
    template: str
    automatic: bool
    due_date: date
    document_ids: tuple[str, ...]
    amount: Decimal

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Proposal:
        return cls(
            customer_id=str(row["customer_id"]),
            customer_name=str(row["customer_name"]),
            scenario_id=str(row["scenario_id"]),
            scenario=str(row["scenario"]),
            scenario_version=int(row["scenario_version"]),
            step=int(row["step"]),
            step_label=str(row["step_label"]),
            offset_days=int(row["offset_days"]),
            action_type=str(row["action_type"]),
            template=str(row["template"]),
            automatic=bool(row["automatic"]),
            due_date=row["due_date"],
            document_ids=tuple(row["document_ids"] or ()),
            amount=Decimal(row["amount"]),
        )

    def describe(self) -> str:
        return f"{self.scenario}, step {self.step} ({self.step_label})"


def reminder(
    db: CollectionsDB,
    store: Store,
    proposal: Proposal,
    as_of: date,
    *,
    items: pl.DataFrame | None = None,
    current: Settings | None = None,
) -> reminders.Reminder:
    """The reminder of a proposed step, from its template, for its items at `as_of`."""
    current = current or settings(db)
    if items is None:
        items = aged_items(store, as_of, EVERYTHING)
    concerned = items.filter(pl.col("document_id").is_in(list(proposal.document_ids)))
    if concerned.is_empty():
        raise ScenarioRefused(
            [f"{proposal.customer_name}: the items of this step are no longer open at {as_of}"]
        )
    manifest = store.manifest()
    currency = manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY
    customer = {"customer_id": proposal.customer_id, "customer_name": proposal.customer_name}
    customer |= {k: v for k, v in contact(db, proposal.customer_id).items() if k != "customer_id"}
    return reminders.render(
        proposal.template,
        customer=customer,
        items=concerned,
        as_of=as_of,
        currency=currency,
        step={
            "scenario": proposal.scenario,
            "label": proposal.step_label,
            "action_type": proposal.action_type,
            "offset_days": proposal.offset_days,
        },
        penalties=current.penalties,
        sender=current.sender,
    )


def _already_decided(db: CollectionsDB, proposal: Proposal, as_of: date) -> list[str]:
    decided = step_log(db, customer_ids=[proposal.customer_id], until=as_of).filter(
        pl.col("log_date") == as_of,
        pl.col("scenario_id") == proposal.scenario_id,
        pl.col("offset_days") == proposal.offset_days,
    )
    return [
        f"{proposal.customer_name}: {proposal.step_label} was already {row['decision']} today by {row['user_name']}"
        for row in decided.iter_rows(named=True)
    ]


def _log_statement(
    proposal: Proposal,
    *,
    decision: str,
    channel: str,
    as_of: date,
    user: str,
    message: reminders.Reminder | None = None,
) -> tuple[str, dict[str, object]]:
    return (
        "scenarios_insert_step_log",
        {
            "log_id": str(uuid.uuid4()),
            "customer_id": proposal.customer_id,
            "scenario_id": proposal.scenario_id,
            "scenario_version": proposal.scenario_version,
            "step": proposal.step,
            "offset_days": proposal.offset_days,
            "action_type": proposal.action_type,
            "decision": decision,
            "channel": channel,
            "document_ids": list(proposal.document_ids),
            "log_date": as_of,
            "recipient": message.recipient if message else None,
            "subject": message.subject if message else None,
            "content": message.text if message else None,
            "user_name": user,
            "recorded_at": utc_now(),
        },
    )


def confirm(
    db: CollectionsDB,
    store: Store,
    proposal: Proposal,
    *,
    as_of: date,
    scope: Scope,
    user: str,
    outcome: str | None = None,
    comment: str = "",
    message: reminders.Reminder | None = None,
    channel: str = "manual",
    contact_person: str | None = None,
    next_action_date: date | None = None,
) -> SubmitResult:
    """Log a proposed step as done: its action (LOGGED_ACTION; outcome SENT_OUTCOME unless given) on
    its items, and the step with what went out (`message`, by `channel`), in one transaction. A
    litigation handover also qualifies the items as litigation. Raises ScenarioRefused or
    CollectionsRefused; nothing is written then."""
    if channel not in CHANNELS:
        raise ScenarioRefused([f"channel: {channel!r} is not one of: {', '.join(CHANNELS)}"])
    refused = _already_decided(db, proposal, as_of)
    if refused:
        raise ScenarioRefused(refused)
    what = proposal.describe()
    if message is not None:
        sent = {"smtp": f" sent by e-mail to {message.recipient}", "eml": " (.eml)", "pdf": " (PDF letter)"}
        what += f": {message.subject}{sent.get(channel, '')}"
    text = f"{what}. {comment.strip()}".strip() if comment.strip() else what
    qualifications: tuple[Qualification, ...] = ()
    if proposal.action_type == "litigation_handover":
        qualifications = tuple(
            Qualification(
                document_id, "litigation", comment=f"Handed over to litigation: {proposal.describe()}"
            )
            for document_id in proposal.document_ids
        )
    action = Action(
        customer_id=proposal.customer_id,
        action_type=LOGGED_ACTION[proposal.action_type],
        outcome=outcome or SENT_OUTCOME,
        comment=text,
        contact_person=contact_person,
        next_action_date=next_action_date,
        document_ids=proposal.document_ids,
    )
    return submissions.submit(
        db,
        Submission(qualifications, action),
        store=store,
        as_of=as_of,
        scope=scope,
        user=user,
        linked=[
            _log_statement(
                proposal, decision="confirmed", channel=channel, as_of=as_of, user=user, message=message
            )
        ],
    )


def skip(
    db: CollectionsDB, store: Store, proposal: Proposal, *, as_of: date, scope: Scope, user: str, reason: str
) -> SubmitResult:
    """Skip a proposed step, saying why: a note on the customer's items and the step logged as
    skipped, in one transaction (the scenario goes on with the next step)."""
    messages = [] if (reason or "").strip() else ["reason: say why the step is skipped"]
    messages += _already_decided(db, proposal, as_of)
    if messages:
        raise ScenarioRefused(messages)
    action = Action(
        customer_id=proposal.customer_id,
        action_type="note",
        outcome="other",
        comment=f"Skipped {proposal.describe()}: {reason.strip()}",
        document_ids=proposal.document_ids,
    )
    return submissions.submit(
        db,
        Submission(action=action),
        store=store,
        as_of=as_of,
        scope=scope,
        user=user,
        linked=[_log_statement(proposal, decision="skipped", channel="none", as_of=as_of, user=user)],
    )


# --- alerts and runs ------------------------------------------------------------------------------------


def scope_key(scope: Scope) -> str:
    """A stable text naming a scope (runs are kept per scope)."""
    return json.dumps([[dimension, list(values)] for dimension, values in scope.filters])


def previous_run(db: CollectionsDB, as_of: date, scope: Scope = EVERYTHING) -> date | None:
    """The date of the latest run of the scope before `as_of`."""
    value = db.read("scenarios_previous_run", scope_key=scope_key(scope), as_of=as_of).item(0, 0)
    return value


def record_run(
    db: CollectionsDB, as_of: date, scope: Scope, *, proposals: int, sent: int, alerts: int, user: str
) -> None:
    db.append(
        [
            (
                "scenarios_insert_run",
                {
                    "scope_key": scope_key(scope),
                    "run_date": as_of,
                    "proposals": proposals,
                    "sent": sent,
                    "alerts": alerts,
                    "user_name": user,
                    "recorded_at": utc_now(),
                },
            )
        ]
    )


def alerts(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    items: pl.DataFrame | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    current: Settings | None = None,
    since: date | None = None,
) -> pl.DataFrame:
    """The alerts at `as_of` (ALERT_COLUMNS, ALERT_KINDS), for what happened since `since` (by default
    the previous run of the scope, else `first_run_lookback_days` back):
    - new_overdue: an item of positive amount that fell due unpaid: overdue at as_of, not at since;
    - broken_promise: a promise to pay broken since then (its promised date + grace in [since, as_of));
    - over_credit_limit: a customer whose open balance exceeds its credit limit (amount: the excess);
    - large_overdue_no_action: a customer whose overdue amount reaches large_overdue_amount with no
      action logged in the last no_action_days days."""
    current = current or settings(db)
    con = con or store.connect()
    if items is None:
        items = aged_items(store, as_of, scope, con)
    if since is None:
        since = previous_run(db, as_of, scope) or as_of - timedelta(days=current.first_run_lookback_days)
    customers = customers_in_scope(con, scope).select(
        "customer_id", "customer_name", "collector", "credit_limit"
    )
    found: list[pl.DataFrame] = []
    fell_due = items.filter(
        pl.col(AMOUNT) > 0, pl.col("due_date") >= since, pl.col("due_date") < as_of
    ).select(
        pl.lit("new_overdue").alias("alert"),
        "customer_id",
        "document_id",
        pl.col(AMOUNT).alias("amount"),
        pl.col("due_date").alias("date"),
        pl.format("fell due on {}, unpaid", pl.col("due_date")).alias("detail"),
    )
    found.append(fell_due)
    # Only the promises falling due in the period are settled against the payments.
    broken = promise_outcomes(db, store, as_of, scope, deadlines=(since, as_of), con=con).filter(
        pl.col("promise_status") == "broken"
    )
    found.append(
        broken.select(
            pl.lit("broken_promise").alias("alert"),
            "customer_id",
            "document_id",
            (pl.col("promised_amount") - pl.col("settled_amount")).cast(contract.MONEY).alias("amount"),
            pl.col("promised_date").alias("date"),
            pl.format(
                "promised {} for {}, {} paid by the end of grace",
                pl.col("promised_amount"),
                pl.col("promised_date"),
                pl.col("settled_amount"),
            ).alias("detail"),
        )
    )
    balances = items.group_by("customer_id").agg(
        pl.col(AMOUNT).sum().cast(contract.MONEY).alias("balance"),
        pl.col(AMOUNT).filter(pl.col("days_past_due") > 0).sum().cast(contract.MONEY).alias("overdue"),
    )
    if current.credit_limit_alerts:
        over = balances.join(customers, on="customer_id").filter(
            pl.col("credit_limit").is_not_null(), pl.col("balance") > pl.col("credit_limit")
        )
        found.append(
            over.select(
                pl.lit("over_credit_limit").alias("alert"),
                "customer_id",
                pl.lit(None, pl.String).alias("document_id"),
                (pl.col("balance") - pl.col("credit_limit")).cast(contract.MONEY).alias("amount"),
                pl.lit(as_of).alias("date"),
                pl.format(
                    "balance {} over a credit limit of {}", pl.col("balance"), pl.col("credit_limit")
                ).alias("detail"),
            )
        )
    last_actions = db.latest_actions(as_of).select("customer_id", pl.col("last_action_date").cast(pl.Date))
    quiet = (
        balances.filter(pl.col("overdue") >= current.large_overdue_amount)
        .join(last_actions, on="customer_id", how="left")
        .filter(
            pl.col("last_action_date").is_null()
            | (pl.col("last_action_date") < as_of - timedelta(days=current.no_action_days))
        )
    )
    found.append(
        quiet.select(
            pl.lit("large_overdue_no_action").alias("alert"),
            "customer_id",
            pl.lit(None, pl.String).alias("document_id"),
            pl.col("overdue").alias("amount"),
            pl.col("last_action_date").alias("date"),
            pl.when(pl.col("last_action_date").is_null())
            .then(pl.format("{} overdue, no action ever logged", pl.col("overdue")))
            .otherwise(
                pl.format("{} overdue, last action on {}", pl.col("overdue"), pl.col("last_action_date"))
            )
            .alias("detail"),
        )
    )
    schema = {
        "alert": pl.String(),
        "customer_id": pl.String(),
        "document_id": pl.String(),
        "amount": contract.MONEY,
        "date": pl.Date(),
        "detail": pl.String(),
    }
    frame = pl.concat([pl.DataFrame(schema=schema), *[f.cast(schema) for f in found]])
    return (
        frame.join(customers.drop("credit_limit"), on="customer_id", how="inner")
        .select(ALERT_COLUMNS)
        .sort(
            pl.col("alert").replace_strict(ALERT_KINDS, list(range(len(ALERT_KINDS)))),
            pl.col("amount"),
            "customer_id",
            "document_id",
            descending=[False, True, False, False],
            nulls_last=True,
        )
    )


@dataclass(frozen=True)
class RunResult:
    """What a run of the scenarios did: the proposals of the day, the alerts since the previous run,
    and the deliveries of automatic steps (customer_id, customer_name, step_label, action_type,
    channel, recipient, status: sent / written / not_sent, detail)."""

    as_of: date
    scope: Scope
    since: date
    previous_run: date | None
    proposals: pl.DataFrame
    alerts: pl.DataFrame
    deliveries: pl.DataFrame
    send: bool
    currency: str = contract.DEFAULT_FUNCTIONAL_CURRENCY
    smtp: str | None = None
    messages: tuple[str, ...] = field(default_factory=tuple)

    @property
    def sent(self) -> int:
        return self.deliveries.filter(pl.col("status").is_in(["sent", "written"])).height

    def report(self) -> str:
        """A plain-text report of the run (what the scheduled command prints)."""
        lines = [
            f"Recovery scenarios at {self.as_of.isoformat()} ({self.scope.describe()}); alerts since "
            f"{self.since.isoformat()}"
            + (f" (previous run {self.previous_run.isoformat()})" if self.previous_run else " (first run)")
        ]
        to_do = self.proposals.filter(~pl.col("done"))
        automatic = to_do.filter(pl.col("automatic")).height
        lines.append(
            f"\nProposals: {self.proposals.height} ({to_do.height} to do, of which {automatic} automatic; "
            f"{self.proposals.height - to_do.height} done today)"
        )
        for row in self.proposals.iter_rows(named=True):
            state = row["decision"] or ("automatic" if row["automatic"] else "to confirm")
            lines.append(
                f"  {row['customer_id']:<10} {row['customer_name'][:28]:<28} {row['scenario'][:18]:<18} "
                f"step {row['step']} {row['step_label'][:24]:<24} due {row['due_date']}  {row['items']:>3} item(s) "
                f"{reminders.format_money(row['amount']):>14} {self.currency}  {state}"
            )
        if self.send:
            lines.append(
                f"\nSent: {self.sent} of {self.deliveries.height} automatic step(s)"
                + (f" (SMTP {self.smtp})" if self.smtp else " (SMTP not configured: e-mails not sent)")
            )
            for row in self.deliveries.iter_rows(named=True):
                lines.append(
                    f"  {row['customer_id']:<10} {row['step_label'][:24]:<24} {row['status']:<9} {row['detail']}"
                )
        else:
            lines.append("\nNothing sent (run with --send to send the automatic steps).")
        lines.append(f"\nAlerts: {self.alerts.height}")
        for row in self.alerts.iter_rows(named=True):
            lines.append(
                f"  {ALERT_LABELS[row['alert']]:<26} {row['customer_id']:<10} {row['customer_name'][:28]:<28} "
                f"{row['document_id'] or '':<12} {reminders.format_money(row['amount']):>14}  {row['detail']}"
            )
        lines.extend(self.messages)
        return "\n".join(lines) + "\n"


_DELIVERY_SCHEMA = {
    "customer_id": pl.String(),
    "customer_name": pl.String(),
    "step_label": pl.String(),
    "action_type": pl.String(),
    "channel": pl.String(),
    "recipient": pl.String(),
    "status": pl.String(),
    "detail": pl.String(),
}


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def run(
    store: Store,
    db: CollectionsDB,
    as_of: date,
    *,
    send: bool,
    scope: Scope = EVERYTHING,
    smtp: reminders.SmtpSettings | None = None,
    outbox: Path | None = None,
    user: str = "scheduler",
) -> RunResult:
    """The scheduled run at `as_of`: the proposals and the alerts since the previous run of the scope;
    with `send`, the automatic steps not done yet go out and are logged: e-mails through SMTP (`smtp`,
    else the [mail] server of DIR/settings.toml; not sent without it or without the customer's e-mail
    address),
    letters as PDF files in `outbox` (default <data>/outbox/<as_of>/) to print. Records the run."""
    con = store.connect()
    items = aged_items(store, as_of, scope, con)
    current = settings(db)
    manifest = store.manifest()
    currency = manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY
    before = previous_run(db, as_of, scope)
    since = before or as_of - timedelta(days=current.first_run_lookback_days)
    found = proposals(db, store, as_of, scope, items=items, con=con)
    raised = alerts(db, store, as_of, scope, items=items, con=con, current=current, since=since)
    deliveries: list[dict[str, object]] = []
    messages: list[str] = []
    if send:
        if smtp is None:
            try:
                smtp = smtp_of(store.root)
            except SettingsInvalid as error:
                messages.append(f"SMTP settings: {error}")
        deliveries = send_automatic(
            db, store, found, as_of, scope, user=user, smtp=smtp, items=items, current=current, outbox=outbox
        ).to_dicts()
        found = proposals(db, store, as_of, scope, items=items, con=con)
    result = RunResult(
        as_of=as_of,
        scope=scope,
        since=since,
        previous_run=before,
        proposals=found,
        alerts=raised,
        deliveries=pl.DataFrame(deliveries, schema=_DELIVERY_SCHEMA),
        send=send,
        currency=currency,
        smtp=smtp.describe() if smtp else None,
        messages=tuple(messages),
    )
    record_run(db, as_of, scope, proposals=found.height, sent=result.sent, alerts=raised.height, user=user)
    return result


def send_automatic(
    db: CollectionsDB,
    store: Store,
    found: pl.DataFrame,
    as_of: date,
    scope: Scope,
    *,
    user: str,
    smtp: reminders.SmtpSettings | None,
    items: pl.DataFrame | None = None,
    current: Settings | None = None,
    outbox: Path | None = None,
) -> pl.DataFrame:
    """Send the automatic steps not done yet among the proposals `found` and log each one sent; one
    row per step (RunResult.deliveries): e-mails through `smtp`, letters as PDF files in `outbox`
    (default <data>/outbox/<as_of>/). A step not sent is not logged, so it is due again next time."""
    current = current or settings(db)
    if items is None:
        items = aged_items(store, as_of, scope)
    folder = outbox or store.root / "outbox" / as_of.isoformat()
    attaching = {
        (row["scenario_id"], row["scenario_version"], row["step"])
        for row in current_steps(db).filter(pl.col("attach_statement")).iter_rows(named=True)
    }
    deliveries = [
        _deliver(
            db,
            store,
            Proposal.from_row(row),
            as_of,
            scope,
            user,
            items,
            current,
            smtp,
            folder,
            attach_statement=(row["scenario_id"], row["scenario_version"], row["step"]) in attaching,
        )
        for row in found.filter(pl.col("automatic"), ~pl.col("done")).iter_rows(named=True)
    ]
    return pl.DataFrame(deliveries, schema=_DELIVERY_SCHEMA)


def attaches_statement(db: CollectionsDB, proposal: Proposal) -> bool:
    """Whether the proposal's step carries the customer's statement of account (an e-mail step whose
    "Statement attached" box is ticked), as the automatic and the manual sends both read it."""
    steps = current_steps(db).filter(
        pl.col("scenario_id") == proposal.scenario_id,
        pl.col("scenario_version") == proposal.scenario_version,
        pl.col("step") == proposal.step,
        pl.col("attach_statement"),
    )
    return proposal.action_type == "email" and not steps.is_empty()


def reminder_email(
    db: CollectionsDB,
    store: Store,
    proposal: Proposal,
    message: reminders.Reminder,
    as_of: date,
    *,
    scope: Scope,
    items: pl.DataFrame | None = None,
    sender: str | None,
    attach_statement: bool,
) -> EmailMessage:
    """The e-mail of a step's reminder (as edited, for a manual send), with the customer's statement of
    account attached when the step asks for it; ReminderError when the statement cannot be made."""
    email = reminders.email_message(message, sender_address=sender)
    if attach_statement:
        from analytics import statement  # it reads the contacts and settings of this module

        try:
            account = statement.statement(db, store, proposal.customer_id, as_of, scope=scope, items=items)
        except statement.StatementError as error:
            raise reminders.ReminderError(f"statement of account: {error}") from None
        statement.attach(email, account)
    return email


def _deliver(
    db: CollectionsDB,
    store: Store,
    proposal: Proposal,
    as_of: date,
    scope: Scope,
    user: str,
    items: pl.DataFrame,
    current: Settings,
    smtp: reminders.SmtpSettings | None,
    folder: Path,
    *,
    attach_statement: bool = False,
) -> dict[str, object]:
    """Send or write one automatic step and log it; a row of RunResult.deliveries. With
    `attach_statement`, the e-mail carries the customer's statement of account (PDF)."""
    row: dict[str, object] = {
        "customer_id": proposal.customer_id,
        "customer_name": proposal.customer_name,
        "step_label": proposal.step_label,
        "action_type": proposal.action_type,
        "channel": None,
        "recipient": None,
        "status": "not_sent",
        "detail": "",
    }
    try:
        message = reminder(db, store, proposal, as_of, items=items, current=current)
        if proposal.action_type == "email":
            row["channel"], row["recipient"] = "smtp", message.recipient
            if not message.recipient:
                row["detail"] = "no e-mail address for this customer: add one on the Recovery scenarios page"
                return row
            if smtp is None:
                row["detail"] = "SMTP not configured ([mail] host in settings.toml)"
                return row
            email = reminder_email(
                db,
                store,
                proposal,
                message,
                as_of,
                scope=scope,
                items=items,
                sender=smtp.sender,
                attach_statement=attach_statement,
            )
            detail = message.subject + (" (with the statement of account)" if attach_statement else "")
            reminders.send(email, smtp)
            confirm(db, store, proposal, as_of=as_of, scope=scope, user=user, message=message, channel="smtp")
            row["status"], row["detail"] = "sent", detail
        else:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / _file_name(
                f"{proposal.customer_id}-{proposal.scenario_id}-step{proposal.step}.pdf"
            )
            temporary = path.with_name(f".{path.name}.partial")
            temporary.write_bytes(reminders.pdf_letter(message))
            temporary.replace(path)
            confirm(
                db,
                store,
                proposal,
                as_of=as_of,
                scope=scope,
                user=user,
                message=message,
                channel="pdf",
                comment=f"Letter to print: {path}",
            )
            row["channel"], row["status"], row["detail"] = "pdf", "written", str(path)
    except (reminders.ReminderError, ScenarioRefused, CollectionsRefused, OSError) as error:
        row["detail"] = str(error).replace("\n", " ")
    return row
