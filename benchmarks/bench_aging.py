"""Benchmark of the aging figures: the aging balance by collector and by customer over about a million
open items against a straightforward pandas implementation of the same figures, an aging page
interaction on cached items, and the open items of a date that is not a month end.

    /tmp/venv/bin/python benchmarks/bench_aging.py [--large] [--runs N]

The ledger: the demo company's 2,000,000 documents (20,000 customers, 26 months to 2026-06-30) with the
payments of a seeded 55% of its documents removed, so that about 1.1M items are open on 2026-06-17 (not a
month end, so that Store.open_items derives them from documents and payments). With --large, also the
whole 10,000,000-document demo ledger (about 0.7M open items on that date): Store.open_items on it, and
the aging figures again over its open items. Stores are written (not timed) under benchmarks/output/
(git-ignored) and deleted at the end. Figures are medians of warm runs (after one untimed run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "benchmarks" / "output"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics import aging, contract, demo  # noqa: E402
from analytics.store import ImportRecord, Store, Tables  # noqa: E402

LEDGER_END = date(2026, 6, 30)
AS_OF = date(2026, 6, 17)
UNPAID_SHARE = 55  # percent of documents whose payments are removed
TARGET_AGING_MS = 100
TARGET_SPEEDUP = 5
TARGET_INTERACTION_MS = 500
TARGET_OPEN_ITEMS_S = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also the 10,000,000-document ledger")
    parser.add_argument("--runs", type=int, default=7, help="timed warm runs of each figure (default 7)")
    args = parser.parse_args()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-aging-", dir=OUTPUT))
    print(f"load average at start: {_load()}; {os.cpu_count()} cores; {args.runs} warm runs of each")
    try:
        store = many_open_items(work / "many-open")
        report(store, "2M documents, 55% unpaid", args.runs)
        if args.large:
            store = large_ledger(work / "demo-10m")
            report(store, "10M documents (demo)", min(args.runs, 5))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at end: {_load()}")
    return 0


def many_open_items(folder: Path) -> Store:
    started = time.perf_counter()
    ledger = demo.generate(customers=20_000, documents=2_000_000, seed=7, as_of=LEDGER_END)
    unpaid = ledger.documents.select("document_id").filter(
        pl.col("document_id").hash(42) % 100 < UNPAID_SHARE
    )
    payments = ledger.payments.join(unpaid, on="document_id", how="anti")
    store = Store(folder)
    store.write(
        Tables(
            ledger.customers,
            ledger.documents,
            payments,
            keep_snapshots=False,
            exchange_rates=ledger.exchange_rates,
        ),
        ImportRecord("benchmark", "many open items", "-", 0, 0, 0, 0),
    )
    print(
        f"\nledger: {ledger.documents.height:,} documents, {payments.height:,} payments "
        f"(written in {time.perf_counter() - started:.1f} s, not counted)"
    )
    return store


def large_ledger(folder: Path) -> Store:
    started = time.perf_counter()
    store = Store(folder)
    demo.create(store, customers=20_000, documents=10_000_000, seed=7, as_of=LEDGER_END)
    manifest = store.manifest()
    print(
        f"\nledger: {manifest.documents:,} documents, {manifest.payments:,} payments "
        f"(generated and written in {time.perf_counter() - started:.1f} s, not counted)"
    )
    return store


def report(store: Store, label: str, runs: int) -> None:
    print(f"== {label} ==")
    manifest = store.manifest()
    assert AS_OF not in manifest.derived_dates and AS_OF not in manifest.snapshot_dates

    # Open items at a date that is not a month end: derived, a new connection each time.
    seconds = timed(lambda: store.open_items(AS_OF), runs)
    items_count = store.open_items(AS_OF).height
    month_end = manifest.month_ends[-1]
    stored = timed(lambda: store.open_items(month_end), runs)
    print(
        f"Store.open_items({AS_OF}): {items_count:,} items in {seconds:.2f} s "
        f"(target < {TARGET_OPEN_ITEMS_S} s: {_ok(seconds < TARGET_OPEN_ITEMS_S)}); "
        f"a stored month end ({month_end}): {stored:.2f} s"
    )
    cache_fill = timed(lambda: aging.aged_items(store, AS_OF), min(runs, 3))
    items = aging.aged_items(store, AS_OF)
    print(f"aging.aged_items (what a page caches): {items.height:,} items in {cache_fill:.2f} s")
    if not store.read(contract.EXCHANGE_RATES).is_empty():
        revalued = timed(lambda: aging.aged_items(store, AS_OF, revalue=True), min(runs, 3))
        print(f"aging.aged_items revalued at the latest exchange rates: {revalued:.2f} s")

    # The aging balance, Polars (analytics.aging) against pandas, on the same items.
    frame = to_pandas(items)
    for by in ("collector", "customer"):
        request = aging.AgingQuery(AS_OF, by=by)
        keys = aging.level_keys(by)
        polars_s = timed(lambda request=request: aging.aging(items, request), runs)
        pandas_s = timed(lambda keys=keys, request=request: pandas_aging(frame, keys, request.buckets), runs)
        same = same_figures(aging.aging(items, request), pandas_aging(frame, keys, request.buckets), keys)
        print(
            f"aging by {by:<9}: analytics.aging {polars_s * 1000:6.1f} ms | pandas {pandas_s * 1000:7.1f} ms | "
            f"{pandas_s / polars_s:4.1f}x faster | same figures to the cent: {same} | "
            f"target < {TARGET_AGING_MS} ms and >= {TARGET_SPEEDUP}x: "
            f"{_ok(polars_s * 1000 < TARGET_AGING_MS and pandas_s / polars_s >= TARGET_SPEEDUP)}"
        )

    # A page interaction on cached items: the aging of the new view and its headline figures.
    entity = items.get_column("entity").mode().sort()[0]
    collector = items.get_column("collector").mode().sort()[0]
    interactions = {
        "drill into an entity (by division)": aging.AgingQuery(
            AS_OF, by="division", drill=(("entity", entity),)
        ),
        "filter +90 (by collector)": aging.AgingQuery(AS_OF, by="collector", bucket_filter=("over_90",)),
        "drill into a collector (by customer)": aging.AgingQuery(
            AS_OF, by="customer", drill=(("collector", collector),)
        ),
        "more than 30 days past due (by customer)": aging.AgingQuery(AS_OF, by="customer", overdue_beyond=30),
    }
    worst = 0.0
    for name, request in interactions.items():
        seconds = timed(
            lambda request=request: (aging.aging(items, request), aging.headline(items, request)), runs
        )
        worst = max(worst, seconds)
        print(f"interaction, aging.aging + aging.headline, {name}: {seconds * 1000:6.1f} ms")
    print(
        f"slowest interaction: {worst * 1000:.1f} ms "
        f"(target < {TARGET_INTERACTION_MS} ms: {_ok(worst * 1000 < TARGET_INTERACTION_MS)})"
    )


def to_pandas(items: pl.DataFrame) -> pd.DataFrame:
    """The items as pandas sees them: amounts in integer cents (exact, so that totals compare to the cent)."""
    return items.select(
        *contract.DIMENSIONS,
        "customer_id",
        "customer_name",
        "days_past_due",
        pl.col(aging.AMOUNT).to_physical().cast(pl.Int64).alias("cents"),
    ).to_pandas()


def pandas_aging(frame: pd.DataFrame, keys: list[str], boundaries: tuple[int, ...]) -> pd.DataFrame:
    """The straightforward pandas way: bucket with pd.cut, pivot the amounts, add total, overdue, items."""
    names = contract.bucket_names(boundaries)
    bucket = pd.cut(frame["days_past_due"], bins=[-np.inf, 0, *boundaries, np.inf], labels=names)
    table = frame.assign(bucket=bucket).pivot_table(
        index=keys, columns="bucket", values="cents", aggfunc="sum", fill_value=0, observed=False
    )
    table = table.reindex(columns=names, fill_value=0)
    table["total"] = table[names].sum(axis=1)
    table["overdue"] = table["total"] - table["not_due"]
    table["items"] = frame.groupby(keys).size()
    return table.reset_index().sort_values(["total", *keys], ascending=[False] + [True] * len(keys))


def same_figures(result: aging.Aging, table: pd.DataFrame, keys: list[str]) -> str:
    """Whether every group's buckets, total, overdue and items agree, amounts to the cent."""
    columns = [*result.buckets, "total", "overdue"]
    ours = result.rows.select(
        *keys, *(pl.col(c).to_physical().cast(pl.Int64) for c in columns), pl.col("items").cast(pl.Int64)
    )
    theirs = pl.from_pandas(table[[*keys, *columns, "items"]]).cast(
        {c: pl.Int64 for c in [*columns, "items"]}
    )
    joined = ours.join(theirs, on=keys, how="full", coalesce=True, suffix="_pandas")
    agree = joined.height == ours.height == theirs.height and all(
        joined.get_column(c).equals(joined.get_column(f"{c}_pandas")) for c in [*columns, "items"]
    )
    total = Decimal(result.totals["total"])
    return f"{'yes' if agree else 'NO'} ({ours.height:,} groups, total {total:,.2f})"


def timed(work: Callable[[], object], runs: int) -> float:
    """Median seconds of `runs` calls after one untimed call."""
    work()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _ok(met: bool) -> str:
    return "met" if met else "NOT met"


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
