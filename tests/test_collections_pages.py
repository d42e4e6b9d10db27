"""The collections workspace in AppTest, on the hand-worked ledger of conftest.py (as of 2026-03-31:
Alpha SARL, C1, owes I1 600.00 due 02-09 and I2 400.00 due 03-07, and has 50.00 on account)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.collections import CollectionsDB
from analytics.export import markdown_text
from analytics.store import Store

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app(ledger_store: Store, monkeypatch: pytest.MonkeyPatch, collections_backend) -> AppTest:
    """The customer page of the hand-worked ledger, its collections data on each back end (the embedded
    file, then a PostgreSQL database of its own: conftest.py's collections_backend)."""
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["customer"] = "C1"
    at.run()
    at.switch_page("pages/customer.py").run()
    assert not at.exception, at.exception
    return at


def items_table(at: AppTest):
    return next(frame.value for frame in at.dataframe if "state" in frame.value.columns)


def select_items(at: AppTest, positions: list[int]) -> None:
    at.session_state["customer_items_C1"] = {"selection": {"rows": positions, "columns": [], "cells": []}}
    at.run()


def test_customer_view_shows_identity_items_and_buckets(app: AppTest) -> None:
    assert app.title[0].value == "Customer"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Open (EUR)"] == "950.00"
    assert metrics["Credit limit (EUR)"] == "5,000.00"
    assert metrics["Terms"] == "30 days"
    table = items_table(app)
    assert table["document_id"].to_list() == ["I1", "I2", "P3"]
    assert table["state"].to_list() == ["", "", ""]
    assert any("No action or qualification recorded" in info.value for info in app.info)


def test_a_promise_through_the_side_panel(app: AppTest) -> None:
    """Select I1 and I2, open the panel, record a promise to pay by 2026-04-07 with a call: both items
    show the promise (open: its date is ahead), the timeline has one line for the save, naming both
    items; its Qualifications filter keeps it, a call alone later is shown under Actions only."""
    select_items(app, [0, 1])
    app.button(key="customer_panel").click().run()
    assert not app.exception, app.exception
    app.selectbox(key="panel_kind").set_value("promise_to_pay").run()
    app.text_area(key="panel_comment").input("Will pay both next week").run()
    app.selectbox(key="panel_action").set_value("call").run()
    app.selectbox(key="panel_outcome").set_value("promise_obtained").run()
    app.text_input(key="panel_contact").input("Mrs Dupont").run()
    app.button(key="panel_save").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == [
        markdown_text("Saved: 2 items qualified as promise to pay and call logged.")
    ]
    table = items_table(app)
    assert table["state"].to_list() == ["Promise to pay", "Promise to pay", ""]
    assert table["promise_status"].to_list()[:2] == ["Open", "Open"]
    assert [d.date() if hasattr(d, "date") else d for d in table["promised_date"].to_list()[:2]] == [
        date(2026, 4, 7),
        date(2026, 4, 7),
    ]
    timeline = next(frame.value for frame in app.dataframe if "what" in frame.value.columns)
    assert timeline["what"].to_list() == ["Call (promise obtained) · Promise to pay"]
    assert timeline["documents"].to_list() == ["I1, I2"]
    assert timeline["comment"].to_list() == ["Will pay both next week"]
    assert timeline["contact_person"].to_list() == ["Mrs Dupont"]
    assert timeline["details"].to_list() == [
        "I1: promised 600.00 by 2026-04-07; I2: promised 400.00 by 2026-04-07"
    ]

    select_items(app, [2])
    app.button(key="customer_panel").click().run()
    app.selectbox(key="panel_action").set_value("call").run()
    app.selectbox(key="panel_outcome").set_value("no_answer").run()
    app.button(key="panel_save").click().run()
    assert not app.exception, app.exception
    timeline = next(frame.value for frame in app.dataframe if "what" in frame.value.columns)
    assert timeline["what"].to_list() == ["Call (no answer)", "Call (promise obtained) · Promise to pay"]
    app.segmented_control(key="timeline_kind_C1").set_value("Qualifications").run()
    timeline = next(frame.value for frame in app.dataframe if "what" in frame.value.columns)
    assert timeline["what"].to_list() == ["Call (promise obtained) · Promise to pay"]


def test_refused_input_shows_its_message_and_writes_nothing(app: AppTest, ledger_store: Store) -> None:
    """A dispute needs a comment: refused, the panel says why, nothing is written."""
    select_items(app, [0])
    app.button(key="customer_panel").click().run()
    app.selectbox(key="panel_kind").set_value("disputed").run()
    app.button(key="panel_save").click().run()
    errors = [e.value for e in app.error]
    assert errors and errors[0].startswith("Refused, nothing was written:")
    assert "comment" in errors[0]
    with CollectionsDB.for_store(ledger_store) as db:
        assert db.events().is_empty() and db.actions().is_empty()
    app.button(key="panel_cancel").click().run()
    assert items_table(app)["state"].to_list() == ["", "", ""]


def test_worklist_lists_the_overdue_customer(app: AppTest) -> None:
    """At 2026-03-31 Alpha SARL's I1 (50 days) and I2 (24 days) are overdue and nothing waits on
    them: the customer is in 'Other overdue items' with 2 items and 1,000.00 open. Its recovery
    scenario (the default, Standard B2B) proposes the step due for its oldest item, I1 (due 02-09,
    50 days: the +45 registered letter)."""
    app.switch_page("pages/worklist.py").run()
    assert not app.exception, app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Overdue items"] == "2"
    rows = next(frame.value for frame in app.dataframe if "priority_score" in frame.value.columns)
    assert rows["customer_id"].to_list() == ["C1"]
    assert rows["items"].to_list() == [2]
    assert rows["total_open_amount"].to_list() == [1000.0]
    steps = next(frame.value for frame in app.dataframe if "step_label" in frame.value.columns)
    assert steps["customer_name"].to_list() == ["Alpha SARL"]
    assert steps["scenario"].to_list() == ["Standard B2B"]
    assert steps["step_label"].to_list() == ["+45 d registered letter"]


def test_disputes_page_on_a_ledger_without_disputes(app: AppTest) -> None:
    app.switch_page("pages/disputes.py").run()
    assert not app.exception, app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Open disputes"] == "0"
    assert metrics["Qualification rate"] == "0.0%"
    assert any(info.value == "No open dispute." for info in app.info)


def open_worklist(at: AppTest) -> AppTest:
    at.switch_page("pages/worklist.py").run()
    assert not at.exception, at.exception
    return at


def select_alpha_on_the_worklist(at: AppTest) -> None:
    """Select Alpha SARL, the one row of 'Other overdue items' (table key worklist_overdue_<nonce>)."""
    (key,) = [key for key in at.session_state if str(key).startswith("worklist_overdue_")]
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception


def worklist_items(at: AppTest):
    return next(frame.value for frame in at.dataframe if "section" in frame.value.columns)


def test_a_call_saved_on_the_worklist_shows_at_once(app: AppTest) -> None:
    """On the worklist, select Alpha SARL: its two overdue items I1 and I2 are listed. Log a call on
    both with a next action on 2026-04-07: the panel says it saved, Done today goes from 0 to 1, both
    items show the call's next action, and the panel opened again starts blank."""
    open_worklist(app)
    assert {m.label: m.value for m in app.metric}["Done today"] == "0"
    select_alpha_on_the_worklist(app)
    assert worklist_items(app)["document_id"].to_list() == ["I1", "I2"]
    assert [h.value for h in app.subheader] == ["Alpha SARL (C1)"]
    app.button(key="worklist_panel").click().run()
    app.selectbox(key="panel_action").set_value("call").run()
    app.selectbox(key="panel_outcome").set_value("reached").run()
    app.date_input(key="panel_next").set_value(date(2026, 4, 7)).run()
    app.text_area(key="panel_comment").input("Both invoices chased").run()
    app.button(key="panel_save").click().run()
    assert [s.value for s in app.success] == [markdown_text("Saved: call logged.")]
    assert {m.label: m.value for m in app.metric}["Done today"] == "1"
    # AppTest runs the save's fragments without the app's navigation, where st.page_link cannot find
    # the customer page (a served app can: tests/test_browser_worklist.py): the table is read after
    # the next full run.
    app.run()
    assert not app.exception, app.exception
    items = worklist_items(app)
    assert items["document_id"].to_list() == ["I1", "I2"]
    assert [d.date() for d in items["next_action_date"].to_list()] == [date(2026, 4, 7)] * 2
    app.button(key="worklist_panel").click().run()
    assert app.selectbox(key="panel_action").value == "(no action)"
    assert app.text_area(key="panel_comment").value == ""


def test_another_sessions_save_shows_at_the_next_run(app: AppTest, ledger_store: Store) -> None:
    """Two sessions of one server: one has Alpha SARL's items open on the worklist; the other disputes
    I1 from the customer page. At its next run the first sees I1 gone (a dispute is waited on) and
    I2 alone, 1 overdue item to work instead of 2."""
    open_worklist(app)
    select_alpha_on_the_worklist(app)
    assert worklist_items(app)["document_id"].to_list() == ["I1", "I2"]
    other = AppTest.from_file(APP, default_timeout=60)
    other.query_params["customer"] = "C1"
    other.run()
    other.switch_page("pages/customer.py").run()
    select_items(other, [0])
    other.button(key="customer_panel").click().run()
    other.selectbox(key="panel_kind").set_value("disputed").run()
    other.text_area(key="panel_comment").input("Price not agreed").run()
    other.button(key="panel_save").click().run()
    assert not other.exception, other.exception
    assert items_table(other)["state"].to_list()[:2] == ["Disputed", ""]
    app.run()
    assert worklist_items(app)["document_id"].to_list() == ["I2"]
