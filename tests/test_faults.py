"""Faults: a process killed with SIGKILL in the middle of an import, of a write to the collections
database or of a snapshot build leaves, after a restart, the previous data or the completed write,
never a half of it.

Where a kill lands. A child process runs the real code (the `python -m analytics` commands, or the
store and the collections database as the app calls them) under a line trace that stops it (SIGSTOP,
sent to itself) just before a given line of a given function runs; the test waits until the child is
stopped, then kills it with SIGKILL. So every step of a write is reached, one test case each, and each
case knows which outcome it must give: before the new generation is made live (or before the
transaction commits) the previous data; after, the completed write. Other kills land while the child
runs freely: as soon as a staging generation appears on disk, and after each of a stream of
submissions that the child reports saved (the next one is then half-way).

After each kill, the data folder is read again by new processes and new connections, as a restarted
app would: the aging report of `python -m analytics report aging` is identical, to the cent, to the one
before the kill or to the one of the completed write; the live generation is a complete one (never a
staging folder) whose every stored snapshot holds the rows the definition gives; the collections
database opens and holds every row of a submission or none. Then a new write succeeds and leaves no
remains of the killed one. The kills of collections writes run on both back ends: the embedded file and
PostgreSQL (a server of tests/postgres.py, a new database each test, AR_COLLECTIONS_URL passed to the
child), where a killed client's open transaction is rolled back by the server.

The ledgers: the hand-worked ledger of conftest.py is the previous data; the new data is 100,000
invoices of 100.00 (1,000 customers K0..K999, 100 invoices each, dated 2025-06-01, due 2025-07-01,
each paid 40.00 on 2025-07-15), imported on top of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from conftest import (
    CUSTOMERS_CSV,
    DOCUMENTS_CSV,
    PAYMENTS_CSV,
    ROOT,
    CollectionsBackend,
    oracle,
    write,
)

from analytics import ingest
from analytics.collections import CollectionsDB
from analytics.store import Store

AS_OF = date(2026, 3, 10)
CHILD_SECONDS = 120
NEW_CUSTOMERS = 1_000
NEW_DOCUMENTS = 100_000

# Run first in every child: with sys.argv[1] = "function|start of a line|n", the process stops itself
# just before the n-th run of that line of that function (a function of that name anywhere).
PRELUDE = """
import linecache, os, signal, sys

def pause_before(function, text, nth):
    seen = 0

    def lines(frame, event, arg):
        nonlocal seen
        if event == "line":
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            if line.startswith(text):
                seen += 1
                if seen == nth:
                    sys.settrace(None)
                    print("paused", flush=True)
                    os.kill(os.getpid(), signal.SIGSTOP)
        return lines

    sys.settrace(lambda frame, event, arg: lines if frame.f_code.co_name == function else None)

if sys.argv[1]:
    function, text, nth = sys.argv[1].split("|")
    pause_before(function, text, int(nth))
"""

IMPORT = """
from pathlib import Path
from analytics import ingest
from analytics.store import Store
print("ready", flush=True)
ingest.import_files(Store(sys.argv[2]), ingest.Sources(*(Path(p) for p in sys.argv[3:6])))
print("done", flush=True)
"""

SNAPSHOT = """
from analytics.cli import main
sys.exit(main(["snapshot", "--data", sys.argv[2], "--as-of", sys.argv[3]]))
"""


@dataclass(frozen=True)
class Pause:
    """Stop the child just before the `nth` run of the line of `function` that starts with `line`;
    `completed`: whether the write must be there after the kill (else the previous data)."""

    function: str
    line: str
    completed: bool
    nth: int = 1

    @property
    def spec(self) -> str:
        return f"{self.function}|{self.line}|{self.nth}"

    def __str__(self) -> str:
        return f"{self.function}:{self.line}#{self.nth}"


def child(script: str, pause: Pause | None, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + script, pause.spec if pause else "", *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A child that never reaches its point must not hang the test.
    watchdog = threading.Timer(CHILD_SECONDS, process.kill)
    watchdog.daemon = True
    watchdog.start()
    return process


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL the child (still running or stopped) and check that this is how it ended."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=CHILD_SECONDS)
    assert process.returncode == -signal.SIGKILL, process.stderr.read()


def run_until_paused(script: str, pause: Pause, *args: object) -> None:
    """Run `script` in a child until it stops at `pause`, then kill it with SIGKILL."""
    process = child(script, pause, *args)
    line = process.stdout.readline()
    while line and line.strip() != "paused":
        line = process.stdout.readline()
    if line.strip() != "paused":
        process.wait(timeout=CHILD_SECONDS)
        pytest.fail(
            f"the child never reached {pause} (exit status {process.returncode}):\n{process.stderr.read()}"
        )
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the child did not stop at {pause}"
    kill(process)


def cli(*args: object) -> str:
    """Standard output of `python -m analytics ARGS` in a new process (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "analytics", *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=CHILD_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def aging_report(root: Path) -> str:
    """What a restarted app shows: the aging balance by customer at AS_OF, read by a new process."""
    return cli("report", "aging", "--data", root, "--as-of", AS_OF, "--by", "customer")


def copy_folder(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    return target


def remains(root: Path) -> list[str]:
    """What a killed write left behind: staging generations and temporary links to them."""
    found = [p.name for p in (root / "generations").iterdir() if p.name.startswith(".staging-")]
    return found + [p.name for p in root.iterdir() if p.name.startswith(".current-")]


def assert_whole(root: Path) -> Store:
    """The live generation, read afresh, is a complete generation (never a staging folder) and every
    snapshot it stores holds exactly the rows the definition (tests/oracle/open_items_at_dates.sql) gives."""
    store = Store(root)
    live = store.current
    assert live is not None and live.parent == root / "generations" and live.name.startswith("g-")
    manifest = store.manifest()
    assert manifest.generation == live.name
    con = store.connect()
    stored = con.sql(
        "select snapshot_date, count(*) as items, sum(open_amount_functional) as amount "
        "from open_item_snapshots group by all order by all"
    ).pl()
    assert set(stored.get_column("snapshot_date")) <= {*manifest.derived_dates, *manifest.snapshot_dates}
    defined = (
        con.sql(
            oracle("open_items_at_dates"),
            params={
                "dates": list(manifest.derived_dates),
                "functional_currency": manifest.functional_currency,
            },
        )
        .pl()
        .group_by("snapshot_date")
        .agg(pl.len().cast(pl.Int64).alias("items"), pl.col("open_amount_functional").sum().alias("amount"))
        .sort("snapshot_date")
    )
    assert stored.cast(defined.schema).equals(defined)
    return store


# --- the ledgers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ledgers:
    previous: Path  # a data folder holding the hand-worked ledger
    exports: tuple[Path, Path, Path]  # the new data: customers, documents, payments CSV
    before: str  # the aging report of the previous data
    after: str  # the aging report once the new data is imported


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> Ledgers:
    folder = tmp_path_factory.mktemp("faults")
    previous = Store(folder / "previous")
    ingest.import_files(
        previous,
        ingest.Sources(
            write(folder, "customers.csv", CUSTOMERS_CSV),
            write(folder, "documents.csv", DOCUMENTS_CSV),
            write(folder, "payments.csv", PAYMENTS_CSV),
        ),
    )
    customers = pl.DataFrame({"customer_id": [f"K{i}" for i in range(NEW_CUSTOMERS)]}).with_columns(
        pl.format("Customer {}", pl.col("customer_id")).alias("customer_name"),
        pl.lit("Acme FR").alias("entity"),
    )
    documents = pl.DataFrame({"number": range(NEW_DOCUMENTS)}).select(
        pl.format("D{}", pl.col("number")).alias("document_id"),
        pl.lit("invoice").alias("document_type"),
        pl.format("K{}", pl.col("number") % NEW_CUSTOMERS).alias("customer_id"),
        pl.lit("2025-06-01").alias("document_date"),
        pl.lit("2025-07-01").alias("due_date"),
        pl.lit("EUR").alias("currency"),
        pl.lit("100.00").alias("amount"),
    )
    payments = documents.select(
        pl.col("document_id").alias("payment_id"),
        "customer_id",
        pl.lit("2025-07-15").alias("payment_date"),
        "document_id",
        pl.lit("40.00").alias("amount"),
    )
    exports = (folder / "new_customers.csv", folder / "new_documents.csv", folder / "new_payments.csv")
    for frame, path in zip((customers, documents, payments), exports, strict=True):
        frame.write_csv(path)
    completed = copy_folder(previous.root, folder / "completed")
    ingest.import_files(Store(completed), ingest.Sources(*exports))
    before, after = aging_report(previous.root), aging_report(completed)
    assert before != after
    return Ledgers(previous.root, exports, before, after)


@pytest.fixture
def previous(ledgers: Ledgers, tmp_path: Path) -> Path:
    """A data folder of its own holding the previous data."""
    return copy_folder(ledgers.previous, tmp_path / "data")


# --- import ------------------------------------------------------------------------------------------

IMPORT_PAUSES = [
    Pause("_write_locked", "settlements(documents, applied).write_parquet(", completed=False),
    Pause("_write_locked", "periods = balance_periods(documents, payments, applied)", completed=False),
    Pause("_write_derived", "items.write_parquet(", completed=False, nth=5),
    Pause("_write_locked", '(staging / "manifest.json").write_text(', completed=False),
    Pause("_write_locked", "staging.rename(final)", completed=False),
    Pause("_write_locked", "self._point_current_at(final)", completed=False),
    Pause("_point_current_at", "os.replace(temporary, link)", completed=False),
    Pause("_point_current_at", "_fsync_dir(self.root)", completed=True),
    Pause("_write_locked", "self._remove_old_generations(", completed=True),
]


@pytest.mark.parametrize("pause", IMPORT_PAUSES, ids=str)
def test_an_import_killed_at_each_step(ledgers: Ledgers, previous: Path, pause: Pause) -> None:
    """Killed while it writes the three tables, the balance periods, half of the month-end snapshots,
    the manifest; before and after the staging folder becomes a generation; before and after the
    `current` link swaps: a restarted reader sees the previous figures until the swap, the new ones
    from it, never a mix; the next import succeeds and removes what the killed one left."""
    run_until_paused(IMPORT, pause, previous, *ledgers.exports)
    assert_whole(previous)
    assert aging_report(previous) == (ledgers.after if pause.completed else ledgers.before)
    ingest.import_files(Store(previous), ingest.Sources(*ledgers.exports))
    assert aging_report(previous) == ledgers.after
    assert remains(previous) == []
    assert len(list((previous / "generations").iterdir())) == 2


def test_an_import_killed_while_it_writes(ledgers: Ledgers, previous: Path) -> None:
    """Killed (running freely) as soon as its staging generation appears: the previous data, whole."""
    process = child(IMPORT, None, previous, *ledgers.exports)
    assert process.stdout.readline().strip() == "ready"
    generations = previous / "generations"
    while not any(p.name.startswith(".staging-") for p in generations.iterdir()):
        assert process.poll() is None, (
            f"the import ended before it could be interrupted:\n{process.stderr.read()}"
        )
        time.sleep(0.002)
    kill(process)
    assert remains(previous), "the kill landed after the import had finished"
    assert_whole(previous)
    assert aging_report(previous) == ledgers.before
    assert Store(previous).manifest().documents == 5
    ingest.import_files(Store(previous), ingest.Sources(*ledgers.exports))
    assert aging_report(previous) == ledgers.after
    assert remains(previous) == []


# --- snapshot ----------------------------------------------------------------------------------------

SNAPSHOT_PAUSES = [
    Pause("add_snapshot", "shutil.copytree(previous_dir, staging", completed=False),
    Pause("_link_or_copy", "os.link(source, destination)", completed=False, nth=4),
    Pause("add_snapshot", '(staging / "manifest.json").unlink()', completed=False),
    Pause("_write_derived", "items.write_parquet(", completed=False),
    Pause("add_snapshot", "_fsync_tree(staging)", completed=False),
    Pause("add_snapshot", "staging.rename(final)", completed=False),
    Pause("_point_current_at", "os.replace(temporary, link)", completed=False),
    Pause("_point_current_at", "_fsync_dir(self.root)", completed=True),
    Pause("add_snapshot", "self._remove_old_generations(", completed=True),
]


@pytest.mark.parametrize("pause", SNAPSHOT_PAUSES, ids=str)
def test_a_snapshot_build_killed_at_each_step(ledgers: Ledgers, previous: Path, pause: Pause) -> None:
    """`python -m analytics snapshot --as-of 2026-03-10` killed while it links the live files into a
    staging generation, while it writes the snapshot, around the swap of `current`: afterwards the
    store either has no snapshot of that date (the previous generation, untouched) or has it whole;
    the figures of that date are the same either way; a new `snapshot` command completes it and
    leaves no remains."""
    before = Store(previous).manifest()
    run_until_paused(SNAPSHOT, pause, previous, AS_OF)
    store = assert_whole(previous)
    manifest = store.manifest()
    partition = store.current / "derived_snapshots" / f"snapshot_date={AS_OF.isoformat()}"
    if pause.completed:
        assert manifest.derived_dates == tuple(sorted({*before.derived_dates, AS_OF}))
        assert sorted(p.name for p in partition.iterdir()) == ["data_0.parquet"]
    else:
        assert manifest == before
        assert not partition.exists()
    assert aging_report(previous) == ledgers.before
    assert cli("snapshot", "--data", previous, "--as-of", AS_OF) == (
        "Snapshot 2026-03-10: 4 open items, total 1,250.00 EUR, overdue 1,000.00 EUR.\n"
    )
    assert AS_OF in Store(previous).manifest().derived_dates
    assert remains(previous) == []
    assert_whole(previous)
    assert aging_report(previous) == ledgers.before


# --- collections -------------------------------------------------------------------------------------

SUBMIT = """
from datetime import date
from analytics.collections import CollectionsDB
from analytics import submissions
from analytics.submissions import Action, Qualification, Submission
from analytics.scope import EVERYTHING
from analytics.store import Store
store = Store(sys.argv[2])
db = CollectionsDB.for_store(store)
promise = dict(event_type="promise_to_pay", promised_date=date(2026, 3, 20), comment="pays on the 20th")
submissions.submit(db,
    Submission(
        (Qualification("I1", **promise), Qualification("I2", **promise)),
        Action("C1", "call", "promise_obtained", comment="called Mrs Dupont"),
    ),
    store=store, as_of=date(2026, 3, 10), scope=EVERYTHING, user="Anna",
)
print("done", flush=True)
import time
time.sleep(60)
"""

# Where a submission is stopped, on each back end. The first transaction of the child is the schema's
# migration on opening: the submission's is the 2nd. With PostgreSQL the commit is psycopg's: before
# it sends COMMIT, and once the server has answered it.
SUBMIT_PAUSES = {
    "before its transaction": {
        "duckdb": Pause("writing", "tx.cur.begin()", completed=False, nth=2),
        "postgresql": Pause("writing", 'conn.execute(pg_query("collections_state_write"))', completed=False),
    },
    "between its inserts": {
        "duckdb": Pause("_append", "tx.insert(action_rows", completed=False),
        "postgresql": Pause("_append", "tx.insert(action_rows", completed=False),
    },
    "just before its commit": {
        "duckdb": Pause("writing", "tx.cur.commit()", completed=False, nth=2),
        "postgresql": Pause(
            "_commit_gen", "for command in self._get_commit_commands():", completed=False, nth=2
        ),
    },
    "just after its commit": {
        "duckdb": Pause("writing", "if tx.was_replaced", completed=True, nth=2),
        "postgresql": Pause("_exit_gen", "return False", completed=True, nth=2),
    },
}


def recorded(root: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The qualifications and actions in the collections database (the file, or PostgreSQL when
    AR_COLLECTIONS_URL is set), opened afresh."""
    with CollectionsDB.for_store(Store(root)) as db:
        return db.events(), db.actions()


@pytest.mark.parametrize("step", SUBMIT_PAUSES)
def test_a_submission_killed_at_each_step(
    previous: Path, collections_backend: CollectionsBackend, step: str
) -> None:
    """A side-panel submit (promises on I1 and I2 with a call) killed before its transaction begins,
    between its inserts, just before its commit, and just after it, on each back end: the database
    opens and holds the two promises and the call, or none of them."""
    pause = SUBMIT_PAUSES[step][collections_backend.kind]
    run_until_paused(SUBMIT, pause, previous)
    events, actions = recorded(previous)
    if pause.completed:
        assert events.select("document_id", "event_type", "user_name").rows() == [
            ("I1", "promise_to_pay", "Anna"),
            ("I2", "promise_to_pay", "Anna"),
        ]
        assert actions.select("customer_id", "comment", "document_ids").rows() == [
            ("C1", "called Mrs Dupont", ["I1", "I2"])
        ]
        assert set(events.get_column("submission_id")) == set(actions.get_column("submission_id"))
    else:
        assert (events.height, actions.height) == (0, 0)


def test_a_submission_survives_a_kill_once_saved(
    previous: Path, collections_backend: CollectionsBackend
) -> None:
    """The child reports the submit done and is killed at once: the database holds all of it."""
    process = child(SUBMIT, None, previous)
    assert process.stdout.readline().strip() == "done"
    kill(process)
    events, actions = recorded(previous)
    assert events.height == 2 and actions.select("customer_id", "comment").rows() == [
        ("C1", "called Mrs Dupont")
    ]


STREAM = """
from datetime import date, timedelta
from analytics.collections import CollectionsDB
from analytics import submissions
from analytics.submissions import Action, Qualification, Submission
from analytics.scope import EVERYTHING
from analytics.store import Store
store = Store(sys.argv[2])
first, customers = int(sys.argv[3]), int(sys.argv[4])
as_of = date(2026, 3, 10)
db = CollectionsDB.for_store(store)
for number in range(first, first + 1000):
    customer = number % customers
    size = 60 if number % 2 else 3
    documents = [f"D{customer + customers * k}" for k in range(size)]
    promise = dict(event_type="promise_to_pay", promised_date=as_of + timedelta(days=7), comment=f"round {number}")
    result = submissions.submit(db,
        Submission(
            tuple(Qualification(d, **promise) for d in documents),
            Action(f"K{customer}", "call", "promise_obtained", comment=f"round {number}"),
        ),
        store=store, as_of=as_of, scope=EVERYTHING, user="load",
    )
    print("saved", number, result.submission_id, flush=True)
"""


def test_a_stream_of_submissions_killed_at_several_points(
    ledgers: Ledgers, tmp_path: Path, collections_backend: CollectionsBackend
) -> None:
    """A child saves submission after submission (3 then 60 promises of one customer's invoices with a
    call, so both ways of inserting are used) and is killed right after it reports the n-th saved:
    the next is then on its way. Restarted five times on the same database, killed after 1, 2, 3, 5
    and 8 saves: every submission reported saved is there whole, the one in flight is whole or absent,
    nothing else is there, and the ids follow on without a gap."""
    root = copy_folder(ledgers.previous, tmp_path / "data")
    ingest.import_files(Store(root), ingest.Sources(*ledgers.exports))
    saved: dict[str, int] = {}
    first = 0
    for saves in (1, 2, 3, 5, 8):
        process = child(STREAM, None, root, first, NEW_CUSTOMERS)
        for _ in range(saves):
            line = process.stdout.readline().split()
            assert line[:1] == ["saved"], process.stderr.read() if not line else line
            saved[line[2]] = int(line[1])
        kill(process)
        # Saves reported before the kill landed but not read yet.
        for line in process.stdout.read().splitlines():
            _, number, submission_id = line.split()
            saved[submission_id] = int(number)
        events, actions = recorded(root)
        by_submission = events.group_by("submission_id").agg(pl.len(), pl.col("comment").first())
        sizes = dict(by_submission.select("submission_id", "len").rows())
        assert set(actions.get_column("submission_id")) == set(sizes)
        for submission_id, number in saved.items():
            assert sizes.get(submission_id) == (60 if number % 2 else 3), number
        in_flight = set(sizes) - set(saved)
        assert len(in_flight) <= 1
        for submission_id in in_flight:
            number = max(saved.values()) + 1
            assert by_submission.filter(pl.col("submission_id") == submission_id).row(0)[1:] == (
                60 if number % 2 else 3,
                f"round {number}",
            )
            saved[submission_id] = number
        assert events.get_column("event_id").to_list() == list(range(1, events.height + 1))
        assert actions.get_column("action_id").to_list() == list(range(1, actions.height + 1))
        first = max(saved.values()) + 1
    assert actions.height == len(saved)
    assert events.get_column("event_date").unique().to_list() == [AS_OF]
    assert events.get_column("promised_date").unique().to_list() == [AS_OF + timedelta(days=7)]


# --- the users file and the audit trail -------------------------------------------------------------

ADD_USER = """
from analytics import access
print("ready", flush=True)
access.Users(sys.argv[2]).add(sys.argv[3], "viewer", password=None)
print("done", flush=True)
"""

AUDIT_LINES = """
from analytics import access
access.AUDIT_ROTATE_BYTES = int(sys.argv[3])
for number in range(int(sys.argv[4]), int(sys.argv[5])):
    access.audit(sys.argv[2], "admin", "export", f"report {number:03}", source="command line")
print("done", flush=True)
"""


def write_audit_lines(root: Path, rotate: int, start: int, stop: int) -> None:
    """Audit lines report START..STOP-1 by a new process, the trail rotated at `rotate` bytes."""
    script = PRELUDE + AUDIT_LINES
    done = subprocess.run(
        [sys.executable, "-c", script, "", *map(str, (root, rotate, start, stop))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=CHILD_SECONDS,
    )
    assert done.returncode == 0, done.stderr


def users_listed(root: Path) -> list[str]:
    """The user names `python -m analytics users list` prints, in a new process (the file whole)."""
    return [line.split()[0] for line in cli("users", "list", "--data", root).splitlines()]


def trail_details(root: Path) -> list[str]:
    """The audit trail's details, newest first, as `python -m analytics audit` prints them."""
    printed = cli("audit", "--data", root, "--limit", 10_000).splitlines()
    return [line.rsplit("  ", 1)[-1] for line in printed]


@pytest.fixture
def users_folder(tmp_path: Path) -> Path:
    from analytics import access

    access.Users(tmp_path).add("admin", "admin", password=None)
    return tmp_path


USERS_PAUSES = [
    Pause("_replace", "out.write(data)", completed=False),
    Pause("_replace", "os.fsync(out.fileno())", completed=False),
    Pause("_replace", "os.replace(temporary, path)", completed=False),
    Pause("_replace", "_fsync_dir(path.parent)", completed=True),
]


@pytest.mark.parametrize("pause", USERS_PAUSES, ids=str)
def test_a_users_file_rewrite_killed_at_each_step(users_folder: Path, pause: Pause) -> None:
    """Killed while `users add zed` writes the temporary file, before and after it replaces the users
    file: the file read afresh is the old one or the new one, whole; the next change succeeds and
    leaves no temporary file behind."""
    run_until_paused(ADD_USER, pause, users_folder, "zed")
    assert users_listed(users_folder) == (["admin", "zed"] if pause.completed else ["admin"])
    cli("users", "add", "ann", "--role", "viewer", "--no-password", "--data", users_folder)
    assert sorted(users_listed(users_folder)) == sorted(["admin", "ann"] + ["zed"] * pause.completed)
    assert [path.name for path in users_folder.iterdir() if path.suffix == ".tmp"] == []


def wait_stopped(process: subprocess.Popen[str]) -> None:
    assert process.stdout.readline().strip() == "ready"
    while process.stdout.readline().strip() != "paused":
        pass
    _, status = os.waitpid(process.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)


def test_two_users_added_at_once_both_land(users_folder: Path) -> None:
    """zed's `users add` stops after reading the file, before writing it back (holding the lock);
    ann's starts meanwhile and must wait; zed's goes on: both users are in the file."""
    first = child(ADD_USER, Pause("_changing", "_replace(self.path", completed=True), users_folder, "zed")
    wait_stopped(first)
    second = child(ADD_USER, None, users_folder, "ann")
    assert second.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    assert second.poll() is None  # waiting for the lock, not writing over zed's change
    first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=CHILD_SECONDS) == 0, first.stderr.read()
    assert second.wait(timeout=CHILD_SECONDS) == 0, second.stderr.read()
    assert sorted(users_listed(users_folder)) == ["admin", "ann", "zed"]


def test_a_user_added_while_another_is_killed_holding_the_lock(users_folder: Path) -> None:
    """zed's `users add` is killed while it holds the lock: ann's, waiting, then lands whole."""
    first = child(ADD_USER, Pause("_changing", "_replace(self.path", completed=False), users_folder, "zed")
    wait_stopped(first)
    second = child(ADD_USER, None, users_folder, "ann")
    assert second.stdout.readline().strip() == "ready"
    kill(first)
    assert second.wait(timeout=CHILD_SECONDS) == 0, second.stderr.read()
    assert sorted(users_listed(users_folder)) == ["admin", "ann"]


AUDIT_PAUSES = [
    Pause("audit", "os.write(descriptor, line)", completed=False),
    Pause("audit", "os.fsync(descriptor)", completed=True),
    Pause("_rotate", "files[-1].unlink(missing_ok=True)", completed=False),
    Pause("_rotate", "os.replace(newer, older)", completed=False, nth=2),
    Pause("_rotate", "_fsync_dir(root)", completed=False),
]


@pytest.mark.parametrize("pause", AUDIT_PAUSES, ids=str)
def test_an_audit_line_killed_at_each_step(tmp_path: Path, pause: Pause) -> None:
    """Lines 000-029 are in a trail rotated at 1,000 bytes; a process writing 030 on is killed before
    and after the write of 030, and at each step of the next rotation: the lines kept are read back
    newest first without a gap (030 only once written), and the next lines land after them."""
    rotate = 1_000
    write_audit_lines(tmp_path, rotate, 0, 30)
    before = trail_details(tmp_path)
    assert before[0] == "report 029"
    # A pause in _rotate is reached only by a line that rotates: write until one does.
    run_until_paused(AUDIT_LINES, pause, tmp_path, rotate, 30, 60)
    after = trail_details(tmp_path)
    written = [line for line in after if line not in before]
    if pause.function == "audit":
        assert written == (["report 030"] if pause.completed else [])
    assert all(line > "report 029" for line in written)
    assert written == sorted(written, reverse=True)
    survivors = after[len(written) :]
    assert survivors == before[: len(survivors)] and len(survivors) >= 5
    write_audit_lines(tmp_path, rotate, 100, 103)
    assert trail_details(tmp_path)[:3] == ["report 102", "report 101", "report 100"]


def test_a_cut_audit_line_does_not_hide_the_next_ones(tmp_path: Path) -> None:
    """A line cut short (a crash mid-write, as after a power loss): the next process's lines are read
    whole after it, and the lines before it too."""
    cli("audit", "--data", tmp_path)  # an empty trail prints nothing
    write_audit_lines(tmp_path, 1 << 24, 0, 3)
    path = tmp_path / "audit.jsonl"
    path.write_bytes(path.read_bytes()[:-20])  # report 002's line is cut
    write_audit_lines(tmp_path, 1 << 24, 3, 5)
    assert trail_details(tmp_path) == ["report 004", "report 003", "report 001", "report 000"]
