"""Collectors: the team lead's coaching view. The team table puts each collector's portfolio, results and
activity over a week, month or quarter beside the team median, with the outliers flagged; selecting a
row opens that collector's record: trends against the team, activity by day, customers at risk, figures
against the median, and coaching notes whose objectives are measured when they fall due."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from plotly.subplots import make_subplots

from analytics import access, aging, coaching, coaching_notes, collections, contract, kpis, labels
from analytics.scope import Scope
from analytics.store import Store, month_ends_before
from pages import _cache, _format, _runs, _session, widgets

GROUPS = {
    "Portfolio": [
        "customers",
        "ar",
        "overdue",
        "overdue_change",
        "over_30",
        "over_90",
        "over_90_change",
        "pct_overdue",
        "pct_overdue_change",
        "pct_over_90",
    ],
    "Results": [
        "cash_collected",
        "cei",
        "dso_countback",
        "add",
        "overdue_reduced",
        "over_90_reduced",
        "promises_obtained",
        "promise_kept_rate",
        "disputes_resolved",
        "avg_resolution_days",
        "write_offs",
    ],
    "Activity": [
        "actions",
        "actions_per_day",
        "calls_per_day",
        "emails_per_day",
        "letters_per_day",
        "reach_rate",
        "coverage_14",
        "coverage_30",
        "untouched_items",
        "untouched_share",
        "late_next_actions",
    ],
}
ALL = "All"
LABELS = labels.COLLECTOR_COLUMNS
HELP = {
    "overdue_reduced": "Cash and credit notes applied in the period to the items overdue at its start",
    "over_90_reduced": "Cash and credit notes applied in the period to the items over 90 days at its start",
    "cei": "Collection effectiveness over the period",
    "reach_rate": "Calls that reached the customer / calls made",
    "coverage_14": "Share of the overdue amount whose customer was contacted in the last 14 days",
    "coverage_30": "Share of the overdue amount whose customer was contacted in the last 30 days",
    "untouched_items": "Overdue items with no qualification and no action since they fell due",
    "late_next_actions": "Customers with overdue items whose planned next action date has passed",
}
NO_METRIC = "(no objective)"
OBJECTIVE_ROWS = 3
PICK = "collectors_pick"
NONCE = "collectors_nonce"
APPLIED = "collectors_table_applied"
GRID_NAMES = "collectors_grid_names"
BUCKET_COLOURS = {"d1_30": "#f2c94c", "d31_60": "#f2994a", "d61_90": "#eb5757", "over_90": "#9b1c1c"}


def column_config(currency: str) -> dict[str, object]:
    config: dict[str, object] = {}
    for name, text in LABELS.items():
        helptext = HELP.get(name)
        if name in coaching.MONEY_COLUMNS:
            config[name] = _format.money_column(f"{text} ({currency})", help=helptext)
        elif name in ("collector", "flags"):
            config[name] = st.column_config.TextColumn(text, help=helptext)
        elif name in coaching.COUNT_COLUMNS or name == "flag_count":
            config[name] = st.column_config.NumberColumn(text, format="%g", help=helptext)
        elif name.endswith("_change"):
            config[name] = st.column_config.NumberColumn(text, format="%+.2f", help=helptext)
        else:
            config[name] = st.column_config.NumberColumn(text, format="%.2f", help=helptext)
    return config


@st.cache_data(ttl=300, max_entries=16, show_spinner="Computing the team's figures...")
def _team_table(
    root: str,
    version: str,
    collections_version: str,
    as_of: date,
    period: str,
    scope: Scope,
    threshold: float,
    _db: collections.CollectionsDB,
    _items: pl.DataFrame,
    _series: pl.DataFrame,
) -> coaching.TeamTable:
    request = coaching.CoachingQuery(as_of, period, scope, threshold)
    ledger = _ledger_figures(root, version, request.start, as_of, scope, _items=_items)
    return coaching.team_table(_db, Store(root), request, items=_items, series=_series, ledger=ledger)


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _ledger_figures(
    root: str, version: str, start: date, end: date, scope: Scope, _items: pl.DataFrame
) -> pl.DataFrame:
    # The ledger's part of the team table: a save changes the collections, not this.
    return coaching.ledger_figures(Store(root), start, end, scope, items_end=_items)


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _bucket_sums(root: str, version: str, month_ends: tuple[date, ...], scope: Scope) -> pl.DataFrame:
    # Every collector's month ends at once: switching collectors then ages nothing.
    return coaching.bucket_sums(Store(root), list(month_ends), scope)


def portfolio_trend(ctx: _session.Context, month_ends: tuple[date, ...], collector: str) -> pl.DataFrame:
    root, version = str(ctx.store.root), ctx.store.version()
    sums = _bucket_sums(root, version, month_ends, ctx.scope)
    return coaching.portfolio_trend(ctx.store, list(month_ends), collector, ctx.scope, sums=sums)


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def _record(
    root: str,
    version: str,
    collections_version: str,
    as_of: date,
    start: date,
    collector: str,
    scope: Scope,
    _ctx: _session.Context,
    _db: collections.CollectionsDB,
    _items: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    store = Store(root)
    # The item states of the whole scope are cached once per save for every page that shows them.
    states = _cache.item_states(_ctx)
    customers = _cache.customers_in_scope(_ctx)
    return (
        coaching.activity_heatmap(_db, store, collector, as_of, scope, customers=customers),
        coaching.activity_breakdown(_db, store, collector, start, as_of, scope, customers=customers),
        coaching.at_risk_customers(_db, store, collector, as_of, scope, items=_items, states=states),
    )


@st.cache_data(ttl=300, max_entries=32, show_spinner="Measuring the objectives...")
def _outcomes(
    root: str,
    version: str,
    collections_version: str,
    notes_key: tuple[int, ...],
    as_of: date,
    collector: str,
    scope: Scope,
    _db: collections.CollectionsDB,
) -> pl.DataFrame:
    return coaching.objective_outcomes(_db, Store(root), collector, as_of, scope)


def choose(grid_names: list[str], rows: list[int], names: list[str]) -> None:
    """Open the record of the collector on the team table's row picked (the median's row opens none)."""
    chosen = grid_names[rows[0]] if rows else None
    if chosen in names:
        st.session_state[PICK] = chosen
        st.query_params["collector"] = chosen


def picked(key: str, nonce: int, grid_names: list[str], names: list[str]) -> None:
    """The team table's selection callback: the record alone reruns, not the page."""
    choose(grid_names, st.session_state[key]["selection"]["rows"], names)
    st.session_state[APPLIED] = nonce
    st.rerun("collectors_record")


def sentence(text: str) -> str:
    """'countback DSO' -> 'Countback DSO' (capitalize() would lower the rest)."""
    return text[:1].upper() + text[1:]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} d"


ctx = widgets.page("Collectors")
db = _cache.collections_db(ctx)
root, version = str(ctx.store.root), ctx.store.version()

controls = st.columns([1.7, 0.9, 2.5, 1.5, 0.7])
period = controls[0].segmented_control(
    "Period",
    list(coaching.PERIODS),
    format_func=coaching.PERIOD_LABELS.get,
    default="month",
    key="collectors_period",
    required=True,
    bind="query-params",
)
threshold = controls[1].number_input(
    "Flag at",
    min_value=1.1,
    max_value=10.0,
    value=coaching.DEFAULT_THRESHOLD,
    step=0.1,
    format="%.1f",
    key="collectors_threshold",
    help="A figure is flagged when it is this many times the team median (bad when high), or this "
    "many times smaller (bad when low).",
)
group = controls[2].segmented_control(
    "Figures", [*GROUPS, ALL], default="Portfolio", key="collectors_group", required=True
)

series_by_collector = _cache.cached_series(ctx, coaching.TREND_MONTHS, by="collector")
series_team = _cache.cached_series(ctx, coaching.TREND_MONTHS)
items = _cache.items_for(ctx)
table = _team_table(
    root,
    version,
    db.data_version(),
    ctx.as_of,
    str(period or "month"),
    ctx.scope,
    float(threshold or coaching.DEFAULT_THRESHOLD),
    _db=db,
    _items=items,
    _series=series_by_collector,
)
if table.rows.is_empty():
    st.info("No collector in this scope: the customers in scope have no collector.")
    st.stop()

shown_columns = (
    [c for c in coaching.ROW_COLUMNS if c != "collector"]
    if group == ALL
    else GROUPS[str(group or "Portfolio")]
)
sort_options = ["flag_count", *shown_columns]
sort_by = controls[3].selectbox(
    "Sort by", sort_options, format_func=lambda c: LABELS.get(c, c), key="collectors_sort"
)
descending = controls[4].toggle("Desc.", value=True, key="collectors_descending")

first_day = table.start + timedelta(days=1)
st.caption(
    f"{coaching.PERIOD_LABELS[table.request.period]} to {table.end.isoformat()} "
    f"({first_day.isoformat()} to {table.end.isoformat()}, {coaching.working_days(table.start, table.end)} "
    f"working days); portfolio figures at {table.end.isoformat()}, ± since {table.start.isoformat()}; "
    f"DSO and ADD at the month end {table.dso_period.isoformat() if table.dso_period else '-'}. "
    f"Flagged: {table.request.threshold:g}x the team median or more for figures bad when high, "
    f"1/{table.request.threshold:g} of it or less for figures bad when low. Amounts in {ctx.currency}."
)

ordered = table.rows.sort(
    [sort_by, "collector"], descending=[bool(descending), False], nulls_last=True
).select("collector", "flag_count", *shown_columns, "flags")
median_row = table.with_median().filter(pl.col("collector") == coaching.TEAM_MEDIAN)
grid = pl.concat(
    [
        ordered.with_columns(
            pl.col(c).cast(pl.Float64) for c in coaching.COUNT_COLUMNS if c in shown_columns
        ),
        median_row.select(ordered.columns),
    ],
    how="vertical_relaxed",
)
names = table.rows.get_column("collector").to_list()
grid_names = grid.get_column("collector").to_list()
nonce = st.session_state.get(NONCE, 0)
shown = st.session_state.get(f"collectors_table_{nonce}")
if shown and shown["selection"]["rows"]:
    # A row was picked: its callback opened that record (or, set without one, it opens now); the
    # table is drawn afresh without the selection, whose row would point elsewhere once re-sorted.
    if st.session_state.get(APPLIED) != nonce:
        choose(st.session_state.get(GRID_NAMES, grid_names), shown["selection"]["rows"], names)
    nonce += 1
    st.session_state[NONCE] = nonce
st.session_state[GRID_NAMES] = grid_names
table_key = f"collectors_table_{nonce}"
_format.dataframe(
    _format.for_display(grid),
    hide_index=True,
    width="stretch",
    column_config=column_config(ctx.currency),
    on_select=functools.partial(picked, table_key, nonce, grid_names, names),
    selection_mode="single-row",
    key=table_key,
)

stem = f"collectors_{table.request.period}_{table.end.isoformat()}"
widgets.export_buttons(
    table.with_median(),
    stem,
    "collectors",
    key="collectors_export",
    sheet="Collectors",
    about=[
        ("Period", f"{first_day.isoformat()} to {table.end.isoformat()}"),
        ("Flagged at", f"{table.request.threshold:g}x the team median"),
    ],
    names=LABELS,
)


# --- the team on one figure ------------------------------------------------------------------------
@st.fragment(key="collectors_team_figure")
def team_on_one_figure(table: coaching.TeamTable, threshold: float) -> None:
    """The team's bar chart on the figure chosen: a choice redraws the chart alone."""
    _runs.record("collectors_team_figure")
    rules = coaching.OUTLIER_RULES
    compared = st.selectbox(
        "Compare the team on",
        list(rules),
        index=list(rules).index("pct_over_90"),
        format_func=lambda figure: sentence(rules[figure].label),
        key="collectors_compare",
    )
    on_figure = table.comparison.filter(pl.col("figure") == compared).sort("collector")
    median = on_figure.get_column("median")[0] if on_figure.height else None
    team_chart = go.Figure(
        go.Bar(
            x=[_format.chart_text(name) for name in on_figure.get_column("collector")],
            y=on_figure.get_column("value").to_list(),
            marker_color=["#c0392b" if f else "#1f4e79" for f in on_figure.get_column("flagged").to_list()],
            hovertext=[_format.chart_text(reason) for reason in on_figure.get_column("reason")],
        )
    )
    if median is not None:
        team_chart.add_hline(y=median, line_dash="dash", line_color="#333", annotation_text="team median")
        limit = median * threshold if rules[compared].bad_when == coaching.HIGH else median / threshold
        team_chart.add_hline(y=limit, line_dash="dot", line_color="#c0392b", annotation_text="flag")
    team_chart.update_layout(
        height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis_title=sentence(rules[compared].label)
    )
    st.plotly_chart(team_chart, width="stretch", key="collectors_team_chart")


team_on_one_figure(table, float(threshold))


# --- a collector's record --------------------------------------------------------------------------
@st.fragment(key="collectors_record")
def collector_record(
    ctx: _session.Context,
    db: collections.CollectionsDB,
    table: coaching.TeamTable,
    items: pl.DataFrame,
    series_by_collector: pl.DataFrame,
    series_team: pl.DataFrame,
    threshold: float,
) -> None:
    """The chosen collector's record: choosing another collector, here or in the team table, reruns
    this alone."""
    _runs.record("collectors_record")
    root, version = str(ctx.store.root), ctx.store.version()
    names = table.rows.get_column("collector").to_list()
    if notice := st.session_state.pop("coaching_notice", None):
        st.success(_format.markdown_text(notice))
    if st.session_state.get(PICK) not in names:
        wanted = st.query_params.get("collector")
        # The collector to coach first: the most flags, then the largest AR.
        st.session_state[PICK] = (
            wanted
            if wanted in names
            else table.rows.sort(["flag_count", "ar"], descending=True).get_column("collector")[0]
        )
    collector = st.selectbox("Collector", names, key=PICK)
    if st.query_params.get("collector") != collector:
        st.query_params["collector"] = collector

    row = table.rows.filter(pl.col("collector") == collector).row(0, named=True)
    medians = table.median.row(0, named=True)
    st.header(f"{_format.markdown_text(collector)}'s record")
    mine = table.comparison.filter(pl.col("collector") == collector)
    flagged = mine.filter(pl.col("flagged")).get_column("reason").to_list()
    if flagged:
        st.warning("Flagged: " + "; ".join(flagged) + ".")
    else:
        st.caption("No figure is flagged against the team median.")

    def versus(name: str, text: Callable[[float | None], str] = percent) -> str:
        return f"team median {text(medians.get(name))}"

    tiles = st.columns(6)
    tiles[0].metric(
        f"AR ({ctx.currency})",
        _format.compact_money(row["ar"]),
        delta=_format.compact_money(row["ar_change"]),
        delta_color="off",
        delta_description="in the period",
    )
    tiles[1].metric(
        "% overdue",
        percent(row["pct_overdue"]),
        delta=None if row["pct_overdue_change"] is None else f"{row['pct_overdue_change']:+.1f} pts",
        delta_color="inverse",
        delta_description="in the period",
        help=versus("pct_overdue"),
    )
    tiles[2].metric(
        f"+90 ({ctx.currency})",
        _format.compact_money(row["over_90"]),
        delta=_format.compact_money(row["over_90_change"]),
        delta_color="inverse",
        delta_description="in the period",
        help=f"+90 share {percent(row['pct_over_90'])}; {versus('pct_over_90')}",
    )

    def against(name: str) -> float | None:
        value, middle = row.get(name), medians.get(name)
        return None if value is None or middle is None else round(float(value) - float(middle), 2)

    tiles[3].metric(
        "CEI",
        percent(row["cei"]),
        delta=against("cei"),
        delta_description="vs team median",
        help=versus("cei"),
    )
    tiles[4].metric(
        "Countback DSO",
        days(row["dso_countback"]),
        delta=against("dso_countback"),
        delta_color="inverse",
        delta_description="vs team median",
        help=versus("dso_countback", days),
    )
    tiles[5].metric(
        "Actions / day",
        "-" if row["actions_per_day"] is None else f"{row['actions_per_day']:.2f}",
        delta=against("actions_per_day"),
        delta_description="vs team median",
        help=versus("actions_per_day", lambda v: "-" if v is None else f"{v:.2f}"),
    )

    # Trends: the portfolio's overdue buckets as shares of its AR, with the team's; CEI and DSO.
    month_ends = tuple(month_ends_before(ctx.as_of, coaching.TREND_MONTHS))
    shares = portfolio_trend(ctx, month_ends, collector)
    kpi = coaching.kpi_trend(series_by_collector, series_team, collector)
    left, right = st.columns(2)
    with left:
        st.subheader("Aging shares, 12 months")
        aging_chart = go.Figure()
        own = shares.filter(pl.col("who") == collector)
        team = shares.filter(pl.col("who") == coaching.TEAM)
        for bucket in contract.bucket_names()[1:]:
            part = own.filter(pl.col("bucket") == bucket)
            aging_chart.add_bar(
                x=part.get_column("month_end").to_list(),
                y=part.get_column("share").to_list(),
                name=f"{aging.bucket_label(bucket)} days",
                marker_color=BUCKET_COLOURS.get(bucket),
            )
        team_overdue = (
            team.filter(pl.col("bucket") != "not_due")
            .group_by("month_end")
            .agg(pl.col("share").sum().round(2))
            .sort("month_end")
        )
        team_over_90 = team.filter(pl.col("bucket") == "over_90").sort("month_end")
        aging_chart.add_scatter(
            x=team_overdue.get_column("month_end").to_list(),
            y=team_overdue.get_column("share").to_list(),
            name="Team % overdue",
            mode="lines+markers",
            line=dict(color="#333", dash="dash"),
        )
        aging_chart.add_scatter(
            x=team_over_90.get_column("month_end").to_list(),
            y=team_over_90.get_column("share").to_list(),
            name="Team +90 share",
            mode="lines",
            line=dict(color="#9b1c1c", dash="dot"),
        )
        aging_chart.update_layout(
            barmode="stack",
            height=360,
            margin=dict(l=10, r=10, t=10, b=10),
            yaxis_title="% of the portfolio's AR",
            legend=dict(orientation="h", y=-0.2),
        )
        st.plotly_chart(aging_chart, width="stretch", key="collectors_aging_trend")
    with right:
        st.subheader("CEI and countback DSO")
        kpi_chart = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
        for who, colour, dash in ((collector, "#1f4e79", "solid"), (coaching.TEAM, "#333", "dash")):
            part = kpi.filter(pl.col("who") == who)
            for position, measure in enumerate(("cei", "dso_countback"), start=1):
                kpi_chart.add_scatter(
                    x=part.get_column("period").to_list(),
                    y=part.get_column(measure).to_list(),
                    name=f"{_format.chart_text(who)} {'CEI %' if measure == 'cei' else 'DSO'}",
                    mode="lines+markers",
                    line=dict(color=colour, dash=dash),
                    row=position,
                    col=1,
                )
        kpi_chart.update_yaxes(title_text="CEI %", row=1, col=1)
        kpi_chart.update_yaxes(title_text="DSO (days)", row=2, col=1)
        kpi_chart.update_layout(
            height=360, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.2)
        )
        st.plotly_chart(kpi_chart, width="stretch", key="collectors_kpi_trend")

    heatmap, breakdown, at_risk = _record(
        root,
        version,
        db.data_version(),
        ctx.as_of,
        table.start,
        collector,
        ctx.scope,
        _ctx=ctx,
        _db=db,
        _items=items,
    )
    left, right = st.columns(2)
    with left:
        st.subheader(f"Actions by day, {coaching.HEATMAP_WEEKS} weeks")
        weeks = heatmap.get_column("week").unique().sort().to_list()
        grid_days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        z = [
            heatmap.filter(pl.col("weekday") == weekday).sort("week").get_column("actions").to_list()
            for weekday in range(7)
        ]
        heat_chart = go.Figure(
            go.Heatmap(
                z=z,
                x=[week.isoformat() for week in weeks],
                y=grid_days,
                colorscale="Blues",
                hovertemplate="week of %{x}, %{y}: %{z} actions<extra></extra>",
                colorbar=dict(title="Actions"),
            )
        )
        heat_chart.update_layout(
            height=320,
            margin=dict(l=10, r=10, t=10, b=10),
            yaxis=dict(autorange="reversed"),
            xaxis_title="Week of",
        )
        st.plotly_chart(heat_chart, width="stretch", key="collectors_heatmap")
    with right:
        st.subheader("Against the team median")
        ratios = mine.filter(pl.col("ratio").is_not_null())
        bound = max(threshold * 2, 4.0)
        labels = [sentence(label) for label in ratios.get_column("label").to_list()]
        shown_ratio = ratios.get_column("ratio").clip(1 / bound, bound).to_list()
        stems_x: list[float | None] = []
        stems_y: list[str | None] = []
        for label, ratio in zip(labels, shown_ratio, strict=True):
            stems_x += [1.0, ratio, None]
            stems_y += [label, label, None]
        comparison_chart = go.Figure()
        comparison_chart.add_scatter(
            x=stems_x, y=stems_y, mode="lines", line=dict(color="#bdc3c7", width=3), hoverinfo="skip"
        )
        comparison_chart.add_scatter(
            x=shown_ratio,
            y=labels,
            mode="markers",
            marker=dict(
                size=12, color=["#c0392b" if f else "#1f4e79" for f in ratios.get_column("flagged").to_list()]
            ),
            customdata=list(
                zip(
                    ratios.get_column("ratio").to_list(),
                    ratios.get_column("value").to_list(),
                    ratios.get_column("median").to_list(),
                    strict=True,
                )
            ),
            hovertemplate="%{y}: %{customdata[0]:.2f}x the median (%{customdata[1]:.2f} vs "
            "%{customdata[2]:.2f})<extra></extra>",
        )
        for x, dash, colour in (
            (1, "dash", "#333"),
            (threshold, "dot", "#c0392b"),
            (1 / threshold, "dot", "#c0392b"),
        ):
            comparison_chart.add_vline(x=x, line_color=colour, line_dash=dash)
        span = math.log10(bound) + 0.05
        ticks = sorted({1 / bound, 1 / threshold, 1.0, threshold, bound})
        comparison_chart.update_layout(
            height=320,
            showlegend=False,
            margin=dict(l=10, r=10, t=10, b=10),
            xaxis=dict(
                type="log",
                title="x the team median (red: flagged)",
                range=[-span, span],
                tickvals=ticks,
                ticktext=[f"{tick:g}x" for tick in ticks],
            ),
            yaxis=dict(autorange="reversed"),
        )
        st.plotly_chart(comparison_chart, width="stretch", key="collectors_comparison")

    with st.expander(f"Actions by type and outcome ({row['actions']} in the period)"):
        _format.dataframe(
            breakdown,
            hide_index=True,
            width="stretch",
            key="collectors_breakdown",
            column_config={
                "action_type": st.column_config.TextColumn("Action"),
                "outcome": st.column_config.TextColumn("Outcome"),
                "actions": st.column_config.NumberColumn("Actions", format="%d"),
                "per_day": st.column_config.NumberColumn("Per working day", format="%.2f"),
            },
        )

    st.subheader("Customers at risk")
    st.caption("Overdue customers with an amount over 90 days, a broken promise, or no contact for 30 days.")
    if at_risk.is_empty():
        st.info("No customer at risk in this portfolio.")
    else:
        _format.dataframe(
            _format.for_display(at_risk.head(15)),
            hide_index=True,
            width="stretch",
            key="collectors_at_risk",
            column_config={
                "customer_id": st.column_config.TextColumn("Id"),
                "customer_name": st.column_config.TextColumn("Customer"),
                "overdue": _format.money_column(f"Overdue ({ctx.currency})"),
                "over_90": _format.money_column(f"+90 ({ctx.currency})"),
                "broken_promises": st.column_config.NumberColumn("Broken promises", format="%d"),
                "last_contact": st.column_config.DateColumn("Last contact"),
                "days_since_contact": st.column_config.NumberColumn("Days since", format="%d"),
                "reasons": st.column_config.TextColumn("Why"),
            },
        )
        if at_risk.height > 15:
            st.caption(f"The 15 at most risk of {at_risk.height}.")

    # --- coaching notes --------------------------------------------------------------------------------
    st.subheader("Coaching notes")
    notes = coaching_notes.notes(db, collectors=[collector], until=ctx.as_of)
    outcomes = _outcomes(
        root,
        version,
        db.data_version(),
        tuple(notes.get_column("note_id").to_list()),
        ctx.as_of,
        collector,
        ctx.scope,
        _db=db,
    )
    if outcomes.is_empty():
        st.caption(f"No note on {_format.markdown_text(collector)} yet.")
    else:
        described = [
            ""
            if row["metric"] is None
            else coaching.describe_objective(row["metric"], row["comparison"], row["target"], row["due_date"])
            for row in outcomes.iter_rows(named=True)
        ]
        listed = outcomes.with_columns(pl.Series("objective_text", described, dtype=pl.String)).select(
            "note_date",
            "user_name",
            "objective_text",
            "measured_on",
            "value",
            pl.col("status").fill_null(""),
            pl.col("text").fill_null(""),
            pl.col("comment").fill_null(""),
        )
        _format.dataframe(
            listed,
            hide_index=True,
            width="stretch",
            key="collectors_notes",
            column_config={
                "note_date": st.column_config.DateColumn("Written"),
                "user_name": st.column_config.TextColumn("By"),
                "objective_text": st.column_config.TextColumn("Objective"),
                "measured_on": st.column_config.DateColumn("Measured at"),
                "value": st.column_config.NumberColumn("Measured", format="%,.2f"),
                "status": st.column_config.TextColumn(
                    "Outcome", help="met / missed once due; pending before (measured as of now)"
                ),
                "text": st.column_config.TextColumn("In words"),
                "comment": st.column_config.TextColumn("Note"),
            },
        )

    default_due = (
        kpis.month_end(ctx.as_of) if kpis.month_end(ctx.as_of) > ctx.as_of else kpis.month_end(ctx.as_of, 1)
    )
    with st.form("coaching_note_form", clear_on_submit=True):
        st.markdown(
            f"**New note on {_format.markdown_text(collector)}** (recorded as "
            f"{_format.markdown_text(_session.user_name())}, dated {ctx.as_of.isoformat()})"
        )
        comment = st.text_area("Note", key="coaching_comment", height=80)
        st.caption("Objectives for the next period, measured on the due date:")
        objective_fields = []
        for position in range(OBJECTIVE_ROWS):
            cells = st.columns([2, 0.8, 1.2, 1.2, 2.5])
            metric = cells[0].selectbox(
                "Metric",
                [NO_METRIC, *coaching_notes.OBJECTIVE_METRICS],
                format_func=lambda m: m if m == NO_METRIC else coaching.OBJECTIVE_LABELS[m],
                key=f"coaching_metric_{position}",
                label_visibility="visible" if position == 0 else "collapsed",
            )
            comparison = cells[1].selectbox(
                "Is",
                list(coaching_notes.COMPARISONS),
                key=f"coaching_comparison_{position}",
                label_visibility="visible" if position == 0 else "collapsed",
            )
            target = cells[2].number_input(
                "Target",
                value=None,
                step=1.0,
                key=f"coaching_target_{position}",
                label_visibility="visible" if position == 0 else "collapsed",
            )
            due = cells[3].date_input(
                "Due",
                value=default_due,
                min_value=ctx.as_of,
                key=f"coaching_due_{position}",
                label_visibility="visible" if position == 0 else "collapsed",
            )
            text = cells[4].text_input(
                "In words",
                key=f"coaching_text_{position}",
                placeholder="e.g. +90 under 50k by month end",
                label_visibility="visible" if position == 0 else "collapsed",
            )
            objective_fields.append((metric, comparison, target, due, text))
        saved = st.form_submit_button(
            "Save note",
            type="primary",
            key="coaching_save",
            disabled=not _session.can(access.COACH),
            help=None if _session.can(access.COACH) else _session.refusal(access.COACH),
        )
    if saved:
        _session.require(access.COACH)
        objectives = tuple(
            coaching_notes.Objective(
                metric=metric,
                comparison=comparison,
                target=None if target is None else Decimal(str(round(target, 2))),
                due_date=due,
                text=text,
            )
            for metric, comparison, target, due, text in objective_fields
            if metric != NO_METRIC
        )
        try:
            coaching_notes.add_note(
                db,
                coaching_notes.CoachingNote(collector, comment, objectives, period=table.request.period),
                store=ctx.store,
                as_of=ctx.as_of,
                scope=ctx.scope,
                user=_session.user_name(),
            )
        except collections.CollectionsRefused as refused:
            st.error(
                "Refused, nothing was written:\n"
                + "\n".join(f"- {_format.markdown_text(m)}" for m in refused.messages)
            )
        else:
            count = len(objectives)
            _session.audit("write", f"coaching note on {collector} with {count} objective(s)")
            st.session_state["coaching_notice"] = (
                f"Note on {collector} saved with {count} objective{'s' if count != 1 else ''}."
            )
            st.rerun()


collector_record(ctx, db, table, items, series_by_collector, series_team, float(threshold))
