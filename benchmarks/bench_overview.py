"""Benchmark of the overview page's first render: the app (app.py, its sidebar and st.navigation) run
by Streamlit's AppTest on the overview (home) page over about a million open items, cold.

    /tmp/venv/bin/python benchmarks/bench_overview.py [--runs N] [--keep DIR]

The ledger is bench_aging.py's: the demo company's 2,000,000 documents (20,000 customers) with the
payments of a seeded 55% of its documents removed; the page opens at the data's last day, 2026-06-30,
where about 1.2M items are open. It is written once (not timed) under benchmarks/output/ (git-ignored)
and deleted at the end, or into DIR with --keep (reused when it is already there).

Each run is a child process of its own: it imports Streamlit and AppTest (not timed), then times
  - the first render: AppTest running the app once, in a process that has run nothing yet (the page's
    modules are imported and every cache is empty: a server's first request after a start);
  - a cold render: the caches cleared (st.cache_data.clear(), st.cache_resource.clear()), the app run
    again in the same process (modules imported: a server's first request after an import of new data);
  - a warm render: the app run once more, every cache filled (a user's next visit);
  - a cold render with the back-test asked for: the caches cleared again, the page's "Back-test the
    forecast" switch on (the page turns it on by default up to forecast.BACKTEST_AUTOMATIC_ITEMS open
    items, 150,000, and leaves it to be asked for above, as here: what a user waits for on asking).
Beside each time, the process's CPU time over the render (all its threads: a busy machine slows the
time, less the CPU time). An untimed child runs first, so that every timed one finds the collections database created and the
files in the operating system's cache. Figures are medians over the runs; the page's receivables
figure is checked against analytics.aging.headline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "benchmarks" / "output"
APP = ROOT / "app.py"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench_aging import many_open_items  # noqa: E402

from analytics.store import Store  # noqa: E402

TARGET_S = 2.0
RUNS = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed child processes (default {RUNS})")
    parser.add_argument("--keep", type=Path, help="write the ledger here and keep it")
    parser.add_argument("--child", metavar="DATA", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child))))
        return 0

    OUTPUT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-overview-", dir=OUTPUT))
    print(f"load average at start: {_load()}; {os.cpu_count()} cores; {args.runs} runs")
    try:
        folder = args.keep or scratch / "many-open"
        store = Store(folder)
        if not store.exists():
            store = many_open_items(folder)
        manifest = store.manifest()
        print(
            f"data: {manifest.documents:,} documents, {manifest.payments:,} payments, as of {manifest.data_as_of}"
        )
        child(folder)  # untimed: creates the collections database, fills the file cache
        measured = [child(folder) for _ in range(args.runs)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    first = measured[0]
    print(
        f"overview at {first['as_of']}: {first['items']:,} open items; receivables shown "
        f"{first['receivables']} (analytics: {first['expected']}): {'same' if first['same'] else 'DIFFERENT'}"
    )
    for kind, label in (
        ("first", "first render, fresh process (imports + empty caches)"),
        ("cold", "cold render, caches cleared (modules imported)"),
        ("backtest", "cold render, caches cleared, back-test switched on"),
        ("warm", "warm render, caches filled"),
    ):
        values = [m[kind] for m in measured]
        runs = ", ".join(f"{v:.2f}" for v in values)
        cpu = statistics.median(m["cpu"][kind] for m in measured)
        print(f"{label:<56} median {statistics.median(values):5.2f} s  (runs: {runs}; CPU {cpu:.2f} s)")
    first_median = statistics.median(m["first"] for m in measured)
    cold_median = statistics.median(m["cold"] for m in measured)
    print(
        f"target < {TARGET_S:.0f} s of server time on the first render: "
        f"fresh process {_ok(first_median < TARGET_S)}, caches cleared {_ok(cold_median < TARGET_S)}"
    )
    print(f"load average at end: {_load()}")
    return 0 if all(m["same"] for m in measured) else 1


def child(folder: Path) -> dict:
    command = [sys.executable, __file__, "--child", str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the page failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(folder: Path) -> dict:
    """Run the app three times in this process (see the module's docstring); seconds of each run."""
    os.environ["AR_DATA_DIR"] = str(folder)
    os.environ["AR_NO_DEMO"] = "1"
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    # As tests/conftest.py's navigation_app: the app declares its pages with st.navigation.
    original_init = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        PagesManager.uses_pages_directory = False
        original_init(self, *args, **kwargs)

    PagesManager.__init__ = init

    cpu: dict[str, float] = {}

    def render(backtest: bool | None = None, name: str = "") -> tuple[float, AppTest]:
        app = AppTest.from_file(str(APP), default_timeout=600)
        if backtest is not None:
            app.session_state["overview_backtest"] = backtest
        started, cpu_started = time.perf_counter(), time.process_time()
        app.run()
        seconds = time.perf_counter() - started
        cpu[name] = time.process_time() - cpu_started
        if app.exception:
            raise SystemExit(f"the page raised: {app.exception}")
        if not app.title or app.title[0].value != "Overview":
            raise SystemExit("the app did not open on the overview")
        return seconds, app

    first, app = render(name="first")
    st.cache_data.clear()
    st.cache_resource.clear()
    cold, _ = render(name="cold")
    warm, _ = render(name="warm")
    st.cache_data.clear()
    st.cache_resource.clear()
    backtest, _ = render(backtest=True, name="backtest")

    from analytics import aging
    from pages import _format, _session

    store = Store(folder)
    as_of = _session.default_as_of(store.manifest())
    items = aging.aged_items(store, as_of)
    expected = _format.compact_money(aging.headline(items, aging.AgingQuery(as_of))["total"])
    shown = next(m.value for m in app.metric if m.label.startswith("Receivables"))
    return {
        "first": first,
        "cold": cold,
        "backtest": backtest,
        "cpu": cpu,
        "warm": warm,
        "as_of": as_of.isoformat(),
        "items": items.height,
        "receivables": shown,
        "expected": expected,
        "same": shown == expected,
    }


def _ok(met: bool) -> str:
    return "met" if met else "NOT met"


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
