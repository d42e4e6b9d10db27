"""Hostile and broken files given to the import (CSV, XLSX, Parquet): each is refused with a message
naming the file (and the row and column where there is one), nothing is written, and the store still
gives the figures it gave before; random corruptions of a valid file either land whole or are refused
that way, never with a traceback.

The store holds the hand-worked ledger of conftest.py. At 2026-03-10 its aging by entity is
    Acme FR  I1 600.00 (due 02-09: 29 days, d1_30), I2 400.00 (due 03-07: 3 days, d1_30),
             P3 -50.00 on account (due 03-10: not due), I4 300.00 (due 03-31: not due)
             -> not_due 250.00, d1_30 1,000.00, total 1,250.00
    Acme DE  nothing open (I3 settled on 02-20).
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from conftest import CUSTOMERS_CSV, DOCUMENTS_CSV, PAYMENTS_CSV, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import aging, contract, export, ingest
from analytics.store import Store

AS_OF = date(2026, 3, 10)
DOCUMENT_HEADER = DOCUMENTS_CSV.splitlines()[0]
# The last row of DOCUMENTS_CSV (row 6 of the file): I4, an invoice of C3 for 300.00 EUR.
I4_ROW = "I4,invoice,C3,2026-03-01,2026-03-31,EUR,300.00,300.00"
NEW_ROW = "I5,invoice,C2,2026-03-02,2026-04-01,EUR,250.00,"


def figures(store: Store) -> list[dict]:
    """The aging by entity at AS_OF, as a report gives it."""
    items = aging.aged_items(store, AS_OF)
    return aging.report(items, AS_OF, "entity", contract.DEFAULT_BUCKETS).to_dicts()


def generations(store: Store) -> list[str]:
    return sorted(p.name for p in (store.root / "generations").iterdir())


def test_the_ledger_figures_the_other_tests_compare_with(ledger_store: Store) -> None:
    assert figures(ledger_store) == [
        {
            "entity": "Acme FR",
            "not_due": Decimal("250.00"),
            "d1_30": Decimal("1000.00"),
            "d31_60": Decimal("0.00"),
            "d61_90": Decimal("0.00"),
            "over_90": Decimal("0.00"),
            "total": Decimal("1250.00"),
            "overdue": Decimal("1000.00"),
        }
    ]


def refused_documents(store: Store, path: Path) -> list[str]:
    """Import `path` as the documents file over the stored ledger; it must be refused. Returns the
    problems as the user reads them, after checking that nothing changed: the live generation, the
    generation folders (no leftover), the stored documents and the figures."""
    version, folders = store.version(), generations(store)
    documents, before = store.read(contract.DOCUMENTS), figures(store)
    with pytest.raises(ingest.ImportRefused) as caught:
        ingest.import_files(store, ingest.Sources(documents=path))
    assert caught.value.report().startswith("Import refused:")
    assert (store.version(), generations(store)) == (version, folders)
    assert store.read(contract.DOCUMENTS).equals(documents)
    assert figures(store) == before
    return [str(problem) for problem in caught.value.problems]


def documents_csv(folder: Path, text: str | bytes, name: str = "documents.csv") -> Path:
    path = folder / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- CSV ---------------------------------------------------------------------------------------


def test_a_file_cut_inside_a_quoted_value(ledger_store: Store, tmp_path: Path) -> None:
    cut = DOCUMENTS_CSV + '"I5,invoice,C2,2026-03-02'
    assert refused_documents(ledger_store, documents_csv(tmp_path, cut)) == [
        "documents.csv, row 7: cannot be read as CSV from this row on (unexpected end of data): "
        'a quote (") is not closed, or a value holds a quote without being quoted'
    ]


def test_a_file_cut_in_the_middle_of_a_row(ledger_store: Store, tmp_path: Path) -> None:
    cut = DOCUMENTS_CSV + NEW_ROW[:24]  # "I5,invoice,C2,2026-03-02"
    assert refused_documents(ledger_store, documents_csv(tmp_path, cut)) == [
        "documents.csv, row 7, column due_date: required value is empty",
        "documents.csv, row 7, column currency: required value is empty",
        "documents.csv, row 7, column amount: required value is empty",
    ]


def test_a_row_with_more_values_than_the_header_names_its_row(ledger_store: Store, tmp_path: Path) -> None:
    text = DOCUMENTS_CSV + "I5,invoice,C2,2026-03-02,2026-04-01,EUR,1,250.00,\n"
    assert refused_documents(ledger_store, documents_csv(tmp_path, text)) == [
        "documents.csv, row 7: the row has 9 values but the header has 8 columns "
        "(a ',' inside a value that is not quoted?)"
    ]


def test_latin1_bytes_read_as_utf8_suggest_the_encoding_setting(ledger_store: Store, tmp_path: Path) -> None:
    text = DOCUMENTS_CSV + "I5,invoice,C2,2026-03-02,2026-04-01,EUR,250.00,\n"
    latin = text.replace("I5,", "Ré5,").encode("latin-1")
    assert refused_documents(ledger_store, documents_csv(tmp_path, latin)) == [
        'documents.csv, row 7: is not valid UTF-8; if the file is Latin-1, set encoding = "latin-1" in the mapping'
    ]


@pytest.mark.parametrize(
    ("junk", "row"),
    [
        (bytes(range(256)) * 8, 1),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), 3),
        ("\ufeffcustomer_id".encode("utf-16"), 1),
    ],
    ids=["all bytes", "png", "utf-16"],
)
def test_binary_junk(ledger_store: Store, tmp_path: Path, junk: bytes, row: int) -> None:
    assert refused_documents(ledger_store, documents_csv(tmp_path, junk)) == [
        f"documents.csv, row {row}: holds binary data (a NUL byte), not CSV text; export the table as CSV (UTF-8)"
    ]


def test_junk_that_is_valid_utf8_is_refused_by_the_contract(ledger_store: Store, tmp_path: Path) -> None:
    junk = "ÿ\x07,\x1b[31m;;\n\x01\x02,\x03\n"
    problems = refused_documents(ledger_store, documents_csv(tmp_path, junk))
    assert problems[0] == "documents.csv, row 1, column document_id: required column is missing"


def test_empty_and_header_only_files(ledger_store: Store, tmp_path: Path) -> None:
    """A header without rows is refused (an export that lost its rows is a mistake more often than
    an intent: an import adds or replaces rows, so an empty one would do nothing anyway)."""
    assert refused_documents(ledger_store, documents_csv(tmp_path, DOCUMENT_HEADER + "\n")) == [
        "documents.csv: the file has a header but no rows"
    ]
    assert refused_documents(ledger_store, documents_csv(tmp_path, "")) == [
        "documents.csv: the file is empty"
    ]
    assert refused_documents(ledger_store, documents_csv(tmp_path, " \n\r\n")) == [
        "documents.csv: the file is empty"
    ]


@pytest.mark.parametrize("column", ["document_id", "customer_id"])
def test_a_million_character_cell_is_refused_quickly(
    ledger_store: Store, tmp_path: Path, column: str
) -> None:
    """Ids and names are at most 255 characters: a million is a broken file. The message quotes the
    start of the value, not all of it."""
    huge = "x" * 1_000_000
    row = {"document_id": f"{huge},invoice,C2", "customer_id": f"I5,invoice,{huge}"}[column]
    text = DOCUMENTS_CSV + row + ",2026-03-02,2026-04-01,EUR,250.00,\n"
    started = time.perf_counter()
    problems = refused_documents(ledger_store, documents_csv(tmp_path, text))
    assert time.perf_counter() - started < 5
    assert problems[0] == (
        f"documents.csv, row 7, column {column}: '{'x' * 60}'... is 1000000 characters long; "
        "text values are limited to 255 characters"
    )


def test_a_name_of_255_characters_is_accepted(ledger_store: Store, tmp_path: Path) -> None:
    name = "N" * contract.MAX_TEXT_LENGTH
    customers = write(tmp_path, "customers.csv", CUSTOMERS_CSV.replace("Alpha SARL", name))
    ingest.import_files(ledger_store, ingest.Sources(customers=customers))
    assert name in ledger_store.read(contract.CUSTOMERS).get_column("customer_name").to_list()


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("NaN", "'NaN' is not an amount with at most 2 decimals"),
        ("nan", "'nan' is not an amount with at most 2 decimals"),
        ("inf", "'inf' is not an amount with at most 2 decimals"),
        ("-Infinity", "'-Infinity' is not an amount with at most 2 decimals"),
        ("1e300", "'1e300' is not an amount with at most 2 decimals"),
        ("1E5", "'1E5' is not an amount with at most 2 decimals"),
        ("0x1F", "'0x1F' is not an amount with at most 2 decimals"),
        (
            "10000000000000.00",
            "'10000000000000.00' is too large: amounts are limited to 9,999,999,999,999.99 either way",
        ),
        (
            "-99999999999999999999999999999999999999999",
            "'-99999999999999999999999999999999999999999' is too large: "
            "amounts are limited to 9,999,999,999,999.99 either way",
        ),
    ],
)
def test_amounts_that_are_not_amounts(ledger_store: Store, tmp_path: Path, amount: str, problem: str) -> None:
    text = DOCUMENTS_CSV + f"I5,invoice,C2,2026-03-02,2026-04-01,EUR,{amount},\n"
    assert refused_documents(ledger_store, documents_csv(tmp_path, text)) == [
        f"documents.csv, row 7, column amount: {problem}"
    ]


def test_the_largest_amount_lands_and_adds_up(ledger_store: Store, tmp_path: Path) -> None:
    """9,999,999,999,999.99 is accepted; with the ledger's 1,250.00 open at 2026-03-10 the entity's
    total is 10,000,000,001,249.99 (I5 is not due yet)."""
    text = DOCUMENTS_CSV + "I5,invoice,C1,2026-03-02,2026-04-01,EUR,9999999999999.99,\n"
    ingest.import_files(ledger_store, ingest.Sources(documents=documents_csv(tmp_path, text)))
    (row,) = figures(ledger_store)
    assert row["total"] == Decimal("10000000001249.99")
    assert row["not_due"] == Decimal("10000000000249.99")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0000-00-00", "'0000-00-00' is not a date like 2026-01-31"),
        ("2026-02-30", "'2026-02-30' is not a date like 2026-01-31"),
        ("2026-13-01", "'2026-13-01' is not a date like 2026-01-31"),
        ("=TODAY()", "'=TODAY()' is not a date like 2026-01-31"),
        ("0001-01-01", "'0001-01-01' is outside the dates an import accepts (1900-01-01 to 2199-12-31)"),
        ("9999-12-31", "'9999-12-31' is outside the dates an import accepts (1900-01-01 to 2199-12-31)"),
    ],
)
def test_dates_that_are_not_dates(ledger_store: Store, tmp_path: Path, value: str, problem: str) -> None:
    text = DOCUMENTS_CSV + f"I5,invoice,C2,{value},2199-12-31,EUR,250.00,\n"
    assert refused_documents(ledger_store, documents_csv(tmp_path, text)) == [
        f"documents.csv, row 7, column document_date: {problem}"
    ]


def test_a_formula_where_an_amount_belongs_is_refused(ledger_store: Store, tmp_path: Path) -> None:
    text = DOCUMENTS_CSV + 'I5,invoice,C2,2026-03-02,2026-04-01,EUR,"=SUM(A1:A9)",\n'
    assert refused_documents(ledger_store, documents_csv(tmp_path, text)) == [
        "documents.csv, row 7, column amount: '=SUM(A1:A9)' is not an amount with at most 2 decimals"
    ]


FORMULA_NAMES = ['=HYPERLINK("http://x","click")', "+33 1 23 45", "-Beta-", "@SUM(1)"]


def test_formulas_in_names_are_text_and_exports_escape_them(ledger_store: Store, tmp_path: Path) -> None:
    """Names starting with =, +, - or @ are names: stored as written; the CSV export of a report by
    customer puts an apostrophe before them so that a spreadsheet shows them as text; the XLSX export
    writes them as text cells, as written: no formula, no number, no apostrophe."""
    rows = "".join(
        f'K{n},"{name.replace(chr(34), chr(34) * 2)}",Acme FR,,,,,,,,,,\n'
        for n, name in enumerate(FORMULA_NAMES)
    )
    customers = write(tmp_path, "customers.csv", CUSTOMERS_CSV + rows)
    documents = DOCUMENTS_CSV + "".join(
        f"F{n},invoice,K{n},2026-03-01,2026-03-05,EUR,10.00,\n" for n in range(len(FORMULA_NAMES))
    )
    ingest.import_files(
        ledger_store, ingest.Sources(customers=customers, documents=documents_csv(tmp_path, documents))
    )
    stored = ledger_store.read(contract.CUSTOMERS).filter(pl.col("customer_id").str.starts_with("K"))
    assert stored.sort("customer_id").get_column("customer_name").to_list() == FORMULA_NAMES

    report = aging.report(
        aging.aged_items(ledger_store, AS_OF), AS_OF, aging.CUSTOMER, contract.DEFAULT_BUCKETS
    )
    exported = pl.read_csv(io.BytesIO(export.to_csv(report)), infer_schema=False)
    names = dict(zip(exported["customer_id"], exported["customer_name"], strict=True))
    assert [names[f"K{n}"] for n in range(len(FORMULA_NAMES))] == [f"'{name}" for name in FORMULA_NAMES]
    assert names["C1"] == "Alpha SARL"
    data = export.to_xlsx(report)
    workbook = pl.read_excel(io.BytesIO(data), infer_schema_length=0)
    names = dict(zip(workbook["customer_id"], workbook["customer_name"], strict=True))
    assert [names[f"K{n}"] for n in range(len(FORMULA_NAMES))] == FORMULA_NAMES
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")


@pytest.mark.parametrize("duplicate", ["amount", "AMOUNT", " amount"])
def test_a_column_named_twice(ledger_store: Store, tmp_path: Path, duplicate: str) -> None:
    text = DOCUMENTS_CSV.replace("amount_functional", duplicate, 1)
    assert refused_documents(ledger_store, documents_csv(tmp_path, text)) == [
        f"documents.csv, row 1, column {duplicate}: the column '{duplicate.strip()}' appears twice in the header"
    ]


def test_control_characters_in_an_id(ledger_store: Store, tmp_path: Path) -> None:
    text = DOCUMENTS_CSV + '"I5\x1b[2J",invoice,C2,2026-03-02,2026-04-01,EUR,250.00,\n'
    assert refused_documents(ledger_store, documents_csv(tmp_path, text)) == [
        "documents.csv, row 7, column document_id: 'I5?[2J' holds a control character or a line break, "
        "which text values cannot hold"
    ]


def test_old_mac_line_endings(ledger_store: Store, tmp_path: Path) -> None:
    text = DOCUMENTS_CSV.replace("\n", "\r")
    assert refused_documents(ledger_store, documents_csv(tmp_path, text)) == [
        "documents.csv, row 1: lines end with a carriage return alone (an old Mac format); save the file as "
        "CSV with Windows or Unix line endings"
    ]


# --- XLSX --------------------------------------------------------------------------------------

DOCUMENT_COLUMNS = DOCUMENT_HEADER.split(",")
I5 = ["I5", "invoice", "C2", "2026-03-02", "2026-04-01", "EUR", "250.00", None]


def workbook(path: Path, rows: list[list], *, title: str | None = None) -> Path:
    """An XLSX file: an optional title merged over the header's width (row 1), then the rows."""
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    start = 0
    if title is not None:
        sheet.merge_range(0, 0, 0, len(rows[0]) - 1, title)
        start = 1
    for offset, row in enumerate(rows):
        for column, value in enumerate(row):
            if isinstance(value, str) and value.startswith("=!"):
                sheet.write_formula(start + offset, column, value[1:].replace("!", "", 1))
            elif value is not None:
                sheet.write_string(start + offset, column, value)
    book.close()
    return path


def test_xlsx_with_merged_header_rows(ledger_store: Store, tmp_path: Path) -> None:
    path = workbook(tmp_path / "documents.xlsx", [DOCUMENT_COLUMNS, I5], title="Invoices of March 2026")
    assert refused_documents(ledger_store, path) == [
        "documents.xlsx, row 1: columns B, C, D, E, F, G, H have values but no name in the header row; the "
        "first row must hold the column names: a title or merged cells above them are not supported"
    ]


def test_xlsx_with_a_two_level_merged_header(ledger_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "documents.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.merge_range("A1:C1", "Document")
    sheet.merge_range("D1:E1", "Dates")
    sheet.write_row(0, 5, ["currency", "amount"])
    sheet.write_row(1, 0, ["document_id", "document_type", "customer_id", "document_date", "due_date"])
    sheet.write_row(2, 0, I5[:7])
    book.close()
    assert refused_documents(ledger_store, path) == [
        "documents.xlsx, row 1: columns B, C, E have values but no name in the header row; the first row "
        "must hold the column names: a title or merged cells above them are not supported"
    ]


def test_xlsx_formula_cells(ledger_store: Store, tmp_path: Path) -> None:
    """A formula cell reads as its formula: where an amount belongs it is refused, whatever value the
    workbook cached for it (xlsxwriter caches 0)."""
    row = [*I5[:6], "=!=SUM(G3:G9)", None]
    path = workbook(tmp_path / "documents.xlsx", [DOCUMENT_COLUMNS, row])
    assert refused_documents(ledger_store, path) == [
        "documents.xlsx, row 2, column amount: '=SUM(G3:G9)' is not an amount with at most 2 decimals"
    ]
    row = [*I5[:3], "=!=TODAY()", *I5[4:]]
    path = workbook(tmp_path / "documents.xlsx", [DOCUMENT_COLUMNS, row])
    assert refused_documents(ledger_store, path) == [
        "documents.xlsx, row 2, column document_date: '=TODAY()' is not a date like 2026-01-31"
    ]


def test_xlsx_formula_in_a_name_is_its_text(ledger_store: Store, tmp_path: Path) -> None:
    columns = ["customer_id", "customer_name", "entity"]
    path = workbook(tmp_path / "customers.xlsx", [columns, ["K1", '=!=HYPERLINK("http://x")', "Acme FR"]])
    ingest.import_files(ledger_store, ingest.Sources(customers=path))
    stored = ledger_store.read(contract.CUSTOMERS).filter(pl.col("customer_id") == "K1")
    assert stored.get_column("customer_name").to_list() == ['=HYPERLINK("http://x")']


def test_xlsx_with_a_column_named_twice(ledger_store: Store, tmp_path: Path) -> None:
    header = [*DOCUMENT_COLUMNS[:7], "amount"]
    path = workbook(tmp_path / "documents.xlsx", [header, I5])
    assert refused_documents(ledger_store, path) == [
        "documents.xlsx, row 1, column amount: the column 'amount' appears twice in the header"
    ]


def test_xlsx_values_that_are_not_amounts_or_dates(ledger_store: Store, tmp_path: Path) -> None:
    row = ["I5", "invoice", "C2", "2026-02-30", "2026-04-01", "EUR", "NaN", None]
    path = workbook(tmp_path / "documents.xlsx", [DOCUMENT_COLUMNS, row])
    assert refused_documents(ledger_store, path) == [
        "documents.xlsx, row 2, column document_date: '2026-02-30' is not a date like 2026-01-31",
        "documents.xlsx, row 2, column amount: 'NaN' is not an amount with at most 2 decimals",
    ]


def test_xlsx_truncated_or_junk(ledger_store: Store, tmp_path: Path) -> None:
    whole = workbook(tmp_path / "whole.xlsx", [DOCUMENT_COLUMNS, I5]).read_bytes()
    truncated = documents_csv(tmp_path, whole[: len(whole) // 2], "documents.xlsx")
    (problem,) = refused_documents(ledger_store, truncated)
    assert problem.startswith("documents.xlsx: cannot be read as an XLSX workbook: ")
    assert str(tmp_path) not in problem
    junk = documents_csv(tmp_path, DOCUMENTS_CSV, "documents.xlsx")
    (problem,) = refused_documents(ledger_store, junk)
    assert problem.startswith("documents.xlsx: cannot be read as an XLSX workbook: ")


def test_xlsx_header_only(ledger_store: Store, tmp_path: Path) -> None:
    path = workbook(tmp_path / "documents.xlsx", [DOCUMENT_COLUMNS])
    assert refused_documents(ledger_store, path) == ["documents.xlsx: the file has a header but no rows"]


# --- Parquet -----------------------------------------------------------------------------------


def parquet(path: Path, columns: dict[str, pa.Array | list]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def document_columns(amounts: list, document_dates: list | None = None) -> dict[str, list]:
    n = len(amounts)
    return {
        "document_id": [f"Q{i}" for i in range(n)],
        "document_type": ["invoice"] * n,
        "customer_id": ["C2"] * n,
        "document_date": document_dates or [date(2026, 3, 2)] * n,
        "due_date": [date(2026, 4, 1)] * n,
        "currency": ["EUR"] * n,
        "amount": amounts,
    }


def test_parquet_nan_infinity_and_1e300(ledger_store: Store, tmp_path: Path) -> None:
    """Parquet files have no header: their first record is row 1."""
    path = parquet(
        tmp_path / "documents.parquet", document_columns([12.5, float("nan"), float("inf"), 1e300])
    )
    assert refused_documents(ledger_store, path) == [
        "documents.parquet, row 2, column amount: 'NaN' is not an amount with at most 2 decimals",
        "documents.parquet, row 3, column amount: 'inf' is not an amount with at most 2 decimals",
        "documents.parquet, row 4, column amount: '1e+300' is not an amount with at most 2 decimals",
    ]


def test_parquet_dates_out_of_range_and_text_dates(ledger_store: Store, tmp_path: Path) -> None:
    columns = document_columns([1.0, 2.0], [date(1, 1, 1), date(2026, 3, 2)])
    path = parquet(tmp_path / "documents.parquet", columns)
    assert refused_documents(ledger_store, path) == [
        "documents.parquet, row 1, column document_date: '0001-01-01' is outside the dates an import accepts "
        "(1900-01-01 to 2199-12-31)"
    ]
    columns = document_columns([1.0, 2.0], ["2026-02-30", "0000-00-00"])
    path = parquet(tmp_path / "documents.parquet", columns)
    assert refused_documents(ledger_store, path) == [
        "documents.parquet, row 1, column document_date: '2026-02-30' is not a date like 2026-01-31",
        "documents.parquet, row 2, column document_date: '0000-00-00' is not a date like 2026-01-31",
    ]


def test_parquet_with_a_column_named_twice_or_nested(ledger_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "documents.parquet"
    columns = document_columns([1.0])
    pq.write_table(pa.table([*columns.values(), pa.array(["x"])], names=[*columns, "amount"]), path)
    assert refused_documents(ledger_store, path) == [
        "documents.parquet, column amount: the column 'amount' appears twice in the header"
    ]
    path = parquet(path, {**columns, "amount": [[1, 2]]})
    assert refused_documents(ledger_store, path) == [
        "documents.parquet, column amount: holds List(Int64), not text, numbers or dates"
    ]


def test_parquet_truncated_or_junk(ledger_store: Store, tmp_path: Path) -> None:
    whole = parquet(tmp_path / "whole.parquet", document_columns([1.0])).read_bytes()
    for data in (
        whole[:-20],
        whole[: len(whole) // 2],
        b"PAR1" + bytes(64) + b"PAR1",
        DOCUMENTS_CSV.encode(),
    ):
        (problem,) = refused_documents(ledger_store, documents_csv(tmp_path, data, "documents.parquet"))
        assert problem.startswith("documents.parquet: cannot be read as a Parquet file: ")
        assert str(tmp_path) not in problem


# --- the command line --------------------------------------------------------------------------


def run_import(env: dict[str, str], data: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", "import", "--data", str(data), *files],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "documents.csv",
            DOCUMENTS_CSV + "I5,invoice,C2,2026-03-02,2026-04-01,EUR,inf,\n",
            "documents.csv, row 7, column amount: 'inf' is not an amount with at most 2 decimals",
        ),
        (
            "documents.csv",
            (DOCUMENTS_CSV + "Ré5,invoice,C2,2026-03-02,2026-04-01,EUR,1.00,\n").encode("latin-1"),
            'documents.csv, row 7: is not valid UTF-8; if the file is Latin-1, set encoding = "latin-1" in the mapping',
        ),
        (
            "documents.csv",
            bytes(range(256)),
            "documents.csv, row 1: holds binary data (a NUL byte), not CSV text; export the table as CSV (UTF-8)",
        ),
        (
            "documents.xlsx",
            None,
            "documents.xlsx, row 1: columns B, C, D, E, F, G, H have values but no name in the header row",
        ),
    ],
    ids=["infinity", "latin-1", "binary", "merged header"],
)
def test_the_command_line_refuses_with_status_2(
    ledger_store: Store, tmp_path: Path, cli_env: dict[str, str], name: str, content, problem: str
) -> None:
    path = tmp_path / name
    if content is None:
        workbook(path, [DOCUMENT_COLUMNS, I5], title="Invoices")
    else:
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    version, before = ledger_store.version(), figures(ledger_store)
    result = run_import(cli_env, ledger_store.root, "--documents", str(path))
    assert result.returncode == 2, result.stderr
    assert "Import refused: 1 problem; nothing was written." in result.stderr.splitlines()
    assert problem in result.stderr
    assert "Traceback" not in result.stderr
    assert ledger_store.version() == version
    assert figures(ledger_store) == before


# --- random corruption -------------------------------------------------------------------------

VALID_DOCUMENTS = (DOCUMENTS_CSV + NEW_ROW + "\n").encode("utf-8")


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    """VALID_DOCUMENTS with a few random edits: bytes replaced, inserted or deleted, or the end cut."""
    data = bytearray(VALID_DOCUMENTS)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        junk = draw(
            st.one_of(
                st.binary(min_size=1, max_size=4),
                st.sampled_from([b'"', b",", b"\n", b"\r", b";", b"\x00", b"\xff", b"\xc3", b"=", b"9" * 30]),
            )
        )
        if edit == "replace":
            data[at : at + len(junk)] = junk
        elif edit == "insert":
            data[at:at] = junk
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


@pytest.fixture(scope="module")
def pristine_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger imported once; each example works on a copy of this folder."""
    folder = tmp_path_factory.mktemp("pristine")
    files = ingest.Sources(
        customers=write(folder, "customers.csv", CUSTOMERS_CSV),
        documents=write(folder, "documents.csv", DOCUMENTS_CSV),
        payments=write(folder, "payments.csv", PAYMENTS_CSV),
    )
    ingest.import_files(Store(folder / "data"), files)
    return folder / "data"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=corrupted())
def test_a_corrupted_file_lands_whole_or_is_refused_cleanly(
    pristine_store: Path, tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    """Whatever the corruption: either the import lands, and then every stored document is one of the
    file's rows and the aging adds up (buckets to totals, totals to the open items), or it is refused
    with problems naming the file, and the store is as it was. No other exception escapes."""
    import shutil

    folder = tmp_path_factory.mktemp("corrupted")
    shutil.copytree(pristine_store, folder / "data", symlinks=True)
    store = Store(folder / "data")
    path = documents_csv(folder, data)
    version, folders, before = store.version(), generations(store), figures(store)
    try:
        result = ingest.import_files(store, ingest.Sources(documents=path))
    except ingest.ImportRefused as refused:
        assert refused.problems
        assert all(problem.file == "documents.csv" and problem.message for problem in refused.problems)
        assert (store.version(), generations(store), figures(store)) == (version, folders, before)
    else:
        assert store.version() != version
        assert result.rows["documents"] >= 1
        assert not any(name.startswith(".staging-") for name in generations(store))
        items = aging.aged_items(store, AS_OF)
        report = aging.report(items, AS_OF, "entity", contract.DEFAULT_BUCKETS)
        for row in report.iter_rows(named=True):
            assert sum(row[b] for b in contract.bucket_names()) == row["total"]
        assert sum(report.get_column("total"), Decimal(0)) == sum(
            items.get_column("open_amount_functional"), Decimal(0)
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- what a file may cost ------------------------------------------------------------------------

# A child process that imports one file into a fresh store, prints the refusal and its peak RSS: the
# memory map's high-water mark (VmHWM), its own (getrusage's keeps the forking parent's across exec).
_IMPORT_IN_A_CHILD = """
import re, sys
from pathlib import Path
from analytics import ingest
from analytics.store import Store
path = Path(sys.argv[1])
try:
    ingest.import_files(Store(Path(sys.argv[2])), ingest.Sources(documents=path))
except ingest.ImportRefused as refused:
    print(refused.report())
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) // 1024)
"""


def import_in_a_child(path: Path, data: Path, **environment: str) -> tuple[str, int]:
    """The refusal of importing `path` in a process of its own, and that process's peak RSS in MiB."""
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_IN_A_CHILD, str(path), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
        env={**__import__("os").environ, **environment},
    )
    assert result.returncode == 0, result.stderr
    *report, peak = result.stdout.strip().splitlines()
    return "\n".join(report), int(peak)


def huge_cell_xlsx(path: Path, characters: int) -> Path:
    """A workbook whose one text cell (B2) holds `characters` x's: xlsxwriter stops at Excel's 32,767
    characters, so the shared string is put in afterwards."""
    plain = path.with_name("plain.xlsx")
    workbook = xlsxwriter.Workbook(plain)
    sheet = workbook.add_worksheet("Documents")
    sheet.write_row(0, 0, DOCUMENT_HEADER.split(","))
    sheet.write_row(1, 0, ["I9", "invoice", "HUGE"])
    workbook.close()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/sharedStrings.xml":
                data = data.replace(b"HUGE", b"x" * characters)
            target.writestr(member.filename, data)
    return path


def test_a_small_workbook_with_a_huge_cell_is_refused_from_its_zip_directory(tmp_path: Path) -> None:
    """150 KB on disk, 150 MB of XML (a 300 MB cell took 1 GB to read): refused before any of it is
    decompressed, in a process whose peak memory stays that of an import of a small file."""
    path = huge_cell_xlsx(tmp_path / "documents.xlsx", 150_000_000)
    assert path.stat().st_size < 200_000
    report, peak_mib = import_in_a_child(path, tmp_path / "data")
    assert "documents.xlsx: its 10 parts take about 143.1 MiB decoded, 992 times" in report
    assert "a compressed file may expand at most 200 times (AR_IMPORT_MAX_EXPANSION)" in report
    assert peak_mib < 300


def test_a_workbook_cell_beyond_the_cell_limit_is_refused_before_the_sheet_is_read(
    ledger_store: Store, tmp_path: Path
) -> None:
    """A 30 MB cell expands little enough to pass the expansion limit, but not the 1 MiB a cell may
    hold: the shared strings are measured streaming, before the reader holds them."""
    path = huge_cell_xlsx(tmp_path / "documents.xlsx", 30_000_000)
    started = time.perf_counter()
    with pytest.raises(ingest.ImportRefused) as refused:
        ingest.import_files(ledger_store, ingest.Sources(documents=path))
    assert time.perf_counter() - started < 3
    assert [str(p) for p in refused.value.problems] == [
        "documents.xlsx: a cell of sheet 'Documents' holds more than 1.0 MiB of text; a cell is limited "
        "to 1.0 MiB (AR_IMPORT_MAX_RECORD_BYTES)"
    ]


def test_a_tiny_parquet_file_of_three_million_repeated_rows_is_refused_from_its_footer(
    tmp_path: Path,
) -> None:
    """3,000,000 times the same row, dictionary and run-length encoded: 70 KB on disk that took 2.1 GB
    to be refused. Its footer tells its rows and sizes: refused before a row is read."""
    rows = 3_000_000
    columns = {name: pa.array([value] * rows) for name, value in zip(
        DOCUMENT_HEADER.split(","), NEW_ROW.split(","), strict=True
    )}  # fmt: skip
    path = tmp_path / "documents.parquet"
    pq.write_table(pa.table(columns), path, compression="zstd")
    assert path.stat().st_size < 200_000
    report, peak_mib = import_in_a_child(path, tmp_path / "data")
    assert "documents.parquet: its 3,000,000 rows of 8 columns take about " in report
    assert "a compressed file may expand at most 200 times (AR_IMPORT_MAX_EXPANSION)" in report
    assert peak_mib < 300
    # The limits are settings: the row limit, lowered, is the one named.
    report, _ = import_in_a_child(path, tmp_path / "data", AR_IMPORT_MAX_ROWS="1000000")
    assert (
        "documents.parquet: the file has 3,000,000 rows; an import takes up to 1,000,000 rows a file "
        "(AR_IMPORT_MAX_ROWS)"
    ) in report


def test_csv_rows_lines_and_size_beyond_the_limits(
    ledger_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CSV file's rows and lines are counted as its encoding is checked, before the rows are parsed;
    each limit is named with its setting."""
    many = documents_csv(
        tmp_path,
        DOCUMENTS_CSV + "".join(f"Q{i},invoice,C2,2026-03-02,2026-04-01,EUR,1.00,\n" for i in range(20)),
    )
    monkeypatch.setenv("AR_IMPORT_MAX_ROWS", "10")
    assert refused_documents(ledger_store, many) == [
        "documents.csv: the file has more than 10 rows; an import takes up to 10 rows a file (AR_IMPORT_MAX_ROWS)"
    ]
    monkeypatch.delenv("AR_IMPORT_MAX_ROWS")
    long_line = documents_csv(tmp_path, DOCUMENTS_CSV + "I5,invoice," + "y" * 2_000_000 + "\n")
    assert refused_documents(ledger_store, long_line) == [
        "documents.csv, row 7: the line is longer than 1.0 MiB; a record is limited to 1.0 MiB "
        "(AR_IMPORT_MAX_RECORD_BYTES)"
    ]
    monkeypatch.setenv("AR_IMPORT_MAX_FILE_BYTES", "100")
    assert refused_documents(ledger_store, documents_csv(tmp_path, DOCUMENTS_CSV)) == [
        f"documents.csv: the file is {len(DOCUMENTS_CSV)} bytes; an import takes files up to 100 bytes "
        "(AR_IMPORT_MAX_FILE_BYTES)"
    ]
    monkeypatch.setenv("AR_IMPORT_MAX_FILE_BYTES", "lots")
    assert refused_documents(ledger_store, documents_csv(tmp_path, DOCUMENTS_CSV)) == [
        "import: AR_IMPORT_MAX_FILE_BYTES must be a positive whole number, not 'lots'"
    ]
