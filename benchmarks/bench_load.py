"""Load: simulated users driving the app at once, and what it does to the time of each interaction.

Each user is an AppTest session of app.py in a thread of this process (tests/load.py), so that all
share the app's `st.cache_resource` objects, the collections database's one writer first, as the
sessions of one `streamlit run` server do. A user works as one of the demo's collectors ("Working
as"); a round is: open the aging balance, drill a row, open the worklist, select a customer, open the
side panel, fill it (a call with its outcome, or a promise to pay on the customer's items, in turn),
save, and back to the aging balance. Each interaction's time is the script run the server does for it
(AppTest's run: the app's code, Streamlit's, the waiting for the CPU under load).

The run: the demo company (500 customers, 50,000 documents by default) into benchmarks/output/, one
untimed round to import the modules and fill the caches, then the baseline (1 user for
--baseline-seconds), then the load (--users users for --seconds). Then every write a user was told
"Saved" for is looked up in the collections database: it must be there exactly once (an action one
row, a promise one row per item), and nothing of the load without a "Saved". Exit status 1 on any
error or any write missing, doubled or unannounced.

With --pace 3-10 each user pauses 3 to 10 s (at random) after each interaction, as a person reading
the page does, and the users start spread over 10 s: the load of 20 people at work, where without it
20 users click as fast as the app answers.

    .venv/bin/python benchmarks/bench_load.py [--users 20] [--seconds 60] [--baseline-seconds 30]
        [--customers 500] [--documents 50000] [--pace 3-10] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "benchmarks" / "output"
for folder in (ROOT, ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import load  # noqa: E402
import polars as pl  # noqa: E402

from analytics import demo  # noqa: E402
from analytics.scope import dimension_values  # noqa: E402
from analytics.store import Store  # noqa: E402

AS_OF = date(2026, 11, 20)


class LoadAverage:
    """The 1-minute load average, sampled every 5 s while the crowd runs."""

    def __init__(self) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(5):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadAverage:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def __str__(self) -> str:
        return f"{min(self.samples):.1f}-{max(self.samples):.1f}"


def figures(crowd: load.CrowdResult) -> pl.DataFrame:
    """Per interaction kind: count, median, p95 and max in milliseconds."""
    timed = crowd.interactions.filter(pl.col("kind") != "error")
    rows = []
    for kind in load.KINDS:
        seconds = sorted(timed.filter(pl.col("kind") == kind).get_column("seconds").to_list())
        if not seconds:
            continue
        p95 = seconds[min(len(seconds) - 1, int(round(0.95 * (len(seconds) - 1))))]
        rows.append((kind, len(seconds), statistics.median(seconds) * 1000, p95 * 1000, seconds[-1] * 1000))
    every = sorted(timed.get_column("seconds").to_list())
    if every:
        p95 = every[min(len(every) - 1, int(round(0.95 * (len(every) - 1))))]
        rows.append(("all", len(every), statistics.median(every) * 1000, p95 * 1000, every[-1] * 1000))
    return pl.DataFrame(
        rows,
        schema={
            "interaction": pl.String,
            "n": pl.Int64,
            "median": pl.Float64,
            "p95": pl.Float64,
            "max": pl.Float64,
        },
        orient="row",
    )


def rate(crowd: load.CrowdResult) -> float:
    """Interactions per second over the crowd's run."""
    return crowd.interactions.filter(pl.col("kind") != "error").height / crowd.seconds


def report(name: str, crowd: load.CrowdResult, average: LoadAverage) -> None:
    rounds = sum(user.rounds for user in crowd.users)
    print(
        f"\n{name}: {len(crowd.users)} user(s), {crowd.seconds:.1f} s, {rounds} rounds, "
        f"{rate(crowd):.2f} interactions/s, {len(crowd.writes)} writes saved, "
        f"{len(crowd.errors)} errors, load average {average}"
    )
    print(f"{'interaction':<16} {'n':>5} {'median ms':>10} {'p95 ms':>10} {'max ms':>10}")
    for row in figures(crowd).iter_rows():
        print(f"{row[0]:<16} {row[1]:>5} {row[2]:>10.0f} {row[3]:>10.0f} {row[4]:>10.0f}")
    for error in crowd.errors[:5]:
        print(f"error: {error}")


def pace_of(text: str) -> tuple[float, float]:
    """'3-10' -> (3.0, 10.0): the shortest and longest pause in seconds."""
    try:
        shortest, longest = (float(part) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--pace {text!r}: expected MIN-MAX seconds, e.g. 3-10") from None
    if not 0 <= shortest <= longest:
        raise argparse.ArgumentTypeError(f"--pace {text!r}: expected 0 <= MIN <= MAX")
    return shortest, longest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="simulated users at once (20)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the load run (60)")
    parser.add_argument("--baseline-seconds", type=float, default=30, help="length of the 1-user run (30)")
    parser.add_argument("--customers", type=int, default=500, help="demo customers (500)")
    parser.add_argument("--documents", type=int, default=50_000, help="demo documents (50000)")
    parser.add_argument(
        "--pace",
        type=pace_of,
        default=None,
        metavar="MIN-MAX",
        help="seconds each user pauses after each interaction, e.g. 3-10 (default: none)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder under benchmarks/output/")
    args = parser.parse_args()

    data_dir = OUTPUT / f"load-{os.getpid()}"
    started = time.perf_counter()
    demo.create(Store(data_dir), customers=args.customers, documents=args.documents, seed=7, as_of=AS_OF)
    if args.pace:
        print(f"pace: each user pauses {args.pace[0]:g}-{args.pace[1]:g} s after each interaction")
    print(
        f"demo company: {args.customers:,} customers, {args.documents:,} documents, as of {AS_OF} "
        f"({time.perf_counter() - started:.1f} s) in {data_dir}"
    )
    os.environ["AR_DATA_DIR"] = str(data_dir)
    os.environ["AR_NO_DEMO"] = "1"
    collectors = dimension_values(Store(data_dir).connect())["collector"]
    names = [collectors[number % len(collectors)] for number in range(args.users)]
    # Every simulated user signs in as a collector of the users file, as in production.
    load.add_users(data_dir, names)
    tag = f"bench {os.getpid()}"
    try:
        with load.one_runtime():
            writes = load.warm_up(names[0], tag, signed_in=True)
            with LoadAverage() as baseline_load:
                baseline = load.run_crowd(
                    names[:1], args.baseline_seconds, tag + " baseline", signed_in=True, pace=args.pace
                )
            report("baseline", baseline, baseline_load)
            with LoadAverage() as crowd_load:
                crowd = load.run_crowd(names, args.seconds, tag + " load", signed_in=True, pace=args.pace)
            report("load", crowd, crowd_load)
        problems = load.check_writes(data_dir, tag, writes + baseline.writes + crowd.writes)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    print(f"\nratio of the load's figures to the baseline's ({args.users} users / 1 user):")
    print(f"{'interaction':<16} {'median':>8} {'p95':>8}")
    ratios = figures(crowd).join(figures(baseline), on="interaction", suffix="_baseline")
    for row in ratios.iter_rows(named=True):
        print(
            f"{row['interaction']:<16} {row['median'] / row['median_baseline']:>7.1f}x "
            f"{row['p95'] / row['p95_baseline']:>7.1f}x"
        )
    print(
        f"throughput: {rate(crowd):.2f} interactions/s with {args.users} users, {rate(baseline):.2f} with 1 "
        f"({rate(crowd) / rate(baseline):.1f}x)"
    )
    print(
        f"writes: {len(writes) + len(baseline.writes) + len(crowd.writes)} saved, "
        f"{len(problems)} missing, doubled or unannounced"
    )
    for problem in problems[:10]:
        print(f"write problem: {problem}")
    errors = baseline.errors + crowd.errors
    return 1 if errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
