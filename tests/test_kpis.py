"""KPIs: the formulas against their published worked examples and DESIGN.md's edge cases; the month-end
series of the hand-worked ledger of conftest.py (imported from CSV) worked out by hand; groups adding
up to the whole; stored and derived month ends agreeing; payer behaviour and its rating boundaries on a
small ledger; properties on random ledgers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import write_older_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import cli, contract, ingest, kpis
from analytics import store as store_module
from analytics.scope import Scope
from analytics.store import DataFolderOutdated, ImportRecord, Store, Tables

# --- the formulas ----------------------------------------------------------------------------------


def countback(ar, months):
    return kpis.month_figures(ar, 0, months)["dso_countback"]


def test_countback_dso_worked_example() -> None:
    """AR 212,000; sales 100,000 / 80,000 / 70,000, latest first, 30-day months: two months whole
    (60 days, 32,000 left), then 32,000 / 70,000 * 30 = 13.714: 73.71 days."""
    months = [(100_000, 30), (80_000, 30), (70_000, 30)]
    assert countback(212_000, months) == 73.71
    assert countback(Decimal("212000.00"), [(Decimal(s), d) for s, d in months]) == 73.71


def test_countback_dso_edge_cases() -> None:
    """AR <= 0 gives 0; a month without sales stops the walk (the latest one: nothing counted, None);
    AR equal to the months' sales covers them whole; months running out: the days counted."""
    assert countback(0, [(100, 30)]) == 0.0
    assert countback(-50, [(100, 30)]) == 0.0
    assert countback(500, [(0, 31), (1_000, 30)]) is None
    assert countback(500, []) is None
    # 100 covers March (31 days), February has no sales: the walk stops with 400 uncounted.
    assert countback(500, [(100, 31), (0, 28), (1_000, 31)]) == 31.0
    assert countback(500, [(100, 31), (-20, 28), (1_000, 31)]) == 31.0
    assert countback(300, [(100, 31), (200, 28)]) == 59.0
    assert countback(900, [(100, 31), (200, 28)]) == 59.0
    assert countback(150, [(100, 31), (200, 28)]) == 38.0  # 31 + 50/200*28


def test_standard_dso_bpdso_add_worked_example() -> None:
    """AR 15,000, current 4,000, sales 10,000 over 30 days: DSO 15/10*30 = 45, BPDSO 4/10*30 = 12,
    ADD 33; no sales: None; AR <= 0: 0."""
    figures = kpis.month_figures(15_000, 4_000, [(10_000, 30)])
    assert (figures["dso_standard"], figures["bpdso"], figures["add"]) == (45.0, 12.0, 33.0)
    assert kpis.month_figures(15_000, 0, [(0, 30)])["dso_standard"] is None
    assert kpis.month_figures(15_000, 0, [(-10, 30)])["dso_standard"] is None
    assert kpis.month_figures(15_000, 0, [(0, 30)])["add"] is None
    assert kpis.month_figures(-1, 0, [(10_000, 30)])["dso_standard"] == 0.0


def test_cei_worked_examples() -> None:
    """The Credit Research Foundation's quarter: (12,327,157 + 47,881,064 / 3 - 13,663,598) /
    (12,327,157 + 47,881,064 / 3 - 7,846,547) = 14,623,913.67 / 20,440,964.67 = 71.54.
    A month: start 1,000, sales 300, end 950, current 0: 350 / 1,300 = 26.92. Zero denominator: None."""
    quarter = kpis.month_figures(13_663_598, 7_846_547, [(47_881_064, 90)], ar_quarter_start=12_327_157)
    assert quarter["cei_quarterly"] == 71.54
    month = kpis.month_figures(
        Decimal("950.00"), Decimal("0.00"), [(Decimal("300.00"), 31)], ar_previous=1000
    )
    assert month["cei"] == 26.92
    assert kpis.month_figures(50, 100, [(0, 30)], ar_previous=100)["cei"] is None
    assert kpis.month_figures(0, 0, [(0, 90)], ar_quarter_start=0)["cei_quarterly"] is None


def test_cost_of_delay_worked_example() -> None:
    """ADD 33 days (AR 15,000, current 4,000, sales 10,000 over 30 days) x average daily sales
    10,000 / 30 = 333.33: 11,000.00 tied up by late payment (the overdue AR itself)."""
    figures = kpis.month_figures(15_000, 4_000, [(10_000, 30)])
    assert (figures["daily_sales"], figures["cost_of_delay"]) == (Decimal("333.33"), Decimal("11000.00"))
    assert kpis.month_figures(15_000, 4_000, [(0, 30)])["cost_of_delay"] is None


def test_payer_rating_boundaries() -> None:
    """<= 0 A, <= 15 B, <= 45 C, more D; boundaries configurable; no figure: '-'."""
    ratings = [kpis.payer_rating(d) for d in (-3.0, 0.0, 0.01, 15.0, 15.01, 45.0, 45.01, None)]
    assert ratings == ["A", "A", "B", "B", "C", "C", "D", "-"]
    assert [kpis.payer_rating(d, (5, 10, 20)) for d in (5.0, 10.0, 20.0, 20.5)] == ["A", "B", "C", "D"]
    frame = pl.DataFrame({"days": [0.0, 15.0, 45.0, 45.5, None]})
    rated = frame.select(kpis.rating_expression(pl.col("days")).alias("rating"))
    assert rated["rating"].to_list() == ["A", "B", "C", "D", "-"]
    with pytest.raises(ValueError, match="increase"):
        kpis.payer_rating(1.0, (15, 0, 45))
    with pytest.raises(ValueError, match="3 numbers"):
        kpis.payer_rating(1.0, (0, 15))


# --- the month-end series of the hand-worked ledger -------------------------------------------------

JANUARY, FEBRUARY, MARCH = date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)


def as_dicts(frame: pl.DataFrame) -> list[dict]:
    return [
        {k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()}
        for row in frame.iter_rows(named=True)
    ]


def test_series_of_the_hand_worked_ledger(ledger_store: Store) -> None:
    """The ledger of conftest.py, January to March 2026 (nothing before: sales 0, AR 0 at 2025-12-31).

    Sales: Jan I1 1000 + I3 1000 = 2000; Feb I2 500 + CN1 -100 = 400; Mar I4 300.
    AR: Jan 31 I1 1000 (due 02-09: current) + I3 1000 (16 days late) = 2000, current 1000;
        Feb 28 I1 600 (19 days) + I2 500 (current) + CN1 -100 (8 days) = 1000, current 500;
        Mar 31 I1 600 + I2 400 - P3 50 on account = 950, current 0 (I4 written off on 03-31).
    Countback: Jan 2000 >= 2000: 31 days, then December has no sales: 31.00.
               Feb 1000 - 400 = 600 (28 days), 600 / 2000 * 31 = 9.3: 37.30.
               Mar 950 - 300 (31) - 400 (28) = 250, 250 / 2000 * 31 = 3.875: 62.875 -> 62.88.
    Standard (3 months): Jan 2000 / 2000 * (30 + 31 + 31) = 92.00; Feb 1000 / 2400 * 90 = 37.50;
               Mar 950 / 2700 * 90 = 31.67. BPDSO: Jan 1000 / 2000 * 92 = 46.00; Feb 500 / 2400 * 90
               = 18.75; Mar current 0: 0. ADD: 46.00, 18.75, 31.67.
    CEI: Jan (0 + 2000 - 2000) / (0 + 2000 - 1000) = 0.00; Feb (2000 + 400 - 1000) / (2000 + 400 - 500)
         = 1400 / 1900 = 73.68; Mar (1000 + 300 - 950) / (1000 + 300 - 0) = 350 / 1300 = 26.92.
         Quarter to March: (0 + 2700 / 3 - 950) / (0 + 900 - 0) = -50 / 900 = -5.56.
    % current: 50.00, 50.00, 0.00; % over 90: 0 throughout.
    Settled invoices: I3 in February, paid by P4 on 02-20: 36 days after its date and its due date.
    Bad debt: March wrote off I4 300 of sales 300: 100.00.
    Turnover: sales of 12 months / average of 12 month-end AR: Jan 2000 / (2000 / 12) = 12.00;
         Feb 2400 / (3000 / 12) = 9.60; Mar 2700 / (3950 / 12) = 8.20.
    Daily sales (3 months): 2000 / 92 = 21.74, 2400 / 90 = 26.67, 2700 / 90 = 30.00; cost of delay
    (ADD x daily sales = the overdue AR): 1000.00, 500.00, 950.00."""
    series = kpis.month_end_series(ledger_store, date(2026, 1, 1), date(2026, 3, 31))
    assert series.columns == list(kpis.SERIES_COLUMNS)
    assert as_dicts(series) == [
        {
            "period": JANUARY,
            "ar_total": "2000.00",
            "ar_current": "1000.00",
            "sales": "2000.00",
            "dso_countback": 31.0,
            "dso_standard": 92.0,
            "bpdso": 46.0,
            "add": 46.0,
            "cei": 0.0,
            "cei_quarterly": None,
            "pct_current": 50.0,
            "pct_over_90": 0.0,
            "days_to_pay": None,
            "days_late": None,
            "bad_debt_ratio": 0.0,
            "ar_turnover": 12.0,
            "daily_sales": "21.74",
            "cost_of_delay": "1000.00",
        },
        {
            "period": FEBRUARY,
            "ar_total": "1000.00",
            "ar_current": "500.00",
            "sales": "400.00",
            "dso_countback": 37.3,
            "dso_standard": 37.5,
            "bpdso": 18.75,
            "add": 18.75,
            "cei": 73.68,
            "cei_quarterly": None,
            "pct_current": 50.0,
            "pct_over_90": 0.0,
            "days_to_pay": 36.0,
            "days_late": 36.0,
            "bad_debt_ratio": 0.0,
            "ar_turnover": 9.6,
            "daily_sales": "26.67",
            "cost_of_delay": "500.00",
        },
        {
            "period": MARCH,
            "ar_total": "950.00",
            "ar_current": "0.00",
            "sales": "300.00",
            "dso_countback": 62.88,
            "dso_standard": 31.67,
            "bpdso": 0.0,
            "add": 31.67,
            "cei": 26.92,
            "cei_quarterly": -5.56,
            "pct_current": 0.0,
            "pct_over_90": 0.0,
            "days_to_pay": None,
            "days_late": None,
            "bad_debt_ratio": 100.0,
            "ar_turnover": 8.2,
            "daily_sales": "30.00",
            "cost_of_delay": "950.00",
        },
    ]
    assert kpis.latest_cost_of_delay(series).rows() == [(MARCH, 31.67, Decimal("30.00"), Decimal("950.00"))]


def test_series_by_entity_and_customer(ledger_store: Store) -> None:
    """By entity: Acme DE is C2 alone (I3 1000 in January, paid in February); Acme FR is C1 and C3.
    Acme FR in February: AR 1000, sales 400 (28 days), 600 left of January's 1000 (I1): 600 / 1000 * 31
    = 18.6, countback 46.60. By customer, C1 in March has no sales: countback None ('-'), while its
    standard DSO is 950 / (1000 + 400 + 0) * 90 = 61.07. Groups add up to the whole."""
    whole = kpis.month_end_series(ledger_store, date(2026, 1, 1), date(2026, 3, 31))
    entities = kpis.month_end_series(ledger_store, date(2026, 1, 1), date(2026, 3, 31), by="entity")
    rows = {(r["entity"], r["period"]): r for r in entities.iter_rows(named=True)}
    assert str(rows[("Acme DE", JANUARY)]["ar_total"]) == "1000.00"
    assert rows[("Acme DE", FEBRUARY)]["days_late"] == 36.0
    assert rows[("Acme FR", FEBRUARY)]["dso_countback"] == 46.6
    customers = kpis.month_end_series(ledger_store, date(2026, 1, 1), date(2026, 3, 31), by="customer")
    assert customers.columns[:3] == ["customer_id", "customer_name", "period"]
    c1_march = customers.filter(pl.col("customer_id") == "C1", pl.col("period") == MARCH).row(0, named=True)
    assert (c1_march["dso_countback"], c1_march["dso_standard"]) == (None, 61.07)
    for grouped in (entities, customers):
        sums = grouped.group_by("period").agg(pl.col("ar_total", "ar_current", "sales").sum()).sort("period")
        assert sums.rows() == whole.select("period", "ar_total", "ar_current", "sales").rows()


def test_series_in_a_scope(ledger_store: Store) -> None:
    """Collector Ben covers C2 alone: AR 1000.00 in January, 0 after; sales 1000.00 in January."""
    series = kpis.month_end_series(
        ledger_store, date(2026, 1, 1), date(2026, 3, 31), scope=Scope.of({"collector": ["Ben"]})
    )
    assert [str(v) for v in series["ar_total"]] == ["1000.00", "0.00", "0.00"]
    assert [str(v) for v in series["sales"]] == ["1000.00", "0.00", "0.00"]


def test_as_of_only_bounds_the_months(ledger_store: Store) -> None:
    """as_of 2026-02-15 keeps January alone, with the very figures of the full series."""
    full = kpis.month_end_series(ledger_store, date(2026, 1, 1), date(2026, 3, 31))
    bounded = kpis.month_end_series(
        ledger_store, date(2026, 1, 1), date(2026, 3, 31), as_of=date(2026, 2, 15)
    )
    assert bounded.rows() == full.head(1).rows()
    none_yet = kpis.month_end_series(
        ledger_store, date(2026, 1, 1), date(2026, 3, 31), as_of=date(2026, 1, 30)
    )
    assert none_yet.height == 0 and none_yet.columns == list(kpis.SERIES_COLUMNS)


def test_derived_month_ends_agree_with_stored_ones(ledger_files: ingest.Sources, tmp_path: Path) -> None:
    """Cash on account received in 2028 moves the store's 24 stored month ends to 2026-07 .. 2028-06,
    so January to March 2026 are derived from documents and payments: same figures as when stored
    (that cash is after them)."""
    stored = Store(tmp_path / "stored")
    ingest.import_files(stored, ledger_files)
    later = tmp_path / "later"
    ingest.import_files(later_store := Store(later), ledger_files)
    extra = tmp_path / "exports" / "later_payments.csv"
    extra.write_text(
        "payment_id,customer_id,payment_date,document_id,amount,method\nP9,C2,2028-06-30,,10.00,cash\n"
    )
    ingest.import_files(later_store, ingest.Sources(payments=extra))
    manifest = later_store.manifest()
    assert manifest is not None and MARCH not in manifest.derived_dates
    for by in (None, "entity", "customer"):
        expected = kpis.month_end_series(stored, date(2026, 1, 1), date(2026, 3, 31), by=by)
        assert kpis.month_end_series(later_store, date(2026, 1, 1), date(2026, 3, 31), by=by).equals(expected)


def test_series_refuses_bad_requests(ledger_store: Store) -> None:
    with pytest.raises(ValueError, match="unknown dimension 'colour'"):
        kpis.month_end_series(ledger_store, date(2026, 1, 1), date(2026, 3, 31), by="colour")
    with pytest.raises(ValueError, match="at most 36 months"):
        kpis.month_end_series(ledger_store, date(2023, 1, 1), date(2026, 3, 31))
    with pytest.raises(ValueError, match="before it starts"):
        kpis.month_end_series(ledger_store, date(2026, 3, 1), date(2026, 1, 31))


# --- payer behaviour --------------------------------------------------------------------------------

PAYER_CUSTOMERS = """customer_id,customer_name,entity,segment,collector
R1,Romeo,E,SME,X
R2,Sierra,E,SME,X
R3,Tango,E,SME,X
R4,Uniform,E,SME,X
R5,Victor,E,SME,X
"""
PAYER_DOCUMENTS = """document_id,document_type,customer_id,document_date,due_date,currency,amount
A1,invoice,R1,2026-05-01,2026-05-31,EUR,100.00
CN1,credit_note,R1,2026-06-05,2026-06-05,EUR,-20.00
A2,invoice,R2,2026-04-01,2026-05-01,EUR,100.00
B2,invoice,R2,2025-09-01,2025-10-01,EUR,100.00
A3,invoice,R3,2026-03-01,2026-04-01,EUR,100.00
A4,invoice,R4,2026-03-01,2026-04-01,EUR,100.00
A5,invoice,R4,2026-03-02,2026-04-01,EUR,100.00
A6,invoice,R5,2026-06-01,2026-07-01,EUR,100.00
A7,invoice,R5,2026-01-01,2026-01-31,EUR,100.00
"""
PAYER_PAYMENTS = """payment_id,customer_id,payment_date,document_id,amount,method
P1,R1,2026-05-31,A1,80.00,cash
P2,R1,2026-06-10,A1,20.00,credit_note
P2,R1,2026-06-10,CN1,-20.00,credit_note
P3,R2,2026-05-26,A2,100.00,cash
P4,R2,2025-10-06,B2,100.00,cash
P5,R3,2026-05-01,A3,50.00,cash
P6,R3,2026-05-16,A3,50.00,cash
P7,R4,2026-05-16,A4,100.00,cash
P8,R4,2026-05-17,A5,100.00,cash
P9,R5,2026-05-01,A7,100.00,write_off
"""


@pytest.fixture
def payer_store(tmp_path: Path) -> Store:
    folder = tmp_path / "payers"
    folder.mkdir()
    sources = ingest.Sources(
        customers=folder / "customers.csv",
        documents=folder / "documents.csv",
        payments=folder / "payments.csv",
    )
    sources.customers.write_text(PAYER_CUSTOMERS)
    sources.documents.write_text(PAYER_DOCUMENTS)
    sources.payments.write_text(PAYER_PAYMENTS)
    store = Store(tmp_path / "payers-data")
    ingest.import_files(store, sources)
    return store


def test_payer_behaviour_and_ratings(payer_store: Store) -> None:
    """At 2026-06-30 (6 months: after 2025-12-30; 12 months: after 2025-06-30):
    R1  A1 settled 06-10 by a credit note after cash on 05-31: paid 30 days after its date, 0 late: A.
    R2  A2 paid 05-26: 55 / 25 days; B2 paid 2025-10-06 (the 6 months before): 35 / 5 days. 12 months:
        to pay 45, late 15 (B, on the boundary); trend 25 - 5 = +20 (getting later).
    R3  A3 paid in two parts, the last on 05-16: 76 days to pay, 45 late: C (on the boundary).
    R4  A4 45 and A5 46 days late, 100 each: 45.5: D.
    R5  A7 written off (no cash: not a payment), A6 open: no figures, '-'."""
    frame = kpis.payer_behaviour(payer_store, date(2026, 6, 30))
    assert frame.columns == list(kpis.PAYER_COLUMNS)
    rows = {row["customer_id"]: row for row in frame.iter_rows(named=True)}
    assert [rows[c]["rating"] for c in ("R1", "R2", "R3", "R4", "R5")] == ["A", "B", "C", "D", "-"]
    assert (rows["R1"]["days_to_pay_12m"], rows["R1"]["days_late_12m"]) == (30.0, 0.0)
    assert {k: rows["R2"][k] for k in kpis.PAYER_COLUMNS[2:]} == {
        "days_to_pay_6m": 55.0,
        "days_late_6m": 25.0,
        "invoices_6m": 1,
        "days_to_pay_12m": 45.0,
        "days_late_12m": 15.0,
        "invoices_12m": 2,
        "trend": 20.0,
        "rating": "B",
    }
    assert (rows["R3"]["days_to_pay_12m"], rows["R3"]["days_late_12m"]) == (76.0, 45.0)
    assert (rows["R4"]["days_late_12m"], rows["R4"]["invoices_12m"]) == (45.5, 2)
    assert rows["R5"]["days_late_12m"] is None and rows["R5"]["invoices_12m"] == 0
    wider = kpis.payer_behaviour(payer_store, date(2026, 6, 30), boundaries=(0, 30, 60))
    assert wider["rating"].to_list() == ["A", "B", "C", "C", "-"]
    # Before R2's May payment was known, its 12 months hold B2 alone.
    earlier = kpis.payer_behaviour(payer_store, date(2026, 5, 25)).filter(pl.col("customer_id") == "R2")
    assert earlier.select("days_late_12m", "invoices_12m", "rating").row(0) == (5.0, 1, "B")
    in_scope = kpis.payer_behaviour(payer_store, date(2026, 6, 30), Scope.of({"segment": ["Retail"]}))
    assert in_scope.height == 0


def test_series_days_late_of_the_payer_ledger(payer_store: Store) -> None:
    """May 2026 settled A2 (100, 25 late), A3 (100, 45), A4 (100, 45), A5 (100, 46): 161 / 4 = 40.25 days
    late; to pay (55 + 76 + 76 + 76) / 4 = 70.75. June settled A1 (0 late, 30 to pay). Bad debt: May
    wrote off A7's 100 against May's sales of 100 (A1): 100.00; June wrote off nothing of its 80
    (A6 100 - CN1 20)."""
    series = kpis.month_end_series(payer_store, date(2026, 5, 1), date(2026, 6, 30))
    assert series.select("days_to_pay", "days_late", "bad_debt_ratio").rows() == [
        (70.75, 40.25, 100.0),
        (30.0, 0.0, 0.0),
    ]


# --- properties on random ledgers ------------------------------------------------------------------

START = date(2025, 1, 1)


@st.composite
def ledgers(draw: st.DrawFn) -> Tables:
    """A few customers in two entities and three divisions; invoices and credit notes over 14 months,
    paid (cash, credit note, write-off) in up to three parts, some cash on account."""
    customers = draw(st.integers(1, 5))
    documents = draw(
        st.lists(
            st.tuples(
                st.integers(0, customers - 1),
                st.integers(0, 420),  # document day from 2025-01-01
                st.integers(0, 90),  # terms
                st.integers(-30_000, 400_000),  # cents (negative: a credit note)
                st.integers(0, 3),  # payments
                st.integers(-5, 150),  # days from the document to the first payment
            ),
            min_size=1,
            max_size=30,
        )
    )
    doc_rows, payment_rows = [], []
    for number, (customer, offset, terms, cents, payments, delay) in enumerate(documents):
        amount = Decimal(cents) / 100
        kind = "credit_note" if cents < 0 else "invoice"
        day = START + timedelta(days=offset)
        doc_rows.append(
            (f"D{number}", kind, f"C{customer}", day, day + timedelta(days=terms), "EUR", amount, amount)
        )
        shares = [(amount / payments).quantize(Decimal("0.01"))] * payments if payments else []
        if shares:
            shares[-1] = amount - sum(shares[:-1])  # paid in full
        for part, share in enumerate(shares):
            method = "cash" if part < 2 else draw(st.sampled_from(["credit_note", "write_off"]))
            when = day + timedelta(days=delay + 20 * part)
            payment_rows.append((f"P{number}-{part}", f"C{customer}", when, f"D{number}", share, method))
    for number in range(draw(st.integers(0, 2))):
        day = START + timedelta(days=draw(st.integers(0, 400)))
        payment_rows.append((f"ACC{number}", "C0", day, None, Decimal("12.34"), "cash"))
    customer_frame = pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(customers)],
            "customer_name": [f"Customer {i}" for i in range(customers)],
            "entity": [f"E{i % 2}" for i in range(customers)],
            "division": [["North", "South", None][i % 3] for i in range(customers)],
        }
    ).with_columns(
        pl.lit(None, dtype=t).alias(n)
        for n, t in contract.CUSTOMERS.schema.items()
        if n not in ("customer_id", "customer_name", "entity", "division")
    )
    return Tables(
        customer_frame.select(contract.CUSTOMERS.names).cast(contract.CUSTOMERS.schema),
        pl.DataFrame(doc_rows, schema=contract.DOCUMENTS.names, orient="row").cast(contract.DOCUMENTS.schema),
        pl.DataFrame(payment_rows, schema=contract.PAYMENTS.names, orient="row").cast(
            contract.PAYMENTS.schema
        ),
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=ledgers(), by=st.sampled_from(["entity", "division", "customer"]))
def test_groups_add_up_and_the_series_follows_the_formulas(tmp_path_factory, tables: Tables, by: str) -> None:
    """On any ledger: the groups' AR, current AR and sales add up to the whole's in every month; every
    figure of the whole's series is the formula's on the series' own AR and sales (the months before
    2025 have no sales, which stops any countback walk there)."""
    store = Store(tmp_path_factory.mktemp("random"))
    store.write(tables, ImportRecord("test", "random", "-", 0, 0, 0, 0))
    whole = kpis.month_end_series(store, date(2024, 6, 1), date(2027, 5, 31))
    grouped = kpis.month_end_series(store, date(2024, 6, 1), date(2027, 5, 31), by=by)
    sums = grouped.group_by("period").agg(pl.col("ar_total", "ar_current", "sales").sum())
    expected = whole.select("period", "ar_total", "ar_current", "sales")
    assert (
        sums.join(expected, on="period", how="full", suffix="_whole")
        .filter(
            (pl.col("ar_total").fill_null(0) != pl.col("ar_total_whole"))
            | (pl.col("ar_current").fill_null(0) != pl.col("ar_current_whole"))
            | (pl.col("sales").fill_null(0) != pl.col("sales_whole"))
        )
        .is_empty()
    )

    rows = whole.to_dicts()
    close = pytest.approx
    for i, row in enumerate(rows):
        months = [(r["sales"], r["period"].day) for r in reversed(rows[max(0, i - 23) : i + 1])]
        window = months[:3]
        sales_3m = sum((s for s, _ in window), Decimal(0))
        days_3m = sum(d for _, d in window)
        assert row["dso_countback"] == close(by_hand_countback(row["ar_total"], months), abs=0.0101)
        if len(window) == 3 and sales_3m > 0:
            assert row["dso_standard"] == close(
                max(float(row["ar_total"]), 0) / float(sales_3m) * days_3m, abs=0.0101
            )
            assert row["bpdso"] == close(
                max(float(row["ar_current"]), 0) / float(sales_3m) * days_3m, abs=0.0101
            )
        if i > 0:
            previous = rows[i - 1]["ar_total"]
            collectible = previous + row["sales"] - row["ar_current"]
            expected = (
                (previous + row["sales"] - row["ar_total"]) / collectible * 100 if collectible else None
            )
            assert row["cei"] == (None if expected is None else close(float(expected), abs=0.0101))
        if i >= 3 and row["period"].month % 3 == 0:
            start = rows[i - 3]["ar_total"]
            collectible = float(start - row["ar_current"]) + float(sales_3m) / 3
            collected = float(start - row["ar_total"]) + float(sales_3m) / 3
            expected = collected / collectible * 100 if collectible else None
            assert row["cei_quarterly"] == (None if expected is None else close(expected, abs=0.0101))


def by_hand_countback(ar: Decimal, months: list[tuple[Decimal, int]]) -> float | None:
    """DESIGN.md's countback walk, month by month, as a person does it."""
    remaining = float(ar)
    if remaining <= 0:
        return 0.0
    counted = 0.0
    for position, (sales, days) in enumerate(months):
        if sales <= 0:
            return None if position == 0 else round(counted, 2)
        if remaining >= float(sales):
            counted += days
            remaining -= float(sales)
        else:
            return round(counted + remaining / float(sales) * days, 2)
    return round(counted, 2)


def open_items_by_definition(tables: Tables, day: date) -> pl.DataFrame:
    """DESIGN.md's open items at `day`, straight from the tables: each document issued by then less its
    payments made by then, each payment received on account by then (due on its first date), and each
    payment made by then to a document issued later, on account until that document's date."""
    paid = (
        tables.payments.filter(pl.col("payment_date") <= day, pl.col("document_id").is_not_null())
        .group_by("document_id")
        .agg(paid=pl.col("amount").sum())
    )
    documents = (
        tables.documents.filter(pl.col("document_date") <= day)
        .join(paid, on="document_id", how="left")
        .select("customer_id", "due_date", open=pl.col("amount_functional") - pl.col("paid").fill_null(0))
    )
    on_account = (
        tables.payments.filter(pl.col("document_id").is_null())
        .group_by("payment_id")
        .agg(
            pl.col("customer_id").first(), due_date=pl.col("payment_date").min(), open=-pl.col("amount").sum()
        )
        .filter(pl.col("due_date") <= day)
        .select("customer_id", "due_date", "open")
    )
    in_advance = (
        tables.payments.filter(pl.col("payment_date") <= day, pl.col("document_id").is_not_null())
        .join(tables.documents.select("document_id", "document_date"), on="document_id")
        .filter(pl.col("document_date") > day)
        .group_by("payment_id")
        .agg(
            pl.col("customer_id").first(), due_date=pl.col("payment_date").min(), open=-pl.col("amount").sum()
        )
        .select("customer_id", "due_date", "open")
    )
    return (
        pl.concat([documents, on_account, in_advance])
        .filter(pl.col("open") != 0)
        .with_columns(snapshot_date=pl.lit(day))
    )


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=ledgers(), days=st.lists(st.integers(-10, 520), min_size=1, max_size=5))
def test_month_end_balances_match_the_definition(tmp_path_factory, tables: Tables, days: list[int]) -> None:
    """At any dates, stored or not, month_end_balances gives each customer's AR, current AR and AR more
    than 90 days past due of the open items as DESIGN.md defines them (computed here from the tables)."""
    store = Store(tmp_path_factory.mktemp("random"))
    store.write(tables, ImportRecord("test", "random", "-", 0, 0, 0, 0))
    manifest = store.manifest()
    assert manifest is not None
    # Random days (mostly not stored) and the last stored month ends (read from their snapshots).
    dates = sorted({START + timedelta(days=d) for d in days} | set(manifest.month_ends[-3:]))
    items = pl.concat([open_items_by_definition(tables, day) for day in dates])
    past_due = (pl.col("snapshot_date") - pl.col("due_date")).dt.total_days()
    money = {"ar_total": contract.MONEY, "ar_current": contract.MONEY, "ar_over_90": contract.MONEY}
    expected = (
        items.group_by("snapshot_date", "customer_id")
        .agg(
            ar_total=pl.col("open").sum(),
            ar_current=pl.col("open").filter(past_due <= 0).sum(),
            ar_over_90=pl.col("open").filter(past_due > kpis.OVER_DAYS).sum(),
        )
        .cast(money)
        .sort("snapshot_date", "customer_id")
    )
    balances = kpis.month_end_balances(store, dates).sort("snapshot_date", "customer_id")
    assert balances.rows() == expected.rows()


def test_a_data_folder_of_an_older_format_is_refused_until_snapshot_brings_it_up_to_date(
    payer_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """A generation written before the stored derivations (format 1: no version in its manifest, no
    balance or cash periods, settlements or customer balances): every reader refuses it, naming the
    command that brings it up to date; `snapshot` rewrites it, and the figures are those of before
    (days late of May 2026 40.25) with the record of imports unchanged."""
    series = kpis.month_end_series(payer_store, date(2025, 7, 1), date(2026, 6, 30))
    payers = kpis.payer_behaviour(payer_store, date(2026, 6, 30))
    imports = payer_store.imports()
    write_older_format(payer_store)

    with pytest.raises(DataFolderOutdated, match="run `python -m analytics snapshot` to bring it up to date"):
        kpis.month_end_series(payer_store, date(2025, 7, 1), date(2026, 6, 30))
    data = str(payer_store.root)
    assert cli.main(["report", "dso", "--data", data, "--from", "2026-01", "--to", "2026-06"]) == 1
    assert "run `python -m analytics snapshot` to bring it up to date" in capsys.readouterr().err

    assert cli.main(["snapshot", "--data", data, "--as-of", "2026-06-15"]) == 0
    assert f"Brought {payer_store.root} up to date" in capsys.readouterr().out
    assert payer_store.manifest().format == store_module.FORMAT
    assert date(2026, 6, 15) in payer_store.manifest().derived_dates
    assert kpis.month_end_series(payer_store, date(2025, 7, 1), date(2026, 6, 30)).equals(series)
    assert kpis.payer_behaviour(payer_store, date(2026, 6, 30)).equals(payers)
    assert series.filter(pl.col("period") == date(2026, 5, 31))["days_late"].to_list() == [40.25]
    assert payer_store.imports().equals(imports)
    # Up to date, `snapshot` only adds its date.
    assert cli.main(["snapshot", "--data", data, "--as-of", "2026-06-16"]) == 0
    assert "up to date" not in capsys.readouterr().out
