"""The scheduled reports that the daily run sends by e-mail, per `[reports]` of settings.toml: the CFO
pack (a PDF of the overview's figures, with the XLSX of the aging by entity attached).

The pack's figures are those of the Overview page at the same date and scope, from the same
functions: aging.headline (receivables, overdue), kpis.month_end_series (countback DSO, best possible
DSO, ADD, CEI at the latest month end) and kpis.latest_cost_of_delay, the largest overdue customers
(aging by customer) and the 13-week cash forecast. A report is sent once a day to each recipient
(recorded in DIR/daily/sent.jsonl by analytics.daily); a refused send is tried again at the next run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate

import polars as pl

from analytics import aging, contract, daily, export, forecast, kpis, reminders, settings
from analytics.daily import DailyResult
from analytics.scope import EVERYTHING, Scope
from analytics.store import Store

TREND_MONTHS = 13
TOP_CUSTOMERS = 10
XLSX_MIME = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def money(value: Decimal | float | None) -> str:
    return reminders.format_money(value)


def days(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} d"


def cfo_figures(store: Store, as_of: date, scope: Scope = EVERYTHING) -> dict[str, object]:
    """The overview's figures at `as_of`: total, overdue, overdue_share, dso_countback, bpdso, add,
    cei, cost_of_delay, period (the month end of the DSO figures), top (the largest overdue
    customers: customer_id, customer_name, overdue, total), forecast (week, week_start, expected),
    overdue_backlog, currency."""
    manifest = store.manifest()
    currency = manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY
    items = aging.aged_items(store, as_of, scope)
    headline = aging.headline(items, aging.AgingQuery(as_of))
    start = kpis.month_end(as_of, -(TREND_MONTHS - 1)).replace(day=1)
    series = kpis.month_end_series(store, start, as_of, None, scope, as_of=as_of).sort("period")
    latest = series.row(-1, named=True) if series.height else {}
    cost = kpis.latest_cost_of_delay(series) if series.height else pl.DataFrame()
    customers = aging.aging(items, aging.AgingQuery(as_of, by=aging.CUSTOMER))
    top = (
        customers.rows.filter(pl.col("overdue") > 0)
        .sort("overdue", descending=True)
        .head(TOP_CUSTOMERS)
        .select("customer_id", "customer_name", "overdue", "total")
    )
    cash = forecast.cash_forecast(store, as_of, scope, items=items)
    return {
        "as_of": as_of,
        "currency": currency,
        "total": headline["total"],
        "overdue": headline["overdue"],
        "overdue_share": headline["overdue_share"],
        "period": latest.get("period"),
        "dso_countback": latest.get("dso_countback"),
        "bpdso": latest.get("bpdso"),
        "add": latest.get("add"),
        "cei": latest.get("cei"),
        "cost_of_delay": cost.get_column("cost_of_delay")[0] if cost.height else None,
        "top": top.to_dicts(),
        "forecast": cash.weeks.select("week", "week_start", "expected").to_dicts(),
        "overdue_backlog": cash.overdue_backlog,
    }


def cfo_pack_pdf(figures: Mapping[str, object], *, compress: bool = True) -> bytes:
    """The CFO pack as an A4 PDF: the headline figures, the largest overdue customers, the 13-week
    forecast (core fonts: amounts and names in Latin-1, others replaced)."""
    from fpdf import FPDF

    currency = figures["currency"]
    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_title(f"Receivables at {figures['as_of']}")
    pdf.add_page()
    pdf.set_margins(18, 18, 18)

    def line(text: str, *, size: float = 10, style: str = "", height: float = 6) -> None:
        pdf.set_font("helvetica", style, size)
        pdf.multi_cell(0, height, reminders.latin1(text), new_x="LMARGIN", new_y="NEXT")

    def row(cells: list[str], widths: list[float], *, style: str = "") -> None:
        pdf.set_font("helvetica", style, 9)
        for text, width in zip(cells, widths, strict=True):
            pdf.cell(width, 5.5, reminders.latin1(text), align="L" if width > 40 else "R")
        pdf.ln(5.5)

    line(f"Receivables at {figures['as_of']}", size=15, style="B", height=9)
    line(
        f"Amounts in {currency}; DSO, CEI and the cost of delay at the month end {figures['period']}", size=9
    )
    pdf.ln(3)
    headline = [
        ("Receivables", f"{money(figures['total'])} {currency}"),
        ("Overdue", f"{money(figures['overdue'])} {currency} ({figures['overdue_share']}%)"),
        ("DSO (countback)", days(figures["dso_countback"])),
        ("Best possible DSO", days(figures["bpdso"])),
        ("Days of delay (ADD)", days(figures["add"])),
        ("CEI", "-" if figures["cei"] is None else f"{figures['cei']:.1f}%"),
        ("Cost of delay", f"{money(figures['cost_of_delay'])} {currency}"),
    ]
    for label, text in headline:
        row([label, text], [60, 60])
    pdf.ln(4)
    line("Largest overdue customers", size=12, style="B", height=8)
    widths = [80, 45, 45]
    row(["Customer", f"Overdue ({currency})", f"Total ({currency})"], widths, style="B")
    for customer in figures["top"]:
        row(
            [
                f"{customer['customer_name']} ({customer['customer_id']})"[:48],
                money(customer["overdue"]),
                money(customer["total"]),
            ],
            widths,
        )
    pdf.ln(4)
    line("Cash forecast, 13 weeks", size=12, style="B", height=8)
    line(f"Overdue backlog (not in the weeks): {money(figures['overdue_backlog'])} {currency}", size=9)
    row(["Week starting", f"Expected ({currency})"], [60, 45], style="B")
    for week in figures["forecast"]:
        row([f"{week['week']}: {week['week_start']}", money(week["expected"])], [60, 45])
    return bytes(pdf.output())


def aging_by_entity_xlsx(store: Store, as_of: date, scope: Scope = EVERYTHING) -> bytes:
    items = aging.aged_items(store, as_of, scope)
    return export.render(aging.report(items, as_of, "entity", scope=scope), "xlsx")


def cfo_pack_message(store: Store, as_of: date, sender: str, recipient: str) -> EmailMessage:
    figures = cfo_figures(store, as_of)
    currency = figures["currency"]
    message = EmailMessage()
    message["Subject"] = (
        f"Receivables at {as_of}: {money(figures['total'])} {currency}, {figures['overdue_share']}% overdue"
    )
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message.set_content(
        f"Receivables at {as_of}: {money(figures['total'])} {currency}, of which {money(figures['overdue'])} "
        f"overdue ({figures['overdue_share']}%).\n"
        f"DSO (countback) {days(figures['dso_countback'])}, of which {days(figures['add'])} of delay, "
        f"at {figures['period']}.\n\nThe pack is attached (PDF), with the aging by entity (XLSX).\n"
    )
    message.add_attachment(
        cfo_pack_pdf(figures), maintype="application", subtype="pdf", filename=f"receivables-{as_of}.pdf"
    )
    message.add_attachment(
        aging_by_entity_xlsx(store, as_of),
        maintype=XLSX_MIME[0],
        subtype=XLSX_MIME[1],
        filename=f"aging-by-entity-{as_of}.xlsx",
    )
    return message


def send_due(
    store: Store, current: settings.Settings, as_of: date, result: DailyResult, environ: Mapping[str, str]
) -> None:
    """Send the reports due at `as_of` that were not sent yet; each outcome in `result.reports`."""
    pack = current.reports.cfo_pack
    if not pack.to or not settings.is_due(pack.when, as_of):
        return
    if not store.exists():
        result.problems.append("reports: no data yet")
        return
    server = settings.smtp(current, environ)
    already = daily.sent_reports(store.root)
    refused = 0
    for recipient in pack.to:
        row = {"report": "cfo_pack", "recipient": recipient, "status": "not_sent", "detail": ""}
        result.reports.append(row)
        if ("cfo_pack", recipient, as_of.isoformat()) in already:
            row["status"], row["detail"] = "already_sent", "sent earlier today"
            continue
        if server is None:
            row["detail"] = "no mail server in settings.toml ([mail] host)"
            refused += 1
            continue
        try:
            reminders.send(cfo_pack_message(store, as_of, server.sender, recipient), server)
        except reminders.ReminderError as error:
            row["detail"] = str(error)
            refused += 1
            continue
        daily.record_sent_report(store.root, "cfo_pack", recipient, as_of)
        row["status"], row["detail"] = "sent", "CFO pack (PDF) and aging by entity (XLSX)"
    if refused:
        result.problems.append(f"reports: {refused} CFO pack(s) not sent, tried again at the next run")
