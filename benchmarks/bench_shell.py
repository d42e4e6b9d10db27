"""The app shell's server-side time: what app.py and the sidebar cost on a cold first run and on each
warm run, over a data folder (default: the browser benchmark's 1M-document demo).

Each part (the users file read and checked, the demo mode check, the manifest, the data version, the
dimension values, the instance notice, the collections database, the audit trail, the overview's
cached figures) is timed with time.perf_counter around the function app.py calls, in an AppTest
session of app.py, first in demo mode, then signed in with a users file of --users users (in a copy
of the data folder). The browser's side is bench_browser.py's.

    .venv/bin/python benchmarks/bench_shell.py [--data DIR] [--runs 20] [--users 30]
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT / "benchmarks" / "output" / "browser-demo-1000000-2000-2026-11-20" / "data"
PASSWORD = "bench-shell-password"

SPENT: dict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter[str] = collections.Counter()


def timed(owner: object, name: str, label: str) -> None:
    """Replace owner.name by a wrapper adding its time to SPENT[label] (for this process only)."""
    function = getattr(owner, name)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - started
            CALLS[label] += 1

    setattr(owner, name, wrapper)


def instrument() -> None:
    from streamlit.runtime.pages_manager import PagesManager

    from analytics import access, aging, forecast, kpis, scenarios, store
    from pages import widgets

    init = PagesManager.__init__

    def pages_manager_init(self, *args, **kwargs) -> None:
        PagesManager.uses_pages_directory = False  # as a server does after the first st.navigation
        init(self, *args, **kwargs)

    PagesManager.__init__ = pages_manager_init
    for name in ("signed_in_user", "demo_mode", "sidebar", "instance_notice", "_dimension_values"):
        timed(widgets, name, f"widgets.{name}")
    for name in ("manifest", "version", "exists", "connect"):
        timed(store.Store, name, f"Store.{name}")
    timed(access.Users, "all", "users file read and checked")
    timed(access, "audit", "access.audit")
    timed(aging, "aged_items", "aging.aged_items")
    timed(kpis, "month_end_series", "kpis.month_end_series")
    timed(scenarios, "alerts", "scenarios.alerts")
    timed(forecast, "cash_forecast", "forecast.cash_forecast")
    timed(forecast, "backtest", "forecast.backtest")


def show(title: str, runs: int, total: float) -> None:
    print(f"\n{title}: {total / runs * 1000:.1f} ms per run ({runs} run(s))")
    for label, seconds in sorted(SPENT.items(), key=lambda item: -item[1]):
        print(f"  {seconds / runs * 1000:9.2f} ms  {CALLS[label] / runs:5.1f} calls  {label}")
    SPENT.clear()
    CALLS.clear()


def run(at, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        at.run()
        if at.exception:
            raise RuntimeError(at.exception[0].message)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a data folder with no users file")
    parser.add_argument("--runs", type=int, default=20, help="warm runs timed (20)")
    parser.add_argument("--users", type=int, default=30, help="users in the signed-in case's users file (30)")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} cores")
    os.environ["AR_NO_DEMO"] = "1"
    started = time.perf_counter()
    from streamlit.testing.v1 import AppTest

    from analytics import access

    instrument()
    print(f"imports: {(time.perf_counter() - started) * 1000:.0f} ms")
    with tempfile.TemporaryDirectory(prefix="bench-shell-") as scratch:
        os.environ["AR_DATA_DIR"] = str(args.data)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        show("demo mode, first run (cold caches)", 1, run(at, 1))
        run(at, 2)
        SPENT.clear()
        CALLS.clear()
        show("demo mode, warm run of the overview", args.runs, run(at, args.runs))

        data = Path(scratch) / "data"
        shutil.copytree(args.data, data, symlinks=True)
        users = access.Users(data)
        users.add("admin", access.ADMIN, password=PASSWORD)
        for number in range(1, args.users):
            users.add(f"user-{number}", access.VIEWER, password=PASSWORD)
        os.environ["AR_DATA_DIR"] = str(data)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        run(at, 1)
        at.session_state["signed_in_user"] = "admin"
        run(at, 3)
        SPENT.clear()
        CALLS.clear()
        show(f"signed in ({args.users} users), warm run of the overview", args.runs, run(at, args.runs))
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
