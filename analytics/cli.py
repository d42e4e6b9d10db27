"""The command line: `python -m analytics COMMAND`, the same analytics as the app.

Exit status: 0 done, 2 bad input (the message on standard error names the file, row and column),
1 anything else (a data folder that cannot be written or is damaged, another process holding it).

`--output` never names a path inside the data folder (after following links): a report written over
`current`, users.json or a generation would destroy the data it came from.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import TextIO

import polars as pl

from analytics import (
    access,
    aging,
    clock,
    collections,
    collections_db,
    contract,
    daily,
    demo,
    event_files,
    export,
    forecast,
    ingest,
    kpis,
    predictions,
    scenarios,
)
from analytics.scope import Scope, customers_in_scope, dimension_values
from analytics.store import FORMAT, DataFolderDamaged, DataFolderUnwritable, Store

BAD_INPUT = 2
FAILURE = 1


class BadInput(Exception):
    """Input the user can fix; reported without a traceback, exit status 2."""


class ProgressBar:
    """A one-line progress bar on standard error (plain lines when it is not a terminal)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.started = time.perf_counter()
        self.last_message = ""
        self.interactive = stream.isatty()

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        elapsed = time.perf_counter() - self.started
        if self.interactive:
            filled = int(round(fraction * self.width))
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {fraction:4.0%} {elapsed:6.1f}s {message[:60]:<60}")
            if fraction >= 1.0:
                self.stream.write("\n")
        elif message != self.last_message:
            self.stream.write(f"{fraction:4.0%} {elapsed:6.1f}s {message}\n")
        self.last_message = message
        self.stream.flush()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics",
        description="Receivables aging and DSO: import, demo data, snapshots and reports from the command line.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo_parser = commands.add_parser(
        "demo",
        help="generate the demo company into a data folder",
        description="Generate a realistic demo company (customers, invoices, payments) into --data, "
        "replacing what is there. Deterministic for a seed.",
    )
    demo_parser.add_argument("--data", type=Path, required=True, help="data folder (created when missing)")
    demo_parser.add_argument("--customers", type=_positive, default=300, help="number of customers (300)")
    demo_parser.add_argument(
        "--documents", type=_positive, default=20_000, help="number of documents (20000)"
    )
    demo_parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    demo_parser.add_argument("--as-of", type=_date, default=None, help="last day of the data (today)")
    demo_parser.add_argument(
        "--no-history",
        action="store_true",
        help="without the collections history (actions, promises, disputes)",
    )
    _user_argument(demo_parser)
    demo_parser.set_defaults(run=run_demo)

    import_parser = commands.add_parser(
        "import",
        help="import ERP exports (CSV, XLSX or Parquet)",
        description="Validate and import customers, documents, payments and open-item snapshots. All or "
        "nothing: on any problem nothing is written and the problems are listed (exit status 2). "
        "Rows are replaced by key, so importing the same files twice changes nothing.",
    )
    import_parser.add_argument("--data", type=Path, required=True, help="data folder (created when missing)")
    import_parser.add_argument("--customers", type=Path, help="customers file")
    import_parser.add_argument("--documents", type=Path, help="documents file")
    import_parser.add_argument("--payments", type=Path, help="payments file")
    import_parser.add_argument(
        "--open-items", type=Path, help="open-items snapshot file (an aged trial balance)"
    )
    import_parser.add_argument(
        "--installments", type=Path, help="installments file: a document's due dates when paid in parts"
    )
    import_parser.add_argument(
        "--exchange-rates",
        type=Path,
        help="exchange rates file: rate_date, currency, rate (functional units per unit of currency)",
    )
    import_parser.add_argument("--mapping", type=Path, help="import mapping (TOML): column names and formats")
    import_parser.add_argument(
        "--functional-currency",
        help=f"reporting currency (default: stored, else {contract.DEFAULT_FUNCTIONAL_CURRENCY})",
    )
    _user_argument(import_parser)
    import_parser.set_defaults(run=run_import)

    snapshot_parser = commands.add_parser(
        "snapshot",
        help="materialise the open items of a date",
        description="Derive the items open at --as-of and store them as a snapshot, so that later "
        "reports of that date read it directly; prints the snapshot's totals. A data folder of an older "
        "format is brought up to date first.",
    )
    snapshot_parser.add_argument("--data", type=Path, required=True, help="data folder")
    snapshot_parser.add_argument(
        "--as-of", type=_date, required=True, help="date of the snapshot (YYYY-MM-DD)"
    )
    _user_argument(snapshot_parser)
    snapshot_parser.set_defaults(run=run_snapshot)

    report_parser = commands.add_parser(
        "report", help="write a report (aging, dso, forecast, predictions)", description="Write a report."
    )
    reports = report_parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    aging_parser = reports.add_parser(
        "aging",
        help="the aging balance as of a date",
        description="The aging balance as of --as-of: one row per value of --by with the bucket columns, "
        "total and overdue (without --by, one row for the whole scope).",
    )
    aging_parser.add_argument("--data", type=Path, required=True, help="data folder")
    aging_parser.add_argument("--as-of", type=_date, required=True, help="date of the balance (YYYY-MM-DD)")
    aging_parser.add_argument(
        "--by",
        choices=[*contract.DIMENSIONS, aging.CUSTOMER, aging.DOCUMENT],
        help="one row per value of this",
    )
    aging_parser.add_argument("--buckets", default="30,60,90", help="bucket boundaries in days (30,60,90)")
    aging_parser.add_argument(
        "--age-by",
        choices=contract.AGE_BASES,
        default=contract.AGE_BY_DUE,
        help="age by due date (days past due, the default) or by document date (d0_30, d31_60, ...)",
    )
    aging_parser.add_argument(
        "--revalue",
        action="store_true",
        help="value open items in another currency at the latest exchange rate on or before --as-of "
        "(with --by document: open_amount_booked and revaluation beside the open amount)",
    )
    aging_parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="restrict the scope to customers whose DIM is VALUE (repeatable; values of one DIM add up)",
    )
    _output_arguments(aging_parser)
    _user_argument(aging_parser)
    aging_parser.set_defaults(run=run_report_aging)

    dso_parser = reports.add_parser(
        "dso",
        help="DSO and its companions at month ends",
        description="One row per month end from --from to --to (and per value of --by) with period, "
        "ar_total, ar_current, sales, dso_countback, dso_standard, bpdso, add and cei.",
    )
    dso_parser.add_argument("--data", type=Path, required=True, help="data folder")
    dso_parser.add_argument("--from", dest="start", type=_month, required=True, help="first month (YYYY-MM)")
    dso_parser.add_argument("--to", dest="end", type=_month, required=True, help="last month (YYYY-MM)")
    dso_parser.add_argument(
        "--by", choices=[*contract.DIMENSIONS, aging.CUSTOMER], help="one series per value"
    )
    dso_parser.add_argument(
        "--where", action="append", default=[], metavar="DIM=VALUE", help="restrict the scope"
    )
    _output_arguments(dso_parser)
    _user_argument(dso_parser)
    dso_parser.set_defaults(run=run_report_dso)

    forecast_parser = reports.add_parser(
        "forecast",
        help="the 13-week cash forecast",
        description="Expected collections per week for the 13 weeks after --as-of, with the overdue "
        "backlog and what is expected later apart, and each week's back-tested error (mape, %). The "
        "expected dates come from the invoice predictions when they back-test better than the customers' "
        "mean days late (trained at each back-test month end: slower on a large ledger); stderr says which.",
    )
    forecast_parser.add_argument("--data", type=Path, required=True, help="data folder")
    forecast_parser.add_argument(
        "--as-of", type=_date, required=True, help="date of the forecast (YYYY-MM-DD)"
    )
    forecast_parser.add_argument(
        "--where", action="append", default=[], metavar="DIM=VALUE", help="restrict the scope"
    )
    _output_arguments(forecast_parser)
    _user_argument(forecast_parser)
    forecast_parser.set_defaults(run=run_report_forecast)

    predictions_parser = reports.add_parser(
        "predictions",
        help="when each open invoice will be paid",
        description="One row per invoice open at --as-of: document_id, customer_id, due_date, "
        "open_amount_functional, predicted_payment_date, p_late (probability of payment after the due "
        "date), predicted_days_late and prediction_basis (customer, segment or none), learned only from "
        "the documents and payments known at --as-of. With --backtest, the model's and the baseline's "
        "accuracy at past month ends instead.",
    )
    predictions_parser.add_argument("--data", type=Path, required=True, help="data folder")
    predictions_parser.add_argument(
        "--as-of", type=_date, required=True, help="date of the predictions (YYYY-MM-DD)"
    )
    predictions_parser.add_argument(
        "--where", action="append", default=[], metavar="DIM=VALUE", help="restrict the scope"
    )
    predictions_parser.add_argument(
        "--backtest",
        action="store_true",
        help=f"score the predictions made at the {predictions.BACKTEST_MONTHS} month ends ending "
        f"{predictions.BACKTEST_WAIT_MONTHS} months before --as-of against the payments known at --as-of, "
        "beside the baseline (due date + the customer's mean days late)",
    )
    _output_arguments(predictions_parser)
    _user_argument(predictions_parser)
    predictions_parser.set_defaults(run=run_report_predictions)

    actions_parser = commands.add_parser(
        "actions",
        help="export or import the collections history",
        description="The collections history (qualifications and actions) as a file, for another tool "
        "or from it. The app holds the collections database while it runs: stop it first.",
    )
    actions = actions_parser.add_subparsers(dest="actions", required=True, metavar="ACTION")
    export_parser = actions.add_parser("export", help="write the history to CSV or XLSX")
    export_parser.add_argument("--data", type=Path, required=True, help="data folder")
    export_parser.add_argument("--from", dest="since", type=_date, help="first date (YYYY-MM-DD)")
    export_parser.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="output format (csv)")
    export_parser.add_argument("--output", type=Path, help="output file (standard output by default)")
    _user_argument(export_parser)
    export_parser.set_defaults(run=run_actions_export)
    import_actions = actions.add_parser(
        "import",
        help="load a history from CSV or XLSX",
        description="Load qualifications and actions (the columns `actions export` writes) with the rules "
        "of the app's side panel, each row checked at its date: all rows or none.",
    )
    import_actions.add_argument("--data", type=Path, required=True, help="data folder")
    import_actions.add_argument("--file", type=Path, required=True, help="CSV or XLSX file")
    import_actions.add_argument(
        "--user",
        help="whose rights apply and who records the rows (required once users exist; else 'import'); "
        "a file's user_name or original_author naming someone else is kept as the original author, "
        "which needs a role that may import data",
    )
    import_actions.set_defaults(run=run_actions_import)

    scenarios_parser = commands.add_parser(
        "scenarios", help="run the recovery scenarios", description="The recovery scenarios' daily run."
    )
    scenario_commands = scenarios_parser.add_subparsers(dest="scenarios", required=True, metavar="ACTION")
    run_parser = scenario_commands.add_parser(
        "run",
        help="print today's proposed reminders and alerts, or send the automatic ones",
        description="For --as-of: the step each customer's scenario proposes and the alerts since the "
        "previous run. With --send, the automatic e-mails go out by SMTP ([mail] in DIR/settings.toml) and the "
        "automatic letters are written as PDF files under DIR/outbox/; each is logged as done. The app "
        "holds the collections database while it runs: stop it first.",
    )
    run_parser.add_argument("--data", type=Path, required=True, help="data folder")
    run_parser.add_argument("--as-of", type=_date, required=True, help="date of the run (YYYY-MM-DD)")
    run_parser.add_argument("--send", action="store_true", help="send the automatic reminders")
    run_parser.add_argument(
        "--where", action="append", default=[], metavar="DIM=VALUE", help="restrict the scope"
    )
    _user_argument(run_parser)
    run_parser.set_defaults(run=run_scenarios)

    daily_parser = commands.add_parser(
        "daily",
        help="the scheduled run: inbox import, recovery steps, scheduled reports",
        description="Import the files dropped in the inbox ([inbox] of DIR/settings.toml), send the "
        "recovery scenarios' automatic steps due and the scheduled reports due ([mail], [reports]; the "
        "password from AR_SMTP_PASSWORD), then print and record what was done. Running it twice a day "
        "sends nothing twice; a part that fails is reported and the others go on (exit status 1), and "
        "what was not sent is sent at the next run. While the app runs on DIR, the run is handed to it "
        "(DIR/.app.json); when it does not take it, the summary says so and the exit status is 1.",
    )
    daily_parser.add_argument("--data", type=Path, required=True, help="data folder")
    daily_parser.add_argument("--as-of", type=_date, default=None, help="date of the run (today)")
    _user_argument(daily_parser)
    daily_parser.set_defaults(run=run_daily)

    users_parser = commands.add_parser(
        "users",
        help="manage who may sign in to the app, and their rights",
        description="The users file of a data folder (DIR/users.json). As soon as it exists, the app "
        "asks everyone to sign in. Roles: "
        + ", ".join(f"{role} ({access.ROLE_LABELS[role].lower()})" for role in access.ROLES)
        + ". Passwords are read from standard input with --password-stdin, else asked at the terminal.",
    )
    user_commands = users_parser.add_subparsers(dest="users", required=True, metavar="ACTION")
    add_user = user_commands.add_parser("add", help="add a user")
    add_user.add_argument("username", help="sign-in name (for the identity provider: the e-mail address)")
    add_user.add_argument("--data", type=Path, required=True, help="data folder")
    add_user.add_argument("--role", choices=access.ROLES, required=True, help="the user's role")
    _user_arguments(add_user)
    add_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add_user.add_argument(
        "--no-password",
        action="store_true",
        help="signs in through the identity provider only (OpenID Connect, [auth] in secrets.toml)",
    )
    add_user.set_defaults(run=run_users_add)
    remove_user = user_commands.add_parser("remove", help="remove a user")
    remove_user.add_argument("username")
    remove_user.add_argument("--data", type=Path, required=True, help="data folder")
    remove_user.set_defaults(run=run_users_remove)
    list_users = user_commands.add_parser("list", help="list the users, their roles and rights")
    list_users.add_argument("--data", type=Path, required=True, help="data folder")
    list_users.set_defaults(run=run_users_list)
    set_role = user_commands.add_parser("set-role", help="change a user's role (and its rights)")
    set_role.add_argument("username")
    set_role.add_argument("role", choices=access.ROLES)
    set_role.add_argument("--data", type=Path, required=True, help="data folder")
    _user_arguments(set_role)
    set_role.set_defaults(run=run_users_set_role)
    set_password = user_commands.add_parser("set-password", help="set a user's password")
    set_password.add_argument("username")
    set_password.add_argument("--data", type=Path, required=True, help="data folder")
    set_password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    set_password.set_defaults(run=run_users_set_password)
    audit_parser = commands.add_parser(
        "audit",
        help="print the audit trail",
        description="Sign-ins, failed sign-ins, exports, imports, writes and user changes, newest first.",
    )
    audit_parser.add_argument("--data", type=Path, required=True, help="data folder")
    audit_parser.add_argument("--limit", type=_positive, default=50, help="number of lines (50)")
    audit_parser.add_argument("--user", help="only this user's lines")
    audit_parser.set_defaults(run=run_audit)
    return parser


def _month(text: str) -> date:
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-01") from None


def _user_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        help="whose rights apply (a user of DIR/users.json; required once that file exists)",
    )


def _user_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", dest="display_name", help="display name (recorded with what they write)")
    parser.add_argument("--collector", help="role collector: their name in the customers' collector column")
    parser.add_argument(
        "--team",
        action="append",
        metavar="COLLECTOR",
        help="role team_lead: a collector they lead (repeatable)",
    )
    parser.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="limit the user's rights to customers whose DIM is VALUE (repeatable), e.g. entity=FR01",
    )


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=export.FORMATS, default="csv", help="output format (csv)")
    parser.add_argument("--output", type=Path, help="output file (standard output by default)")


def _actor(args: argparse.Namespace, permission: str | None = None) -> access.User:
    """The user whose rights apply: --user, required once the data folder has users (demo mode
    without: a credit manager, recorded under --user's name when one is given)."""
    users = access.Users(args.data)
    name = (getattr(args, "user", None) or "").strip()
    if not users.exists():
        user = access.DEMO_USER if not name else access.User(name, access.CREDIT_MANAGER)
    else:
        if not name:
            raise BadInput(f"{users.path} defines users: give --user NAME (whose rights apply)")
        found = users.get(name)
        if found is None:
            known = ", ".join(user.username for user in users.all())
            raise BadInput(f"--user {name}: no such user in {users.path} (users: {known})")
        user = found
    if permission:
        try:
            access.require(user, permission)
        except access.AccessDenied as denied:
            _audit(args, user, "refused", str(denied))
            raise
    return user


def _user_scope(args: argparse.Namespace, user: access.User) -> Scope:
    """--where within the user's rights (refused when it reaches outside them)."""
    try:
        return access.restrict(user, _scope(args.where))
    except access.AccessDenied as denied:
        _audit(args, user, "refused", str(denied))
        raise


def _audit(args: argparse.Namespace, user: access.User, event: str, detail: str) -> None:
    """Record one line of the audit trail; DataFolderUnwritable when the folder cannot be written.
    Reports record theirs before writing anything: an export that cannot be recorded is not made."""
    try:
        access.audit(args.data, user.username, event, detail, source="command line")
    except OSError as error:
        trail = Path(args.data).resolve() / access.AUDIT_FILE
        outcome = (
            f"nothing was exported, as every export is recorded in {trail}"
            if event == "export"
            else f"this could not be recorded in {trail}"
        )
        raise DataFolderUnwritable(
            Path(args.data).resolve(), error.errno, error.strerror or str(error), outcome
        ) from error


def _scope(where: list[str]) -> Scope:
    filters: dict[str, list[str]] = {}
    for item in where:
        dimension, separator, value = item.partition("=")
        if not separator or not value:
            raise BadInput(f"--where takes DIM=VALUE, not {item!r}")
        contract.check_dimension(dimension)
        filters.setdefault(dimension, []).append(value)
    return Scope.of(filters)


def check_output(args: argparse.Namespace) -> None:
    """Refuse an --output that would replace part of the data folder (through links and `..` too), a
    folder, or a file in a folder that does not exist: before anything is read or written."""
    output: Path | None = getattr(args, "output", None)
    if output is None:
        return
    data = Path(args.data).resolve()
    target = output.resolve()
    if target == data or data in target.parents:
        shown = "" if target == output.absolute() else f" (it leads to {target})"
        raise BadInput(
            f"--output {output} is inside the data folder {data}{shown}: write the report elsewhere; "
            "nothing was written"
        )
    if target.is_dir():
        raise BadInput(f"--output {output} is a folder: give a file name; nothing was written")
    if not target.parent.is_dir():
        raise BadInput(f"--output {output}: there is no folder {target.parent}; nothing was written")


def _write_output(data: bytes, args: argparse.Namespace) -> None:
    if args.output is None:
        if args.format == "xlsx" and sys.stdout.isatty():
            raise BadInput("an XLSX report is binary: give --output FILE")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    # Written beside the file and renamed over it: a reader of --output sees the old file or the new.
    temporary = args.output.with_name(f".{args.output.name}.partial")
    try:
        temporary.write_bytes(data)
        temporary.replace(args.output)
    except BaseException:
        # A failed or interrupted write leaves nothing behind (the file asked for stays as it was).
        temporary.unlink(missing_ok=True)
        raise


def run_report_aging(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    user = _actor(args)
    boundaries = contract.parse_boundaries(args.buckets)
    scope = _user_scope(args, user)
    items = aging.aged_items(store, args.as_of, scope, revalue=args.revalue)
    frame = aging.report(items, args.as_of, args.by, boundaries, scope, args.age_by)
    data = export.render(frame, args.format)
    _audit(
        args, user, "export", f"report aging as of {args.as_of} by {args.by or 'total'} ({scope.describe()})"
    )
    _write_output(data, args)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    store = Store(args.data)
    user = _actor(args, access.IMPORT)
    manifest = demo.create(
        store,
        customers=args.customers,
        documents=args.documents,
        seed=args.seed,
        as_of=args.as_of,
        progress=ProgressBar(),
        history=not args.no_history,
    )
    print(
        f"Demo company written to {store.root}: {manifest.customers:,} customers, "
        f"{manifest.documents:,} documents, {manifest.payments:,} payments, data as of {manifest.data_as_of}."
    )
    _audit(
        args,
        user,
        "import",
        f"demo company: {manifest.customers:,} customers, {manifest.documents:,} documents",
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    sources = ingest.Sources(
        args.customers,
        args.documents,
        args.payments,
        args.open_items,
        installments=args.installments,
        exchange_rates=args.exchange_rates,
    )
    mapping = ingest.load_mapping(args.mapping) if args.mapping else None
    store = Store(args.data)
    user = _actor(args, access.IMPORT)
    result = ingest.import_files(
        store, sources, mapping, functional_currency=args.functional_currency, progress=ProgressBar()
    )
    print(f"Imported into {store.root}: {result.summary()}. Data as of {result.manifest.data_as_of}.")
    _audit(args, user, "import", result.summary())
    return 0


def run_snapshot(args: argparse.Namespace) -> int:
    store = Store(args.data)
    user = _actor(args, access.IMPORT)
    # A folder of an older format is refused by every reader: `snapshot` rewrites it first.
    if store.upgrade(progress=ProgressBar()):
        print(f"Brought {store.root} up to date (format {FORMAT}).")
        _audit(args, user, "import", f"data folder brought up to format {FORMAT}")
    _require_data(store)
    manifest = store.add_snapshot(args.as_of, progress=ProgressBar())
    items = store.open_items(args.as_of)
    total = items.get_column("open_amount_functional").sum()
    overdue = (
        items.filter(items.get_column("due_date") < args.as_of).get_column("open_amount_functional").sum()
    )
    print(
        f"Snapshot {args.as_of.isoformat()}: {items.height:,} open items, total {total:,.2f} "
        f"{manifest.functional_currency}, overdue {overdue:,.2f} {manifest.functional_currency}."
    )
    _audit(args, user, "import", f"snapshot {args.as_of.isoformat()}: {items.height:,} open items")
    return 0


def _require_data(store: Store) -> None:
    if not store.exists():
        raise BadInput(f"{store.root}: no data yet; run `python -m analytics import` or `demo` first")


DSO_COLUMNS = (
    "period",
    "ar_total",
    "ar_current",
    "sales",
    "dso_countback",
    "dso_standard",
    "bpdso",
    "add",
    "cei",
)


def run_report_dso(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    user = _actor(args)
    scope = _user_scope(args, user)
    end = kpis.month_end(args.end)
    series = kpis.month_end_series(store, args.start, end, by=args.by, scope=scope)
    frame = series.select(*kpis.group_keys(args.by), *DSO_COLUMNS)
    data = export.render(frame, args.format)
    _audit(
        args,
        user,
        "export",
        f"report dso {args.start:%Y-%m} to {end:%Y-%m} by {args.by or 'total'} ({scope.describe()})",
    )
    _write_output(data, args)
    return 0


def run_report_forecast(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    user = _actor(args)
    scope = _user_scope(args, user)
    result, runs = forecast.best_forecast(store, args.as_of, scope)
    print(result.method.describe(), file=sys.stderr)
    frame = forecast.report(result, forecast.accuracy(runs))
    data = export.render(frame, args.format)
    _audit(args, user, "export", f"report forecast as of {args.as_of} ({scope.describe()})")
    _write_output(data, args)
    return 0


def run_report_predictions(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    user = _actor(args)
    scope = _user_scope(args, user)
    if args.backtest:
        dates = predictions.backtest_dates(args.as_of)
        frame = predictions.backtest(store, dates, until=args.as_of, scope=scope)
        print(predictions.summary(frame), file=sys.stderr)
        what = "report predictions back-test"
    else:
        frame = predictions.predict(store, args.as_of, scope)
        what = "report predictions"
    data = export.render(frame, args.format)
    _audit(args, user, "export", f"{what} as of {args.as_of} ({scope.describe()})")
    _write_output(data, args)
    return 0


def run_actions_export(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    user = _actor(args)
    scope = access.restrict(user, Scope())
    with collections.CollectionsDB.for_store(store) as db:
        frame = event_files.export_events(db, since=args.since)
    if not scope.is_everything:
        visible = customers_in_scope(store.connect(), scope).get_column("customer_id")
        frame = frame.filter(pl.col("customer_id").is_in(visible.implode()))
    data = export.to_csv(frame) if args.format == "csv" else export.to_xlsx(frame, sheet="Collections")
    _audit(args, user, "export", f"actions export: {frame.height:,} rows ({scope.describe()})")
    _write_output(data, args)
    return 0


def run_actions_import(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    user = _actor(args, access.WRITE)
    name = args.user or "import" if not access.Users(args.data).exists() else user.name
    with collections.CollectionsDB.for_store(store) as db:
        # The importing user records the rows; another's history is brought only by a role that may import.
        result = event_files.import_events(
            db,
            args.file,
            store,
            user=name,
            scope=access.restrict(user, Scope()),
            aliases=(user.username, user.name, user.collector or ""),
            others_allowed=user.can(access.IMPORT),
        )
    print(result.summary())
    _audit(args, user, "write", f"actions import {args.file.name}: {result.summary()}")
    return 0


def run_scenarios(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    user = _actor(args, access.CONFIGURE if args.send else None)
    scope = _user_scope(args, user)
    with collections.CollectionsDB.for_store(store) as db:
        result = scenarios.run(store, db, args.as_of, send=args.send, scope=scope)
    print(result.report(), end="")
    if args.send:
        _audit(args, user, "write", f"scenarios run --send as of {args.as_of} ({scope.describe()})")
    return 0


def run_daily(args: argparse.Namespace) -> int:
    store = Store(args.data)
    user = _actor(args, access.CONFIGURE)
    access.require(user, access.IMPORT)
    # Demo mode without --user: the run is recorded as the scheduler's.
    who = user.username if args.user else "scheduler"
    # While the app runs it holds the collections database: the run is then handed to it.
    result = daily.run_here_or_in_app(store, args.as_of or clock.today(), user=who)
    print(result.summary(), end="")
    return FAILURE if result.problems else 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise BadInput("give the password on standard input with --password-stdin")
    import getpass

    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise BadInput("the two passwords differ")
    return first


def _limits(items: list[str]) -> dict[str, list[str]]:
    return {dimension: list(values) for dimension, values in _scope(items).filters}


def _check_collectors(args: argparse.Namespace, names: list[str]) -> None:
    """A collector's or team's names must be collectors of the stored customers (when there is data)."""
    store = Store(args.data)
    if not names or not store.exists():
        return
    known = set(dimension_values(store.connect()).get("collector", []))
    unknown = sorted(set(names) - known)
    if unknown:
        raise BadInput(
            f"no customer has collector {', '.join(unknown)}; collectors: {', '.join(sorted(known)) or 'none'}"
        )


def run_users_add(args: argparse.Namespace) -> int:
    users = access.Users(args.data)
    _check_collectors(args, [args.collector] * bool(args.collector) + list(args.team or []))
    if args.no_password and args.password_stdin:
        raise BadInput("--no-password and --password-stdin exclude each other")
    password = None if args.no_password else _password(args)
    user = users.add(
        args.username,
        args.role,
        password=password,
        display_name=args.display_name or "",
        collector=args.collector,
        team=args.team or (),
        limits=_limits(args.limit),
    )
    _audit(args, user, "users", f"added as {user.role} ({user.describe_rights()})")
    print(f"Added {user.username}: {access.ROLE_LABELS[user.role].lower()}, sees {user.describe_rights()}.")
    return 0


def run_users_remove(args: argparse.Namespace) -> int:
    user = access.Users(args.data).remove(args.username)
    _audit(args, user, "users", "removed")
    print(f"Removed {user.username}.")
    return 0


def run_users_list(args: argparse.Namespace) -> int:
    users = access.Users(args.data).all()
    if not users:
        print(f"No users in {args.data}: the app runs in demo mode (no sign-in).")
        return 0
    width = max(len(user.username) for user in users)
    for user in sorted(users, key=lambda u: u.username.casefold()):
        sign_in = "password" if user.password_hash else "identity provider"
        print(
            f"{user.username:<{width}}  {user.role:<14}  {user.display_name or '-':<20}  "
            f"{sign_in:<17}  {user.describe_rights()}"
        )
    return 0


def run_users_set_role(args: argparse.Namespace) -> int:
    users = access.Users(args.data)
    _check_collectors(args, [args.collector] * bool(args.collector) + list(args.team or []))
    current = users.get(args.username)
    if current is None:
        raise BadInput(f"no user {args.username!r} in {users.path}")
    # Rights that belong to another role go with it; those of this role stay unless given again.
    user = users.update(
        args.username,
        role=args.role,
        display_name=args.display_name,
        collector=(args.collector or current.collector or "") if args.role == access.COLLECTOR else "",
        team=(args.team or list(current.team)) if args.role == access.TEAM_LEAD else [],
        limits=_limits(args.limit) if args.limit else None,
    )
    _audit(args, user, "users", f"role {user.role} ({user.describe_rights()})")
    print(f"{user.username}: {access.ROLE_LABELS[user.role].lower()}, sees {user.describe_rights()}.")
    return 0


def run_users_set_password(args: argparse.Namespace) -> int:
    user = access.Users(args.data).set_password(args.username, _password(args))
    _audit(args, user, "users", "password changed")
    print(f"Password of {user.username} changed.")
    return 0


def run_audit(args: argparse.Namespace) -> int:
    # Only the newest lines asked for are read, from the end of the trail (and its rotated files).
    trail = access.audit_trail(args.data, limit=args.limit, user=args.user)
    for row in trail.iter_rows(named=True):
        print(f"{row['at']}  {row['user']:<20}  {row['event']:<24}  {row['source']:<12}  {row['detail']}")
    return 0


def _stop_on_terminate(signum: int, frame: object) -> None:
    # A termination unwinds like an interrupt, so that what a write began is removed on the way out.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_terminate)
    try:
        check_output(args)
        return args.run(args)
    except access.AccessError as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except ingest.ImportRefused as refused:
        print(refused.report(), file=sys.stderr)
        return BAD_INPUT
    except (
        collections_db.CollectionsBusy,
        collections_db.CollectionsUnreachable,
        DataFolderDamaged,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILURE
    except (BadInput, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILURE
