"""The data contract: table and column names, types, allowed values, bucket names.

Every other module spells column names through this one. See DESIGN.md, "The data contract".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

import polars as pl

ColumnKind = Literal["text", "date", "money", "integer", "rate"]

MONEY = pl.Decimal(18, 2)
# An exchange rate: functional units per unit of a currency, with up to 10 decimals.
RATE = pl.Decimal(20, 10)
RATE_DECIMALS = 10
_CENT = Decimal("0.01")


def cents(amount: pl.Expr) -> pl.Expr:
    """A money amount as integer cents (the physical value of MONEY): sums and comparisons of amounts
    are exact on them, and fast."""
    return amount.cast(MONEY).to_physical().cast(pl.Int64)


def money(cents: pl.Expr) -> pl.Expr:
    """Integer cents (any integer width, e.g. a sum in Int128) as a MONEY amount, exactly."""
    return (cents.cast(pl.Decimal(38, 0)) * pl.lit(_CENT)).cast(MONEY)


# What an import accepts. Longer text (ids, names, dimension values) is a broken file, not a name.
MAX_TEXT_LENGTH = 255
# Below 10^13 in absolute value: the sum of 100,000 such amounts still fits MONEY.
MAX_AMOUNT = Decimal("9999999999999.99")
FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2199, 12, 31)

POLARS_TYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "date": pl.Date(),
    "money": MONEY,
    "integer": pl.Int64(),
    "rate": RATE,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = False
    allowed: tuple[str, ...] = ()
    default: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    key: str | None
    columns: tuple[Column, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def required(self) -> list[str]:
        return [column.name for column in self.columns if column.required]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {column.name: POLARS_TYPES[column.kind] for column in self.columns}


DOCUMENT_TYPES = ("invoice", "credit_note", "debit_note")
# An open item that is cash received but not applied to any document.
UNAPPLIED_CASH = "unapplied_cash"
OPEN_ITEM_TYPES = (*DOCUMENT_TYPES, UNAPPLIED_CASH)
PAYMENT_METHODS = ("cash", "credit_note", "write_off")

# Customer dimensions every figure can be cut by, in the order the sidebar shows them.
DIMENSIONS = (
    "entity",
    "division",
    "region",
    "portfolio",
    "segment",
    "salesperson",
    "collector",
    "risk_class",
    "country",
)
DIMENSION_LABELS = {
    "entity": "Entity",
    "division": "Division",
    "region": "Region",
    "portfolio": "Portfolio",
    "segment": "Segment",
    "salesperson": "Salesperson",
    "collector": "Collector",
    "risk_class": "Risk class",
    "country": "Country",
    "customer": "Customer",
    "document": "Document",
}

CUSTOMERS = Table(
    "customers",
    key="customer_id",
    columns=(
        Column("customer_id", "text", required=True),
        Column("customer_name", "text", required=True),
        Column("entity", "text", required=True),
        Column("division", "text"),
        Column("region", "text"),
        Column("portfolio", "text"),
        Column("segment", "text"),
        Column("salesperson", "text"),
        Column("collector", "text"),
        Column("credit_limit", "money"),
        Column("payment_terms_days", "integer"),
        Column("risk_class", "text"),
        Column("country", "text"),
    ),
)

DOCUMENTS = Table(
    "documents",
    key="document_id",
    columns=(
        Column("document_id", "text", required=True),
        Column("document_type", "text", required=True, allowed=DOCUMENT_TYPES),
        Column("customer_id", "text", required=True),
        Column("document_date", "date", required=True),
        Column("due_date", "date", required=True),
        Column("currency", "text", required=True),
        Column("amount", "money", required=True),
        Column("amount_functional", "money"),
    ),
)

PAYMENTS = Table(
    "payments",
    key=None,
    columns=(
        Column("payment_id", "text", required=True),
        Column("customer_id", "text", required=True),
        Column("payment_date", "date", required=True),
        Column("document_id", "text"),
        Column("amount", "money", required=True),
        Column("method", "text", allowed=PAYMENT_METHODS, default="cash"),
    ),
)

OPEN_ITEMS = Table(
    "open_items",
    key=None,
    columns=(
        Column("snapshot_date", "date", required=True),
        Column("document_id", "text", required=True),
        Column("customer_id", "text", required=True),
        Column("document_type", "text", required=True, allowed=OPEN_ITEM_TYPES),
        Column("document_date", "date", required=True),
        Column("due_date", "date", required=True),
        Column("currency", "text", required=True),
        Column("open_amount", "money", required=True),
        Column("open_amount_functional", "money"),
    ),
)

# A document's due dates when it is paid in several parts (30/60/90 terms): its rows add up to the
# document's amount_functional; each ages on its own due date (DESIGN.md, "Installments").
INSTALLMENTS = Table(
    "installments",
    key=None,
    columns=(
        Column("document_id", "text", required=True),
        Column("due_date", "date", required=True),
        Column("amount_functional", "money", required=True),
    ),
)

# The functional units one unit of a currency is worth from a date on; open items in another
# currency are revalued at the latest rate on or before the as-of date (DESIGN.md, "Revaluation").
EXCHANGE_RATES = Table(
    "exchange_rates",
    key=None,
    columns=(
        Column("rate_date", "date", required=True),
        Column("currency", "text", required=True),
        Column("rate", "rate", required=True),
    ),
)

TABLES = {
    table.name: table for table in (CUSTOMERS, DOCUMENTS, PAYMENTS, OPEN_ITEMS, INSTALLMENTS, EXCHANGE_RATES)
}

DEFAULT_BUCKETS = (30, 60, 90)
DEFAULT_FUNCTIONAL_CURRENCY = "EUR"

# ISO 4217 active alphabetic codes (plus XAU and the like are deliberately left out).
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN
    ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD
    JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG
    QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG
    XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)


# What an item's age counts from: its due date (days past due) or its document's date.
AGE_BY_DUE = "due"
AGE_BY_DOCUMENT = "document"
AGE_BASES = (AGE_BY_DUE, AGE_BY_DOCUMENT)


def bucket_names(boundaries: tuple[int, ...] = DEFAULT_BUCKETS, age_by: str = AGE_BY_DUE) -> list[str]:
    """Bucket column names for increasing boundaries: (30, 60, 90) gives not_due, d1_30, d31_60, d61_90,
    over_90 by due date; d0_30, d31_60, d61_90, over_90 by document date (an item is never "not due"
    from its date: the first bucket starts at 0)."""
    check_boundaries(boundaries)
    check_age_by(age_by)
    names = ["not_due"] if age_by == AGE_BY_DUE else []
    low = 1 if age_by == AGE_BY_DUE else 0
    for high in boundaries:
        names.append(f"d{low}_{high}")
        low = high + 1
    names.append(f"over_{boundaries[-1]}")
    return names


def check_age_by(age_by: str) -> str:
    if age_by not in AGE_BASES:
        raise ValueError(
            f"age by {age_by!r}: choose due (days past due) or document (days since the document date)"
        )
    return age_by


def check_boundaries(boundaries: tuple[int, ...]) -> None:
    if not boundaries:
        raise ValueError("bucket boundaries: give at least one number of days, e.g. 30,60,90")
    if any(b <= 0 for b in boundaries):
        raise ValueError(f"bucket boundaries must be positive days: {list(boundaries)}")
    if any(a >= b for a, b in zip(boundaries, boundaries[1:], strict=False)):
        raise ValueError(f"bucket boundaries must increase: {list(boundaries)}")


def parse_boundaries(text: str) -> tuple[int, ...]:
    """'30,60,90' -> (30, 60, 90), with a clear message on anything else."""
    try:
        boundaries = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"bucket boundaries must be whole days separated by commas: {text!r}") from None
    check_boundaries(boundaries)
    return boundaries


def check_dimension(name: str, *, extra: tuple[str, ...] = ()) -> str:
    """A user-chosen grouping: one of the customer dimensions (or an allowed extra level)."""
    if name not in DIMENSIONS and name not in extra:
        allowed = ", ".join((*DIMENSIONS, *extra))
        raise ValueError(f"unknown dimension {name!r}; choose one of: {allowed}")
    return name
