"""Invoice-level payment prediction: when each invoice open at an as-of date will be paid, how likely it
is to be paid late, learned only from what was known on that date; and its back-test beside the rule
the cash forecast uses.

What is known at `as_of`: the documents dated on or before it and the payments made on or before it
(the open items at `as_of`, the invoices settled in cash by then and the partial payments so far). A
payment after `as_of` changes no prediction.

The model. One training row per (invoice, observation date) where the invoice was still open at the
end of that date: its issue date and each month end before it was paid. Invoices settled by `as_of`
give their days late (last cash payment - due date). (Invoices still open at `as_of` could add their
lower bound, paid on `as_of` + 1 at the earliest; CENSORED_ROWS says why they do not.)
Features of a row, all as of its observation date: the customer's history (how many invoices it has
settled, their mean days late, spread, the last few, the trend of the last few against the mean, the
share paid late, mean days to pay, the exponentially weighted days late: RECENT_ALPHA), the invoice's amount against the customer's usual, its terms, days
already open and days to (or past) its due date, the share already paid, the due date's month and
weekday. A customer with fewer than MIN_CUSTOMER_INVOICES settled invoices takes its segment's
history (the row's `prediction_basis` says "segment"; "none" without any history at all).

One gradient-boosted regressor (scikit-learn's HistGradientBoosting, absolute error: a median) of
days late, learned as the difference from the customer's (or segment's) mean days late so that with
little to learn from it falls back to that mean. p_late is read from the same model: the share of its
errors on the training rows that would put the invoice after its due date, so that the two outputs
agree (p_late >= 0.5 where the predicted date is after the due date). A separate classifier of late
or not was measured worse (IBM sample: 76.4% right against 82.5%; the demo company 90.7% against
90.6%, at twice the training time). An invoice still open on or after its due date will be paid after
it: p_late 1. The predicted payment date is due date + predicted days late, and never before `as_of`
+ 1 (the invoice is still open).

The baseline is the rule of the cash forecast in its simplest form: due date + the customer's
amount-weighted mean days late over its invoices settled by `as_of` (0 without any), and never before
`as_of` + 1. The back-test scores both at past dates on the invoices open then that were paid since:
mean absolute error of the payment date in days, and the share of invoices rightly said late or not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import duckdb
import numpy as np
import polars as pl

from analytics import contract, kpis
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store, query

MIN_CUSTOMER_INVOICES = 3
LAST_FEW = 3
# Settled invoices sampled above this before their training rows are made, and the rows above
# MAX_TRAINING_ROWS (the same rows for the same data): seconds of fitting on one core. On the demo
# company's back-test, 100,000 rows or 500,000 instead of 250,000 move the error by 0.02 days.
MAX_TRAINING_INVOICES = 200_000
MAX_TRAINING_ROWS = 250_000
# A training set smaller than this fits no model: the customer's (or segment's) mean days late is used.
MIN_TRAINING_ROWS = 20
LATE_THRESHOLD = 0.5
BACKTEST_MONTHS = 12
BACKTEST_WAIT_MONTHS = 3
# Shallow and slow: on the IBM sample deeper trees (depth unlimited, 150 rounds at 0.1) overfit the
# customer histories (back-test error 6.5 days against 6.0).
BOOSTING = {"max_iter": 60, "learning_rate": 0.05, "max_depth": 3}
SEED = 0
EPOCH = date(1900, 1, 1)
# Invoices still open at as_of as training rows with their lower bound (paid on as_of + 1): off, as on
# the IBM sample's back-test the bound drags every prediction early (mean error 11.4 days against 6.5).
CENSORED_ROWS = False

CUSTOMER, SEGMENT, NONE = "customer", "segment", "none"
NO_SEGMENT = ""

PREDICTION_COLUMNS = (
    "document_id",
    "customer_id",
    "due_date",
    "open_amount_functional",
    "predicted_payment_date",
    "p_late",
    "predicted_days_late",
    "prediction_basis",
)
BACKTEST_COLUMNS = (
    "as_of",
    "invoices",
    "mae_days",
    "baseline_mae_days",
    "late_accuracy",
    "baseline_late_accuracy",
)
_HISTORY = (
    "n",
    "mean",
    "std",
    "last_few",
    "last",
    "trend",
    "share_late",
    "days_to_pay",
    "recent",
    "mean_amount",
)
# Weight of the latest invoice in the exponentially weighted days late (`recent`).
RECENT_ALPHA = 0.3

FEATURES = (
    "terms",
    "days_open",
    "days_to_due",
    "log_amount",
    "amount_ratio",
    "paid_share",
    "customer_n",
    "customer_mean",
    *(f"h_{name}" for name in _HISTORY if name != "mean_amount"),
    "due_month",
    "due_weekday",
)


@dataclass(frozen=True)
class Known:
    """What the ledger says at `as_of`: `settled` invoices (document_id, customer_id, segment,
    document_date, due_date, amount, paid_on, days_late), `open` invoices (the same without paid_on
    and days_late, with open_amount_functional), `payments` per document and day (document_id,
    payment_date, amount) and `customers` (customer_id, segment)."""

    as_of: date
    settled: pl.DataFrame
    open: pl.DataFrame
    payments: pl.DataFrame
    customers: pl.DataFrame

    # Built once for the training rows and the scoring alike (cached_property writes past frozen),
    # the customers' and the segments' in one Polars query.
    @cached_property
    def histories(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(customer_id history, segment history): see `history`."""
        settled = self.settled.lazy()
        customer, segment = pl.collect_all([history(settled, "customer_id"), history(settled, "segment")])
        return customer, segment

    def paid_so_far(self, documents: pl.DataFrame) -> pl.DataFrame:
        """document_id, payment_date, _paid: the amount paid on each of `documents` up to that day."""
        return (
            self.payments.join(documents.select("document_id"), on="document_id", how="semi")
            .sort("document_id", "payment_date")
            .with_columns(_paid=pl.col("amount").cum_sum().over("document_id"))
            .select("document_id", "payment_date", "_paid")
            .sort("payment_date")
        )


def known_at(store: Store, as_of: date, con: duckdb.DuckDBPyConnection | None = None) -> Known:
    """The ledger as known at the end of `as_of` (documents dated and payments made by then)."""
    con = con or store.connect()
    customers = store.read(contract.CUSTOMERS).select("customer_id", pl.col("segment").fill_null(NO_SEGMENT))
    kpis.settled_invoices_view(con, after=EPOCH, until=as_of)
    settled = _invoices(con.sql(query("prediction_settled_invoices")).pl(), customers).with_columns(
        days_late=(pl.col("paid_on") - pl.col("due_date")).dt.total_days().cast(pl.Float64)
    )
    documents = store.read(contract.DOCUMENTS).select("document_id", "amount_functional")
    items = store.open_items(as_of, con)
    open_invoices = items.filter(
        pl.col("document_type") == "invoice", pl.col("open_amount_functional") > 0
    ).join(documents, on="document_id", how="inner")
    open_invoices = _invoices(
        open_invoices.select(
            "document_id",
            "customer_id",
            "document_date",
            "due_date",
            "amount_functional",
            pl.col("open_amount_functional").cast(contract.MONEY),
        ),
        customers,
    )
    payments = con.sql(query("prediction_payments"), params={"as_of": as_of}).pl()
    payments = payments.with_columns(pl.col("amount").cast(pl.Float64))
    return Known(as_of, settled, open_invoices.sort("document_id"), payments, customers)


def _invoices(frame: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.join(customers, on="customer_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("segment").fill_null(NO_SEGMENT),
            amount=pl.col("amount_functional").cast(pl.Float64),
        )
        .drop("amount_functional")
    )


# --- features ---------------------------------------------------------------------------------------


def history(settled: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """Per `key` (customer_id or segment) and day with settlements, the history known at the end of
    that day (`known_on`): n invoices settled, their mean days late, spread (standard deviation), the
    mean of the last LAST_FEW, the last, trend (last few - mean), share paid late, mean days to pay and
    mean amount. Sorted by known_on."""
    late = pl.col("days_late")
    frame = settled.sort(key, "paid_on", "document_id").with_columns(
        _n=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(key),
        _sum=late.cum_sum().over(key),
        _squares=(late * late).cum_sum().over(key),
        _late=(late > 0).cast(pl.Float64).cum_sum().over(key),
        _pay=(pl.col("paid_on") - pl.col("document_date"))
        .dt.total_days()
        .cast(pl.Float64)
        .cum_sum()
        .over(key),
        _amount=pl.col("amount").cum_sum().over(key),
        last_few=late.rolling_mean(LAST_FEW, min_samples=1).over(key),
        recent=late.ewm_mean(alpha=RECENT_ALPHA, adjust=False).over(key),
    )
    n = pl.col("_n").cast(pl.Float64)
    mean = pl.col("_sum") / n
    return (
        frame.with_columns(
            n=pl.col("_n"),
            mean=mean,
            std=(pl.col("_squares") / n - mean * mean).clip(lower_bound=0).sqrt(),
            last=late,
            trend=pl.col("last_few") - mean,
            share_late=pl.col("_late") / n,
            days_to_pay=pl.col("_pay") / n,
            mean_amount=pl.col("_amount") / n,
        )
        # The day's last row holds the whole day's history.
        .unique([key, "paid_on"], keep="last", maintain_order=True)
        .select(key, pl.col("paid_on").alias("known_on"), *_HISTORY)
        .sort("known_on")
    )


def _as_of_join(rows: pl.DataFrame, right: pl.DataFrame, key: str, on: str, prefix: str) -> pl.DataFrame:
    """Each row of `rows` (sorted by obs_date) with the last row of `right` for its `key` dated on or
    before its obs_date, columns prefixed."""
    renamed = right.rename({name: f"{prefix}{name}" for name in right.columns if name not in (key, on)})
    return rows.join_asof(
        renamed, left_on="obs_date", right_on=on, by=key, strategy="backward", check_sortedness=False
    ).drop(on)


def features(rows: pl.DataFrame, known: Known) -> pl.DataFrame:
    """`rows` (document_id, customer_id, segment, document_date, due_date, amount, obs_date) with the
    FEATURES as of each row's obs_date, `basis` (customer, segment or none) and `base`, the mean days
    late the model starts from."""
    customer, segment = known.histories
    paid = known.paid_so_far(rows)
    rows = rows.with_row_index("_row").sort("obs_date", "_row")
    rows = _as_of_join(rows, customer, "customer_id", "known_on", "c_")
    rows = _as_of_join(rows, segment, "segment", "known_on", "s_")
    rows = rows.join_asof(
        paid,
        left_on="obs_date",
        right_on="payment_date",
        by="document_id",
        strategy="backward",
        check_sortedness=False,
    ).drop("payment_date")
    own = pl.col("c_n").fill_null(0) >= MIN_CUSTOMER_INVOICES
    segment_known = pl.col("s_n").fill_null(0) > 0
    basis = (
        pl.when(own).then(pl.lit(CUSTOMER)).when(segment_known).then(pl.lit(SEGMENT)).otherwise(pl.lit(NONE))
    )
    days = lambda end, start: (pl.col(end) - pl.col(start)).dt.total_days().cast(pl.Float64)  # noqa: E731
    chosen = {
        f"h_{name}": pl.when(own).then(pl.col(f"c_{name}")).otherwise(pl.col(f"s_{name}")).cast(pl.Float64)
        for name in _HISTORY
        if name != "mean_amount"
    }
    usual = pl.col("c_mean_amount").fill_null(pl.col("s_mean_amount"))
    return (
        rows.with_columns(
            terms=days("due_date", "document_date"),
            days_open=days("obs_date", "document_date"),
            days_to_due=days("due_date", "obs_date"),
            log_amount=pl.col("amount").clip(lower_bound=0).log1p(),
            amount_ratio=pl.when(usual > 0).then(pl.col("amount") / usual),
            paid_share=(pl.col("_paid").fill_null(0.0) / pl.col("amount")).clip(0.0, 1.0),
            customer_n=pl.col("c_n").fill_null(0).cast(pl.Float64),
            customer_mean=pl.col("c_mean"),
            due_month=pl.col("due_date").dt.month().cast(pl.Float64),
            due_weekday=pl.col("due_date").dt.weekday().cast(pl.Float64),
            basis=basis,
            **chosen,
        )
        .with_columns(base=pl.col("h_mean").fill_null(0.0))
        .sort("_row")
        .drop("_row")
    )


def training_rows(known: Known) -> pl.DataFrame:
    """The training rows at known.as_of (see the module's docstring): the invoice's columns, obs_date
    and target days_late (a lower bound for invoices still open), sorted, sampled above
    MAX_TRAINING_INVOICES invoices and MAX_TRAINING_ROWS rows."""
    columns = ["document_id", "customer_id", "segment", "document_date", "due_date", "amount"]
    after = known.as_of + timedelta(days=1)
    settled = known.settled.select(*columns, "days_late", end=pl.col("paid_on"))
    invoices = settled
    if CENSORED_ROWS:
        still_open = known.open.filter(pl.col("document_date") < known.as_of).select(
            *columns,
            days_late=(pl.lit(after) - pl.col("due_date")).dt.total_days().cast(pl.Float64),
            end=pl.lit(known.as_of),
        )
        invoices = pl.concat([settled, still_open])
    if invoices.height > MAX_TRAINING_INVOICES:
        invoices = invoices.sample(MAX_TRAINING_INVOICES, seed=SEED)
    # Observed at issue and at each month end while open: month ends m with document_date <= m < end.
    firsts = pl.date_ranges(
        pl.col("document_date").dt.month_start().dt.offset_by("1mo"), pl.col("end"), interval="1mo"
    )
    month_ends = (
        invoices.with_columns(obs_date=firsts)
        .explode("obs_date")
        .drop_nulls("obs_date")
        .with_columns(pl.col("obs_date") - pl.duration(days=1))
    )
    at_issue = invoices.filter(pl.col("document_date") < pl.col("end")).with_columns(
        obs_date=pl.col("document_date")
    )
    rows = (
        pl.concat([at_issue, month_ends])
        .unique(["document_id", "obs_date"], keep="first")
        .drop("end")
        .sort("document_id", "obs_date")
    )
    if rows.height > MAX_TRAINING_ROWS:
        rows = rows.sample(MAX_TRAINING_ROWS, seed=SEED).sort("document_id", "obs_date")
    return rows


# --- the model --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """The regressor fitted at `as_of` (None: too little to learn from, the mean days late is used) and
    its errors on its training rows (days late - prediction), sorted: what p_late is read from."""

    as_of: date
    days_late: object | None
    errors: np.ndarray
    training_rows: int


def fit(known: Known) -> Model:
    """The model learned from what is known at known.as_of."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    rows = features(training_rows(known), known)
    target = (rows.get_column("days_late") - rows.get_column("base")).to_numpy()
    if rows.height < MIN_TRAINING_ROWS:
        return Model(known.as_of, None, np.sort(target), rows.height)
    x = _matrix(rows)
    with _one_thread():
        regressor = HistGradientBoostingRegressor(
            loss="absolute_error",
            min_samples_leaf=max(2, min(20, rows.height // 50)),
            early_stopping=False,
            random_state=SEED,
            **BOOSTING,
        ).fit(x, target)
        errors = np.sort(target - regressor.predict(x))
    return Model(known.as_of, regressor, errors, rows.height)


def _matrix(rows: pl.DataFrame) -> np.ndarray:
    return rows.select(pl.col(name).cast(pl.Float64) for name in FEATURES).to_numpy()


class _one_thread:
    """scikit-learn's OpenMP pool held to one thread for fitting and scoring: on 2 cores busy with other
    work, two threads waiting on each other fit 250,000 rows in 9.8 s against 2.4 s for one."""

    def __enter__(self) -> None:
        from threadpoolctl import threadpool_limits

        self._limits = threadpool_limits(limits=1)

    def __exit__(self, *exc: object) -> None:
        self._limits.unregister()


def score(model: Model, known: Known, invoices: pl.DataFrame | None = None) -> pl.DataFrame:
    """PREDICTION_COLUMNS for `invoices` (default: every invoice open at known.as_of)."""
    invoices = known.open if invoices is None else invoices
    as_of = known.as_of
    rows = features(invoices.with_columns(obs_date=pl.lit(as_of)), known)
    base = rows.get_column("base").to_numpy()
    if rows.height and model.days_late is not None:
        with _one_thread():
            days = base + model.days_late.predict(_matrix(rows))
    else:
        days = base
    if model.errors.size:
        # P(days + error > 0), the errors as the regressor made them on its training rows.
        p_late = 1 - np.searchsorted(model.errors, -days, side="right") / model.errors.size
    else:
        p_late = np.zeros(rows.height)
    floor = (pl.lit(as_of + timedelta(days=1)) - pl.col("due_date")).dt.total_days()
    return (
        rows.with_columns(
            _days=pl.Series(days, dtype=pl.Float64).round(0).cast(pl.Int64),
            _p=pl.Series(p_late, dtype=pl.Float64),
        )
        .with_columns(predicted_days_late=pl.max_horizontal(pl.col("_days"), floor).cast(pl.Int64))
        .select(
            "document_id",
            "customer_id",
            "due_date",
            pl.col("open_amount_functional").cast(contract.MONEY),
            predicted_payment_date=pl.col("due_date") + pl.duration(days=pl.col("predicted_days_late")),
            # Still open on or after its due date: it will be paid late.
            p_late=pl.when(pl.col("due_date") <= pl.lit(as_of)).then(1.0).otherwise(pl.col("_p")).round(4),
            predicted_days_late="predicted_days_late",
            prediction_basis="basis",
        )
    )


def predict(
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """One row per invoice open at `as_of` of the customers in scope (PREDICTION_COLUMNS), sorted by
    document_id. The model learns from every customer whatever the scope: a prediction does not change
    with the filters."""
    con = con or store.connect()
    known = known_at(store, as_of, con)
    predictions = score(fit(known), known)
    if not scope.is_everything:
        customers = customers_in_scope(con, scope).select("customer_id")
        predictions = predictions.join(customers, on="customer_id", how="semi")
    return predictions.sort("document_id")


# --- the baseline and the back-test ----------------------------------------------------------------


def baseline(known: Known, invoices: pl.DataFrame | None = None) -> pl.DataFrame:
    """The baseline for `invoices` (default: the open ones): document_id, predicted_payment_date (due
    date + the customer's amount-weighted mean days late so far, 0 without any, never before as_of + 1)
    and late (that date after the due date)."""
    invoices = known.open if invoices is None else invoices
    means = known.settled.group_by("customer_id").agg(
        _mean=(pl.col("days_late") * pl.col("amount")).sum() / pl.col("amount").sum()
    )
    earliest = pl.lit(known.as_of + timedelta(days=1))
    shifted = pl.col("due_date") + pl.duration(days=pl.col("_mean").fill_null(0.0).round(0).cast(pl.Int64))
    return (
        invoices.join(means, on="customer_id", how="left", maintain_order="left")
        .with_columns(predicted_payment_date=pl.max_horizontal(shifted, earliest))
        .select(
            "document_id",
            "predicted_payment_date",
            late=pl.col("predicted_payment_date") > pl.col("due_date"),
        )
    )


def paid_dates(
    store: Store, until: date = contract.LAST_DATE, con: duckdb.DuckDBPyConnection | None = None
) -> pl.DataFrame:
    """document_id, paid_on: each invoice settled in cash by `until`, as the payments known then say."""
    con = con or store.connect()
    kpis.settled_invoices_view(con, after=EPOCH, until=until)
    return con.sql(query("prediction_settled_invoices")).pl().select("document_id", "paid_on")


def backtest_scores(
    store: Store,
    as_of: date,
    paid: pl.DataFrame,
    scope: Scope = EVERYTHING,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """The invoices open at `as_of` (of the customers in scope) and paid since (`paid`: paid_dates),
    each with its prediction made at `as_of`, the baseline's and the real payment: document_id,
    customer_id, due_date, paid_on, predicted_payment_date, p_late, baseline_payment_date, baseline_late."""
    con = con or store.connect()
    known = known_at(store, as_of, con)
    invoices = known.open.join(paid, on="document_id", how="semi")
    if not scope.is_everything:
        invoices = invoices.join(
            customers_in_scope(con, scope).select("customer_id"), on="customer_id", how="semi"
        )
    predictions = score(fit(known), known, invoices)
    rule = baseline(known, invoices).rename(
        {"predicted_payment_date": "baseline_payment_date", "late": "baseline_late"}
    )
    return (
        predictions.select("document_id", "customer_id", "due_date", "predicted_payment_date", "p_late")
        .join(paid, on="document_id", how="inner")
        .join(rule, on="document_id", how="inner")
        .sort("document_id")
    )


def backtest_dates(as_of: date, months: int = BACKTEST_MONTHS) -> list[date]:
    """The `months` month ends ending BACKTEST_WAIT_MONTHS before `as_of`'s month, oldest first: the
    invoices open then have mostly been paid by `as_of`."""
    last = kpis.month_end(as_of, -BACKTEST_WAIT_MONTHS)
    return [kpis.month_end(last, -offset) for offset in range(months - 1, -1, -1)]


def backtest(
    store: Store, dates: list[date], until: date = contract.LAST_DATE, scope: Scope = EVERYTHING
) -> pl.DataFrame:
    """One row per date (BACKTEST_COLUMNS): the invoices open then (in scope) and paid by `until`,
    the mean absolute error of their predicted payment date in days, the share rightly said late or
    not (%), and the same for the baseline; a last row with `as_of` null over all dates together."""
    return backtest_figures(backtest_scored(store, dates, until, scope), dates)


def backtest_scored(
    store: Store, dates: list[date], until: date = contract.LAST_DATE, scope: Scope = EVERYTHING
) -> pl.DataFrame:
    """backtest_scores at each of `dates` in one frame, with its `as_of`: what backtest_figures sums
    up, for any set of customers (filter it first)."""
    con = store.connect()
    paid = paid_dates(store, until, con)
    frames = [backtest_scores(store, day, paid, scope, con).with_columns(as_of=pl.lit(day)) for day in dates]
    if frames:
        return pl.concat(frames)
    return pl.DataFrame(schema={"as_of": pl.Date(), "document_id": pl.String(), "customer_id": pl.String()})


def backtest_figures(scored: pl.DataFrame, dates: list[date]) -> pl.DataFrame:
    """BACKTEST_COLUMNS of `scored` (backtest_scored's rows): one row per date, a last one over all."""
    if not dates:
        return pl.DataFrame(schema=_BACKTEST_SCHEMA)
    rows = [{"as_of": day, **_figures(scored.filter(pl.col("as_of") == day))} for day in dates]
    rows.append({"as_of": None, **_figures(scored)})
    return pl.DataFrame(rows, schema=_BACKTEST_SCHEMA)


_BACKTEST_SCHEMA = {
    "as_of": pl.Date(),
    "invoices": pl.Int64(),
    "mae_days": pl.Float64(),
    "baseline_mae_days": pl.Float64(),
    "late_accuracy": pl.Float64(),
    "baseline_late_accuracy": pl.Float64(),
}


def _figures(scored: pl.DataFrame) -> dict[str, float | int | None]:
    if not scored.height:
        return {name: None for name in BACKTEST_COLUMNS if name != "as_of"} | {"invoices": 0}
    actual_late = pl.col("paid_on") > pl.col("due_date")
    error = lambda column: (pl.col(column) - pl.col("paid_on")).dt.total_days().abs().mean()  # noqa: E731
    figures = scored.select(
        invoices=pl.len().cast(pl.Int64),
        mae_days=error("predicted_payment_date").round(2),
        baseline_mae_days=error("baseline_payment_date").round(2),
        late_accuracy=((pl.col("p_late") >= LATE_THRESHOLD) == actual_late).mean().mul(100).round(2),
        baseline_late_accuracy=(pl.col("baseline_late") == actual_late).mean().mul(100).round(2),
    )
    return figures.row(0, named=True)


def month_ends(first: date, last: date, every: int = 1) -> list[date]:
    """The month ends from `first` to `last` (every `every` months: 3 for quarter ends from a quarter's)."""
    ends = kpis.month_ends_between(first, last)
    return ends[::every]


def summary(figures: pl.DataFrame) -> str:
    """One line of the back-test's overall row, for a page's caption or the command line."""
    overall = figures.filter(pl.col("as_of").is_null())
    if not overall.height or not overall.item(0, "invoices"):
        return "No invoice to back-test: none was open at these dates and paid since."
    row = overall.row(0, named=True)
    gain = (1 - row["mae_days"] / row["baseline_mae_days"]) * 100 if row["baseline_mae_days"] else math.nan
    return (
        f"{row['invoices']:,} invoices: off by {row['mae_days']:.1f} days on average "
        f"(baseline {row['baseline_mae_days']:.1f}, {gain:.0f}% better); late or not right for "
        f"{row['late_accuracy']:.1f}% (baseline {row['baseline_late_accuracy']:.1f}%)."
    )
