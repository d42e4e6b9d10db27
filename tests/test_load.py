"""Load: 20 simulated users at once on one app process (tests/load.py: each an AppTest session in a
thread, sharing the app's collections writer as the sessions of one server do), for 15 seconds, on
a small demo company (150 customers, 6,000 documents, seed 4, as of 2026-11-20) with a users file.
Each user signs in as a collector (the demo's collectors in turn), opens the aging balance, drills a
row, opens the worklist, selects a customer and through the side panel logs a call or records a
promise to pay on its items, then goes back: no user meets an error, and every write a user was told
"Saved" for is in the collections database exactly once, and nothing else of theirs. No timing is
asserted: the figures are in benchmarks/bench_load.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import load
import pytest
from streamlit.testing.v1 import AppTest

from analytics import demo
from analytics.collections import CollectionsDB
from analytics.export import markdown_text
from analytics.scope import dimension_values
from analytics.store import Store

USERS = 20
SECONDS = 15


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    demo.create(Store(folder), customers=150, documents=6_000, seed=4, as_of=date(2026, 11, 20))
    monkeypatch.setenv("AR_DATA_DIR", str(folder))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    return folder


def test_twenty_users_at_once_lose_no_write(data_dir: Path) -> None:
    collectors = dimension_values(Store(data_dir).connect())["collector"]
    names = [collectors[number % len(collectors)] for number in range(USERS)]
    load.add_users(data_dir, names)
    with load.one_runtime():
        writes = load.warm_up(names[0], "test", signed_in=True)
        crowd = load.run_crowd(names, SECONDS, "test", signed_in=True)
    assert crowd.errors == []
    assert all(user.writes for user in crowd.users), [len(user.writes) for user in crowd.users]
    assert load.check_writes(data_dir, "test", writes + crowd.writes) == []
    kinds = set(crowd.interactions.get_column("kind"))
    assert kinds == set(load.KINDS)


def test_users_at_a_pace_pause_between_clicks_and_lose_no_write(data_dir: Path) -> None:
    collectors = dimension_values(Store(data_dir).connect())["collector"]
    names = collectors[:3]
    load.add_users(data_dir, names)
    with load.one_runtime():
        crowd = load.run_crowd(names, 2, "paced", signed_in=True, pace=(0.3, 0.4))
    assert crowd.errors == []
    assert load.check_writes(data_dir, "paced", crowd.writes) == []
    # Each user paused at least 0.3 s after each of its interactions.
    longest = max(len(user.interactions) for user in crowd.users)
    assert crowd.seconds >= 0.3 * longest


def test_a_panel_stays_open_when_another_user_takes_its_customer_off_the_worklist(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two collectors working as Anna open the side panel on Alpha SARL (C1) from the worklist at
    2026-03-31 (I1 600.00 and I2 400.00 overdue, nothing else on Anna's worklist). The second records
    a promise to pay on both: Alpha SARL leaves the worklist, which is now empty. The first, whose
    panel was open all along, logs a call: the panel is still there, and the call is saved."""
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")

    def open_panel_on_alpha() -> AppTest:
        at = AppTest.from_file(load.APP, default_timeout=60).run()
        at.selectbox(key="user_name").set_value("Anna").run()
        at.switch_page("pages/worklist.py").run()
        at.session_state["worklist_overdue_0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
        at.button(key="worklist_panel").click().run()
        assert not at.exception, at.exception
        return at

    first, second = open_panel_on_alpha(), open_panel_on_alpha()
    second.selectbox(key="panel_kind").set_value("promise_to_pay").run()
    second.button(key="panel_save").click().run()
    assert [s.value for s in second.success] == [markdown_text("Saved: 2 items qualified as promise to pay.")]
    # Its promise took Alpha SARL off the list: the page says so where the customer was.
    assert [i.value for i in second.info] == [
        "Nothing to do for this collector at this date.",
        "C1 is no longer on this worklist: its items were worked on or settled since the list was drawn. "
        "Choose another customer.",
    ]

    first.selectbox(key="panel_action").set_value("call")
    first.text_area(key="panel_comment").input("Called about I1 and I2").run()
    first.selectbox(key="panel_outcome").set_value("reached")
    first.button(key="panel_save").click().run()
    assert not first.exception, first.exception
    assert [s.value for s in first.success] == [markdown_text("Saved: call logged.")]
    with CollectionsDB.for_store(ledger_store) as db:
        calls = db.actions().select("customer_id", "comment", "user_name").rows()
    assert calls == [("C1", "Called about I1 and I2", "Anna")]
