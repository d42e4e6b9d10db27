"""The aging balance: hand-worked figures on the ledger of conftest.py and on boundary items,
custom buckets, filters, roll rates and change; property tests on random ledgers; the command line,
the analytics function and the export agree."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import aging, contract, export
from analytics.scope import Scope
from analytics.store import ImportRecord, Store, Tables


def figures(result: aging.Aging, key: str) -> dict[str, dict[str, str]]:
    """{group: {column: 'amount'}} for the bucket columns, total and overdue."""
    columns = [*result.buckets, "total", "overdue"]
    return {
        row[key]: {column: str(row[column]) for column in columns}
        for row in result.rows.iter_rows(named=True)
    }


def test_ledger_at_march_10_by_entity(ledger_store: Store) -> None:
    """At 2026-03-10: I1 600.00 due 02-09 (29 days: 1-30), I2 400.00 due 03-07 (3 days: 1-30),
    I4 300.00 due 03-31 (not due), P3 -50.00 on account due 03-10 (0 days: not due).
    Acme FR (C1, C3) holds all: not due 250.00, 1-30 1000.00, total 1250.00, overdue 1000.00."""
    items = aging.aged_items(ledger_store, date(2026, 3, 10))
    result = aging.aging(items, aging.AgingQuery(date(2026, 3, 10), by="entity"))
    assert figures(result, "entity") == {
        "Acme FR": {
            "not_due": "250.00",
            "d1_30": "1000.00",
            "d31_60": "0.00",
            "d61_90": "0.00",
            "over_90": "0.00",
            "total": "1250.00",
            "overdue": "1000.00",
        }
    }
    assert result.rows["items"].to_list() == [4]
    assert result.rows["share"].to_list() == [100.0]


def test_ledger_at_january_31_by_customer(ledger_store: Store) -> None:
    """At 2026-01-31: I1 1000.00 due 02-09 (not due) for Alpha SARL; I3 1000.00 EUR due 01-15
    (16 days: 1-30) for Beta GmbH. Each is half of the 2000.00 total."""
    items = aging.aged_items(ledger_store, date(2026, 1, 31))
    result = aging.aging(items, aging.AgingQuery(date(2026, 1, 31), by="customer"))
    rows = result.rows.sort("customer_id")
    assert rows.select("customer_id", "customer_name").rows() == [("C1", "Alpha SARL"), ("C2", "Beta GmbH")]
    assert [str(v) for v in rows["not_due"]] == ["1000.00", "0.00"]
    assert [str(v) for v in rows["d1_30"]] == ["0.00", "1000.00"]
    assert rows["share"].to_list() == [50.0, 50.0]
    assert result.total == Decimal("2000.00")


def test_as_of_before_a_payment(ledger_store: Store) -> None:
    """At 2026-02-10 P1 (02-15) has not come in: I1 is open for its whole 1000.00, 1 day past due;
    I2 500.00 (due 03-07) not due; I3 1000.00 26 days past due."""
    items = aging.aged_items(ledger_store, date(2026, 2, 10))
    result = aging.aging(items, aging.AgingQuery(date(2026, 2, 10), by=aging.DOCUMENT))
    rows = {row["document_id"]: row for row in result.rows.iter_rows(named=True)}
    assert str(rows["I1"]["d1_30"]) == "1000.00"
    assert rows["I1"]["days_past_due"] == 1
    assert str(rows["I2"]["not_due"]) == "500.00"
    assert rows["I3"]["days_past_due"] == 26
    assert rows["I3"]["currency"] == "USD"
    assert str(rows["I3"]["open_amount"]) == "1200.00"


@pytest.fixture
def boundary_store(tmp_path: Path) -> Store:
    """One customer with invoices 0, 30, 31, 60, 61, 90, 91, 120 and 121 days past due at 2026-06-30,
    of 1, 2, 4, 8, 16, 32, 64, 128 and 256.00, so that each bucket's sum names its items."""
    as_of = date(2026, 6, 30)
    days = [0, 30, 31, 60, 61, 90, 91, 120, 121]
    customers = pl.DataFrame(
        {"customer_id": ["K"], "customer_name": ["Kappa"], "entity": ["E"]}, schema_overrides={}
    ).with_columns(
        [
            pl.lit(None, dtype=t).alias(n)
            for n, t in contract.CUSTOMERS.schema.items()
            if n not in ("customer_id", "customer_name", "entity")
        ]
    )
    documents = pl.DataFrame(
        {
            "document_id": [f"B{d}" for d in days],
            "document_type": ["invoice"] * len(days),
            "customer_id": ["K"] * len(days),
            "document_date": [as_of - timedelta(days=d + 30) for d in days],
            "due_date": [as_of - timedelta(days=d) for d in days],
            "currency": ["EUR"] * len(days),
            "amount": [str(2**i) for i in range(len(days))],
            "amount_functional": [str(2**i) for i in range(len(days))],
        }
    )
    store = Store(tmp_path / "boundaries")
    store.write(
        Tables(
            customers.select(contract.CUSTOMERS.names).cast(contract.CUSTOMERS.schema),
            documents.cast(contract.DOCUMENTS.schema),
            pl.DataFrame(schema=contract.PAYMENTS.schema),
        ),
        ImportRecord("test", "boundaries", "-", 1, len(days), 0, 0),
    )
    return store


def test_items_on_bucket_boundaries(boundary_store: Store) -> None:
    """0 days: not due (1); 30: 1-30 (2); 31 and 60: 31-60 (4 + 8 = 12); 61 and 90: 61-90 (16 + 32 = 48);
    91, 120, 121: +90 (64 + 128 + 256 = 448). Total 511, overdue 510."""
    items = aging.aged_items(boundary_store, date(2026, 6, 30))
    result = aging.aging(items, aging.AgingQuery(date(2026, 6, 30), by="entity"))
    assert figures(result, "entity")["E"] == {
        "not_due": "1.00",
        "d1_30": "2.00",
        "d31_60": "12.00",
        "d61_90": "48.00",
        "over_90": "448.00",
        "total": "511.00",
        "overdue": "510.00",
    }


def test_custom_buckets(boundary_store: Store) -> None:
    """With 30,60,90,120: 91 and 120 go to 91-120 (64 + 128 = 192) and 121 to +120 (256)."""
    items = aging.aged_items(boundary_store, date(2026, 6, 30))
    result = aging.aging(items, aging.AgingQuery(date(2026, 6, 30), by="entity", buckets=(30, 60, 90, 120)))
    row = figures(result, "entity")["E"]
    assert result.buckets == ["not_due", "d1_30", "d31_60", "d61_90", "d91_120", "over_120"]
    assert (row["d91_120"], row["over_120"], row["total"]) == ("192.00", "256.00", "511.00")
    odd = aging.aging(items, aging.AgingQuery(date(2026, 6, 30), by="entity", buckets=(45, 100)))
    assert figures(odd, "entity")["E"] == {
        "not_due": "1.00",
        "d1_45": "6.00",
        "d46_100": "120.00",
        "over_100": "384.00",
        "total": "511.00",
        "overdue": "510.00",
    }


def test_filters_and_headline(boundary_store: Store) -> None:
    """+30 keeps items more than 30 days past due (31..121: 508.00); +90 keeps 91, 120, 121 (448.00);
    a bucket filter keeps its bucket only; a minimum amount of 100 keeps 128 and 256."""
    as_of = date(2026, 6, 30)
    items = aging.aged_items(boundary_store, as_of)
    beyond_30 = aging.aging(items, aging.AgingQuery(as_of, by="entity", overdue_beyond=30))
    assert beyond_30.total == Decimal("508.00")
    beyond_90 = aging.aging(items, aging.AgingQuery(as_of, by="entity", overdue_beyond=90))
    assert beyond_90.total == Decimal("448.00")
    only = aging.aging(items, aging.AgingQuery(as_of, by="entity", bucket_filter=("d61_90",)))
    assert only.total == Decimal("48.00")
    large = aging.aging(items, aging.AgingQuery(as_of, by=aging.DOCUMENT, min_amount=Decimal("100")))
    assert sorted(large.rows["document_id"].to_list()) == ["B120", "B121"]
    headline = aging.headline(items, aging.AgingQuery(as_of))
    assert headline == {
        "total": Decimal("511.00"),
        "not_due": Decimal("1.00"),
        "overdue": Decimal("510.00"),
        "overdue_share": Decimal("99.8"),
        "over_30": Decimal("508.00"),
        "over_90": Decimal("448.00"),
    }
    # From the AR and its not-due part alone (a month end of the KPI series), the same figures.
    assert aging.balance_headline(Decimal("511.00"), Decimal("1.00")) == {
        name: headline[name] for name in ("total", "not_due", "overdue", "overdue_share")
    }
    assert aging.balance_headline(Decimal("0.00"), Decimal("0.00"))["overdue_share"] == Decimal("0.0")


def test_drill_steps_narrow_the_items(ledger_store: Store) -> None:
    """Drilling Entity Acme FR -> Division North leaves Alpha SARL (C1) alone: at 2026-03-10
    I1 600 + I2 400 - P3 50 = 950.00; Gamma SA (C3, South) and its I4 are out."""
    items = aging.aged_items(ledger_store, date(2026, 3, 10))
    request = aging.AgingQuery(
        date(2026, 3, 10), by="customer", drill=(("entity", "Acme FR"), ("division", "North"))
    )
    result = aging.aging(items, request)
    assert result.rows.select("customer_id", "total").rows() == [("C1", Decimal("950.00"))]


def test_items_without_the_grouping_columns_give_the_same_figures(ledger_store: Store) -> None:
    """aged_items adds columns for aging() to group on (each level's key as an Enum, amounts in
    cents); items without them (a frame from elsewhere) give the same balance, e.g. the drill of
    test_drill_steps_narrow_the_items: Alpha SARL (C1) 950.00 at 2026-03-10."""
    items = aging.aged_items(ledger_store, date(2026, 3, 10))
    bare = items.select(pl.exclude("^_.*$"))
    assert len(bare.columns) < len(items.columns)
    request = aging.AgingQuery(
        date(2026, 3, 10), by="customer", drill=(("entity", "Acme FR"), ("division", "North"))
    )
    result = aging.aging(bare, request)
    assert result.rows.select("customer_id", "customer_name", "total").rows() == [
        ("C1", "Alpha SARL", Decimal("950.00"))
    ]
    assert result.rows.equals(aging.aging(items, request).rows)
    for by in ("entity", "division", "collector"):
        whole = aging.AgingQuery(date(2026, 3, 10), by=by, overdue_beyond=1)
        assert aging.aging(bare, whole).rows.equals(aging.aging(items, whole).rows)
        assert aging.headline(bare, whole) == aging.headline(items, whole)


def test_scope_limits_the_customers(ledger_store: Store) -> None:
    items = aging.aged_items(ledger_store, date(2026, 1, 31), Scope.of({"collector": ["Ben"]}))
    assert items["customer_id"].unique().to_list() == ["C2"]


def test_roll_rates_from_january_to_february(ledger_store: Store) -> None:
    """Then (01-31): I1 1000.00 not due, I3 1000.00 in 1-30. Now (02-28): I1 600.00 is 19 days past
    due (1-30), 400.00 of it paid (P1); I3 paid in full (P4). Each row adds up to its amount then."""
    before = aging.aged_items(ledger_store, date(2026, 1, 31))
    after = aging.aged_items(ledger_store, date(2026, 2, 28))
    matrix = aging.roll_rates(ledger_store, before, after, date(2026, 1, 31), date(2026, 2, 28))
    rows = {row["bucket_then"]: row for row in matrix.iter_rows(named=True)}
    assert str(rows["not_due"]["amount_then"]) == "1000.00"
    assert str(rows["not_due"]["d1_30"]) == "600.00"
    assert str(rows["not_due"]["paid"]) == "400.00"
    assert str(rows["d1_30"]["amount_then"]) == "1000.00"
    assert str(rows["d1_30"]["paid"]) == "1000.00"
    assert str(rows["d1_30"]["d1_30"]) == "0.00"
    for row in rows.values():
        parts = [row[c] for c in [*contract.bucket_names(), *aging.SETTLED_COLUMNS]]
        assert sum(parts) == row["amount_then"]


def test_roll_rates_credit_note_and_write_off(ledger_store: Store) -> None:
    """From 02-28 to 03-31: I2 500 (not due then) had 100.00 credited (CN1 via P2) and is 24 days past
    due at 03-31 with 400.00; CN1 -100 (1-30 then) was consumed by the same application (credited
    -100.00); I4 is issued after 02-28, so its write-off is not in the matrix."""
    before = aging.aged_items(ledger_store, date(2026, 2, 28))
    after = aging.aged_items(ledger_store, date(2026, 3, 31))
    matrix = aging.roll_rates(ledger_store, before, after, date(2026, 2, 28), date(2026, 3, 31))
    rows = {row["bucket_then"]: row for row in matrix.iter_rows(named=True)}
    assert str(rows["not_due"]["credited"]) == "100.00"
    assert str(rows["not_due"]["d1_30"]) == "400.00"
    assert str(rows["d1_30"]["amount_then"]) == "500.00"  # I1 600 (19 days) + CN1 -100 (8 days)
    assert str(rows["d1_30"]["credited"]) == "-100.00"
    assert str(rows["d1_30"]["d31_60"]) == "600.00"  # I1, 50 days past due at 03-31
    assert sum(str(rows[b]["written_off"]) != "0.00" for b in rows) == 0


def test_change_between_two_dates(ledger_store: Store) -> None:
    """By entity from 01-31 to 02-28: Acme FR 1000.00 (all not due) -> 1000.00 (I2 500 not due; I1 600
    and CN1 -100 in 1-30); Acme DE 1000.00 -> 0 (I3 paid)."""
    before = aging.aging(
        aging.aged_items(ledger_store, date(2026, 1, 31)), aging.AgingQuery(date(2026, 1, 31))
    )
    after = aging.aging(
        aging.aged_items(ledger_store, date(2026, 2, 28)), aging.AgingQuery(date(2026, 2, 28))
    )
    rows = {row["entity"]: row for row in aging.change(before, after).iter_rows(named=True)}
    assert str(rows["Acme DE"]["total_change"]) == "-1000.00"
    assert str(rows["Acme DE"]["total_now"]) == "0.00"
    assert str(rows["Acme FR"]["total_change"]) == "0.00"
    assert str(rows["Acme FR"]["d1_30_change"]) == "500.00"
    assert str(rows["Acme FR"]["not_due_change"]) == "-500.00"
    sentence = aging.what_moved(
        aging.change(before, after), "entity", "overdue", "Overdue", date(2026, 1, 31)
    )
    assert sentence == (
        "Overdue shrank by 50.0% since 2026-01-31 (from 1,000.00 to 500.00), mostly Entity Acme DE (-1,000.00)."
    )


def test_trend_at_month_ends(ledger_store: Store) -> None:
    """Month ends Jan-Mar 2026: total 2000.00, 1000.00, 950.00; at 03-31 I1 (50 days) 600.00 in 31-60,
    I2 (24 days) 400.00 in 1-30, P3 -50.00 (21 days) in 1-30."""
    series = aging.trend(ledger_store, [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)])
    totals = series.group_by("month_end").agg(pl.col("amount").sum()).sort("month_end")
    assert [str(v) for v in totals["amount"]] == ["2000.00", "1000.00", "950.00"]
    march = {
        row["bucket"]: str(row["amount"])
        for row in series.filter(pl.col("month_end") == date(2026, 3, 31)).iter_rows(named=True)
    }
    assert march == {
        "not_due": "0.00",
        "d1_30": "350.00",
        "d31_60": "600.00",
        "d61_90": "0.00",
        "over_90": "0.00",
    }
    shares = series.filter(pl.col("month_end") == date(2026, 1, 31))
    assert shares["share"].sum() == pytest.approx(100.0)


# --- properties on random ledgers ------------------------------------------------------------------

DIVISIONS = ["North", "South", "East"]
COLLECTORS = ["Anna", "Ben"]


@st.composite
def ledgers(draw: st.DrawFn) -> Tables:
    customers = draw(st.integers(1, 6))
    documents = draw(
        st.lists(
            st.tuples(
                st.integers(0, customers - 1),
                st.integers(0, 400),  # document day offset from 2025-01-01
                st.integers(0, 90),  # terms
                st.integers(-50_000, 500_000),  # cents (negative: a credit note)
                st.integers(0, 3),  # how many payments
                st.integers(0, 200),  # days to the first payment
            ),
            min_size=1,
            max_size=40,
        )
    )
    start = date(2025, 1, 1)
    doc_rows, payment_rows = [], []
    for number, (customer, offset, terms, cents, payments, delay) in enumerate(documents):
        kind = "credit_note" if cents < 0 else "invoice"
        amount = Decimal(cents) / 100
        doc_rows.append(
            (
                f"D{number}",
                kind,
                f"C{customer}",
                start + timedelta(days=offset),
                start + timedelta(days=offset + terms),
                "EUR",
                amount,
                amount,
            )
        )
        for part in range(payments):
            share = (amount / (payments + 1)).quantize(Decimal("0.01"))
            method = ["cash", "credit_note", "write_off"][part % 3]
            payment_rows.append(
                (
                    f"P{number}-{part}",
                    f"C{customer}",
                    start + timedelta(days=offset + delay + 10 * part),
                    f"D{number}",
                    share,
                    method,
                )
            )
    if draw(st.booleans()):
        payment_rows.append(("ACC", "C0", start + timedelta(days=100), None, Decimal("12.34"), "cash"))
    customer_frame = pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(customers)],
            "customer_name": [f"Customer {i}" for i in range(customers)],
            "entity": [f"E{i % 2}" for i in range(customers)],
            "division": [DIVISIONS[i % 3] for i in range(customers)],
            "collector": [COLLECTORS[i % 2] for i in range(customers)],
        }
    ).with_columns(
        [
            pl.lit(None, dtype=t).alias(n)
            for n, t in contract.CUSTOMERS.schema.items()
            if n not in ("customer_id", "customer_name", "entity", "division", "collector")
        ]
    )
    return Tables(
        customer_frame.select(contract.CUSTOMERS.names).cast(contract.CUSTOMERS.schema),
        pl.DataFrame(doc_rows, schema=contract.DOCUMENTS.names, orient="row").cast(contract.DOCUMENTS.schema),
        pl.DataFrame(payment_rows, schema=contract.PAYMENTS.names, orient="row").cast(
            contract.PAYMENTS.schema
        ),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tables=ledgers(),
    day=st.integers(0, 700),
    buckets=st.sampled_from([(30, 60, 90), (30, 60, 90, 120), (15, 45), (7,)]),
)
def test_buckets_add_up_and_groupings_add_up_to_the_whole(
    tmp_path_factory, tables: Tables, day: int, buckets
) -> None:
    store = Store(tmp_path_factory.mktemp("random"))
    store.write(tables, ImportRecord("test", "random", "-", 0, 0, 0, 0))
    as_of = date(2025, 1, 1) + timedelta(days=day)
    items = aging.aged_items(store, as_of)
    expected_ar = items["open_amount_functional"].sum() if items.height else Decimal("0")
    for by in ("entity", "division", "collector", aging.CUSTOMER, aging.DOCUMENT):
        result = aging.aging(items, aging.AgingQuery(as_of, by=by, buckets=buckets))
        for row in result.rows.iter_rows(named=True):
            assert sum(row[name] for name in result.buckets) == row["total"]
            assert row["total"] - row["not_due"] == row["overdue"]
        assert result.total == expected_ar
    # AR by the definition: amount minus payments to date, over documents issued by then, plus cash on account.
    documents = tables.documents.filter(pl.col("document_date") <= as_of)
    paid = tables.payments.filter(pl.col("payment_date") <= as_of)
    by_document = (
        paid.filter(pl.col("document_id").is_not_null())
        .group_by("document_id")
        .agg(pl.col("amount").sum().alias("paid"))
    )
    open_documents = documents.join(by_document, on="document_id", how="left").select(
        (pl.col("amount_functional") - pl.col("paid").fill_null(0)).alias("open")
    )
    on_account = paid.filter(pl.col("document_id").is_null())["amount"].sum() if paid.height else 0
    assert expected_ar == (open_documents["open"].sum() if open_documents.height else 0) - (on_account or 0)


# --- command line, function and export agree ------------------------------------------------------


def test_command_line_function_and_export_agree(demo_data_dir: Path, cli_env: dict[str, str]) -> None:
    as_of = date(2026, 11, 20)
    store = Store(demo_data_dir)
    items = aging.aged_items(store, as_of)
    function = aging.report(items, as_of, "collector")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "report",
            "aging",
            "--data",
            str(demo_data_dir),
            "--as-of",
            "2026-11-20",
            "--by",
            "collector",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    command_line = pl.read_csv(io.StringIO(result.stdout), infer_schema=False)
    exported = pl.read_csv(io.BytesIO(export.to_csv(function)), infer_schema=False)
    assert command_line.equals(exported)
    assert command_line.height == function.height >= 6
    total = sum(Decimal(v) for v in command_line["total"])
    assert total == aging.headline(items, aging.AgingQuery(as_of))["total"]
    # JSON carries the same figures as numbers.
    as_json = json.loads(export.to_json(function))
    assert [Decimal(str(row["total"])) for row in as_json] == function["total"].to_list()
    # XLSX: numbers, not text.
    workbook = pl.read_excel(io.BytesIO(export.to_xlsx(function)))
    assert workbook.schema["total"] == pl.Float64
    assert [Decimal(f"{v:.2f}") for v in workbook["total"]] == function["total"].to_list()


def test_report_without_by_and_with_where(
    demo_data_dir: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "aging.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "report",
            "aging",
            "--data",
            str(demo_data_dir),
            "--as-of",
            "2026-11-20",
            "--buckets",
            "30,60,90,120",
            "--format",
            "json",
            "--output",
            str(output),
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(output.read_text())
    assert len(rows) == 1 and rows[0]["scope"] == "all customers"
    assert set(rows[0]) == {
        "scope",
        "not_due",
        "d1_30",
        "d31_60",
        "d61_90",
        "d91_120",
        "over_120",
        "total",
        "overdue",
    }
    entities = Store(demo_data_dir).read(contract.CUSTOMERS)["entity"].unique().sort().to_list()
    scoped = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "report",
            "aging",
            "--data",
            str(demo_data_dir),
            "--as-of",
            "2026-11-20",
            "--by",
            "entity",
            "--where",
            f"entity={entities[0]}",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert scoped.returncode == 0, scoped.stderr
    assert pl.read_csv(io.StringIO(scoped.stdout), infer_schema=False)["entity"].to_list() == [entities[0]]


def test_formula_cells_are_escaped_in_csv_and_typed_text_in_xlsx() -> None:
    """CSV cells that a spreadsheet would run as formulas get an apostrophe; XLSX cells are typed text
    already, so they read back exactly as written."""
    frame = pl.DataFrame(
        {"customer_name": ['=HYPERLINK("http://x")', "+1", "Plain"], "total": ["1.00", "2.00", "3.00"]}
    ).with_columns(pl.col("total").cast(contract.MONEY))
    text = export.to_csv(frame).decode()
    assert "'=HYPERLINK" in text and "'+1" in text and "\nPlain," in text
    workbook = pl.read_excel(io.BytesIO(export.to_xlsx(frame)))
    assert workbook["customer_name"].to_list() == ['=HYPERLINK("http://x")', "+1", "Plain"]


# --- ageing by document date ----------------------------------------------------------------------


def _report_by_document(store: Store, as_of: date, by: str, output_format: str, tmp_path: Path) -> bytes:
    output = tmp_path / f"aging-{as_of}.{output_format}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "analytics",
            "report",
            "aging",
            "--data",
            str(store.root),
            "--as-of",
            as_of.isoformat(),
            "--by",
            by,
            "--age-by",
            "document",
            "--format",
            output_format,
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return output.read_bytes()


@pytest.mark.parametrize(
    ("as_of", "by", "expected"),
    [
        # I1 (doc 01-10, due 02-09) 1000.00 is 21 days old and not due; I3 (doc and due 01-15) 16 days
        # old and 16 days past due: both in 0-30, only I3 overdue.
        (
            date(2026, 1, 31),
            "customer",
            [
                ["C1", "Alpha SARL", "1000.00", "0.00", "0.00", "0.00", "1000.00", "0.00"],
                ["C2", "Beta GmbH", "1000.00", "0.00", "0.00", "0.00", "1000.00", "1000.00"],
            ],
        ),
        # On its due date I1 is 30 days old (0-30) and not overdue (0 days past due).
        (
            date(2026, 2, 9),
            "entity",
            [
                ["Acme FR", "1500.00", "0.00", "0.00", "0.00", "1500.00", "0.00"],
                ["Acme DE", "1000.00", "0.00", "0.00", "0.00", "1000.00", "1000.00"],
            ],
        ),
        # A day later it is 31 days old (31-60) and 1 day past due; I2 (doc 02-05) 5 days old (0-30);
        # I3 26 days old (0-30) and 26 days past due.
        (
            date(2026, 2, 10),
            "entity",
            [
                ["Acme FR", "500.00", "1000.00", "0.00", "0.00", "1500.00", "1000.00"],
                ["Acme DE", "1000.00", "0.00", "0.00", "0.00", "1000.00", "1000.00"],
            ],
        ),
        # 03-10: I1 600.00 59 days old, I2 400.00 33 days (31-60, both past due); I4 300.00 9 days and
        # P3 -50.00 on account 0 days (0-30, not due): 250 + 1000 = 1250.00, overdue 600 + 400 = 1000.00.
        (
            date(2026, 3, 10),
            "entity",
            [["Acme FR", "250.00", "1000.00", "0.00", "0.00", "1250.00", "1000.00"]],
        ),
        # 03-12: I1 is 61 days old (61-90), I2 35 days (31-60); P3 -50.00, due 03-10, is 2 days past due
        # too (negative items age like the others): overdue 600 + 400 - 50 = 950.00.
        (
            date(2026, 3, 12),
            "entity",
            [["Acme FR", "250.00", "400.00", "600.00", "0.00", "1250.00", "950.00"]],
        ),
    ],
)
def test_ageing_by_document_date(
    ledger_store: Store, tmp_path: Path, as_of: date, by: str, expected: list[list[str]]
) -> None:
    """The conftest ledger aged by the days since each document's date (buckets 0-30, 31-60, 61-90,
    +90, no "not due"), overdue still by due date; on the command line (CSV and XLSX) as in the
    function."""
    columns = ["d0_30", "d31_60", "d61_90", "over_90", "total", "overdue"]
    csv = pl.read_csv(
        io.BytesIO(_report_by_document(ledger_store, as_of, by, "csv", tmp_path)), infer_schema=False
    )
    keys = aging.level_keys(by)
    assert csv.columns == [*keys, *columns]
    assert csv.rows() == [tuple(row) for row in expected]
    workbook = pl.read_excel(io.BytesIO(_report_by_document(ledger_store, as_of, by, "xlsx", tmp_path)))
    assert workbook.columns == csv.columns
    assert [f"{v:.2f}" for v in workbook["total"]] == [row[len(keys) + 4] for row in expected]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tables=ledgers(),
    day=st.integers(0, 700),
    buckets=st.sampled_from([(30, 60, 90), (30, 60, 90, 120), (15, 45), (7,)]),
)
def test_document_date_buckets_add_up_and_overdue_is_by_due_date(
    tmp_path_factory, tables: Tables, day: int, buckets
) -> None:
    """Aged by document date, on any ledger: each row's buckets add up to its total, every item is in
    the bucket of its days since its document's date, the groupings add up to the whole AR, and each
    group's total and overdue are those of the ageing by due date."""
    store = Store(tmp_path_factory.mktemp("random"))
    store.write(tables, ImportRecord("test", "random", "-", 0, 0, 0, 0))
    as_of = date(2025, 1, 1) + timedelta(days=day)
    items = aging.aged_items(store, as_of)
    expected_ar = items["open_amount_functional"].sum() if items.height else Decimal("0")
    names = contract.bucket_names(buckets, "document")
    assert names[0] == f"d0_{buckets[0]}" and "not_due" not in names
    for by in ("entity", "collector", aging.CUSTOMER, aging.DOCUMENT):
        keys = aging.level_keys(by)
        by_document = aging.aging(items, aging.AgingQuery(as_of, by=by, buckets=buckets, age_by="document"))
        by_due = aging.aging(items, aging.AgingQuery(as_of, by=by, buckets=buckets))
        assert by_document.buckets == names
        for row in by_document.rows.iter_rows(named=True):
            assert sum(row[name] for name in names) == row["total"]
        assert by_document.total == expected_ar
        assert (
            by_document.rows.select(*keys, "total", "overdue")
            .sort(keys)
            .equals(by_due.rows.select(*keys, "total", "overdue").sort(keys))
        )
    for item in items.iter_rows(named=True):
        age = (as_of - item["document_date"]).days
        position = sum(age > high for high in buckets)
        one = aging.AgingQuery(
            as_of, by=aging.DOCUMENT, buckets=buckets, age_by="document", bucket_filter=(names[position],)
        )
        assert item["document_id"] in aging.aging(items, one).rows["document_id"].to_list()
