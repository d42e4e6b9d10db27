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

With --processes N the collections data is in PostgreSQL (Debian's server started into a temporary
folder on a loopback port, as tests/postgres.py does, AR_COLLECTIONS_URL naming a database of it) and
the app runs in N processes on the one data folder, each its own Python interpreter, runtime and
caches, as N `streamlit run` servers behind a reverse proxy are; the users are spread over them round
robin (user 1 on process 1, user 2 on process 2, ...), each process's users AppTest sessions in its
threads as above. Each process first does one untimed round of its own; the baseline (1 user) runs on
the first process alone; the crowd starts on all processes together. Compare `--processes 1` with
`--processes 2` for the throughput that one more process gives.

    .venv/bin/python benchmarks/bench_load.py [--users 20] [--seconds 60] [--baseline-seconds 30]
        [--customers 500] [--documents 50000] [--pace 3-10] [--processes N] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "benchmarks" / "output"
for folder in (ROOT, ROOT / "tests"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import load  # noqa: E402
import polars as pl  # noqa: E402
import postgres  # noqa: E402

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


@dataclass(frozen=True)
class Run:
    """What a crowd did, in one process or added up over several: its users, length (from the first
    start to the last end), rounds, interactions (user, kind, seconds, error) and writes."""

    users: int
    seconds: float
    rounds: int
    interactions: pl.DataFrame
    writes: list[load.Write]

    @classmethod
    def of(cls, crowd: load.CrowdResult) -> Run:
        rounds = sum(user.rounds for user in crowd.users)
        return cls(len(crowd.users), crowd.seconds, rounds, crowd.interactions, crowd.writes)

    @classmethod
    def together(cls, runs: list[Run]) -> Run:
        """The runs of processes started at once: their length is the longest's."""
        return cls(
            sum(run.users for run in runs),
            max(run.seconds for run in runs),
            sum(run.rounds for run in runs),
            pl.concat([run.interactions for run in runs]),
            [write for run in runs for write in run.writes],
        )

    @property
    def errors(self) -> list[str]:
        return self.interactions.get_column("error").drop_nulls().to_list()

    def to_json(self) -> str:
        return json.dumps(
            {
                "users": self.users,
                "seconds": self.seconds,
                "rounds": self.rounds,
                "interactions": self.interactions.rows(),
                "writes": [[w.user, w.kind, w.comment, w.items] for w in self.writes],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Run:
        data = json.loads(text)
        interactions = pl.DataFrame(
            data["interactions"],
            schema={"user": pl.Int64, "kind": pl.String, "seconds": pl.Float64, "error": pl.String},
            orient="row",
        )
        writes = [load.Write(*write) for write in data["writes"]]
        return cls(data["users"], data["seconds"], data["rounds"], interactions, writes)


def figures(run: Run) -> pl.DataFrame:
    """Per interaction kind: count, median, p95 and max in milliseconds."""
    timed = run.interactions.filter(pl.col("kind") != "error")
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


def rate(run: Run) -> float:
    """Interactions per second over the crowd's run."""
    return run.interactions.filter(pl.col("kind") != "error").height / run.seconds


def report(name: str, run: Run, average: LoadAverage) -> None:
    print(
        f"\n{name}: {run.users} user(s), {run.seconds:.1f} s, {run.rounds} rounds, "
        f"{rate(run):.2f} interactions/s, {len(run.writes)} writes saved, "
        f"{len(run.errors)} errors, load average {average}"
    )
    print(f"{'interaction':<16} {'n':>5} {'median ms':>10} {'p95 ms':>10} {'max ms':>10}")
    for row in figures(run).iter_rows():
        print(f"{row[0]:<16} {row[1]:>5} {row[2]:>10.0f} {row[3]:>10.0f} {row[4]:>10.0f}")
    for error in run.errors[:5]:
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


def in_one_process(args: argparse.Namespace, data_dir: Path, names: list[str], tag: str) -> tuple[Run, Run]:
    """The warm-up, the baseline and the crowd in this process (one app process, the embedded file)."""
    with load.one_runtime():
        writes = load.warm_up(names[0], tag, signed_in=True)
        with LoadAverage() as baseline_load:
            baseline = Run.of(
                load.run_crowd(
                    names[:1], args.baseline_seconds, tag + " baseline", signed_in=True, pace=args.pace
                )
            )
        report("baseline", baseline, baseline_load)
        with LoadAverage() as crowd_load:
            crowd = Run.of(load.run_crowd(names, args.seconds, tag + " load", signed_in=True, pace=args.pace))
        report("load", crowd, crowd_load)
    warm = Run(1, 0.0, 1, pl.DataFrame(schema=crowd.interactions.schema), writes)
    return Run.together([warm, baseline]), crowd


class AppProcess:
    """One app process of --processes: this script run with --worker, driven through its standard
    input ("baseline", "load", "quit") and answering with a line naming the file of its Run."""

    def __init__(self, number: int, args: argparse.Namespace, names: list[str], users: list[int]) -> None:
        self.number = number
        command = [
            sys.executable,
            __file__,
            "--worker",
            str(number),
            "--names",
            ",".join(names),
            "--numbers",
            ",".join(map(str, users)),
            "--seconds",
            str(args.seconds),
            "--baseline-seconds",
            str(args.baseline_seconds),
        ]
        if args.pace:
            command += ["--pace", f"{args.pace[0]:g}-{args.pace[1]:g}"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def answer(self) -> Run:
        line = self.process.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"app process {self.number} ended (status {self.process.wait()})")
        return Run.from_json(Path(line).read_text(encoding="utf-8"))

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def in_processes(args: argparse.Namespace, names: list[str]) -> tuple[Run, Run]:
    """The crowd spread over --processes app processes round robin; the baseline on the first."""
    count = min(args.processes, len(names))
    spread = [list(range(first, len(names) + 1, count)) for first in range(1, count + 1)]
    processes = [AppProcess(n, args, [names[u - 1] for u in users], users) for n, users in enumerate(spread)]
    try:
        warm = [process.answer() for process in processes]  # each its untimed round
        with LoadAverage() as baseline_load:
            processes[0].send("baseline")
            baseline = processes[0].answer()
        report("baseline (process 1)", baseline, baseline_load)
        with LoadAverage() as crowd_load:
            for process in processes:
                process.send("load")
            crowd = Run.together([process.answer() for process in processes])
        report(f"load ({count} processes)", crowd, crowd_load)
    finally:
        for process in processes:
            process.stop()
    return Run.together([*warm, baseline]), crowd


def worker(args: argparse.Namespace) -> int:
    """One app process of --processes (see AppProcess): its users' numbers and names are given, the
    data folder and the database are in AR_DATA_DIR and AR_COLLECTIONS_URL."""
    names, numbers = args.names.split(","), [int(n) for n in args.numbers.split(",")]
    tag = f"{os.environ['AR_BENCH_TAG']} p{args.worker}"
    results = Path(os.environ["AR_DATA_DIR"]).parent / f"{Path(os.environ['AR_DATA_DIR']).name}-results"
    results.mkdir(exist_ok=True)

    def answer(name: str, run: Run) -> None:
        path = results / f"{args.worker}-{name}.json"
        path.write_text(run.to_json(), encoding="utf-8")
        print(path, flush=True)

    with load.one_runtime():
        user = load.SimulatedUser(
            0, names[0], tag=f"{tag} warm-up", username=f"user-{numbers[0]}", password=load.PASSWORD
        )
        user.run(until=0.0)
        errors = [i.error for i in user.interactions if i.error]
        if errors:
            raise RuntimeError(f"process {args.worker + 1}: the warm-up round failed: " + "\n".join(errors))
        answer("warm-up", Run(1, 0.0, user.rounds, pl.DataFrame(schema=INTERACTIONS), user.writes))
        for line in sys.stdin:
            command = line.strip()
            if command == "baseline":
                crowd = load.run_crowd(
                    names[:1],
                    args.baseline_seconds,
                    f"{tag} baseline",
                    signed_in=True,
                    pace=args.pace,
                    numbers=numbers[:1],
                )
            elif command == "load":
                crowd = load.run_crowd(
                    names, args.seconds, f"{tag} load", signed_in=True, pace=args.pace, numbers=numbers
                )
            else:
                return 0
            answer(command, Run.of(crowd))
    return 0


INTERACTIONS = {"user": pl.Int64, "kind": pl.String, "seconds": pl.Float64, "error": pl.String}


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
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help="N app processes on the data folder, the collections data in PostgreSQL (default: the "
        "crowd in this process, the embedded file)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data folder under benchmarks/output/")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--names", help=argparse.SUPPRESS)
    parser.add_argument("--numbers", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        return worker(args)
    if args.processes is not None and args.processes < 1:
        parser.error("--processes: at least 1")

    data_dir = OUTPUT / f"load-{os.getpid()}"
    server = None
    if args.processes:
        server = postgres.PostgresServer()
        os.environ["AR_COLLECTIONS_URL"] = server.database()
        print(
            f"collections data in PostgreSQL ({os.environ['AR_COLLECTIONS_URL']}), {args.processes} app processes"
        )
    try:
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
        os.environ["AR_BENCH_TAG"] = tag
        if args.processes:
            baseline, crowd = in_processes(args, names)
        else:
            baseline, crowd = in_one_process(args, data_dir, names, tag)
        problems = load.check_writes(data_dir, tag, baseline.writes + crowd.writes)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(data_dir.parent / f"{data_dir.name}-results", ignore_errors=True)
        if server is not None:
            server.stop()

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
        f"writes: {len(baseline.writes) + len(crowd.writes)} saved, {len(problems)} missing, doubled or unannounced"
    )
    for problem in problems[:10]:
        print(f"write problem: {problem}")
    return 1 if baseline.errors or crowd.errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
