"""Reminders: the text of a reminder from a Jinja2 template, late-payment penalties, and its delivery as
an e-mail (SMTP, or an .eml file to download) or a printable PDF letter.

Templates live in templates/ beside the package: `NAME.txt.j2` renders a reminder's plain text, whose
first line is `Subject: ...`; `email.html.j2` renders the HTML part of an e-mail from the same data
and `edited.html.j2` the HTML part of a text the collector edited (both autoescaped). A template
gets: customer (customer_id, customer_name, contact_name, email, postal_address), items (one dict per
item: document_id, document_date, due_date, days_late, currency, open_amount, open_amount_functional,
interest, fee), totals (one dict per currency, by currency: currency, open, interest, fees, due),
charged (whether any interest or fee is charged), penalties, sender, step (scenario, label,
action_type, offset_days) and as_of. The filter `amounts` writes one figure of the totals in every currency: `totals|amounts("due")`
gives '600.00 GBP and 400.00 EUR'. In the plain text, lines that start with two spaces are the table
of items: the PDF letter prints them in a monospaced font.

A customer reads their own currency: every amount of a reminder is in the document's currency, with
one total per currency; the functional currency (the credit team's unit) never appears.

Penalties (when enabled): interest = open amount (document currency) x annual rate / 100 x days late /
365 per overdue item, plus a fixed fee per overdue invoice or debit note, set in the functional
currency and charged in the document's currency at the document's booked rate (fee x open_amount /
open_amount_functional); both rounded half up to the cent.

Sending needs an SMTP server (`SmtpSettings`): the data folder's settings file describes it
(`analytics.settings.smtp`, section [mail]; the password from AR_SMTP_PASSWORD).
This module never imports Streamlit and knows nothing of the collections database.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import cache
from pathlib import Path
from typing import Literal

import jinja2
import polars as pl

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DAYS_IN_YEAR = 365
# Documents a fixed recovery fee is charged on (not credit notes, not cash on account).
FEE_DOCUMENT_TYPES = ("invoice", "debit_note")
SMTP_TIMEOUT_SECONDS = 30
TLS_MODES = ("ssl", "starttls", "none")
# Unicode fonts for the PDF letter, regular, bold and monospaced; core fonts (Latin-1 only) otherwise.
FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "mono": "DejaVuSansMono.ttf"}
# Characters outside Latin-1 that core fonts cannot print, and what prints instead.
LATIN1_SUBSTITUTES = {
    "\u20ac": "EUR",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
}
TABLE_INDENT = "  "


class ReminderError(Exception):
    """A reminder could not be rendered or sent; the message says why."""


@dataclass(frozen=True)
class Penalties:
    """Late-payment penalties shown in reminders when enabled: interest at `annual_rate` percent a year
    on the days late, and `fixed_fee` per overdue invoice (set in the functional currency, charged in the
    document's at its booked rate)."""

    enabled: bool = False
    annual_rate: Decimal = Decimal("10.00")
    fixed_fee: Decimal = Decimal("40.00")


@dataclass(frozen=True)
class Sender:
    """Who reminders come from: the name and address printed on letters, the e-mail address replies go
    to, and how to pay (e.g. an IBAN)."""

    name: str = "Accounts receivable"
    address: str = ""
    email: str = ""
    payment_details: str = ""


@dataclass(frozen=True)
class Reminder:
    """A reminder ready to deliver. `text` is what the collector sees and may edit; `html` the HTML part
    of an e-mail (rendered from the template, or from the edited text). `totals` holds, by currency,
    its open, interest, fees and due figures."""

    customer_id: str
    customer_name: str
    recipient: str | None
    contact_name: str | None
    postal_address: str | None
    subject: str
    text: str
    html: str
    template: str
    action_type: str
    as_of: date
    document_ids: tuple[str, ...]
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    sender: Sender = field(default_factory=Sender)
    edited: bool = False

    def with_text(self, subject: str, text: str, recipient: str | None = None) -> Reminder:
        """The reminder as the collector edited it (the HTML part follows the edited text)."""
        subject, text = subject.strip(), text.strip("\n")
        recipient = (recipient if recipient is not None else self.recipient) or None
        if subject == self.subject and text == self.text:
            return replace(self, recipient=recipient)
        html = environment().get_template("edited.html.j2").render(subject=subject, parts=split_table(text))
        return replace(self, subject=subject, text=text, html=html, recipient=recipient, edited=True)


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: HTML templates autoescaped, undefined names an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = format_money
    env.filters["amounts"] = amounts
    return env


def template_names() -> list[str]:
    """The reminder templates a scenario step can use: templates/NAME.txt.j2 (partials start with _)."""
    return sorted(
        path.name.removesuffix(".txt.j2")
        for path in TEMPLATES.glob("*.txt.j2")
        if not path.name.startswith("_")
    )


def format_money(value: Decimal | float | int | None) -> str:
    """1234.5 -> '1,234.50'."""
    if value is None:
        return "-"
    return f"{Decimal(value).quantize(CENT, ROUND_HALF_UP):,.2f}"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def with_penalties(items: pl.DataFrame, as_of: date, penalties: Penalties) -> pl.DataFrame:
    """The items (document_id, document_type, due_date, currency, open_amount, open_amount_functional,
    ...) with days_late (0 when not past due), interest and fee, both in the document's currency and
    zero when penalties are disabled."""
    rows = []
    rate = Decimal(penalties.annual_rate) / 100
    for row in items.iter_rows(named=True):
        days_late = max((as_of - row["due_date"]).days, 0)
        amount = Decimal(row["open_amount"])
        interest = fee = ZERO
        if penalties.enabled and days_late > 0 and amount > 0:
            interest = _cents(amount * rate * days_late / DAYS_IN_YEAR)
            if row.get("document_type", "invoice") in FEE_DOCUMENT_TYPES:
                fee = _cents(Decimal(penalties.fixed_fee) * _booked_rate(row))
        rows.append({"days_late": days_late, "interest": interest, "fee": fee})
    extra = pl.DataFrame(
        rows, schema={"days_late": pl.Int64(), "interest": pl.Decimal(18, 2), "fee": pl.Decimal(18, 2)}
    )
    return pl.concat([items.drop("days_late", "interest", "fee", strict=False), extra], how="horizontal")


def _booked_rate(row: Mapping[str, object]) -> Decimal:
    """Document-currency units per functional unit of an item, as booked (1 without the functional
    amount, or in the functional currency)."""
    functional = row.get("open_amount_functional")
    if not functional:
        return Decimal(1)
    return Decimal(row["open_amount"]) / Decimal(functional)


def totals(items: pl.DataFrame) -> dict[str, dict[str, Decimal]]:
    """One total per currency of items from with_penalties, by currency: open, interest and fees in
    each document currency, and due (their sum in that currency)."""
    sums: dict[str, dict[str, Decimal]] = {}

    def add(currency: str, part: str, value: Decimal) -> None:
        figures = sums.setdefault(currency, {"open": ZERO, "interest": ZERO, "fees": ZERO, "due": ZERO})
        figures[part] += value
        figures["due"] += value

    for row in items.iter_rows(named=True):
        add(row["currency"], "open", Decimal(row["open_amount"]))
        if row["interest"]:
            add(row["currency"], "interest", Decimal(row["interest"]))
        if row["fee"]:
            add(row["currency"], "fees", Decimal(row["fee"]))
    return {currency: {k: _cents(v) for k, v in sums[currency].items()} for currency in sorted(sums)}


def amounts(totals: Mapping[str, Mapping[str, Decimal]] | list[Mapping[str, object]], part: str) -> str:
    """One figure of a reminder's totals in every currency it has: '600.00 GBP and 400.00 EUR' (a
    currency whose figure is zero is left out, unless every one is)."""
    rows = (
        [{"currency": currency, **figures} for currency, figures in totals.items()]
        if isinstance(totals, Mapping)
        else list(totals)
    )
    shown = [row for row in rows if row[part]] or rows[:1]
    return " and ".join(f"{format_money(row[part])} {row['currency']}" for row in shown)


def render(
    template: str,
    *,
    customer: Mapping[str, object],
    items: pl.DataFrame,
    as_of: date,
    currency: str,
    step: Mapping[str, object],
    penalties: Penalties = Penalties(),
    sender: Sender = Sender(),
) -> Reminder:
    """The reminder of `template` for a customer (customer_id, customer_name and optionally contact_name,
    email, postal_address) about `items` (document_id, document_type, document_date, due_date,
    currency, open_amount, open_amount_functional) at `as_of`. `currency` is the functional currency,
    in which the fixed fee is set. `step` describes the scenario step (scenario, label, action_type, offset_days)."""
    if template not in template_names():
        raise ReminderError(
            f"unknown reminder template {template!r}; choose one of: {', '.join(template_names())}"
        )
    priced = with_penalties(items.sort("due_date", "document_id"), as_of, penalties)
    summed = totals(priced)
    context = {
        "customer": {
            "customer_id": customer["customer_id"],
            "customer_name": customer["customer_name"],
            "contact_name": customer.get("contact_name") or None,
            "email": customer.get("email") or None,
            "postal_address": customer.get("postal_address") or None,
        },
        "items": priced.to_dicts(),
        "totals": [{"currency": code, **figures} for code, figures in summed.items()],
        "charged": any(figures["interest"] or figures["fees"] for figures in summed.values()),
        "penalties": penalties,
        "sender": sender,
        "step": dict(step),
        "as_of": as_of,
    }
    env = environment()
    try:
        rendered = env.get_template(f"{template}.txt.j2").render(**context)
        subject, text = _split_subject(rendered, template)
        html = env.get_template("email.html.j2").render(subject=subject, parts=split_table(text), **context)
    except jinja2.TemplateError as error:
        raise ReminderError(f"template {template}: {error}") from None
    return Reminder(
        customer_id=str(customer["customer_id"]),
        customer_name=str(customer["customer_name"]),
        recipient=context["customer"]["email"],
        contact_name=context["customer"]["contact_name"],
        postal_address=context["customer"]["postal_address"],
        subject=subject,
        text=text,
        html=html,
        template=template,
        action_type=str(step.get("action_type", "")),
        as_of=as_of,
        document_ids=tuple(priced.get_column("document_id").to_list()),
        totals=summed,
        sender=sender,
    )


def _split_subject(rendered: str, template: str) -> tuple[str, str]:
    first, _, rest = rendered.lstrip("\n").partition("\n")
    if not first.startswith("Subject:"):
        raise ReminderError(f"template {template}: its first line must be 'Subject: ...'")
    return first.removeprefix("Subject:").strip(), rest.strip("\n")


def split_table(text: str) -> tuple[str, str, str]:
    """A reminder's text cut around its table of items (the lines starting with two spaces): the text
    before, the table, the text after (the HTML template shows the table as an HTML table)."""
    lines = text.split("\n")
    table = [i for i, line in enumerate(lines) if line.startswith(TABLE_INDENT)]
    if not table:
        return text, "", ""
    first, last = table[0], table[-1]
    return (
        "\n".join(lines[:first]).strip("\n"),
        "\n".join(lines[first : last + 1]),
        "\n".join(lines[last + 1 :]).strip("\n"),
    )


# --- e-mail ------------------------------------------------------------------------------------------


def email_message(reminder: Reminder, *, sender_address: str, recipient: str | None = None) -> EmailMessage:
    """The reminder as an e-mail: plain text with an HTML alternative, replies to the sender's address."""
    to = (recipient or reminder.recipient or "").strip()
    if not to:
        raise ReminderError(f"no e-mail address for {reminder.customer_name} ({reminder.customer_id})")
    message = EmailMessage()
    message["Subject"] = reminder.subject
    message["From"] = sender_address
    message["To"] = to
    if reminder.sender.email and reminder.sender.email != sender_address:
        message["Reply-To"] = reminder.sender.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender_address.partition("@")[2] or None)
    message.set_content(reminder.text + "\n")
    message.add_alternative(reminder.html, subtype="html")
    return message


def eml_bytes(
    reminder: Reminder, *, sender_address: str | None = None, recipient: str | None = None
) -> bytes:
    """The reminder as an .eml file (to open in a mail client and send from there)."""
    address = sender_address or reminder.sender.email or "accounts.receivable@localhost"
    return bytes(email_message(reminder, sender_address=address, recipient=recipient))


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP server to send reminders through. `tls`: ssl (implicit TLS, port 465), starttls, none."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = ""
    tls: str = "starttls"

    def describe(self) -> str:
        who = f" as {self.user}" if self.user else ""
        return f"{self.host}:{self.port} ({self.tls}){who}, from {self.sender}"


def send(message: EmailMessage, settings: SmtpSettings) -> None:
    """Send an e-mail through the SMTP server; ReminderError says why it failed."""
    context = ssl.create_default_context()
    try:
        if settings.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if settings.tls == "starttls":
                client.starttls(context=context)
            if settings.user and settings.password:
                client.login(settings.user, settings.password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise ReminderError(
            f"sending to {message['To']} through {settings.host}:{settings.port} failed: {_smtp_error(error)}"
        ) from None


def _smtp_error(error: Exception) -> str:
    """What the server answered ('554 Transaction failed'), rather than a tuple of code and bytes."""
    if isinstance(error, smtplib.SMTPResponseException):
        text = (
            error.smtp_error.decode("utf-8", "replace")
            if isinstance(error.smtp_error, bytes)
            else error.smtp_error
        )
        return f"the server answered {error.smtp_code} {text}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{who} refused: {code} {answer.decode('utf-8', 'replace') if isinstance(answer, bytes) else answer}"
            for who, (code, answer) in error.recipients.items()
        )
    return str(error)


def send_reminder(reminder: Reminder, settings: SmtpSettings, recipient: str | None = None) -> EmailMessage:
    """Send the reminder by e-mail from the configured sender; returns the message sent."""
    message = email_message(reminder, sender_address=settings.sender, recipient=recipient)
    send(message, settings)
    return message


# --- the PDF letter ------------------------------------------------------------------------------------


def unicode_fonts() -> dict[str, Path] | None:
    """The Unicode TTF fonts found on this system (regular, bold, monospaced), or None."""
    for folder in FONT_FOLDERS:
        paths = {style: folder / name for style, name in FONT_FILES.items()}
        if all(path.is_file() for path in paths.values()):
            return paths
    return None


def latin1(text: str) -> str:
    """Text core PDF fonts can print: common typographic characters replaced, the rest by '?'."""
    for character, substitute in LATIN1_SUBSTITUTES.items():
        text = text.replace(character, substitute)
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf_letter(
    reminder: Reminder, *, fonts: Literal["auto", "core"] = "auto", compress: bool = True
) -> bytes:
    """The reminder as a printable A4 letter: the sender, the recipient's name and address, the date and
    subject, then the text (its table of items in a monospaced font). `fonts`: a Unicode font of the
    system when there is one ("auto"), else, or with "core", Helvetica and Courier with the characters
    they lack replaced."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_title(reminder.subject)
    pdf.set_author(reminder.sender.name)
    pdf.set_auto_page_break(auto=True, margin=20)
    found = unicode_fonts() if fonts == "auto" else None
    if found is not None:
        pdf.add_font("letter", "", str(found[""]))
        pdf.add_font("letter", "B", str(found["B"]))
        pdf.add_font("letter-mono", "", str(found["mono"]))
        family, mono = "letter", "letter-mono"

        def clean(text: str) -> str:
            return text
    else:
        family, mono, clean = "helvetica", "courier", latin1
    pdf.add_page()
    pdf.set_margins(20, 20, 20)
    pdf.set_xy(20, 20)

    def line(text: str, *, size: float = 10, style: str = "", font: str = family, height: float = 5) -> None:
        pdf.set_font(font, style, size)
        pdf.multi_cell(0, height, clean(text), new_x="LMARGIN", new_y="NEXT")

    sender = reminder.sender
    line(sender.name, style="B", size=11)
    for part in (sender.address, sender.email):
        if part:
            line(part, size=9, height=4.5)
    pdf.ln(8)
    pdf.set_x(115)
    recipient = "\n".join(
        p
        for p in (
            reminder.customer_name,
            f"Attn. {reminder.contact_name}" if reminder.contact_name else "",
            reminder.postal_address or "",
        )
        if p
    )
    pdf.set_font(family, "", 10)
    pdf.multi_cell(75, 5, clean(recipient), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    line(f"{reminder.as_of.isoformat()}", size=10)
    line(f"Customer {reminder.customer_id}", size=9)
    pdf.ln(3)
    line(reminder.subject, style="B", size=11, height=6)
    pdf.ln(2)
    for paragraph in _blocks(reminder.text):
        kind, text = paragraph
        if kind == "table":
            line(text, font=mono, size=8.5, height=4.2)
        elif text:
            line(text)
        else:
            pdf.ln(3)
    if sender.payment_details and sender.payment_details not in reminder.text:
        pdf.ln(3)
        line(sender.payment_details, size=9)
    return bytes(pdf.output())


def _blocks(text: str) -> list[tuple[str, str]]:
    """The text as runs of table lines and paragraphs (blank lines separate paragraphs)."""
    blocks: list[tuple[str, str]] = []
    for raw in text.split("\n"):
        kind = "table" if raw.startswith(TABLE_INDENT) else "text"
        if not raw.strip():
            blocks.append(("text", ""))
        elif blocks and blocks[-1][0] == kind and blocks[-1][1]:
            blocks[-1] = (kind, blocks[-1][1] + "\n" + raw)
        else:
            blocks.append((kind, raw))
    return blocks
