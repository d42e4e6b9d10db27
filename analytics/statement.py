"""The customer statement of account: every item a customer has open at a date (invoices, debit and
credit notes, cash on account), each in its document's currency, with one total per currency, as a
PDF the collector sends from the customer page and a scenario step can attach to its e-mail.

A customer reads their own currency: the functional currency appears nowhere on a statement. Cash on
account (recorded in the functional currency) is shown in the currency of the customer's latest open
document, at that document's booked rate, when that currency is another one. The
totals come from analytics.reminders (`totals`, no penalties: a statement charges nothing) and are
written with its `amounts` filter ('950.00 EUR and 1,200.00 USD'); the PDF is drawn with fpdf2's core
fonts, as the reminders' letters without a Unicode font (characters outside Latin-1 replaced).

Sending one logs a note on the customer (its timeline says when and to whom): a note, not an e-mail
action, so that a statement does not count as a reminder and move the scenario's next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage

import polars as pl

from analytics import contract, labels, reminders, scenarios, submissions
from analytics.aging import aged_items
from analytics.collections import CollectionsDB
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store
from analytics.submissions import Action, Submission

ITEM_COLUMNS = (
    "document_id",
    "document_type",
    "document_date",
    "due_date",
    "days_past_due",
    "currency",
    "open_amount",
)


class StatementError(Exception):
    """A statement could not be made or sent; the message says why."""


@dataclass(frozen=True)
class Statement:
    """A customer's open items at `as_of` (ITEM_COLUMNS, by due date) and, by currency, their `open`
    total and the `overdue` part of it."""

    customer_id: str
    customer_name: str
    as_of: date
    items: pl.DataFrame
    totals: dict[str, dict[str, Decimal]]
    recipient: str | None = None
    contact_name: str | None = None
    postal_address: str | None = None
    sender: reminders.Sender = field(default_factory=reminders.Sender)

    @property
    def total(self) -> str:
        """The open total in every currency: '950.00 EUR', '600.00 GBP and 400.00 EUR'."""
        return reminders.amounts(self.totals, "open") if self.totals else "0.00"

    @property
    def file_name(self) -> str:
        return file_name(self.customer_id, self.as_of)


def file_name(customer_id: str, as_of: date) -> str:
    """The statement's PDF file name (attached, downloaded): statement-C1-2026-03-31.pdf."""
    return f"statement-{customer_id}-{as_of.isoformat()}.pdf".replace("/", "_")


def _by_currency(items: pl.DataFrame) -> dict[str, Decimal]:
    priced = reminders.with_penalties(items, date.min, reminders.Penalties())
    return {currency: figures["open"] for currency, figures in reminders.totals(priced).items()}


def in_customer_currency(items: pl.DataFrame) -> pl.DataFrame:
    """One customer's items with its cash on account in the currency of its latest open document
    (by document date, then id) at that document's booked rate; as they are when the customer has no
    other open document or that document is in the functional currency."""
    documents = items.filter(
        pl.col("document_type") != contract.UNAPPLIED_CASH, pl.col("open_amount_functional") != 0
    ).sort("document_date", "document_id")
    if documents.is_empty():
        return items
    latest = documents.row(-1, named=True)
    rate = Decimal(latest["open_amount"]) / Decimal(latest["open_amount_functional"])
    cash = pl.col("document_type") == contract.UNAPPLIED_CASH
    converted = [
        (Decimal(amount) * rate).quantize(reminders.CENT, ROUND_HALF_UP)
        for amount in items.get_column("open_amount_functional").to_list()
    ]
    return items.with_columns(
        pl.when(cash)
        .then(pl.Series(converted, dtype=items.schema["open_amount"]))
        .otherwise(pl.col("open_amount"))
        .alias("open_amount"),
        pl.when(cash).then(pl.lit(latest["currency"])).otherwise(pl.col("currency")).alias("currency"),
    )


def statement(
    db: CollectionsDB,
    store: Store,
    customer_id: str,
    as_of: date,
    *,
    scope: Scope = EVERYTHING,
    items: pl.DataFrame | None = None,
) -> Statement:
    """The statement of a customer in scope at `as_of` (`items`: aging.aged_items at as_of, when the
    caller has them), addressed to the customer's contact (analytics.scenarios.contact)."""
    if items is None:
        items = aged_items(store, as_of, scope)
    mine = items.filter(pl.col("customer_id") == customer_id)
    known = customers_in_scope(store.connect(), scope).filter(pl.col("customer_id") == customer_id)
    if known.is_empty():
        raise StatementError(f"no customer {customer_id!r} in scope ({scope.describe()})")
    name = known.get_column("customer_name")[0]
    mine = in_customer_currency(mine).select(ITEM_COLUMNS).sort("due_date", "document_id")
    open_totals = _by_currency(mine)
    overdue = _by_currency(mine.filter(pl.col("days_past_due") > 0))
    totals = {
        currency: {"open": total, "overdue": overdue.get(currency, reminders.ZERO)}
        for currency, total in open_totals.items()
    }
    contact = scenarios.contact(db, customer_id)
    return Statement(
        customer_id=customer_id,
        customer_name=str(name),
        as_of=as_of,
        items=mine,
        totals=totals,
        recipient=contact.get("email"),
        contact_name=contact.get("contact_name"),
        postal_address=contact.get("postal_address"),
        sender=scenarios.settings(db).sender,
    )


def statement_pdf(account: Statement, *, compress: bool = True) -> bytes:
    """The statement as an A4 PDF: the sender, the customer, each open item in its currency, then
    the totals by currency (open, and of which overdue) and how to pay."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_title(f"Statement of account - {account.customer_name} - {account.as_of}")
    pdf.set_author(account.sender.name)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_margins(18, 18, 18)
    clean = reminders.latin1

    def line(text: str, *, size: float = 10, style: str = "", height: float = 5.5) -> None:
        pdf.set_font("helvetica", style, size)
        pdf.multi_cell(0, height, clean(text), new_x="LMARGIN", new_y="NEXT")

    def row(cells: list[str], *, style: str = "") -> None:
        pdf.set_font("helvetica", style, 9)
        for text, width in zip(cells, WIDTHS, strict=True):
            pdf.cell(width, 5.5, clean(text), align="L" if width >= 30 else "R")
        pdf.ln(5.5)

    sender = account.sender
    line(sender.name, style="B", size=11)
    for part in (sender.address, sender.email):
        if part:
            line(part, size=9, height=4.5)
    pdf.ln(6)
    for part in (
        account.customer_name,
        f"Attn. {account.contact_name}" if account.contact_name else "",
        account.postal_address or "",
    ):
        if part:
            line(part)
    pdf.ln(4)
    line(f"Statement of account at {account.as_of.isoformat()}", size=14, style="B", height=8)
    line(f"Customer {account.customer_id}; amounts in the currency of each document", size=9)
    pdf.ln(3)
    row(["Document", "Type", "Date", "Due", "Days late", "Cur.", "Open amount"], style="B")
    for item in account.items.iter_rows(named=True):
        row(
            [
                str(item["document_id"])[:24],
                labels.value(item["document_type"]),
                item["document_date"].isoformat(),
                item["due_date"].isoformat(),
                str(max(item["days_past_due"], 0)),
                item["currency"],
                reminders.format_money(item["open_amount"]),
            ]
        )
    if account.items.is_empty():
        line("Nothing is open on your account at this date.")
    pdf.ln(3)
    for currency, figures in account.totals.items():
        line(f"Total open {reminders.format_money(figures['open'])} {currency}", style="B")
        line(f"of which overdue {reminders.format_money(figures['overdue'])} {currency}", size=9)
    if sender.payment_details:
        pdf.ln(3)
        line(sender.payment_details, size=9)
    return bytes(pdf.output())


# Document, type, date, due, days late, currency, open amount (mm; 174 in all).
WIDTHS = [38, 32, 22, 22, 18, 12, 30]


def statement_message(
    account: Statement, *, sender_address: str, recipient: str | None = None
) -> EmailMessage:
    """The statement as an e-mail to the customer's contact, the PDF attached."""
    to = (recipient or account.recipient or "").strip()
    if not to:
        raise StatementError(
            f"no e-mail address for {account.customer_name} ({account.customer_id}): "
            "add one on the Recovery scenarios page"
        )
    message = EmailMessage()
    message["Subject"] = f"Statement of account - {account.customer_name} - {account.as_of.isoformat()}"
    message["From"] = sender_address
    message["To"] = to
    if account.sender.email and account.sender.email != sender_address:
        message["Reply-To"] = account.sender.email
    greeting = f"Dear {account.contact_name}," if account.contact_name else "Dear customer,"
    message.set_content(
        f"{greeting}\n\nPlease find attached your statement of account at {account.as_of.isoformat()}: "
        f"{account.items.height} open item(s), {account.total} in all.\n\n{account.sender.name}\n"
    )
    attach(message, account)
    return message


def attach(message: EmailMessage, account: Statement) -> None:
    """Attach the statement's PDF to an e-mail (a reminder's, when its scenario step says so)."""
    message.add_attachment(
        statement_pdf(account), maintype="application", subtype="pdf", filename=account.file_name
    )


def send_statement(
    db: CollectionsDB,
    store: Store,
    customer_id: str,
    as_of: date,
    server: reminders.SmtpSettings | None,
    *,
    user: str,
    scope: Scope = EVERYTHING,
    items: pl.DataFrame | None = None,
    recipient: str | None = None,
) -> str:
    """E-mail the customer's statement at `as_of` to its contact and note it on the customer; what
    was done, in a sentence. StatementError or reminders.ReminderError say why it was not sent."""
    if server is None:
        raise StatementError("no mail server: set [mail] host on the Settings page")
    account = statement(db, store, customer_id, as_of, scope=scope, items=items)
    message = statement_message(account, sender_address=server.sender, recipient=recipient)
    reminders.send(message, server)
    done = f"Statement of account at {as_of.isoformat()} ({account.total}) sent by e-mail to {message['To']}"
    submissions.submit(
        db,
        Submission(action=Action(customer_id=customer_id, action_type="note", outcome="other", comment=done)),
        store=store,
        as_of=as_of,
        scope=scope,
        user=user,
    )
    return done + "."
