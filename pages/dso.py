"""DSO and the KPI set by a chosen dimension: trends (one line per value, or small multiples), a table
of each value's latest figures with a 12-month sparkline, payer behaviour at customer level, exports.
Selecting a row narrows the page to that value."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from analytics import aging, contract, kpis
from pages import _cache, _format, widgets

MEASURES = {
    "dso_countback": "Countback DSO (days)",
    "dso_standard": "Standard DSO (days)",
    "bpdso": "Best possible DSO (days)",
    "add": "Days of delay, ADD (days)",
    "cei": "CEI (%)",
    "days_late": "Days late of settled invoices",
    "pct_over_90": "% of AR over 90 days",
}
WHOLE = "whole scope"
LEVELS = [WHOLE, *contract.DIMENSIONS, aging.CUSTOMER]
MAX_LINES = 10

ctx = widgets.page("DSO and KPIs")

controls = st.columns([1.3, 1, 1.6, 1.3])
by_choice = controls[0].selectbox(
    "By",
    LEVELS,
    format_func=lambda level: "Whole scope" if level == WHOLE else contract.DIMENSION_LABELS[level],
    key="dso_by",
    bind="query-params",
)
months = controls[1].segmented_control("Months", [12, 24, 36], default=12, key="dso_months", required=True)
measure = controls[2].selectbox("Chart", list(MEASURES), format_func=MEASURES.get, key="dso_measure")
layout = controls[3].segmented_control(
    "Layout", ["Lines", "Small multiples"], default="Lines", key="dso_layout", required=True
)
by = None if by_choice == WHOLE else by_choice
series = _cache.cached_series(ctx, months=int(months or 12), by=by)
if series.is_empty():
    st.info("No month end to show before this as-of date.")
    st.stop()

keys = kpis.group_keys(by)
key = keys[0] if keys else None
label_column = "customer_name" if by == aging.CUSTOMER else key

focus = st.query_params.get("focus") if by else None
if focus is not None and key is not None and focus not in series.get_column(key).cast(pl.String).to_list():
    focus = None
if focus is not None:
    cols = st.columns([6, 1])
    cols[0].markdown(f"Narrowed to **{contract.DIMENSION_LABELS[by]} {_format.markdown_text(focus)}**.")
    if cols[1].button("Show all", key="dso_clear_focus"):
        del st.query_params["focus"]
        st.session_state["dso_nonce"] = st.session_state.get("dso_nonce", 0) + 1
        st.rerun()
    shown_series = series.filter(pl.col(key).cast(pl.String) == focus)
else:
    shown_series = series

latest_period = shown_series.get_column("period").max()
latest = shown_series.filter(pl.col("period") == latest_period)

# --- the chart -------------------------------------------------------------------------------------
if key is None:
    groups = [None]
else:
    ranked = latest.sort("ar_total", descending=True).get_column(key).to_list()
    groups = ranked[:MAX_LINES]
if layout == "Small multiples" and key is not None and len(groups) > 1:
    columns = 3
    rows = (len(groups) + columns - 1) // columns
    labels = [
        _format.chart_text(latest.filter(pl.col(key) == group).get_column(label_column)[0])
        for group in groups
    ]
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=labels, shared_yaxes=True)
    for position, group in enumerate(groups):
        part = shown_series.filter(pl.col(key) == group).sort("period")
        figure.add_scatter(
            x=part.get_column("period").to_list(),
            y=part.get_column(measure).to_list(),
            mode="lines",
            line=dict(color="#1f4e79"),
            showlegend=False,
            row=position // columns + 1,
            col=position % columns + 1,
        )
    figure.update_layout(height=220 * rows, margin=dict(l=10, r=10, t=40, b=10))
else:
    figure = go.Figure()
    for group in groups:
        part = shown_series if group is None else shown_series.filter(pl.col(key) == group)
        part = part.sort("period")
        name = MEASURES[measure] if group is None else _format.chart_text(part.get_column(label_column)[0])
        figure.add_scatter(
            x=part.get_column("period").to_list(),
            y=part.get_column(measure).to_list(),
            mode="lines+markers",
            name=name,
        )
    figure.update_layout(
        height=380,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=-0.15),
        yaxis_title=MEASURES[measure],
    )
st.plotly_chart(figure, width="stretch", key="dso_chart")
if key is not None and len(ranked) > MAX_LINES and focus is None:
    st.caption(
        f"The {MAX_LINES} values with the largest receivables are drawn; the table lists all {len(ranked)}."
    )

# --- the table -------------------------------------------------------------------------------------
st.subheader(
    f"At {latest_period.isoformat()}" + (f" by {contract.DIMENSION_LABELS[by].lower()}" if by else "")
)
sparkline = (
    shown_series.sort("period")
    .group_by(keys or pl.lit(1).alias("_all"), maintain_order=True)
    .agg(pl.col("dso_countback").tail(12).alias("dso_12m"))
)
table = latest.join(sparkline, on=keys, how="left") if keys else latest.with_columns(sparkline["dso_12m"])
table_columns = [
    *keys,
    "ar_total",
    "dso_countback",
    "dso_standard",
    "bpdso",
    "add",
    "cei",
    "days_late",
    "pct_over_90",
    "cost_of_delay",
    "dso_12m",
]
if by == aging.CUSTOMER:
    payers = _cache.cached_payers(ctx).select("customer_id", "rating", "days_late_12m", "trend")
    table = table.join(payers, on="customer_id", how="left")
    table_columns = [*table_columns[:-1], "rating", "days_late_12m", "trend", "dso_12m"]
table = table.sort("ar_total", descending=True).select(table_columns)
column_config = {
    "ar_total": _format.money_column(f"AR ({ctx.currency})"),
    "dso_countback": st.column_config.NumberColumn("Countback DSO", format="%.1f"),
    "dso_standard": st.column_config.NumberColumn("Standard DSO", format="%.1f"),
    "bpdso": st.column_config.NumberColumn("BPDSO", format="%.1f"),
    "add": st.column_config.NumberColumn("ADD", format="%.1f"),
    "cei": st.column_config.NumberColumn("CEI %", format="%.1f"),
    "days_late": st.column_config.NumberColumn("Days late", format="%.1f"),
    "pct_over_90": st.column_config.NumberColumn("% +90", format="%.1f"),
    "cost_of_delay": _format.money_column("Cost of delay"),
    "dso_12m": st.column_config.LineChartColumn("DSO, 12 months"),
    "rating": st.column_config.TextColumn("Payer rating", help="A-D from the 12-month days late"),
    "days_late_12m": st.column_config.NumberColumn("Days late 12m", format="%.1f"),
    "trend": st.column_config.NumberColumn(
        "Trend", format="%+.1f", help="Days late: last 6 months minus the 6 before"
    ),
    "customer_name": st.column_config.TextColumn("Customer"),
}
nonce = st.session_state.get("dso_nonce", 0)
selection = _format.dataframe(
    _format.for_display(table),
    hide_index=True,
    width="stretch",
    column_config=column_config,
    on_select="rerun" if key else "ignore",
    selection_mode="single-row",
    key=f"dso_table_{nonce}",
)
if key and selection and selection.selection and selection.selection.rows:
    st.query_params["focus"] = str(table.get_column(key)[selection.selection.rows[0]])
    st.session_state["dso_nonce"] = nonce + 1
    st.rerun()

with st.expander("Month by month"):
    monthly = shown_series.sort([*keys, "period"]).select(*keys, *kpis.SERIES_COLUMNS)
    _format.dataframe(_format.for_display(monthly), hide_index=True, width="stretch", key="dso_monthly")

stem = f"kpis_{by or 'scope'}_{latest_period.isoformat()}"
widgets.export_buttons(
    shown_series.select(*keys, *kpis.SERIES_COLUMNS),
    stem,
    "KPIs",
    key="dso_export",
    sheet="KPIs",
    about=[
        ("By", contract.DIMENSION_LABELS[by] if by else "The whole scope"),
        ("Months", f"{shown_series.get_column('period').min().isoformat()} to {latest_period.isoformat()}"),
    ],
)
