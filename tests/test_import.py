"""Import: every validation rule with its message, encodings and separators, formats, the mapping,
the IBM sample, idempotent re-import, and all-or-nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import CUSTOMERS_CSV, DOCUMENTS_CSV, PAYMENTS_CSV, write

from analytics import contract, ingest
from analytics.store import Store

IBM_SAMPLE = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ibm-accounts-receivable-sample.csv"
)
IBM_MAPPING = Path(__file__).resolve().parent.parent / "examples" / "ibm-mapping.toml"


def refused(store: Store, sources: ingest.Sources, mapping: ingest.Mapping | None = None) -> list[str]:
    """Run an import that must be refused; return its problems as text, and check nothing was written."""
    before = store.version()
    with pytest.raises(ingest.ImportRefused) as caught:
        ingest.import_files(store, sources, mapping)
    assert store.version() == before, "a refused import must not write anything"
    return [str(problem) for problem in caught.value.problems]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")


def sources(
    folder: Path, customers: str = CUSTOMERS_CSV, documents: str = DOCUMENTS_CSV, payments: str = PAYMENTS_CSV
):
    return ingest.Sources(
        customers=write(folder, "customers.csv", customers),
        documents=write(folder, "documents.csv", documents),
        payments=write(folder, "payments.csv", payments),
    )


def test_clean_import_lands_every_row(store: Store, ledger_files: ingest.Sources) -> None:
    result = ingest.import_files(store, ledger_files)
    assert result.rows == {"customers": 3, "documents": 5, "payments": 6}
    documents = store.read(contract.DOCUMENTS).sort("document_id")
    # amount_functional omitted for EUR documents is the amount; I3 keeps its USD conversion.
    assert documents.filter(pl.col("document_id") == "I1")["amount_functional"].to_list() == [
        pl.Series([1000.00]).cast(contract.MONEY)[0]
    ]
    assert str(documents.filter(pl.col("document_id") == "I3")["amount_functional"][0]) == "1000.00"
    assert store.manifest().data_as_of == date(2026, 3, 31)
    assert store.imports()["documents"].to_list() == [5]


def test_missing_required_column(store: Store, folder: Path) -> None:
    customers = CUSTOMERS_CSV.replace("customer_name,", "name_of_customer,")
    problems = refused(store, sources(folder, customers=customers))
    assert problems == ["customers.csv, row 1, column customer_name: required column is missing"]


def test_unknown_column_in_mapping(store: Store, folder: Path) -> None:
    mapping = ingest.parse_mapping({"documents": {"columns": {"amount": "Montant"}}})
    problems = refused(store, sources(folder), mapping)
    assert len(problems) == 1
    assert problems[0].startswith(
        "documents.csv, row 1, column Montant: the mapping names column 'Montant' for amount"
    )


def test_mapping_to_unknown_canonical_column(tmp_path: Path) -> None:
    path = write(tmp_path, "mapping.toml", '[documents]\ncolumns = { amount_ttc = "Total" }\n')
    with pytest.raises(ingest.ImportRefused) as caught:
        ingest.load_mapping(path)
    assert "mapping.toml, column amount_ttc: [documents] maps to unknown column 'amount_ttc'" in str(
        caught.value
    )


def test_unparseable_date(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace("I2,invoice,C1,2026-02-05", "I2,invoice,C1,2026-02-30")
    problems = refused(store, sources(folder, documents=documents))
    assert problems == [
        "documents.csv, row 3, column document_date: '2026-02-30' is not a date like 2026-01-31"
    ]


def test_unparseable_amount(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace(
        "I4,invoice,C3,2026-03-01,2026-03-31,EUR,300.00,300.00",
        "I4,invoice,C3,2026-03-01,2026-03-31,EUR,3OO.00,",
    )
    problems = refused(store, sources(folder, documents=documents))
    assert problems == [
        "documents.csv, row 6, column amount: '3OO.00' is not an amount with at most 2 decimals"
    ]


def test_more_than_two_decimals_is_refused_not_truncated(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace(
        "I2,invoice,C1,2026-02-05,2026-03-07,EUR,500.00,", "I2,invoice,C1,2026-02-05,2026-03-07,EUR,500.005,"
    )
    problems = refused(store, sources(folder, documents=documents))
    assert problems == [
        "documents.csv, row 3, column amount: '500.005' is not an amount with at most 2 decimals"
    ]


def test_decimal_comma_and_thousands_separator(store: Store, folder: Path) -> None:
    """With a mapping declaring decimal ',' and thousands '.', '1.234,50' is 1234.50; the ';' separator is guessed."""
    documents = (
        "document_id;document_type;customer_id;document_date;due_date;currency;amount\n"
        "I9;invoice;C1;2026-03-01;2026-03-31;EUR;1.234,50\n"
    )
    payments = "payment_id;customer_id;payment_date;document_id;amount\nP1;C1;2026-03-05;I9;1.000,25\n"
    mapping = ingest.parse_mapping({"format": {"decimal_separator": ",", "thousands_separator": "."}})
    ingest.import_files(store, sources(folder, documents=documents, payments=payments), mapping)
    assert str(store.read(contract.DOCUMENTS)["amount"][0]) == "1234.50"
    assert str(store.read(contract.PAYMENTS)["amount"][0]) == "1000.25"
    assert str(store.open_items(date(2026, 3, 5))["open_amount_functional"].sum()) == "234.25"


def test_decimal_comma_without_mapping_is_refused(store: Store, folder: Path) -> None:
    documents = "document_id;document_type;customer_id;document_date;due_date;currency;amount\nI9;invoice;C1;2026-03-01;2026-03-31;EUR;1234,50\n"
    problems = refused(
        store,
        ingest.Sources(
            customers=write(folder, "customers.csv", CUSTOMERS_CSV),
            documents=write(folder, "documents.csv", documents),
        ),
    )
    assert problems == [
        "documents.csv, row 2, column amount: '1234,50' is not an amount with at most 2 decimals"
    ]


def test_empty_file(store: Store, folder: Path) -> None:
    problems = refused(store, sources(folder, documents=""))
    assert problems == ["documents.csv: the file is empty"]


def test_header_only(store: Store, folder: Path) -> None:
    problems = refused(
        store, sources(folder, payments="payment_id,customer_id,payment_date,document_id,amount,method\n")
    )
    assert problems == ["payments.csv: the file has a header but no rows"]


def test_duplicate_document_id(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV + "I1,invoice,C1,2026-03-02,2026-04-01,EUR,10.00,\n"
    problems = refused(store, sources(folder, documents=documents))
    assert problems == [
        "documents.csv, row 7, column document_id: duplicate document_id 'I1' (first at row 2)"
    ]


def test_duplicate_customer_id(store: Store, folder: Path) -> None:
    customers = CUSTOMERS_CSV + "C2,Beta Again,Acme DE,,,,,,,,,,\n"
    problems = refused(store, sources(folder, customers=customers))
    assert problems == [
        "customers.csv, row 5, column customer_id: duplicate customer_id 'C2' (first at row 3)"
    ]


def test_document_for_unknown_customer(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV + "I5,invoice,C9,2026-03-02,2026-04-01,EUR,10.00,\n"
    problems = refused(store, sources(folder, documents=documents))
    assert problems == ["documents.csv, row 7, column customer_id: unknown customer 'C9'"]


def test_payment_for_unknown_document(store: Store, folder: Path) -> None:
    payments = PAYMENTS_CSV + "P6,C1,2026-03-20,I99,10.00,cash\n"
    problems = refused(store, sources(folder, payments=payments))
    assert problems == ["payments.csv, row 8, column document_id: payment for an unknown document 'I99'"]


def test_due_date_before_document_date(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace(
        "I4,invoice,C3,2026-03-01,2026-03-31", "I4,invoice,C3,2026-03-01,2026-02-27"
    )
    problems = refused(store, sources(folder, documents=documents))
    assert problems == [
        "documents.csv, row 6, column due_date: due date 2026-02-27 is before the document date 2026-03-01"
    ]


def test_unknown_document_type(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace("I4,invoice,", "I4,proforma,")
    problems = refused(store, sources(folder, documents=documents))
    assert problems == [
        "documents.csv, row 6, column document_type: 'proforma' is not one of: invoice, credit_note, debit_note"
    ]


def test_document_type_spelling_is_normalised(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace("CN1,credit_note,", "CN1,Credit Note,")
    ingest.import_files(store, sources(folder, documents=documents))
    types = store.read(contract.DOCUMENTS).filter(pl.col("document_id") == "CN1")["document_type"].to_list()
    assert types == ["credit_note"]


def test_unknown_payment_method(store: Store, folder: Path) -> None:
    payments = PAYMENTS_CSV.replace("P4,C2,2026-02-20,I3,1000.00,cash", "P4,C2,2026-02-20,I3,1000.00,barter")
    problems = refused(store, sources(folder, payments=payments))
    assert problems == [
        "payments.csv, row 6, column method: 'barter' is not one of: cash, credit_note, write_off"
    ]


def test_credit_note_with_positive_amount(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace(
        "CN1,credit_note,C1,2026-02-20,2026-02-20,EUR,-100.00",
        "CN1,credit_note,C1,2026-02-20,2026-02-20,EUR,100.00",
    )
    problems = refused(store, sources(folder, documents=documents))
    assert problems == ["documents.csv, row 4, column amount: credit note with a positive amount 100.00"]


def test_amounts_of_one_document_differing_in_sign_are_refused(
    store: Store, ledger_files: ingest.Sources, folder: Path
) -> None:
    """A credit note of -800.00 USD booked at +400.00 EUR: the rate converts the amount, it cannot turn
    a credit into a debit. Accepted, the documents at 2026-03-31 would sum to
        I1 1000 + I2 500 + CN1 -100 + I3 1000 + I4 300 + CN9 (+400) = 3100.00
    where they are 2700 - 400 = 2300.00 (800 short on both sides of the ledger). The row is refused, naming both
    columns; the clean rows of the same file are not written either (all or nothing), and an invoice
    of 0.00 in both currencies (same sign: zero) is not a conflict."""
    ingest.import_files(store, ledger_files)
    before = store.read(contract.DOCUMENTS)
    documents = write(
        folder,
        "documents.csv",
        DOCUMENTS_CSV.splitlines()[0] + "\n"
        "I8,invoice,C1,2026-03-02,2026-04-01,EUR,0.00,0.00\n"
        "CN9,credit_note,C2,2026-03-02,2026-03-02,USD,-800.00,400.00\n"
        "I9,invoice,C2,2026-03-03,2026-04-02,USD,120.00,-100.00\n",
    )
    problems = refused(store, ingest.Sources(documents=documents))
    assert problems == [
        "documents.csv, row 3, column amount_functional: amount -800.00 and amount_functional 400.00 "
        "differ in sign",
        "documents.csv, row 4, column amount_functional: amount 120.00 and amount_functional -100.00 "
        "differ in sign",
    ]
    assert store.read(contract.DOCUMENTS).equals(before)


def test_open_amounts_of_one_snapshot_item_differing_in_sign_are_refused(store: Store, folder: Path) -> None:
    """The same rule for an ERP's aged trial balance: open_amount -50.00 USD cannot be +45.00 EUR."""
    snapshot = write(
        folder,
        "open_items.csv",
        "snapshot_date,document_id,customer_id,document_type,document_date,due_date,currency,open_amount,"
        "open_amount_functional\n"
        "2026-02-28,I3,C2,invoice,2026-01-15,2026-01-15,USD,-50.00,45.00\n",
    )
    ingest.import_files(store, sources(folder))
    problems = refused(store, ingest.Sources(open_items=snapshot))
    assert problems == [
        "open_items.csv, row 2, column open_amount_functional: open_amount -50.00 and "
        "open_amount_functional 45.00 differ in sign"
    ]


def test_currency_not_iso_4217(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace(
        "I3,invoice,C2,2026-01-15,2026-01-15,USD", "I3,invoice,C2,2026-01-15,2026-01-15,DOLLARS"
    )
    problems = refused(store, sources(folder, documents=documents))
    assert problems[0] == "documents.csv, row 5, column currency: 'DOLLARS' is not an ISO 4217 currency code"


def test_functional_amount_required_for_foreign_currency(store: Store, folder: Path) -> None:
    documents = DOCUMENTS_CSV.replace("USD,1200.00,1000.00", "USD,1200.00,")
    problems = refused(store, sources(folder, documents=documents))
    assert problems == [
        "documents.csv, row 5, column amount_functional: amount_functional is required when the currency (USD) "
        "is not the functional currency (EUR)"
    ]


def test_required_value_empty(store: Store, folder: Path) -> None:
    customers = CUSTOMERS_CSV.replace("C3,Gamma SA,Acme FR", "C3,,Acme FR")
    problems = refused(store, sources(folder, customers=customers))
    assert problems == ["customers.csv, row 4, column customer_name: required value is empty"]


def test_at_most_fifty_problems_listed_with_the_total(store: Store, folder: Path) -> None:
    rows = "".join(f"X{i},invoice,C1,2026-13-01,2026-02-01,EUR,1.00,\n" for i in range(70))
    documents = DOCUMENTS_CSV + rows
    with pytest.raises(ingest.ImportRefused) as caught:
        ingest.import_files(store, sources(folder, documents=documents))
    assert caught.value.total == 70
    assert len(caught.value.problems) == 50
    report = caught.value.report()
    assert report.startswith("Import refused: 70 problems; nothing was written.")
    assert report.endswith("... and 20 more problems (70 in all)")
    assert caught.value.problems[0].row == 7


def test_utf8_with_bom(store: Store, folder: Path) -> None:
    files = sources(folder)
    customers_path = folder / "customers-bom.csv"
    customers_path.write_bytes(
        b"\xef\xbb\xbf" + CUSTOMERS_CSV.replace("Alpha SARL", "Société Générale").encode("utf-8")
    )
    ingest.import_files(store, ingest.Sources(customers_path, files.documents, files.payments))
    names = store.read(contract.CUSTOMERS).sort("customer_id")["customer_name"].to_list()
    assert names[0] == "Société Générale"


def test_latin1_when_the_mapping_says_so(store: Store, folder: Path) -> None:
    files = sources(folder)
    text = CUSTOMERS_CSV.replace("Alpha SARL", "Société Générale").replace(",", ";")
    customers = write(folder, "customers-latin1.csv", text, encoding="latin-1")
    mapping = ingest.parse_mapping({"customers": {"encoding": "latin-1"}})
    ingest.import_files(store, ingest.Sources(customers, files.documents, files.payments), mapping)
    assert "Société Générale" in store.read(contract.CUSTOMERS)["customer_name"].to_list()


def test_latin1_without_mapping_is_refused_with_its_line(store: Store, folder: Path) -> None:
    files = sources(folder)
    text = CUSTOMERS_CSV.replace("Gamma SA", "Gamma Société")
    customers = write(folder, "customers.csv", text, encoding="latin-1")
    problems = refused(store, ingest.Sources(customers, files.documents, files.payments))
    assert problems == [
        'customers.csv, row 4: is not valid UTF-8; if the file is Latin-1, set encoding = "latin-1" in the mapping'
    ]


def test_xlsx_and_parquet_files(store: Store, folder: Path, ledger_files: ingest.Sources) -> None:
    customers = pl.read_csv(ledger_files.customers, infer_schema=False)
    customers.write_excel(folder / "customers.xlsx")
    documents = pl.read_csv(ledger_files.documents, infer_schema=False).with_columns(
        pl.col("document_date", "due_date").str.to_date()
    )
    documents.write_excel(folder / "documents.xlsx")
    payments = pl.read_csv(ledger_files.payments, infer_schema=False).with_columns(
        pl.col("payment_date").str.to_date(), pl.col("amount").cast(contract.MONEY)
    )
    payments.write_parquet(folder / "payments.parquet")
    ingest.import_files(
        store,
        ingest.Sources(folder / "customers.xlsx", folder / "documents.xlsx", folder / "payments.parquet"),
    )
    assert store.manifest().documents == 5
    total = store.open_items(date(2026, 1, 31))["open_amount_functional"].sum()
    assert str(total) == "2000.00"


def test_xlsx_bad_value_names_its_spreadsheet_row(
    store: Store, folder: Path, ledger_files: ingest.Sources
) -> None:
    documents = pl.read_csv(ledger_files.documents, infer_schema=False).with_columns(
        pl.when(pl.col("document_id") == "I2")
        .then(pl.lit("soon"))
        .otherwise(pl.col("due_date"))
        .alias("due_date")
    )
    documents.write_excel(folder / "documents.xlsx")
    problems = refused(
        store, ingest.Sources(ledger_files.customers, folder / "documents.xlsx", ledger_files.payments)
    )
    assert problems == ["documents.xlsx, row 3, column due_date: 'soon' is not a date like 2026-01-31"]


def test_reimport_replaces_by_key(store: Store, ledger_files: ingest.Sources, folder: Path) -> None:
    ingest.import_files(store, ledger_files)
    first = store.open_items(date(2026, 3, 10))
    ingest.import_files(store, ledger_files)
    assert store.manifest().documents == 5
    assert store.manifest().payments == 6
    assert store.open_items(date(2026, 3, 10)).sort("document_id").equals(first.sort("document_id"))
    # A corrected document replaces the stored one; the others stay.
    changed = write(
        folder,
        "documents.csv",
        DOCUMENTS_CSV.splitlines()[0] + "\nI4,invoice,C3,2026-03-01,2026-03-31,EUR,350.00,\n",
    )
    ingest.import_files(store, ingest.Sources(documents=changed))
    stored = store.read(contract.DOCUMENTS)
    assert stored.height == 5
    assert str(stored.filter(pl.col("document_id") == "I4")["amount"][0]) == "350.00"
    assert len(store.imports()) == 3


def test_a_refused_import_keeps_the_previous_data(
    store: Store, ledger_files: ingest.Sources, folder: Path
) -> None:
    ingest.import_files(store, ledger_files)
    before = store.open_items(date(2026, 3, 31))
    bad = write(folder, "documents.csv", DOCUMENTS_CSV + "I9,invoice,C9,2026-03-02,2026-04-01,EUR,10.00,\n")
    refused(store, ingest.Sources(documents=bad))
    assert store.open_items(date(2026, 3, 31)).equals(before)
    assert store.manifest().documents == 5


def test_open_items_snapshot_import_takes_precedence(
    store: Store, ledger_files: ingest.Sources, folder: Path
) -> None:
    """An ERP's aged trial balance for 2026-02-28 says only I1 is open, for 650.00: that is the truth for
    that date, even though documents and payments derive 1000.00 (I1 600 + I2 500 - CN1 100)."""
    ingest.import_files(store, ledger_files)
    assert str(store.open_items(date(2026, 2, 28))["open_amount_functional"].sum()) == "1000.00"
    snapshot = write(
        folder,
        "open_items.csv",
        "snapshot_date,document_id,customer_id,document_type,document_date,due_date,currency,open_amount\n"
        "2026-02-28,I1,C1,invoice,2026-01-10,2026-02-09,EUR,650.00\n",
    )
    ingest.import_files(store, ingest.Sources(open_items=snapshot))
    items = store.open_items(date(2026, 2, 28))
    assert items["document_id"].to_list() == ["I1"]
    assert str(items["open_amount_functional"][0]) == "650.00"
    # Other dates are still derived.
    assert str(store.open_items(date(2026, 3, 10))["open_amount_functional"].sum()) == "1250.00"


def test_ibm_sample_imports_with_its_mapping(store: Store) -> None:
    """The public IBM sample: 2,466 invoices of 100 customers, US dates, zero-padded invoice numbers,
    one row per invoice with its settlement date (all settled by 2014-01-09)."""
    mapping = ingest.load_mapping(IBM_MAPPING)
    result = ingest.import_files(store, ingest.Sources(documents=IBM_SAMPLE), mapping)
    assert result.rows == {"customers": 100, "documents": 2466, "payments": 2466}
    documents = store.read(contract.DOCUMENTS)
    assert "0000611365" in documents["document_id"].to_list()
    first = documents.filter(pl.col("document_id") == "0000611365")
    assert first["document_date"][0] == date(2013, 1, 2)
    assert str(first["amount"][0]) == "55.94"
    assert store.manifest().functional_currency == "USD"
    # Everything was settled by the last settlement date; mid-2013 some invoices were still open.
    assert store.open_items(date(2014, 1, 9)).height == 0
    assert store.open_items(date(2013, 6, 30)).height > 0
