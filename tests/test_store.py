"""The store: open items derived at several dates from the hand-worked ledger of conftest.py and
materialised snapshots that agree with the derivation (also on random ledgers). Imports and snapshot
builds killed midway: test_faults.py. Two writers at once (imports, a snapshot build) and a reader
across imports: at the end of the file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import DOCUMENTS_CSV, oracle, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import aging, contract, ingest, kpis
from analytics import store as store_module
from analytics.store import ImportRecord, Store, Tables


def balances(store: Store, as_of: date) -> dict[str, str]:
    items = store.open_items(as_of).sort("document_id")
    return dict(zip(items["document_id"], (str(v) for v in items["open_amount_functional"]), strict=True))


def test_open_items_at_the_end_of_january(ledger_store: Store) -> None:
    """2026-01-31: I1 1000.00 (no payment yet) and I3 1000.00 EUR (USD 1200.00, settled only on 02-20).
    I2, CN1, I4 are not issued yet. Total 2000.00."""
    assert balances(ledger_store, date(2026, 1, 31)) == {"I1": "1000.00", "I3": "1000.00"}
    i3 = ledger_store.open_items(date(2026, 1, 31)).filter(pl.col("document_id") == "I3")
    assert (i3["currency"][0], str(i3["open_amount"][0])) == ("USD", "1200.00")


def test_open_items_at_the_end_of_february(ledger_store: Store) -> None:
    """2026-02-28: I1 1000 - 400 (P1, 02-15) = 600.00; I2 500.00; CN1 -100.00 (applied only on 03-01);
    I3 1000 - 1000 (P4, 02-20) = 0, not open. Total 1000.00."""
    assert balances(ledger_store, date(2026, 2, 28)) == {"CN1": "-100.00", "I1": "600.00", "I2": "500.00"}


def test_open_items_after_credit_note_and_cash_on_account(ledger_store: Store) -> None:
    """2026-03-10: P2 applies CN1 to I2: I2 500 - 100 = 400.00, CN1 -100 + 100 = 0 (closed);
    P3 puts 50.00 on account: an open item of -50.00 due on its payment date; I4 300.00 issued 03-01.
    Total 600 + 400 - 50 + 300 = 1250.00."""
    assert balances(ledger_store, date(2026, 3, 10)) == {
        "I1": "600.00",
        "I2": "400.00",
        "I4": "300.00",
        "P3": "-50.00",
    }
    cash = ledger_store.open_items(date(2026, 3, 10)).filter(pl.col("document_id") == "P3")
    assert cash["document_type"][0] == "unapplied_cash"
    assert cash["due_date"][0] == date(2026, 3, 10)


def test_write_off_closes_the_item(ledger_store: Store) -> None:
    """2026-03-31: I4 written off (P5, 300.00): I1 600 + I2 400 - P3 50 = 950.00."""
    assert balances(ledger_store, date(2026, 3, 31)) == {"I1": "600.00", "I2": "400.00", "P3": "-50.00"}
    assert sum(Decimal(v) for v in balances(ledger_store, date(2026, 3, 31)).values()) == Decimal("950.00")


def test_as_of_before_any_document_is_empty(ledger_store: Store) -> None:
    assert ledger_store.open_items(date(2025, 12, 31)).height == 0


def test_month_ends_are_materialised_and_agree_with_the_derivation(ledger_store: Store) -> None:
    manifest = ledger_store.manifest()
    assert manifest.data_as_of == date(2026, 3, 31)
    assert len(manifest.month_ends) == 24
    assert manifest.month_ends[-1] == date(2026, 3, 31)
    assert manifest.month_ends[0] == date(2024, 4, 30)
    con = ledger_store.connect()
    derived = store_module.query("open_items_as_of")
    for month_end in (date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)):
        stored = ledger_store.open_items(month_end, con).sort("document_id")
        computed = con.sql(derived, params={"as_of": month_end, "functional_currency": "EUR"}).pl()
        assert stored.equals(computed.sort("document_id")), month_end
    partitions = sorted(p.name for p in (ledger_store.current / "derived_snapshots").iterdir())
    assert "snapshot_date=2026-02-28" in partitions


def test_snapshot_of_a_date_is_stored(ledger_store: Store) -> None:
    before = balances(ledger_store, date(2026, 3, 10))
    manifest = ledger_store.add_snapshot(date(2026, 3, 10))
    assert date(2026, 3, 10) in manifest.derived_dates
    assert (ledger_store.current / "derived_snapshots" / "snapshot_date=2026-03-10").is_dir()
    assert balances(ledger_store, date(2026, 3, 10)) == before


def test_snapshot_dates_survive_a_new_import(ledger_store: Store, ledger_files: ingest.Sources) -> None:
    ledger_store.add_snapshot(date(2026, 3, 10))
    ingest.import_files(ledger_store, ledger_files)
    assert date(2026, 3, 10) in ledger_store.manifest().derived_dates


def test_two_generations_at_most_are_kept(ledger_store: Store, ledger_files: ingest.Sources) -> None:
    for _ in range(3):
        ingest.import_files(ledger_store, ledger_files)
    assert len(list((ledger_store.root / "generations").iterdir())) == 2


@pytest.fixture
def prepaid_store(tmp_path: Path) -> Store:
    """C1 pays 600.00 on 2026-03-01 (PA) for invoice INV, issued only on 2026-03-10 (1000.00, due
    2026-04-09), and the rest, 400.00, on 2026-04-15 (PB); C1 also has invoice OLD (200.00, 2026-02-01,
    due 2026-02-28), paid on 2026-02-20, before the prepayment."""
    folder = tmp_path / "in"
    folder.mkdir()
    files = ingest.Sources(
        customers=write(folder, "customers.csv", "customer_id,customer_name,entity\nC1,Alpha,E\n"),
        documents=write(
            folder,
            "documents.csv",
            "document_id,document_type,customer_id,document_date,due_date,currency,amount\n"
            "OLD,invoice,C1,2026-02-01,2026-02-28,EUR,200.00\n"
            "INV,invoice,C1,2026-03-10,2026-04-09,EUR,1000.00\n",
        ),
        payments=write(
            folder,
            "payments.csv",
            "payment_id,customer_id,payment_date,document_id,amount\n"
            "P0,C1,2026-02-20,OLD,200.00\n"
            "PA,C1,2026-03-01,INV,600.00\n"
            "PB,C1,2026-04-15,INV,400.00\n",
        ),
    )
    store = Store(tmp_path / "data")
    ingest.import_files(store, files)
    return store


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # documents dated by then - payments dated by then
        (date(2026, 2, 28), {}),  # 200 (OLD) - 200 (P0) = 0
        (date(2026, 3, 1), {"PA": "-600.00"}),  # 200 - (200 + 600) = -600: PA on account
        (date(2026, 3, 9), {"PA": "-600.00"}),  # the day before INV: still on account
        (date(2026, 3, 10), {"INV": "400.00"}),  # 1200 - 800 = 400: PA now reduces INV
        (date(2026, 3, 31), {"INV": "400.00"}),  # a month end, read from its stored snapshot
        (date(2026, 4, 14), {"INV": "400.00"}),  # 5 days past due
        (date(2026, 4, 15), {}),  # 1200 - 1200 = 0
    ],
)
def test_a_payment_before_its_invoice_is_cash_on_account_until_the_invoice(
    prepaid_store: Store, as_of: date, expected: dict[str, str]
) -> None:
    """Paid in advance, PA is an open item of -600.00 due on its date (2026-03-01) until INV is issued;
    from 2026-03-10 it reduces INV (1000 - 600 = 400.00). The AR ties to the ledger at every date, in
    the open items, the aging balance and the customers' month-end balances alike."""
    assert balances(prepaid_store, as_of) == expected
    total = sum((Decimal(v) for v in expected.values()), Decimal("0.00"))
    items = aging.aged_items(prepaid_store, as_of)
    assert aging.aging(items, aging.AgingQuery(as_of, by="customer")).total == total
    ar = kpis.month_end_balances(prepaid_store, [as_of])["ar_total"].sum()
    assert Decimal(ar or 0) == total
    if "PA" in expected:
        cash = prepaid_store.open_items(as_of).row(0, named=True)
        assert (cash["document_type"], cash["due_date"]) == ("unapplied_cash", date(2026, 3, 1))


def test_a_prepayment_in_a_snapshot_asked_for(prepaid_store: Store) -> None:
    """A snapshot of 2026-03-05 (between PA and INV) stores PA on account: -600.00."""
    prepaid_store.add_snapshot(date(2026, 3, 5))
    assert balances(prepaid_store, date(2026, 3, 5)) == {"PA": "-600.00"}
    assert str(kpis.month_end_balances(prepaid_store, [date(2026, 3, 5)])["ar_total"][0]) == "-600.00"


@st.composite
def tangled_ledgers(draw: st.DrawFn) -> Tables:
    """Documents over five months in two currencies (functional amounts different, or zero); payments
    before the document's date, several on one day, partial, excessive, for unknown documents; cash on
    account, some of it under one payment id on several days."""
    start = date(2026, 1, 1)
    doc_rows, payment_rows = [], []
    for number in range(draw(st.integers(1, 12))):
        day = start + timedelta(days=draw(st.integers(0, 150)))
        cents = draw(st.integers(-50_000, 500_000))
        functional = draw(st.sampled_from([cents, cents * 2, cents // 3, 0]))
        kind = "credit_note" if cents < 0 else "invoice"
        doc_rows.append(
            (
                f"D{number}",
                kind,
                "C1",
                day,
                day + timedelta(days=30),
                "USD",
                Decimal(cents) / 100,
                Decimal(functional) / 100,
            )
        )
        for _ in range(draw(st.integers(0, 4))):
            paid_on = day + timedelta(days=draw(st.sampled_from([-10, 0, 0, 5, 40, 70])))
            paid = draw(st.sampled_from([functional, functional // 2, -functional // 4, 1]))
            document = f"D{number}" if draw(st.integers(0, 9)) else "NOWHERE"
            payment_rows.append((f"P{number}", "C1", paid_on, document, Decimal(paid) / 100, "cash"))
    for number in range(draw(st.integers(0, 3))):
        for day in draw(st.lists(st.integers(0, 150), min_size=1, max_size=2)):
            amount = Decimal(draw(st.integers(-2_000, 5_000))) / 100
            payment_rows.append((f"ACC{number}", "C1", start + timedelta(days=day), None, amount, "cash"))
    customers = pl.DataFrame({"customer_id": ["C1"], "customer_name": ["One"], "entity": ["E"]}).with_columns(
        pl.lit(None, dtype=t).alias(n)
        for n, t in contract.CUSTOMERS.schema.items()
        if n not in ("customer_id", "customer_name", "entity")
    )
    return Tables(
        customers.select(contract.CUSTOMERS.names).cast(contract.CUSTOMERS.schema),
        pl.DataFrame(doc_rows, schema=contract.DOCUMENTS.names, orient="row").cast(contract.DOCUMENTS.schema),
        pl.DataFrame(payment_rows, schema=contract.PAYMENTS.names, orient="row").cast(
            contract.PAYMENTS.schema
        ),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=tangled_ledgers(), days=st.lists(st.integers(0, 200), min_size=1, max_size=3))
def test_stored_open_items_follow_the_definition(
    tmp_path_factory: pytest.TempPathFactory, tables: Tables, days: list[int]
) -> None:
    """On any ledger, the materialised month ends (and a snapshot asked for) hold exactly the rows
    the definition (tests/oracle/open_items_at_dates.sql) gives; at other dates Store.open_items gives the
    same items, cash on account (and paid in advance) included."""
    store = Store(tmp_path_factory.mktemp("tangled") / "data")
    manifest = store.write(tables, ImportRecord("test", "-", "-", 1, 0, 0, 0), functional_currency="EUR")
    asked = date(2026, 1, 1) + timedelta(days=days[0])
    if asked not in manifest.derived_dates:
        manifest = store.add_snapshot(asked)
    con = store.connect()
    definition = con.sql(
        oracle("open_items_at_dates"),
        params={"dates": list(manifest.derived_dates), "functional_currency": "EUR"},
    ).pl()
    stored = con.sql("select * from open_item_snapshots").pl().select(definition.columns)
    order = ["snapshot_date", "document_id"]
    assert stored.sort(order).equals(definition.sort(order))
    for day in days:
        at = date(2026, 1, 1) + timedelta(days=day)
        expected = con.sql(
            oracle("open_items_at_dates"), params={"dates": [at], "functional_currency": "EUR"}
        ).pl()
        derived = store.open_items(at, con).sort("document_id")
        assert derived.equals(expected.drop("snapshot_date").sort("document_id")), at


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tables=tangled_ledgers(), days=st.lists(st.integers(-15, 200), min_size=1, max_size=4))
def test_the_ar_at_any_date_ties_to_the_ledger(
    tmp_path_factory: pytest.TempPathFactory, tables: Tables, days: list[int]
) -> None:
    """On any ledger (payments before their document's date among them), the AR at any date, stored
    month end or not, is the documents dated up to it minus the payments dated up to it, whatever they
    are applied to (payments to a document not in the ledger aside: an import refuses them)."""
    store = Store(tmp_path_factory.mktemp("tied") / "data")
    manifest = store.write(tables, ImportRecord("test", "-", "-", 1, 0, 0, 0), functional_currency="EUR")
    known = tables.payments.filter(
        pl.col("document_id").is_null()
        | pl.col("document_id").is_in(tables.documents["document_id"].implode())
    )
    dates = [date(2026, 1, 1) + timedelta(days=day) for day in days] + list(manifest.derived_dates[-3:])
    con = store.connect()
    for at in dates:
        issued = tables.documents.filter(pl.col("document_date") <= at)["amount_functional"].sum()
        paid = known.filter(pl.col("payment_date") <= at)["amount"].sum()
        ledger = Decimal(issued or 0) - Decimal(paid or 0)
        assert Decimal(store.open_items(at, con)["open_amount_functional"].sum() or 0) == ledger, at
        balances_then = kpis.month_end_balances(store, [at], con)
        assert Decimal(balances_then["ar_total"].sum() or 0) == ledger, at


@st.composite
def settling_ledgers(draw: st.DrawFn) -> Tables:
    """tangled_ledgers, each payment row made in cash, by credit note or written off, and more payments
    that settle a document, reverse a settlement, overpay it or pay it again, some on one day."""
    tables = draw(tangled_ledgers())
    documents = tables.documents.rows(named=True)
    extra = []
    for document in documents:
        day = document["document_date"]
        for _ in range(draw(st.integers(0, 4))):
            day += timedelta(days=draw(st.sampled_from([-5, 0, 1, 20])))
            amount = document["amount_functional"] * draw(st.sampled_from([1, -1, Decimal("0.5")]))
            extra.append(("S", "C1", day, document["document_id"], amount.quantize(Decimal("0.01")), "cash"))
    payments = pl.concat(
        [
            tables.payments,
            pl.DataFrame(extra, schema=contract.PAYMENTS.names, orient="row").cast(contract.PAYMENTS.schema),
        ]
    )
    methods = draw(
        st.lists(
            st.sampled_from(contract.PAYMENT_METHODS), min_size=payments.height, max_size=payments.height
        )
    )
    payments = payments.with_columns(pl.Series("method", methods, dtype=pl.String))
    return Tables(tables.customers, tables.documents, payments)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tables=settling_ledgers(),
    windows=st.lists(st.tuples(st.integers(-20, 220), st.integers(0, 120)), min_size=1, max_size=4),
)
def test_stored_settlements_follow_the_definition(
    tmp_path_factory: pytest.TempPathFactory, tables: Tables, windows: list[tuple[int, int]]
) -> None:
    """On any ledger, the invoices settled in any window, as known at its end, read from the stored
    settlements (settlements.parquet) are exactly those tests/oracle/settled_invoices.sql settles from the
    payments: same invoices, settled on the same day, paid on the same day."""
    store = Store(tmp_path_factory.mktemp("tangled") / "data")
    store.write(tables, ImportRecord("test", "-", "-", 1, 0, 0, 0), functional_currency="EUR")
    assert (store.current / store_module.SETTLEMENTS).is_file()
    con = store.connect()
    for start, length in windows:
        after = date(2026, 1, 1) + timedelta(days=start)
        params = {"after": after, "until": after + timedelta(days=length)}
        definition = con.sql(oracle("settled_invoices"), params=params).pl()
        stored = con.sql(store_module.query("settled_invoices_stored"), params=params).pl()
        assert stored.sort("document_id").equals(definition.sort("document_id")), params


def stored_and_summed(store: Store) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The customers' balances as stored, and as tests/oracle/month_end_balances.sql sums them from every
    stored snapshot (imported and derived), both sorted."""
    manifest = store.manifest()
    dates = sorted({*manifest.snapshot_dates, *manifest.derived_dates})
    con = store.connect()
    stored = con.sql(store_module.query("month_end_balances_stored"), params={"dates": dates}).pl()
    params = {"dates": dates, "over_days": store_module.BALANCE_OVER_DAYS}
    summed = con.sql(oracle("month_end_balances"), params=params).pl()
    order = ["snapshot_date", "customer_id"]
    return stored.sort(order), summed.sort(order)


def test_customer_balances_are_stored_with_the_snapshots(ledger_store: Store) -> None:
    """month_end_balances.parquet holds, for every stored snapshot date and customer, the sums
    tests/oracle/month_end_balances.sql gives from the items: after an import, after `snapshot` of another
    date, and with an imported snapshot (2026-03-15: Alpha SARL's I1 600.00 and I2 400.00 alone)."""
    stored, summed = stored_and_summed(ledger_store)
    assert stored.height and stored.equals(summed)
    ledger_store.add_snapshot(date(2026, 3, 10))
    stored, summed = stored_and_summed(ledger_store)
    assert date(2026, 3, 10) in stored["snapshot_date"].to_list()
    assert stored.equals(summed)

    items = ledger_store.open_items(date(2026, 3, 15)).filter(pl.col("document_id").is_in(["I1", "I2"]))
    snapshot = items.with_columns(snapshot_date=pl.lit(date(2026, 3, 15)))
    tables = Tables(
        ledger_store.read(contract.CUSTOMERS),
        ledger_store.read(contract.DOCUMENTS),
        ledger_store.read(contract.PAYMENTS),
        snapshots=snapshot,
    )
    ledger_store.write(tables, ImportRecord("test", "-", "-", 1, 0, 0, 0))
    stored, summed = stored_and_summed(ledger_store)
    assert stored.equals(summed)
    imported = stored.filter(pl.col("snapshot_date") == date(2026, 3, 15))
    assert [str(v) for v in imported["ar_total"]] == ["1000.00"]


# --- writers and readers at the same time ----------------------------------------------------------

NEW_DOCUMENTS = {
    "I5": "I5,invoice,C2,2026-03-02,2026-04-01,EUR,250.00,\n",
    "I6": "I6,invoice,C3,2026-03-03,2026-04-02,EUR,100.00,\n",
}


def new_documents(folder: Path, document_id: str) -> Path:
    header = DOCUMENTS_CSV.splitlines()[0] + "\n"
    return write(folder, f"documents_{document_id}.csv", header + NEW_DOCUMENTS[document_id])


def waiting_for_the_lock(store: Store) -> int:
    """How many processes wait for the store's write lock (the kernel's table of locks)."""
    inode = os.stat(store.root / ".write.lock").st_ino
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in lines if "->" in line and f":{inode} " in line)


def at_once(store: Store, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Run the commands (`python -m analytics ...`) so that they reach the write lock together: it is
    held until every one of them waits for it, then let go."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with store.lock():
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "analytics", *command],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in commands
        ]
        deadline = time.monotonic() + 120
        while waiting_for_the_lock(store) < len(children):
            assert time.monotonic() < deadline, "the commands never reached the write lock"
            assert all(child.poll() is None for child in children), [c.communicate() for c in children]
            time.sleep(0.05)
    results = []
    for child in children:
        stdout, stderr = child.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr))
    return results


def document_ids(store: Store) -> list[str]:
    return sorted(store.read(contract.DOCUMENTS).get_column("document_id").to_list())


def test_two_imports_at_once_both_land_one_after_the_other(ledger_store: Store, tmp_path: Path) -> None:
    """Two imports, of I5 and of I6, started together: the second waits for the first and merges with
    what it wrote, so both invoices are stored and the record lists both imports (each import used to
    merge with the data both started from, and the later one dropped the other's invoice)."""
    root = str(ledger_store.root)
    results = at_once(
        ledger_store,
        ["import", "--data", root, "--documents", str(new_documents(tmp_path, "I5"))],
        ["import", "--data", root, "--documents", str(new_documents(tmp_path, "I6"))],
    )
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert document_ids(ledger_store) == ["CN1", "I1", "I2", "I3", "I4", "I5", "I6"]
    files = ledger_store.imports().get_column("files").to_list()
    assert sorted(files[:2]) == ["documents: documents_I5.csv", "documents: documents_I6.csv"]
    assert ledger_store.manifest().documents == 7


def test_an_import_while_a_snapshot_is_built(ledger_store: Store, tmp_path: Path) -> None:
    """`snapshot --as-of 2026-03-10` and an import of I5 (250.00, dated 2026-03-02) started together:
    whichever goes first, the stored snapshot of 2026-03-10 is there and holds I5, as the derivation
    from the stored documents does: I1 600.00, I2 400.00, I4 300.00, I5 250.00, P3 -50.00."""
    root = str(ledger_store.root)
    results = at_once(
        ledger_store,
        ["snapshot", "--data", root, "--as-of", "2026-03-10"],
        ["import", "--data", root, "--documents", str(new_documents(tmp_path, "I5"))],
    )
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    manifest = ledger_store.manifest()
    assert date(2026, 3, 10) in manifest.derived_dates
    assert document_ids(ledger_store) == ["CN1", "I1", "I2", "I3", "I4", "I5"]
    assert balances(ledger_store, date(2026, 3, 10)) == {
        "I1": "600.00",
        "I2": "400.00",
        "I4": "300.00",
        "I5": "250.00",
        "P3": "-50.00",
    }
    con = ledger_store.connect()
    derived = con.sql(
        store_module.query("open_items_as_of"),
        params={"as_of": date(2026, 3, 10), "functional_currency": "EUR"},
    ).pl()
    assert (
        ledger_store.open_items(date(2026, 3, 10), con)
        .sort("document_id")
        .equals(derived.sort("document_id"))
    )


def test_a_reader_keeps_its_generation_across_one_import(ledger_store: Store, tmp_path: Path) -> None:
    """The rule of the store's docstring: the generation a write replaces is kept until the next
    write. A connection opened before an import reads the five documents it began with, whole; after
    a second import its generation is gone and a query fails, naming a file of that generation."""
    con = ledger_store.connect()
    generation = ledger_store.current
    count = "select count(*), sum(amount_functional) from documents"
    before = con.sql(count).fetchall()[0]
    assert before == (5, Decimal("2700.00"))
    ingest.import_files(ledger_store, ingest.Sources(documents=new_documents(tmp_path, "I5")))
    assert con.sql(count).fetchall()[0] == before
    assert ledger_store.connect().sql(count).fetchall()[0] == (6, Decimal("2950.00"))
    ingest.import_files(ledger_store, ingest.Sources(documents=new_documents(tmp_path, "I6")))
    assert not generation.exists()
    with pytest.raises(duckdb.IOException, match=generation.name):
        con.sql(count).fetchall()[0]
    assert ledger_store.connect().sql(count).fetchall()[0] == (7, Decimal("3050.00"))
