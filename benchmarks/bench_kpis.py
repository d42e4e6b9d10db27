"""Benchmark of the month-end KPI series: 24 months over a demo ledger of 1M documents (10M with
--large), cold, median of 3; beside a straightforward pandas computation of the month-end AR and sales
alone, in the same run.

    /tmp/venv/bin/python benchmarks/bench_kpis.py [--large] [--by DIMENSION] [--keep DIR]

Each run is a child process of its own, so that nothing (DuckDB's or Polars' caches, the imported
modules' state) carries over from one run to the next: every run is cold but for the operating
system's file cache. The demo company is written once, into a temporary folder (or DIR with --keep,
reused when it is already there).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics import demo, kpis  # noqa: E402
from analytics.store import Store  # noqa: E402

AS_OF = date(2026, 6, 30)
START, END = date(2024, 7, 1), date(2026, 6, 30)
RUNS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="10,000,000 documents (default 1,000,000)")
    parser.add_argument("--by", default=None, help="a customer dimension or 'customer' (default: none)")
    parser.add_argument("--keep", type=Path, help="write the demo company here and keep it")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DATA", "BY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, data, by = args.child
        print(json.dumps(measure(kind, Path(data), None if by == "-" else by)))
        return 0

    customers, documents = (20_000, 10_000_000) if args.large else (2_000, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="bench-kpis-") as scratch:
        folder = args.keep or Path(scratch) / "data"
        store = Store(folder)
        if not store.exists():
            started = time.perf_counter()
            demo.create(store, customers=customers, documents=documents, seed=7, as_of=AS_OF)
            print(
                f"demo company: {customers:,} customers, {documents:,} documents, "
                f"written in {time.perf_counter() - started:.1f} s"
            )
        by = args.by or "-"
        results = {}
        for kind in ("kpis", "pandas"):
            measured = [child(kind, folder, by) for _ in range(RUNS)]
            results[kind] = statistics.median(m["seconds"] for m in measured)
            # CPU seconds beside the wall clock: on a shared machine they move less than the wall does.
            runs = ", ".join(f"{m['seconds']:.2f} ({m['cpu_seconds']:.2f} CPU)" for m in measured)
            label = {
                "kpis": f"kpis.month_end_series, 24 months, every figure, by {args.by or 'nothing'}",
                "pandas": "pandas baseline, 24 month-end AR and monthly sales only",
            }[kind]
            print(f"{label:<72} median {results[kind]:6.2f} s  (runs, wall and CPU s: {runs})")
        print(f"pandas baseline / month_end_series: {results['pandas'] / results['kpis']:.1f}x")
    return 0


def child(kind: str, folder: Path, by: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, str(folder), by]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(kind: str, folder: Path, by: str | None) -> dict[str, float]:
    started, cpu = time.perf_counter(), _cpu_seconds()
    if kind == "kpis":
        rows = kpis.month_end_series(Store(folder), START, END, by=by).height
    else:
        rows = baseline(folder).shape[0]
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu, "rows": rows}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def baseline(folder: Path):  # noqa: ANN201 - a pandas frame; pandas is a dev-only dependency
    """Month-end AR and monthly sales the straightforward way: read the tables with pandas, give each
    applied payment its document's date (a payment counts once its document exists), then at each
    month end sum the documents issued by then, less the payments made by then, less the cash received
    on account by then."""
    import pandas as pd

    current = Store(folder).current
    assert current is not None
    documents = pd.read_parquet(
        current / "documents.parquet", columns=["document_id", "document_date", "amount_functional"]
    )
    payments = pd.read_parquet(
        current / "payments.parquet", columns=["document_id", "payment_date", "amount"]
    )
    # Parquet's decimals and dates arrive as Python objects: make them floats and datetime64 first.
    documents["amount_functional"] = documents["amount_functional"].astype(float)
    payments["amount"] = payments["amount"].astype(float)
    documents["document_date"] = pd.to_datetime(documents["document_date"])
    payments["payment_date"] = pd.to_datetime(payments["payment_date"])
    on_account = payments[payments["document_id"].isna()]
    applied = payments[payments["document_id"].notna()].merge(
        documents[["document_id", "document_date"]], on="document_id", how="inner"
    )
    rows = []
    for month_end in pd.date_range(START, END, freq="ME"):
        month_start = month_end.replace(day=1)
        issued = documents["document_date"] <= month_end
        paid = (applied["payment_date"] <= month_end) & (applied["document_date"] <= month_end)
        ar = (
            documents.loc[issued, "amount_functional"].sum()
            - applied.loc[paid, "amount"].sum()
            - on_account.loc[on_account["payment_date"] <= month_end, "amount"].sum()
        )
        sales = documents.loc[issued & (documents["document_date"] >= month_start), "amount_functional"].sum()
        rows.append((month_end.date(), ar, sales))
    return pd.DataFrame(rows, columns=["period", "ar_total", "sales"])


if __name__ == "__main__":
    sys.exit(main())
