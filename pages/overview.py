"""The CFO's overview, the app's home: headline figures, the DSO trend with its delay part, a small
aging chart, the largest overdue customers and the 13-week cash forecast."""

from __future__ import annotations

from decimal import Decimal

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from analytics import aging, daily, kpis
from analytics.forecast import BACKTEST_AUTOMATIC_ITEMS
from pages import _cache, _format, _shell, widgets

ctx = widgets.page("Overview")

series = _cache.cached_series(ctx, months=_shell.OVERVIEW_TREND_MONTHS)
items = _cache.items_for(ctx)
figures = aging.headline(items, aging.AgingQuery(ctx.as_of))
previous_month_end = kpis.month_end(ctx.as_of, -1)
then = series.filter(pl.col("period") == previous_month_end)
if then.height:
    # The series holds the AR of the previous month end: its items need not be read again.
    figures_then = aging.balance_headline(then.get_column("ar_total")[0], then.get_column("ar_current")[0])
else:
    figures_then = aging.headline(
        _cache.items_for(ctx, previous_month_end), aging.AgingQuery(previous_month_end)
    )


def value(frame: pl.DataFrame, column: str, position: int = -1):
    if frame.height < abs(position):
        return None
    return frame.get_column(column)[position]


def days(number: float | None) -> str:
    return "-" if number is None else f"{number:,.1f} d"


def change(now: float | None, then: float | None, unit: str = "") -> str | None:
    if now is None or then is None:
        return None
    return f"{now - then:+,.1f}{unit}"


latest_period = value(series, "period")
st.caption(
    f"As of {ctx.as_of.isoformat()} · {_format.markdown_text(ctx.scope.describe())} · amounts in {ctx.currency}"
    + (
        f" · DSO, CEI and the cost of delay at the month end {latest_period.isoformat()}"
        if latest_period
        else ""
    )
)

last_run = daily.last_run(ctx.store.root)
if last_run is None:
    st.caption("No daily run yet (`python -m analytics daily --data DIR`, see the README).")
else:
    # The record is the run's own: when it started (UTC), then what it did, in one sentence.
    problems = last_run.get("problems") or []
    st.caption(
        _format.markdown_text(
            f"Last daily run {str(last_run.get('started_at', ''))[:16].replace('T', ' ')} UTC: "
            f"{last_run.get('headline', '')}" + (f" (first: {problems[0]})" if problems else "")
        )
    )

if _cache.collections_available(ctx) and (banner := _shell.alert_banner(ctx)):
    st.warning(f"Alerts since the previous run: {banner}.")

top = st.columns(4)
top[0].metric(
    f"Receivables ({ctx.currency})",
    _format.compact_money(figures["total"]),
    f"{figures['total'] - figures_then['total']:+,.2f}",
    delta_color="off",
    help=f"{_format.money(figures['total'], ctx.currency)}; change since {previous_month_end.isoformat()}",
)
top[1].metric(
    "Overdue",
    f"{figures['overdue_share']}%",
    f"{figures['overdue_share'] - figures_then['overdue_share']:+.1f} pts",
    delta_color="inverse",
    help=f"{_format.money(figures['overdue'], ctx.currency)} past due",
)
top[2].metric(
    "DSO (countback)",
    days(value(series, "dso_countback")),
    change(value(series, "dso_countback"), value(series, "dso_countback", -2), " d"),
    delta_color="inverse",
    help="Days of the latest months' sales that the receivables represent, walking back month by month.",
)
top[3].metric(
    "CEI",
    "-" if value(series, "cei") is None else f"{value(series, 'cei'):.1f}%",
    change(value(series, "cei"), value(series, "cei", -2), " pts"),
    help="Collection effectiveness index of the month: what was collected of what could be.",
)
bottom = st.columns(4)
bottom[0].metric(
    "Best possible DSO",
    days(value(series, "bpdso")),
    change(value(series, "bpdso"), value(series, "bpdso", -2), " d"),
    delta_color="inverse",
    help="DSO if every customer paid on its due date: current (not yet due) receivables only.",
)
bottom[1].metric(
    "Days of delay (ADD)",
    days(value(series, "add")),
    change(value(series, "add"), value(series, "add", -2), " d"),
    delta_color="inverse",
    help="Standard DSO minus best possible DSO: the days that late payment adds.",
)
cost = value(series, "cost_of_delay")
cost_before = value(series, "cost_of_delay", -2)
bottom[2].metric(
    f"Cash tied up by delay ({ctx.currency})",
    _format.compact_money(cost),
    None if cost is None or cost_before is None else f"{cost - cost_before:+,.2f}",
    delta_color="inverse",
    help="Days of delay x average daily sales of the last 3 months.",
)
bottom[3].metric(
    f"One day of DSO ({ctx.currency})",
    _format.compact_money(value(series, "daily_sales")),
    help="Average daily sales of the last 3 months: the cash one day less of DSO brings in.",
)

trend_column, aging_column = st.columns([3, 2])
with trend_column:
    st.subheader("DSO trend")
    target = st.number_input("DSO target (days)", 0.0, 365.0, 45.0, step=5.0, key="dso_target", width=180)
    chart = go.Figure()
    periods = series.get_column("period").to_list()
    chart.add_scatter(
        x=periods,
        y=series.get_column("bpdso").to_list(),
        name="Best possible DSO",
        stackgroup="dso",
        mode="lines",
        line=dict(color="#4c9a2a"),
    )
    chart.add_scatter(
        x=periods,
        y=series.get_column("add").to_list(),
        name="Days of delay (ADD)",
        stackgroup="dso",
        mode="lines",
        line=dict(color="#eb5757"),
    )
    chart.add_scatter(
        x=periods,
        y=series.get_column("dso_countback").to_list(),
        name="Countback DSO",
        mode="lines+markers",
        line=dict(color="#1f4e79", width=3),
    )
    if target:
        chart.add_hline(y=target, line_dash="dash", line_color="#555", annotation_text=f"Target {target:g} d")
    chart.update_layout(
        height=340,
        margin=dict(l=10, r=10, t=10, b=10),
        legend=dict(orientation="h", y=1.12, x=0),
        yaxis=dict(title="days"),
    )
    st.plotly_chart(chart, width="stretch", key="dso_trend")
    st.caption(
        "The stacked area is the standard (3-month) DSO: its green part the best possible DSO, its red "
        "part the days that late payment adds."
    )

with aging_column:
    st.subheader("Aging")
    buckets = aging.aging(items, aging.AgingQuery(ctx.as_of))
    names = buckets.buckets
    bars = go.Figure(
        go.Bar(
            x=[aging.bucket_label(name) for name in names],
            y=[float(buckets.totals[name]) for name in names],
            marker_color=["#4c9a2a", "#f2c94c", "#f2994a", "#eb5757", "#b0413e"][: len(names)],
            hovertemplate="%{x}: %{y:,.2f}<extra></extra>",
        )
    )
    bars.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(tickformat=",.0f"))
    st.plotly_chart(bars, width="stretch", key="overview_aging")
    st.page_link("pages/aging.py", label="Open the aging balance", icon=":material/arrow_forward:")

st.subheader("Largest overdue customers")
customers = aging.aging(items, aging.AgingQuery(ctx.as_of, by=aging.CUSTOMER))
overdue_rows = (
    customers.rows.filter(pl.col("overdue") > 0)
    .sort("overdue", descending=True)
    .head(10)
    .select("customer_name", "customer_id", "overdue", *names[1:], "total")
)
if overdue_rows.is_empty():
    st.info("No customer has overdue items at this date.")
else:
    _format.dataframe(
        _format.for_display(overdue_rows),
        hide_index=True,
        width="stretch",
        column_config={
            "customer_name": st.column_config.TextColumn("Customer"),
            "customer_id": st.column_config.TextColumn("Id"),
            "overdue": _format.money_column("Overdue"),
            "total": _format.money_column("Total"),
            **{name: _format.money_column(aging.bucket_label(name)) for name in names[1:]},
        },
        key="top_overdue",
    )

st.subheader("Cash forecast: the next 13 weeks")
forecast = _cache.cached_forecast(ctx)
# The back-test rebuilds six past forecasts, its cost following the open items: above a limit, on demand.
automatic = items.height <= BACKTEST_AUTOMATIC_ITEMS
backtest = st.toggle(
    "Back-test the forecast on past month ends",
    value=automatic,
    key="overview_backtest",
    help="Rebuild the forecast at each of the last six month ends whose 13 weeks are over, from the data "
    "known then, and compare each week with the cash actually received.",
)
if not backtest and not automatic:
    st.caption(
        f"The forecast's accuracy is available on demand: with {items.height:,} open items (more than "
        f"{BACKTEST_AUTOMATIC_ITEMS:,}) the back-test is not run unasked, as it rebuilds six "
        "past forecasts. Switch on **Back-test the forecast on past month ends** above to see the error "
        "of each week."
    )
if backtest:
    errors = _cache.cached_forecast_accuracy(ctx)
else:
    errors = pl.DataFrame(
        {"week": list(range(1, 14)), "mape": [None] * 13}, schema={"week": pl.Int32, "mape": pl.Float64}
    )
weeks = forecast.weeks.join(errors.select("week", "mape"), on="week", how="left")
forecast_chart = go.Figure()
forecast_chart.add_bar(
    x=["Overdue backlog"],
    y=[float(forecast.overdue_backlog)],
    name="Overdue backlog (expected date passed)",
    marker_color="#b0413e",
)
forecast_chart.add_bar(
    x=[f"W{week} {start:%d %b}" for week, start in zip(weeks["week"], weeks["week_start"], strict=True)],
    y=weeks.get_column("expected").cast(pl.Float64).to_list(),
    name="Expected collections",
    marker_color="#1f4e79",
    customdata=weeks.get_column("mape").to_list(),
    hovertemplate="%{x}: %{y:,.2f}<br>back-test error %{customdata:.1f}%<extra></extra>",
)
forecast_chart.update_layout(
    height=320, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.15, x=0)
)
st.plotly_chart(forecast_chart, width="stretch", key="forecast_chart")
weekly_total = Decimal(weeks.get_column("expected").sum() or 0)
mape = errors.get_column("mape").drop_nulls()
st.caption(
    f"Expected over the 13 weeks: {_format.money(weekly_total, ctx.currency)}; overdue backlog "
    f"{_format.money(forecast.overdue_backlog, ctx.currency)}; later {_format.money(forecast.later, ctx.currency)}. "
    "Each item is expected on its due date plus its customer's average days late of the last 12 months. "
    + (
        f"Back-tested on past month ends, the weekly error averages {mape.mean():.1f}%."
        if mape.len()
        else "Not enough history yet to back-test the forecast."
        if backtest
        else ""
    )
)
_format.dataframe(
    _format.for_display(weeks.select("week", "week_start", "week_end", "expected", "items", "mape")),
    hide_index=True,
    width="stretch",
    column_config={
        "week": st.column_config.NumberColumn("Week", format="%d"),
        "week_start": st.column_config.DateColumn("From"),
        "week_end": st.column_config.DateColumn("To"),
        "expected": _format.money_column(f"Expected ({ctx.currency})"),
        "items": st.column_config.NumberColumn("Items", format="%d"),
        "mape": st.column_config.NumberColumn(
            "Back-test error", format="%.1f%%", help="Mean absolute % error"
        ),
    },
    key="forecast_weeks",
)
