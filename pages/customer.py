"""The customer's view: identity and dimensions, credit limit and its use, payer rating and payment
behaviour, totals by bucket, open items with their states and each invoice's expected payment date
(with how good those predictions have been), and the timeline of actions and events; "Send
statement" e-mails the statement of account (analytics.statement) to the customer's contact;
"Download statement (PDF)" gives its PDF.

Fragments hold what a click changes: `customer` (everything from the customer picker down: switching
customers reruns it alone), within it `customer_items` (the open items and the side panel: selecting
items reruns it alone) and `customer_timeline`; a save reruns those two.
"""

from __future__ import annotations

from decimal import Decimal

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from analytics import access, aging, collections, contract, predictions, reminders, scenarios, statement
from analytics import settings as app_settings
from pages import _cache, _format, _paging, _panel, _runs, _session, widgets

ctx = widgets.page("Customer")

customers = _cache.customers_in_scope(ctx)
if customers.is_empty():
    st.info("No customer in this scope.")
    st.stop()
ids = customers.get_column("customer_id").to_list()
names = dict(zip(ids, customers.get_column("customer_name").to_list(), strict=True))
SAVED = ["customer_items", "customer_timeline"]
# The timeline's filter: its choices and the kind of line each keeps (None: every line).
TIMELINE_KINDS = {"All": None, "Actions": "action", "Qualifications": "qualification"}


def send_statement(customer_id: str, items: pl.DataFrame) -> None:
    """The "Send statement" button: the statement of account at the as-of date, by e-mail to the customer's
    contact (the Recovery scenarios page records it); the outcome under the button."""
    db = _cache.collections_db(ctx)
    try:
        server = app_settings.smtp_of(ctx.store.root)
    except app_settings.SettingsInvalid as error:
        server = None
        st.warning(f"Mail settings: {_format.markdown_text(error)}")
    address = scenarios.contact(db, customer_id).get("email")
    allowed = _session.can(access.WRITE)
    why = (
        _session.refusal(access.WRITE)
        if not allowed
        else "No e-mail address for this customer: add one on the Recovery scenarios page."
        if not address
        else "No mail server: set it on the Settings page."
        if server is None
        else f"The statement of account at {ctx.as_of} (PDF), by e-mail to {address}."
    )
    buttons = st.columns([1, 1, 3])
    buttons[1].download_button(
        "Download statement (PDF)",
        _session.audited_export(
            lambda: statement.statement_pdf(
                statement.statement(db, ctx.store, customer_id, ctx.as_of, scope=ctx.scope, items=items)
            ),
            f"statement of account {customer_id} at {ctx.as_of}",
        ),
        file_name=statement.file_name(customer_id, ctx.as_of),
        mime="application/pdf",
        key=f"customer_statement_pdf_{customer_id}",
        icon=":material/picture_as_pdf:",
        help=f"The statement of account at {ctx.as_of}: the open items in each document's currency.",
    )
    if buttons[0].button(
        "Send statement",
        key=f"customer_statement_{customer_id}",
        icon=":material/mail:",
        disabled=not (allowed and address and server),
        help=why,
    ):
        _session.require(access.WRITE)
        try:
            done = statement.send_statement(
                db,
                ctx.store,
                customer_id,
                ctx.as_of,
                server,
                user=_session.user_name(),
                scope=ctx.scope,
                items=items,
            )
        except (statement.StatementError, reminders.ReminderError, collections.CollectionsRefused) as error:
            st.error(f"Statement not sent: {_format.markdown_text(error)}")
        else:
            _session.audit("write", done)
            st.success(_format.markdown_text(done))
    elif not (address and server):
        st.caption(_format.markdown_text(why))


@st.fragment(key="customer")
def show_customer() -> None:
    """The customer chosen and everything about it."""
    _runs.record("customer")
    wanted = st.query_params.get("customer")
    if wanted is not None and wanted not in names:
        st.warning(
            f"No customer {_format.markdown_text(wanted)} in your scope ({_format.markdown_text(ctx.scope.describe())})."
        )
    if wanted not in names:
        wanted = ids[0]
    customer_id = st.selectbox(
        "Customer",
        ids,
        index=ids.index(wanted),
        format_func=lambda cid: f"{names[cid]} ({cid})",
        key=f"customer_pick_{wanted}",
    )
    if customer_id != st.query_params.get("customer"):
        st.query_params["customer"] = customer_id
    customer = customers.filter(pl.col("customer_id") == customer_id).row(0, named=True)

    items = _cache.items_for(ctx).filter(pl.col("customer_id") == customer_id)
    open_total = Decimal(items.get_column("open_amount_functional").sum() or 0)
    payer = _cache.cached_payers(ctx).filter(pl.col("customer_id") == customer_id)
    payer_row = payer.row(0, named=True) if payer.height else {}

    st.markdown(
        " · ".join(
            f"**{contract.DIMENSION_LABELS[dimension]}** {_format.markdown_text(customer[dimension])}"
            for dimension in contract.DIMENSIONS
            if customer.get(dimension)
        )
    )
    figures = st.columns(5)
    limit = customer.get("credit_limit")
    figures[0].metric(f"Open ({ctx.currency})", _format.money(open_total))
    if limit:
        use = float(open_total) / float(limit) * 100
        figures[1].metric(
            f"Credit limit ({ctx.currency})",
            _format.money(limit),
            f"{use:.0f}% used",
            delta_color="inverse" if use > 100 else "off",
        )
        if use > 100:
            st.error(f"Over its credit limit by {_format.money(open_total - Decimal(limit), ctx.currency)}.")
    else:
        figures[1].metric("Credit limit", "-")
    figures[2].metric(
        "Terms",
        f"{customer['payment_terms_days']} days" if customer.get("payment_terms_days") is not None else "-",
    )
    figures[3].metric(
        "Payer rating",
        payer_row.get("rating") or "-",
        None if payer_row.get("trend") is None else f"{payer_row['trend']:+.1f} d late (6 months)",
        delta_color="inverse",
        help="A-D from the amount-weighted days late of the invoices settled in the last 12 months "
        "(<= 0 / <= 15 / <= 45 / more).",
    )
    figures[4].metric(
        "Days late (12 months)",
        "-" if payer_row.get("days_late_12m") is None else f"{payer_row['days_late_12m']:.1f}",
        help=None
        if not payer_row
        else f"Days to pay {payer_row.get('days_to_pay_12m') or '-'}; "
        f"{payer_row.get('invoices_12m', 0)} invoices settled",
    )

    send_statement(customer_id, _cache.items_for(ctx))

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Payment behaviour")
        monthly = _cache.cached_series(ctx, months=12, by=aging.CUSTOMER).filter(
            pl.col("customer_id") == customer_id
        )
        behaviour = go.Figure()
        behaviour.add_bar(
            x=monthly.get_column("period").to_list(),
            y=monthly.get_column("days_late").to_list(),
            name="Days late",
            marker_color="#eb5757",
        )
        behaviour.add_scatter(
            x=monthly.get_column("period").to_list(),
            y=monthly.get_column("days_to_pay").to_list(),
            name="Days to pay",
            mode="lines+markers",
            line=dict(color="#1f4e79"),
        )
        behaviour.update_layout(
            height=280,
            margin=dict(l=10, r=10, t=10, b=10),
            legend=dict(orientation="h", y=1.15),
            yaxis_title="days",
        )
        st.plotly_chart(behaviour, width="stretch", key="customer_behaviour")
        st.caption("Amount-weighted over the invoices settled each month.")
    with right:
        st.subheader("By bucket")
        result = aging.aging(items, aging.AgingQuery(ctx.as_of, by="entity"))
        _format.dataframe(
            pl.DataFrame(
                {
                    "bucket": [aging.bucket_label(name) for name in result.buckets],
                    "amount": [float(result.totals[name]) for name in result.buckets],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={"amount": _format.money_column(f"Open ({ctx.currency})")},
            key="customer_buckets",
        )
    show_items(customer_id, items)
    how_good(customer_id, _cache.prediction_job(ctx))
    show_timeline(customer_id)


@st.fragment(key="customer_items")
def show_items(customer_id: str, items: pl.DataFrame) -> None:
    """The open items with their states, and the side panel on those selected."""
    _runs.record("customer_items")
    _panel.collections_notice()
    st.subheader(f"Open items ({items.height})")
    states = _cache.item_states(ctx).select(
        "document_id",
        "state",
        "promise_status",
        "promised_date",
        "dispute_reason",
        "internal_owner",
        "next_action_date",
    )
    table = (
        items.select(
            "document_id",
            "document_type",
            "document_date",
            "due_date",
            "days_past_due",
            "currency",
            "open_amount",
            "open_amount_functional",
        )
        .join(states, on="document_id", how="left")
        .with_columns(pl.col("state").fill_null("none"))
        .sort(["days_past_due", "document_id"], descending=[True, False])
    )
    job = _cache.prediction_job(ctx)
    table, expected_label = with_predictions(table, job)
    page = _paging.paged(table, key=f"customer_items_page_{customer_id}")
    table = page.rows
    picked = _format.dataframe(
        _format.for_display(table),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="multi-row",
        key=f"customer_items_{customer_id}{page.key}",
        column_config={
            "document_id": st.column_config.TextColumn("Document"),
            "document_type": st.column_config.TextColumn("Type"),
            "document_date": st.column_config.DateColumn("Date"),
            "due_date": st.column_config.DateColumn("Due"),
            "days_past_due": st.column_config.NumberColumn("Days past due", format="%d"),
            "currency": st.column_config.TextColumn("Cur."),
            "open_amount": _format.money_column("Open (doc. currency)"),
            "open_amount_functional": _format.money_column(f"Open ({ctx.currency})"),
            "state": st.column_config.TextColumn("Qualification"),
            "promise_status": st.column_config.TextColumn("Promise"),
            "promised_date": st.column_config.DateColumn("Promised for"),
            "dispute_reason": st.column_config.TextColumn("Dispute"),
            "internal_owner": st.column_config.TextColumn("Owner"),
            "next_action_date": st.column_config.DateColumn("Next action"),
            "predicted_payment_date": st.column_config.DateColumn(
                expected_label,
                help="Predicted from the customer's payment history and this invoice (see How good is this).",
            ),
            "p_late": st.column_config.NumberColumn(
                "Likely late",
                format="%.0f%%",
                help="How likely the invoice is paid after its due date.",
            ),
        },
    )
    if job.predictions is None:
        st.caption(
            "The expected payment dates are being worked out in the background: they show when this "
            "table is next drawn."
            if job.failed is None
            else f"The expected payment dates could not be worked out: {_format.markdown_text(job.failed)}"
        )
    rows = picked.selection.rows if picked and picked.selection else []
    _panel.panel_button(
        ctx,
        [table.get_column("document_id")[row] for row in rows],
        key="customer_panel",
        rerun=SAVED,
    )


def with_predictions(table: pl.DataFrame, job: _cache.PredictionJob) -> tuple[pl.DataFrame, str]:
    """The open items with each invoice's predicted payment date and p_late (in %), and the label of
    the date's column: it says so while the predictions are not ready."""
    made = job.predictions
    if made is None:
        label = "Expected payment (not ready yet)" if job.failed is None else "Expected payment (failed)"
        return table.with_columns(
            predicted_payment_date=pl.lit(None, pl.Date), p_late=pl.lit(None, pl.Float64)
        ), label
    made = made.select("document_id", "predicted_payment_date", p_late=pl.col("p_late") * 100)
    return table.join(made, on="document_id", how="left", maintain_order="left"), "Expected payment"


def how_good(customer_id: str, job: _cache.PredictionJob) -> None:
    """The back-test of the predictions beside the baseline, over the sidebar's scope and this customer."""
    with st.expander("How good is this", expanded=False):
        everyone = job.backtest(_cache.customers_in_scope(ctx))
        if everyone is None:
            st.info(
                "The back-test is being worked out in the background."
                if job.failed is None
                else f"The back-test could not be worked out: {_format.markdown_text(job.failed)}"
            )
            return
        own = job.backtest(pl.DataFrame({"customer_id": [customer_id]}))
        st.markdown(
            f"Predictions made at the {len(job.dates)} month ends "
            f"{job.dates[0].isoformat()} to {job.dates[-1].isoformat()} from what was known then, "
            "scored against the real payment dates, beside the baseline: due date + the customer's "
            "mean days late so far."
        )
        rows = []
        for label, figures in (("This scope", everyone), ("This customer", own)):
            overall = figures.filter(pl.col("as_of").is_null()).row(0, named=True)
            rows.append(
                {
                    "over": label,
                    "invoices": overall["invoices"],
                    "error_days": overall["mae_days"],
                    "baseline_error_days": overall["baseline_mae_days"],
                    "late_right": overall["late_accuracy"],
                    "baseline_late_right": overall["baseline_late_accuracy"],
                }
            )
        _format.dataframe(
            pl.DataFrame(rows),
            hide_index=True,
            width="stretch",
            key="customer_prediction_backtest",
            column_config={
                "over": st.column_config.TextColumn("Over"),
                "invoices": st.column_config.NumberColumn("Invoices", format="%d"),
                "error_days": st.column_config.NumberColumn("Off by (days)", format="%.1f"),
                "baseline_error_days": st.column_config.NumberColumn("Baseline off by (days)", format="%.1f"),
                "late_right": st.column_config.NumberColumn("Late or not right", format="%.1f%%"),
                "baseline_late_right": st.column_config.NumberColumn("Baseline right", format="%.1f%%"),
            },
        )
        st.caption(predictions.summary(everyone))


@st.fragment(key="customer_timeline")
def show_timeline(customer_id: str) -> None:
    """The customer's story, one line per save (a dispute on 8 invoices is one line naming them),
    newest first, filtered by kind."""
    _runs.record("customer_timeline")
    st.subheader("Timeline")
    story = collections.timeline(_cache.collections_db(ctx), customer_id)
    if story.is_empty():
        st.info("No action or qualification recorded for this customer yet.")
        return
    shown = st.segmented_control(
        "Show", list(TIMELINE_KINDS), default="All", key=f"timeline_kind_{customer_id}"
    )
    wanted = TIMELINE_KINDS.get(shown or "All")
    if wanted:
        story = story.filter(pl.col("kinds").list.contains(wanted))
    if story.is_empty():
        st.caption(f"No {str(shown).lower()} recorded for this customer yet.")
        return
    what = pl.concat_str(
        pl.col("action_type").map_elements(_format.label, return_dtype=pl.String),
        pl.when(pl.col("outcome").is_not_null()).then(
            pl.format(
                " ({})",
                pl.col("outcome").map_elements(_format.label, return_dtype=pl.String).str.to_lowercase(),
            )
        ),
        pl.when(pl.col("action_type").is_not_null() & pl.col("qualification").is_not_null()).then(
            pl.lit(" · ")
        ),
        pl.col("qualification").map_elements(_format.label, return_dtype=pl.String),
        ignore_nulls=True,
    )
    _format.dataframe(
        story.with_columns(
            what.alias("what"), pl.col("recorded_at").dt.strftime("%H:%M").alias("time")
        ).select(
            "date",
            "time",
            "what",
            "documents",
            "details",
            "comment",
            "contact_person",
            "next_action_date",
            "user_name",
        ),
        hide_index=True,
        width="stretch",
        key="customer_timeline",
        column_config={
            "date": st.column_config.DateColumn("Date"),
            "time": st.column_config.TextColumn("Saved at (UTC)"),
            "what": st.column_config.TextColumn("What"),
            "documents": st.column_config.TextColumn("Documents"),
            "details": st.column_config.TextColumn("Details"),
            "comment": st.column_config.TextColumn("Comment", width="large"),
            "contact_person": st.column_config.TextColumn("Contact"),
            "next_action_date": st.column_config.DateColumn("Next action"),
            "user_name": st.column_config.TextColumn("By"),
        },
    )


show_customer()
