"""Coaching the collectors: each collector's portfolio, results and activity over a period beside the
team's median, the outliers among them, a collector's record (trends, activity by day, customers at
risk) and the outcome of the objectives set in coaching notes.

A collector's portfolio is the customers in scope whose `collector` dimension is that collector
(customers with no collector belong to no row and do not weigh on the median). Every figure of a row is
about that portfolio, whoever logged the work on it: the team lead compares portfolios like for like.

The period (CoachingQuery.period) ends on the as-of date: `week` is the 7 days to it; `month` the month to
it, from the same day of the month before (from the previous month end when the as-of date is a month
end, so that a month end gives the calendar month); `quarter` the 3 months to it, likewise. Balances "at
the start" stand at the end of `start`, the day before the period's first day; flows count when dated
after `start` and on or before the end.

Figures of a row (ROW_COLUMNS):

Portfolio, at the period's end, with their change since its start (`*_change`: end - start, in points
for the shares): customers (with an open item), ar, overdue (days past due > 0), over_30, over_90,
pct_overdue and pct_over_90 (% of ar; null when ar <= 0).

Results over the period:
- cash_collected: cash payments of the portfolio (applied to documents or on account);
- cei: (AR at the start + sales - AR at the end) / (AR at the start + sales - current AR at the end) x 100
  over the period (kpis.month_figures' cei; over a quarter its cei_quarterly, the CRF convention), sales being the
  documents dated in the period: with a month period ending on a month end it is the month's CEI of
  kpis.month_end_series;
- dso_countback and add: kpis.month_end_series(by="collector") at the last month end on or before the end
  (`TeamTable.dso_period`): DSO is a month-end figure;
- overdue_reduced and over_90_reduced: cash and credit notes applied in the period to the items overdue
  (over 90 days past due) at its start, each capped at the item's open amount then: what came in of what
  was already late, whatever fell overdue meanwhile (the `*_change` columns give the net move); write-offs
  are not counted there but in write_offs;
- promises_obtained (recorded in the period); promises_kept and promises_broken (deadline in the period,
  decided at its end, as on the disputes page) and promise_kept_rate = kept / (kept + broken) x 100;
- disputes_resolved in the period and avg_resolution_days (from the dispute to its resolution);
- write_offs: amounts written off in the period.

Activity over the period:
- working_days (Monday to Friday, no holiday calendar), actions, actions_per_day, and per working day
  calls, emails and letters (letters and registered letters);
- reach_rate = calls reached (outcome reached, promise_obtained or dispute_raised) / calls x 100;
- coverage_14 and coverage_30: % of the overdue amount at the end (items with a positive open amount)
  whose customer had an action in the 14 / 30 days to the end;
- untouched_items, untouched_amount, untouched_share: overdue items at the end that nothing touched (no
  qualification event, no action naming them, no action on their customer naming no item after their due
  date); the share is in % of the overdue amount;
- late_next_actions: customers with overdue items whose latest action set a next action date before the
  end, with nothing logged since (the late entries of the collector's agenda).

Outliers (the rule): for each figure of OUTLIER_RULES, ratio = value / team median, where the team median
is the median of the collectors' rows. A ratio needs a median > 0 and a value >= 0: otherwise no ratio and
no flag. A figure bad when high is flagged when ratio >= threshold, a figure bad when low when
ratio <= 1 / threshold (threshold 2: twice the median, or half of it). The reason says it in words:
"+90 share 2.0x the team median (31.00% vs 15.50%)". Amounts are never flagged (a bigger portfolio is not
a worse one): their shares are.

Objectives of coaching notes (coaching_notes.Objective) are measured on the collector's row of the figures
over the window from the note's date to the objective's due date, or to the as-of date while it is not
due: amounts and shares at the window's end, the kept rate and actions per day over the window. Status:
`met` or `missed` once due, `pending` before (with the value as of now), `no figure` where the figure is
undefined at the due date (e.g. a kept rate with no promise decided).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl

from analytics import coaching_notes, contract, kpis
from analytics.aging import AMOUNT, aged_items, bucket_expression
from analytics.collections import CollectionsDB
from analytics.disputes import dispute_resolutions, months_back
from analytics.item_states import item_states
from analytics.promises import PROMISE_GRACE_DAYS, promise_outcomes, settle_promises
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store, query

PERIODS = ("week", "month", "quarter")
PERIOD_LABELS = {"week": "Week", "month": "Month", "quarter": "Quarter"}
PERIOD_MONTHS = {"month": 1, "quarter": 3}
WEEK_DAYS = 7
DEFAULT_THRESHOLD = 2.0
COVERAGE_DAYS = (14, 30)
NO_CONTACT_DAYS = 30
HEATMAP_WEEKS = 13
TREND_MONTHS = 12
# Outcomes of a call that count as reaching the customer (as collector_activity counts them).
REACHED = ("reached", "promise_obtained", "dispute_raised")
LETTERS = ("letter", "registered_letter")
TEAM = "Team"
TEAM_MEDIAN = "Team median"
HIGH, LOW = "high", "low"
ZERO = Decimal("0.00")
STATUSES = ("met", "missed", "pending", "no figure")

PORTFOLIO_COLUMNS = (
    "customers",
    "customers_change",
    "ar",
    "ar_change",
    "overdue",
    "overdue_change",
    "over_30",
    "over_30_change",
    "over_90",
    "over_90_change",
    "pct_overdue",
    "pct_overdue_change",
    "pct_over_90",
    "pct_over_90_change",
)
RESULT_COLUMNS = (
    "cash_collected",
    "cei",
    "dso_countback",
    "add",
    "overdue_reduced",
    "over_90_reduced",
    "promises_obtained",
    "promises_kept",
    "promises_broken",
    "promise_kept_rate",
    "disputes_resolved",
    "avg_resolution_days",
    "write_offs",
)
ACTIVITY_COLUMNS = (
    "working_days",
    "actions",
    "actions_per_day",
    "calls_per_day",
    "emails_per_day",
    "letters_per_day",
    "reach_rate",
    "coverage_14",
    "coverage_30",
    "untouched_items",
    "untouched_amount",
    "untouched_share",
    "late_next_actions",
)
ROW_COLUMNS = ("collector", *PORTFOLIO_COLUMNS, *RESULT_COLUMNS, *ACTIVITY_COLUMNS)
MONEY_COLUMNS = (
    "ar",
    "ar_change",
    "overdue",
    "overdue_change",
    "over_30",
    "over_30_change",
    "over_90",
    "over_90_change",
    "cash_collected",
    "overdue_reduced",
    "over_90_reduced",
    "write_offs",
    "untouched_amount",
)
COUNT_COLUMNS = (
    "customers",
    "customers_change",
    "promises_obtained",
    "promises_kept",
    "promises_broken",
    "disputes_resolved",
    "working_days",
    "actions",
    "untouched_items",
    "late_next_actions",
)


@dataclass(frozen=True)
class OutlierRule:
    """How a figure is judged against the team median: its words, whether it is bad when high or low,
    and its unit (for the reason's numbers)."""

    label: str
    bad_when: str
    unit: str = ""


OUTLIER_RULES = {
    "pct_overdue": OutlierRule("% overdue", HIGH, "%"),
    "pct_over_90": OutlierRule("+90 share", HIGH, "%"),
    "dso_countback": OutlierRule("countback DSO", HIGH, " days"),
    "add": OutlierRule("ADD", HIGH, " days"),
    "cei": OutlierRule("CEI", LOW, "%"),
    "promise_kept_rate": OutlierRule("promise kept rate", LOW, "%"),
    "avg_resolution_days": OutlierRule("dispute resolution time", HIGH, " days"),
    "actions_per_day": OutlierRule("actions per day", LOW),
    "reach_rate": OutlierRule("reach rate", LOW, "%"),
    "coverage_14": OutlierRule("coverage 14 days", LOW, "%"),
    "coverage_30": OutlierRule("coverage 30 days", LOW, "%"),
    "untouched_share": OutlierRule("share of overdue never touched", HIGH, "%"),
    "late_next_actions": OutlierRule("late next actions", HIGH),
}

# What each objective metric reads on a row of the figures, and how it is shown.
OBJECTIVE_LABELS = {
    "over_90": "+90 amount",
    "overdue": "Overdue amount",
    "pct_overdue": "% overdue",
    "coverage_30": "Coverage 30 days (%)",
    "promise_kept_rate": "Promise kept rate (%)",
    "actions_per_day": "Actions per working day",
}


@dataclass(frozen=True)
class CoachingQuery:
    """A request for the team table: the period ending on `as_of`, the customers in scope, the distance
    to the team median that flags a figure (a ratio >= threshold or <= 1 / threshold). Hashable."""

    as_of: date
    period: str = "month"
    scope: Scope = EVERYTHING
    threshold: float = DEFAULT_THRESHOLD
    grace_days: int = PROMISE_GRACE_DAYS

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"unknown period {self.period!r}; choose one of: {', '.join(PERIODS)}")
        if not self.threshold > 1:
            raise ValueError(
                f"the outlier threshold must be above 1 (a ratio to the median), not {self.threshold}"
            )

    @property
    def start(self) -> date:
        return period_start(self.as_of, self.period)


def period_start(end: date, period: str) -> date:
    """The day before the first day of the period ending on `end` (its balances are the start's)."""
    if period == "week":
        return end - timedelta(days=WEEK_DAYS)
    months = PERIOD_MONTHS[period]
    if end == kpis.month_end(end):
        return kpis.month_end(end, -months)
    last = kpis.month_end(end, -months)
    return last.replace(day=min(end.day, last.day))


def working_days(start: date, end: date) -> int:
    """Monday to Friday after `start`, up to `end` included."""
    return sum(1 for offset in range(1, (end - start).days + 1) if (start + timedelta(offset)).weekday() < 5)


@dataclass(frozen=True)
class TeamTable:
    """The team table of a CoachingQuery: the period (start excluded, end included), the month end of
    DSO and ADD, one row per collector (ROW_COLUMNS, flags: the reasons joined by '; ', flag_count),
    the team median (one row of the same columns, collector = 'Team median'), and one comparison row
    per (collector, figure of OUTLIER_RULES): value, median, ratio, flagged, reason."""

    request: CoachingQuery
    start: date
    end: date
    dso_period: date | None
    rows: pl.DataFrame
    median: pl.DataFrame
    comparison: pl.DataFrame

    @property
    def outliers(self) -> pl.DataFrame:
        return self.comparison.filter(pl.col("flagged"))

    def with_median(self) -> pl.DataFrame:
        """The rows then the team median as the last row (counts as Float64: a median can be 2.5)."""
        counts = [pl.col(name).cast(pl.Float64) for name in COUNT_COLUMNS]
        rows = self.rows.with_columns(counts)
        median = self.median.with_columns(counts).with_columns(
            pl.lit("").alias("flags"), pl.lit(0, pl.UInt32).alias("flag_count")
        )
        return pl.concat([rows, median.select(rows.columns)])


def team_table(
    db: CollectionsDB,
    store: Store,
    request: CoachingQuery,
    *,
    items: pl.DataFrame | None = None,
    series: pl.DataFrame | None = None,
    ledger: pl.DataFrame | None = None,
) -> TeamTable:
    """The team table (see the module's docstring). `items` (aging.aged_items at as_of for the scope),
    `series` (kpis.month_end_series by collector reaching the as-of date's last month end) and `ledger`
    (ledger_figures of the request's period) can be passed when the caller has them already."""
    start, end = request.start, request.as_of
    if series is None:
        series = kpis.month_end_series(
            store, kpis.month_end(end, -1), end, by="collector", scope=request.scope, as_of=end
        )
    known = series.filter(pl.col("period") <= end)
    dso_period = known.get_column("period").max() if known.height else None
    latest = known.filter(pl.col("period") == dso_period) if dso_period is not None else known.clear()
    dso = latest.select("collector", "dso_countback", "add")
    rows = collector_figures(
        db,
        store,
        start,
        end,
        request.scope,
        quarterly=request.period == "quarter",
        grace_days=request.grace_days,
        items_end=items,
        ledger=ledger,
        dso=dso,
    )
    median = team_median(rows)
    comparison = compare(rows, median, request.threshold)
    reasons = (
        comparison.filter(pl.col("flagged"))
        .group_by("collector", maintain_order=True)
        .agg(pl.col("reason").str.join("; ").alias("flags"), pl.len().cast(pl.UInt32).alias("flag_count"))
    )
    rows = rows.join(reasons, on="collector", how="left").with_columns(
        pl.col("flags").fill_null(""), pl.col("flag_count").fill_null(0)
    )
    return TeamTable(request, start, end, dso_period, rows, median, comparison)


def _collected_customers(con: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    return (
        customers_in_scope(con, scope)
        .select("customer_id", "collector")
        .filter(pl.col("collector").is_not_null())
    )


def ledger_figures(
    store: Store,
    start: date,
    end: date,
    scope: Scope = EVERYTHING,
    *,
    items_start: pl.DataFrame | None = None,
    items_end: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The part of collector_figures that the ledger alone gives, one row per collector: the portfolio at
    `start` and at `end` (suffix `_end`), the sales, cash and write-offs between, and the overdue
    reduced. It changes with the data, not with the collections."""
    con = store.connect()
    customers = _collected_customers(con, scope)
    collectors = customers.select("collector").unique().sort("collector")
    if items_start is None:
        items_start = aged_items(store, start, scope, con)
    if items_end is None:
        items_end = aged_items(store, end, scope, con)
    items_start = items_start.filter(pl.col("collector").is_not_null())
    items_end = items_end.filter(pl.col("collector").is_not_null())
    return (
        collectors.join(_portfolio(items_start), on="collector", how="left")
        .join(_portfolio(items_end), on="collector", how="left", suffix="_end")
        .join(_flows(con, customers, start, end), on="collector", how="left")
        .join(_reduced(con, items_start, start, end), on="collector", how="left")
    )


def collector_figures(
    db: CollectionsDB,
    store: Store,
    start: date,
    end: date,
    scope: Scope = EVERYTHING,
    *,
    quarterly: bool = False,
    grace_days: int = PROMISE_GRACE_DAYS,
    items_end: pl.DataFrame | None = None,
    ledger: pl.DataFrame | None = None,
    dso: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per collector of the customers in scope (ROW_COLUMNS, sorted by collector) over the period
    after `start` up to `end`. `ledger` (ledger_figures of the same period and scope) can be passed when
    the caller has it already; `dso` (collector, dso_countback, add) fills those columns (else null)."""
    con = store.connect()
    customers = _collected_customers(con, scope)
    if items_end is None:
        items_end = aged_items(store, end, scope, con)
    items_end = items_end.filter(pl.col("collector").is_not_null())
    if ledger is None:
        ledger = ledger_figures(store, start, end, scope, items_end=items_end)
    # Read once: the promises, the disputes and the follow-up all derive from the item events.
    events = db.events(until=end)

    frame = ledger.join(
        _promises(con, events, customers, start, end, grace_days), on="collector", how="left"
    ).join(_disputes(events, customers, start), on="collector", how="left")
    actions = db.actions(until=end).join(customers, on="customer_id", how="inner")
    frame = frame.join(_activity(actions, start, end), on="collector", how="left").join(
        _follow_up(db, events, actions, items_end, end), on="collector", how="left"
    )
    if dso is not None:
        frame = frame.join(dso.select("collector", "dso_countback", "add"), on="collector", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias(n) for n in ("dso_countback", "add"))

    money = [
        "ar",
        "overdue",
        "over_30",
        "over_90",
        "not_due",
        "ar_end",
        "overdue_end",
        "over_30_end",
        "over_90_end",
        "not_due_end",
        "sales",
        "cash_collected",
        "written_off",
        "overdue_reduced",
        "over_90_reduced",
        "untouched_amount",
        "overdue_positive",
    ]
    counts = [
        "customers",
        "customers_end",
        "promises_obtained",
        "promises_kept",
        "promises_broken",
        "disputes_resolved",
        "actions",
        "calls",
        "emails",
        "letters",
        "calls_reached",
        "untouched_items",
        "late_next_actions",
    ]
    frame = frame.with_columns(
        *[pl.col(n).fill_null(ZERO).cast(contract.MONEY) for n in money],
        *[pl.col(n).fill_null(0).cast(pl.Int64) for n in counts],
    )
    # The series' own CEI (kpis.month_figures): over a quarter, its sales in one figure.
    cei_values = [
        kpis.month_figures(
            row["ar_end"],
            row["not_due_end"],
            [(row["sales"], (end - start).days + 1)],
            **({"ar_quarter_start": row["ar"]} if quarterly else {"ar_previous": row["ar"]}),
        )["cei_quarterly" if quarterly else "cei"]
        for row in frame.iter_rows(named=True)
    ]
    days = working_days(start, end)

    def share(part: str, whole: str) -> pl.Expr:
        return pl.when(pl.col(whole) > 0).then(
            (pl.col(part).cast(pl.Float64) / pl.col(whole).cast(pl.Float64) * 100).round(2)
        )

    def per_day(name: str) -> pl.Expr:
        return (pl.col(name).cast(pl.Float64) / days).round(2) if days else pl.lit(None, pl.Float64)

    def change(name: str) -> pl.Expr:
        return (pl.col(f"{name}_end") - pl.col(name)).alias(f"{name}_change")

    decided = pl.col("promises_kept") + pl.col("promises_broken")
    frame = frame.with_columns(
        pl.Series("cei", cei_values, dtype=pl.Float64),
        share("overdue", "ar").alias("pct_overdue_start"),
        share("over_90", "ar").alias("pct_over_90_start"),
        share("overdue_end", "ar_end").alias("pct_overdue"),
        share("over_90_end", "ar_end").alias("pct_over_90"),
        *[change(n).cast(contract.MONEY) for n in ("ar", "overdue", "over_30", "over_90")],
        change("customers"),
        pl.when(decided > 0)
        .then((pl.col("promises_kept").cast(pl.Float64) / decided * 100).round(2))
        .alias("promise_kept_rate"),
        pl.lit(days, pl.Int64).alias("working_days"),
        per_day("actions").alias("actions_per_day"),
        per_day("calls").alias("calls_per_day"),
        per_day("emails").alias("emails_per_day"),
        per_day("letters").alias("letters_per_day"),
        share("calls_reached", "calls").alias("reach_rate"),
        share("untouched_amount", "overdue_positive").alias("untouched_share"),
    ).with_columns(
        (pl.col("pct_overdue") - pl.col("pct_overdue_start")).round(2).alias("pct_overdue_change"),
        (pl.col("pct_over_90") - pl.col("pct_over_90_start")).round(2).alias("pct_over_90_change"),
        *[share(f"covered_{n}", "overdue_positive").alias(f"coverage_{n}") for n in COVERAGE_DAYS],
    )
    # The portfolio's figures stand at the end; those at the start only feed the changes and CEI.
    frame = frame.drop("ar", "overdue", "over_30", "over_90", "customers").rename(
        {
            "ar_end": "ar",
            "overdue_end": "overdue",
            "over_30_end": "over_30",
            "over_90_end": "over_90",
            "customers_end": "customers",
            "written_off": "write_offs",
        }
    )
    return frame.select(ROW_COLUMNS).sort("collector")


def _portfolio(items: pl.DataFrame) -> pl.DataFrame:
    """Per collector: customers with an open item, AR, not due, overdue, +30 and +90 of aged items."""
    days = pl.col("days_past_due")
    amount = pl.col(AMOUNT)
    return items.group_by("collector").agg(
        pl.col("customer_id").n_unique().alias("customers"),
        amount.sum().alias("ar"),
        amount.filter(days <= 0).sum().alias("not_due"),
        amount.filter(days > 0).sum().alias("overdue"),
        amount.filter(days > 30).sum().alias("over_30"),
        amount.filter(days > 90).sum().alias("over_90"),
    )


def _flows(con: duckdb.DuckDBPyConnection, customers: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Per collector: sales, cash collected and write-offs of the period (queries/coaching_period_flows.sql)."""
    flows = con.sql(query("coaching_period_flows"), params={"after": start, "until": end}).pl()
    return (
        flows.join(customers, on="customer_id", how="inner")
        .group_by("collector")
        .agg(pl.col(n).sum() for n in ("sales", "cash_collected", "written_off"))
    )


def _reduced(
    con: duckdb.DuckDBPyConnection, items_start: pl.DataFrame, start: date, end: date
) -> pl.DataFrame:
    """Per collector: cash and credit notes applied in the period to the items overdue (over 90) at the
    start, each capped at the item's open amount then."""
    settled = con.sql(query("settlements_between"), params={"after": start, "until": end}).pl()
    late = items_start.filter(pl.col("days_past_due") > 0, pl.col(AMOUNT) > 0).select(
        "document_id", "collector", "days_past_due", AMOUNT
    )
    got = pl.col("paid").fill_null(0).cast(contract.MONEY) + pl.col("credited").fill_null(0).cast(
        contract.MONEY
    )
    reduced = late.join(settled, on="document_id", how="left").with_columns(
        pl.min_horizontal(got, pl.col(AMOUNT)).alias("reduced")
    )
    return reduced.group_by("collector").agg(
        pl.col("reduced").sum().alias("overdue_reduced"),
        pl.col("reduced").filter(pl.col("days_past_due") > 90).sum().alias("over_90_reduced"),
    )


def _promises(
    con: duckdb.DuckDBPyConnection,
    events: pl.DataFrame,
    customers: pl.DataFrame,
    start: date,
    end: date,
    grace_days: int,
) -> pl.DataFrame:
    """Per collector: promises recorded in the period, and of those falling due in it, kept and broken.

    Only the promises falling due in the period are settled against the payments: settling costs
    with the number of promises, and the kept / broken counts need no other (a promise's outcome
    depends on its own document's payments alone)."""
    promises = events.filter(pl.col("event_type") == "promise_to_pay").join(
        customers, on="customer_id", how="inner"
    )
    deadline = pl.col("promised_date") + timedelta(days=grace_days)
    obtained = promises.group_by("collector").agg(
        (pl.col("event_date") > start).sum().alias("promises_obtained")
    )
    due = promises.filter(deadline.is_between(start, end, closed="right"))
    settled = settle_promises(
        con,
        due.select("event_id", "document_id", "event_date", "promised_date", "promised_amount"),
        end,
        grace_days,
    ).join(due.select("event_id", "collector"), on="event_id", how="inner")
    decided = settled.group_by("collector").agg(
        (pl.col("promise_status") == "kept").sum().alias("promises_kept"),
        (pl.col("promise_status") == "broken").sum().alias("promises_broken"),
    )
    return obtained.join(decided, on="collector", how="left")


def _disputes(events: pl.DataFrame, customers: pl.DataFrame, start: date) -> pl.DataFrame:
    """Per collector: disputes resolved in the period and their average days from dispute to resolution."""
    mine = events.join(customers, on="customer_id", how="inner")
    # The disputes page's reading of the events: a resolution closes the dispute just before it.
    resolved = dispute_resolutions(mine).filter(pl.col("resolved_on") > start)
    return resolved.group_by("collector").agg(
        pl.len().alias("disputes_resolved"),
        pl.col("days_to_resolve").mean().round(1).alias("avg_resolution_days"),
    )


def _activity(actions: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Per collector: actions of the period by type, and the calls that reached the customer."""
    in_period = actions.filter(pl.col("action_date") > start)
    kind = pl.col("action_type")
    return in_period.group_by("collector").agg(
        pl.len().alias("actions"),
        (kind == "call").sum().alias("calls"),
        (kind == "email").sum().alias("emails"),
        kind.is_in(list(LETTERS)).sum().alias("letters"),
        ((kind == "call") & pl.col("outcome").is_in(list(REACHED))).sum().alias("calls_reached"),
    )


def _follow_up(
    db: CollectionsDB, events: pl.DataFrame, actions: pl.DataFrame, items_end: pl.DataFrame, end: date
) -> pl.DataFrame:
    """Per collector, of the overdue items at the end (positive open amounts): their amount, how much of
    it had its customer contacted in the last 14 / 30 days, the items never touched, and the customers
    whose next action is late."""
    overdue = items_end.filter(pl.col("days_past_due") > 0, pl.col(AMOUNT) > 0).select(
        "document_id", "customer_id", "collector", "due_date", AMOUNT
    )
    contacted = {
        n: actions.filter(pl.col("action_date") > end - timedelta(days=n))
        .select("customer_id")
        .unique()
        .with_columns(pl.lit(True).alias(f"contacted_{n}"))
        for n in COVERAGE_DAYS
    }
    qualified = events.select("document_id").unique()
    named = (
        actions.select(pl.col("document_ids").alias("document_id"))
        .explode("document_id")
        .drop_nulls()
        .unique()
    )
    whole_customer = (
        actions.filter(pl.col("document_ids").list.len() == 0)
        .group_by("customer_id")
        .agg(pl.col("action_date").max().alias("last_customer_action"))
    )
    untouched = (
        overdue.join(qualified, on="document_id", how="anti")
        .join(named, on="document_id", how="anti")
        .join(whole_customer, on="customer_id", how="left")
        .filter(
            pl.col("last_customer_action").is_null() | (pl.col("last_customer_action") <= pl.col("due_date"))
        )
    )
    frame = overdue
    for n in COVERAGE_DAYS:
        frame = frame.join(contacted[n], on="customer_id", how="left")
    covered = frame.group_by("collector").agg(
        pl.col(AMOUNT).sum().alias("overdue_positive"),
        *[
            pl.col(AMOUNT).filter(pl.col(f"contacted_{n}").fill_null(False)).sum().alias(f"covered_{n}")
            for n in COVERAGE_DAYS
        ],
    )
    untouched_by = untouched.group_by("collector").agg(
        pl.len().alias("untouched_items"), pl.col(AMOUNT).sum().alias("untouched_amount")
    )
    latest = db.latest_actions(end).filter(pl.col("next_action_date") < end)
    late = (
        overdue.select("customer_id", "collector")
        .unique()
        .join(latest.select("customer_id"), on="customer_id", how="semi")
        .group_by("collector")
        .agg(pl.len().alias("late_next_actions"))
    )
    return (
        covered.join(untouched_by, on="collector", how="left")
        .join(late, on="collector", how="left")
        .with_columns(*[pl.col(f"covered_{n}").cast(contract.MONEY) for n in COVERAGE_DAYS])
    )


# --- the team median and the outliers --------------------------------------------------------------


def team_median(rows: pl.DataFrame) -> pl.DataFrame:
    """One row, collector = 'Team median': the median of each figure over the collectors (nulls left
    out); amounts rounded to the cent, the rest to 2 decimals."""
    figures = [name for name in ROW_COLUMNS if name != "collector"]
    return rows.select(
        pl.lit(TEAM_MEDIAN).alias("collector"),
        *[
            pl.col(name).cast(pl.Float64).median().round(2).cast(contract.MONEY)
            if name in MONEY_COLUMNS
            else pl.col(name).cast(pl.Float64).median().round(2)
            for name in figures
        ],
    )


def ratio_to_median(value: float | None, median: float | None) -> float | None:
    """value / median, or None when it says nothing (no value, a median <= 0, a negative value)."""
    if value is None or median is None or median <= 0 or value < 0:
        return None
    return value / median


def is_outlier(ratio: float | None, bad_when: str, threshold: float) -> bool:
    """A ratio >= threshold for a figure bad when high, <= 1 / threshold for one bad when low (with a
    hair of tolerance, so that 2x computed in floating point counts as 2x)."""
    if ratio is None:
        return False
    if bad_when == HIGH:
        return ratio >= threshold - 1e-9
    return ratio <= 1 / threshold + 1e-9


def _number(value: float, unit: str) -> str:
    return f"{value:,.2f}{unit}"


def reason(figure: str, value: float, median: float, ratio: float) -> str:
    """'+90 share 2.0x the team median (31.00% vs 15.50%)'."""
    rule = OUTLIER_RULES[figure]
    return (
        f"{rule.label} {ratio:.1f}x the team median "
        f"({_number(value, rule.unit)} vs {_number(median, rule.unit)})"
    )


def compare(rows: pl.DataFrame, median: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """One row per (collector, figure of OUTLIER_RULES): label, bad_when, value, median, ratio, flagged,
    reason (empty unless flagged); collectors in order, figures in OUTLIER_RULES' order."""
    medians = median.row(0, named=True) if median.height else {}
    records = []
    for row in rows.iter_rows(named=True):
        for figure, rule in OUTLIER_RULES.items():
            value = _float(row[figure])
            middle = _float(medians.get(figure))
            ratio = ratio_to_median(value, middle)
            flagged = is_outlier(ratio, rule.bad_when, threshold)
            records.append(
                {
                    "collector": row["collector"],
                    "figure": figure,
                    "label": rule.label,
                    "bad_when": rule.bad_when,
                    "value": value,
                    "median": middle,
                    "ratio": None if ratio is None else round(ratio, 2),
                    "flagged": flagged,
                    "reason": reason(figure, value, middle, ratio) if flagged else "",
                }
            )
    schema = {
        "collector": pl.String,
        "figure": pl.String,
        "label": pl.String,
        "bad_when": pl.String,
        "value": pl.Float64,
        "median": pl.Float64,
        "ratio": pl.Float64,
        "flagged": pl.Boolean,
        "reason": pl.String,
    }
    return pl.DataFrame(records, schema=schema)


def _float(value: object) -> float | None:
    return None if value is None else float(value)


# --- a collector's record --------------------------------------------------------------------------


def bucket_sums(
    store: Store,
    month_ends: list[date],
    scope: Scope = EVERYTHING,
    buckets: tuple[int, ...] = contract.DEFAULT_BUCKETS,
) -> pl.DataFrame:
    """The aged amount of every collector's portfolio by bucket at each month end (customers with a
    collector only): one row per (month_end, collector, bucket) with an amount, buckets without items
    left out. Aging the month ends is the costly part of portfolio_trend: this is it once for all
    collectors, so that a page can keep it and switch collectors at no cost."""
    con = store.connect()
    frames = [
        aged_items(store, month_end, scope, con)
        .filter(pl.col("collector").is_not_null())
        .with_columns(bucket_expression(buckets).alias("bucket"))
        .group_by("collector", "bucket")
        .agg(pl.col(AMOUNT).sum().cast(contract.MONEY).alias("amount"))
        .with_columns(pl.lit(month_end).alias("month_end"))
        .select("month_end", "collector", "bucket", "amount")
        for month_end in month_ends
    ]
    if not frames:
        return pl.DataFrame(
            schema={
                "month_end": pl.Date,
                "collector": pl.String,
                "bucket": pl.String,
                "amount": contract.MONEY,
            }
        )
    return pl.concat(frames)


def portfolio_trend(
    store: Store,
    month_ends: list[date],
    collector: str,
    scope: Scope = EVERYTHING,
    buckets: tuple[int, ...] = contract.DEFAULT_BUCKETS,
    *,
    sums: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The aging shares of the collector's portfolio and of the whole team (every customer in scope with
    a collector) at each month end: one row per (month_end, who: the collector or 'Team', bucket) with
    amount and share (% of that AR; null when it is 0). `sums`: bucket_sums of the same month ends,
    scope and buckets, when the caller has them."""
    names = contract.bucket_names(buckets)
    if sums is None:
        sums = bucket_sums(store, month_ends, scope, buckets)
    frames = []
    for month_end in month_ends:
        at = sums.filter(pl.col("month_end") == month_end)
        for who, part in ((collector, at.filter(pl.col("collector") == collector)), (TEAM, at)):
            totals = part.group_by("bucket").agg(pl.col("amount").sum().cast(contract.MONEY))
            frames.append(
                pl.DataFrame({"bucket": names, "position": list(range(len(names)))})
                .join(totals, on="bucket", how="left")
                .with_columns(
                    pl.lit(month_end).alias("month_end"),
                    pl.lit(who).alias("who"),
                    pl.col("amount").fill_null(ZERO).cast(contract.MONEY),
                )
            )
    if not frames:
        return pl.DataFrame(
            schema={
                "month_end": pl.Date,
                "who": pl.String,
                "bucket": pl.String,
                "amount": contract.MONEY,
                "share": pl.Float64,
            }
        )
    total = pl.col("amount").cast(pl.Float64).sum().over("month_end", "who")
    return (
        pl.concat(frames)
        .with_columns(
            pl.when(total != 0)
            .then((pl.col("amount").cast(pl.Float64) / total * 100).round(2))
            .alias("share")
        )
        .sort("month_end", pl.col("who") == TEAM, "position")
        .select("month_end", "who", "bucket", "amount", "share")
    )


def kpi_trend(by_collector: pl.DataFrame, team: pl.DataFrame, collector: str) -> pl.DataFrame:
    """The collector's month-end KPIs beside the team's: one row per (period, who: the collector or
    'Team') with dso_countback, add, cei, pct_over_90, from kpis.month_end_series by collector and for
    the whole scope."""
    columns = ["period", "dso_countback", "add", "cei", "pct_over_90"]
    mine = by_collector.filter(pl.col("collector") == collector).select(columns)
    return (
        pl.concat(
            [
                mine.with_columns(pl.lit(collector).alias("who")),
                team.select(columns).with_columns(pl.lit(TEAM).alias("who")),
            ]
        )
        .sort("period", pl.col("who") == TEAM)
        .select("period", "who", *columns[1:])
    )


def activity_heatmap(
    db: CollectionsDB,
    store: Store,
    collector: str,
    as_of: date,
    scope: Scope = EVERYTHING,
    weeks: int = HEATMAP_WEEKS,
    *,
    customers: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Actions on the collector's portfolio by day over the `weeks` weeks (Monday to Sunday) to the
    week of `as_of`: one row per (week: its Monday, weekday 0-6, day) with actions, every day listed
    (days after as_of have null actions). `customers` (customers_in_scope of the scope) can be passed
    when the caller has them."""
    monday = as_of - timedelta(days=as_of.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    mine = _portfolio_customers(store, collector, scope, customers)
    actions = db.actions(since=first, until=as_of).join(mine, on="customer_id", how="semi")
    counts = actions.group_by(pl.col("action_date").alias("day")).agg(
        pl.len().cast(pl.Int64).alias("actions")
    )
    days = pl.DataFrame({"day": pl.date_range(first, monday + timedelta(days=6), interval="1d", eager=True)})
    return (
        days.join(counts, on="day", how="left")
        .with_columns(
            (pl.col("day") - pl.duration(days=pl.col("day").dt.weekday() - 1)).alias("week"),
            (pl.col("day").dt.weekday() - 1).cast(pl.Int8).alias("weekday"),
            pl.when(pl.col("day") <= as_of).then(pl.col("actions").fill_null(0)).alias("actions"),
        )
        .select("week", "weekday", "day", "actions")
        .sort("day")
    )


def activity_breakdown(
    db: CollectionsDB,
    store: Store,
    collector: str,
    start: date,
    end: date,
    scope: Scope = EVERYTHING,
    *,
    customers: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Actions on the collector's portfolio after `start` up to `end` by (action_type, outcome): actions
    and actions per working day, most frequent first. `customers` (customers_in_scope of the scope)
    can be passed when the caller has them."""
    mine = _portfolio_customers(store, collector, scope, customers)
    actions = db.actions(since=start + timedelta(days=1), until=end).join(mine, on="customer_id", how="semi")
    days = working_days(start, end)
    return (
        actions.group_by("action_type", "outcome")
        .agg(pl.len().cast(pl.Int64).alias("actions"))
        .with_columns(
            (pl.col("actions") / days).round(2).alias("per_day")
            if days
            else pl.lit(None, pl.Float64).alias("per_day")
        )
        .sort("actions", "action_type", "outcome", descending=[True, False, False])
    )


def _portfolio_customers(
    store: Store, collector: str, scope: Scope, customers: pl.DataFrame | None = None
) -> pl.DataFrame:
    if customers is None:
        con = store.connect()
        try:
            customers = customers_in_scope(con, scope)
        finally:
            con.close()
    return customers.filter(pl.col("collector") == collector).select("customer_id")


def at_risk_customers(
    db: CollectionsDB,
    store: Store,
    collector: str,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    items: pl.DataFrame | None = None,
    states: pl.DataFrame | None = None,
    grace_days: int = PROMISE_GRACE_DAYS,
) -> pl.DataFrame:
    """The collector's customers at risk at `as_of`: those with overdue items (positive open amounts) and
    an amount over 90 days, a broken promise, or no contact for 30 days (no action in the 30 days to
    as_of). One row each: customer_id, customer_name, overdue, over_90, broken_promises (items whose
    current promise is broken), last_contact, days_since_contact (null: never), reasons (in words);
    largest +90 first, then most broken promises, then longest without contact. `items` (aged_items)
    and `states` (item_states of those items, or of any frame of items holding the
    collector's) at as_of for the scope can be passed when the caller has them."""
    if items is None:
        items = aged_items(store, as_of, scope)
    mine = items.filter(pl.col("collector") == collector, pl.col("days_past_due") > 0, pl.col(AMOUNT) > 0)
    if states is None:
        states = item_states(db, store, as_of, scope, grace_days=grace_days, items=mine)
    else:
        states = states.join(mine.select("document_id"), on="document_id", how="semi")
    broken = states.filter(pl.col("state") == "promise_to_pay", pl.col("promise_status") == "broken")
    latest = db.latest_actions(as_of).select(
        "customer_id", pl.col("last_action_date").cast(pl.Date).alias("last_contact")
    )
    frame = (
        mine.group_by("customer_id", "customer_name")
        .agg(
            pl.col(AMOUNT).sum().cast(contract.MONEY).alias("overdue"),
            pl.col(AMOUNT).filter(pl.col("days_past_due") > 90).sum().cast(contract.MONEY).alias("over_90"),
        )
        .join(
            broken.group_by("customer_id").agg(pl.len().alias("broken_promises")),
            on="customer_id",
            how="left",
        )
        .join(latest, on="customer_id", how="left")
        .with_columns(
            pl.col("broken_promises").fill_null(0).cast(pl.Int64),
            (pl.lit(as_of) - pl.col("last_contact")).dt.total_days().alias("days_since_contact"),
        )
    )
    no_contact = pl.col("days_since_contact").is_null() | (pl.col("days_since_contact") >= NO_CONTACT_DAYS)
    risky = frame.filter((pl.col("over_90") > 0) | (pl.col("broken_promises") > 0) | no_contact).sort(
        ["over_90", "broken_promises", pl.col("days_since_contact").fill_null(10**6), "customer_id"],
        descending=[True, True, True, False],
    )
    reasons = pl.Series(
        "reasons", [_risk_reasons(row) for row in risky.iter_rows(named=True)], dtype=pl.String
    )
    return risky.with_columns(reasons).select(
        "customer_id",
        "customer_name",
        "overdue",
        "over_90",
        "broken_promises",
        "last_contact",
        "days_since_contact",
        "reasons",
    )


def _risk_reasons(row: dict[str, object]) -> str:
    """'+90 22,013.00; 2 broken promises; no contact for 45 days'."""
    parts = []
    if row["over_90"] > 0:
        parts.append(f"+90 {row['over_90']:,.2f}")
    broken = row["broken_promises"]
    if broken:
        parts.append(f"{broken} broken promise{'s' if broken != 1 else ''}")
    days = row["days_since_contact"]
    if days is None:
        parts.append("never contacted")
    elif days >= NO_CONTACT_DAYS:
        parts.append(f"no contact for {days} days")
    return "; ".join(parts)


# --- the work done, month by month ---------------------------------------------------------------


def collector_activity(
    db: CollectionsDB,
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
    months: int = 12,
) -> pl.DataFrame:
    """The work done, one row per (month, user_name) over the `months` to as_of, for the customers in
    scope (the team lead's coaching view): actions logged and how many of them were calls, emails and
    letters (registered or not); contacts reached (reached, promise_obtained, dispute_raised); promises
    obtained, and of those falling due that month, kept and broken; disputes raised and resolved;
    follow-ups (actions after one that set a next action date) and how many came after that date."""
    con = store.connect()
    start = months_back(as_of, months)
    customers = customers_in_scope(con, scope).select("customer_id")
    actions = (
        db.actions(until=as_of)
        .join(customers, on="customer_id", how="semi")
        .sort("customer_id", "action_date", "action_id")
        .with_columns(pl.col("next_action_date").shift(1).over("customer_id").alias("planned"))
        .filter(pl.col("action_date") >= start)
        .with_columns(pl.col("action_date").dt.month_end().alias("month"))
    )
    events = (
        db.events(since=start, until=as_of)
        .join(customers, on="customer_id", how="semi")
        .with_columns(pl.col("event_date").dt.month_end().alias("month"))
    )
    outcomes = promise_outcomes(db, store, as_of, scope, grace_days=grace_days, con=con).filter(
        pl.col("deadline").is_between(start, as_of)
    )
    keys = ["month", "user_name"]
    parts = [
        actions.group_by(keys).agg(
            pl.len().alias("actions"),
            (pl.col("action_type") == "call").sum().alias("calls"),
            (pl.col("action_type") == "email").sum().alias("emails"),
            pl.col("action_type").is_in(["letter", "registered_letter"]).sum().alias("letters"),
            pl.col("outcome").is_in(list(REACHED)).sum().alias("reached"),
            pl.col("planned").is_not_null().sum().alias("follow_ups"),
            (pl.col("action_date") > pl.col("planned")).sum().alias("late_follow_ups"),
        ),
        events.group_by(keys).agg(
            (pl.col("event_type") == "promise_to_pay").sum().alias("promises_obtained"),
            (pl.col("event_type") == "disputed").sum().alias("disputes_raised"),
            (pl.col("event_type") == "dispute_resolved").sum().alias("disputes_resolved"),
        ),
        outcomes.group_by(pl.col("deadline").dt.month_end().alias("month"), "user_name").agg(
            (pl.col("promise_status") == "kept").sum().alias("promises_kept"),
            (pl.col("promise_status") == "broken").sum().alias("promises_broken"),
        ),
    ]
    grid = pl.concat([part.select(keys) for part in parts]).unique()
    for part in parts:
        grid = grid.join(part, on=keys, how="left")
    counts = [c for c in grid.columns if c not in keys]
    decided = pl.col("promises_kept") + pl.col("promises_broken")
    return (
        grid.with_columns(pl.col(counts).fill_null(0).cast(pl.UInt32))
        .with_columns(
            pl.when(decided > 0)
            .then((pl.col("promises_kept").cast(pl.Float64) / decided * 100).round(1))
            .alias("kept_rate"),
            pl.when(pl.col("follow_ups") > 0)
            .then((pl.col("late_follow_ups").cast(pl.Float64) / pl.col("follow_ups") * 100).round(1))
            .alias("late_follow_up_rate"),
        )
        .select(
            "month",
            "user_name",
            "actions",
            "calls",
            "emails",
            "letters",
            "reached",
            "promises_obtained",
            "promises_kept",
            "promises_broken",
            "kept_rate",
            "disputes_raised",
            "disputes_resolved",
            "follow_ups",
            "late_follow_ups",
            "late_follow_up_rate",
        )
        .sort("month", "user_name")
    )


# --- coaching notes and their objectives -----------------------------------------------------------

OUTCOME_COLUMNS = (
    "note_id",
    "note_date",
    "user_name",
    "comment",
    "objective",
    "metric",
    "comparison",
    "target",
    "due_date",
    "text",
    "measured_on",
    "value",
    "status",
)


def objective_met(value: float | None, comparison: str, target: float) -> bool | None:
    """Whether a measured value meets `comparison target`; None when there is no value."""
    if comparison not in coaching_notes.COMPARISONS:
        raise ValueError(
            f"unknown comparison {comparison!r}; choose one of: {', '.join(coaching_notes.COMPARISONS)}"
        )
    if value is None:
        return None
    return value <= target if comparison == "<=" else value >= target


def objective_outcomes(
    db: CollectionsDB,
    store: Store,
    collector: str,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    grace_days: int = PROMISE_GRACE_DAYS,
) -> pl.DataFrame:
    """The collector's coaching notes written on or before `as_of`, newest first, one row per objective
    (a note without objectives gives one row with its comment alone) with its outcome (OUTCOME_COLUMNS):
    measured_on = the due date, or as_of while not due; value = the metric on the collector's row of
    collector_figures from the note's date to measured_on; status met / missed / pending / no figure."""
    notes = coaching_notes.notes(db, collectors=[collector], until=as_of)
    rows = []
    measured: dict[tuple[date, date], dict[str, object]] = {}
    for note in notes.sort("note_date", "note_id", descending=True).iter_rows(named=True):
        base = {
            "note_id": note["note_id"],
            "note_date": note["note_date"],
            "user_name": note["user_name"],
            "comment": note["comment"],
        }
        if not note["objectives"]:
            rows.append(base)
            continue
        for position, objective in enumerate(note["objectives"], start=1):
            due = objective["due_date"]
            measured_on = min(due, as_of)
            window = (note["note_date"], measured_on)
            if window not in measured:
                figures = collector_figures(db, store, *window, scope, grace_days=grace_days).filter(
                    pl.col("collector") == collector
                )
                measured[window] = figures.row(0, named=True) if figures.height else {}
            value = _float(measured[window].get(objective["metric"]))
            met = objective_met(value, objective["comparison"], float(objective["target"]))
            if due > as_of:
                status = "pending"
            elif met is None:
                status = "no figure"
            else:
                status = "met" if met else "missed"
            rows.append(
                {
                    **base,
                    "objective": position,
                    "metric": objective["metric"],
                    "comparison": objective["comparison"],
                    "target": objective["target"],
                    "due_date": due,
                    "text": objective["text"],
                    "measured_on": measured_on,
                    "value": None if value is None else round(value, 2),
                    "status": status,
                }
            )
    schema = {
        "note_id": pl.Int64,
        "note_date": pl.Date,
        "user_name": pl.String,
        "comment": pl.String,
        "objective": pl.Int64,
        "metric": pl.String,
        "comparison": pl.String,
        "target": contract.MONEY,
        "due_date": pl.Date,
        "text": pl.String,
        "measured_on": pl.Date,
        "value": pl.Float64,
        "status": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).select(OUTCOME_COLUMNS)


def describe_objective(metric: str, comparison: str, target: Decimal | float, due_date: date) -> str:
    """'+90 amount <= 50,000.00 by 2026-11-30'."""
    return (
        f"{OBJECTIVE_LABELS.get(metric, metric)} {comparison} {float(target):,.2f} by {due_date.isoformat()}"
    )
