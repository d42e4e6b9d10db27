"""The Recovery scenarios page in AppTest, on the hand-worked ledger of conftest.py at 2026-03-31:
Alpha SARL (C1) owes I1 600.00 (due 02-09, 50 days late) and I2 400.00 (due 03-07, 24 days late);
the other customers owe nothing. Every customer follows Standard B2B by default, whose step due for
Alpha at 50 days is the +45 d registered letter."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import export, scenarios
from analytics.collections import CollectionsDB
from analytics.export import markdown_text
from analytics.store import Store

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    for name in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "TLS"):
        monkeypatch.delenv(f"AR_SMTP_{name}", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/scenarios.py").run()
    assert not at.exception, at.exception
    return at


def proposals(at: AppTest):
    return next(
        frame.value
        for frame in at.dataframe
        if "step_label" in frame.value.columns and "done" in frame.value.columns
    )


def open_tab(at: AppTest, label: str) -> None:
    """Open a tab of the page, as a click on it does: only the open tab's content runs."""
    at.session_state["scenario_tabs"] = label
    at.run()
    assert not at.exception, at.exception


def assignment_rows(at: AppTest):
    return next(frame.value for frame in at.dataframe if "assignment_reason" in frame.value.columns)


def test_the_default_scenario_proposes_the_formal_notice(app: AppTest) -> None:
    assert app.title[0].value == "Recovery scenarios"
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Steps due"], metrics["Done today"]) == ("1", "0")
    rows = proposals(app)
    assert rows[["customer_id", "scenario", "step_label", "items", "amount"]].values.tolist() == [
        ["C1", "Standard B2B", "+45 d registered letter", 2, 1000.0]
    ]
    open_tab(app, "Assignment")
    reasons = assignment_rows(app).set_index("customer_id")["assignment_reason"].to_dict()
    assert reasons == {
        "C1": "the default scenario",
        "C2": "the default scenario",
        "C3": "the default scenario",
    }


def test_create_a_scenario_assign_it_and_see_its_proposal(app: AppTest, ledger_store: Store) -> None:
    """A new scenario 'Key accounts': -10 d automatic e-mail, +20 d call, +40 d letter (minimum
    1,500.00). Assigned to Alpha SARL, at 50 days it proposes the +20 d call: the letter needs
    1,500.00 and Alpha owes 1,000.00."""
    open_tab(app, "Scenarios")
    app.selectbox(key="scenario_edit_choice").set_value(scenarios_new()).run()
    app.text_input(key="scenario_name_new_0").input("Key accounts").run()
    app.session_state["scenario_steps_new_0"] = {
        "edited_rows": {},
        "added_rows": [
            {"offset_days": -10, "action_type": "email", "automatic": True},
            {"offset_days": 20, "action_type": "call", "min_interval_days": 5},
            {"offset_days": 40, "action_type": "letter", "min_amount": 1500.0},
        ],
        "deleted_rows": [],
    }
    app.button(key="scenario_save").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == [markdown_text("Saved: Key accounts, version 1, 3 steps.")]
    overview = next(
        frame.value for frame in app.dataframe if "friendly_phase_end_days" in frame.value.columns
    )
    row = overview[overview["name"] == "Key accounts"].iloc[0]
    assert row["steps"] == "-10 d e-mail · +20 d call · +40 d letter"
    assert app.selectbox(key="scenario_edit_choice").value == "key_accounts"

    open_tab(app, "Assignment")
    app.selectbox(key="scenario_assign_customer").set_value("C1").run()
    app.selectbox(key="scenario_assign_to").set_value("key_accounts").run()
    app.button(key="scenario_assign").click().run()
    assert [s.value for s in app.success] == [markdown_text("Alpha SARL (C1) now follows Key accounts.")]
    alpha = assignment_rows(app).set_index("customer_id").loc["C1"]
    assert (alpha["scenario"], alpha["assignment"]) == ("Key accounts", "explicit")
    assert alpha["assignment_reason"].startswith("assigned to this customer by credit manager on ")

    open_tab(app, "Today")
    rows = proposals(app)
    assert rows[["customer_id", "scenario", "step_label", "amount"]].values.tolist() == [
        ["C1", "Key accounts", "+20 d call", 1000.0]
    ]


def scenarios_new() -> str:
    return "(new scenario)"


def test_a_refused_scenario_says_why(app: AppTest) -> None:
    open_tab(app, "Scenarios")
    app.selectbox(key="scenario_edit_choice").set_value(scenarios_new()).run()
    app.text_input(key="scenario_name_new_0").input("Calls").run()
    app.session_state["scenario_steps_new_0"] = {
        "edited_rows": {},
        "added_rows": [{"offset_days": 5, "action_type": "call", "automatic": True}],
        "deleted_rows": [],
    }
    app.button(key="scenario_save").click().run()
    errors = [e.value for e in app.error]
    assert errors == [
        "Refused, nothing was written:\n- "
        + export.markdown_text("step 1, automatic: only e-mails and letters go out on their own, not a call")
    ]


def test_confirm_an_edited_reminder(app: AppTest, ledger_store: Store) -> None:
    """Select Alpha's formal notice, edit its text, download buttons are there; confirm it as a printed
    letter: the step is done today and its text as edited is logged with it."""
    app.session_state["scenario_proposals_0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    # Names and step labels are shown as text: Markdown's specials (the "+") escaped.
    assert [s.value for s in app.subheader] == [
        "Alpha SARL: " + export.markdown_text("+45 d registered letter")
    ]
    key = "C1_standard_b2b_45"
    assert app.text_input(key=f"reminder_subject_{key}").value == "Formal notice to pay - 1,000.00 EUR"
    text = app.text_area(key=f"reminder_text_{key}").value
    assert "I1" in text and "I2" in text and "1,000.00 EUR" in text
    app.text_area(key=f"reminder_text_{key}").input(text.replace("Dear Sir or Madam", "Dear Mr Martin")).run()
    labels = [button.label for button in app.get("download_button")]
    assert labels == ["Download PDF letter"]
    app.text_input(key=f"reminder_to_{key}").input("compta@alpha.test").run()
    assert [button.label for button in app.get("download_button")] == ["Download .eml", "Download PDF letter"]
    app.button(key=f"reminder_confirm_{key}").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == [
        markdown_text("Confirmed: Alpha SARL, +45 d registered letter.")
    ]
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Steps due"], metrics["Done today"]) == ("0", "1")
    # The page's writer shares the database instance of this process: a second connection reads it.
    with CollectionsDB.for_store(ledger_store) as db:
        log = scenarios.step_log(db, customer_ids=["C1"]).row(0, named=True)
        assert (log["decision"], log["channel"], log["recipient"]) == (
            "confirmed",
            "pdf",
            "compta@alpha.test",
        )
        assert log["content"].startswith("Dear Mr Martin,")
        assert scenarios.contact(db, "C1")["email"] == "compta@alpha.test"


def test_contacts_and_penalties_in_the_settings(app: AppTest) -> None:
    """A contact with a wrong address is refused; a good one is saved and becomes the recipient of
    Alpha's reminder. With penalties on (10% a year, 40.00 a invoice) the formal notice asks for
    1,000.00 + 10.85 interest + 80.00 fees = 1,090.85 (see test_reminders.py)."""
    open_tab(app, "Settings")
    app.selectbox(key="contact_customer").set_value("C1").run()
    app.text_input(key="contact_email_C1").input("not an address").run()
    app.button(key="contact_save").click().run()
    assert [e.value for e in app.error] == [
        "Refused, nothing was written:\n- "
        + export.markdown_text("email: 'not an address' is not an e-mail address")
    ]
    app.text_input(key="contact_email_C1").input("compta@alpha.test").run()
    app.text_input(key="contact_name_C1").input("Mrs Dupont").run()
    app.button(key="contact_save").click().run()
    assert [s.value for s in app.success] == [markdown_text("Contact saved for Alpha SARL (C1).")]
    # A form's widgets reach the app with its submit button.
    next(t for t in app.toggle if t.label == "Show penalties").set_value(True)
    app.form_submit_button[0].click().run()
    assert [s.value for s in app.success] == [markdown_text("Settings saved.")]
    open_tab(app, "Today")
    app.session_state["scenario_proposals_0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    key = "C1_standard_b2b_45"
    assert app.text_input(key=f"reminder_to_{key}").value == "compta@alpha.test"
    assert app.text_input(key=f"reminder_subject_{key}").value == "Formal notice to pay - 1,090.85 EUR"
    assert app.text_area(key=f"reminder_text_{key}").value.startswith("Dear Mrs Dupont,")


def test_rules_in_priority_order(app: AppTest) -> None:
    """A rule added last with priority 1 (segment Key accounts -> Risky customers), the three default
    rules moved to 2, 3 and 4: Beta GmbH (C2, segment Key accounts) gets Risky customers by rule 1; the
    others keep the default."""
    open_tab(app, "Assignment")
    app.session_state["scenario_rules_1"] = {
        "edited_rows": {0: {"priority": 2}, 1: {"priority": 3}, 2: {"priority": 4}},
        "added_rows": [
            {"priority": 1, "dimension": "segment", "value": "Key accounts", "scenario": "Risky customers"}
        ],
        "deleted_rows": [],
    }
    app.button(key="scenario_rules_save").click().run()
    assert [s.value for s in app.success] == [markdown_text("Saved: 4 rules (version 2).")]
    reasons = assignment_rows(app).set_index("customer_id")["assignment_reason"].to_dict()
    assert reasons == {
        "C1": "the default scenario",
        "C2": "rule 1: segment is Key accounts",
        "C3": "the default scenario",
    }


def test_the_step_chosen_shows_its_items_and_its_letter(app: AppTest) -> None:
    """Alpha's step picked in the Today list: its heading, its scenario and why, the two items it
    concerns (I1 600.00 50 days late, I2 400.00 24 days late) and the formal notice's letter, which
    names both and asks for 1,000.00 EUR; the list above still has the one step."""
    assert not app.subheader
    app.session_state["scenario_proposals_0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader] == ["Alpha SARL: " + markdown_text("+45 d registered letter")]
    assert "Standard B2B (version 1) · " + markdown_text(
        "oldest item due 2026-02-09 (50 days); +45 d registered letter due 2026-03-26"
    ) in [c.value for c in app.caption]
    concerned = next(frame.value for frame in app.dataframe if "days_past_due" in frame.value.columns)
    assert concerned[["document_id", "days_past_due", "open_amount"]].values.tolist() == [
        ["I1", 50, 600.0],
        ["I2", 24, 400.0],
    ]
    key = "C1_standard_b2b_45"
    assert app.text_input(key=f"reminder_subject_{key}").value == "Formal notice to pay - 1,000.00 EUR"
    letter = app.text_area(key=f"reminder_text_{key}").value
    assert letter.startswith("Dear Sir or Madam,")
    assert "I1" in letter and "I2" in letter and "1,000.00 EUR" in letter
    assert "Download PDF letter" in [button.label for button in app.get("download_button")]
    assert proposals(app)["customer_id"].to_list() == ["C1"]
    # The list is drawn afresh without its selection; the step stays chosen at the next run.
    app.run()
    assert [s.value for s in app.subheader] == ["Alpha SARL: " + markdown_text("+45 d registered letter")]


def runs(log: Path) -> list[str]:
    return (
        [line.rsplit(" ", 1)[1] for line in log.read_text(encoding="utf-8").splitlines()]
        if log.is_file()
        else []
    )


def test_only_the_open_tab_computes_its_content(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With Today open the scenario editor does not run and its overview is not drawn; with Scenarios
    open, the steps of today do not run and their list and counts are not drawn."""
    log = tmp_path / "runs.log"
    monkeypatch.setenv("AR_RUN_LOG", str(log))
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/scenarios.py").run()
    assert not at.exception, at.exception
    assert "scenario_today" in runs(log) and "scenario_editor" not in runs(log)
    assert proposals(at)["customer_id"].to_list() == ["C1"]
    assert not [f for f in at.dataframe if "friendly_phase_end_days" in f.value.columns]

    log.unlink()
    open_tab(at, "Scenarios")
    assert "scenario_editor" in runs(log) and "scenario_today" not in runs(log)
    overview = next(f.value for f in at.dataframe if "friendly_phase_end_days" in f.value.columns)
    assert "Standard B2B" in overview["name"].to_list()
    assert not [f for f in at.dataframe if "step_label" in f.value.columns and "done" in f.value.columns]
    assert "Steps due" not in [m.label for m in at.metric]

    log.unlink()
    open_tab(at, "Alerts")
    assert "scenario_editor" not in runs(log) and "scenario_today" not in runs(log)
