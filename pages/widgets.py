"""Pieces every page shares: the page's start (title, confirmation of the last save, the no-data
message), the one selectable table of open items, the pair of export buttons under a table, and the
alerts summary."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import polars as pl
import streamlit as st

from analytics import export, labels, scenarios
from pages import _format, _paging
from pages._format import for_display, money_column
from pages._panel import collections_notice
from pages._session import Context, audited_export, context

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def page(title: str, *, notices: bool = False) -> Context:
    """Every page's start: the sidebar's choices, the page's title, with `notices` the confirmation
    of the last save of the side panel, and, when there is no data yet, what to do instead of the page
    (which then stops)."""
    ctx = context()
    st.title(title)
    if notices:
        collections_notice()
    if no_data_message(ctx):
        st.stop()
    return ctx


def no_data_message(ctx: Context) -> bool:
    """Say what to do when there is no data; True when the page should stop."""
    if ctx.manifest is None:
        st.info(
            "No data yet. Open the **Data** page to import your ERP exports or generate the demo company."
        )
        return True
    return False


def item_columns(currency: str) -> dict[str, object]:
    """The headers of the columns an item table shows (a page adds or overrides its own)."""
    return {
        "customer_name": st.column_config.TextColumn("Customer"),
        "customer_id": st.column_config.TextColumn("Customer id"),
        "document_id": st.column_config.TextColumn("Document"),
        "document_type": st.column_config.TextColumn("Type"),
        "document_date": st.column_config.DateColumn("Date"),
        "due_date": st.column_config.DateColumn("Due"),
        "days_past_due": st.column_config.NumberColumn("Days past due", format="%d"),
        "currency": st.column_config.TextColumn("Cur."),
        "open_amount": money_column("Open (doc. currency)"),
        "open_amount_functional": money_column(f"Open ({currency})"),
        "state": st.column_config.TextColumn("Qualification"),
        "promise_status": st.column_config.TextColumn("Promise"),
        "promised_date": st.column_config.DateColumn("Promised for"),
        "dispute_reason": st.column_config.TextColumn("Dispute"),
        "internal_owner": st.column_config.TextColumn("Owner"),
        "next_action_date": st.column_config.DateColumn("Next action"),
    }


def item_table(
    items: pl.DataFrame,
    key: str,
    currency: str,
    column_config: dict[str, object] | None = None,
    rows: int = _paging.PAGE_ROWS,
) -> list[str]:
    """The one selectable table of open items (a row per item, with its document_id): sent a page at
    a time, with the items' usual headers (`column_config` adds or overrides some), several rows
    selectable. Returns the document ids of the selected rows, to open the side panel on."""
    page = _paging.paged(items, key=f"{key}_page", rows=rows)
    picked = _format.dataframe(
        for_display(page.rows),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=f"{key}{page.key}",
        column_config=item_columns(currency) | (column_config or {}),
    )
    chosen = picked.selection.rows if picked and picked.selection else []
    return [page.rows.get_column("document_id")[row] for row in chosen]


def export_buttons(
    table: pl.DataFrame | Callable[[], pl.DataFrame],
    stem: str,
    what: str,
    key: str,
    sheet: str = "Aging",
    about: Sequence[tuple[str, str]] = (),
    names: Mapping[str, str] | None = None,
) -> None:
    """The pair of download buttons under a table: `table` (or what it returns, worked out only when
    downloaded) as `stem`.csv (the contract's column names) and `stem`.xlsx (sheet `sheet`: rows
    naming the as-of date, the scope, then `about` (filters, buckets ...), above the table with
    labelled headers (`names` first) and the currency in its money headers), each recorded when downloaded in the
    audit trail as '<what> <file> (<scope>)'. Keys `key`_csv and `key`_xlsx."""
    rows = table if callable(table) else lambda: table
    ctx = context()
    scope = ctx.scope.describe()
    heading = [
        ("Export", what[:1].upper() + what[1:]),
        ("As of", ctx.as_of.isoformat()),
        ("Scope", scope),
        *about,
        ("Amounts in", ctx.currency),
    ]
    csv_column, xlsx_column, _ = st.columns([1, 1, 6])
    csv_column.download_button(
        "Export CSV",
        audited_export(lambda: export.to_csv(rows()), f"{what} {stem}.csv ({scope})"),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
    )
    xlsx_column.download_button(
        "Export XLSX",
        audited_export(
            lambda: export.to_xlsx(labels.labelled(rows(), ctx.currency, names), sheet=sheet, about=heading),
            f"{what} {stem}.xlsx ({scope})",
        ),
        file_name=f"{stem}.xlsx",
        mime=XLSX_MIME,
        key=f"{key}_xlsx",
        on_click="ignore",
    )


def alerts_summary(alerts: pl.DataFrame) -> str:
    """'3 fell due unpaid · 1 promise broken ...' from the alerts frame."""
    counts = alerts.group_by("alert").len()
    parts = [
        f"{row['len']} {scenarios.ALERT_LABELS[row['alert']].lower()}"
        for row in counts.sort("alert").iter_rows(named=True)
    ]
    return " · ".join(parts)
