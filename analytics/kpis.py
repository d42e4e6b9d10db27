"""Receivables KPIs: days sales outstanding (countback and standard), best possible DSO, average days
delinquent, the collection effectiveness index, days to pay and days late, bad debt, turnover and the cost
of delay; as pure formulas on numbers, as month-end series cut by any customer dimension, and the payer
behaviour (and rating) of each customer.

Definitions are DESIGN.md's ("Definitions"). Money stays Decimal to the cent; days and ratios are Float64
rounded to 2 decimals, and None (shown "-") where a division by zero, or by no sales, leaves them
undefined: never an exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl

from analytics import contract
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import BALANCE_OVER_DAYS, Store, month_end, month_ends_between, query

Number = Decimal | float | int

CUSTOMER = "customer"
MAX_MONTHS = 36
# Countback DSO walks back over the month itself and the 23 before it.
COUNTBACK_MONTHS = 24
STANDARD_MONTHS = 3
TURNOVER_MONTHS = 12
# The +90 part of the AR, as the stored balances hold it.
OVER_DAYS = BALANCE_OVER_DAYS
RATING_BOUNDARIES = (0, 15, 45)
RATINGS = ("A", "B", "C", "D")
NO_RATING = "-"

SERIES_COLUMNS = (
    "period",
    "ar_total",
    "ar_current",
    "sales",
    "dso_countback",
    "dso_standard",
    "bpdso",
    "add",
    "cei",
    "cei_quarterly",
    "pct_current",
    "pct_over_90",
    "days_to_pay",
    "days_late",
    "bad_debt_ratio",
    "ar_turnover",
    "daily_sales",
    "cost_of_delay",
)
MONEY_COLUMNS = ("ar_total", "ar_current", "sales", "daily_sales", "cost_of_delay")

PAYER_COLUMNS = (
    "customer_id",
    "customer_name",
    "days_to_pay_6m",
    "days_late_6m",
    "invoices_6m",
    "days_to_pay_12m",
    "days_late_12m",
    "invoices_12m",
    "trend",
    "rating",
)


# --- the formulas ----------------------------------------------------------------------------------


def month_figures(
    ar_total: Number,
    ar_current: Number,
    months: Sequence[tuple[Number, int]],
    ar_previous: Number | None = None,
    ar_quarter_start: Number | None = None,
) -> dict[str, object]:
    """The series' figures (month_end_series, computed by its own code) for one month of AR
    `ar_total`, of which `ar_current` not yet due: `months` holds (sales, calendar days) of that month
    first, then of each month before it (up to COUNTBACK_MONTHS); `ar_previous` is the AR of the month
    end before (for cei), `ar_quarter_start` the AR three month ends before (for cei_quarterly: the
    month is taken as a quarter's last). Returns dso_countback, dso_standard, bpdso, add, cei,
    cei_quarterly, daily_sales and cost_of_delay, None where undefined.

    Worked example (countback): AR 212,000, sales 100,000 / 80,000 / 70,000 (latest first), 30-day
    months: the first two months are covered whole (60 days, 32,000 left), then 32,000 / 70,000 * 30 =
    13.71: 73.71 days."""
    # The months as the series' grid holds them, oldest first, padded with months of no sales (which
    # stop a countback walk and add nothing to the 3 months) to reach the AR the CEIs look back to.
    needed = STANDARD_MONTHS + 1 if ar_quarter_start is not None else 2 if ar_previous is not None else 1
    given = list(months[:COUNTBACK_MONTHS])
    rows = list(reversed(given + [(None, 0)] * (needed - len(given))))
    last = len(rows) - 1
    ar = [None] * len(rows)
    ar[last] = ar_total
    if ar_previous is not None:
        ar[last - 1] = ar_previous
    if ar_quarter_start is not None:
        ar[last - STANDARD_MONTHS] = ar_quarter_start
    grid = pl.DataFrame(
        {
            "_group": [0] * len(rows),
            "_month": list(range(len(rows))),
            # A quarter's last month, so that cei_quarterly is defined on it.
            "period": [month_end(date(2000, 12, 31), offset - last) for offset in range(len(rows))],
            "_days": [float(days) for _, days in rows],
            "sales": [_money(sales) for sales, _ in rows],
            "ar_total": [_money(value) for value in ar],
            "ar_current": [_money(ar_current) if at == last else None for at in range(len(rows))],
        },
        schema_overrides={"sales": contract.MONEY, "ar_total": contract.MONEY, "ar_current": contract.MONEY},
    ).with_columns(
        pl.lit(0).alias(name) for name in _SUMMED if name not in ("ar_total", "ar_current", "sales")
    )
    figures = _figures(grid.lazy(), first_month=last).collect().row(0, named=True)
    return {name: figures[name] for name in _MONTH_FIGURES}


_MONTH_FIGURES = (
    "dso_countback",
    "dso_standard",
    "bpdso",
    "add",
    "cei",
    "cei_quarterly",
    "daily_sales",
    "cost_of_delay",
)


def payer_rating(days_late: float | None, boundaries: tuple[int, ...] = RATING_BOUNDARIES) -> str:
    """A-D from amount-weighted days late: <= 0 A, <= 15 B, <= 45 C, more D (boundaries configurable);
    no figure: "-". The rating of payer_behaviour (rating_expression) for one figure."""
    return pl.select(rating_expression(pl.lit(days_late, pl.Float64), boundaries)).item()


def _money(value: Number | None) -> Decimal | None:
    if value is None:
        return None
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(Decimal("0.01"))


def _check_rating_boundaries(boundaries: tuple[int, ...]) -> None:
    if len(boundaries) != len(RATINGS) - 1:
        raise ValueError(f"payer rating boundaries: give {len(RATINGS) - 1} numbers of days, e.g. 0,15,45")
    if any(a >= b for a, b in zip(boundaries, boundaries[1:], strict=False)):
        raise ValueError(f"payer rating boundaries must increase: {list(boundaries)}")


# --- month ends --------------------------------------------------------------------------------------


def series_periods(start: date, end: date, as_of: date | None = None) -> list[date]:
    """The month ends of a series: the months of `start` to `end` (any day of each; 1 to 36 months),
    without those after `as_of`."""
    periods = month_ends_between(start, end)
    if not periods:
        raise ValueError(f"the series ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if len(periods) > MAX_MONTHS:
        raise ValueError(f"a series covers at most {MAX_MONTHS} months, not {len(periods)}")
    return [period for period in periods if as_of is None or period <= as_of]


def month_end_balances(
    store: Store, dates: Sequence[date], con: duckdb.DuckDBPyConnection | None = None
) -> pl.DataFrame:
    """One row per (snapshot_date, customer_id) with ar_total, ar_current (not yet due) and ar_over_90
    at each of `dates`: from the stored snapshots where the store has them (an imported snapshot is the
    truth for its date), the other dates derived from documents and payments in one query."""
    con = con or store.connect()
    manifest = store.manifest()
    stored = set(manifest.snapshot_dates) | set(manifest.derived_dates) if manifest else set()
    wanted = sorted(set(dates))
    frames = [pl.DataFrame(schema=_BALANCE_SCHEMA)]
    kept = [day for day in wanted if day in stored]
    missing = [day for day in wanted if day not in stored]
    if kept:
        # Summed per customer when the data was written: a small table, not every item of each date.
        frames.append(con.sql(query("month_end_balances_stored"), params={"dates": kept}).pl())
    if missing:
        params = {"dates": missing, "over_days": OVER_DAYS}
        frames.append(con.sql(query("month_end_balances_derived"), params=params).pl())
    return pl.concat(
        [frame.rename({"ar_over_days": "ar_over_90"}, strict=False).cast(_BALANCE_SCHEMA) for frame in frames]
    )


_BALANCE_SCHEMA = {
    "snapshot_date": pl.Date(),
    "customer_id": pl.String(),
    "ar_total": contract.MONEY,
    "ar_current": contract.MONEY,
    "ar_over_90": contract.MONEY,
}


# --- the month-end series -------------------------------------------------------------------------


def group_keys(by: str | None) -> list[str]:
    """The key columns of a series' rows: none for the whole scope, customer_id and customer_name for
    customer, else the dimension (checked against the contract's list)."""
    if by is None:
        return []
    if by == CUSTOMER:
        return ["customer_id", "customer_name"]
    return [contract.check_dimension(by, extra=(CUSTOMER,))]


def month_end_series(
    store: Store,
    start: date,
    end: date,
    by: str | None = None,
    scope: Scope = EVERYTHING,
    as_of: date | None = None,
) -> pl.DataFrame:
    """One row per month end of the months of `start` to `end` (1 to 36; none after `as_of`) and per
    value of `by`, with the columns of SERIES_COLUMNS after the keys of `by`:

    - period: the month end; ar_total, ar_current (not yet due) and sales of the month (Decimal);
    - dso_countback, dso_standard (3 months), bpdso, add, cei (the month), cei_quarterly (on the
      quarter's last month, else null), pct_current and pct_over_90 (% of AR), days_to_pay and days_late
      (amount-weighted over the invoices settled in the month, from their last cash payment),
      bad_debt_ratio (written off in the month / sales, %), ar_turnover (sales of the 12 months /
      average of the 12 month-end AR): Float64 rounded to 2 decimals, null where undefined;
    - daily_sales (sales of the 3 months / their days: the cash value of one DSO day) and cost_of_delay
      (add * daily_sales: cash tied up by late payment), Decimal.

    Where DESIGN.md is silent: countback DSO is null when the month itself has no sales (nothing can be
    counted) and stops, like the walk, at 24 months; the % of AR need AR > 0; an invoice is settled in
    the month of its last payment when its payments (known at the series' last month end) add up to its
    amount, and counts in days to pay / days late only if it had a cash payment. A group (by) has rows
    when it holds something in the months the figures look at.

    AR and sales of the groups add up to the whole scope's. The figures depend on the data and the
    arguments only, never on today: `as_of` only drops the months after it."""
    keys = group_keys(by)
    periods = series_periods(start, end, as_of)
    if not periods:
        return pl.DataFrame(schema=_series_schema(keys))
    first, last = periods[0], periods[-1]
    sales_months = month_ends_between(month_end(first, 1 - COUNTBACK_MONTHS), last)
    balance_dates = month_ends_between(month_end(first, 1 - TURNOVER_MONTHS), last)

    con = store.connect()
    customers = customers_in_scope(con, scope).select("customer_id", *[k for k in keys if k != "customer_id"])
    balances = month_end_balances(store, balance_dates, con).rename({"snapshot_date": "period"})
    sales_from = date(sales_months[0].year, sales_months[0].month, 1)
    sales = con.sql(query("monthly_sales"), params={"from": sales_from, "until": last}).pl()
    month_from = date(first.year, first.month, 1)
    written_off = con.sql(query("monthly_write_offs"), params={"from": month_from, "until": last}).pl()
    settled_invoices_view(con, after=month_end(first, -1), until=last)
    settled = con.sql(query("monthly_settled_invoices")).pl()

    # Groups are numbered, so that the heavy steps below group and join on one integer.
    if keys:
        groups = customers.select(keys).unique().sort(keys, nulls_last=True).with_row_index("_group")
        members = customers.join(groups, on=keys, how="inner", nulls_equal=True)
    else:
        groups = pl.DataFrame({"_group": [0]}, schema={"_group": pl.UInt32})
        members = customers.with_columns(_group=pl.lit(0, dtype=pl.UInt32))
    members = members.select("customer_id", "_group")
    # Every customer-month figure is a sum, so a group's figures are the sums of its customers'.
    # One lazy query: eager, the concatenated chunks were joined column by column (twice the time).
    per_customer = pl.concat(
        [frame.lazy() for frame in (balances, sales, written_off, settled)], how="diagonal_relaxed"
    )
    grouped = (
        per_customer.join(members.lazy(), on="customer_id", how="inner")
        .group_by("_group", "period")
        .agg(pl.col(name).sum() for name in _SUMMED)
        .collect()
    )
    # The whole scope (by=None) has a row for every month even when it holds nothing; a group only
    # when it holds something in the months the figures look at.
    active = groups if not keys else groups.join(grouped.select("_group").unique(), on="_group")
    months = (
        pl.DataFrame({"period": sales_months})
        .with_row_index("_month")
        .with_columns(_days=pl.col("period").dt.day().cast(pl.Float64))
    )
    # A complete grid, sorted, every group having every month: "k months before" is a shift by k.
    grid = (
        active.select("_group")
        .join(months, how="cross")
        .join(grouped, on=["_group", "period"], how="left")
        .with_columns(pl.col(name).fill_null(0) for name in _SUMMED)
        .sort("_group", "period")
    )
    figures = _figures(grid.lazy(), first_month=len(sales_months) - len(periods)).collect()
    return (
        figures.join(active, on="_group", how="left")
        .select(*keys, *SERIES_COLUMNS)
        .sort([*keys, "period"], nulls_last=True)
    )


_SUMMED = (
    "ar_total",
    "ar_current",
    "ar_over_90",
    "sales",
    "written_off",
    "settled_invoices",
    "settled_amount",
    "weighted_days_to_pay",
    "weighted_days_late",
)


def settled_invoices_view(
    con: duckdb.DuckDBPyConnection, after: date, until: date, *, materialise: bool = False
) -> None:
    """Define settled_invoices on `con`: the invoices settled after `after` and on or before `until`,
    known from the payments up to `until`, read from the settlements stored with the data
    (Store.connect; tests/oracle/settled_invoices.sql is their definition). A view, or a table when it
    will be read several times."""
    params = {"after": after, "until": until}
    relation = con.sql(query("settled_invoices_stored"), params=params)
    if materialise:
        # Settled once into a table of its own; the view then reads that table, however often.
        table = f"settled_invoices_{uuid.uuid4().hex[:8]}"
        relation.to_table(table)
        relation = con.table(table)
    relation.create_view("settled_invoices", replace=True)


def _lag(name: str, months: int) -> pl.Expr:
    """The value of the column `months` months before in the row's group (null before the grid): on a
    sorted complete grid, the row `months` rows up, unless that row belongs to the group before."""
    return pl.when(pl.col("_month") >= months).then(pl.col(name).shift(months))


def _figures(grid: pl.LazyFrame, first_month: int) -> pl.LazyFrame:
    """The series' figures on a complete (group x month) grid sorted by group and month, for the rows
    from month number `first_month` on (the months before only feed the lags)."""
    money = [pl.col(name).cast(contract.MONEY) for name in _SUMMED if name not in _COUNTS]
    frame = grid.with_columns(*money).with_columns(
        _ar=pl.col("ar_total").cast(pl.Float64),
        _current=pl.col("ar_current").cast(pl.Float64),
        _sales=pl.col("sales").cast(pl.Float64),
    )
    frame = frame.with_columns(
        *[_lag("_sales", k).alias(f"_s{k}") for k in range(COUNTBACK_MONTHS)],
        *[_lag("_days", k).alias(f"_d{k}") for k in range(COUNTBACK_MONTHS)],
        *[_lag("_ar", k).alias(f"_a{k}") for k in range(TURNOVER_MONTHS)],
        _ar_previous=_lag("ar_total", 1),
        _ar_quarter_start=_lag("ar_total", 3),
    ).filter(pl.col("_month") >= first_month)
    frame = _countback(frame)
    sales_3m = pl.sum_horizontal([pl.col(f"_s{k}") for k in range(STANDARD_MONTHS)])
    days_3m = pl.sum_horizontal([pl.col(f"_d{k}") for k in range(STANDARD_MONTHS)])
    frame = frame.with_columns(_sales_3m=sales_3m, _days_3m=days_3m).with_columns(
        dso_standard=_standard(pl.col("_ar")),
        bpdso=_standard(pl.col("_current")),
        _sales_12m=pl.sum_horizontal([pl.col(f"_s{k}") for k in range(TURNOVER_MONTHS)]),
        _ar_average=pl.sum_horizontal([pl.col(f"_a{k}") for k in range(TURNOVER_MONTHS)]) / TURNOVER_MONTHS,
    )
    add = (pl.col("dso_standard") - pl.col("bpdso")).round(2)
    # The cost of delay takes the unrounded ADD: a hundredth of a day times a large company's daily
    # sales is real money (unrounded, ADD x daily sales is the overdue AR itself).
    add_unrounded = _standard(pl.col("_ar"), rounded=False) - _standard(pl.col("_current"), rounded=False)
    daily_sales = pl.col("_sales_3m") / pl.col("_days_3m")
    has_sales = pl.col("_sales_3m") > 0
    collected = pl.col("_ar_previous") + pl.col("sales") - pl.col("ar_total")
    collectible = pl.col("_ar_previous") + pl.col("sales") - pl.col("ar_current")
    quarter_sales = pl.col("_sales_3m") / 3
    quarter_collected = (pl.col("_ar_quarter_start") - pl.col("ar_total")).cast(pl.Float64) + quarter_sales
    quarter_collectible = (pl.col("_ar_quarter_start") - pl.col("ar_current")).cast(
        pl.Float64
    ) + quarter_sales
    quarter_end = pl.col("period").dt.month().is_in([3, 6, 9, 12])
    settled_amount = pl.col("settled_amount").cast(pl.Float64)
    positive_ar = pl.col("_ar") > 0
    return frame.with_columns(
        add=add,
        cei=pl.when(collectible != 0).then(
            (collected.cast(pl.Float64) / collectible.cast(pl.Float64) * 100).round(2)
        ),
        cei_quarterly=pl.when(quarter_end & (quarter_collectible != 0)).then(
            (quarter_collected / quarter_collectible * 100).round(2)
        ),
        pct_current=pl.when(positive_ar).then((pl.col("_current") / pl.col("_ar") * 100).round(2)),
        pct_over_90=pl.when(positive_ar).then(
            (pl.col("ar_over_90").cast(pl.Float64) / pl.col("_ar") * 100).round(2)
        ),
        days_to_pay=pl.when(settled_amount > 0).then(
            (pl.col("weighted_days_to_pay").cast(pl.Float64) / settled_amount).round(2)
        ),
        days_late=pl.when(settled_amount > 0).then(
            (pl.col("weighted_days_late").cast(pl.Float64) / settled_amount).round(2)
        ),
        bad_debt_ratio=pl.when(pl.col("_sales") > 0).then(
            (pl.col("written_off").cast(pl.Float64) / pl.col("_sales") * 100).round(2)
        ),
        ar_turnover=pl.when(pl.col("_ar_average") > 0).then(
            (pl.col("_sales_12m") / pl.col("_ar_average")).round(2)
        ),
        daily_sales=pl.when(has_sales).then(daily_sales.round(2).cast(contract.MONEY)),
        cost_of_delay=pl.when(has_sales).then((add_unrounded * daily_sales).round(2).cast(contract.MONEY)),
    )


_COUNTS = ("settled_invoices",)


def _standard(ar: pl.Expr, *, rounded: bool = True) -> pl.Expr:
    """Standard DSO over the grid: AR / sales of 3 months * their days; AR <= 0: 0; no sales: null."""
    days = ar / pl.col("_sales_3m") * pl.col("_days_3m")
    return (
        pl.when(ar <= 0)
        .then(pl.lit(0.0))
        .when(pl.col("_sales_3m") > 0)
        .then(days.round(2) if rounded else days)
    )


def _countback(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Countback DSO over the grid (DESIGN.md), one month of the walk a step: each month counts
    clip((AR - sales of the later months) / its sales, 0, 1) of its days, as long as every month so far
    had sales > 0; the month that exhausts the AR counts its share and the months after it count 0."""
    ar = pl.col("_ar")
    frame = frame.with_columns(_taken=pl.lit(0.0), _walking=pl.lit(True), _counted=pl.lit(0.0))
    for k in range(COUNTBACK_MONTHS):
        sales, days = pl.col(f"_s{k}"), pl.col(f"_d{k}")
        walking = pl.col("_walking") & (sales > 0).fill_null(False)
        share = ((ar - pl.col("_taken")) / sales).clip(0.0, 1.0) * days
        frame = frame.with_columns(
            _walking=walking,
            _taken=pl.col("_taken") + sales.fill_null(0.0),
            _counted=pl.col("_counted") + pl.when(walking).then(share).otherwise(0.0),
        )
    return frame.with_columns(
        dso_countback=pl.when(ar <= 0)
        .then(pl.lit(0.0))
        .when((pl.col("_s0") > 0).fill_null(False))
        .then(pl.col("_counted").round(2))
    )


def _series_schema(keys: list[str]) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {key: pl.String() for key in keys}
    for name in SERIES_COLUMNS:
        if name == "period":
            schema[name] = pl.Date()
        elif name in MONEY_COLUMNS:
            schema[name] = contract.MONEY
        else:
            schema[name] = pl.Float64()
    return schema


def latest_cost_of_delay(series: pl.DataFrame) -> pl.DataFrame:
    """For the latest month of a series (of each group): add, daily_sales (the cash value of one day of
    DSO: average daily sales of the 3 months) and cost_of_delay (cash tied up by late payment: ADD x
    daily sales). The series multiplies the unrounded ADD: cost_of_delay() on the rounded ADD shown can
    be off by up to half a hundredth of a day of sales from the rounded ADD times daily sales."""
    keys = [name for name in series.columns if name not in SERIES_COLUMNS]
    latest = series.filter(pl.col("period") == pl.col("period").max())
    return latest.select(*keys, "period", "add", "daily_sales", "cost_of_delay")


# --- payer behaviour --------------------------------------------------------------------------------


def payer_behaviour(
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    boundaries: tuple[int, ...] = RATING_BOUNDARIES,
) -> pl.DataFrame:
    """One row per customer in scope (PAYER_COLUMNS): amount-weighted days to pay and days late of the
    invoices settled in the 6 and the 12 months to `as_of` (each window ends on `as_of`), how many, the
    trend (days late of the 6 months minus days late of the 6 months before them: > 0 is getting later),
    and a rating A-D from the 12-month days late (payer_rating). A customer with no invoice settled in
    the 12 months gets null figures and rating "-". Only payments made by `as_of` count."""
    _check_rating_boundaries(boundaries)
    con = store.connect()
    customers = customers_in_scope(con, scope).select("customer_id", "customer_name")
    days = customer_payment_days(con, as_of)
    frame = customers.join(days, on="customer_id", how="left")

    def average(weighted: str, amount: str) -> pl.Expr:
        return pl.when(pl.col(amount) > 0).then(
            (pl.col(weighted).cast(pl.Float64) / pl.col(amount).cast(pl.Float64)).round(2)
        )

    frame = frame.with_columns(
        days_to_pay_6m=average("weighted_days_to_pay_6m", "amount_6m"),
        days_late_6m=average("weighted_days_late_6m", "amount_6m"),
        days_to_pay_12m=average("weighted_days_to_pay_12m", "amount_12m"),
        days_late_12m=average("weighted_days_late_12m", "amount_12m"),
        _days_late_previous=average("weighted_days_late_previous_6m", "amount_previous_6m"),
        invoices_6m=pl.col("invoices_6m").fill_null(0),
        invoices_12m=pl.col("invoices_12m").fill_null(0),
    )
    return (
        frame.with_columns(
            trend=(pl.col("days_late_6m") - pl.col("_days_late_previous")).round(2),
            rating=rating_expression(pl.col("days_late_12m"), boundaries),
        )
        .select(PAYER_COLUMNS)
        .sort("customer_id")
    )


def customer_payment_days(
    con: duckdb.DuckDBPyConnection, as_of: date, *, defined: bool = False
) -> pl.DataFrame:
    """queries/payer_days.sql at `as_of`: per customer, the settled invoices' counts, amounts and
    amount-weighted day sums over the 6 months to `as_of`, the 6 before, and the 12 months. With
    `defined`, settled_invoices is already on `con` (covering those 12 months)."""
    if not defined:
        settled_invoices_view(con, after=month_end(as_of, -13), until=as_of)
    return con.sql(query("payer_days"), params={"as_of": as_of}).pl()


def rating_expression(days_late: pl.Expr, boundaries: tuple[int, ...] = RATING_BOUNDARIES) -> pl.Expr:
    """The payer rating (A-D from amount-weighted days late, payer_rating) as a Polars expression."""
    _check_rating_boundaries(boundaries)
    expression = pl.when(days_late.is_null()).then(pl.lit(NO_RATING))
    for rating, boundary in zip(RATINGS, boundaries, strict=False):
        expression = expression.when(days_late <= boundary).then(pl.lit(rating))
    return expression.otherwise(pl.lit(RATINGS[-1]))
