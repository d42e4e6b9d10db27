"""The customer statement of account, on the hand-worked ledger of conftest.py, sent through a real SMTP
server on loopback and its PDF read back.

At 2026-03-31 Alpha SARL (C1) has open I1 600.00 EUR (1,000.00 less P1's 400.00), I2 400.00 EUR
(500.00 less the credit note CN1's 100.00) and P3, 50.00 EUR paid on account: 950.00 EUR, all
overdue. At 2026-02-14 Beta GmbH (C2) owes I3 1,200.00 USD (1,000.00 EUR in the functional
currency, which its statement does not show), 30 days late."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from mailserver import body, mail_server, pdf_text

from analytics import collections, reminders, scenarios, statement
from analytics.aging import aged_items
from analytics.collections import CollectionsDB
from analytics.store import Store
from pages._format import markdown_text


def server_of(mail) -> reminders.SmtpSettings:
    return reminders.SmtpSettings("127.0.0.1", mail.port, sender="ar@acme.test", tls="none")


def test_the_statement_total_is_the_customers_open_items_in_their_currency(ledger_store: Store) -> None:
    as_of = date(2026, 3, 31)
    open_items = aged_items(ledger_store, as_of).filter(pl.col("customer_id") == "C1")
    expected = sum(open_items.get_column("open_amount").to_list(), Decimal("0"))
    assert expected == Decimal("950.00")
    with CollectionsDB.for_store(ledger_store) as db:
        account = statement.statement(db, ledger_store, "C1", as_of)
    assert account.totals == {"EUR": {"open": expected, "overdue": expected}}
    text = pdf_text(statement.statement_pdf(account))
    assert "Statement of account at 2026-03-31" in text
    assert "Total open 950.00 EUR" in text and "of which overdue 950.00 EUR" in text
    for document_id, amount in (("I1", "600.00"), ("I2", "400.00"), ("P3", "-50.00")):
        assert document_id in text and amount in text
    assert "Payment on account" in text


def test_a_foreign_customer_reads_its_own_currency(ledger_store: Store) -> None:
    with CollectionsDB.for_store(ledger_store) as db:
        account = statement.statement(db, ledger_store, "C2", date(2026, 2, 14))
    text = pdf_text(statement.statement_pdf(account))
    assert "Total open 1,200.00 USD" in text and "of which overdue 1,200.00 USD" in text
    assert "EUR" not in text and "1,000.00" not in text
    assert account.total == "1,200.00 USD"


def test_send_statement_mails_the_pdf_to_the_contact_and_notes_it(ledger_store: Store) -> None:
    as_of = date(2026, 3, 31)
    with mail_server() as mail, CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test", contact_name="Mrs Dupont")
        done = statement.send_statement(db, ledger_store, "C1", as_of, server_of(mail), user="Anna")
        story = collections.history(db, customer_id="C1")
        ((_, recipients, message),) = mail.received
    assert done == "Statement of account at 2026-03-31 (950.00 EUR) sent by e-mail to compta@alpha.test."
    assert recipients == ["compta@alpha.test"]
    assert message["Subject"] == "Statement of account - Alpha SARL - 2026-03-31"
    assert "Dear Mrs Dupont," in body(message) and "3 open item(s), 950.00 EUR in all" in body(message)
    ((name, pdf),) = [(p.get_filename(), p.get_content()) for p in message.iter_attachments()]
    assert name == "statement-C1-2026-03-31.pdf"
    assert "Total open 950.00 EUR" in pdf_text(pdf)
    assert done.removesuffix(".") in story.get_column("comment").to_list()


def test_no_statement_without_an_address_or_a_mail_server(ledger_store: Store) -> None:
    with mail_server() as mail, CollectionsDB.for_store(ledger_store) as db:
        with pytest.raises(statement.StatementError, match=r"no e-mail address for Beta GmbH \(C2\)"):
            statement.send_statement(db, ledger_store, "C2", date(2026, 2, 14), server_of(mail), user="Ben")
        with pytest.raises(statement.StatementError, match=r"no mail server"):
            statement.send_statement(db, ledger_store, "C2", date(2026, 2, 14), None, user="Ben")
        with pytest.raises(statement.StatementError, match=r"no customer 'C9' in scope"):
            statement.statement(db, ledger_store, "C9", date(2026, 2, 14))
        assert mail.received == []


def test_the_customer_page_sends_the_statement(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    monkeypatch.delenv("AR_SMTP_PASSWORD", raising=False)
    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test")
    with mail_server() as mail:
        (ledger_store.root / "settings.toml").write_text(mail.settings_toml(), encoding="utf-8")
        at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60)
        at.query_params["as_of"] = "2026-03-31"
        at.run()
        at.switch_page("pages/customer.py").run()
        assert not at.exception, at.exception
        button = at.button(key="customer_statement_C1")
        assert (button.label, button.disabled) == ("Send statement", False)
        # Beside it, its PDF to download.
        assert [b.proto.label for b in at.get("download_button")] == ["Download statement (PDF)"]
        button.click().run()
        assert not at.exception, at.exception
        ((_, recipients, message),) = mail.received
    assert recipients == ["compta@alpha.test"]
    assert [s.value for s in at.success] == [
        markdown_text("Statement of account at 2026-03-31 (950.00 EUR) sent by e-mail to compta@alpha.test.")
    ]
    ((pdf),) = [p.get_content() for p in message.iter_attachments()]
    assert "Total open 950.00 EUR" in pdf_text(pdf)
    # Beta GmbH has no address: the button is disabled and says why.
    at.selectbox(key="customer_pick_C1").select("C2").run()
    assert at.button(key="customer_statement_C2").disabled
    assert markdown_text("No e-mail address for this customer: add one on the Recovery scenarios page.") in [
        c.value for c in at.caption
    ]


def test_a_scenario_step_attaches_the_statement(ledger_store: Store) -> None:
    """Standard B2B's +5 d e-mail set to attach the statement: the daily run at 2026-02-14 sends Alpha
    SARL its reminder with its statement (I1 1,000.00 EUR and I2 500.00 EUR, not yet due: 1,500.00 EUR
    open, 1,000.00 EUR overdue). A step other than an e-mail cannot attach it."""
    from dataclasses import replace

    from analytics import daily

    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test")
        standard = scenarios.scenario(db, "standard_b2b")
        steps = [replace(s, attach_statement=s.offset_days == 5) for s in standard.steps]
        scenarios.save_scenario(db, replace(standard, steps=tuple(steps)), user="Carla")
        assert [
            s.offset_days for s in scenarios.scenario(db, "standard_b2b").steps if s.attach_statement
        ] == [5]
        letter = [replace(s, attach_statement=s.action_type == "letter") for s in standard.steps]
        with pytest.raises(scenarios.ScenarioRefused, match="step 4, attach_statement: only an e-mail"):
            scenarios.save_scenario(db, replace(standard, steps=tuple(letter)), user="Carla")
    with mail_server() as mail:
        (ledger_store.root / "settings.toml").write_text(mail.settings_toml(), encoding="utf-8")
        result = daily.run(ledger_store, date(2026, 2, 14), environ={})
        ((_, recipients, message),) = mail.received
    assert recipients == ["compta@alpha.test"]
    assert message["Subject"] == "Payment reminder - Alpha SARL - 1,000.00 EUR overdue"
    assert [row["detail"] for row in result.sent] == [
        "Payment reminder - Alpha SARL - 1,000.00 EUR overdue (with the statement of account)"
    ]
    ((name, pdf),) = [(p.get_filename(), p.get_content()) for p in message.iter_attachments()]
    assert name == "statement-C1-2026-02-14.pdf"
    text = pdf_text(pdf)
    assert "Total open 1,500.00 EUR" in text and "of which overdue 1,000.00 EUR" in text
    assert "I1" in body(message)


def test_a_step_sent_by_hand_attaches_the_statement_when_the_step_asks(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Standard B2B's +5 d e-mail set to attach the statement, sent by hand from the Today tab at
    2026-02-14: Alpha SARL's reminder goes with its statement (1,500.00 EUR open), as the daily run's."""
    from dataclasses import replace
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    monkeypatch.delenv("AR_SMTP_PASSWORD", raising=False)
    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test")
        standard = scenarios.scenario(db, "standard_b2b")
        steps = [replace(s, attach_statement=s.offset_days == 5) for s in standard.steps]
        scenarios.save_scenario(db, replace(standard, steps=tuple(steps)), user="Carla")
    with mail_server() as mail:
        (ledger_store.root / "settings.toml").write_text(mail.settings_toml(), encoding="utf-8")
        at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=60)
        at.query_params["as_of"] = "2026-02-14"
        at.run()
        at.switch_page("pages/scenarios.py").run()
        at.session_state["scenario_proposals_0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
        assert not at.exception, at.exception
        assert [s.value for s in at.subheader] == ["Alpha SARL: " + markdown_text("+5 d e-mail")]
        key = "C1_standard_b2b_5"
        assert "The customer's statement of account (PDF) goes with the e-mail, as this step asks." in [
            c.value for c in at.caption
        ]
        at.button(key=f"reminder_send_{key}").click().run()
        assert not at.exception, at.exception
        ((_, recipients, message),) = mail.received
    assert recipients == ["compta@alpha.test"]
    assert message["Subject"] == "Payment reminder - Alpha SARL - 1,000.00 EUR overdue"
    ((name, pdf),) = [(p.get_filename(), p.get_content()) for p in message.iter_attachments()]
    assert name == "statement-C1-2026-02-14.pdf"
    assert "Total open 1,500.00 EUR" in pdf_text(pdf)


def test_cash_on_account_of_a_customer_billed_in_gbp_reads_gbp(demo_data_dir) -> None:
    """Cash on account is recorded in the functional currency (EUR in the demo): on the statement of a
    customer billed in GBP it is shown in GBP, at the booked rate of the customer's latest open
    document, and the statement has one total, in GBP, and no EUR anywhere."""
    store = Store(demo_data_dir)
    as_of = date(2026, 11, 20)
    items = aged_items(store, as_of)
    cash = items.filter(pl.col("document_type") == "unapplied_cash")
    billed = (
        items.filter(pl.col("document_type") != "unapplied_cash")
        .group_by("customer_id")
        .agg(pl.col("currency").unique())
    )
    gbp_only = billed.filter(pl.col("currency").list.len() == 1, pl.col("currency").list.first() == "GBP")
    with_cash = gbp_only.join(cash.select("customer_id").unique(), on="customer_id").sort("customer_id")
    customer_id = with_cash.get_column("customer_id")[0]
    mine = items.filter(pl.col("customer_id") == customer_id, pl.col("document_type") != "unapplied_cash")
    latest = mine.sort("document_date", "document_id").row(-1, named=True)
    rate = latest["open_amount"] / latest["open_amount_functional"]
    with CollectionsDB.for_store(store) as db:
        account = statement.statement(db, store, customer_id, as_of, items=items)
    shown = account.items.filter(pl.col("document_type") == "unapplied_cash")
    paid = cash.filter(pl.col("customer_id") == customer_id).sort("document_id")
    assert shown.height == paid.height and set(shown.get_column("currency")) == {"GBP"}
    for row in paid.iter_rows(named=True):
        expected = (row["open_amount_functional"] * rate).quantize(Decimal("0.01"))
        figure = shown.filter(pl.col("document_id") == row["document_id"]).get_column("open_amount")[0]
        assert abs(figure - expected) <= Decimal("0.01")
    assert list(account.totals) == ["GBP"] and account.total.endswith(" GBP")
    text = pdf_text(statement.statement_pdf(account))
    assert (
        "EUR" not in text
        and f"Total open {reminders.format_money(account.totals['GBP']['open'])} GBP" in text
    )
