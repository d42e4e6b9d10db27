"""The aging balance page: headline figures, buckets by group, the drill table, the rejuvenation view
and exports. Every figure comes from analytics.aging.

Everything below the title is one fragment (`aging_balance`): a click on a control, a drill row's
name, a breadcrumb step, a chart segment or a tab reruns it alone, never the app and its sidebar. A
click acts before anything is drawn (a drill row's name or a breadcrumb step in its callback, a chart
segment at the fragment's start), so that each costs one run. A drill row opens by a button in its
name cell, not by selecting the row: the grid sends a row selection 150 ms after the click, a button
at once. The drill state is kept in session state and written to the address in the same callback;
the address wins when they differ (a shared link, the browser's back button, a reload)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from analytics import aging, contract, kpis, revaluation
from analytics.item_states import STATES
from analytics.labels import aging_about
from analytics.labels import column as column_label
from pages import _cache, _format, _paging, _panel, _runs, _session, widgets

BUCKET_PRESETS = ["30,60,90", "30,60,90,120", "15,30,60,90", "Custom"]
BEYOND = {"All items": 0, "+30": 30, "+60": 60, "+90": 90}
AGE_BY = {"due date": contract.AGE_BY_DUE, "document date": contract.AGE_BY_DOCUMENT}
BUCKET_COLORS = ["#4c9a2a", "#f2c94c", "#f2994a", "#eb5757", "#b0413e", "#7b2d26", "#4a1c17"]
SETTLED_LABELS = {"paid": "Paid", "credited": "Credited", "written_off": "Written off"}
FRAGMENT = "aging_balance"
# The drill steps ("level=value", as in the address) and the counters that renew the document
# table's and the chart's keys, so that a new view opens with no item selected and a clicked segment
# is not clicked again. The chart and the tables above the documents (they select nothing) keep their
# keys through a drill: the browser updates them instead of drawing them anew.
DRILL = "aging_drill"
NONCE = "drill_nonce"
CHART_NONCE = "aging_chart_nonce"
# The click on a drill row's name (a ButtonColumn's trigger: {row, label}, this run only).
OPEN_ROW = "drill_open"
# What the last run drew that a click acts on: the chart (key, bucket names).
CHARTED = "aging_charted"
# Rows sent to the browser at once: a page of the drill table (the export has every row).
PAGE_ROWS = 1_000


# --- drill state: session state, mirrored in the address --------------------------------------------
def drill_steps(path: Sequence[str]) -> list[tuple[str, str]]:
    """The drill steps that follow `path` (others are dropped). The address replaces the session's
    steps when they differ: it is what a shared link, the back button or a reload brings."""
    in_address = st.query_params.get_all("drill")
    if st.session_state.get(DRILL) != in_address:
        st.session_state[DRILL] = list(in_address)
    steps: list[tuple[str, str]] = []
    for raw in st.session_state[DRILL]:
        level, _, value = raw.partition("=")
        if len(steps) < len(path) - 1 and path[len(steps)] == level and value:
            steps.append((level, value))
        else:
            break
    return steps


def go_to(steps: Sequence[tuple[str, str]]) -> None:
    """Callback: show the level after `steps`, in session state and in the address (no second run)."""
    encoded = [f"{level}={value}" for level, value in steps]
    st.session_state[DRILL] = encoded
    if encoded:
        st.query_params["drill"] = encoded
    elif "drill" in st.query_params:
        del st.query_params["drill"]
    st.session_state[NONCE] = st.session_state.get(NONCE, 0) + 1


def selected(key: str, part: str) -> list:
    """The rows or points selected in the table or chart of `key` (a plain dict when a test sets it)."""
    event = st.session_state.get(key) or {}
    return list((event.get("selection") or {}).get(part) or [])


def open_row(steps: Sequence[tuple[str, str]], level: str, values: Sequence[str]) -> None:
    """Callback of a drill row's name: open the next level on the row clicked (`values` are the level's
    values of the rows drawn, by the row's position in the data sent, whatever the grid's sort)."""
    click = st.session_state.get(OPEN_ROW)
    if click is not None and 0 <= click["row"] < len(values):
        go_to([*steps, (level, values[click["row"]])])


def button_text(column: str) -> pl.Expr:
    """A column's values as ButtonColumn labels, shown as written: the grid reads a leading
    ':material/...:' as an icon and a '[...]' label as a menu; an invisible word joiner in front keeps
    them text."""
    text = pl.col(column).cast(pl.String)
    markup = text.str.starts_with(":") | text.str.starts_with("[")
    return pl.when(markup).then(pl.lit(_format.WORD_JOINER) + text).otherwise(text).alias(column)


def act_on_clicks() -> None:
    """A chart segment selected in the previous run acts now, before anything is drawn, so that the
    click costs this one run (the old chart is not drawn again)."""
    chart = st.session_state.get(CHARTED)
    if chart:
        key, names = chart
        points = selected(key, "points")
        if points:
            chosen = points[0].get("customdata")
            if chosen not in names:
                chosen = names[points[0].get("curve_number", 0)]
            # Set before the pills are drawn: the clicked segment becomes the bucket filter.
            st.session_state["bucket_filter"] = [chosen]
            for counter in (NONCE, CHART_NONCE):
                st.session_state[counter] = st.session_state.get(counter, 0) + 1
    st.session_state[CHARTED] = None


# --- the parts -------------------------------------------------------------------------------------
def headline(ctx, request: aging.AgingQuery, now_figures: dict, then_figures: dict, compare_with: date):
    metric_columns = st.columns(6)
    for column, (key, label) in zip(
        metric_columns,
        [
            ("total", f"Total AR ({ctx.currency})"),
            ("not_due", "Not due"),
            ("overdue", "Overdue"),
            ("overdue_share", "% overdue"),
            ("over_30", "+30 days"),
            ("over_90", "+90 days"),
        ],
        strict=True,
    ):
        value, before = now_figures[key], then_figures[key]
        if key == "overdue_share":
            column.metric(label, f"{value}%", f"{value - before:+.1f} pts", delta_color="inverse")
        else:
            column.metric(
                label,
                _format.compact_money(value),
                f"{value - before:+,.2f}",
                delta_color="normal" if key in ("total", "not_due") else "inverse",
                help=f"{_format.money(value, ctx.currency)}; change since {compare_with.isoformat()}",
            )
    st.caption(
        f"As of {ctx.as_of.isoformat()} · compared with {compare_with.isoformat()} · "
        f"{_format.markdown_text(ctx.scope.describe())}"
        + (f" · items more than {request.overdue_beyond} days past due" if request.overdue_beyond else "")
    )


def breadcrumb(drill: list[tuple[str, str]]) -> None:
    """Each step goes back up to it."""
    crumbs = st.columns(len(drill) + 2)
    crumbs[0].button("All", key="crumb_all", disabled=not drill, type="tertiary", on_click=go_to, args=([],))
    for position, (step_level, value) in enumerate(drill):
        crumbs[position + 1].button(
            f"{contract.DIMENSION_LABELS[step_level]}: {_format.markdown_text(value)}",
            key=f"crumb_{position}",
            disabled=position == len(drill) - 1,
            type="tertiary",
            on_click=go_to,
            args=(drill[: position + 1],),
        )


def chart(result: aging.Aging, level: str, names: list[str], labels: dict[str, str]) -> None:
    """The largest 15 groups, one stacked bar each: aggregates only, whatever the item count."""
    label_column = "customer_name" if level == aging.CUSTOMER else aging.level_key(level)
    top = result.rows.head(15)
    figure = go.Figure()
    for position, name in enumerate(names):
        figure.add_bar(
            name=labels[name],
            x=[
                _format.chart_text(x)
                for x in top.get_column(label_column).cast(pl.String).fill_null("(none)")
            ],
            y=top.get_column(name).cast(pl.Float64).to_list(),
            marker_color=BUCKET_COLORS[position % len(BUCKET_COLORS)],
            customdata=[name] * top.height,
            hovertemplate="%{x}<br>" + labels[name] + ": %{y:,.2f}<extra></extra>",
        )
    figure.update_layout(
        barmode="relative",
        height=340,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.1, x=0),
        yaxis=dict(tickformat=",.0f"),
    )
    chart_key = f"aging_chart_{st.session_state.get(CHART_NONCE, 0)}"
    st.session_state[CHARTED] = (chart_key, names)
    st.plotly_chart(figure, key=chart_key, on_select="rerun", selection_mode="points", width="stretch")


def revalued(ctx, figures: dict[str, Decimal]) -> None:
    """The booked total of the revalued items and their revaluation, beside the headline."""
    booked, change = st.columns(6)[:2]
    booked.metric(
        f"Booked ({ctx.currency})",
        _format.compact_money(figures["booked"]),
        help=f"{_format.money(figures['booked'], ctx.currency)} at the rates the documents were booked at",
    )
    change.metric(
        "Revaluation",
        f"{figures['revaluation']:+,.2f}",
        help="Total AR at the latest rates on or before the date, less the booked total",
    )


def column_config(ctx, names: list[str], labels: dict[str, str]) -> dict:
    config = {name: _format.money_column(labels[name]) for name in names}
    return config | {
        "total": _format.money_column("Total"),
        "overdue": _format.money_column("Overdue"),
        "open_amount": _format.money_column("Open (doc. currency)"),
        "open_amount_functional": _format.money_column(f"Open ({ctx.currency})"),
        "open_amount_booked": _format.money_column(f"Booked ({ctx.currency})"),
        "revaluation": _format.money_column("Revaluation"),
        "share": st.column_config.NumberColumn("% of total", format="%.1f%%"),
        "items": st.column_config.NumberColumn("Items", format="%d"),
        "days_past_due": st.column_config.NumberColumn("Days past due", format="%d"),
        "customer_name": st.column_config.TextColumn("Customer"),
        "customer_id": st.column_config.TextColumn("Customer id"),
        "state": st.column_config.TextColumn("Qualification"),
        "promise_status": st.column_config.TextColumn("Promise"),
        "next_action_date": st.column_config.DateColumn("Next action"),
        "document_date": st.column_config.DateColumn("Date"),
        "due_date": st.column_config.DateColumn("Due"),
        "document_id": st.column_config.TextColumn("Document"),
        "installment": st.column_config.NumberColumn("Installment", format="%d"),
        "document_type": st.column_config.TextColumn("Type"),
        "currency": st.column_config.TextColumn("Cur."),
    }


def with_states(ctx, rows: pl.DataFrame) -> pl.DataFrame:
    """Document rows with their collections state (qualification, promise, next action)."""
    states = _cache.item_states(ctx).select("document_id", "state", "promise_status", "next_action_date")
    # A document is qualified as a whole: its installments share its state (one row each).
    states = states.unique("document_id", keep="first", maintain_order=True)
    return rows.join(states, on="document_id", how="left", maintain_order="left").with_columns(
        pl.col("state").fill_null("none")
    )


def drill_table(ctx, about, result, level, path, drill, names, labels) -> None:
    """The rows of the level, a page at a time; a row opens the next level (documents: the side panel)."""
    keys = [
        name for name in result.rows.columns if name in (*aging.level_keys(level), *aging.REVALUED_COLUMNS)
    ]
    shown = result.rows.select(*keys, *names, "total", "overdue", "items", "share")
    if level == aging.DOCUMENT:
        shown = shown.sort(
            ["days_past_due", "document_id", "installment"], descending=[True, False, False], nulls_last=True
        )
    nonce = st.session_state.get(NONCE, 0)
    next_level = "" if level == path[-1] else contract.DIMENSION_LABELS[path[len(drill) + 1]].lower()
    st.caption(
        f"{shown.height:,} {contract.DIMENSION_LABELS[level].lower()} row(s) · total "
        f"{_format.money(result.total, ctx.currency)}"
        + (f" · click a row's name to open its {next_level} level" if next_level else "")
    )
    order = "oldest" if level == aging.DOCUMENT else "largest"
    view = _paging.paged(
        shown,
        key=f"drill_page_{nonce}",
        rows=PAGE_ROWS,
        note=f", {order} first: page through them or narrow them with the filters; the export has them all",
    )
    rows, page = view.rows, view.number
    if level == aging.DOCUMENT:
        rows = with_states(ctx, rows)
    config = column_config(ctx, names, labels)
    display = _format.for_display(rows)
    if level == aging.DOCUMENT:
        # Items are selected for the side panel: a new view (its nonce) starts with none selected.
        selection = _format.dataframe(
            display,
            hide_index=True,
            width="stretch",
            column_config=config,
            on_select="rerun",
            selection_mode="multi-row",
            key=f"drill_table_{nonce}_{page}",
        )
    else:
        # The name cell is the drill's button (the customer's name at the customer level, first).
        name = "customer_name" if level == aging.CUSTOMER else aging.level_key(level)
        if level == aging.CUSTOMER:
            display = display.select(name, pl.exclude(name))
        can_drill = len(drill) < len(path) - 1
        if can_drill:
            values = [str(value) for value in rows.get_column(aging.level_key(level)).to_list()]
            display = display.with_columns(button_text(name))
            config[name] = st.column_config.ButtonColumn(
                config[name]["label"] if name in config else column_label(name),
                type="tertiary",
                alignment="left",
                help=f"Open the {next_level} level of this row",
                on_click=open_row,
                args=(drill, level, values),
                key=OPEN_ROW,
            )
        selection = None
        # A table that selects nothing has no element id, so no key class: its container gives it one.
        with st.container(key=f"drill_table_{page}"):
            _format.dataframe(display, hide_index=True, width="stretch", column_config=config)
    if level == aging.DOCUMENT:
        picked = selection.selection.rows if selection and selection.selection else []
        _panel.panel_button(ctx, [rows.get_column("document_id")[row] for row in picked], key="aging_panel")

    def table() -> pl.DataFrame:
        return with_states(ctx, shown) if level == aging.DOCUMENT else shown

    stem = f"aging_{level}_{ctx.as_of.isoformat()}"
    widgets.export_buttons(table, stem, "aging table", key="aging_export", about=about)


def rejuvenation(ctx, items, items_then, request, request_then, result, level, names, labels, compare_with):
    """What moved since the comparison date: sentences, roll rates, the month-end trend, changes by group."""
    changes = aging.change(aging.aging(items_then, request_then), result)
    last = names[-1]
    for bucket, label in ((last, labels[last]), ("overdue", "Overdue")):
        if sentence := aging.what_moved(changes, level, bucket, label, compare_with):
            st.markdown(f"- {_format.markdown_text(sentence)}")

    st.subheader(f"Roll rates from {compare_with.isoformat()} to {ctx.as_of.isoformat()}")
    matrix = aging.roll_rates(
        ctx.store,
        aging.select_items(items_then, request_then),
        aging.select_items(items, request),
        compare_with,
        ctx.as_of,
        request.buckets,
        settled=_cache.settlements_between(ctx, compare_with, ctx.as_of),
    )
    columns_now = [*names, *aging.SETTLED_COLUMNS]
    amounts = matrix.select(columns_now).cast(pl.Float64).to_numpy()
    totals_then = matrix.get_column("amount_then").cast(pl.Float64).to_numpy()
    shares = [
        [(value / total * 100 if total else 0.0) for value in row]
        for row, total in zip(amounts, totals_then, strict=True)
    ]
    heatmap = go.Figure(
        go.Heatmap(
            z=shares,
            x=[labels.get(c, SETTLED_LABELS.get(c, c)) for c in columns_now],
            y=[f"{labels[b]} ({t:,.0f})" for b, t in zip(names, totals_then, strict=True)],
            text=[
                [f"{s:.0f}%<br>{a:,.0f}" for s, a in zip(srow, arow, strict=True)]
                for srow, arow in zip(shares, amounts, strict=True)
            ],
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar=dict(title="% of row"),
        )
    )
    heatmap.update_layout(
        height=360,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis_title=f"At {ctx.as_of.isoformat()}",
        yaxis_title=f"At {compare_with.isoformat()}",
        yaxis=dict(autorange="reversed"),
    )
    st.plotly_chart(heatmap, width="stretch", key="roll_rates")

    st.subheader("Aging trend at month ends (shares)")
    months = st.segmented_control("Months", [12, 24], default=12, key="trend_months", required=True)
    month_ends = [d for d in ctx.manifest.month_ends if d <= ctx.as_of][-int(months or 12) :]
    series = _cache.cached_trend(ctx, tuple(month_ends), request.buckets)
    area = go.Figure()
    for position, name in enumerate(names):
        part = series.filter(pl.col("bucket") == name)
        area.add_scatter(
            x=part.get_column("month_end").to_list(),
            y=part.get_column("share").to_list(),
            name=labels[name],
            stackgroup="shares",
            mode="lines",
            line=dict(width=0.5, color=BUCKET_COLORS[position % len(BUCKET_COLORS)]),
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}%<extra>" + labels[name] + "</extra>",
        )
    area.update_layout(
        height=340, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(ticksuffix="%", range=[0, 100])
    )
    st.plotly_chart(area, width="stretch", key="trend_chart")

    st.subheader(f"Change by {contract.DIMENSION_LABELS[level].lower()}")
    change_columns = [c for c in changes.columns if c.startswith(("total_", "overdue_", f"{last}_"))]
    keys = [c for c in changes.columns if not c.endswith(("_then", "_now", "_change"))]
    _format.dataframe(
        _format.for_display(changes.select(*keys, *change_columns).head(2_000)),
        hide_index=True,
        width="stretch",
        column_config={
            **{k: st.column_config.TextColumn(column_label(k)) for k in keys},
            **{c: _format.money_column(c.replace("_", " ")) for c in change_columns},
        },
        key="change_table",
    )


@st.fragment
def aging_balance() -> None:
    """The controls, the headline and the two tabs: what every click on the page changes."""
    _runs.record(FRAGMENT)
    ctx = _session.context()
    act_on_clicks()
    controls = st.columns([1.1, 2.0, 1.2, 2.2])
    preset = controls[0].selectbox("Buckets (days)", BUCKET_PRESETS, key="buckets", bind="query-params")
    buckets_text = preset
    if preset == "Custom":
        buckets_text = controls[0].text_input("Boundaries", "30,60,90,120,180", key="custom_buckets")
    try:
        boundaries = contract.parse_boundaries(buckets_text)
    except ValueError as error:
        st.error(_format.markdown_text(error))
        return
    beyond_label = controls[1].segmented_control(
        "Overdue beyond", list(BEYOND), default="All items", key="beyond", bind="query-params", required=True
    )
    age_by_label = controls[1].segmented_control(
        "Age by",
        list(AGE_BY),
        default="due date",
        key="age_by",
        bind="query-params",
        required=True,
        help="Due date: buckets by days past due. Document date: buckets by days since the document's date "
        "(overdue is still by due date).",
    )
    age_by = AGE_BY[age_by_label or "due date"]
    revalue = controls[1].toggle(
        "Revalue at the latest rates",
        key="revalue",
        help="Value open items in another currency at the latest exchange rate on or before the date "
        "(Data: the exchange rates file); the booked amount and the revaluation are shown beside.",
    )
    compare_with = controls[2].date_input(
        "Compare with",
        value=kpis.month_end(ctx.as_of, -1),
        key="compare",
        format="YYYY-MM-DD",
        help="Headline changes and the rejuvenation view compare the as-of date with this date.",
    )
    path = controls[3].multiselect(
        "Drill path",
        list(aging.LEVELS),
        default=list(aging.DEFAULT_DRILL_PATH),
        format_func=lambda level: contract.DIMENSION_LABELS[level],
        key="path",
        bind="query-params",
        help="The levels a selected row opens, in order.",
    )
    if not path:
        path = list(aging.DEFAULT_DRILL_PATH)
    names = contract.bucket_names(boundaries, age_by)
    labels = {name: aging.bucket_label(name) for name in names}

    with st.expander("More filters"):
        filter_columns = st.columns(3)
        document_types = filter_columns[0].multiselect(
            "Document types", list(contract.OPEN_ITEM_TYPES), key="document_types", placeholder="All types"
        )
        min_amount = filter_columns[1].number_input(
            f"Minimum open amount ({ctx.currency})", min_value=0.0, value=0.0, step=100.0, key="min_amount"
        )
        qualification_filter = filter_columns[2].multiselect(
            "Qualification",
            list(STATES),
            format_func=_format.label,
            key="qualification_filter",
            placeholder="Any qualification",
            help="Only the items whose current qualification is one of these (none: not qualified).",
        )

    # The bucket filter: pills, also set by clicking a bar segment of the chart.
    st.session_state["bucket_filter"] = [b for b in st.session_state.get("bucket_filter", []) if b in names]
    bucket_filter = st.pills(
        "Bucket filter",
        names,
        selection_mode="multi",
        format_func=lambda name: labels[name],
        key="bucket_filter",
        help="Show only the items in these buckets. Click a segment of the chart to choose one.",
    )

    drill = drill_steps(path)
    level = path[len(drill)] if len(drill) < len(path) else path[-1]
    request = aging.AgingQuery(
        as_of=ctx.as_of,
        by=level,
        buckets=boundaries,
        scope=ctx.scope,
        drill=tuple(drill),
        bucket_filter=tuple(bucket_filter or ()),
        overdue_beyond=BEYOND[beyond_label or "All items"],
        document_types=tuple(document_types),
        min_amount=Decimal(str(min_amount)) if min_amount else None,
        age_by=age_by,
    )
    try:
        items = _cache.items_for(ctx, revalue=revalue)
        items_then = _cache.items_for(ctx, compare_with, revalue=revalue)
    except revaluation.MissingRate as missing:
        st.error(_format.markdown_text(missing))
        return
    if qualification_filter:
        qualified = _cache.item_states(ctx).filter(pl.col("state").is_in(qualification_filter))
        items = items.join(qualified.select("document_id"), on="document_id", how="semi")
    request_then = aging.AgingQuery(**{**request.__dict__, "as_of": compare_with})
    about = aging_about(request)
    if qualification_filter:
        about.append(("Qualifications", ", ".join(_format.label(state) for state in qualification_filter)))

    headline(
        ctx, request, aging.headline(items, request), aging.headline(items_then, request_then), compare_with
    )
    if revalue:
        revalued(ctx, aging.revaluation_headline(items, request))
    result = aging.aging(items, request)
    # Only the open tab runs (a tab switch reruns this fragment).
    balance_tab, rejuvenation_tab = st.tabs(["Balance", "Rejuvenation"], key="aging_tabs", on_change="rerun")
    if balance_tab.open:
        with balance_tab:
            breadcrumb(drill)
            if result.rows.is_empty():
                st.info(
                    "No open items match these filters. Clear the bucket filter or widen the scope in the sidebar."
                )
            else:
                if level != aging.DOCUMENT:
                    chart(result, level, names, labels)
                drill_table(ctx, about, result, level, path, drill, names, labels)
    if rejuvenation_tab.open:
        with rejuvenation_tab:
            if age_by != contract.AGE_BY_DUE:
                # Roll rates move items between days-past-due buckets: a view by due date only.
                st.info("The rejuvenation view ages items by due date: choose Age by: due date to see it.")
                return
            rejuvenation(
                ctx, items, items_then, request, request_then, result, level, names, labels, compare_with
            )


ctx = widgets.page("Aging balance", notices=True)
aging_balance()
