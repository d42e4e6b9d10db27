"""The scheduled reports that the daily run sends by e-mail, per `[reports]` of settings.toml: the CFO
pack (a PDF of the overview's figures, with the XLSX of the aging by entity attached) and each
collector's morning digest (their worklist's counts and first customers, as the Worklist page shows
them: analytics.worklist at the same date, for the collector).

The pack's figures are those of the Overview page at the same date and scope, from the same
functions: aging.headline (receivables, overdue), kpis.month_end_series (countback DSO, best possible
DSO, ADD, CEI at the latest month end) and kpis.latest_cost_of_delay, the largest overdue customers
(aging by customer) and the 13-week cash forecast. A report is sent once a day to each recipient
(recorded in DIR/daily/sent.jsonl by analytics.daily); a refused send is tried again at the next run.
Collectors who share an address get one digest, a part for each of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate

import polars as pl

from analytics import aging, contract, daily, export, forecast, kpis, reminders, settings, worklist
from analytics.collections import CollectionsDB
from analytics.daily import DailyResult
from analytics.scope import EVERYTHING, Scope
from analytics.store import Store

TREND_MONTHS = 13
TOP_CUSTOMERS = 10
DIGEST_CUSTOMERS = 10
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


def collector_digest(db: CollectionsDB, store: Store, as_of: date, collector: str) -> dict[str, object]:
    """A collector's worklist at `as_of` as the digest gives it: collector, as_of, currency, counts
    (worklist.Worklist.counts), customers (the worklist's first DIGEST_CUSTOMERS rows, in its order:
    section, customer_id, customer_name, items, total_open_amount, max_days_past_due, task_date, late)
    and more (how many rows are left out)."""
    manifest = store.manifest()
    currency = manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY
    day = worklist.worklist(db, store, worklist.WorklistQuery(as_of=as_of, collector=collector))
    rows = day.customers.select(
        "section",
        "customer_id",
        "customer_name",
        "items",
        "total_open_amount",
        "max_days_past_due",
        "task_date",
        "late",
    )
    return {
        "collector": collector,
        "as_of": as_of,
        "currency": currency,
        "counts": day.counts,
        "customers": rows.head(DIGEST_CUSTOMERS).to_dicts(),
        "more": max(rows.height - DIGEST_CUSTOMERS, 0),
    }


def digest_text(digest: Mapping[str, object]) -> str:
    """One collector's part of a digest, in plain text."""
    counts, currency = digest["counts"], digest["currency"]
    lines = [
        f"Worklist of {digest['collector']} at {digest['as_of']}",
        f"  To do today: {counts['to_do_today']:,} customer(s), of which {counts['late']:,} late",
        f"  Done today: {counts['done_today']:,}",
        f"  Overdue: {counts['overdue_items']:,} item(s), {money(counts['overdue_amount'])} {currency}",
        "",
    ]
    if not digest["customers"]:
        lines.append("Nothing to do at this date.")
        return "\n".join(lines)
    lines.append(f"First customers (Open in {currency}):")
    for row in digest["customers"]:
        late = ", late" if row["late"] else ""
        task = f", task {row['task_date']}" if row["task_date"] else ""
        lines.append(
            f"  {worklist.SECTION_LABELS[row['section']]}: {row['customer_name']} ({row['customer_id']}), "
            f"{row['items']} item(s), {money(row['total_open_amount'])}, "
            f"{row['max_days_past_due']} days past due{task}{late}"
        )
    if digest["more"]:
        lines.append(f"  ... and {digest['more']} more on the Worklist page.")
    return "\n".join(lines)


def digest_message(
    db: CollectionsDB, store: Store, as_of: date, sender: str, recipient: str, collectors: list[str]
) -> EmailMessage:
    """The morning digest of the collectors whose address is `recipient`."""
    digests = [collector_digest(db, store, as_of, name) for name in collectors]
    to_do = sum(d["counts"]["to_do_today"] for d in digests)
    late = sum(d["counts"]["late"] for d in digests)
    message = EmailMessage()
    message["Subject"] = (
        f"Worklist at {as_of} for {', '.join(collectors)}: {to_do} customer(s) to do today, {late} late"
    )
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message.set_content("\n\n".join(digest_text(d) for d in digests) + "\n")
    return message


def _send_once(
    store: Store,
    result: DailyResult,
    server: reminders.SmtpSettings | None,
    already: set[tuple[str, str, str]],
    report: str,
    recipient: str,
    as_of: date,
    build,
    done: str,
) -> bool:
    """Send one report to one recipient unless sent today; its row in result.reports. False when it
    could not be sent (tried again at the next run)."""
    row = {"report": report, "recipient": recipient, "status": "not_sent", "detail": ""}
    result.reports.append(row)
    if (report, recipient, as_of.isoformat()) in already:
        row["status"], row["detail"] = "already_sent", "sent earlier today"
        return True
    if server is None:
        row["detail"] = "no mail server in settings.toml ([mail] host)"
        return False
    try:
        reminders.send(build(server.sender), server)
    except reminders.ReminderError as error:
        row["detail"] = str(error)
        return False
    daily.record_sent_report(store.root, report, recipient, as_of)
    row["status"], row["detail"] = "sent", done
    return True


def send_due(
    store: Store,
    current: settings.Settings,
    as_of: date,
    result: DailyResult,
    environ: Mapping[str, str],
    db: CollectionsDB | None = None,
) -> None:
    """Send the reports due at `as_of` that were not sent yet; each outcome in `result.reports`. `db`:
    the run's collections database (None: the folder's is opened for the digests)."""
    pack, digest = current.reports.cfo_pack, current.reports.collector_digest
    pack_due = bool(pack.to) and settings.is_due(pack.when, as_of)
    digest_due = bool(digest.to) and settings.is_due(digest.when, as_of)
    if not pack_due and not digest_due:
        return
    if not store.exists():
        result.problems.append("reports: no data yet")
        return
    server = settings.smtp(current, environ)
    already = daily.sent_reports(store.root)
    if pack_due:
        refused = sum(
            not _send_once(
                store,
                result,
                server,
                already,
                "cfo_pack",
                recipient,
                as_of,
                lambda sender, to=recipient: cfo_pack_message(store, as_of, sender, to),
                "CFO pack (PDF) and aging by entity (XLSX)",
            )
            for recipient in pack.to
        )
        if refused:
            result.problems.append(f"reports: {refused} CFO pack(s) not sent, tried again at the next run")
    if digest_due:
        by_address: dict[str, list[str]] = {}
        for collector, address in sorted(digest.to.items()):
            by_address.setdefault(address, []).append(collector)

        def send_digests(opened: CollectionsDB) -> int:
            return sum(
                not _send_once(
                    store,
                    result,
                    server,
                    already,
                    "collector_digest",
                    address,
                    as_of,
                    lambda sender, to=address, names=names: digest_message(
                        opened, store, as_of, sender, to, names
                    ),
                    f"worklist of {', '.join(names)}",
                )
                for address, names in by_address.items()
            )

        if db is not None:
            refused = send_digests(db)
        else:
            with CollectionsDB.for_store(store) as own:
                refused = send_digests(own)
        if refused:
            result.problems.append(
                f"reports: {refused} collector digest(s) not sent, tried again at the next run"
            )
