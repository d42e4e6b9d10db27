"""Load: 20 simulated users at once on one app process (tests/load.py: each an AppTest session in a
thread, sharing the app's collections writer as the sessions of one server do), for 15 seconds, on
a small demo company (60 customers, 3,000 documents, seed 4, as of 2026-11-20). Each user, working as
one of the demo's collectors, opens the aging balance, drills a row, opens the worklist, selects a
customer and through the side panel logs a call or records a promise to pay on its items, then goes
back: no user meets an error, and every write a user was told "Saved" for is in the collections
database exactly once, and nothing else of theirs. No timing is asserted: the figures are in
benchmarks/bench_load.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import load
import pytest

from analytics import demo
from analytics.scope import dimension_values
from analytics.store import Store

USERS = 20
SECONDS = 15


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    demo.create(Store(folder), customers=60, documents=3_000, seed=4, as_of=date(2026, 11, 20))
    monkeypatch.setenv("AR_DATA_DIR", str(folder))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    return folder


def test_twenty_users_at_once_lose_no_write(data_dir: Path) -> None:
    collectors = dimension_values(Store(data_dir).connect())["collector"]
    names = [collectors[number % len(collectors)] for number in range(USERS)]
    with load.one_runtime():
        writes = load.warm_up(names[0], "test")
        crowd = load.run_crowd(names, SECONDS, "test")
    assert crowd.errors == []
    assert all(user.writes for user in crowd.users), [len(user.writes) for user in crowd.users]
    assert load.check_writes(data_dir, "test", writes + crowd.writes) == []
    kinds = set(crowd.interactions.get_column("kind"))
    assert kinds == set(load.KINDS)
