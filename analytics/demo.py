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
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from analytics import contract
from analytics.store import ImportRecord, Manifest, Store, Tables

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Ledger:
    """The three tables of a company, each with exactly its contract's columns and types."""

    customers: pl.DataFrame
    documents: pl.DataFrame
    payments: pl.DataFrame


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
    as_of = as_of or date.today()
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
    report(1.0, "Demo ledger ready")
    return Ledger(customers=book.frame, documents=document_frame, payments=payment_frame)


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
) -> Manifest:
    """Generate the demo company and write it into `store` as a new company (stored snapshots dropped)."""
    report = progress or (lambda fraction, message: None)
    ledger = generate(
        customers=customers,
        documents=documents,
        seed=seed,
        as_of=as_of,
        months=months,
        functional_currency=functional_currency,
        progress=lambda fraction, message: report(0.5 * fraction, message),
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
    tables = Tables(ledger.customers, ledger.documents, ledger.payments, keep_snapshots=False)
    del ledger
    return store.write(
        tables,
        record,
        functional_currency=functional_currency,
        progress=lambda fraction, message: report(0.5 + 0.5 * fraction, message),
    )


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
    months = int(month_index.max(initial=0)) + 1
    wobble = 1 + 0.02 * np.sin(np.arange(months) * 0.9) + 0.01 * np.cos(np.arange(months) * 0.37)
    base = np.array([EUR_VALUE[c] / EUR_VALUE[functional_currency] for c in book.currencies])
    table = np.round(base[:, None] * wobble[None, :], 4)
    table[np.array(book.currencies) == functional_currency] = 1.0
    return table[book.currency[customer], month_index]


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
