"""The demo ledger: a deterministic, realistic receivables history for a made-up group, Acme.

Owns the demo generator: customers with their dimensions and payment behaviours (prompt, slightly late,
chronically late, seasonal, disputer, defaulter), the invoices, credit notes and debit notes issued to
them, and the cash payments, credit-note applications, cash on account and write-offs that settled
them. Everything is drawn with numpy from one seed, so the same arguments give the same frames, and the
frames follow the data contract exactly (names, order and types of `contract.CUSTOMERS`, `DOCUMENTS`,
`PAYMENTS`). `create` writes such a company into a data folder, replacing what was there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from analytics import clock, collections, contract, promises, submissions
from analytics.store import ImportRecord, Manifest, Store, Tables

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Ledger:
    """The tables of a company, each with exactly its contract's columns and types."""

    customers: pl.DataFrame
    documents: pl.DataFrame
    payments: pl.DataFrame
    installments: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=contract.INSTALLMENTS.schema)
    )
    exchange_rates: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=contract.EXCHANGE_RATES.schema)
    )


@dataclass(frozen=True)
class Entity:
    name: str
    currency: str
    country: str
    share: float
    # (division, region): divisions are the local agencies.
    divisions: tuple[tuple[str, str], ...]
    export_countries: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


ENTITIES = (
    Entity(
        "Acme France SAS",
        "EUR",
        "FR",
        0.45,
        (
            ("Agence Paris", "France North"),
            ("Agence Lille", "France North"),
            ("Agence Lyon", "France South"),
            ("Agence Marseille", "France South"),
        ),
        ("BE", "LU", "CH", "ES", "IT"),
        ("Antoine", "Claire", "Hugo", "Isabelle", "Léa", "Marc", "Nicolas", "Pauline", "Sandrine", "Vincent"),
        ("Bernard", "Dubois", "Durand", "Fournier", "Lambert", "Laurent", "Petit", "Robert", "Simon"),
    ),
    Entity(
        "Acme Deutschland GmbH",
        "EUR",
        "DE",
        0.35,
        (
            ("Niederlassung Hamburg", "Germany North"),
            ("Niederlassung Berlin", "Germany North"),
            ("Niederlassung München", "Germany South"),
            ("Niederlassung Stuttgart", "Germany South"),
        ),
        ("AT", "CH", "NL", "PL", "CZ"),
        ("Andreas", "Anna", "Felix", "Jan", "Julia", "Markus", "Sabine", "Stefan", "Tobias", "Ute"),
        ("Bauer", "Fischer", "Koch", "Meyer", "Müller", "Schäfer", "Schulz", "Wagner", "Weber"),
    ),
    Entity(
        "Acme UK Ltd",
        "GBP",
        "GB",
        0.20,
        (("London Branch", "UK South"), ("Manchester Branch", "UK North")),
        ("IE", "US", "NL"),
        ("Charlotte", "Daniel", "Emily", "George", "Harry", "Jack", "Lucy", "Oliver", "Sophie", "William"),
        ("Clarke", "Davies", "Evans", "Green", "Hall", "Jones", "Roberts", "Taylor", "Wilson"),
    ),
)

# Interleaved by entity so that any 6 or more cover every entity; the index is the entity's.
COLLECTORS = (
    ("Camille Martin", 0),
    ("Lena Hoffmann", 1),
    ("Olivia Bennett", 2),
    ("Julien Moreau", 0),
    ("Jonas Richter", 1),
    ("James Whitaker", 2),
    ("Nathalie Garnier", 0),
    ("Katrin Vogel", 1),
    ("Thomas Roux", 0),
    ("Priya Patel", 2),
)

SEGMENTS = ("Key accounts", "SME", "Public sector", "Export", "Retail")
SEGMENT_SHARES = (0.08, 0.45, 0.12, 0.15, 0.20)
# Median invoice of a typical customer of the segment is exp(log amount) in document currency.
SEGMENT_LOG_AMOUNT = (8.6, 7.4, 7.9, 8.1, 5.9)
# How often a customer of the segment is invoiced, relative to an SME.
SEGMENT_ACTIVITY = (4.0, 1.0, 1.5, 1.3, 2.0)
PAYMENT_TERMS = (0, 30, 45, 60)
SEGMENT_TERMS_P = (
    (0.00, 0.20, 0.30, 0.50),
    (0.02, 0.50, 0.30, 0.18),
    (0.00, 0.60, 0.10, 0.30),
    (0.00, 0.20, 0.30, 0.50),
    (0.70, 0.30, 0.00, 0.00),
)

PORTFOLIOS = (
    "Manufacturing",
    "Construction",
    "Food & beverage",
    "Healthcare",
    "Transport & logistics",
    "Energy & utilities",
    "Retail & consumer",
    "Technology",
)
PORTFOLIO_SHARES = (0.22, 0.14, 0.13, 0.10, 0.13, 0.07, 0.13, 0.08)

BEHAVIOURS = ("prompt", "slightly_late", "chronically_late", "seasonal", "disputer", "defaulter")
BEHAVIOUR_SHARES = (0.37, 0.31, 0.11, 0.10, 0.08, 0.03)
# Days paid after the due date: loc + gamma(shape, scale) * the customer's own lateness factor.
DELAY_LOC = (-4.0, -1.0, 8.0, -1.0, 0.0, 6.0)
DELAY_SHAPE = (2.0, 2.0, 2.5, 2.0, 2.0, 2.0)
DELAY_SCALE = (1.5, 5.5, 17.0, 4.0, 5.0, 10.0)
RISK_CLASSES = ("A", "B", "C", "D")
# Risk class follows behaviour: a credit analyst rates from the payment history.
BEHAVIOUR_RISK_P = (
    (0.60, 0.30, 0.10, 0.00),
    (0.25, 0.50, 0.20, 0.05),
    (0.00, 0.20, 0.50, 0.30),
    (0.20, 0.50, 0.25, 0.05),
    (0.00, 0.30, 0.50, 0.20),
    (0.00, 0.00, 0.30, 0.70),
)
RISK_LIMIT_FACTOR = (1.6, 1.3, 1.0, 0.6)
PROMPT, SLIGHTLY_LATE, CHRONICALLY_LATE, SEASONAL, DISPUTER, DEFAULTER = range(len(BEHAVIOURS))

# Invoicing volume by calendar month: Q4 peak, August holidays.
MONTH_SEASONALITY = (0.92, 0.95, 1.05, 1.0, 1.0, 1.04, 0.95, 0.62, 1.05, 1.1, 1.15, 1.2)
ANNUAL_GROWTH = 0.05

CREDIT_NOTE_SHARE = 0.04
DEBIT_NOTE_SHARE = 0.025
PARTIAL_PAYMENT_SHARE = 0.04
SMALL_BALANCE_WRITE_OFF_SHARE = 0.006
CASH_ON_ACCOUNT_SHARE = 0.01
# Credit notes: full cancellation, partial credit (price, return), settlement of a dispute.
CN_FULL, CN_PARTIAL, CN_DISPUTE = range(3)
METHOD_CASH, METHOD_CREDIT_NOTE, METHOD_WRITE_OFF = range(3)
INVOICE, CREDIT_NOTE, DEBIT_NOTE = range(3)
DOCUMENT_PREFIXES = ("INV-", "CN-", "DN-")

# Value of one unit in EUR, around which the demo's monthly rates move a little.
EUR_VALUE = {"EUR": 1.0, "GBP": 1.17, "USD": 0.92, "CHF": 1.05, "JPY": 0.0062, "CAD": 0.67, "SEK": 0.087}

NAME_PREFIXES = (
    "Alpine", "Atlas", "Aurora", "Azur", "Baltic", "Beacon", "Boreal", "Cardinal", "Cedar", "Celtic",
    "Crown", "Delta", "Eagle", "Emerald", "Ensign", "Falcon", "Forge", "Golden", "Granite", "Harbor",
    "Helios", "Highland", "Horizon", "Iris", "Keystone", "Lakeside", "Lumen", "Meridian", "Metro",
    "Nordic", "Novum", "Oakridge", "Olympic", "Orion", "Pacific", "Pinnacle", "Polar", "Prime",
    "Quantum", "Rhine", "Riviera", "Royal", "Sapphire", "Silverline", "Solaris", "Sterling", "Summit",
    "Thames", "Titan", "Trident", "Unity", "Vanguard", "Vector", "Venture", "Vista", "Westfield",
    "Zenith", "Apex", "Bluewater", "Clearview", "Evergreen", "Greenfield", "Ironwood", "Northstar",
    "Redwood", "Seaside", "Stonebridge", "Sunrise", "Twin Oaks", "Whitecliff",
    "Bertrand", "Blanc", "Chevalier", "Fontaine", "Garnier", "Girard", "Leroy", "Mercier", "Perrin",
    "Rousseau", "Vidal", "Brandt", "Engel", "Fuchs", "Hartmann", "Keller", "Krause", "Lange", "Neumann",
    "Scholz", "Wolff", "Zimmermann", "Ashford", "Barrett", "Chandler", "Fletcher", "Hargreaves",
    "Kingsley", "Lambton", "Marlowe", "Pemberton", "Sinclair", "Thornton", "Wexford",
)  # fmt: skip
NAME_CORES = (
    "Logistics", "Foods", "Machines", "Plastics", "Textiles", "Pharma", "Electronics", "Engineering",
    "Construction", "Packaging", "Chemicals", "Metals", "Paper", "Energy", "Motors", "Systems", "Tools",
    "Medical", "Distribution", "Beverages", "Furniture", "Optics", "Automation", "Agri", "Steel",
    "Glass", "Print", "Labs", "Software", "Freight", "Marine", "Hydraulics", "Coatings", "Fasteners",
    "Interiors", "Cosmetics", "Components", "Lighting", "Instruments", "Polymers", "Timber", "Cables",
    "Dairy", "Bakery", "Apparel", "Robotics", "Aerospace", "Ceramics", "Valves", "Pumps",
)  # fmt: skip
NAME_QUALIFIERS = (
    "",
    " Group",
    " Industries",
    " Solutions",
    " Services",
    " International",
    " Holding",
    " Trading",
)
LEGAL_FORMS = {
    "FR": ("SAS", "SARL", "SA"),
    "DE": ("GmbH", "AG", "GmbH & Co. KG"),
    "GB": ("Ltd", "PLC"),
    "BE": ("NV", "SRL"),
    "LU": ("S.à r.l.", "SA"),
    "CH": ("AG", "SA"),
    "ES": ("S.L.", "S.A."),
    "IT": ("S.r.l.", "S.p.A."),
    "AT": ("GmbH",),
    "NL": ("B.V.",),
    "PL": ("Sp. z o.o.",),
    "CZ": ("s.r.o.",),
    "IE": ("Ltd",),
    "US": ("Inc.", "LLC"),
}
COUNTRIES = tuple(LEGAL_FORMS)


def generate(
    *,
    customers: int = 300,
    documents: int = 20_000,
    seed: int = 7,
    as_of: date | None = None,
    months: int = 26,
    functional_currency: str = "EUR",
    progress: Callable[[float, str], None] | None = None,
) -> Ledger:
    """A demo ledger of `customers` customers and exactly `documents` documents dated over the `months`
    months ending at `as_of` (today by default), with the payments made up to `as_of`."""
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if documents < 0:
        raise ValueError(f"documents must not be negative, got {documents}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    if functional_currency not in EUR_VALUE:
        raise ValueError(
            f"no demo exchange rates for functional currency {functional_currency!r}; "
            f"choose one of: {', '.join(EUR_VALUE)}"
        )
    report = progress or (lambda fraction, message: None)
    as_of = as_of or clock.today()
    rng = np.random.default_rng(seed)
    end = (as_of - EPOCH).days
    start = (_months_before(as_of, months) + timedelta(days=1) - EPOCH).days

    report(0.0, "Customers")
    book = _customers(rng, customers, documents, start, end, functional_currency)
    report(0.15, "Invoices and debit notes")
    docs, rate = _documents(rng, book, documents, start, end, functional_currency)
    report(0.4, "Credit notes")
    notes = _credit_notes(rng, book, docs, rate, documents, end)
    del rate
    report(0.55, "Payments")
    rows = _payments(rng, book, docs, notes, start, end)
    report(0.75, "Document and payment numbers")
    document_frame, position = _document_frame(book, docs, notes, start)
    # Large runs: let the draw arrays go before the payment frame is built.
    del docs, notes
    payment_frame = _payment_frame(book, rows, document_frame["document_id"], position, start)
    del rows, position
    installments = _installments(book.frame, document_frame, seed)
    report(1.0, "Demo ledger ready")
    return Ledger(
        customers=book.frame,
        documents=document_frame,
        payments=payment_frame,
        installments=installments,
        exchange_rates=_exchange_rates(book.currencies, functional_currency, start, end),
    )


def create(
    store: Store,
    *,
    customers: int = 300,
    documents: int = 20_000,
    seed: int = 7,
    as_of: date | None = None,
    months: int = 26,
    functional_currency: str = "EUR",
    progress: Callable[[float, str], None] | None = None,
    history: bool = True,
    collections_db: collections.CollectionsDB | None = None,
) -> Manifest:
    """Generate the demo company and write it into `store` as a new company (stored snapshots dropped),
    with its collections history (actions, promises, disputes) unless `history` is False. The history
    goes through `collections_db` when the caller holds the database open (the app), else through a
    connection opened for the purpose."""
    report = progress or (lambda fraction, message: None)
    share = 0.45 if history else 0.5
    ledger = generate(
        customers=customers,
        documents=documents,
        seed=seed,
        as_of=as_of,
        months=months,
        functional_currency=functional_currency,
        progress=lambda fraction, message: report(share * fraction, message),
    )
    record = ImportRecord(
        source="demo",
        files=f"demo company: {customers:,} customers, {documents:,} documents, seed {seed}",
        checksum=f"demo:{customers}:{documents}:{seed}:{as_of}:{months}:{functional_currency}",
        customers=ledger.customers.height,
        documents=ledger.documents.height,
        payments=ledger.payments.height,
        open_items=0,
    )
    tables = Tables(
        ledger.customers,
        ledger.documents,
        ledger.payments,
        keep_snapshots=False,
        installments=ledger.installments,
        exchange_rates=ledger.exchange_rates,
    )
    # Opened before anything is written: when another process holds it (CollectionsBusy), the data
    # stays as it was rather than a new company beside the old company's history.
    database = (collections_db or collections.CollectionsDB.for_store(store)) if history else None
    try:
        manifest = store.write(
            tables,
            record,
            functional_currency=functional_currency,
            progress=lambda fraction, message: report(share + share * fraction, message),
        )
        if database is not None:
            report(0.92, "Writing the collections history")
            events, actions = collections_history(ledger, seed=seed, as_of=manifest.data_as_of)
            submissions.load_history(database, events, actions, replace=True)
            write_contacts(database, ledger.customers, seed=seed)
    finally:
        if database is not None and collections_db is None:
            database.close()
    report(1.0, "Done")
    return manifest


@dataclass(frozen=True)
class _Book:
    """The customers, and per customer the parameters that drive their documents and payments."""

    frame: pl.DataFrame
    ids: pl.Series
    currency: np.ndarray  # index into `currencies`
    currencies: tuple[str, ...]
    terms: np.ndarray
    log_amount: np.ndarray
    activity: np.ndarray
    behaviour: np.ndarray
    lateness: np.ndarray
    default_day: np.ndarray  # defaulters stop paying after it; far future for the others
    write_off_day: np.ndarray


@dataclass(frozen=True)
class _Documents:
    """Invoices and debit notes (the documents that are not credit notes), in draw order."""

    customer: np.ndarray
    kind: np.ndarray
    day: np.ndarray  # days since 1970-01-01, as all days here
    due: np.ndarray
    amount: np.ndarray  # cents, document currency
    functional: np.ndarray  # cents, functional currency


@dataclass(frozen=True)
class _CreditNotes:
    parent: np.ndarray  # index into _Documents
    kind: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    functional: np.ndarray  # cents, negative
    applied_day: np.ndarray


@dataclass(frozen=True)
class _PaymentRows:
    document: np.ndarray  # index into invoices then credit notes; -1 for cash on account
    customer: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    method: np.ndarray
    # Rows of one payment share (day, customer, method, group): a remittance, a credit-note application.
    group: np.ndarray


# A share of the customers of France, Italy and Spain buy on 30/60/90 terms: each invoice falls due
# in three equal installments, on its due date and 30 and 60 days later.
INSTALLMENT_COUNTRIES = ("FR", "IT", "ES")
INSTALLMENT_SHARE = 0.3
INSTALLMENT_GAP_DAYS = 30
INSTALLMENT_PARTS = 3


def _installments(customers: pl.DataFrame, documents: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The installments of the invoices of the customers on 30/60/90 terms (INSTALLMENT_SHARE of those
    of INSTALLMENT_COUNTRIES, drawn from `seed`): three per invoice, the last taking the cents a
    division by three leaves, so that they add up to the invoice's amount_functional."""
    draw = np.random.default_rng([seed, INSTALLMENT_PARTS]).random(customers.height)
    on_terms = customers.filter(
        pl.col("country").is_in(INSTALLMENT_COUNTRIES) & pl.Series(draw < INSTALLMENT_SHARE)
    ).select("customer_id")
    invoices = documents.filter(pl.col("document_type") == "invoice", pl.col("amount_functional") > 0).join(
        on_terms, on="customer_id", how="semi"
    )
    part = pl.int_range(INSTALLMENT_PARTS, dtype=pl.Int64)
    total = contract.cents(pl.col("amount_functional"))
    return (
        invoices.select("document_id", "due_date", total.alias("_total"))
        .with_columns(part.implode().alias("_part"))
        .explode("_part")
        .select(
            "document_id",
            (pl.col("due_date") + pl.duration(days=pl.col("_part") * INSTALLMENT_GAP_DAYS)).alias("due_date"),
            contract.money(
                pl.when(pl.col("_part") == INSTALLMENT_PARTS - 1)
                .then(pl.col("_total") - (pl.col("_total") // INSTALLMENT_PARTS) * (INSTALLMENT_PARTS - 1))
                .otherwise(pl.col("_total") // INSTALLMENT_PARTS)
            ).alias("amount_functional"),
        )
        .cast(contract.INSTALLMENTS.schema)
    )


def _customers(
    rng: np.random.Generator,
    n: int,
    documents: int,
    start: int,
    end: int,
    functional_currency: str,
) -> _Book:
    entity = _allocate(rng, n, [e.share for e in ENTITIES])
    segment = _allocate(rng, n, SEGMENT_SHARES)
    behaviour = _allocate(rng, n, BEHAVIOUR_SHARES)
    portfolio = _allocate(rng, n, PORTFOLIO_SHARES)

    division_names = [d for e in ENTITIES for d, _ in e.divisions]
    region_names = [r for e in ENTITIES for _, r in e.divisions]
    division_offset = np.cumsum([0] + [len(e.divisions) for e in ENTITIES])
    division_count = np.diff(division_offset)
    division = division_offset[entity] + _pick(rng, division_count[entity])

    home = np.array([COUNTRIES.index(e.country) for e in ENTITIES])
    export_offset = np.cumsum([0] + [len(e.export_countries) for e in ENTITIES])
    export_codes = np.array([COUNTRIES.index(c) for e in ENTITIES for c in e.export_countries])
    export_country = export_codes[export_offset[entity] + _pick(rng, np.diff(export_offset)[entity])]
    country = np.where(segment == SEGMENTS.index("Export"), export_country, home[entity])

    collector_count = min(10, 6 + sum(n >= size for size in (200, 1_000, 5_000, 20_000)))
    collector_entity = np.array([entity_index for _, entity_index in COLLECTORS[:collector_count]])
    collector_names = [name for name, _ in COLLECTORS[:collector_count]]
    by_entity = [np.flatnonzero(collector_entity == e) for e in range(len(ENTITIES))]
    collector_offset = np.cumsum([0] + [len(c) for c in by_entity])
    collector_order = np.concatenate(by_entity)
    collector = collector_order[collector_offset[entity] + _pick(rng, np.diff(collector_offset)[entity])]

    salesperson_names, salesperson_division = _salespersons(rng, n)
    sp_sorted = np.argsort(salesperson_division, kind="stable")
    sp_offset = np.searchsorted(salesperson_division[sp_sorted], np.arange(len(division_names) + 1))
    salesperson = sp_sorted[sp_offset[division] + _pick(rng, np.diff(sp_offset)[division])]

    terms_cdf = np.cumsum(SEGMENT_TERMS_P, axis=1)
    terms = np.array(PAYMENT_TERMS)[(rng.random(n)[:, None] > terms_cdf[segment]).sum(axis=1)]
    risk_cdf = np.cumsum(BEHAVIOUR_RISK_P, axis=1)
    risk = np.minimum((rng.random(n)[:, None] > risk_cdf[behaviour]).sum(axis=1), len(RISK_CLASSES) - 1)

    size = rng.normal(0.0, 0.6, n)
    log_amount = np.asarray(SEGMENT_LOG_AMOUNT)[segment] + size
    # Bigger customers also buy more often.
    activity = np.asarray(SEGMENT_ACTIVITY)[segment] * rng.lognormal(0.3 * size, 0.7)
    lateness = rng.lognormal(0.0, 0.35, n)
    # Far in the future for those who never default.
    default_day = np.full(n, end + 36_500, dtype=np.int32)
    defaulters = behaviour == DEFAULTER
    default_day[defaulters] = end - rng.integers(60, 241, defaulters.sum())
    write_off_day = default_day + rng.integers(90, 181, n, dtype=np.int32)

    currencies = tuple(dict.fromkeys([functional_currency, *(e.currency for e in ENTITIES)]))
    currency = np.array([currencies.index(e.currency) for e in ENTITIES])[entity]
    to_functional = np.array([EUR_VALUE[c] / EUR_VALUE[functional_currency] for c in currencies])[currency]
    invoices_a_month = documents * (activity / activity.sum()) / max(1.0, (end - start) / 30.44)
    mean_invoice = np.exp(log_amount + 0.9**2 / 2)
    exposure = invoices_a_month * mean_invoice * (terms + 30) / 30 * np.asarray(RISK_LIMIT_FACTOR)[risk]
    credit_limit = np.maximum(1, np.ceil(exposure * to_functional / 1000)) * 1000 * 100

    ids = _numbered("CUST-", np.arange(1, n + 1), 6)
    frame = pl.DataFrame(
        {
            "customer_id": ids,
            "customer_name": _company_names(rng, n, country),
            "entity": _labels([e.name for e in ENTITIES], entity),
            "division": _labels(division_names, division),
            "region": _labels(region_names, division),
            "portfolio": _labels(PORTFOLIOS, portfolio),
            "segment": _labels(SEGMENTS, segment),
            "salesperson": _labels(salesperson_names, salesperson),
            "collector": _labels(collector_names, collector),
            "credit_limit": _money(credit_limit.astype(np.int64)),
            "payment_terms_days": pl.Series(terms, dtype=pl.Int64),
            "risk_class": _labels(RISK_CLASSES, risk),
            "country": _labels(COUNTRIES, country),
        },
        schema=contract.CUSTOMERS.schema,
    )
    return _Book(
        frame=frame,
        ids=ids,
        currency=currency,
        currencies=currencies,
        terms=terms.astype(np.int32),
        log_amount=log_amount,
        activity=activity,
        behaviour=behaviour.astype(np.int8),
        lateness=lateness,
        default_day=default_day,
        write_off_day=write_off_day,
    )


def _salespersons(rng: np.random.Generator, customers: int) -> tuple[list[str], np.ndarray]:
    """Salesperson names (unique, in each entity's language) and the division each one covers."""
    total = int(np.clip(round(math.sqrt(customers) / 1.5), 6, 150))
    names: list[str] = []
    divisions: list[np.ndarray] = []
    first_division = 0
    for e in ENTITIES:
        count = max(len(e.divisions), round(total * e.share))
        space = len(e.first_names) * len(e.last_names)
        pair = rng.choice(space, size=min(count, space), replace=False)
        names += [
            f"{e.first_names[p // len(e.last_names)]} {e.last_names[p % len(e.last_names)]}" for p in pair
        ]
        divisions.append(first_division + np.arange(len(pair)) % len(e.divisions))
        first_division += len(e.divisions)
    return names, np.concatenate(divisions)


def _company_names(rng: np.random.Generator, n: int, country: np.ndarray) -> pl.Series:
    """Unique names: a distinct (prefix, core, qualifier) per customer, numbered once all are used,
    followed by a legal form of the customer's country."""
    cores, qualifiers = len(NAME_CORES), len(NAME_QUALIFIERS)
    space = len(NAME_PREFIXES) * cores * qualifiers
    combination = rng.permutation(space)[np.arange(n) % space]
    repeat = np.arange(n) // space
    form_offset = np.cumsum([0] + [len(LEGAL_FORMS[c]) for c in COUNTRIES])
    forms = [f for c in COUNTRIES for f in LEGAL_FORMS[c]]
    form = form_offset[country] + _pick(rng, np.diff(form_offset)[country])
    return pl.select(
        pl.concat_str(
            _labels(NAME_PREFIXES, combination // (cores * qualifiers)),
            pl.lit(" "),
            _labels(NAME_CORES, combination // qualifiers % cores),
            _labels(NAME_QUALIFIERS, combination % qualifiers),
            pl.when(pl.lit(pl.Series(repeat)) > 0)
            .then(pl.lit(" ") + (pl.lit(pl.Series(repeat)) + 1).cast(pl.String))
            .otherwise(pl.lit("")),
            pl.lit(" "),
            _labels(forms, form),
        ).alias("customer_name")
    ).to_series()


def _documents(
    rng: np.random.Generator, book: _Book, documents: int, start: int, end: int, functional_currency: str
) -> tuple[_Documents, np.ndarray]:
    """The invoices and debit notes, and the rate each was converted at."""
    n = documents - int(documents * CREDIT_NOTE_SHARE)
    days = np.arange(start, end + 1, dtype=np.int32)
    month = _month_of(days)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    month_end = _month_of(days + 1) != month
    weight = (
        np.asarray(MONTH_SEASONALITY)[month % 12]
        * np.where(weekday < 5, 1.0, 0.04)
        * np.where(month_end & (weekday < 5), 1.8, 1.0)
        * (1 + ANNUAL_GROWTH) ** ((days - end) / 365.25)
    )
    # Documents are numbered in date order later, so draw order is free: counts by customer, in a
    # shuffled order of days.
    customer = np.repeat(
        np.arange(len(book.terms), dtype=np.int32), rng.multinomial(n, book.activity / book.activity.sum())
    )
    day = rng.permutation(np.repeat(days, rng.multinomial(n, weight / weight.sum())))
    # Defaulters are put on credit hold a month after they stop paying; others take their orders.
    blocked = day > book.default_day[customer] + 30
    still_open = np.flatnonzero(book.behaviour != DEFAULTER).astype(np.int32)
    if blocked.any() and len(still_open):
        customer[blocked] = _choose(rng, still_open, book.activity[still_open], int(blocked.sum()))
    del blocked

    kind = np.where(rng.random(n) < DEBIT_NOTE_SHARE / (1 - CREDIT_NOTE_SHARE), DEBIT_NOTE, INVOICE)
    kind = kind.astype(np.int8)
    log_amount = rng.standard_normal(n)
    # Debit notes are late fees and price adjustments: a fraction of an invoice.
    log_amount *= np.where(kind == DEBIT_NOTE, 0.5, 0.9)
    log_amount += book.log_amount[customer] - np.where(kind == DEBIT_NOTE, 2.5, 0.0)
    amount = np.exp(log_amount, out=log_amount)
    amount *= 100
    amount = np.maximum(np.rint(amount), np.where(kind == DEBIT_NOTE, 1500, 500)).astype(np.int64)
    rate = _rates(book, functional_currency, customer, month_index=_month_of(day) - _month_of(start))
    docs = _Documents(
        customer=customer,
        kind=kind,
        day=day,
        due=day + book.terms[customer],
        amount=amount,
        functional=_round_half_away(amount * rate),
    )
    return docs, rate


def _credit_notes(
    rng: np.random.Generator, book: _Book, docs: _Documents, rate: np.ndarray, documents: int, end: int
) -> _CreditNotes:
    """Credit notes, each against one invoice or debit note of the same customer, issued after it."""
    n = int(documents * CREDIT_NOTE_SHARE)
    if n:
        # Weighted sampling without replacement: the n smallest exponential keys over weights.
        keys = rng.exponential(size=len(docs.day))
        keys[book.behaviour[docs.customer] == DISPUTER] /= 6.0
        parent = np.sort(np.argpartition(keys, n - 1)[:n]).astype(np.int32)
        del keys
    else:
        parent = np.zeros(0, dtype=np.int32)
    disputer = book.behaviour[docs.customer[parent]] == DISPUTER
    u = rng.random(n)
    kind = np.where(
        disputer,
        np.select([u < 0.7, u < 0.9], [CN_DISPUTE, CN_PARTIAL], CN_FULL),
        np.where(u < 0.25, CN_FULL, CN_PARTIAL),
    )
    fraction = np.select(
        [kind == CN_FULL, kind == CN_PARTIAL], [1.0, rng.uniform(0.03, 0.4, n)], rng.uniform(0.1, 0.6, n)
    )
    lag = np.select(
        [kind == CN_FULL, kind == CN_PARTIAL],
        [rng.integers(1, 21, n), rng.integers(5, 61, n)],
        rng.integers(60, 181, n),
    )
    day = np.minimum(docs.day[parent] + lag, end).astype(np.int32)
    amount = -np.maximum(1, np.rint(docs.amount[parent] * fraction)).astype(np.int64)
    # Booked at the invoice's rate, so that a full credit note cancels the invoice to the cent.
    functional = -_round_half_away(-amount * rate[parent])
    return _CreditNotes(
        parent=parent,
        kind=kind,
        day=day,
        amount=amount,
        functional=functional,
        applied_day=day + rng.integers(0, 16, n, dtype=np.int32),
    )


def _payments(
    rng: np.random.Generator, book: _Book, docs: _Documents, notes: _CreditNotes, start: int, end: int
) -> _PaymentRows:
    """Every settlement up to `end`: cash (some invoices in two parts), credit-note applications,
    write-offs (small residuals, and the old debts of defaulters) and cash on account."""
    n = len(docs.day)
    customer = docs.customer
    behaviour = book.behaviour[customer]
    remaining = docs.functional.copy()
    remaining[notes.parent] += notes.functional
    pay_day = _pay_days(rng, book, docs, notes, behaviour)

    split = rng.random(n) < PARTIAL_PAYMENT_SHARE
    split &= (remaining >= 2) & (pay_day - docs.day >= 8)
    first = np.where(split, np.rint(remaining * rng.uniform(0.2, 0.8, n)).astype(np.int64), 0)
    first_day = _next_business_day(np.maximum(docs.day, pay_day - rng.integers(7, 61, n, dtype=np.int32)))
    np.minimum(first_day, pay_day - 1, out=first_day)

    small = rng.random(n) < SMALL_BALANCE_WRITE_OFF_SHARE
    small &= (behaviour != DEFAULTER) & ~split & (remaining >= 1_000)
    cap = np.clip(remaining * 0.02, 1, 5_000)
    residual = np.where(small, 1 + (rng.random(n) * (cap - 1)).astype(np.int64), 0)
    del cap, small, split
    small_day = pay_day + rng.integers(20, 121, n, dtype=np.int32)

    paid_until = np.minimum(book.default_day[customer], end)
    kept_first = np.where(first_day <= paid_until, first, 0)
    kept_rest = np.where(pay_day <= paid_until, remaining - first - residual, 0)
    del first, paid_until
    unpaid = remaining - kept_first - kept_rest - np.where(small_day <= end, residual, 0)
    del remaining
    write_off_day = book.write_off_day[customer]
    written_off = rng.random(n) < 0.6
    written_off &= (
        (behaviour == DEFAULTER) & (unpaid > 0) & (write_off_day <= end) & (docs.due < write_off_day - 60)
    )
    del behaviour

    cash = np.flatnonzero(kept_rest > 0).astype(np.int32)
    cash_first = np.flatnonzero(kept_first > 0).astype(np.int32)
    small_off = np.flatnonzero((residual > 0) & (small_day <= end)).astype(np.int32)
    default_off = np.flatnonzero(written_off).astype(np.int32)
    applied = np.flatnonzero(notes.applied_day <= end).astype(np.int32)
    parents = notes.parent[applied]
    credit_note = n + applied
    credit_amount = -notes.functional[applied]
    credit_day = notes.applied_day[applied]
    on_account = _cash_on_account(
        rng, book, round((len(cash) + len(cash_first)) * CASH_ON_ACCOUNT_SHARE), start, end
    )
    return _concatenate(
        [
            _rows(cash, customer[cash], pay_day[cash], kept_rest[cash], METHOD_CASH),
            _rows(
                cash_first, customer[cash_first], first_day[cash_first], kept_first[cash_first], METHOD_CASH
            ),
            _rows(
                small_off, customer[small_off], small_day[small_off], residual[small_off], METHOD_WRITE_OFF
            ),
            _rows(
                default_off,
                customer[default_off],
                write_off_day[default_off],
                unpaid[default_off],
                METHOD_WRITE_OFF,
            ),
            # A credit-note application: +x on the invoice and -x on the credit note, one payment.
            _rows(parents, customer[parents], credit_day, credit_amount, METHOD_CREDIT_NOTE, credit_note),
            _rows(
                credit_note, customer[parents], credit_day, -credit_amount, METHOD_CREDIT_NOTE, credit_note
            ),
            on_account,
        ]
    )


def _pay_days(
    rng: np.random.Generator, book: _Book, docs: _Documents, notes: _CreditNotes, behaviour: np.ndarray
) -> np.ndarray:
    """The day each invoice or debit note would be paid in full, whether or not that is before as-of."""
    n = len(docs.day)
    delay = rng.gamma(np.asarray(DELAY_SHAPE)[behaviour], np.asarray(DELAY_SCALE)[behaviour])
    delay *= np.where(behaviour == PROMPT, 1.0, book.lateness[docs.customer])
    delay += np.asarray(DELAY_LOC)[behaviour]
    due_month = _month_of(docs.due) % 12
    seasonal = behaviour == SEASONAL
    delay += (seasonal & ((due_month == 6) | (due_month == 7))) * rng.uniform(25, 50, n)
    delay += (seasonal & (due_month == 11)) * rng.uniform(20, 40, n)
    del due_month, seasonal
    # A disputer holds a quarter of its invoices for months.
    held = (behaviour == DISPUTER) & (rng.random(n) < 0.25)
    delay[held] = rng.uniform(60, 300, int(held.sum()))
    # A settled dispute has its undisputed part paid once the dispute is logged.
    settled = notes.parent[notes.kind == CN_DISPUTE]
    delay[settled] = rng.uniform(20, 90, len(settled))
    pay_day = docs.due + np.rint(delay).astype(np.int32)
    del delay
    return _next_business_day(np.maximum(pay_day, docs.day))


def _rows(
    document: np.ndarray,
    customer: np.ndarray,
    day: np.ndarray,
    amount: np.ndarray,
    method: int,
    group: np.ndarray | None = None,
) -> _PaymentRows:
    return _PaymentRows(
        document=document,
        customer=customer,
        day=day,
        amount=amount,
        method=np.full(len(document), method, dtype=np.int8),
        group=np.zeros(len(document), dtype=np.int32) if group is None else group,
    )


def _concatenate(parts: list[_PaymentRows]) -> _PaymentRows:
    return _PaymentRows(
        document=np.concatenate([p.document for p in parts]),
        customer=np.concatenate([p.customer for p in parts]),
        day=np.concatenate([p.day for p in parts]),
        amount=np.concatenate([p.amount for p in parts]),
        method=np.concatenate([p.method for p in parts]),
        group=np.concatenate([p.group for p in parts]),
    )


def _cash_on_account(rng: np.random.Generator, book: _Book, count: int, start: int, end: int) -> _PaymentRows:
    """Cash received and never matched to a document: mostly recent, as old unapplied cash gets chased
    and cleared. Each is a payment of its own, apart from the day's remittance."""
    customer = _choose(rng, np.arange(len(book.terms), dtype=np.int32), book.activity, count)
    age = np.rint(rng.exponential(30, count)).astype(np.int32)
    day = np.minimum(_next_business_day(np.maximum(end - age, start)), end).astype(np.int32)
    amount = np.exp(book.log_amount[customer] - 1 + 0.8 * rng.standard_normal(count)) * 100
    return _rows(
        np.full(count, -1, dtype=np.int32),
        customer,
        day,
        np.maximum(100, np.rint(amount)).astype(np.int64),
        METHOD_CASH,
        -1 - np.arange(count, dtype=np.int32),
    )


def _document_frame(
    book: _Book, docs: _Documents, notes: _CreditNotes, start: int
) -> tuple[pl.DataFrame, np.ndarray]:
    """The documents in date order, numbered by type in that order, and the position in the frame of
    each document in draw order (invoices and debit notes, then credit notes)."""
    kind = np.concatenate([docs.kind, np.full(len(notes.parent), CREDIT_NOTE, dtype=np.int8)])
    customer = np.concatenate([docs.customer, docs.customer[notes.parent]])
    day = np.concatenate([docs.day, notes.day])
    order = _order((day - start, customer, kind), (len(book.terms), len(contract.DOCUMENT_TYPES)))
    kind, customer, day = kind[order], customer[order], day[order]
    sequence = np.zeros(len(kind), dtype=np.int64)
    width = np.zeros(len(DOCUMENT_PREFIXES), dtype=np.int64)
    for code in range(len(DOCUMENT_PREFIXES)):
        of_kind = kind == code
        sequence[of_kind] = np.arange(1, of_kind.sum() + 1)
        width[code] = _width(int(of_kind.sum()), 6)
    del of_kind
    ids = pl.select(
        pl.concat_str(
            _labels(DOCUMENT_PREFIXES, kind),
            pl.lit(pl.Series(sequence)).cast(pl.String).str.zfill(pl.lit(pl.Series(width[kind]))),
        ).alias("document_id")
    ).to_series()
    del sequence
    frame = pl.DataFrame(
        {
            "document_id": ids,
            "document_type": _labels(contract.DOCUMENT_TYPES, kind),
            "customer_id": book.ids.gather(customer),
            "document_date": _dates(day),
            "due_date": _dates(np.concatenate([docs.due, notes.day])[order]),
            "currency": _labels(book.currencies, book.currency[customer]),
            "amount": _money(np.concatenate([docs.amount, notes.amount])[order]),
            "amount_functional": _money(np.concatenate([docs.functional, notes.functional])[order]),
        },
        schema=contract.DOCUMENTS.schema,
    )
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    return frame, position


def _payment_frame(
    book: _Book, rows: _PaymentRows, document_ids: pl.Series, position: np.ndarray, start: int
) -> pl.DataFrame:
    """One row per allocation, in date order; the rows of one payment are a customer's remittance of a
    day, one credit-note application, one day's write-offs for a customer or one cash on account."""
    group = rows.group - rows.group.min(initial=0)
    event = (rows.day - start, rows.customer, rows.method, group)
    sizes = (len(book.terms), len(contract.PAYMENT_METHODS), int(group.max(initial=0)) + 1)
    # Stable: within a credit-note application the invoice row, drawn first, comes first.
    order = _order(event, sizes)
    del group
    new_payment = np.zeros(len(order), dtype=bool)
    new_payment[:1] = True
    for key in event:
        in_order = key[order]
        new_payment[1:] |= in_order[1:] != in_order[:-1]
    del event, in_order
    payment = np.cumsum(new_payment)
    del new_payment
    document = rows.document[order]
    applied = pl.Series(np.where(document < 0, 0, position[np.maximum(document, 0)]))
    return pl.DataFrame(
        {
            "payment_id": _numbered("PAY-", payment, _width(int(payment[-1]) if len(payment) else 0, 7)),
            "customer_id": book.ids.gather(rows.customer[order]),
            "payment_date": _dates(rows.day[order]),
            "document_id": document_ids.gather(applied.set(pl.Series(document < 0), None)),
            "amount": _money(rows.amount[order]),
            "method": _labels(contract.PAYMENT_METHODS, rows.method[order]),
        },
        schema=contract.PAYMENTS.schema,
    )


def _order(keys: tuple[np.ndarray, ...], sizes: tuple[int, ...]) -> np.ndarray:
    """Stable sort order by several non-negative integer keys, the first most significant; `sizes` are
    the bounds of all keys but the first. One composite key when it fits in 63 bits, being much faster
    than a lexsort."""
    bound = int(keys[0].max(initial=0)) + 1
    for size in sizes:
        bound *= size
    if bound >= 2**62:
        return np.lexsort(keys[::-1])
    composite = keys[0].astype(np.int64)
    for key, size in zip(keys[1:], sizes, strict=True):
        composite *= size
        composite += key
    return np.argsort(composite, kind="stable")


def _allocate(rng: np.random.Generator, n: int, shares: tuple[float, ...] | list[float]) -> np.ndarray:
    """Category codes with exactly the given shares (largest remainder), in random order, so that even a
    small demo has every kind of customer."""
    weights = np.asarray(shares, dtype=float)
    exact = weights / weights.sum() * n
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(weights)), counts))


def _pick(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """A uniform choice in range(count) for each count."""
    return np.minimum((rng.random(len(counts)) * counts).astype(np.int64), np.maximum(counts - 1, 0))


def _choose(rng: np.random.Generator, values: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """`size` values drawn with replacement, in proportion to their weights."""
    cumulative = np.cumsum(weights, dtype=float)
    position = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
    return values[np.minimum(position, len(values) - 1)]


def _rates(
    book: _Book, functional_currency: str, customer: np.ndarray, month_index: np.ndarray
) -> np.ndarray:
    """Monthly rates to the functional currency, moving a couple of percent around a fixed value."""
    table = _rate_table(book.currencies, functional_currency, int(month_index.max(initial=0)) + 1)
    return table[book.currency[customer], month_index]


def _rate_table(currencies: tuple[str, ...], functional_currency: str, months: int) -> np.ndarray:
    """Each currency's rate (rows, in the order of `currencies`) in each month from the first (columns)."""
    wobble = 1 + 0.02 * np.sin(np.arange(months) * 0.9) + 0.01 * np.cos(np.arange(months) * 0.37)
    base = np.array([EUR_VALUE[c] / EUR_VALUE[functional_currency] for c in currencies])
    table = np.round(base[:, None] * wobble[None, :], 4)
    table[np.array(currencies) == functional_currency] = 1.0
    return table


def _exchange_rates(
    currencies: tuple[str, ...], functional_currency: str, start: int, end: int
) -> pl.DataFrame:
    """The rates the documents were booked at, as an exchange_rates file: one per foreign currency and
    month, dated the month's first day (documents are booked at their month's rate)."""
    first = int(_month_of(np.array([start]))[0])
    months = int(_month_of(np.array([end]))[0]) - first + 1
    table = _rate_table(currencies, functional_currency, months)
    month_starts = (np.arange(first, first + months).astype("datetime64[M]")).astype("datetime64[D]")
    rows = [
        {"rate_date": day.item(), "currency": currency, "rate": str(table[position, month])}
        for position, currency in enumerate(currencies)
        if currency != functional_currency
        for month, day in enumerate(month_starts)
    ]
    frame = pl.DataFrame(rows, schema={"rate_date": pl.Date, "currency": pl.String, "rate": pl.String})
    return frame.with_columns(pl.col("rate").cast(contract.RATE))


def _month_of(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of days since 1970-01-01; `% 12` gives the calendar month from 0."""
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _next_business_day(days: np.ndarray) -> np.ndarray:
    """Saturdays and Sundays moved to the Monday (1970-01-01 was a Thursday)."""
    weekday = (days + 3) % 7
    return days + ((weekday >= 5) * (7 - weekday)).astype(days.dtype)


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = (date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last))


def _round_half_away(values: np.ndarray) -> np.ndarray:
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


def _width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """PREFIX-000042: zero-padded to `width` digits so that ids sort like their numbers."""
    return pl.select(
        pl.concat_str(pl.lit(prefix), pl.lit(pl.Series(numbers)).cast(pl.String).str.zfill(width))
    ).to_series()


def _labels(names: tuple[str, ...] | list[str], codes: np.ndarray) -> pl.Series:
    return pl.Series(list(names), dtype=pl.String).gather(pl.Series(codes))


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _money(cents: np.ndarray) -> pl.Series:
    """Exact Decimal(18, 2) from integer cents (the division by 100 is exact in decimal)."""
    return pl.select(
        (pl.lit(pl.Series(cents, dtype=pl.Int64)).cast(contract.MONEY) / 100).cast(contract.MONEY)
    ).to_series()


# --- collections history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectorHabits:
    """How a demo collector works: the channels used (weights over collections.ACTION_TYPES: call,
    email, letter, registered_letter, sms, meeting, note), the days past due of the first reminder, the
    days between reminders, the most days they act after a planned next action, and how often they
    get a promise to pay out of a late payer."""

    channels: tuple[float, float, float, float, float, float, float]
    first_reminder: int
    cadence: int
    late_days: int
    promise_rate: float


# late_days stays below cadence, so that a late reminder still comes before the next planned one.
COLLECTOR_HABITS = {
    "Camille Martin": CollectorHabits((0.72, 0.12, 0.05, 0.02, 0.05, 0.02, 0.02), 3, 7, 0, 0.65),
    "Lena Hoffmann": CollectorHabits((0.15, 0.68, 0.08, 0.03, 0.01, 0.02, 0.03), 5, 10, 1, 0.45),
    "Olivia Bennett": CollectorHabits((0.45, 0.35, 0.08, 0.03, 0.05, 0.02, 0.02), 4, 8, 0, 0.60),
    "Julien Moreau": CollectorHabits((0.62, 0.20, 0.08, 0.03, 0.03, 0.02, 0.02), 10, 12, 9, 0.40),
    "Jonas Richter": CollectorHabits((0.18, 0.35, 0.30, 0.10, 0.01, 0.03, 0.03), 7, 14, 2, 0.35),
    "James Whitaker": CollectorHabits((0.55, 0.22, 0.05, 0.02, 0.12, 0.02, 0.02), 6, 10, 7, 0.50),
    "Nathalie Garnier": CollectorHabits((0.35, 0.22, 0.05, 0.02, 0.32, 0.02, 0.02), 3, 7, 1, 0.55),
    "Katrin Vogel": CollectorHabits((0.40, 0.40, 0.10, 0.04, 0.01, 0.03, 0.02), 5, 9, 3, 0.50),
    "Thomas Roux": CollectorHabits((0.50, 0.30, 0.10, 0.04, 0.02, 0.02, 0.02), 8, 11, 8, 0.40),
    "Priya Patel": CollectorHabits((0.48, 0.38, 0.05, 0.02, 0.03, 0.02, 0.02), 4, 7, 0, 0.70),
}
DEFAULT_HABITS = CollectorHabits((0.45, 0.35, 0.08, 0.03, 0.05, 0.02, 0.02), 5, 10, 2, 0.50)
HISTORY_MONTHS = 24
# Reminders on an item: the first few at the collector's cadence, then one in three.
STEADY_REMINDERS = 6
DISPUTE_REASON_SHARES = (0.32, 0.25, 0.20, 0.15, 0.04, 0.04)
DISPUTE_COMMENTS = {
    "price": "Customer disputes the unit price against the quote",
    "quality": "Goods reported damaged or defective",
    "delivery": "Customer says the delivery was incomplete",
    "billing_error": "Wrong quantity invoiced",
    "duplicate": "Customer says this was already invoiced",
    "other": "Customer contests the invoice",
}
RESOLUTION_COMMENTS = {
    "credit_note_to_issue": "Claim accepted: a credit note will be issued",
    "customer_to_pay": "Claim rejected after review: the customer pays in full",
    "partially_justified": "Claim partly justified: partial credit note",
    "other": "Settled with the customer",
}
ACTION_COMMENTS = {
    "call": "Called accounts payable",
    "email": "Statement of account sent",
    "letter": "Reminder letter sent",
    "registered_letter": "Formal notice sent by registered letter",
    "sms": "Payment reminder by SMS",
    "meeting": "Met the customer's finance team",
    "note": "Account reviewed",
}
# Outcomes of a call or meeting, and of a written reminder: reached, no_answer, left_message,
# wrong_contact, other.
SPOKEN_OUTCOMES = (
    ("reached", 0.45),
    ("no_answer", 0.25),
    ("left_message", 0.20),
    ("wrong_contact", 0.04),
    ("other", 0.06),
)
WRITTEN_OUTCOMES = (("reached", 0.30), ("other", 0.70))


# One demo customer in CONTACTLESS_EVERY has no e-mail address (its automatic e-mails are skipped).
CONTACTLESS_EVERY = 10
CONTACT_NAMES = ("Accounts payable", "Mrs Martin", "Mr Novak", "Ms Rossi", "Mr Schmidt", "Mrs Garcia")


def write_contacts(database: collections.CollectionsDB, customers: pl.DataFrame, *, seed: int = 7) -> None:
    """Every demo customer's contact for reminders (analytics.scenarios' contacts), in one write: most
    at ap.CUSTOMER-ID@example.com, a domain reserved for examples that delivers nowhere; one in
    CONTACTLESS_EVERY with no address, so that a run shows what it skips. Deterministic for a seed."""
    rng = np.random.default_rng([seed, 2_024])
    now = collections.utc_now()
    statements = []
    for position, customer_id in enumerate(customers.get_column("customer_id").to_list()):
        has_address = position % CONTACTLESS_EVERY != CONTACTLESS_EVERY - 1
        statements.append(
            (
                "scenarios_insert_contact",
                {
                    "customer_id": customer_id,
                    "contact_name": str(rng.choice(CONTACT_NAMES)),
                    "email": f"ap.{customer_id.lower()}@example.com" if has_address else None,
                    "postal_address": None,
                    "user_name": "demo",
                    "recorded_at": now,
                },
            )
        )
    database.append(statements)


def collections_history(
    ledger: Ledger,
    *,
    seed: int = 7,
    as_of: date | None = None,
    months: int = HISTORY_MONTHS,
    grace_days: int = promises.PROMISE_GRACE_DAYS,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The collections history of a demo ledger over the `months` months to `as_of` (its last date by
    default): (item events, actions) with the columns of collections.ITEM_EVENT_SCHEMA and ACTION_SCHEMA.

    Consistent with the ledger's payments: each collector reminds the customers with overdue items on a
    schedule of their own (COLLECTOR_HABITS: channel, first reminder, cadence, lateness on planned next
    actions); a promise to pay is obtained at a reminder: kept ones a few days before the payment that
    settled the item, broken ones on items paid well after the promised date + `grace_days` (or still
    unpaid); disputes open on items later credited (resolved: credit note to issue, or partially
    justified) or paid very late (resolved: customer to pay, a few cleared), and on unpaid items (still
    open, some past their expected resolution); defaulters' items go to litigation, then are proposed as
    bad debt before their write-off. Every event is dated when its item is open, as a submission would be
    checked. Deterministic for a seed."""
    as_of = as_of or max(
        ledger.documents.get_column("document_date").max(), ledger.payments.get_column("payment_date").max()
    )
    rng = np.random.default_rng([seed, 20_26])
    end = (as_of - EPOCH).days
    start = (_months_before(as_of, months) + timedelta(days=1) - EPOCH).days
    customers = _habit_table(rng, ledger.customers)
    items = _followed_items(ledger, customers, start, end)
    reminders = _reminders(rng, items, start, end)
    disputes, holds = _disputes(rng, ledger, items, reminders, start, end)
    promises = _promises(rng, ledger, items, reminders, holds, disputes, end, grace_days)
    reminders = _outside_holds(reminders, holds, promises, grace_days)
    events = pl.concat([promises, disputes], how="diagonal_relaxed").filter(
        pl.col("day").is_between(start, end)
    )
    actions = _actions(rng, reminders, events, customers, grace_days)
    stamped = _stamps(rng, actions)
    return _event_frame(events, stamped, customers), _action_frame(actions, stamped, customers)


def _day(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Int32)


def _business_day(days: pl.Expr) -> pl.Expr:
    """Saturdays and Sundays moved to the Monday (1970-01-01 was a Thursday)."""
    weekday = (days + 3) % 7
    return (days + pl.when(weekday >= 5).then(7 - weekday).otherwise(0)).cast(pl.Int32)


def _draw(frame: pl.DataFrame, name: str, values: np.ndarray) -> pl.DataFrame:
    return frame.with_columns(pl.Series(name, values))


def _habit_table(rng: np.random.Generator, customers: pl.DataFrame) -> pl.DataFrame:
    """Per customer: its collector's habits, its place on the collector's reminder schedule and the
    accounts-payable contact the collector talks to (drawn in customer_id order, so that the same
    customers in any order give the same history)."""
    customers = customers.sort("customer_id")
    names = customers.get_column("collector").fill_null("").to_list()
    habits = [COLLECTOR_HABITS.get(name, DEFAULT_HABITS) for name in names]
    cadence = np.array([h.cadence for h in habits], dtype=np.int32)
    first = [e.first_names for e in ENTITIES]
    last = [e.last_names for e in ENTITIES]
    entity_names = [e.name for e in ENTITIES]
    entity = [
        entity_names.index(e) if e in entity_names else 0 for e in customers.get_column("entity").to_list()
    ]
    pick_first = rng.integers(0, 1_000, len(names))
    pick_last = rng.integers(0, 1_000, len(names))
    contacts = [
        f"{first[e][a % len(first[e])]} {last[e][b % len(last[e])]}"
        for e, a, b in zip(entity, pick_first, pick_last, strict=True)
    ]
    return customers.select("customer_id", "collector", "salesperson", "division", "entity").with_columns(
        pl.Series("cadence", cadence),
        pl.Series("first_reminder", [h.first_reminder for h in habits], dtype=pl.Int32),
        pl.Series("late_days", [h.late_days for h in habits], dtype=pl.Int32),
        pl.Series("promise_rate", [h.promise_rate for h in habits], dtype=pl.Float64),
        pl.Series("channels", [list(h.channels) for h in habits], dtype=pl.List(pl.Float64)),
        pl.Series("anchor", (rng.random(len(names)) * cadence).astype(np.int32)),
        pl.Series("contact_person", contacts, dtype=pl.String),
        pl.col("collector").fill_null("Collections team").alias("user_name"),
    )


def _followed_items(ledger: Ledger, customers: pl.DataFrame, start: int, end: int) -> pl.DataFrame:
    """Invoices and debit notes due before `end`, with the day cash and credit notes settled 98% of them
    (collected), the day a bad debt was written off, the day nothing was left open whatever settled it
    (closed), the first credit note applied (its date and amount), and the day the item stopped being
    chased (`stop`, excluded)."""
    documents = ledger.documents.filter(pl.col("document_type") != "credit_note", _day("due_date") < end)
    payments = ledger.payments.filter(pl.col("document_id").is_not_null())
    settled = (
        payments.filter(pl.col("method").is_in(["cash", "credit_note"]))
        .group_by("document_id", "payment_date")
        .agg(pl.col("amount").sum())
        .sort("document_id", "payment_date")
        .with_columns(pl.col("amount").cum_sum().over("document_id").alias("settled"))
        .join(documents.select("document_id", "amount_functional"), on="document_id")
        .filter(pl.col("settled").cast(pl.Float64) >= pl.col("amount_functional").cast(pl.Float64) * 0.98)
        .group_by("document_id")
        .agg(_day("payment_date").min().alias("collected"))
    )
    closed = (
        payments.group_by("document_id", "payment_date")
        .agg(pl.col("amount").sum())
        .sort("document_id", "payment_date")
        .with_columns(pl.col("amount").cum_sum().over("document_id").alias("settled"))
        .join(documents.select("document_id", "amount_functional"), on="document_id")
        .filter(pl.col("settled") >= pl.col("amount_functional"))
        .group_by("document_id")
        .agg(_day("payment_date").min().alias("closed"))
    )
    bad_debt = (
        payments.filter(pl.col("method") == "write_off")
        .join(documents.select("document_id", "amount_functional"), on="document_id")
        .filter(pl.col("amount").cast(pl.Float64) >= pl.col("amount_functional").cast(pl.Float64) * 0.5)
        .group_by("document_id")
        .agg(_day("payment_date").min().alias("written_off"))
    )
    notes = payments.filter(pl.col("method") == "credit_note", pl.col("amount") < 0).select(
        "payment_id", pl.col("document_id").alias("note_id")
    )
    credits = (
        payments.filter(pl.col("method") == "credit_note", pl.col("amount") > 0)
        .join(notes, on="payment_id")
        .join(
            ledger.documents.select(
                pl.col("document_id").alias("note_id"), _day("document_date").alias("credited_on")
            ),
            on="note_id",
        )
        .sort("document_id", "credited_on")
        .group_by("document_id")
        .agg(pl.col("credited_on").first(), pl.col("amount").first().alias("credited"))
    )
    return (
        documents.select(
            "document_id",
            "customer_id",
            _day("document_date").alias("issued"),
            _day("due_date").alias("due"),
            "amount_functional",
        )
        .join(settled, on="document_id", how="left")
        .join(bad_debt, on="document_id", how="left")
        .join(closed, on="document_id", how="left")
        .join(credits, on="document_id", how="left")
        .join(
            customers.select(
                "customer_id", "cadence", "first_reminder", "late_days", "anchor", "promise_rate"
            ),
            on="customer_id",
        )
        .with_columns(pl.min_horizontal("collected", "written_off", "closed", pl.lit(end + 1)).alias("stop"))
        .filter(pl.col("stop") > pl.max_horizontal(pl.col("due") + pl.col("first_reminder"), pl.lit(start)))
        .sort("document_id")
    )


def _reminders(rng: np.random.Generator, items: pl.DataFrame, start: int, end: int) -> pl.DataFrame:
    """One row per (item, reminder): the customer's schedule days (anchor + k x cadence) from the first
    reminder while the item is chased, thinned after STEADY_REMINDERS, each done `delay` days late
    (the same delay for every item of the customer that day)."""
    first_k = (pl.col("due") + pl.col("first_reminder") - pl.col("anchor") + pl.col("cadence") - 1).floordiv(
        pl.col("cadence")
    )
    from_k = pl.max_horizontal(
        first_k, (pl.lit(start) - pl.col("anchor") + pl.col("cadence") - 1).floordiv(pl.col("cadence"))
    )
    to_k = (pl.min_horizontal(pl.col("stop") - 1, pl.lit(end)) - pl.col("anchor")).floordiv(pl.col("cadence"))
    rows = (
        items.select(
            "document_id",
            "customer_id",
            "due",
            "stop",
            "cadence",
            "late_days",
            "anchor",
            first_k.alias("first_k"),
            pl.int_ranges(from_k, pl.max_horizontal(from_k, to_k + 1)).alias("k"),
        )
        .explode("k")
        .filter(pl.col("k").is_not_null())
        .filter(
            ((pl.col("k") - pl.col("first_k")) < STEADY_REMINDERS)
            | ((pl.col("k") - pl.col("first_k")) % 3 == 0)
        )
    )
    slots = rows.select("customer_id", "k", "late_days").unique().sort("customer_id", "k")
    slots = _draw(
        slots,
        "delay",
        (rng.random(slots.height) * (slots.get_column("late_days").to_numpy() + 1)).astype(np.int32),
    )
    return (
        rows.join(slots.drop("late_days"), on=["customer_id", "k"])
        .with_columns(
            _business_day(pl.col("anchor") + pl.col("k") * pl.col("cadence") + pl.col("delay")).alias("day"),
            _business_day(pl.col("anchor") + pl.col("k") * pl.col("cadence")).alias("planned_day"),
            _business_day(pl.col("anchor") + (pl.col("k") + 1) * pl.col("cadence")).alias("next_day"),
        )
        .filter(pl.col("day") < pl.col("stop"), pl.col("day").is_between(start, end))
        .select(
            "document_id",
            "customer_id",
            "day",
            "planned_day",
            "next_day",
            (pl.col("day") - pl.col("due")).alias("days_past_due"),
        )
        .sort("document_id", "day")
    )


def _with_open_amount(ledger: Ledger, frame: pl.DataFrame, day: str, name: str) -> pl.DataFrame:
    """`frame` (one row per document_id and `day`) with the document's open amount at the end of that day."""
    keyed = frame.with_row_index("__key")
    paid = (
        keyed.select("__key", "document_id", day)
        .join(
            ledger.payments.filter(pl.col("document_id").is_not_null()).select(
                "document_id", "payment_date", "amount"
            ),
            on="document_id",
        )
        .filter(_day("payment_date") <= pl.col(day))
        .group_by("__key")
        .agg(pl.col("amount").sum().alias("__paid"))
    )
    return (
        keyed.join(paid, on="__key", how="left")
        .join(
            ledger.documents.select("document_id", pl.col("amount_functional").alias("__amount")),
            on="document_id",
        )
        .with_columns((pl.col("__amount") - pl.col("__paid").fill_null(0)).cast(contract.MONEY).alias(name))
        .sort("__key")
        .drop("__key", "__paid", "__amount")
    )


def _paid_between(ledger: Ledger, frame: pl.DataFrame, first: str, last: str, name: str) -> pl.DataFrame:
    """`frame` with what cash and credit notes settled on its document from day `first` to day `last`."""
    keyed = frame.with_row_index("__key")
    paid = (
        keyed.select("__key", "document_id", first, last)
        .join(
            ledger.payments.filter(pl.col("method").is_in(["cash", "credit_note"])).select(
                "document_id", "payment_date", "amount"
            ),
            on="document_id",
        )
        .filter(_day("payment_date").is_between(pl.col(first), pl.col(last)))
        .group_by("__key")
        .agg(pl.col("amount").sum().alias("__paid"))
    )
    return (
        keyed.join(paid, on="__key", how="left")
        .with_columns(pl.col("__paid").fill_null(0).cast(contract.MONEY).alias(name))
        .sort("__key")
        .drop("__key", "__paid")
    )


def _disputes(
    rng: np.random.Generator,
    ledger: Ledger,
    items: pl.DataFrame,
    reminders: pl.DataFrame,
    start: int,
    end: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Dispute, resolution, litigation and bad-debt events, and each item's hold periods (from, to
    excluded; to null: still held) during which reminders and promises stop."""
    first_reminder = reminders.group_by("document_id").agg(pl.col("day").min().alias("first_reminder_day"))
    items = items.join(first_reminder, on="document_id", how="left").sort("document_id")
    reasons = list(DISPUTE_REASON_SHARES)

    # Items credited well after issue: a dispute settled by a credit note.
    credited = items.filter(
        pl.col("credited_on").is_not_null(),
        (pl.col("credited_on") - pl.col("issued")) >= 45,
        pl.col("written_off").is_null(),
    )
    n = credited.height
    credited = (
        credited.with_columns(
            pl.Series("reason", rng.choice(len(reasons), n, p=reasons)),
            pl.Series("partly", rng.random(n) < 0.25),
            pl.Series("factor", rng.uniform(1.2, 2.0, n)),
            pl.Series("open_lag", rng.integers(7, 31, n, dtype=np.int32)),
            # Resolved before the credit note is applied (the item is still open that day).
            pl.Series("resolve_lag", rng.integers(1, 6, n, dtype=np.int32)),
            pl.Series("expected_lag", rng.integers(14, 46, n, dtype=np.int32)),
        )
        .with_columns(
            _business_day(
                pl.min_horizontal(pl.col("issued") + pl.col("open_lag"), pl.col("credited_on") - 10)
            ).alias("day"),
            (pl.col("credited_on") - pl.col("resolve_lag")).alias("resolved_day"),
        )
        .filter(
            pl.col("day") >= start, pl.col("resolved_day") >= pl.col("day") + 3, pl.col("resolved_day") <= end
        )
    )
    credited = (
        _with_open_amount(ledger, credited, "day", "open_then")
        .with_columns(
            pl.when(pl.col("partly"))
            .then((pl.col("credited").cast(pl.Float64) * pl.col("factor")).round(2).cast(contract.MONEY))
            .otherwise(pl.col("credited"))
            .alias("asked")
        )
        .with_columns(
            pl.min_horizontal("asked", "open_then").alias("disputed_amount"),
            pl.when(pl.col("partly"))
            .then(pl.lit("partially_justified"))
            .otherwise(pl.lit("credit_note_to_issue"))
            .alias("outcome"),
            pl.lit("resolved").alias("ending"),
        )
    )

    # Items paid very late: a dispute the review rejected (the customer pays), a few withdrawn.
    late = items.filter(
        pl.col("collected").is_not_null(),
        (pl.col("collected") - pl.col("due")) > 60,
        pl.col("credited_on").is_null(),
        pl.col("first_reminder_day").is_not_null(),
    )
    n = late.height
    late = (
        late.with_columns(
            pl.Series("chosen", rng.random(n) < 0.3),
            pl.Series("reason", rng.choice(len(reasons), n, p=reasons)),
            pl.Series("resolve_lag", rng.integers(3, 16, n, dtype=np.int32)),
            pl.Series("expected_lag", rng.integers(14, 46, n, dtype=np.int32)),
            pl.Series("withdrawn", rng.random(n) < 0.15),
        )
        .filter(pl.col("chosen"))
        .with_columns(
            pl.col("first_reminder_day").alias("day"),
            (pl.col("collected") - pl.col("resolve_lag")).alias("resolved_day"),
        )
        .filter(pl.col("resolved_day") >= pl.col("day") + 5)
    )
    late = _with_open_amount(ledger, late, "day", "open_then").with_columns(
        pl.col("open_then").alias("disputed_amount"),
        pl.lit("customer_to_pay").alias("outcome"),
        pl.when(pl.col("withdrawn")).then(pl.lit("cleared")).otherwise(pl.lit("resolved")).alias("ending"),
    )

    # Items still unpaid: disputes still open, some past their expected resolution.
    unpaid = items.filter(
        pl.col("stop") > end, (end - pl.col("due")) >= 20, pl.col("first_reminder_day").is_not_null()
    )
    n = unpaid.height
    unpaid = (
        unpaid.with_columns(
            pl.Series("chosen", rng.random(n) < 0.15),
            pl.Series("reason", rng.choice(len(reasons), n, p=reasons)),
            pl.Series("expected_lag", rng.integers(10, 41, n, dtype=np.int32)),
        )
        .filter(pl.col("chosen"), (end - pl.col("due")) <= 150)
        .with_columns(pl.col("first_reminder_day").alias("day"), pl.lit(None, pl.Int32).alias("resolved_day"))
    )
    unpaid = _with_open_amount(ledger, unpaid, "day", "open_then").with_columns(
        pl.col("open_then").alias("disputed_amount"),
        pl.lit(None, pl.String).alias("outcome"),
        pl.lit("open").alias("ending"),
    )

    columns = [
        "document_id",
        "customer_id",
        "day",
        "resolved_day",
        "reason",
        "expected_lag",
        "disputed_amount",
        "outcome",
        "ending",
    ]
    disputes = pl.concat(
        [credited.select(columns), late.select(columns), unpaid.select(columns)], how="vertical_relaxed"
    ).with_columns(pl.col("reason").cast(pl.Int64))
    reason_names = pl.Series(list(collections.DISPUTE_REASONS))
    opened = disputes.select(
        "document_id",
        "customer_id",
        "day",
        pl.lit("disputed").alias("event_type"),
        reason_names.gather(disputes.get_column("reason")).alias("dispute_reason"),
        "disputed_amount",
        (pl.col("day") + pl.col("expected_lag")).alias("expected_day"),
    )
    ended = disputes.filter(pl.col("ending") != "open").select(
        "document_id",
        "customer_id",
        pl.col("resolved_day").alias("day"),
        pl.when(pl.col("ending") == "cleared")
        .then(pl.lit("cleared"))
        .otherwise(pl.lit("dispute_resolved"))
        .alias("event_type"),
        pl.when(pl.col("ending") == "cleared").then(None).otherwise(pl.col("outcome")).alias("outcome"),
    )

    # Defaulters: litigation, then a bad-debt proposal before the write-off; unpaid old items likewise.
    written = items.filter(pl.col("written_off").is_not_null())
    n = written.height
    written = written.with_columns(
        (pl.col("written_off") - pl.Series(rng.integers(40, 81, n, dtype=np.int32))).alias("litigation_day"),
        (pl.col("written_off") - pl.Series(rng.integers(5, 26, n, dtype=np.int32))).alias("bad_debt_day"),
    )
    stale = items.filter(pl.col("stop") > end, (end - pl.col("due")) > 150)
    n = stale.height
    stale = stale.with_columns(
        (pl.col("due") + pl.Series(rng.integers(120, 151, n, dtype=np.int32))).alias("litigation_day"),
        (pl.col("due") + pl.Series(rng.integers(180, 211, n, dtype=np.int32))).alias("bad_debt_day"),
    )
    legal = (
        pl.concat([written, stale])
        .select("document_id", "customer_id", "due", "litigation_day", "bad_debt_day")
        .filter(pl.col("litigation_day") > pl.col("due"), pl.col("litigation_day") >= start)
    )
    litigation = legal.select(
        "document_id",
        "customer_id",
        pl.col("litigation_day").alias("day"),
        pl.lit("litigation").alias("event_type"),
    )
    bad_debt = legal.filter(
        pl.col("bad_debt_day") >= pl.col("litigation_day") + 7, pl.col("bad_debt_day") <= end
    ).select(
        "document_id",
        "customer_id",
        pl.col("bad_debt_day").alias("day"),
        pl.lit("bad_debt_proposed").alias("event_type"),
    )
    events = pl.concat([opened, ended, litigation, bad_debt], how="diagonal_relaxed").filter(
        pl.col("day") <= end
    )
    holds = pl.concat(
        how="vertical_relaxed",
        items=[
            disputes.select(
                "document_id", pl.col("day").alias("held_from"), pl.col("resolved_day").alias("held_to")
            ),
            legal.select(
                "document_id",
                pl.col("litigation_day").alias("held_from"),
                pl.lit(None, pl.Int32).alias("held_to"),
            ),
        ],
    )
    return events.sort("document_id", "day"), holds.sort("document_id", "held_from")


def _promises(
    rng: np.random.Generator,
    ledger: Ledger,
    items: pl.DataFrame,
    reminders: pl.DataFrame,
    holds: pl.DataFrame,
    disputes: pl.DataFrame,
    end: int,
    grace_days: int,
) -> pl.DataFrame:
    """Promises to pay obtained at reminders, before any hold of the item: kept (the last reminder before
    the payment that settled the item, promised a few days around it), broken (the first reminder of an
    item paid long after, or still unpaid) and recent ones on unpaid items (open, due or broken)."""
    disputed = disputes.filter(pl.col("event_type") == "disputed").select("document_id").unique()
    first_hold = holds.group_by("document_id").agg(pl.col("held_from").min())
    settling_days = (
        ledger.payments.filter(
            pl.col("document_id").is_not_null(), pl.col("method").is_in(["cash", "credit_note"])
        )
        .select("document_id", _day("payment_date").alias("day"))
        .unique()
    )
    candidates = (
        reminders.join(disputed, on="document_id", how="anti")
        .join(first_hold, on="document_id", how="left")
        .filter(pl.col("held_from").is_null() | (pl.col("day") < pl.col("held_from")))
        .join(items.select("document_id", "collected", "stop", "due", "promise_rate"), on="document_id")
    )
    by_item = candidates.group_by("document_id").agg(
        pl.col("day").min().alias("first_day"), pl.col("day").max().alias("last_day")
    )
    candidates = candidates.join(by_item, on="document_id").sort("document_id", "day")

    kept = candidates.filter(
        pl.col("day") == pl.col("last_day"),
        pl.col("collected").is_not_null(),
        (pl.col("collected") - pl.col("day")) <= 25,
    )
    kept = (
        kept.with_columns(
            pl.Series("chosen", rng.random(kept.height) < kept.get_column("promise_rate").to_numpy() * 0.5),
            pl.Series("offset", rng.integers(-grace_days, 5, kept.height, dtype=np.int32)),
        )
        .filter(pl.col("chosen"))
        .with_columns(
            pl.max_horizontal(pl.col("day"), pl.col("collected") + pl.col("offset")).alias("promised_day")
        )
    )

    broken = candidates.filter(
        pl.col("day") == pl.col("first_day"),
        pl.col("day") != pl.col("last_day"),
        (pl.col("stop") - pl.col("day")) > 20,
    )
    broken = (
        broken.with_columns(
            pl.Series(
                "chosen", rng.random(broken.height) < broken.get_column("promise_rate").to_numpy() * 0.6
            ),
            pl.Series("offset", rng.integers(3, 11, broken.height, dtype=np.int32)),
        )
        .with_columns((pl.col("day") + pl.col("offset")).alias("promised_day"))
        .filter(
            pl.col("chosen"),
            pl.col("collected").is_null() | (pl.col("promised_day") + grace_days < pl.col("collected")),
        )
    )

    recent = candidates.filter(
        pl.col("day") == pl.col("last_day"),
        pl.col("day") != pl.col("first_day"),
        pl.col("stop") > end,
        pl.col("day") >= end - 12,
    )
    recent = (
        recent.with_columns(
            pl.Series("chosen", rng.random(recent.height) < 0.5),
            pl.Series("offset", rng.integers(0, 11, recent.height, dtype=np.int32)),
        )
        .with_columns((pl.col("day") + pl.col("offset")).alias("promised_day"))
        .filter(pl.col("chosen"))
    )

    columns = ["document_id", "customer_id", "day", "promised_day", "kept"]
    unkept = (
        pl.concat([broken, recent], how="vertical_relaxed")
        .with_columns(pl.lit(False).alias("kept"))
        .select(columns)
    )
    promises = (
        pl.concat(
            [kept.with_columns(pl.lit(True).alias("kept")).select(columns), unkept], how="vertical_relaxed"
        )
        .unique(["document_id", "day"], keep="first", maintain_order=True)
        .join(settling_days, on=["document_id", "day"], how="anti")
        .sort("document_id", "day")
        .with_columns((pl.col("promised_day") + grace_days).alias("deadline"))
    )
    promises = _with_open_amount(ledger, promises, "day", "open_then")
    promises = _paid_between(ledger, promises, "day", "deadline", "paid_then")
    return promises.select(
        "document_id",
        "customer_id",
        "day",
        pl.lit("promise_to_pay").alias("event_type"),
        "promised_day",
        pl.when(pl.col("kept"))
        .then(pl.min_horizontal("open_then", "paid_then"))
        .otherwise(pl.col("open_then"))
        .alias("promised_amount"),
    ).filter(pl.col("promised_amount") > 0)


def _outside_holds(
    reminders: pl.DataFrame, holds: pl.DataFrame, promises: pl.DataFrame, grace_days: int
) -> pl.DataFrame:
    """Reminders of items neither held (dispute, litigation) nor waiting for a promise's deadline."""
    waits = pl.concat(
        how="vertical_relaxed",
        items=[
            holds.select(
                "document_id", pl.col("held_from").alias("from_day"), pl.col("held_to").alias("to_day")
            ),
            promises.select(
                "document_id",
                (pl.col("day") + 1).alias("from_day"),
                (pl.col("promised_day") + grace_days + 1).alias("to_day"),
            ),
        ],
    )
    keyed = reminders.with_row_index("__key")
    waiting = (
        keyed.select("__key", "document_id", "day")
        .join(waits, on="document_id")
        .filter(
            pl.col("day") >= pl.col("from_day"),
            pl.col("to_day").is_null() | (pl.col("day") < pl.col("to_day")),
        )
        .select("__key")
        .unique()
    )
    return keyed.join(waiting, on="__key", how="anti").sort("__key").drop("__key")


def _actions(
    rng: np.random.Generator,
    reminders: pl.DataFrame,
    events: pl.DataFrame,
    customers: pl.DataFrame,
    grace_days: int,
) -> pl.DataFrame:
    """One action per (customer, day) with a reminder or an event: the reminders' channel is the
    collector's (escalated to letters for items long overdue), the outcome follows the channel, or is
    the promise obtained or the dispute raised that day; it names the items reminded and qualified."""
    reminded = reminders.group_by("customer_id", "day").agg(
        pl.col("document_id").sort().alias("reminded"),
        pl.col("planned_day").min().alias("planned_day"),
        pl.col("next_day").max().alias("reminder_next_day"),
        pl.col("days_past_due").max().alias("days_past_due"),
    )
    qualified = events.group_by("customer_id", "day").agg(
        pl.col("document_id").unique().sort().alias("qualified"),
        (pl.col("event_type") == "promise_to_pay").any().alias("promised"),
        (pl.col("event_type") == "disputed").any().alias("raised"),
        pl.col("event_type").is_in(["litigation"]).any().alias("legal"),
        pl.col("event_type").is_in(["bad_debt_proposed", "cleared"]).any().alias("noted"),
        (pl.col("promised_day").max() + grace_days + 1).alias("promise_next_day"),
        pl.col("expected_day").max().alias("dispute_next_day"),
    )
    actions = (
        reminded.join(qualified, on=["customer_id", "day"], how="full", coalesce=True)
        .join(customers.select("customer_id", "channels", "cadence"), on="customer_id")
        .sort("customer_id", "day")
    )
    n = actions.height
    channels = np.array(actions.get_column("channels").to_list())
    cumulative = np.cumsum(channels, axis=1)
    channel = (rng.random(n)[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1)
    overdue = actions.get_column("days_past_due").fill_null(0).to_numpy()
    escalate = rng.random(n)
    channel = np.where(
        (overdue >= 60) & (escalate < 0.25), 3, np.where((overdue >= 30) & (escalate < 0.15), 2, channel)
    )
    spoken = _outcome_draw(rng, n, SPOKEN_OUTCOMES)
    written = _outcome_draw(rng, n, WRITTEN_OUTCOMES)
    actions = actions.with_columns(
        pl.Series("channel", channel), pl.Series("spoken", spoken), pl.Series("written", written)
    )
    reminder = pl.col("reminded").is_not_null()
    action_type = (
        pl.when(pl.col("legal").fill_null(False))
        .then(pl.lit("registered_letter"))
        .when(pl.col("noted").fill_null(False) & ~reminder)
        .then(pl.lit("note"))
        .when((pl.col("promised") | pl.col("raised")).fill_null(False) & ~reminder)
        .then(pl.lit("call"))
        .when(~reminder)
        .then(pl.lit("email"))
        .otherwise(pl.col("channel").replace_strict(dict(enumerate(collections.ACTION_TYPES))))
    )
    return (
        actions.with_columns(
            action_type.alias("action_type"),
            pl.col("planned_day").shift(-1).backward_fill().over("customer_id").alias("next_planned_day"),
        )
        .with_columns(
            pl.when(pl.col("promised").fill_null(False))
            .then(pl.lit("promise_obtained"))
            .when(pl.col("raised").fill_null(False))
            .then(pl.lit("dispute_raised"))
            .when(pl.col("action_type").is_in(["call", "meeting"]))
            .then(pl.col("spoken"))
            .when(pl.col("action_type") == "note")
            .then(pl.lit("other"))
            .otherwise(pl.col("written"))
            .alias("outcome"),
            # The next action planned is the customer's next reminder on the collector's schedule
            # (done `delay` days after it by a collector who runs late), else what the action calls for.
            pl.when(pl.col("next_planned_day").is_not_null())
            .then(pl.max_horizontal("next_planned_day", pl.col("day") + 1))
            .when(pl.col("promised").fill_null(False))
            .then(pl.col("promise_next_day"))
            .when(pl.col("raised").fill_null(False))
            .then(pl.col("dispute_next_day"))
            .when(pl.col("legal").fill_null(False) | pl.col("noted").fill_null(False))
            .then(None)
            .otherwise(pl.coalesce("reminder_next_day", pl.col("day") + pl.col("cadence")))
            .alias("next_day"),
            pl.concat_list(pl.col("reminded").fill_null([]), pl.col("qualified").fill_null([]))
            .list.unique()
            .list.sort()
            .alias("document_ids"),
        )
        .select("customer_id", "day", "action_type", "outcome", "next_day", "document_ids")
    )


def _outcome_draw(rng: np.random.Generator, n: int, outcomes: tuple[tuple[str, float], ...]) -> pl.Series:
    names = [name for name, _ in outcomes]
    shares = np.array([share for _, share in outcomes])
    return pl.Series(names).gather(pl.Series(rng.choice(len(names), n, p=shares / shares.sum())))


def _stamps(rng: np.random.Generator, actions: pl.DataFrame) -> pl.DataFrame:
    """The time each (customer, day) was recorded, in office hours, and its submission id."""
    stamps = actions.select("customer_id", "day").sort("customer_id", "day")
    seconds = rng.integers(8 * 3600, 18 * 3600, stamps.height)
    return stamps.with_columns(
        (pl.col("day").cast(pl.Date).cast(pl.Datetime("us")) + pl.duration(seconds=pl.Series(seconds))).alias(
            "recorded_at"
        ),
        pl.format("demo-{}-{}", pl.col("customer_id"), pl.col("day").cast(pl.Date)).alias("submission_id"),
    )


def _event_frame(events: pl.DataFrame, stamps: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    reason = pl.col("dispute_reason")
    owner = (
        pl.when(reason.is_in(["price", "other"]))
        .then(pl.col("salesperson"))
        .when(reason == "quality")
        .then(pl.format("Quality desk, {}", pl.col("division")))
        .when(reason == "delivery")
        .then(pl.format("Logistics, {}", pl.col("division")))
        .otherwise(pl.format("Billing team, {}", pl.col("entity")))
    )
    kind = pl.col("event_type")
    comment = (
        pl.when(kind == "disputed")
        .then(reason.replace_strict(DISPUTE_COMMENTS, default=None))
        .when(kind == "dispute_resolved")
        .then(pl.col("outcome").replace_strict(RESOLUTION_COMMENTS, default=None))
        .when(kind == "cleared")
        .then(pl.lit("Dispute withdrawn by the customer"))
        .when(kind == "litigation")
        .then(pl.lit("No payment after formal notice: file sent to the lawyers"))
        .when(kind == "bad_debt_proposed")
        .then(pl.lit("Nothing recovered: proposed for write-off"))
        .when(kind == "promise_to_pay")
        .then(pl.lit("Customer confirmed the payment date"))
    )
    frame = (
        events.join(stamps, on=["customer_id", "day"])
        .join(
            customers.select("customer_id", "salesperson", "division", "entity", "user_name"),
            on="customer_id",
        )
        .sort("day", "recorded_at", "document_id")
    )
    return frame.with_row_index("event_id", offset=1).select(
        [
            pl.col("event_id").cast(pl.Int64),
            "submission_id",
            "document_id",
            "customer_id",
            "event_type",
            pl.col("day").cast(pl.Date).alias("event_date"),
            pl.col("promised_day").cast(pl.Date).alias("promised_date"),
            pl.col("promised_amount").cast(contract.MONEY),
            reason,
            pl.col("disputed_amount").cast(contract.MONEY),
            pl.when(kind == "disputed").then(owner).alias("internal_owner"),
            pl.col("expected_day").cast(pl.Date).alias("expected_resolution"),
            pl.col("outcome").cast(pl.String),
            comment.alias("comment"),
            "user_name",
            "recorded_at",
            pl.lit("demo").alias("source"),
            pl.lit(None, dtype=pl.String).alias("original_author"),
        ]
    )


def _action_frame(actions: pl.DataFrame, stamps: pl.DataFrame, customers: pl.DataFrame) -> pl.DataFrame:
    frame = (
        actions.join(stamps, on=["customer_id", "day"])
        .join(customers.select("customer_id", "contact_person", "user_name"), on="customer_id")
        .sort("day", "recorded_at", "customer_id")
    )
    written = pl.col("action_type").is_in(["email", "letter", "registered_letter", "sms", "note"])
    return frame.with_row_index("action_id", offset=1).select(
        pl.col("action_id").cast(pl.Int64),
        "submission_id",
        "customer_id",
        "action_type",
        "outcome",
        pl.when(written & (pl.col("action_type") != "email"))
        .then(None)
        .otherwise(pl.col("contact_person"))
        .alias("contact_person"),
        pl.col("action_type").replace_strict(ACTION_COMMENTS, default=None).alias("comment"),
        pl.col("next_day").cast(pl.Date).alias("next_action_date"),
        pl.col("document_ids").cast(pl.List(pl.String)),
        pl.col("day").cast(pl.Date).alias("action_date"),
        "user_name",
        "recorded_at",
        pl.lit("demo").alias("source"),
        pl.lit(None, dtype=pl.String).alias("original_author"),
    )
