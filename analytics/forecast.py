"""The cash forecast: when the open items will be collected, week by week over the next 13 weeks, from
each customer's own payment habits; and a back-test of the method on past month ends.

- Expected collection date of an open item = its due date + the customer's amount-weighted days late
  over the 12 months to the as-of date (rounded to whole days); the customer's segment's figure when the
  customer has fewer than 3 settled invoices in those months; 0 when neither has any.
- Items whose expected date is on or before the as-of date are the overdue backlog, shown apart and not
  spread over the weeks; items expected after week 13 are "later". Week 1 starts the day after as_of.
- Negative items (credit notes, cash on account) are not collections. Each customer's negative items
  are netted into that customer's expected collections, the earliest first, as a customer deducts a
  credit from its next payments; what they do not absorb (a customer in credit) is left out, since the
  forecast does not forecast refunds. Negative items are listed with status "credit" and amount 0.
- Amounts are Decimal in the functional currency.
- Or, from the invoice predictions (analytics.predictions): each invoice open at the as-of date expected
  on its predicted payment date (never on or before the as-of date: the overdue backlog then holds the
  other items alone), the other items by the rule above. `best_forecast` back-tests both at the same
  month ends and uses the predictions only when their weekly error is the lower; `Method` says which
  it used and why.

The back-test rebuilds the forecast at each of the last N month ends whose 13 weeks are over by the
as-of date, from the data known then (open items at that date, days late from the invoices settled by
then), and compares each week with the cash actually received in it on the items the forecast placed
in the weeks (cash on the backlog, on account or on later invoices is not what was forecast). Known
limit: an invoice settled at a past month end counts as settled then when the data known today says so;
one reopened afterwards (a payment reversed) is missed there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl

from analytics import aging, contract, kpis, predictions
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store, month_ends_before, query

WEEKS = 13
HISTORY_MONTHS = 12
MIN_SETTLED_INVOICES = 3
BACKTEST_MONTHS = 6
# Above this many open items a page runs the back-test on demand only: it rebuilds BACKTEST_MONTHS
# forecasts, each costing about what the forecast itself does (about 0.7 s for each at 1.2M items).
BACKTEST_AUTOMATIC_ITEMS = 150_000
ZERO = Decimal("0.00")

BACKLOG, WEEK, LATER, CREDIT = "overdue_backlog", "week", "later", "credit"
# How expected dates are made: the customers' mean days late, or the invoice predictions.
RULE, PREDICTIONS = "rule", "predictions"
METHODS = (RULE, PREDICTIONS)
# The lateness_basis of an item dated by its invoice prediction.
PREDICTION_BASIS = "prediction"

ITEM_COLUMNS = (
    "document_id",
    "customer_id",
    "customer_name",
    "document_type",
    "due_date",
    "open_amount_functional",
    "lateness_basis",
    "days_late",
    "expected_date",
    "expected_amount",
    "status",
    "week",
)


@dataclass(frozen=True)
class Method:
    """Which expected dates a forecast uses (RULE or PREDICTIONS) and the back-test that chose it:
    the mean absolute percentage error of a week's forecast over the back-test's month ends and
    weeks, for each (None: nothing to compare with)."""

    name: str
    rule_mape: float | None
    predictions_mape: float | None
    month_ends: int

    def describe(self) -> str:
        """One line for a caption or the command line."""
        if self.rule_mape is None or self.predictions_mape is None:
            return (
                "Expected dates from the customers' mean days late: no past month end to back-test the "
                "invoice predictions against them yet."
            )
        figures = (
            f"back-tested at {self.month_ends} month ends, a week's forecast off by "
            f"{self.predictions_mape:.1f}% with the invoice predictions, {self.rule_mape:.1f}% with the "
            "customers' mean days late"
        )
        if self.name == PREDICTIONS:
            return f"Expected dates from the invoice predictions: {figures}."
        return f"Expected dates from the customers' mean days late: {figures}."


@dataclass(frozen=True)
class CashForecast:
    """The forecast at `as_of`: `weeks` (week, week_start, week_end, expected, items) for weeks 1-13,
    the overdue backlog and what is expected later, apart; `items` one row per open item (ITEM_COLUMNS)."""

    as_of: date
    weeks: pl.DataFrame
    overdue_backlog: Decimal
    later: Decimal
    items: pl.DataFrame
    method: Method | None = None

    @property
    def total(self) -> Decimal:
        """Everything expected: backlog + the 13 weeks + later."""
        weeks = self.weeks.get_column("expected").sum() if self.weeks.height else ZERO
        return self.overdue_backlog + Decimal(weeks) + self.later


def customer_lateness(
    store: Store, as_of: date, con: duckdb.DuckDBPyConnection | None = None, *, defined: bool = False
) -> pl.DataFrame:
    """One row per customer (every one, whatever the scope: a customer's expected dates must not change
    with the filters): customer_id, days_late (amount-weighted over the 12 months to `as_of`) and
    lateness_basis, "customer", "segment" (fewer than 3 settled invoices of its own) or "none" (0 days)."""
    con = con or store.connect()
    days = kpis.customer_payment_days(con, as_of, defined=defined).select(
        "customer_id", "invoices_12m", "amount_12m", "weighted_days_late_12m"
    )
    customers = store.read(contract.CUSTOMERS).select("customer_id", "segment")
    frame = customers.join(days, on="customer_id", how="left")
    segments = (
        frame.filter(pl.col("segment").is_not_null())
        .group_by("segment")
        .agg(
            _segment_amount=pl.col("amount_12m").sum().cast(pl.Float64),
            _segment_weighted=pl.col("weighted_days_late_12m").sum().cast(pl.Float64),
        )
    )
    own = pl.col("weighted_days_late_12m").cast(pl.Float64) / pl.col("amount_12m").cast(pl.Float64)
    segment = pl.col("_segment_weighted") / pl.col("_segment_amount")
    enough = pl.col("invoices_12m").fill_null(0) >= MIN_SETTLED_INVOICES
    segment_known = (pl.col("_segment_amount") > 0).fill_null(False)
    return (
        frame.join(segments, on="segment", how="left")
        .select(
            "customer_id",
            pl.when(enough).then(own).when(segment_known).then(segment).otherwise(0.0).alias("days_late"),
            pl.when(enough)
            .then(pl.lit("customer"))
            .when(segment_known)
            .then(pl.lit("segment"))
            .otherwise(pl.lit("none"))
            .alias("lateness_basis"),
        )
        .sort("customer_id")
    )


def expected_collections(
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    con: duckdb.DuckDBPyConnection | None = None,
    lateness: pl.DataFrame | None = None,
    *,
    items: pl.DataFrame | None = None,
    predicted: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The items open at `as_of` for the customers in scope with their expected collection (ITEM_COLUMNS):
    expected_date, expected_amount after netting the customer's credits, status (overdue_backlog, week,
    later, credit) and week (1-13 for status week). `items`: aging.aged_items at as_of for the scope,
    when the caller has them (else the open items are read and the scope's customers joined).
    `predicted`: analytics.predictions.predict at as_of; its invoices are expected on their predicted
    payment date (lateness_basis "prediction", days_late the predicted days late)."""
    con = con or store.connect()
    lateness = lateness if lateness is not None else customer_lateness(store, as_of, con)
    if items is None:
        customers = customers_in_scope(con, scope).select("customer_id", "customer_name")
        items = store.open_items(as_of, con).join(customers, on="customer_id", how="inner")
    if not items.get_column("document_id").is_sorted():
        # Aged items come sorted by document; ties of expected date keep this order below.
        items = items.sort("document_id")
    # The running sums below are in integer cents, per customer: aged items have the cents and the
    # customer's Enum key already.
    if aging.CENTS not in items.columns:
        items = items.with_columns(contract.cents(pl.col("open_amount_functional")).alias(aging.CENTS))
    customer = aging.key_column("customer_id")
    customer = customer if customer in items.columns else "customer_id"
    items = (
        items.select(
            "document_id",
            "customer_id",
            "customer_name",
            "document_type",
            "due_date",
            pl.col("open_amount_functional").cast(contract.MONEY),
            *([customer] if customer != "customer_id" else []),
            aging.CENTS,
        )
        .join(lateness, on="customer_id", how="left", maintain_order="left")
        .with_columns(pl.col("days_late").fill_null(0.0), pl.col("lateness_basis").fill_null("none"))
    )
    cents = pl.col(aging.CENTS)
    shift = pl.duration(days=pl.col("days_late").round(0).cast(pl.Int64))
    items = items.with_columns(
        expected_date=pl.col("due_date") + shift, days_late=pl.col("days_late").round(2)
    )
    if predicted is not None:
        dated = predicted.select("document_id", _predicted="predicted_payment_date")
        by_prediction = pl.col("_predicted").is_not_null()
        items = (
            items.join(dated, on="document_id", how="left", maintain_order="left")
            .with_columns(
                expected_date=pl.coalesce("_predicted", "expected_date"),
                days_late=pl.when(by_prediction)
                .then((pl.col("_predicted") - pl.col("due_date")).dt.total_days().cast(pl.Float64))
                .otherwise(pl.col("days_late")),
                lateness_basis=pl.when(by_prediction)
                .then(pl.lit(PREDICTION_BASIS))
                .otherwise(pl.col("lateness_basis")),
            )
            .drop("_predicted")
        )
    # One stable sort, by expected date: a window over a customer's rows keeps this order, so the running
    # sum below takes each customer's collections earliest first.
    items = items.sort("expected_date", maintain_order=True)
    positive = cents > 0
    collection = pl.when(positive).then(cents).otherwise(0)
    credit = pl.when(positive).then(0).otherwise(-cents).sum().over(customer)
    # Credits absorb the customer's earliest expected collections first.
    before = collection.cum_sum().over(customer) - collection
    absorbed = pl.col("_absorbed")
    expected = pl.when(~positive | (absorbed >= cents)).then(0).otherwise(cents - absorbed)
    days_ahead = pl.col("_days_ahead")
    week = (days_ahead - 1) // 7 + 1
    return (
        items.with_columns(
            _absorbed=(credit - before).clip(lower_bound=0),
            _days_ahead=(pl.col("expected_date") - pl.lit(as_of)).dt.total_days(),
        )
        .with_columns(
            # Cents back to an exact Decimal(18, 2).
            expected_amount=contract.money(expected),
            status=pl.when(~positive)
            .then(pl.lit(CREDIT))
            .when(days_ahead <= 0)
            .then(pl.lit(BACKLOG))
            .when(week <= WEEKS)
            .then(pl.lit(WEEK))
            .otherwise(pl.lit(LATER)),
            week=pl.when(positive & (days_ahead > 0) & (week <= WEEKS)).then(week.cast(pl.Int32)),
        )
        .select(ITEM_COLUMNS)
    )


def weekly(items: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Weeks 1-13 after `as_of`: week, week_start, week_end, expected (Decimal), items."""
    grid = pl.DataFrame({"week": list(range(1, WEEKS + 1))}, schema={"week": pl.Int32}).with_columns(
        week_start=pl.lit(as_of) + pl.duration(days=(pl.col("week") - 1) * 7 + 1),
        week_end=pl.lit(as_of) + pl.duration(days=pl.col("week") * 7),
    )
    sums = (
        items.filter(pl.col("status") == WEEK, pl.col("expected_amount") > 0)
        .group_by("week")
        .agg(expected=pl.col("expected_amount").sum().cast(contract.MONEY), items=pl.len())
    )
    return (
        grid.join(sums, on="week", how="left")
        .with_columns(pl.col("expected").fill_null(ZERO).cast(contract.MONEY), pl.col("items").fill_null(0))
        .sort("week")
    )


def cash_forecast(
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    items: pl.DataFrame | None = None,
    predicted: pl.DataFrame | None = None,
    method: Method | None = None,
) -> CashForecast:
    """The cash forecast at `as_of` for the customers in scope (see the module's docstring). `items`:
    aging.aged_items at as_of for the scope, when the caller has them (not modified); `predicted`: the
    invoice predictions at as_of, to date the invoices by (`method` says why, when it was chosen)."""
    con = store.connect()
    items = expected_collections(store, as_of, scope, con, items=items, predicted=predicted)

    def total(status: str) -> Decimal:
        value = items.filter(pl.col("status") == status).get_column("expected_amount").sum()
        return Decimal(value) if value is not None else ZERO

    return CashForecast(as_of, weekly(items, as_of), total(BACKLOG), total(LATER), items, method)


def backtest_dates(store: Store, as_of: date, months: int = BACKTEST_MONTHS) -> list[date]:
    """The last `months` month ends whose 13 weeks are over by `as_of`, oldest first."""
    if months < 1:
        raise ValueError(f"back-test over at least 1 month end, not {months}")
    return month_ends_before(as_of - timedelta(days=7 * WEEKS), months)


def backtest(
    store: Store,
    as_of: date,
    months: int = BACKTEST_MONTHS,
    scope: Scope = EVERYTHING,
    predicted: Mapping[date, pl.DataFrame] | None = None,
    *,
    against_all_open: bool = False,
) -> pl.DataFrame:
    """The forecast rebuilt at each backtest date and compared with what came in: one row per (month_end,
    week) with forecast and actual (Decimal) and ape, the absolute percentage error |forecast - actual| /
    actual * 100 (null when nothing came in). `predicted`: the invoice predictions made at each of
    those dates (predictions_at), to rebuild the forecast from them instead of the rule.
    `against_all_open`: compare with the cash received on every item open at the month end, not only
    on those the forecast placed in its weeks (two methods placing different items compared on the
    same cash)."""
    dates = backtest_dates(store, as_of, months) if store.exists() else []
    schema = {
        "month_end": pl.Date(),
        "week": pl.Int32(),
        "forecast": contract.MONEY,
        "actual": contract.MONEY,
        "ape": pl.Float64(),
    }
    if not dates:
        return pl.DataFrame(schema=schema)
    con = store.connect()
    # Settle every invoice once for all runs; each run keeps the 12 months before its date.
    kpis.settled_invoices_view(
        con, after=kpis.month_end(dates[0], -HISTORY_MONTHS - 1), until=dates[-1], materialise=True
    )
    cash = con.sql(
        query("cash_received"),
        params={"after": dates[0], "until": dates[-1] + timedelta(days=7 * WEEKS)},
    ).pl()
    runs = []
    for month_end in dates:
        lateness = customer_lateness(store, month_end, con, defined=True)
        made = None if predicted is None else predicted[month_end]
        items = expected_collections(store, month_end, scope, con, lateness, predicted=made)
        placed = items if against_all_open else items.filter(pl.col("status") == WEEK)
        forecast = weekly(items, month_end).select("week", forecast="expected")
        days_after = (pl.col("payment_date") - pl.lit(month_end)).dt.total_days()
        actual = (
            cash.join(placed.select("document_id"), on="document_id", how="semi")
            .filter(days_after > 0, days_after <= 7 * WEEKS)
            .group_by(week=((days_after - 1) // 7 + 1).cast(pl.Int32))
            .agg(actual=pl.col("cash_received").sum().cast(contract.MONEY))
        )
        runs.append(
            forecast.join(actual, on="week", how="left").with_columns(
                pl.lit(month_end).alias("month_end"), pl.col("actual").fill_null(ZERO)
            )
        )
    frame = pl.concat(runs)
    actual_float = pl.col("actual").cast(pl.Float64)
    error = (pl.col("forecast").cast(pl.Float64) - actual_float).abs() / actual_float.abs() * 100
    return (
        frame.with_columns(ape=pl.when(pl.col("actual") != 0).then(error.round(2)))
        .select(list(schema))
        .cast(schema)
        .sort("month_end", "week")
    )


def predictions_at(store: Store, dates: list[date]) -> dict[date, pl.DataFrame]:
    """The invoice predictions made at each of `dates` from what was known then (the whole company:
    a prediction does not change with the scope)."""
    con = store.connect()
    return {day: predictions.predict(store, day, con=con) for day in dates}


def choose_method(
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    months: int = BACKTEST_MONTHS,
    predicted: Mapping[date, pl.DataFrame] | None = None,
) -> Method:
    """PREDICTIONS when the forecast rebuilt from the invoice predictions at the back-test's month ends
    is off by less than the rule's (mean absolute percentage error over every month end and week with
    cash to compare with; both against the cash received on every item open at the month end, the
    rule's overdue backlog included, since the predictions place it in the weeks), else RULE. `predicted`: predictions_at those dates, when the caller has them."""
    dates = backtest_dates(store, as_of, months) if store.exists() else []
    if not dates:
        return Method(RULE, None, None, 0)
    predicted = predicted if predicted is not None else predictions_at(store, dates)
    # Against the same cash: what came in on every item open at each month end.
    rule = backtest(store, as_of, months, scope, against_all_open=True).get_column("ape").mean()
    made = backtest(store, as_of, months, scope, predicted, against_all_open=True).get_column("ape").mean()
    if rule is None or made is None:
        return Method(RULE, None, None, len(dates))
    rule, made = round(float(rule), 2), round(float(made), 2)
    return Method(PREDICTIONS if made < rule else RULE, rule, made, len(dates))


def best_forecast(
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    *,
    items: pl.DataFrame | None = None,
    months: int = BACKTEST_MONTHS,
) -> tuple[CashForecast, pl.DataFrame]:
    """The cash forecast at `as_of` from the invoice predictions when they back-test better than the
    rule (choose_method), else from the rule, its `method` saying which and why; and the back-test
    (backtest's rows) of the method it uses."""
    dates = backtest_dates(store, as_of, months) if store.exists() else []
    past = predictions_at(store, dates)
    method = choose_method(store, as_of, scope, months, past)
    if method.name == PREDICTIONS:
        made = predictions.predict(store, as_of)
        runs = backtest(store, as_of, months, scope, past)
    else:
        made, runs = None, backtest(store, as_of, months, scope)
    return cash_forecast(store, as_of, scope, items=items, predicted=made, method=method), runs


def accuracy(runs: pl.DataFrame) -> pl.DataFrame:
    """Per week horizon 1-13: runs (back-test month ends with cash to compare with) and mape, the mean
    absolute percentage error, % (null without any)."""
    grid = pl.DataFrame({"week": list(range(1, WEEKS + 1))}, schema={"week": pl.Int32})
    errors = runs.group_by("week").agg(
        runs=pl.col("ape").count().cast(pl.Int64), mape=pl.col("ape").mean().round(2)
    )
    return grid.join(errors, on="week", how="left").with_columns(pl.col("runs").fill_null(0)).sort("week")


def weeks_with_accuracy(forecast: CashForecast, errors: pl.DataFrame) -> pl.DataFrame:
    """The forecast's weeks with the back-test's mape of each week horizon beside them."""
    return forecast.weeks.join(errors.select("week", "mape"), on="week", how="left").sort("week")


def report(forecast: CashForecast, errors: pl.DataFrame | None = None) -> pl.DataFrame:
    """The forecast as one table (for an export or the command line): the overdue backlog first, the 13
    weeks, then what is expected later; columns row, week, week_start, week_end, expected (Decimal),
    items (those expecting money) and mape (the back-test's error for the week horizon, when given)."""
    errors = (
        errors if errors is not None else accuracy(pl.DataFrame(schema={"week": pl.Int32, "ape": pl.Float64}))
    )
    weeks = weeks_with_accuracy(forecast, errors).with_columns(
        row=pl.format("week {}", pl.col("week")), items=pl.col("items").cast(pl.Int64)
    )
    columns = ["row", "week", "week_start", "week_end", "expected", "items", "mape"]

    def apart(label: str, status: str, amount: Decimal) -> pl.DataFrame:
        count = forecast.items.filter(pl.col("status") == status, pl.col("expected_amount") > 0).height
        return pl.DataFrame(
            {"row": [label], "expected": [amount], "items": [count]},
            schema={"row": pl.String, "expected": contract.MONEY, "items": pl.Int64},
        )

    return pl.concat(
        [
            apart("overdue backlog", BACKLOG, forecast.overdue_backlog),
            weeks.select(columns),
            apart("later", LATER, forecast.later),
        ],
        how="diagonal_relaxed",
    ).select(columns)
