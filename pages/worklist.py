"""The collector's day: broken promises, promises due, next actions, new overdue items, disputes
waiting, then the other overdue items by priority; grouped by customer so that one call covers several
invoices. Below them the pre-due call list: invoices not yet due that are likely to be paid late, by
amount at risk, from the payment predictions worked out in a background thread (pages._cache's
prediction job): until they are ready a caption says so and the page does not wait. Selecting a
customer in any section shows its items; selected items open the side panel.

Three fragments hold what a click changes: `worklist_counts` (the figures at the top),
`worklist_customers` (the customers by section) and `worklist_selected` (the selected customer's items
and the side panel). The section tables keep their keys: selecting a customer reruns
`worklist_selected` alone (the tables are not sent again), and the sections too only when the
selection moves to another section (that section's table gets a new key, its check cleared). Opening
and filling the panel rerun `worklist_selected` and the panel; a save reruns all three, from the live
worklist (analytics.worklist.LiveWorklist: the save's items are read again, not the day's). The
recovery steps and alerts stay in the page's run: a save does not change them.
"""

from __future__ import annotations

import functools

import polars as pl
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from analytics import worklist
from pages import _cache, _format, _paging, _panel, _runs, _session, widgets

ALL = "(all collectors in scope)"

ctx = widgets.page("Worklist")

db = _cache.collections_db(ctx)
collectors = _cache.dimension_values_of(ctx, "collector")
me = _session.user_name()
own = _session.own_collector()
default = own if own in collectors else ALL
collector = st.selectbox(
    "Collector",
    [ALL, *collectors],
    index=[ALL, *collectors].index(default),
    key=f"worklist_collector_{default}",
    help="The worklist of the collector you work as (sidebar), or any collector's for a team lead.",
)
request = worklist.WorklistQuery(
    as_of=ctx.as_of, collector=None if collector == ALL else collector, scope=ctx.scope, user=me
)
live = _cache.live_worklist(ctx)
job = _cache.prediction_job(ctx)
FRAGMENTS = ["worklist_counts", "worklist_customers", "worklist_selected"]


@st.fragment(key="worklist_counts")
def show_counts() -> None:
    """The day's figures, and the confirmation of the last save."""
    _runs.record("worklist_counts")
    _panel.collections_notice()
    day = live.worklist(db, request)
    counts = st.columns(5)
    counts[0].metric(
        "To do today",
        f"{day.counts['to_do_today']:,}",
        help="Customers with a task in the first five sections",
    )
    counts[1].metric(
        "Late", f"{day.counts['late']:,}", help="Broken promises, next actions and disputes past their date"
    )
    counts[2].metric(
        "Done today", f"{day.counts['done_today']:,}", help="Customers with an action logged today"
    )
    counts[3].metric("Overdue items", f"{day.counts['overdue_items']:,}")
    counts[4].metric(f"Overdue ({ctx.currency})", _format.compact_money(day.counts["overdue_amount"]))
    st.caption(
        "Priority score = open amount x age factor (1 + days past due / 30, at most 7) x risk factor "
        "(A 1.0, B 1.2, C 1.5, D 2.0, unknown 1.2), summed over the customer's items."
    )


show_counts()

proposals, alerts = _cache.scenario_day(ctx)
if request.collector:
    proposals = proposals.filter(pl.col("collector") == request.collector)
    alerts = alerts.filter(pl.col("collector") == request.collector)
if not alerts.is_empty():
    st.warning(f"Alerts: {widgets.alerts_summary(alerts)}.")
    with st.expander(f"Alerts ({alerts.height})"):
        _format.dataframe(
            _format.for_display(alerts),
            hide_index=True,
            width="stretch",
            key="worklist_alerts",
            column_config={"amount": _format.money_column(f"Amount ({ctx.currency})")},
        )
to_decide = proposals.filter(~pl.col("done"))
with st.expander(f"Recovery steps due ({to_decide.height} to decide)", expanded=not to_decide.is_empty()):
    if proposals.is_empty():
        st.caption("No recovery step is due.")
    else:
        _format.dataframe(
            _format.for_display(
                proposals.select(
                    "customer_name",
                    "scenario",
                    "step_label",
                    "due_date",
                    "items",
                    "amount",
                    "automatic",
                    "done",
                    "decision",
                )
            ),
            hide_index=True,
            width="stretch",
            key="worklist_steps",
            column_config={
                "customer_name": "Customer",
                "step_label": "Step",
                "due_date": st.column_config.DateColumn("Due"),
                "amount": _format.money_column(f"Amount ({ctx.currency})"),
                "automatic": st.column_config.CheckboxColumn("Automatic"),
                "done": st.column_config.CheckboxColumn("Decided today"),
            },
        )
        st.page_link("pages/scenarios.py", label="Confirm, edit or skip them", icon=":material/route:")


CUSTOMER_COLUMNS = {
    "customer_name": st.column_config.TextColumn("Customer"),
    "customer_id": st.column_config.TextColumn("Id"),
    "items": st.column_config.NumberColumn("Items", format="%d"),
    "total_open_amount": _format.money_column(f"Open ({ctx.currency})"),
    "max_days_past_due": st.column_config.NumberColumn("Oldest (days)", format="%d"),
    "priority_score": st.column_config.NumberColumn("Score", format="%,.0f"),
    "task_date": st.column_config.DateColumn("Task date"),
    "late": st.column_config.CheckboxColumn("Late"),
    "last_action_date": st.column_config.DateColumn("Last action"),
    "next_action_date": st.column_config.DateColumn("Next action"),
    "done_today": st.column_config.CheckboxColumn("Done today"),
}
ITEM_COLUMNS = {
    "document_id": st.column_config.TextColumn("Document"),
    "section": st.column_config.TextColumn("Why"),
    "due_date": st.column_config.DateColumn("Due"),
    "days_past_due": st.column_config.NumberColumn("Days past due", format="%d"),
    "open_amount_functional": _format.money_column(f"Open ({ctx.currency})"),
    "state": st.column_config.TextColumn("Qualification"),
    "promise_status": st.column_config.TextColumn("Promise"),
    "promised_date": st.column_config.DateColumn("Promised for"),
    "internal_owner": st.column_config.TextColumn("Owner"),
    "next_action_date": st.column_config.DateColumn("Next action"),
    "priority_score": st.column_config.NumberColumn("Score", format="%,.0f"),
}
LIKELY_LATE_CUSTOMER_COLUMNS = {
    "customer_name": st.column_config.TextColumn("Customer"),
    "customer_id": st.column_config.TextColumn("Id"),
    "items": st.column_config.NumberColumn("Items", format="%d"),
    "total_open_amount": _format.money_column(f"Open ({ctx.currency})"),
    "amount_at_risk": _format.money_column(
        f"At risk ({ctx.currency})", help="Open amount x the chance it is paid after its due date"
    ),
    "p_late": st.column_config.NumberColumn("Likely late", format="%.0f%%"),
    "due_date": st.column_config.DateColumn("First due"),
    "predicted_payment_date": st.column_config.DateColumn("Expected payment"),
    "last_action_date": st.column_config.DateColumn("Last action"),
}
PREDICTION_ITEM_COLUMNS = {
    "predicted_payment_date": st.column_config.DateColumn(
        "Expected payment", help="Predicted from the customer's payment history and this invoice."
    ),
    "p_late": st.column_config.NumberColumn(
        "Likely late", format="%.0f%%", help="How likely the invoice is paid after its due date."
    ),
}


def likely_late_list():
    """The pre-due call list (analytics.worklist.LikelyLate), or None while the predictions are
    worked out (or when they failed)."""
    if job.predictions is None:
        return None
    return live.likely_late(db, request, job.predictions)


def keep_panel_open() -> None:
    """A side panel opened on a customer whom another user's save has since taken off this worklist
    stays open on its items, so that what the user typed is saved rather than lost with the panel."""
    if st.session_state.get(_panel.PANEL_OPEN):
        _panel.panel_button(
            ctx, st.session_state.get(_panel.PANEL_ITEMS, []), key="worklist_panel", rerun=FRAGMENTS
        )


SELECTED = "worklist_customer"
# The section whose table has the selected customer's row checked.
SELECTED_SECTION = "worklist_selected_section"


GONE = (
    "{customer} is no longer on this worklist: its items were worked on or settled since the list was "
    "drawn. Choose another customer."
)


def nonce_key(section: str) -> str:
    return f"worklist_nonce_{section}"


def taken_key(table_key: str) -> str:
    return f"worklist_taken_{table_key}"


def take_selection(section: str, table_key: str, customer_ids: list[str]) -> list[str]:
    """Show the customer whose row is checked in `section`'s table (none checked: show none); the
    fragments this changes. The tables keep their keys, so that a selection reruns the selected
    customer's part alone and the section tables stay as drawn; only when the selection moves to
    another section does the section that had it get a new key (its check cleared) and its tables
    run again."""
    event = st.session_state.get(table_key) or {}
    rows = (event.get("selection") or {}).get("rows") or []
    st.session_state[taken_key(table_key)] = list(rows)
    previous = st.session_state.get(SELECTED_SECTION)
    changed = ["worklist_selected"]
    if rows:
        st.session_state[SELECTED] = customer_ids[rows[0]]
        st.session_state[SELECTED_SECTION] = section
        if previous and previous != section:
            st.session_state[nonce_key(previous)] = st.session_state.get(nonce_key(previous), 0) + 1
            changed.append("worklist_customers")
    elif previous == section:
        st.session_state.pop(SELECTED, None)
        st.session_state.pop(SELECTED_SECTION, None)
    return changed


def select_customer(section: str, table_key: str, customer_ids: list[str]) -> None:
    """A section table's selection callback: rerun only what the selection changed."""
    st.rerun(take_selection(section, table_key, customer_ids))


@st.fragment(key="worklist_customers")
def show_customers() -> None:
    """The customers by section."""
    _runs.record("worklist_customers")
    day = live.worklist(db, request)
    if day.customers.is_empty():
        st.info("Nothing to do for this collector at this date.")
    for section in worklist.SECTIONS:
        rows = day.customers.filter(pl.col("section") == section)
        if not rows.is_empty():
            section_table(section, worklist.SECTION_LABELS[section], rows, CUSTOMER_COLUMNS)
    show_likely_late()


def customers_title(label: str, rows: pl.DataFrame) -> str:
    return f"{label} ({rows.height} customer{'s' if rows.height != 1 else ''})"


def section_table(section: str, label: str, rows: pl.DataFrame, columns: dict[str, object]) -> None:
    """One section's customers, in an expander (a long list of plain overdue items folded), one
    selectable."""
    with st.expander(customers_title(label, rows), expanded=section != "overdue" or rows.height <= 15):
        page = _paging.paged(rows.select(*columns), key=f"worklist_{section}_page", rows=500)
        nonce = st.session_state.get(nonce_key(section), 0)
        table_key = f"worklist_{section}_{nonce}{page.key}"
        customer_ids = page.rows.get_column("customer_id").to_list()
        event = _format.dataframe(
            _format.for_display(page.rows),
            hide_index=True,
            width="stretch",
            on_select=functools.partial(select_customer, section, table_key, customer_ids),
            selection_mode="single-row",
            key=table_key,
            column_config=columns,
        )
        rows_checked = list(event.selection.rows) if event and event.selection else []
        if rows_checked and rows_checked != st.session_state.get(taken_key(table_key)):
            # A selection its callback did not take (one set in session state alone, as AppTest
            # does): the selected customer's part, later in this run, shows it.
            take_selection(section, table_key, customer_ids)


def show_likely_late() -> None:
    """The pre-due call list once the predictions are ready; a caption until then."""
    listed = likely_late_list()
    if listed is None:
        st.caption(
            "The invoices not yet due that are likely to be paid late are being worked out in the "
            "background: they show when this list is next drawn."
            if job.failed is None
            else "The invoices likely to be paid late could not be worked out: "
            f"{_format.markdown_text(job.failed)}"
        )
        return
    if listed.customers.is_empty():
        st.caption("No invoice not yet due is likely to be paid late.")
        return
    rows = listed.customers.with_columns(pl.col("p_late") * 100)
    section_table(worklist.LIKELY_LATE, worklist.LIKELY_LATE_LABEL, rows, LIKELY_LATE_CUSTOMER_COLUMNS)
    st.caption(
        f"Invoices not yet due whose chance of being paid after the due date is at least "
        f"{worklist.LIKELY_LATE_P:.0%}, ranked by amount at risk (open amount x that chance): a call "
        "before the due date."
    )


show_customers()


@st.fragment(key="worklist_selected")
def show_selected() -> None:
    """The selected customer's items and the side panel on them."""
    _runs.record("worklist_selected")
    selected_customer = st.session_state.get(SELECTED)
    if not selected_customer:
        keep_panel_open()
        return
    items = customer_items(selected_customer)
    if items.is_empty():
        # Another collector's promise or a payment took the customer off the list since it was drawn.
        st.session_state.pop(SELECTED, None)
        st.info(GONE.format(customer=_format.markdown_text(selected_customer)))
        keep_panel_open()
        return
    name = items.get_column("customer_name")[0]
    header = st.columns([4, 1])
    header[0].subheader(f"{_format.markdown_text(name)} ({_format.markdown_text(selected_customer)})")
    try:
        header[1].page_link(
            "pages/customer.py",
            label="Customer view",
            icon=":material/person:",
            query_params={"customer": selected_customer},
        )
    except StreamlitPageNotFoundError:
        # A fragment's run knows the app's pages from the session's last full run; a session driven by
        # AppTest (the load benchmark's users) has none in a fragment's run: the link waits for the next.
        pass
    listed = with_predictions(items.select(*ITEM_COLUMNS))
    chosen = (
        widgets.item_table(
            listed,
            f"worklist_items_{selected_customer}",
            ctx.currency,
            ITEM_COLUMNS | PREDICTION_ITEM_COLUMNS,
        )
        or listed.get_column("document_id").to_list()
    )
    st.caption("Select items, or none to work on all of this customer's items listed here.")
    _panel.panel_button(ctx, chosen, key="worklist_panel", rerun=FRAGMENTS)


def customer_items(customer_id: str) -> pl.DataFrame:
    """The customer's items on this worklist: those of the sections, then those of the pre-due call
    list (once the predictions are ready)."""
    items = live.worklist(db, request).items.filter(pl.col("customer_id") == customer_id)
    listed = likely_late_list()
    if listed is None:
        return items
    likely = listed.items.filter(pl.col("customer_id") == customer_id).select(
        pl.exclude("p_late", "predicted_payment_date", "predicted_days_late", "amount_at_risk")
    )
    return pl.concat([items, likely], how="diagonal_relaxed")


def with_predictions(items: pl.DataFrame) -> pl.DataFrame:
    """The items with their predicted payment date and p_late (in %), empty until the predictions are
    ready (the table keeps its columns, so that it is the same table once they are)."""
    made = job.predictions
    if made is None:
        return items.with_columns(
            predicted_payment_date=pl.lit(None, pl.Date), p_late=pl.lit(None, pl.Float64)
        )
    made = made.join(items.select("document_id"), on="document_id", how="semi").select(
        "document_id", "predicted_payment_date", p_late=pl.col("p_late") * 100
    )
    return items.join(made, on="document_id", how="left", maintain_order="left")


show_selected()
