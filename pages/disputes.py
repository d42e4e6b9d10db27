"""Disputes and promises: open disputes by reason, owner and age; resolution times; promises due this
week, the kept rate and broken promises; the qualification rate of overdue items; monthly trends."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from pages import _cache, _format, _panel, _runs, _session, widgets

ctx = widgets.page("Disputes and promises", notices=True)

summary = _cache.cached_dispute_summary(ctx)
figures = summary.figures


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


tiles = st.columns(5)
tiles[0].metric("Open disputes", f"{figures['open_disputes']:,}")
tiles[1].metric(f"Disputed ({ctx.currency})", _format.compact_money(figures["disputed_amount"]))
tiles[2].metric(
    "Promises kept (90 days)",
    percent(figures["kept_rate"]),
    help=f"{figures['promises_kept']} kept, {figures['promises_broken']} broken among the promises decided "
    "in the last 90 days",
)
tiles[3].metric("Broken promises open", f"{summary.broken_promises.height:,}")
tiles[4].metric(
    "Qualification rate",
    percent(figures["qualification_rate"]),
    help=f"Share of the overdue amount ({_format.money(figures['overdue_amount'], ctx.currency)}) that carries "
    "a qualification (promise, dispute, litigation, bad debt proposed)",
)

money = _format.money_column
label = _format.label

left, right = st.columns(2)
with left:
    st.subheader("Open disputes by reason")
    if summary.by_reason.is_empty():
        st.info("No open dispute.")
    else:
        chart = go.Figure(
            go.Bar(
                x=[label(r) for r in summary.by_reason.get_column("dispute_reason")],
                y=summary.by_reason.get_column("disputed_amount").cast(pl.Float64).to_list(),
                text=summary.by_reason.get_column("disputes").to_list(),
                texttemplate="%{text} disputes",
                marker_color="#f2994a",
            )
        )
        chart.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(tickformat=",.0f"))
        st.plotly_chart(chart, width="stretch", key="disputes_by_reason")
    _format.dataframe(
        _format.for_display(summary.by_age),
        hide_index=True,
        width="stretch",
        key="disputes_by_age",
        column_config={"age_band": "Age", "disputed_amount": money("Disputed")},
    )
with right:
    st.subheader("Waiting on internal owners")
    _format.dataframe(
        _format.for_display(summary.by_owner),
        hide_index=True,
        width="stretch",
        key="disputes_by_owner",
        column_config={
            "internal_owner": "Owner",
            "disputed_amount": money("Disputed"),
            "average_age_days": st.column_config.NumberColumn("Average age", format="%.0f d"),
            "oldest_age_days": st.column_config.NumberColumn("Oldest", format="%d d"),
            "past_expected_resolution": st.column_config.NumberColumn("Late", format="%d"),
        },
    )
    st.subheader("Resolution time by reason (12 months)")
    _format.dataframe(
        summary.resolution_by_reason,
        hide_index=True,
        width="stretch",
        key="disputes_resolution",
        column_config={
            "dispute_reason": "Reason",
            "average_days_to_resolve": st.column_config.NumberColumn("Average days", format="%.1f"),
        },
    )

ALL = "(all)"
ROWS_SHOWN = 2_000


def shown_at_most(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    """The first ROWS_SHOWN rows, saying so when there are more (the browser draws every row sent)."""
    if frame.height > ROWS_SHOWN:
        st.caption(f"The first {ROWS_SHOWN:,} {what} of {frame.height:,}.")
    return frame.head(ROWS_SHOWN)


@st.fragment(key="disputes_open")
def open_disputes_list(ctx: _session.Context, open_disputes: pl.DataFrame) -> None:
    """The open disputes, filtered by reason and owner, to select for the side panel: a filter or a
    selection reruns this list alone."""
    _runs.record("disputes_open")
    st.subheader("Open disputes")
    filters = st.columns(2)
    reason = filters[0].selectbox(
        "Reason",
        [ALL, *open_disputes.get_column("dispute_reason").drop_nulls().unique().sort()],
        format_func=lambda value: value if value == ALL else label(value),
        key="disputes_reason",
    )
    owner = filters[1].selectbox(
        "Owner",
        [ALL, *open_disputes.get_column("internal_owner").drop_nulls().unique().sort()],
        key="disputes_owner",
    )
    listed = open_disputes.sort("age_days", descending=True)
    if reason != ALL:
        listed = listed.filter(pl.col("dispute_reason") == reason)
    if owner != ALL:
        listed = listed.filter(pl.col("internal_owner") == owner)
    if listed.is_empty():
        # Each filter offers every reason (owner) listed, but the two together can match no dispute.
        chosen = [
            f"reason {label(reason)}" if reason != ALL else "",
            f"owner {owner}" if owner != ALL else "",
        ]
        filtered = " and ".join(c for c in chosen if c)
        st.info(
            _format.markdown_text(f"No open dispute with {filtered}.") if filtered else "No open dispute."
        )
        _panel.panel_button(ctx, [], key="disputes_panel")
        return
    selected = widgets.item_table(
        listed,
        f"open_disputes_{reason}_{owner}",
        ctx.currency,
        {
            "disputed_amount": money("Disputed"),
            "open_amount": money("Open"),
            "opened_on": st.column_config.DateColumn("Opened"),
            "expected_resolution": st.column_config.DateColumn("Expected resolution"),
            "past_expected_resolution": st.column_config.CheckboxColumn("Late"),
        },
    )
    _panel.panel_button(ctx, selected, key="disputes_panel")


open_disputes_list(ctx, summary.open_disputes)

promises_column, broken_column = st.columns(2)
with promises_column:
    st.subheader("Promises due this week")
    _format.dataframe(
        _format.for_display(shown_at_most(summary.promises_due_this_week, "promises")),
        hide_index=True,
        width="stretch",
        key="promises_due",
        column_config={
            "customer_name": "Customer",
            "promised_date": st.column_config.DateColumn("Promised for"),
            "promised_amount": money("Promised"),
            "open_amount": money("Open"),
        },
    )
with broken_column:
    st.subheader("Broken promises")
    _format.dataframe(
        _format.for_display(shown_at_most(summary.broken_promises, "broken promises")),
        hide_index=True,
        width="stretch",
        key="broken_promises",
        column_config={
            "customer_name": "Customer",
            "promised_date": st.column_config.DateColumn("Promised for"),
            "promised_amount": money("Promised"),
            "open_amount": money("Open"),
            "days_since_promised_date": st.column_config.NumberColumn("Days since", format="%d"),
        },
    )

st.subheader("By month")
monthly = summary.monthly
trend = go.Figure()
for column, name, color in (
    ("disputes_opened", "Disputes opened", "#f2994a"),
    ("disputes_resolved", "Disputes resolved", "#4c9a2a"),
    ("promises_kept", "Promises kept", "#1f4e79"),
    ("promises_broken", "Promises broken", "#eb5757"),
):
    trend.add_bar(
        x=monthly.get_column("month").to_list(),
        y=monthly.get_column(column).to_list(),
        name=name,
        marker_color=color,
    )
trend.update_layout(
    barmode="group", height=300, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.15)
)
st.plotly_chart(trend, width="stretch", key="disputes_monthly")
_format.dataframe(
    summary.qualification_by_collector.with_columns(pl.col(pl.Decimal).cast(pl.Float64)),
    hide_index=True,
    width="stretch",
    key="qualification_by_collector",
    column_config={
        "overdue_amount": money("Overdue"),
        "qualified_amount": money("Qualified"),
        "qualification_rate": st.column_config.NumberColumn("Qualified %", format="%.1f%%"),
    },
)
