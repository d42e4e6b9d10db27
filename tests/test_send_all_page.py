"""The Recovery scenarios page's "Send all automatic steps due", in AppTest, on the hand-worked ledger
of conftest.py at 2026-02-14, through a real SMTP server on loopback: Alpha SARL (C1) is 5 days late
on I1 (1,000.00 EUR), Standard B2B's automatic +5 d e-mail is the one automatic step due; the Overview
then says what the last daily run did."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from mailserver import body, mail_server
from streamlit.testing.v1 import AppTest

from analytics import daily, scenarios
from analytics.collections import CollectionsDB
from analytics.store import Store
from pages._format import markdown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def book(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test", contact_name="Mrs Dupont")
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    monkeypatch.delenv("AR_SMTP_PASSWORD", raising=False)
    return ledger_store


def start(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["as_of"] = "2026-02-14"
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_send_all_automatic_steps_due_shows_each_message_then_the_outcome(book: Store) -> None:
    with mail_server() as server:
        (book.root / "settings.toml").write_text(server.settings_toml(), encoding="utf-8")
        at = start("pages/scenarios.py")
        assert at.expander[0].label == "Send all automatic steps due (1)"
        # Closed, the box writes no message; opened (the box's state), it previews each one.
        assert not any("goes_out" in f.value.columns for f in at.dataframe)
        at.session_state["scenario_send_all_box"] = True
        at.run()
        preview = next(f.value for f in at.dataframe if "goes_out" in f.value.columns)
        assert preview[["customer_id", "step_label", "goes_out", "subject"]].values.tolist() == [
            [
                "C1",
                "+5 d e-mail",
                "e-mail to compta@alpha.test",
                "Payment reminder - Alpha SARL - 1,000.00 EUR overdue",
            ]
        ]
        assert "Dear Mrs Dupont" in at.text[0].value
        at.button(key="scenario_send_all").click().run()
        assert not at.exception, at.exception
        ((_, recipients, message),) = server.received
    assert recipients == ["compta@alpha.test"] and "I1" in body(message)
    assert [s.value for s in at.success] == ["Sent 1 of 1 automatic step(s)."]
    outcome = next(
        f.value for f in at.dataframe if "status" in f.value.columns and "detail" in f.value.columns
    )
    assert outcome[["customer_id", "recipient", "status"]].values.tolist() == [
        ["C1", "compta@alpha.test", "Sent"]
    ]
    # Sent steps are done: nothing automatic is left to send.
    assert not any(e.label.startswith("Send all automatic steps due") for e in at.expander)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Done today"] == "1"


def test_a_refusing_server_shows_the_step_not_sent(book: Store) -> None:
    with mail_server() as server:
        server.refuse = True
        (book.root / "settings.toml").write_text(server.settings_toml(), encoding="utf-8")
        at = start("pages/scenarios.py")
        at.session_state["scenario_send_all_box"] = True
        at.run()
        at.button(key="scenario_send_all").click().run()
    outcome = next(
        f.value for f in at.dataframe if "status" in f.value.columns and "detail" in f.value.columns
    )
    assert outcome["status"].to_list() == ["Not sent"]
    assert "the server answered 554" in outcome["detail"][0]
    assert [s.value for s in at.success] == ["Sent 0 of 1 automatic step(s)."]
    assert at.expander[0].label == "Send all automatic steps due (1)"  # still due, for the next try


def test_the_overview_says_what_the_last_daily_run_did(book: Store) -> None:
    at = start("pages/overview.py")
    assert any("No daily run yet" in c.value for c in at.caption)
    result = daily.run(book, date(2026, 2, 14), environ={})
    at = start("pages/overview.py")
    said = [c.value for c in at.caption if "Last daily run" in c.value]
    started = result.started_at[:16].replace("T", " ")
    problem = "recovery steps: no mail server in settings.toml ([mail] host): e-mails not sent"
    assert said == [markdown_text(f"Last daily run {started} UTC: {result.headline()} (first: {problem})")]
    assert "recovery steps sent 0, skipped 1" in result.headline()
