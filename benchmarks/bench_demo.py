"""Benchmark of the demo generator: seconds and peak memory for 1M documents (and 10M with --large),
against a naive baseline that draws each document in a Python loop.

    /tmp/venv/bin/python benchmarks/bench_demo.py [--large]

Each measurement runs in a child process of its own, so that its peak RSS (resource.getrusage) is its
own and not the high-water mark of an earlier, larger run.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics import contract, demo  # noqa: E402

AS_OF = date(2026, 6, 30)
NAIVE_DOCUMENTS = 100_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also generate 10,000,000 documents")
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "CUSTOMERS", "DOCUMENTS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        kind, customers, documents = args.child
        print(json.dumps(measure(kind, int(customers), int(documents))))
        return 0

    runs = [("vectorised", 2_000, 1_000_000)]
    if args.large:
        runs.append(("vectorised", 20_000, 10_000_000))
    runs.append(("naive loop", 2_000, NAIVE_DOCUMENTS))
    header = ("generator", "customers", "documents", "payments", "seconds", "peak RSS", "µs/doc")
    print("{:<12} {:>10} {:>12} {:>12} {:>9} {:>10} {:>8}".format(*header))
    per_document: dict[str, float] = {}
    for kind, customers, documents in runs:
        result = child(kind, customers, documents)
        microseconds = result["seconds"] / documents * 1e6
        per_document.setdefault(kind, microseconds)
        print(
            f"{kind:<12} {customers:>10,} {documents:>12,} {result['payments']:>12,} "
            f"{result['seconds']:>9.2f} {result['peak_rss_mib']:>6,.0f} MiB {microseconds:>8.2f}"
        )
    ratio = per_document["naive loop"] / per_document["vectorised"]
    print(f"naive loop / vectorised, time per document: {ratio:.0f}x")
    return 0


def child(kind: str, customers: int, documents: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", kind, str(customers), str(documents)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def measure(kind: str, customers: int, documents: int) -> dict[str, float]:
    started = time.perf_counter()
    if kind == "naive loop":
        ledger = naive(customers, documents, seed=7, as_of=AS_OF)
    else:
        ledger = demo.generate(customers=customers, documents=documents, seed=7, as_of=AS_OF)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "peak_rss_mib": peak_kib / 1024, "payments": ledger.payments.height}


def naive(customers: int, documents: int, *, seed: int, as_of: date) -> demo.Ledger:
    """The baseline: the same kind of ledger (customers, invoices, credit notes, payments in one or two
    parts) drawn one document at a time with `random`, `datetime` and `Decimal`."""
    rnd = random.Random(seed)
    customer_rows = []
    weights = []
    for number in range(1, customers + 1):
        terms = rnd.choice((0, 30, 45, 60))
        customer_rows.append(
            {
                "customer_id": f"CUST-{number:06d}",
                "customer_name": f"Customer {number}",
                "entity": rnd.choice([e.name for e in demo.ENTITIES]),
                "division": None,
                "region": None,
                "portfolio": None,
                "segment": rnd.choice(demo.SEGMENTS),
                "salesperson": None,
                "collector": rnd.choice(demo.COLLECTORS)[0],
                "credit_limit": Decimal(rnd.randrange(1, 100) * 1000),
                "payment_terms_days": terms,
                "risk_class": rnd.choice(demo.RISK_CLASSES),
                "country": "FR",
            }
        )
        weights.append(rnd.lognormvariate(0, 0.8))
    span = 30 * 26
    document_rows = []
    payment_rows = []
    payment_number = 0
    for number in range(1, documents + 1):
        customer = rnd.choices(customer_rows, weights)[0]
        day = as_of - timedelta(days=rnd.randrange(span))
        pounds = customer["entity"] == "Acme UK Ltd"
        amount = Decimal(round(rnd.lognormvariate(7.5, 0.9), 2)).quantize(Decimal("0.01"))
        credit = rnd.random() < demo.CREDIT_NOTE_SHARE
        if credit:
            amount = -amount
        functional = (amount * Decimal("1.17")).quantize(Decimal("0.01")) if pounds else amount
        due = day if credit else day + timedelta(days=customer["payment_terms_days"])
        document_id = f"{'CN' if credit else 'INV'}-{number:08d}"
        document_rows.append(
            {
                "document_id": document_id,
                "document_type": "credit_note" if credit else "invoice",
                "customer_id": customer["customer_id"],
                "document_date": day,
                "due_date": due,
                "currency": "GBP" if pounds else "EUR",
                "amount": amount,
                "amount_functional": functional,
            }
        )
        if credit:
            continue
        paid = due + timedelta(days=round(rnd.gammavariate(2, 5)))
        parts = [functional]
        if rnd.random() < demo.PARTIAL_PAYMENT_SHARE:
            first = (functional * Decimal(rnd.uniform(0.2, 0.8))).quantize(Decimal("0.01"))
            parts = [first, functional - first]
        for part in parts:
            if paid <= as_of:
                payment_number += 1
                payment_rows.append(
                    {
                        "payment_id": f"PAY-{payment_number:08d}",
                        "customer_id": customer["customer_id"],
                        "payment_date": paid,
                        "document_id": document_id,
                        "amount": part,
                        "method": "cash",
                    }
                )
            paid += timedelta(days=rnd.randrange(1, 30))
    return demo.Ledger(
        customers=pl.DataFrame(customer_rows, schema=contract.CUSTOMERS.schema),
        documents=pl.DataFrame(document_rows, schema=contract.DOCUMENTS.schema).sort("document_date"),
        payments=pl.DataFrame(payment_rows, schema=contract.PAYMENTS.schema).sort("payment_date"),
    )


if __name__ == "__main__":
    sys.exit(main())
