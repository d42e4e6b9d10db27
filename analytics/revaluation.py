"""Revaluation of open items in a foreign currency (DESIGN.md, "Revaluation"): each is valued at the
latest rate of its currency on or before the as-of date, its open amount in document currency times
that rate, rounded to the cent (half away from zero). The booked value stays beside it.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from analytics import contract
from analytics.store import Store

AMOUNT = "open_amount_functional"
BOOKED = "open_amount_booked"
REVALUATION = "revaluation"
RATE = "rate"


class MissingRate(ValueError):
    """No rate for a currency of the open items on or before the as-of date."""

    def __init__(self, currency: str, as_of: date, first: date | None) -> None:
        self.currency = currency
        self.as_of = as_of
        since = f" (its first rate is of {first.isoformat()})" if first else ""
        super().__init__(
            f"no exchange rate for {currency} on or before {as_of.isoformat()}{since}: "
            "import one with --exchange-rates to revalue"
        )


def rates_at(rates: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Each currency's latest rate on or before `as_of`: currency, rate_date, rate."""
    return (
        rates.filter(pl.col("rate_date") <= as_of)
        .sort("currency", "rate_date")
        .group_by("currency", maintain_order=True)
        .last()
        .select("currency", "rate_date", RATE)
    )


def revalue(items: pl.DataFrame, rates: pl.DataFrame, as_of: date, functional_currency: str) -> pl.DataFrame:
    """`items` (open at `as_of`, with currency, open_amount and open_amount_functional) with
    open_amount_functional at the latest rate on or before `as_of` for the items in another currency
    than `functional_currency`, and two columns after it: open_amount_booked (at the booked rate) and
    revaluation (revalued less booked). Raises MissingRate, naming the first currency (alphabetically)
    without a rate."""
    foreign = pl.col("currency").is_not_null() & (pl.col("currency") != functional_currency)
    currencies = items.filter(foreign).get_column("currency").unique().sort()
    known = rates_at(rates, as_of)
    missing = currencies.filter(~currencies.is_in(known.get_column("currency").implode()))
    if missing.len():
        currency = missing[0]
        later = rates.filter(pl.col("currency") == currency).get_column("rate_date")
        raise MissingRate(currency, as_of, later.min() if later.len() else None)
    columns = items.columns
    position = columns.index(AMOUNT) + 1
    revalued = (
        items.join(
            known.select("currency", pl.col(RATE).alias("_rate")),
            on="currency",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.col(AMOUNT).alias(BOOKED),
            pl.when(foreign)
            .then(
                (pl.col("open_amount") * pl.col("_rate"))
                .round(2, mode="half_away_from_zero")
                .cast(contract.MONEY)
            )
            .otherwise(pl.col(AMOUNT))
            .alias(AMOUNT),
        )
        .with_columns((pl.col(AMOUNT) - pl.col(BOOKED)).cast(contract.MONEY).alias(REVALUATION))
    )
    order = [*columns[:position], BOOKED, REVALUATION, *columns[position:]]
    return revalued.select(order)


def revalue_open_items(store: Store, items: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """revalue() with the data folder's rates and functional currency."""
    manifest = store.manifest()
    currency = manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY
    return revalue(items, store.read(contract.EXCHANGE_RATES), as_of, currency)
