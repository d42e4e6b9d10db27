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

from analytics import contract, demo, ingest
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
        description="Receivables aging and DSO: import, demo data and snapshots from the command line.",
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
    return parser


def run_demo(args: argparse.Namespace) -> int:
    store = Store(args.data)
    manifest = demo.create(
        store,
        customers=args.customers,
        documents=args.documents,
        seed=args.seed,
        as_of=args.as_of,
        progress=ProgressBar(),
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
    rows = ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in result.rows.items())
    print(f"Imported into {store.root}: {rows}. Data as of {result.manifest.data_as_of}.")
    return 0


def run_snapshot(args: argparse.Namespace) -> int:
    store = Store(args.data)
    if not store.exists():
        raise BadInput(f"{store.root}: no data yet; run `python -m analytics import` or `demo` first")
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ingest.ImportRefused as refused:
        print(refused.report(), file=sys.stderr)
        return BAD_INPUT
    except (BadInput, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return BAD_INPUT
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILURE
