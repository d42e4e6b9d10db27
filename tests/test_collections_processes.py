"""Several processes on one data folder with the collections data in PostgreSQL (AR_COLLECTIONS_URL):
4 processes writing at once while a fifth reads (every write found once, none missed by a reader that
holds rows and reads only those after its last id), a write in one seen by another at its next read,
and a resolution refused when another process resolved the dispute first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from analytics import submissions
from analytics.collections import CollectionsDB, CollectionsRefused
from analytics.scope import EVERYTHING
from analytics.store import Store
from analytics.submissions import Action, Qualification, Submission

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 2, 16)
PROCESSES, WRITES = 4, 40

WRITER = """
import sys
from datetime import date
from analytics import submissions
from analytics.collections import CollectionsDB
from analytics.submissions import Action, Submission
from analytics.scope import EVERYTHING
from analytics.store import Store
store = Store(sys.argv[1])
name = sys.argv[2]
with CollectionsDB.for_store(store) as db:
    print("ready", flush=True)
    sys.stdin.readline()  # all start together
    for number in range(int(sys.argv[3])):
        action = Action("C1", "call", "reached", comment=f"{name}-{number}")
        submissions.submit(db, Submission(action=action), store=store, as_of=date(2026, 2, 16), scope=EVERYTHING, user=name)
print("done", flush=True)
"""


@pytest.fixture
def url(postgres, monkeypatch: pytest.MonkeyPatch) -> str:
    address = postgres.database()
    monkeypatch.setenv("AR_COLLECTIONS_URL", address)
    return address


def test_four_processes_writing_at_once(ledger_store: Store, url: str) -> None:
    """4 processes log 40 calls each at once while this one reads as they write: 160 rows, every
    comment once, 160 distinct ids, and what this process held while reading equals a fresh read."""
    with CollectionsDB.for_store(ledger_store) as reader:
        assert reader.shared
        children = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(ledger_store.root), f"p{n}", str(WRITES)],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(PROCESSES)
        ]
        for child in children:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        seen = 0
        while any(child.poll() is None for child in children):
            seen = max(seen, reader.actions().height)  # held, then only the rows after its last id
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            assert out.strip() == "done"
        held = reader.actions()
        with CollectionsDB.for_store(ledger_store) as fresh:
            everything = fresh.actions()
        assert held.height == everything.height == PROCESSES * WRITES
        assert held.get_column("action_id").n_unique() == PROCESSES * WRITES
        assert sorted(held.get_column("comment")) == sorted(
            f"p{n}-{w}" for n in range(PROCESSES) for w in range(WRITES)
        )
        assert held.equals(everything)
        assert reader.data_version() == fresh_version(ledger_store)


def fresh_version(store: Store) -> str:
    with CollectionsDB.for_store(store) as db:
        return db.data_version()


def test_a_write_in_one_process_is_seen_by_the_other(ledger_store: Store, url: str) -> None:
    """Two app processes (two databases objects, each its own connections): a call logged by one is in
    the other's next read, and the other's data version has changed."""
    with CollectionsDB.for_store(ledger_store) as first, CollectionsDB.for_store(ledger_store) as second:
        before = second.data_version()
        assert second.actions().is_empty()
        submissions.submit(
            first,
            Submission(action=Action("C1", "call", "reached", comment="Mrs Dupont will pay")),
            store=ledger_store,
            as_of=AS_OF,
            scope=EVERYTHING,
            user="Anna",
        )
        assert second.data_version() != before
        assert second.actions().get_column("comment").to_list() == ["Mrs Dupont will pay"]


def test_a_dispute_resolved_by_another_process_meanwhile_is_refused(ledger_store: Store, url: str) -> None:
    """Anna (one process) and Ben (another) both resolve the dispute on I1, Ben second: his submission
    is refused with a message and nothing of it is written."""
    dispute = Qualification("I1", "disputed", comment="Price not as agreed", dispute_reason="price")
    resolved = Qualification("I1", "dispute_resolved", comment="Checked", outcome="customer_to_pay")
    with CollectionsDB.for_store(ledger_store) as anna, CollectionsDB.for_store(ledger_store) as ben:
        submissions.submit(
            anna, Submission((dispute,)), store=ledger_store, as_of=AS_OF, scope=EVERYTHING, user="Anna"
        )
        assert ben.events().get_column("event_type").to_list() == ["disputed"]  # what Ben's page shows
        submissions.submit(
            anna, Submission((resolved,)), store=ledger_store, as_of=AS_OF, scope=EVERYTHING, user="Anna"
        )
        with pytest.raises(CollectionsRefused, match="'I1' has no open dispute to resolve"):
            submissions.submit(
                ben,
                Submission((resolved,), Action("C1", "call", "reached", comment="resolved too")),
                store=ledger_store,
                as_of=AS_OF,
                scope=EVERYTHING,
                user="Ben",
            )
        assert ben.events().get_column("event_type").to_list() == ["disputed", "dispute_resolved"]
        assert ben.actions().is_empty()
