"""Benchmark of the import: seconds and peak memory of analytics.ingest.import_files through a Store, for
CSV exports of the demo company (1M documents; 10M with --large), against the floor cost of the same
files measured in the same run: reading them with pl.read_csv and writing them with write_parquet.

    /tmp/venv/bin/python benchmarks/bench_import.py [--large] [--runs N] [--code DIR]

--code DIR imports with the analytics package (and queries) of another checkout instead of this one,
e.g. `git worktree add /tmp/before <commit>`, for before/after figures measured the same way.

The CSV files are made first, by analytics.demo.generate written with Polars write_csv (not timed),
under benchmarks/output/ (git-ignored), and deleted at the end. Each measurement runs in a child process
of its own, so that its peak RSS (resource.getrusage) is its own and not the high-water mark of an
earlier, larger run; import and baseline runs alternate, so that a busy machine slows both alike.
Figures are medians over the runs; the import's phases come from its progress messages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "benchmarks" / "output"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 6, 30)
SIZES = {"1M": (2_000, 1_000_000), "10M": (20_000, 10_000_000)}
TABLES = ("customers", "documents", "payments")
TARGET_SECONDS = 60
TARGET_PEAK_MIB = 4096


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also import 10,000,000 documents")
    parser.add_argument("--runs", type=int, default=5, help="runs of each measurement (default 5)")
    parser.add_argument("--code", type=Path, help="import with the analytics package of this checkout")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = {"generate": generate, "import": import_run, "baseline": baseline_run}[kind](*rest)
        print(json.dumps(result))
        return 0

    sizes = ["1M", "10M"] if args.large else ["1M"]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-import-", dir=OUTPUT))
    code = args.code.resolve() if args.code else ROOT
    print(f"load average at start: {_load()}; {os.cpu_count()} cores; {args.runs} runs of each; code: {code}")
    try:
        summaries = [measure(label, work / label, args.runs, args.code) for label in sizes]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"load average at end: {_load()}")
    print("{:<6} {:>10} {:>10} {:>12} {:>9} {:>12} {:>8}".format(
        "size", "import s", "CPU s", "peak RSS", "floor s", "floor RSS", "ratio"
    ))  # fmt: skip
    for summary in summaries:
        print(
            f"{summary['label']:<6} {summary['seconds']:>10.1f} {summary['cpu']:>10.1f} "
            f"{summary['peak_rss_mib']:>8,.0f} MiB {summary['floor_seconds']:>9.1f} "
            f"{summary['floor_peak_rss_mib']:>8,.0f} MiB {summary['ratio']:>7.1f}x"
        )
    largest = summaries[-1]
    verdict = (
        "met"
        if largest["seconds"] < TARGET_SECONDS and largest["peak_rss_mib"] < TARGET_PEAK_MIB
        else "NOT met"
    )
    print(
        f"target for 10M documents: under {TARGET_SECONDS} s and {TARGET_PEAK_MIB:,} MiB"
        + (f" - {verdict} ({largest['label']})" if largest["label"] == "10M" else " - run with --large")
    )
    return 0


def measure(label: str, folder: Path, runs: int, code: Path | None) -> dict:
    customers, documents = SIZES[label]
    print(f"\n{label}: generating the demo company ({customers:,} customers, {documents:,} documents) as CSV")
    made = child("generate", str(customers), str(documents), str(folder))
    sizes = ", ".join(f"{name} {made['bytes'][name] / 2**20:,.0f} MiB" for name in TABLES)
    print(
        f"  {made['payments']:,} payments; files: {sizes} (generated in {made['seconds']:.1f} s, not counted)"
    )
    imports, floors = [], []
    for run in range(1, runs + 1):
        result = child("import", str(folder), *([str(code.resolve())] if code else []))
        floor = child("baseline", str(folder))
        assert result["rows"] == {
            "customers": customers,
            "documents": documents,
            "payments": made["payments"],
        }, result["rows"]
        imports.append(result)
        floors.append(floor)
        print(
            f"  run {run}: import {result['seconds']:6.1f} s (CPU {result['cpu']:5.1f} s, "
            f"peak {result['peak_rss_mib']:6,.0f} MiB) | read_csv + write_parquet {floor['seconds']:5.1f} s "
            f"(peak {floor['peak_rss_mib']:6,.0f} MiB) | load {_load()}"
        )
    phases = {
        phase: statistics.median(run["phases"].get(phase, 0.0) for run in imports)
        for phase in imports[0]["phases"]
    }
    print("  import phases (median seconds): " + "; ".join(f"{p} {s:.1f}" for p, s in phases.items()))
    seconds = statistics.median(run["seconds"] for run in imports)
    floor_seconds = statistics.median(run["seconds"] for run in floors)
    return {
        "label": label,
        "seconds": seconds,
        "cpu": statistics.median(run["cpu"] for run in imports),
        "peak_rss_mib": statistics.median(run["peak_rss_mib"] for run in imports),
        "floor_seconds": floor_seconds,
        "floor_peak_rss_mib": statistics.median(run["peak_rss_mib"] for run in floors),
        "ratio": seconds / floor_seconds,
    }


def child(*args: str) -> dict:
    command = [sys.executable, __file__, "--child", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


# --- the children --------------------------------------------------------------------------------


def generate(customers: str, documents: str, folder: str) -> dict:
    from analytics import demo

    started = time.perf_counter()
    ledger = demo.generate(customers=int(customers), documents=int(documents), seed=7, as_of=AS_OF)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        getattr(ledger, name).write_csv(target / f"{name}.csv")
    return {
        "seconds": time.perf_counter() - started,
        "payments": ledger.payments.height,
        "bytes": {name: (target / f"{name}.csv").stat().st_size for name in TABLES},
    }


def import_run(folder: str, code: str | None = None) -> dict:
    if code:
        sys.path.insert(0, code)
    from analytics import ingest
    from analytics.store import Store

    source = Path(folder)
    data = Path(tempfile.mkdtemp(prefix="store-", dir=source))
    phases: dict[str, float] = {}
    last = [time.perf_counter(), "start"]

    def progress(fraction: float, message: str) -> None:
        now = time.perf_counter()
        phases[last[1]] = phases.get(last[1], 0.0) + now - last[0]
        last[:] = [now, message]

    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = ingest.import_files(
            Store(data),
            ingest.Sources(*(source / f"{name}.csv" for name in TABLES)),
            progress=progress,
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        shutil.rmtree(data, ignore_errors=True)
    phases.pop("start", None)
    phases.pop("Done", None)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "peak_rss_mib": _peak_rss_mib(),
        "rows": result.rows,
        "phases": phases,
    }


def baseline_run(folder: str) -> dict:
    """The floor: read each CSV file (types inferred) and write it as Parquet, nothing else."""
    import polars as pl

    source = Path(folder)
    target = Path(tempfile.mkdtemp(prefix="floor-", dir=source))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for name in TABLES:
            frame = pl.read_csv(source / f"{name}.csv")
            frame.write_parquet(target / f"{name}.parquet")
            del frame
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return {"seconds": seconds, "cpu": cpu, "peak_rss_mib": _peak_rss_mib()}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
