"""Reminders: penalties worked by hand, templates (text and autoescaped HTML), the .eml and the PDF
letter, and sending end to end through a real SMTP server on loopback (aiosmtpd).

The items of the hand-worked ledger of conftest.py that Alpha SARL (C1) owes at 2026-03-31:
    I1  issued 01-10, due 02-09, 600.00 open (1000.00 less P1 400.00): 50 days late
    I2  issued 02-05, due 03-07, 400.00 open (500.00 less CN1 100.00):  24 days late
Penalties at 10% a year and 40.00 per overdue invoice:
    I1  600.00 x 10% x 50 / 365 = 8.219... -> 8.22     I2  400.00 x 10% x 24 / 365 = 2.630... -> 2.63
    interest 10.85, fees 2 x 40.00 = 80.00, total due 1,000.00 + 10.85 + 80.00 = 1,090.85
"""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import date
from decimal import Decimal
from email import message_from_bytes, policy
from email.parser import BytesParser

import polars as pl
import pytest
from aiosmtpd.controller import Controller

from analytics import reminders, scenarios
from analytics.aging import aged_items
from analytics.collections import CollectionsDB
from analytics.reminders import Penalties, Sender, SmtpSettings
from analytics.scope import EVERYTHING
from analytics.store import Store

AS_OF = date(2026, 3, 31)
SENDER = Sender(name="Acme Receivables", email="ar@acme.test", payment_details="IBAN FR76 3000 6000 0112")
PENALTIES = Penalties(enabled=True, annual_rate=Decimal("10.00"), fixed_fee=Decimal("40.00"))
STEP = {
    "scenario": "Standard B2B",
    "label": "+45 d registered letter",
    "action_type": "registered_letter",
    "offset_days": 45,
}


def alpha_items(store: Store, as_of: date = AS_OF) -> pl.DataFrame:
    return aged_items(store, as_of).filter(
        pl.col("customer_id") == "C1", pl.col("document_type") == "invoice"
    )


def render(
    store: Store, template: str = "formal_notice", name: str = "Alpha SARL", **kwargs
) -> reminders.Reminder:
    return reminders.render(
        template,
        customer={
            "customer_id": "C1",
            "customer_name": name,
            "contact_name": "Mrs Dupont",
            "email": "compta@alpha.test",
        },
        items=alpha_items(store),
        as_of=AS_OF,
        currency="EUR",
        step=STEP,
        penalties=kwargs.pop("penalties", PENALTIES),
        sender=SENDER,
        **kwargs,
    )


def test_penalties_worked_by_hand(ledger_store: Store) -> None:
    priced = reminders.with_penalties(alpha_items(ledger_store), AS_OF, PENALTIES)
    assert priced.select("document_id", "days_late", "interest", "fee").rows() == [
        ("I1", 50, Decimal("8.22"), Decimal("40.00")),
        ("I2", 24, Decimal("2.63"), Decimal("40.00")),
    ]
    assert reminders.totals(priced) == {
        "EUR": {
            "open": Decimal("1000.00"),
            "interest": Decimal("10.85"),
            "fees": Decimal("80.00"),
            "due": Decimal("1090.85"),
        }
    }
    off = reminders.with_penalties(alpha_items(ledger_store), AS_OF, Penalties(enabled=False))
    assert reminders.totals(off)["EUR"]["due"] == Decimal("1000.00")
    not_due = reminders.with_penalties(
        alpha_items(ledger_store, date(2026, 2, 9)), date(2026, 2, 9), PENALTIES
    )
    assert (
        not_due.select("days_late", "interest", "fee").rows() == [(0, Decimal("0.00"), Decimal("0.00"))] * 2
    )


def test_the_letter_text_lists_the_items_totals_and_penalties(ledger_store: Store) -> None:
    letter = render(ledger_store)
    assert letter.subject == "Formal notice to pay - 1,090.85 EUR"
    lines = letter.text.split("\n")
    assert lines[0] == "Dear Mrs Dupont,"
    table = [line for line in lines if line.startswith("  ")]
    assert table[1].split() == ["I1", "2026-01-10", "2026-02-09", "50", "600.00", "EUR"]
    assert table[2].split() == ["I2", "2026-02-05", "2026-03-07", "24", "400.00", "EUR"]
    assert table[3].split()[-2:] == ["1,000.00", "EUR"]
    assert "Late-payment interest at 10.00% a year" in table[4] and table[4].endswith("10.85 EUR")
    assert table[5].endswith("80.00 EUR") and table[6].split()[-2:] == ["1,090.85", "EUR"]
    assert "IBAN FR76 3000 6000 0112" in letter.text
    plain = render(ledger_store, "first_reminder", penalties=Penalties())
    assert "interest" not in plain.text and plain.totals["EUR"]["due"] == Decimal("1000.00")
    assert plain.document_ids == ("I1", "I2")


def foreign_render(store: Store, template: str, document_ids: list[str], **kwargs) -> reminders.Reminder:
    """A reminder at 2026-02-10, when I1 (1,000.00 EUR, due 02-09) and I3 (1,200.00 USD = 1,000.00 EUR,
    due 01-15) are open, in a company whose functional currency is EUR."""
    day = date(2026, 2, 10)
    items = aged_items(store, day).filter(pl.col("document_id").is_in(document_ids))
    return reminders.render(
        template,
        customer={"customer_id": "C2", "customer_name": "Beta GmbH", "email": "ap@beta.test"},
        items=items,
        as_of=day,
        currency="EUR",
        step=STEP,
        penalties=kwargs.pop("penalties", PENALTIES),
        sender=SENDER,
    )


def test_a_reminder_shows_the_documents_currency_with_one_total_per_currency(ledger_store: Store) -> None:
    """At 2026-02-10 with 10% a year and 40.00 EUR a overdue invoice, charged in the invoice's currency
    at its booked rate (I3: 1,200.00 USD booked at 1,000.00 EUR, 1.2 USD a EUR):
        I3  1,200.00 USD, 26 days late: 1,200.00 x 10% x 26 / 365 = 8.547... -> 8.55 USD,
            fee 40.00 x 1.2 = 48.00 USD
        I1  1,000.00 EUR,  1 day late:  1,000.00 x 10% x 1 / 365 = 0.273... -> 0.27 EUR, fee 40.00 EUR
    I3 alone, penalties off: 1,200.00 USD and never its 1,000.00 EUR; with penalties: 1,200.00 + 8.55
    + 48.00 = 1,256.55 USD due, no EUR at all. Both: EUR 1,000.00 + 0.27 + 40.00 = 1,040.27 and USD
    1,256.55."""
    usd = foreign_render(ledger_store, "first_reminder", ["I3"], penalties=Penalties())
    assert usd.subject == "Payment reminder - Beta GmbH - 1,200.00 USD overdue"
    table = [line for line in usd.text.split("\n") if line.startswith("  ")]
    assert table[1].split()[-2:] == ["1,200.00", "USD"] and table[2].split() == ["Total", "1,200.00", "USD"]
    assert "EUR" not in usd.text and "1,000.00" not in usd.text
    assert "EUR" not in usd.html and "1,200.00 USD" in usd.html
    assert usd.totals == {
        "USD": {
            "open": Decimal("1200.00"),
            "interest": Decimal("0.00"),
            "fees": Decimal("0.00"),
            "due": Decimal("1200.00"),
        }
    }

    charged = foreign_render(ledger_store, "formal_notice", ["I3"])
    assert charged.subject == "Formal notice to pay - 1,256.55 USD"
    table = [line for line in charged.text.split("\n") if line.startswith("  ")]
    assert [line.split()[-2:] for line in table[2:]] == [
        ["1,200.00", "USD"],
        ["8.55", "USD"],
        ["48.00", "USD"],
        ["1,256.55", "USD"],
    ]
    assert table[4].lstrip().startswith("Recovery fee per overdue invoice")
    assert "EUR" not in charged.text and "EUR" not in charged.html

    both = foreign_render(ledger_store, "formal_notice", ["I1", "I3"])
    assert both.subject == "Formal notice to pay - 1,040.27 EUR and 1,256.55 USD"
    assert both.totals["EUR"] == {
        "open": Decimal("1000.00"),
        "interest": Decimal("0.27"),
        "fees": Decimal("40.00"),
        "due": Decimal("1040.27"),
    }
    assert both.totals["USD"]["due"] == Decimal("1256.55")
    assert "the sum of 1,040.27 EUR and 1,256.55 USD within 8 days" in both.text
    html_totals = [row for row in both.html.split("\n") if "Total due" in row]
    assert len(html_totals) == 2 and "1,040.27 EUR" in html_totals[0] and "1,256.55 USD" in html_totals[1]


def test_a_reminder_to_a_customer_of_the_demo_billed_in_gbp_reads_gbp_only(demo_data_dir) -> None:
    """The demo company keeps its books in EUR and bills its UK customers in GBP: the reminder of a
    GBP-only customer's step, penalties on, lists its items in GBP and totals them in GBP (the fee
    too); no EUR figure reaches it, in the text, the HTML part or the subject."""
    store = Store(demo_data_dir)
    as_of = date(2026, 11, 20)
    items = aged_items(store, as_of)
    currencies = (
        items.filter(pl.col("document_type") != "unapplied_cash")
        .group_by("customer_id")
        .agg(pl.col("currency").unique())
    )
    gbp_only = set(
        currencies.filter(pl.col("currency").list.len() == 1, pl.col("currency").list.first() == "GBP")
        .get_column("customer_id")
        .to_list()
    )
    assert store.manifest().functional_currency == "EUR" and gbp_only
    with CollectionsDB(demo_data_dir / "collections.duckdb") as db:
        found = scenarios.proposals(db, store, as_of, EVERYTHING, items=items)
        overdue = found.filter(
            pl.col("customer_id").is_in(list(gbp_only)), pl.col("template") != "pre_due_reminder"
        )
        proposal = scenarios.Proposal.from_row(overdue.row(0, named=True))
        current = scenarios.settings(db)
        message = scenarios.reminder(
            db,
            store,
            proposal,
            as_of,
            items=items,
            current=replace(current, penalties_enabled=True),
        )
    table = [line for line in message.text.split("\n") if line.startswith("  ")]
    assert len(table) >= 3 and all(line.split()[-1] == "GBP" for line in table[1:])
    assert any(line.lstrip().startswith("Total due") for line in table)
    assert list(message.totals) == ["GBP"] and message.totals["GBP"]["fees"] > 0
    for text in (message.subject, message.text, message.html):
        assert "EUR" not in text and "\u20ac" not in text


def test_html_is_autoescaped_and_follows_an_edited_text(ledger_store: Store) -> None:
    letter = render(ledger_store, "first_reminder", name="<Alpha & Co>")
    assert "<Alpha & Co>" in letter.subject
    assert "&lt;Alpha &amp; Co&gt;" in letter.html and "<Alpha" not in letter.html
    assert "<td>I1</td>" in letter.html and "1,000.00 EUR" in letter.html
    edited = letter.with_text(letter.subject, letter.text.replace("Dear Mrs Dupont", "Hello <b>Anne</b>"))
    assert edited.edited and "Hello &lt;b&gt;Anne&lt;/b&gt;" in edited.html
    assert "<pre" in edited.html and "600.00 EUR" in edited.html
    assert letter.with_text(letter.subject, letter.text).html == letter.html
    with pytest.raises(reminders.ReminderError, match="unknown reminder template 'nope'"):
        render(ledger_store, "nope")


def test_eml_is_a_readable_email(ledger_store: Store) -> None:
    letter = render(ledger_store, "first_reminder")
    parsed = BytesParser(policy=policy.default).parsebytes(reminders.eml_bytes(letter))
    assert parsed["To"] == "compta@alpha.test"
    assert parsed["From"] == "ar@acme.test"
    assert parsed["Subject"] == "Payment reminder - Alpha SARL - 1,000.00 EUR overdue"
    body = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "I1" in body and "I2" in body and "1,000.00 EUR" in body
    assert "<table" in parsed.get_body(preferencelist=("html",)).get_content()
    with pytest.raises(reminders.ReminderError, match="no e-mail address"):
        reminders.eml_bytes(letter.with_text(letter.subject, letter.text, recipient=""))


def test_pdf_letter_with_core_fonts_holds_the_customer_name(ledger_store: Store) -> None:
    pdf = reminders.pdf_letter(render(ledger_store), fonts="core", compress=False)
    assert pdf.startswith(b"%PDF")
    assert b"(Alpha SARL)" in pdf
    assert b"Formal notice to pay - 1,090.85 EUR" in pdf
    assert b"I1               2026-01-10" in pdf


def test_pdf_letter_of_a_name_outside_latin1(ledger_store: Store) -> None:
    """With a Unicode font of the system the name is printed as is (glyphs, not text, in the file);
    with core fonts the characters they lack are replaced."""
    letter = render(ledger_store, name="Łódź Zakład €")
    if reminders.unicode_fonts() is not None:
        pdf = reminders.pdf_letter(letter, compress=False)
        assert pdf.startswith(b"%PDF") and b"DejaVuSans" in pdf
    core = reminders.pdf_letter(letter, fonts="core", compress=False)
    assert core.startswith(b"%PDF") and b"(?\xf3d? Zak?ad EUR)" in core
    assert reminders.latin1("\u2018Caf\u00e9\u2019 \u2013 5 \u20ac") == "'Caf\u00e9' - 5 EUR"


class Inbox:
    """An aiosmtpd handler keeping what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        )
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpSettings("127.0.0.1", port, sender="ar@acme.test", tls="none")
    finally:
        controller.stop()


def test_send_through_smtp_on_loopback(ledger_store: Store, smtp_server) -> None:
    inbox, settings = smtp_server
    reminders.send_reminder(render(ledger_store, "first_reminder"), settings)
    ((mail_from, recipients, content),) = inbox.received
    assert (mail_from, recipients) == ("ar@acme.test", ["compta@alpha.test"])
    received = message_from_bytes(content, policy=policy.default)
    assert received["Subject"] == "Payment reminder - Alpha SARL - 1,000.00 EUR overdue"
    body = received.get_body(preferencelist=("plain",)).get_content()
    assert "I1" in body and "I2" in body and "Total" in body and "1,000.00 EUR" in body


def test_sending_to_a_closed_port_says_why() -> None:
    letter = reminders.Reminder(
        "C1",
        "Alpha",
        "a@b.test",
        None,
        None,
        "s",
        "t",
        "<p>t</p>",
        "first_reminder",
        "email",
        AS_OF,
        "EUR",
        (),
    )
    with pytest.raises(reminders.ReminderError, match=r"sending to a@b.test through 127.0.0.1:\d+ failed"):
        reminders.send_reminder(
            letter, SmtpSettings("127.0.0.1", free_port(), sender="ar@acme.test", tls="none")
        )


def test_the_daily_run_sends_the_automatic_email_and_logs_it(ledger_store: Store, smtp_server) -> None:
    """On 2026-02-14 Alpha SARL's I1 (due 02-09, 1,000.00 open until P1 on 02-15) is 5 days late: the
    automatic +5 e-mail of Standard B2B goes to the contact recorded, is logged as an e-mail with its
    text, and shows as done; a second run the same day sends nothing more."""
    inbox, settings = smtp_server
    as_of = date(2026, 2, 14)
    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test", contact_name="Mrs Dupont")
        result = scenarios.run(ledger_store, db, as_of, send=True, smtp=settings)
        sent = result.deliveries.filter(pl.col("customer_id") == "C1").row(0, named=True)
        assert (sent["status"], sent["channel"], sent["recipient"]) == ("sent", "smtp", "compta@alpha.test")
        ((_, recipients, content),) = inbox.received
        received = message_from_bytes(content, policy=policy.default)
        assert recipients == ["compta@alpha.test"]
        assert received["Subject"] == "Payment reminder - Alpha SARL - 1,000.00 EUR overdue"
        body = received.get_body(preferencelist=("plain",)).get_content()
        assert "Dear Mrs Dupont" in body and "I1" in body and "1,000.00 EUR" in body
        log = scenarios.step_log(db, customer_ids=["C1"]).row(0, named=True)
        assert (log["decision"], log["channel"], log["step"], log["recipient"]) == (
            "confirmed",
            "smtp",
            2,
            "compta@alpha.test",
        )
        assert "1,000.00 EUR" in log["content"]
        action = db.actions(customer_ids=["C1"]).row(0, named=True)
        assert (action["action_type"], action["document_ids"], action["user_name"]) == (
            "email",
            ["I1"],
            "scheduler",
        )
        assert action["comment"].startswith("Standard B2B, step 2 (+5 d e-mail): Payment reminder")
        assert result.proposals.filter(pl.col("customer_id") == "C1").get_column("done").to_list() == [True]
        assert "Sent: 1 of 1 automatic step(s)" in result.report()
        again = scenarios.run(ledger_store, db, as_of, send=True, smtp=settings, scope=EVERYTHING)
        assert again.deliveries.is_empty() and len(inbox.received) == 1
