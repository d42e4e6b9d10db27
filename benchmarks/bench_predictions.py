"""Benchmark of invoice-level payment prediction on a demo ledger of 1M documents: reading what is
known at the as-of date, training, scoring alone (with the customers' histories the training built,
and with them built anew), and the baseline (due date + the customer's mean
days late) beside it; then the back-test of both at a few month ends (mean absolute error in days,
late/not-late accuracy).

    /work/main/.venv/bin/python benchmarks/bench_predictions.py [--documents N] [--keep DIR] [--months N]

The demo company is written once, into a temporary folder (or DIR with --keep, reused when it is
already there).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics import demo, predictions  # noqa: E402
from analytics.store import Store  # noqa: E402

AS_OF = date(2026, 6, 30)


def timed(label: str, work):  # noqa: ANN001, ANN201
    started = time.perf_counter()
    result = work()
    print(f"{label:<40} {time.perf_counter() - started:7.2f} s", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000, help="documents of the demo (1,000,000)")
    parser.add_argument("--keep", type=Path, help="write the demo company here and keep it")
    parser.add_argument("--months", type=int, default=3, help="month ends of the back-test (3)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory(prefix="bench-predictions-") as scratch:
        store = Store(args.keep or Path(scratch) / "data")
        if not store.exists():
            customers = max(args.documents // 500, 10)
            timed(
                f"demo company ({args.documents:,} documents)",
                lambda: demo.create(
                    store, customers=customers, documents=args.documents, seed=7, as_of=AS_OF
                ),
            )
        con = store.connect()
        known = timed("what is known at the as-of date", lambda: predictions.known_at(store, AS_OF, con))
        print(f"  {known.settled.height:,} settled invoices, {known.open.height:,} open invoices")
        model = timed("training (features + model)", lambda: predictions.fit(known))
        print(f"  {model.training_rows:,} training rows")
        scored = timed("scoring the open invoices", lambda: predictions.score(model, known))
        # The customers' histories are built once per reading of the ledger: here anew.
        fresh = predictions.known_at(store, AS_OF, con)
        timed("scoring, histories built anew", lambda: predictions.score(model, fresh))
        timed("baseline for the open invoices", lambda: predictions.baseline(known))
        print(f"  {scored.height:,} predictions")
        dates = predictions.backtest_dates(AS_OF, args.months)
        figures = timed(
            f"back-test at {len(dates)} month ends", lambda: predictions.backtest(store, dates, AS_OF)
        )
        print(figures)
        print(predictions.summary(figures))
    print("load average", " ".join(f"{load:.2f}" for load in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
