"""The words a person reads for the contract's codes: a label for every value (document types,
qualifications, dispute reasons, outcomes, action kinds, decisions, statuses, alerts, buckets) and
every column name a page, an XLSX export, a PDF or an e-mail shows.

Pages, XLSX exports, PDFs and e-mails go through `value`, `column`, `display` and `labelled`; CSV and
JSON from the command line keep the contract's names (a stable interface) and never come here.
`CODES` lists every snake_case code of the contract: none of them should reach a screen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import polars as pl

from analytics import contract
from analytics.aging import AgingQuery, bucket_label

# Recovery scenario positions (analytics.scenarios.STATUSES).
STATUS_LABELS = {
    "due": "Step due",
    "waiting": "Waiting for the minimum interval",
    "paused": "Paused by a promise to pay",
    "upcoming": "Next step ahead",
    "finished": "Every step done",
    "out_of_scenario": "Items in dispute or litigation",
    "no_scenario": "No scenario",
}
# Alerts (analytics.scenarios.ALERT_KINDS).
ALERT_LABELS = {
    "new_overdue": "Fell due unpaid",
    "broken_promise": "Promise broken",
    "over_credit_limit": "Over credit limit",
    "large_overdue_no_action": "Large overdue, no action",
}
# Worklist reasons (analytics.worklist.SECTIONS).
SECTION_LABELS = {
    "broken_promise": "Broken promises",
    "promise_due": "Promises due today",
    "next_action": "Next actions due or late",
    "new_overdue": "New overdue items",
    "dispute_waiting": "Disputes waiting on an internal owner",
    "overdue": "Other overdue items",
}
# Roles (analytics.access.ROLES).
ROLE_LABELS = {
    "admin": "Administrator",
    "credit_manager": "Credit manager",
    "team_lead": "Team lead",
    "collector": "Collector",
    "viewer": "Viewer (read-only)",
}

# Values, whatever column they are in. A code missing here reads as its words ("no_answer" ->
# "No answer"), so that a new code never reaches a screen raw.
VALUES: dict[str, str] = {
    # Open items and payments
    "invoice": "Invoice",
    "credit_note": "Credit note",
    "debit_note": "Debit note",
    contract.UNAPPLIED_CASH: "Payment on account",
    "cash": "Cash",
    "write_off": "Write-off",
    # Qualifications and item states
    "promise_to_pay": "Promise to pay",
    "disputed": "Disputed",
    "dispute_resolved": "Dispute resolved",
    "litigation": "Litigation",
    "bad_debt_proposed": "Bad debt proposed",
    "cleared": "Cleared",
    "none": "",
    # Dispute reasons and resolutions
    "price": "Price",
    "quality": "Quality",
    "delivery": "Delivery",
    "billing_error": "Billing error",
    "duplicate": "Duplicate",
    "other": "Other",
    "credit_note_to_issue": "Credit note to issue",
    "customer_to_pay": "Customer to pay",
    "partially_justified": "Partially justified",
    # Actions, their outcomes, scenario steps
    "call": "Call",
    "email": "E-mail",
    "letter": "Letter",
    "registered_letter": "Registered letter",
    "sms": "SMS",
    "meeting": "Meeting",
    "note": "Note",
    "internal_escalation": "Internal escalation",
    "litigation_handover": "Litigation handover",
    "reached": "Reached",
    "no_answer": "No answer",
    "promise_obtained": "Promise obtained",
    "dispute_raised": "Dispute raised",
    "wrong_contact": "Wrong contact",
    "left_message": "Left a message",
    # Promises
    "open": "Open",
    "kept": "Kept",
    "broken": "Broken",
    # Scenario decisions, channels, deliveries
    "confirmed": "Confirmed",
    "skipped": "Skipped",
    "smtp": "E-mail (mail server)",
    "eml": "E-mail file (.eml)",
    "pdf": "PDF letter",
    "manual": "By hand",
    "sent": "Sent",
    "written": "Written",
    "not_sent": "Not sent",
    # Sources of an event
    "app": "App",
    "import": "Import",
    "demo": "Demo",
    **STATUS_LABELS,
    **ALERT_LABELS,
    **SECTION_LABELS,
    **ROLE_LABELS,
}

# Column names a person reads as headers. "{currency}" is the functional currency.
COLUMNS: dict[str, str] = {
    **{name: text for name, text in contract.DIMENSION_LABELS.items()},
    "customer_id": "Customer id",
    "customer_name": "Customer",
    "document_id": "Document",
    "document_ids": "Documents",
    "document_type": "Type",
    "document_date": "Issued",
    "due_date": "Due",
    "payment_date": "Paid on",
    "installment": "Installment",
    "days_past_due": "Days past due",
    "days_late": "Days late",
    "currency": "Currency",
    "open_amount": "Open (document currency)",
    "open_amount_functional": "Open ({currency})",
    "open_amount_booked": "Open at booked rate ({currency})",
    "revaluation": "Revaluation ({currency})",
    "amount": "Amount ({currency})",
    "total": "Total ({currency})",
    "overdue": "Overdue ({currency})",
    "items": "Items",
    "share": "Share %",
    "bucket": "Bucket",
    "qualification": "Qualification",
    "state": "State",
    "promise_status": "Promise",
    "promised_date": "Promised for",
    "promised_amount": "Promised ({currency})",
    "dispute_reason": "Dispute reason",
    "disputed_amount": "Disputed ({currency})",
    "outcome": "Outcome",
    "action_type": "Action",
    "action_date": "Date",
    "next_action_date": "Next action",
    "comment": "Comment",
    "user": "By",
    "author": "By",
    "recorded_at": "Recorded",
    "scenario": "Scenario",
    "step": "Step",
    "step_label": "Step",
    "decision": "Decision",
    "channel": "Channel",
    "status": "Status",
    "reason": "Why",
    "alert": "Alert",
    "detail": "Detail",
    "section": "Reason",
    "priority": "Priority",
    "credit_limit": "Credit limit ({currency})",
    "payment_terms_days": "Payment terms (days)",
    "period": "Month end",
    "ar_total": "AR ({currency})",
    "ar_current": "Current AR ({currency})",
    "sales": "Sales ({currency})",
    "dso_countback": "Countback DSO",
    "dso_standard": "Standard DSO",
    "bpdso": "BPDSO",
    "add": "ADD",
    "cei": "CEI %",
    "predicted_payment_date": "Expected payment",
    "p_late": "Probability late",
    "predicted_days_late": "Expected days late",
    "week": "Week",
    "expected": "Expected ({currency})",
}

# The collectors' table (analytics.coaching), money columns without their currency.
COLLECTOR_COLUMNS: dict[str, str] = {
    "collector": "Collector",
    "customers": "Customers",
    "customers_change": "Customers ±",
    "ar": "AR",
    "ar_change": "AR ±",
    "overdue": "Overdue",
    "overdue_change": "Overdue ±",
    "over_30": "+30",
    "over_30_change": "+30 ±",
    "over_90": "+90",
    "over_90_change": "+90 ±",
    "pct_overdue": "% overdue",
    "pct_overdue_change": "% overdue ± (pts)",
    "pct_over_90": "+90 share %",
    "pct_over_90_change": "+90 share ± (pts)",
    "cash_collected": "Cash collected",
    "cei": "CEI %",
    "dso_countback": "Countback DSO",
    "add": "ADD",
    "overdue_reduced": "Overdue reduced",
    "over_90_reduced": "+90 reduced",
    "promises_obtained": "Promises obtained",
    "promises_kept": "Promises kept",
    "promises_broken": "Promises broken",
    "promise_kept_rate": "Kept rate %",
    "disputes_resolved": "Disputes resolved",
    "avg_resolution_days": "Days to resolve",
    "write_offs": "Write-offs",
    "working_days": "Working days",
    "actions": "Actions",
    "actions_per_day": "Actions / day",
    "calls_per_day": "Calls / day",
    "emails_per_day": "Emails / day",
    "letters_per_day": "Letters / day",
    "reach_rate": "Reach rate %",
    "coverage_14": "Coverage 14d %",
    "coverage_30": "Coverage 30d %",
    "untouched_items": "Never touched",
    "untouched_amount": "Never touched (amount)",
    "untouched_share": "Never touched %",
    "late_next_actions": "Late next actions",
    "flag_count": "Flags",
    "flags": "Why flagged",
}

# Columns whose cells are codes of the contract (their values are labelled for display).
CODE_COLUMNS = frozenset(
    {
        "document_type",
        "method",
        "qualification",
        "event_type",
        "state",
        "promise_status",
        "dispute_reason",
        "outcome",
        "resolution",
        "action_type",
        "kind",
        "decision",
        "channel",
        "status",
        "alert",
        "section",
        "bucket",
        "role",
        "source",
    }
)

_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_BUCKET = re.compile(r"^(not_due|d\d+_\d+|over_\d+)$")


def _words(code: str) -> str:
    return code.replace("_", " ").capitalize()


def value(code: object) -> str:
    """The label of a value: 'left_message' -> 'Left a message', 'over_90' -> '+90', None -> ''.
    Text that is not a code (a name, an id, a label already) is returned as it is."""
    if code is None:
        return ""
    text = str(code)
    if text in VALUES:
        return VALUES[text]
    if _BUCKET.match(text):
        return bucket_label(text)
    if _SNAKE.match(text):
        return _words(text)
    return text


def column(name: str, currency: str = "") -> str:
    """The header of a column: 'dispute_reason' -> 'Dispute reason', 'd1_30' -> '1-30',
    'total' -> 'Total (EUR)' (the functional currency, when given)."""
    if name in COLUMNS:
        text = COLUMNS[name]
    elif _BUCKET.match(name):
        text = bucket_label(name)
    else:
        text = _words(name) if "_" in name or name.islower() else name
    suffix = f" ({currency})" if currency else ""
    return text.replace(" ({currency})", suffix)


def display(frame: pl.DataFrame) -> pl.DataFrame:
    """A display copy of `frame`: the cells of code columns labelled, empty text cells empty rather
    than 'None'. Column names are kept (pages label them through their column configuration)."""
    changes = []
    for name, dtype in frame.schema.items():
        if name in CODE_COLUMNS and (dtype == pl.String or isinstance(dtype, (pl.Enum, pl.Categorical))):
            changes.append(
                pl.col(name)
                .cast(pl.String)
                .replace_strict(
                    {
                        code: value(code)
                        for code in frame.get_column(name).cast(pl.String).drop_nulls().unique()
                    },
                    default=None,
                    return_dtype=pl.String,
                )
                .fill_null("")
            )
        elif dtype == pl.String:
            changes.append(pl.col(name).fill_null(""))
    return frame.with_columns(changes) if changes else frame


def labelled(frame: pl.DataFrame, currency: str = "", names: Mapping[str, str] | None = None) -> pl.DataFrame:
    """`frame` as a person reads it in a file: code cells labelled and headers labelled (`names`
    first, when a table has its own), money headers naming `currency` (the functional currency)
    unless they name theirs."""
    shown = display(frame)
    own = names or {}
    headers: dict[str, str] = {}
    for name, dtype in frame.schema.items():
        header = own[name] if name in own else column(name, currency)
        if isinstance(dtype, pl.Decimal) and currency and "(" not in header:
            header = f"{header} ({currency})"
        while header in headers.values():
            header += " "
        headers[name] = header
    return shown.rename(headers)


def _codes() -> frozenset[str]:
    values = (
        *contract.OPEN_ITEM_TYPES,
        *contract.PAYMENT_METHODS,
        *contract.bucket_names((30, 60, 90, 120)),
        *contract.bucket_names((30, 60, 90), contract.AGE_BY_DOCUMENT),
        *contract.DIMENSIONS,
        *(name for table in contract.TABLES.values() for name in table.names),
        *COLUMNS,
        *VALUES,
    )
    return frozenset(code for code in values if _SNAKE.match(code))


CODES = _codes()


def aging_about(request: AgingQuery) -> list[tuple[str, str]]:
    """What an aging view shows, in words, for the rows above an exported table: the level, the
    drill path, the filters and the buckets."""
    names = request.bucket_names
    rows = [("By", column(request.by))]
    if request.drill:
        rows.append(("Drill", " > ".join(f"{column(level)}: {value}" for level, value in request.drill)))
    filters = []
    if request.bucket_filter:
        filters.append("buckets " + ", ".join(bucket_label(name) for name in request.bucket_filter))
    if request.overdue_beyond:
        filters.append(f"more than {request.overdue_beyond} days past due")
    if request.document_types:
        filters.append(", ".join(value(kind) for kind in request.document_types))
    if request.min_amount is not None and request.min_amount > 0:
        filters.append(f"open amount at least {request.min_amount:,.2f}")
    rows.append(("Filters", "; ".join(filters) or "none"))
    basis = "days past due" if request.age_by == contract.AGE_BY_DUE else "days since the document date"
    rows.append(("Buckets", f"{', '.join(bucket_label(name) for name in names)} ({basis})"))
    return rows
