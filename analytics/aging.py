"""The aging balance: open items by days past due in buckets, grouped by any dimension, customer or
document; its change between two dates, roll rates between buckets, and its trend over month ends.

Definitions are DESIGN.md's: days past due = as-of date - due date; `not_due` holds items with
days past due <= 0; `overdue` = total - not_due. Aged by document date instead (age_by="document"),
the buckets d0_30, d31_60, ... count the days since the document's date, and `overdue` is still the
part past its due date. Money stays Decimal to the cent throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import polars as pl

from analytics import contract, revaluation
from analytics.scope import EVERYTHING, Scope, customers_in_scope
from analytics.store import Store, query

CUSTOMER = "customer"
DOCUMENT = "document"
LEVELS = (*contract.DIMENSIONS, CUSTOMER, DOCUMENT)
DEFAULT_DRILL_PATH = ("entity", "division", "collector", CUSTOMER, DOCUMENT)
SETTLED_COLUMNS = ("paid", "credited", "written_off")
AMOUNT = "open_amount_functional"
ZERO = Decimal("0.00")
# Columns aged_items adds for aging() to group on: the open amount in integer cents, and each level's key
# as an Enum of the values the customers in scope hold (its physical value is a small dense code).
CENTS = "_open_amount_cents"
KEYED = ("customer_id", *contract.DIMENSIONS)

# The key columns a level's rows carry, in the order shown.
DOCUMENT_COLUMNS = (
    "document_id",
    # 1, 2, ... for a document paid in installments (each ages on its own due date); null otherwise
    "installment",
    "customer_id",
    "customer_name",
    "document_type",
    "document_date",
    "due_date",
    "days_past_due",
    "currency",
    "open_amount",
    "open_amount_functional",
)


# What a revalued document-level row shows beside its open amount.
REVALUED_COLUMNS = (revaluation.BOOKED, revaluation.REVALUATION)


def bucket_label(name: str) -> str:
    """not_due -> 'Not due', d1_30 -> '1-30', over_90 -> '+90'."""
    if name == "not_due":
        return "Not due"
    if name.startswith("over_"):
        return f"+{name[5:]}"
    return name[1:].replace("_", "-")


def level_keys(level: str) -> list[str]:
    """The columns identifying a row of the given level."""
    if level == CUSTOMER:
        return ["customer_id", "customer_name"]
    if level == DOCUMENT:
        return list(DOCUMENT_COLUMNS)
    return [contract.check_dimension(level)]


def level_key(level: str) -> str:
    """The one column whose value names a row of the level (what a drill step filters on)."""
    if level == CUSTOMER:
        return "customer_id"
    if level == DOCUMENT:
        return "document_id"
    return contract.check_dimension(level)


@dataclass(frozen=True)
class AgingQuery:
    """A request for an aging balance. Hashable: it keys caches."""

    as_of: date
    by: str = "entity"
    buckets: tuple[int, ...] = contract.DEFAULT_BUCKETS
    scope: Scope = EVERYTHING
    # (level, value) steps already taken down a drill path: each narrows the items.
    drill: tuple[tuple[str, str], ...] = ()
    # Only items in these buckets (empty: all).
    bucket_filter: tuple[str, ...] = ()
    # Only items more than N days past due (0: all items); the page's "+30 / +60 / +90" switch.
    overdue_beyond: int = 0
    document_types: tuple[str, ...] = ()
    # Only items whose open amount (functional currency, absolute) is at least this.
    min_amount: Decimal | None = None
    # What the buckets count from: the due date (days past due) or the document's date.
    age_by: str = contract.AGE_BY_DUE

    def __post_init__(self) -> None:
        contract.check_age_by(self.age_by)
        if self.by not in LEVELS:
            contract.check_dimension(self.by, extra=(CUSTOMER, DOCUMENT))
        contract.check_boundaries(self.buckets)
        for level, _ in self.drill:
            if level not in LEVELS:
                contract.check_dimension(level, extra=(CUSTOMER, DOCUMENT))
        unknown = set(self.bucket_filter) - set(self.bucket_names)
        if unknown:
            raise ValueError(f"unknown bucket(s): {', '.join(sorted(unknown))}")
        unknown_types = set(self.document_types) - set(contract.OPEN_ITEM_TYPES)
        if unknown_types:
            raise ValueError(f"unknown document type(s): {', '.join(sorted(unknown_types))}")

    @property
    def bucket_names(self) -> list[str]:
        return contract.bucket_names(self.buckets, self.age_by)

    @property
    def age_days(self) -> pl.Expr:
        """Each item's age in the days its buckets count."""
        return age_days(self.as_of, self.age_by)


def age_days(as_of: date, age_by: str = contract.AGE_BY_DUE) -> pl.Expr:
    """Days past due (aged_items' column), or days since the document's date at `as_of`."""
    if age_by == contract.AGE_BY_DUE:
        return pl.col("days_past_due")
    return (pl.lit(as_of) - pl.col("document_date")).dt.total_days().cast(pl.Int32)


@dataclass(frozen=True)
class Aging:
    """An aging balance: one row per group with the bucket columns, total, overdue, items, share."""

    rows: pl.DataFrame
    buckets: list[str]
    by: str
    totals: dict[str, Decimal] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return self.totals.get("total", ZERO)


def aged_items(
    store: Store,
    as_of: date,
    scope: Scope = EVERYTHING,
    con: duckdb.DuckDBPyConnection | None = None,
    revalue: bool = False,
) -> pl.DataFrame:
    """The items open at `as_of` for the customers in scope, with the customer's dimensions and
    days_past_due. The expensive part of every aging figure: callers cache it per (data, date, scope,
    revalue). With `revalue`, items in a foreign currency are valued at the latest rate on or before
    `as_of` (revaluation.revalue: adds open_amount_booked and revaluation; MissingRate without one).

    Last come the columns aging() groups on (not for display): for customer_id and each dimension,
    key_column(name), its value as an Enum; CENTS, the open amount in integer cents."""
    con = con or store.connect()
    # Sorted before the customers' columns join them, so that the sort moves a third of the columns.
    items = store.open_items(as_of, con).sort("document_id")
    if revalue:
        items = revaluation.revalue_open_items(store, items, as_of)
    customers = customers_in_scope(con, scope).select("customer_id", "customer_name", *contract.DIMENSIONS)
    keys = [pl.col(name).cast(_enum_of(customers.get_column(name))).alias(key_column(name)) for name in KEYED]
    aged = items.join(
        customers.with_columns(keys), on="customer_id", how="inner", maintain_order="left"
    ).with_columns(
        (pl.lit(as_of) - pl.col("due_date")).dt.total_days().cast(pl.Int32).alias("days_past_due"),
        contract.cents(pl.col(AMOUNT)).alias(CENTS),
    )
    helpers = [*(key_column(name) for name in KEYED), CENTS]
    return aged.select(pl.exclude(helpers), *helpers)


def key_column(name: str) -> str:
    """The Enum column aged_items adds beside the column `name` (customer_id or a dimension)."""
    return f"_{name}_key"


def _enum_of(values: pl.Series) -> pl.Enum:
    """An Enum of the distinct non-null `values`, sorted."""
    return pl.Enum(values.drop_nulls().unique().sort())


def _limits(boundaries: tuple[int, ...], age_by: str) -> tuple[int, ...]:
    """The days an item must be past to leave each bucket of bucket_names(boundaries, age_by): by due
    date, 0 (not due) and each boundary; by document date, each boundary."""
    return (0, *boundaries) if age_by == contract.AGE_BY_DUE else tuple(boundaries)


def bucket_expression(
    boundaries: tuple[int, ...], age_by: str = contract.AGE_BY_DUE, days: pl.Expr | None = None
) -> pl.Expr:
    """The bucket name of each item from its age (`days`: days past due unless given)."""
    names = contract.bucket_names(boundaries, age_by)
    days = pl.col("days_past_due") if days is None else days
    expression = None
    for name, high in zip(names, _limits(boundaries, age_by), strict=False):
        then = (pl if expression is None else expression).when(days <= high).then(pl.lit(name))
        expression = then
    return expression.otherwise(pl.lit(names[-1]))


def bucket_code(
    boundaries: tuple[int, ...], age_by: str = contract.AGE_BY_DUE, days: pl.Expr | None = None
) -> pl.Expr:
    """The position of each item's bucket in bucket_names(boundaries, age_by): by due date 0 not due,
    1 the first boundary's bucket, ... (a small integer: grouping and comparing on it is cheap)."""
    days = pl.col("days_past_due") if days is None else days
    code = pl.lit(0, dtype=pl.UInt8)
    for high in _limits(boundaries, age_by):
        code = code + (days > high).cast(pl.UInt8)
    return code


def _conditions(request: AgingQuery) -> list[pl.Expr]:
    names = request.bucket_names
    conditions: list[pl.Expr] = []
    for level, value in request.drill:
        conditions.append(pl.col(level_key(level)) == value)
    if request.bucket_filter:
        codes = [names.index(name) for name in request.bucket_filter]
        conditions.append(bucket_code(request.buckets, request.age_by, request.age_days).is_in(codes))
    if request.overdue_beyond:
        conditions.append(pl.col("days_past_due") > request.overdue_beyond)
    if request.document_types:
        conditions.append(pl.col("document_type").is_in(list(request.document_types)))
    if request.min_amount is not None:
        conditions.append(pl.col(AMOUNT).abs() >= request.min_amount)
    return conditions


def select_items(items: pl.DataFrame, request: AgingQuery) -> pl.DataFrame:
    """The items the request covers, each with its bucket."""
    conditions = _conditions(request)
    frame = items.filter(*conditions) if conditions else items
    return frame.with_columns(
        bucket_expression(request.buckets, request.age_by, request.age_days).alias("bucket")
    )


def aging(items: pl.DataFrame, request: AgingQuery) -> Aging:
    """The aging balance of `items` (from aged_items at request.as_of) as the request asks."""
    names = request.bucket_names
    conditions = _conditions(request)
    keys = level_keys(request.by)
    if request.by == DOCUMENT and revaluation.BOOKED in items.columns:
        # Revalued items show their booked value and its revaluation beside the open amount.
        keys = [*keys, *REVALUED_COLUMNS]
    if request.by == DOCUMENT:
        selected = items.filter(*conditions) if conditions else items
        code = bucket_code(request.buckets, request.age_by, request.age_days)
        rows = selected.select(
            *keys,
            *[
                pl.when(code == position)
                .then(pl.col(AMOUNT))
                .otherwise(ZERO)
                .cast(contract.MONEY)
                .alias(name)
                for position, name in enumerate(names)
            ],
            pl.col(AMOUNT).cast(contract.MONEY).alias("total"),
            pl.when(pl.col("days_past_due") > 0)
            .then(pl.col(AMOUNT))
            .otherwise(ZERO)
            .cast(contract.MONEY)
            .alias("overdue"),
            pl.lit(1, dtype=pl.UInt32).alias("items"),
        )
    else:
        rows = _grouped(items, conditions, level_key(request.by), keys, request.buckets, request)
    grand_total = rows.get_column("total").sum() if rows.height else ZERO
    if request.age_by == contract.AGE_BY_DUE:
        rows = rows.with_columns((pl.col("total") - pl.col("not_due")).cast(contract.MONEY).alias("overdue"))
    share = (
        (pl.col("total").cast(pl.Float64) / float(grand_total) * 100)
        if grand_total
        else pl.lit(None, pl.Float64)
    )
    rows = (
        rows.with_columns(share.round(2).alias("share"))
        .select(*keys, *names, "total", "overdue", "items", "share")
        .sort(["total", *keys], descending=[True] + [False] * len(keys))
    )
    totals = {name: _sum(rows, name) for name in [*names, "total", "overdue"]}
    return Aging(rows, names, request.by, totals)


def _grouped(
    items: pl.DataFrame,
    conditions: list[pl.Expr],
    key: str,
    keys: list[str],
    boundaries: tuple[int, ...],
    request: AgingQuery,
) -> pl.DataFrame:
    """One row per value of `key` among the items meeting `conditions`: `keys`, the bucket columns,
    total and items (and overdue, aged by document date: no bucket holds it then). Each item's cell
    (its key's code x its bucket) is one integer, so that summing the cents of every cell is a single
    pass over integers; Decimals are made only for the rows."""
    by_document = request.age_by == contract.AGE_BY_DOCUMENT
    names = request.bucket_names
    enum = key_column(key)
    extra = [name for name in keys if name != key]
    needed = [
        pl.col(enum) if enum in items.columns else pl.col(key).cast(_enum_of(items[key])).alias(enum),
        pl.col(CENTS) if CENTS in items.columns else contract.cents(pl.col(AMOUNT)).alias(CENTS),
        pl.col("days_past_due"),
        *([request.age_days.alias("_age")] if by_document else []),
        *extra,
    ]
    selected = (
        items.lazy().filter(*conditions).select(needed).collect() if conditions else items.select(needed)
    )
    key_values = selected.get_column(enum)
    categories = key_values.dtype.categories
    # Codes 0..n-1 name the key's values, n the items without one (a null key is a group too).
    slots = categories.len() + 1
    slot = key_values.to_physical().fill_null(slots - 1).to_numpy()
    days = selected.get_column("_age" if by_document else "days_past_due").to_numpy()
    # An item's cell: its slot's row of len(names) cells, then one more for each boundary it is past.
    cell = slot.astype(np.intp) * len(names)
    for high in _limits(boundaries, request.age_by):
        cell += days > high
    # Integer sums wrap around past 2**63 cents, but any total a MONEY column can hold comes out exact.
    cents = np.zeros(slots * len(names), dtype=np.int64)
    np.add.at(cents, cell, selected.get_column(CENTS).to_numpy())
    counts = np.bincount(cell, minlength=slots * len(names)).reshape(slots, len(names)).sum(axis=1)
    present = np.flatnonzero(counts)
    cells = cents.reshape(slots, len(names))[present]
    rows = pl.DataFrame(
        {
            key: pl.concat([categories, pl.Series([None], dtype=pl.String)]).gather(present),
            **{name: cells[:, position] for position, name in enumerate(names)},
            "total": cells.sum(axis=1),
            "items": counts[present].astype(np.uint32),
        },
        schema_overrides={name: pl.Int64 for name in [*names, "total"]},
    )
    money = [*names, "total"]
    if by_document:
        past_due = selected.get_column("days_past_due").to_numpy() > 0
        overdue = np.zeros(slots, dtype=np.int64)
        np.add.at(overdue, slot[past_due], selected.get_column(CENTS).to_numpy()[past_due])
        rows = rows.with_columns(pl.Series("overdue", overdue[present], dtype=pl.Int64))
        money.append("overdue")
    if extra:
        # Any item of a group gives its other keys (a customer's name comes with its id).
        some_item = np.zeros(slots, dtype=np.intp)
        some_item[slot] = np.arange(len(slot))
        rows = rows.with_columns(selected.select(extra)[some_item[present]])
    return rows.with_columns(contract.money(pl.col(name)) for name in money)


def _sum(rows: pl.DataFrame, column: str) -> Decimal:
    value = rows.get_column(column).sum() if rows.height else None
    return Decimal(value) if value is not None else ZERO


def headline(items: pl.DataFrame, request: AgingQuery) -> dict[str, Decimal]:
    """The page's headline figures: total AR, not due, overdue, % overdue, +30, +90."""
    conditions = _conditions(request)
    frame = items.lazy()
    selected = frame.filter(*conditions) if conditions else frame
    cents = pl.col(CENTS) if CENTS in items.columns else contract.cents(pl.col(AMOUNT))
    days = pl.col("days_past_due")
    sums = (
        selected.select(
            cents.sum().alias("total"),
            cents.filter(days > 0).sum().alias("overdue"),
            cents.filter(days > 30).sum().alias("over_30"),
            cents.filter(days > 90).sum().alias("over_90"),
        )
        .collect()
        .row(0, named=True)
    )
    figures = {name: Decimal(value or 0).scaleb(-2) for name, value in sums.items()}
    ar, overdue = figures["total"], figures["overdue"]
    return {
        **balance_headline(ar, ar - overdue),
        "over_30": figures["over_30"],
        "over_90": figures["over_90"],
    }


def revaluation_headline(items: pl.DataFrame, request: AgingQuery) -> dict[str, Decimal]:
    """Of the items the request covers (from aged_items with revalue): the total at the booked rates
    and the revaluation (the revalued total less it)."""
    conditions = _conditions(request)
    frame = items.lazy()
    selected = frame.filter(*conditions) if conditions else frame
    sums = (
        selected.select(
            contract.cents(pl.col(revaluation.BOOKED)).sum().alias("booked"),
            contract.cents(pl.col(revaluation.REVALUATION)).sum().alias("revaluation"),
        )
        .collect()
        .row(0, named=True)
    )
    return {name: Decimal(value or 0).scaleb(-2) for name, value in sums.items()}


def balance_headline(total: Decimal, not_due: Decimal) -> dict[str, Decimal]:
    """headline's total, not_due, overdue and overdue_share from the AR and its not-due part alone (e.g.
    a month end's ar_total and ar_current in kpis.month_end_series), without the items."""
    overdue = total - not_due
    return {
        "total": total,
        "not_due": not_due,
        "overdue": overdue,
        "overdue_share": (overdue / total * 100).quantize(Decimal("0.1")) if total else Decimal("0.0"),
    }


def change(before: Aging, after: Aging) -> pl.DataFrame:
    """Each group's buckets then, now and the difference (groups on one side only count as zero there)."""
    keys = level_keys(before.by) if before.by != DOCUMENT else ["document_id"]
    columns = [*before.buckets, "total", "overdue"]
    then = before.rows.select(*keys, *columns).rename({c: f"{c}_then" for c in columns})
    now = after.rows.select(*keys, *columns).rename({c: f"{c}_now" for c in columns})
    joined = then.join(now, on=keys, how="full", coalesce=True, nulls_equal=True)
    filled = joined.with_columns(
        [
            pl.col(f"{c}_{side}").fill_null(ZERO).cast(contract.MONEY)
            for c in columns
            for side in ("then", "now")
        ]
    )
    return filled.with_columns(
        [
            (pl.col(f"{c}_now") - pl.col(f"{c}_then")).cast(contract.MONEY).alias(f"{c}_change")
            for c in columns
        ]
    ).sort([pl.col("total_change").abs(), *keys], descending=[True] + [False] * len(keys))


def settlements_between(
    store: Store, after: date, until: date, con: duckdb.DuckDBPyConnection | None = None
) -> pl.DataFrame:
    """Each document settled after `after` and until `until` (all the data's, whatever the scope),
    with the amounts paid, credited and written off."""
    con = con or store.connect()
    return con.sql(query("settlements_between"), params={"after": after, "until": until}).pl()


def roll_rates(
    store: Store,
    items_before: pl.DataFrame,
    items_after: pl.DataFrame,
    date_before: date,
    date_after: date,
    buckets: tuple[int, ...] = contract.DEFAULT_BUCKETS,
    con: duckdb.DuckDBPyConnection | None = None,
    settled: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Of what stood in each bucket at `date_before`: how much is in each bucket at `date_after`, and how
    much was settled in between, by how (paid, credited, written off). One row per bucket then; each
    row adds up to that bucket's amount then. Items are followed by document_id; amounts in functional
    currency. `settled` is settlements_between(store, date_before, date_after), when already read."""
    names = contract.bucket_names(buckets)
    # An item is a document, or one installment of it.
    item = ["document_id", "installment"]
    before = items_before.with_columns(bucket_expression(buckets).alias("bucket_then")).select(
        *item, "bucket_then", pl.col(AMOUNT).alias("amount_then")
    )
    after = items_after.with_columns(bucket_expression(buckets).alias("bucket_now")).select(
        *item, "bucket_now", pl.col(AMOUNT).alias("amount_now")
    )
    if settled is None:
        settled = settlements_between(store, date_before, date_after, con)
    # A document's settlements count once: on its earliest installment open then (payments settle
    # the earliest first).
    number = pl.col("installment").fill_null(0)
    followed = (
        before.join(after, on=item, how="left", nulls_equal=True)
        .join(settled, on="document_id", how="left")
        .with_columns(
            pl.when(number == number.min().over("document_id")).then(pl.col(c)).alias(c)
            for c in SETTLED_COLUMNS
        )
    )
    cells = [
        pl.col("amount_now").filter(pl.col("bucket_now") == name).sum().cast(contract.MONEY).alias(name)
        for name in names
    ]
    settled_cells = [pl.col(c).fill_null(ZERO).sum().cast(contract.MONEY).alias(c) for c in SETTLED_COLUMNS]
    matrix = followed.group_by("bucket_then").agg(
        pl.col("amount_then").sum().cast(contract.MONEY).alias("amount_then"), *cells, *settled_cells
    )
    order = pl.DataFrame({"bucket_then": names, "position": list(range(len(names)))})
    matrix = order.join(matrix, on="bucket_then", how="left").sort("position").drop("position")
    return matrix.with_columns(pl.exclude("bucket_then").fill_null(ZERO).cast(contract.MONEY))


def trend(
    store: Store,
    month_ends: list[date],
    buckets: tuple[int, ...] = contract.DEFAULT_BUCKETS,
    scope: Scope = EVERYTHING,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pl.DataFrame:
    """Bucket amounts and shares at each month end: one row per (month end, bucket)."""
    con = con or store.connect()
    names = contract.bucket_names(buckets)
    frames = []
    for month_end in month_ends:
        items = aged_items(store, month_end, scope, con)
        rows = (
            items.with_columns(bucket_expression(buckets).alias("bucket"))
            .group_by("bucket")
            .agg(pl.col(AMOUNT).sum().cast(contract.MONEY).alias("amount"))
        )
        grid = pl.DataFrame({"bucket": names, "position": list(range(len(names)))})
        rows = grid.join(rows, on="bucket", how="left").with_columns(
            pl.col("amount").fill_null(ZERO).cast(contract.MONEY), pl.lit(month_end).alias("month_end")
        )
        frames.append(rows)
    if not frames:
        return pl.DataFrame(
            schema={"month_end": pl.Date, "bucket": pl.String, "amount": contract.MONEY, "share": pl.Float64}
        )
    frame = pl.concat(frames)
    total = pl.col("amount").cast(pl.Float64).sum().over("month_end")
    return (
        frame.with_columns(
            pl.when(total != 0).then(pl.col("amount").cast(pl.Float64) / total * 100).alias("share")
        )
        .sort("month_end", "position")
        .select("month_end", "bucket", "amount", pl.col("share").round(2))
    )


def what_moved(change_rows: pl.DataFrame, by: str, bucket: str, label: str, since: date) -> str:
    """A sentence on one bucket's move between two dates and the group that moved it most, e.g.
    '+90 grew by 12.0% since 2026-10-31 (from 1,000.00 to 1,120.00), mostly Division South (+90.00).'"""
    then_column, now_column, change_column = f"{bucket}_then", f"{bucket}_now", f"{bucket}_change"
    if change_rows.is_empty() or then_column not in change_rows.columns:
        return ""
    then = _sum(change_rows, then_column)
    now = _sum(change_rows, now_column)
    difference = now - then
    if difference == 0:
        return f"{label} did not change since {since.isoformat()} ({now:,.2f})."
    verb = "grew" if difference > 0 else "shrank"
    ratio = f" by {abs(difference) / then * 100:.1f}%" if then else ""
    key = level_key(by) if by != CUSTOMER else "customer_name"
    ranked = change_rows.sort(pl.col(change_column) * (1 if difference > 0 else -1), descending=True)
    top = ranked.row(0, named=True)
    name = contract.DIMENSION_LABELS.get(by, by.title())
    return (
        f"{label} {verb}{ratio} since {since.isoformat()} (from {then:,.2f} to {now:,.2f}), "
        f"mostly {name} {top[key]} ({Decimal(top[change_column]):+,.2f})."
    )


def report(
    items: pl.DataFrame,
    as_of: date,
    by: str | None,
    buckets: tuple[int, ...] = contract.DEFAULT_BUCKETS,
    scope: Scope = EVERYTHING,
    age_by: str = contract.AGE_BY_DUE,
) -> pl.DataFrame:
    """The aging report of DESIGN.md's command line: one row per value of `by` (customer: customer_id
    and customer_name) with the bucket columns (aged by due or document date), total and overdue;
    without `by`, one row for the scope."""
    if by is None:
        whole = aging(items, AgingQuery(as_of, by="entity", buckets=buckets, scope=scope, age_by=age_by))
        row = {
            "scope": scope.describe(),
            **{name: whole.totals[name] for name in [*whole.buckets, "total", "overdue"]},
        }
        return pl.DataFrame([row]).cast({name: contract.MONEY for name in row if name != "scope"})
    result = aging(items, AgingQuery(as_of, by=by, buckets=buckets, scope=scope, age_by=age_by))
    keys = [name for name in result.rows.columns if name in (*level_keys(by), *REVALUED_COLUMNS)]
    return result.rows.select(*keys, *result.buckets, "total", "overdue")
