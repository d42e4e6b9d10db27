"""The command line: `python -m analytics COMMAND`, the same analytics as the app.

Exit status: 0 done, 2 bad input (the message on standard error names the file, row and column),
1 anything else.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import TextIO

from analytics import aging, collections, contract, demo, export, forecast, ingest, kpis, scenarios
from analytics.scope import Scope
from analytics.store import Store

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
    import_parser.add_argument("--mapping", type=Path, help="import mapping (TOML): column names and formats")
    import_parser.add_argument(
        "--functional-currency",
        help=f"reporting currency (default: stored, else {contract.DEFAULT_FUNCTIONAL_CURRENCY})",
    )
    import_parser.set_defaults(run=run_import)

    snapshot_parser = commands.add_parser(
        "snapshot",
        help="materialise the open items of a date",
        description="Derive the items open at --as-of and store them as a snapshot, so that later "
        "reports of that date read it directly; prints the snapshot's totals.",
    )
    snapshot_parser.add_argument("--data", type=Path, required=True, help="data folder")
    snapshot_parser.add_argument(
        "--as-of", type=_date, required=True, help="date of the snapshot (YYYY-MM-DD)"
    )
    snapshot_parser.set_defaults(run=run_snapshot)

    report_parser = commands.add_parser(
        "report", help="write a report (aging, dso, forecast)", description="Write a report."
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
        "--where",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="restrict the scope to customers whose DIM is VALUE (repeatable; values of one DIM add up)",
    )
    _output_arguments(aging_parser)
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
    dso_parser.set_defaults(run=run_report_dso)

    forecast_parser = reports.add_parser(
        "forecast",
        help="the 13-week cash forecast",
        description="Expected collections per week for the 13 weeks after --as-of, with the overdue "
        "backlog and what is expected later apart, and each week's back-tested error (mape, %).",
    )
    forecast_parser.add_argument("--data", type=Path, required=True, help="data folder")
    forecast_parser.add_argument(
        "--as-of", type=_date, required=True, help="date of the forecast (YYYY-MM-DD)"
    )
    forecast_parser.add_argument(
        "--where", action="append", default=[], metavar="DIM=VALUE", help="restrict the scope"
    )
    _output_arguments(forecast_parser)
    forecast_parser.set_defaults(run=run_report_forecast)

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
    export_parser.set_defaults(run=run_actions_export)
    import_actions = actions.add_parser(
        "import",
        help="load a history from CSV or XLSX",
        description="Load qualifications and actions (the columns `actions export` writes) with the rules "
        "of the app's side panel, each row checked at its date: all rows or none.",
    )
    import_actions.add_argument("--data", type=Path, required=True, help="data folder")
    import_actions.add_argument("--file", type=Path, required=True, help="CSV or XLSX file")
    import_actions.add_argument("--user", default="import", help="user name for rows without one (import)")
    import_actions.set_defaults(run=run_actions_import)

    scenarios_parser = commands.add_parser(
        "scenarios", help="run the recovery scenarios", description="The recovery scenarios' daily run."
    )
    scenario_commands = scenarios_parser.add_subparsers(dest="scenarios", required=True, metavar="ACTION")
    run_parser = scenario_commands.add_parser(
        "run",
        help="print today's proposed reminders and alerts, or send the automatic ones",
        description="For --as-of: the step each customer's scenario proposes and the alerts since the "
        "previous run. With --send, the automatic e-mails go out by SMTP (AR_SMTP_* variables) and the "
        "automatic letters are written as PDF files under DIR/outbox/; each is logged as done. The app "
        "holds the collections database while it runs: stop it first.",
    )
    run_parser.add_argument("--data", type=Path, required=True, help="data folder")
    run_parser.add_argument("--as-of", type=_date, required=True, help="date of the run (YYYY-MM-DD)")
    run_parser.add_argument("--send", action="store_true", help="send the automatic reminders")
    run_parser.add_argument(
        "--where", action="append", default=[], metavar="DIM=VALUE", help="restrict the scope"
    )
    run_parser.set_defaults(run=run_scenarios)
    return parser


def _month(text: str) -> date:
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month like 2026-01") from None


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=export.FORMATS, default="csv", help="output format (csv)")
    parser.add_argument("--output", type=Path, help="output file (standard output by default)")


def _scope(where: list[str]) -> Scope:
    filters: dict[str, list[str]] = {}
    for item in where:
        dimension, separator, value = item.partition("=")
        if not separator or not value:
            raise BadInput(f"--where takes DIM=VALUE, not {item!r}")
        contract.check_dimension(dimension)
        filters.setdefault(dimension, []).append(value)
    return Scope.of(filters)


def _write_output(data: bytes, args: argparse.Namespace) -> None:
    if args.output is None:
        if args.format == "xlsx" and sys.stdout.isatty():
            raise BadInput("an XLSX report is binary: give --output FILE")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    temporary = args.output.with_name(f".{args.output.name}.partial")
    temporary.write_bytes(data)
    temporary.replace(args.output)


def run_report_aging(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    boundaries = contract.parse_boundaries(args.buckets)
    scope = _scope(args.where)
    items = aging.aged_items(store, args.as_of, scope)
    frame = aging.report(items, args.as_of, args.by, boundaries, scope)
    _write_output(export.render(frame, args.format), args)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    store = Store(args.data)
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
    return 0


def run_import(args: argparse.Namespace) -> int:
    sources = ingest.Sources(args.customers, args.documents, args.payments, args.open_items)
    mapping = ingest.load_mapping(args.mapping) if args.mapping else None
    store = Store(args.data)
    result = ingest.import_files(
        store, sources, mapping, functional_currency=args.functional_currency, progress=ProgressBar()
    )
    print(f"Imported into {store.root}: {result.summary()}. Data as of {result.manifest.data_as_of}.")
    return 0


def run_snapshot(args: argparse.Namespace) -> int:
    store = Store(args.data)
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
    end = kpis.month_end(args.end)
    series = kpis.month_end_series(store, args.start, end, by=args.by, scope=_scope(args.where))
    frame = series.select(*kpis.group_keys(args.by), *DSO_COLUMNS)
    _write_output(export.render(frame, args.format), args)
    return 0


def run_report_forecast(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    scope = _scope(args.where)
    result = forecast.cash_forecast(store, args.as_of, scope)
    errors = forecast.accuracy(forecast.backtest(store, args.as_of, scope=scope))
    frame = forecast.report(result, errors)
    _write_output(export.render(frame, args.format), args)
    return 0


def run_actions_export(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    with collections.CollectionsDB.for_store(store) as db:
        frame = collections.export_events(db, since=args.since)
    data = export.to_csv(frame) if args.format == "csv" else export.to_xlsx(frame, sheet="Collections")
    _write_output(data, args)
    return 0


def run_actions_import(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    with collections.CollectionsDB.for_store(store) as db:
        result = collections.import_events(db, args.file, store, user=args.user)
    print(result.summary())
    return 0


def run_scenarios(args: argparse.Namespace) -> int:
    store = Store(args.data)
    _require_data(store)
    with collections.CollectionsDB.for_store(store) as db:
        result = scenarios.run(store, db, args.as_of, send=args.send, scope=_scope(args.where))
    print(result.report(), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ingest.ImportRefused as refused:
        print(refused.report(), file=sys.stderr)
        return BAD_INPUT
    except collections.CollectionsBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILURE
    except (BadInput, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILURE
