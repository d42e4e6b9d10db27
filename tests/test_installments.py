"""Installments (DESIGN.md, "Installments"): a document paid in parts ages as one item per installment,
each on its own due date, payments settling the earliest first; imported through the installments file
(with a mapping for an ERP's column names) and refused when a document's installments do not add up;
the aged balance still ties to the ledger."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import oracle, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import aging, cli, contract, ingest, kpis
from analytics.store import ImportRecord, Store, Tables

CUSTOMERS = """customer_id,customer_name,entity,country
C1,Alpha SARL,Acme FR,FR
"""
# INV1: 900.00 on 30/60/90 terms; INV2 a plain invoice beside it.
DOCUMENTS = """document_id,document_type,customer_id,document_date,due_date,currency,amount,amount_functional
INV1,invoice,C1,2026-01-01,2026-01-31,EUR,900.00,900.00
INV2,invoice,C1,2026-01-01,2026-01-31,EUR,100.00,100.00
"""
INSTALLMENTS = """document_id,due_date,amount_functional
INV1,2026-03-02,300.00
INV1,2026-01-31,300.00
INV1,2026-04-01,300.00
"""
PAYMENTS = """payment_id,customer_id,payment_date,document_id,amount,method
P1,C1,2026-02-10,INV1,400.00,cash
P2,C1,2026-03-20,INV1,200.00,cash
P3,C1,2026-04-20,INV1,350.00,cash
"""


@pytest.fixture
def sources(tmp_path: Path) -> ingest.Sources:
    folder = tmp_path / "exports"
    folder.mkdir()
    return ingest.Sources(
        customers=write(folder, "customers.csv", CUSTOMERS),
        documents=write(folder, "documents.csv", DOCUMENTS),
        payments=write(folder, "payments.csv", PAYMENTS),
        installments=write(folder, "installments.csv", INSTALLMENTS),
    )


@pytest.fixture
def store(tmp_path: Path, sources: ingest.Sources) -> Store:
    store = Store(tmp_path / "data")
    ingest.import_files(store, sources)
    return store


def items_of(store: Store, at: date) -> list[tuple]:
    items = store.open_items(at).filter(pl.col("document_id") == "INV1").sort("installment")
    return [
        (row["installment"], row["due_date"].isoformat(), str(row["open_amount_functional"]))
        for row in items.iter_rows(named=True)
    ]


def test_each_installment_ages_on_its_due_date_and_payments_settle_the_earliest_first(store: Store) -> None:
    """INV1 900.00 in three installments of 300.00, due 2026-01-31, 2026-03-02 and 2026-04-01 (given out
    of order: numbered by due date); paid 400.00 on 2026-02-10, 200.00 on 2026-03-20, 350.00 on
    2026-04-20.

    - 2026-01-15: nothing paid: 1: 300.00, 2: 300.00, 3: 300.00, none due.
    - 2026-02-15: 400.00 paid: installment 1 settled (300), 100.00 off installment 2: 2: 200.00, 3: 300.00.
    - 2026-03-10: the same, installment 2 is 8 days past due (d1_30), installment 3 not due.
    - 2026-03-25: 600.00 paid: 1 and 2 settled: 3: 300.00.
    - 2026-04-25: 950.00 paid, 50.00 more than the invoice: the last installment takes it: 3: -50.00."""
    assert items_of(store, date(2026, 1, 15)) == [
        (1, "2026-01-31", "300.00"),
        (2, "2026-03-02", "300.00"),
        (3, "2026-04-01", "300.00"),
    ]
    assert items_of(store, date(2026, 2, 15)) == [(2, "2026-03-02", "200.00"), (3, "2026-04-01", "300.00")]
    assert items_of(store, date(2026, 3, 25)) == [(3, "2026-04-01", "300.00")]
    assert items_of(store, date(2026, 4, 25)) == [(3, "2026-04-01", "-50.00")]
    # INV2 has no installments: one item, no installment number.
    plain = store.open_items(date(2026, 3, 10)).filter(pl.col("document_id") == "INV2")
    assert plain.select("installment", "due_date").rows() == [(None, date(2026, 1, 31))]

    items = aging.aged_items(store, date(2026, 3, 10))
    rows = aging.aging(items, aging.AgingQuery(date(2026, 3, 10), by="document")).rows
    by_item = {
        (row["document_id"], row["installment"]): (str(row["not_due"]), str(row["d1_30"]), str(row["d31_60"]))
        for row in rows.iter_rows(named=True)
    }
    assert by_item == {
        ("INV1", 2): ("0.00", "200.00", "0.00"),
        ("INV1", 3): ("300.00", "0.00", "0.00"),
        ("INV2", None): ("0.00", "0.00", "100.00"),
    }


def test_a_month_end_holds_the_installments(store: Store) -> None:
    """The stored month end of 2026-02-28 (derived at import): INV1's installments 2 (200.00, due
    2026-03-02: current) and 3 (300.00, current), INV2 100.00 28 days past due: AR 600.00 of which
    500.00 current, as the DSO series has it."""
    assert date(2026, 2, 28) in store.manifest().derived_dates
    assert items_of(store, date(2026, 2, 28)) == [(2, "2026-03-02", "200.00"), (3, "2026-04-01", "300.00")]
    series = kpis.month_end_series(store, date(2026, 2, 1), date(2026, 2, 28))
    assert series.select("ar_total", "ar_current").rows() == [(Decimal("600.00"), Decimal("500.00"))]


def test_installments_that_do_not_add_up_are_refused(tmp_path: Path, sources: ingest.Sources) -> None:
    """300.00 + 300.00 + 200.00 = 800.00 for an invoice of 900.00: refused on the first of them (row 2),
    column amount_functional; nothing written."""
    wrong = write(tmp_path, "wrong.csv", INSTALLMENTS.replace("2026-04-01,300.00", "2026-04-01,200.00"))
    store = Store(tmp_path / "refused")
    with pytest.raises(ingest.ImportRefused) as refused:
        ingest.import_files(store, ingest.Sources(sources.customers, sources.documents, installments=wrong))
    assert (
        "wrong.csv, row 2, column amount_functional: the installments of 'INV1' add up to 800.00, "
        "not its amount_functional 900.00"
    ) in refused.value.report()
    assert not store.exists()


def test_installment_rows_are_checked_like_any_file(tmp_path: Path, sources: ingest.Sources) -> None:
    """An unknown document, a due date before the document's date, an amount of the other sign:
    each refused naming its row and column."""
    bad = write(
        tmp_path,
        "bad.csv",
        "document_id,due_date,amount_functional\n"
        "NOPE,2026-02-01,10.00\n"
        "INV2,2025-12-01,150.00\n"
        "INV2,2026-02-01,-50.00\n",
    )
    store = Store(tmp_path / "refused")
    with pytest.raises(ingest.ImportRefused) as refused:
        ingest.import_files(store, ingest.Sources(sources.customers, sources.documents, installments=bad))
    report = refused.value.report()
    assert "bad.csv, row 2, column document_id: installment of an unknown document 'NOPE'" in report
    assert "bad.csv, row 3, column due_date: due date 2025-12-01 of an installment" in report
    assert "bad.csv, row 4, column amount_functional: installment amount_functional -50.00" in report


def test_a_document_imported_again_with_another_amount_needs_its_installments(
    store: Store, tmp_path: Path
) -> None:
    """INV1 imported again at 1000.00 without installments: its stored ones (900.00) no longer add
    up, refused on the documents file's row; with installments adding up to 1000.00 it lands."""
    documents = write(tmp_path, "again.csv", DOCUMENTS.replace("900.00,900.00", "1000.00,1000.00"))
    with pytest.raises(ingest.ImportRefused) as refused:
        ingest.import_files(store, ingest.Sources(documents=documents))
    assert "again.csv, row 2, column amount_functional: amount_functional 1000.00 of 'INV1' is not what " in (
        refused.value.report()
    )
    parts = write(tmp_path, "parts.csv", "document_id,due_date,amount_functional\nINV1,2026-01-31,1000.00\n")
    ingest.import_files(store, ingest.Sources(documents=documents, installments=parts))
    assert items_of(store, date(2026, 1, 15)) == [(1, "2026-01-31", "1000.00")]


def test_a_mapping_takes_an_erp_s_column_names(tmp_path: Path, sources: ingest.Sources) -> None:
    """An ERP's échéancier (Facture;Echeance;Montant, French dates and decimal commas) through a
    mapping's [installments] section."""
    erp = write(
        tmp_path,
        "echeances.csv",
        "Facture;Echeance;Montant\nINV1;31/01/2026;300,00\nINV1;02/03/2026;300,00\nINV1;01/04/2026;300,00\n",
    )
    mapping = write(
        tmp_path,
        "mapping.toml",
        '[installments]\ncolumns = { document_id = "Facture", due_date = "Echeance", amount_functional = "Montant" }\n'
        'separator = ";"\ndate_format = "%d/%m/%Y"\ndecimal_separator = ","\n',
    )
    store = Store(tmp_path / "mapped")
    ingest.import_files(
        store,
        ingest.Sources(sources.customers, sources.documents, sources.payments, installments=erp),
        ingest.load_mapping(mapping),
    )
    assert items_of(store, date(2026, 2, 15)) == [(2, "2026-03-02", "200.00"), (3, "2026-04-01", "300.00")]


def test_the_command_line_imports_installments(tmp_path: Path, sources: ingest.Sources, capsys) -> None:
    """`import --installments F`, then `report aging --by customer` at 2026-03-10: Alpha SARL 600.00,
    of which 300.00 not due (installment 3), 200.00 in 1-30 (installment 2) and 100.00 in 31-60 (INV2)."""
    data = str(tmp_path / "cli")
    args = ["import", "--data", data, "--customers", str(sources.customers), "--documents"]
    args += [
        str(sources.documents),
        "--payments",
        str(sources.payments),
        "--installments",
        str(sources.installments),
    ]
    assert cli.main(args) == 0
    assert "3 installments" in capsys.readouterr().out
    report = [
        "report",
        "aging",
        "--data",
        data,
        "--as-of",
        "2026-03-10",
        "--by",
        "customer",
        "--format",
        "json",
    ]
    assert cli.main(report) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["not_due"], row["d1_30"], row["d31_60"], row["total"]) == (300.0, 200.0, 100.0, 600.0)


@st.composite
def installment_ledgers(draw: st.DrawFn) -> Tables:
    """Documents of either sign, some with two to four installments (distinct due dates) adding up to
    the document; payments partial, excessive, reversed, before the document's date; cash on account."""
    start = date(2026, 1, 1)
    doc_rows, payment_rows, part_rows = [], [], []
    for number in range(draw(st.integers(1, 8))):
        day = start + timedelta(days=draw(st.integers(0, 120)))
        cents = draw(st.integers(-50_000, 500_000).filter(lambda c: c != 0))
        kind = "credit_note" if cents < 0 else "invoice"
        doc_rows.append((f"D{number}", kind, "C1", day, day + timedelta(days=30), "EUR", cents, cents))
        if draw(st.booleans()):
            count = draw(st.integers(2, 4))
            offsets = sorted(draw(st.lists(st.integers(0, 120), min_size=count, max_size=count, unique=True)))
            shares = [cents // count] * (count - 1)
            shares.append(cents - sum(shares))
            part_rows += [
                (f"D{number}", day + timedelta(days=o), s) for o, s in zip(offsets, shares, strict=True)
            ]
        for _ in range(draw(st.integers(0, 4))):
            paid_on = day + timedelta(days=draw(st.sampled_from([-10, 0, 5, 40, 70, 100])))
            paid = draw(st.sampled_from([cents, cents // 2, cents // 3, -cents // 4, cents * 2, 1]))
            payment_rows.append((f"P{number}", "C1", paid_on, f"D{number}", paid, "cash"))
    for number in range(draw(st.integers(0, 2))):
        amount = draw(st.integers(-2_000, 5_000))
        payment_rows.append(
            (f"ACC{number}", "C1", start + timedelta(days=draw(st.integers(0, 150))), None, amount, "cash")
        )
    customers = pl.DataFrame({"customer_id": ["C1"], "customer_name": ["One"], "entity": ["E"]})
    money = [pl.col(name).cast(pl.Decimal(18, 0)) / 100 for name in ("amount", "amount_functional")]
    documents = pl.DataFrame(doc_rows, schema=contract.DOCUMENTS.names, orient="row").with_columns(money)
    payments = pl.DataFrame(payment_rows, schema=contract.PAYMENTS.names, orient="row").with_columns(
        pl.col("amount").cast(pl.Decimal(18, 0)) / 100
    )
    parts = pl.DataFrame(part_rows, schema=contract.INSTALLMENTS.names, orient="row").with_columns(
        pl.col("amount_functional").cast(pl.Decimal(18, 0)) / 100
    )
    return Tables(
        customers.with_columns(
            pl.lit(None, t).alias(n)
            for n, t in contract.CUSTOMERS.schema.items()
            if n not in customers.columns
        )
        .select(contract.CUSTOMERS.names)
        .cast(contract.CUSTOMERS.schema),
        documents.cast(contract.DOCUMENTS.schema),
        payments.cast(contract.PAYMENTS.schema),
        installments=parts.cast(contract.INSTALLMENTS.schema),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=installment_ledgers(), days=st.lists(st.integers(-15, 250), min_size=1, max_size=4))
def test_with_installments_the_ar_ties_to_the_ledger_and_follows_the_definition(
    tmp_path_factory: pytest.TempPathFactory, tables: Tables, days: list[int]
) -> None:
    """On any ledger with installments, at any date (stored month end or not): the AR is the documents
    dated up to it minus the payments dated up to it, and the items open, installment by installment,
    are those of the definition (tests/oracle/open_items_at_dates.sql)."""
    store = Store(tmp_path_factory.mktemp("parts") / "data")
    manifest = store.write(tables, ImportRecord("test", "-", "-", 1, 0, 0, 0), functional_currency="EUR")
    con = store.connect()
    order = ["document_id", "installment"]
    for at in [date(2026, 1, 1) + timedelta(days=day) for day in days] + list(manifest.derived_dates[-3:]):
        issued = tables.documents.filter(pl.col("document_date") <= at)["amount_functional"].sum()
        paid = tables.payments.filter(pl.col("payment_date") <= at)["amount"].sum()
        ledger = Decimal(issued or 0) - Decimal(paid or 0)
        items = store.open_items(at, con)
        assert Decimal(items["open_amount_functional"].sum() or 0) == ledger, at
        assert Decimal(kpis.month_end_balances(store, [at], con)["ar_total"].sum() or 0) == ledger, at
        expected = con.sql(
            oracle("open_items_at_dates"), params={"dates": [at], "functional_currency": "EUR"}
        ).pl()
        assert items.sort(order, nulls_last=True).equals(
            expected.drop("snapshot_date").sort(order, nulls_last=True)
        ), at
