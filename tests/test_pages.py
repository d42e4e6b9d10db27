"""The app's pages as a user sees them, run by Streamlit's AppTest over the hand-worked ledger of
conftest.py (C1 Alpha SARL and C3 Gamma SA of Acme FR with collector Anna, C2 Beta GmbH of Acme DE
with collector Ben; five documents, six payments; the last date is 2026-03-31, the write-off of I4).

AppTest and a pages/ folder: before each run AppTest resets Streamlit's "legacy pages/ app" flag,
which is then taken from the mere presence of pages/ beside app.py; from the second run on, AppTest
would run the current page's script alone, without app.py (no sidebar, a stale context). The app
declares its pages with st.navigation, so conftest's `navigation_app` fixture keeps that flag off.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import DOCUMENTS_CSV, ROOT
from streamlit.testing.v1 import AppTest

from analytics import contract
from analytics.store import Store

APP = ROOT / "app.py"
DATA_PAGE = "pages/data.py"
LEDGER_AS_OF = date(2026, 3, 31)
SCOPE_LABELS = [
    "Entity",
    "Division",
    "Region",
    "Portfolio",
    "Segment",
    "Salesperson",
    "Collector",
    "Risk class",
    "Country",
]
LEDGER_FILES = "customers: customers.csv, documents: documents.csv, payments: payments.csv"
# Row 7 of this file (the header is row 1) is an invoice for a customer that does not exist.
BAD_DOCUMENTS_CSV = DOCUMENTS_CSV + "I9,invoice,C9,2026-03-02,2026-04-01,EUR,10.00,\n"
NEW_INVOICE_CSV = (
    "document_id,document_type,customer_id,document_date,due_date,currency,amount,amount_functional\n"
    "I5,invoice,C2,2026-03-15,2026-04-14,EUR,250.00,\n"
)


def app_over(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    return AppTest.from_file(str(APP), default_timeout=30)


@pytest.fixture
def ledger_app(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The app over the hand-worked ledger, not yet run."""
    return app_over(ledger_store.root, monkeypatch)


def open_data_page(at: AppTest) -> AppTest:
    """Run the app (its default page), then go to the Data page, as a click in the navigation does."""
    at.run()
    at.switch_page(DATA_PAGE).run()
    assert [title.value for title in at.title] == ["Data"]
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {tile.label: tile.value for tile in at.metric}


def tab(at: AppTest, label: str):
    return next(t for t in at.tabs if t.label == label)


def problems_table(at: AppTest) -> pl.DataFrame:
    """The table of a refused import (the st.dataframe with columns file, row, column, problem)."""
    tables = [
        df.value for df in at.dataframe if list(df.value.columns) == ["file", "row", "column", "problem"]
    ]
    assert len(tables) == 1, f"expected one problems table, found {len(tables)}"
    return pl.from_pandas(tables[0])


def import_record(at: AppTest) -> list[dict]:
    """The rows of the record of imports, newest first."""
    history = tab(at, "Record of imports")
    assert len(history.dataframe) == 1
    frame = pl.from_pandas(history.dataframe[0].value)
    return frame.select("source", "files", "customers", "documents", "payments", "open_items").to_dicts()


def upload_documents(at: AppTest, name: str, text: str) -> AppTest:
    """Choose a documents file in the Import tab and press Import."""
    at.file_uploader(key="upload_documents").upload(name, text.encode(), "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="import_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_sidebar_shows_the_as_of_date_of_the_data(ledger_app: AppTest) -> None:
    """Today is later than the ledger's last date, 2026-03-31: the sidebar opens on that date."""
    at = open_data_page(ledger_app)
    as_of = at.sidebar.date_input(key="as_of")
    assert as_of.label == "As of"
    assert as_of.value == min(date.today(), LEDGER_AS_OF)


def test_sidebar_scope_offers_the_values_of_the_ledger(ledger_app: AppTest) -> None:
    at = open_data_page(ledger_app)
    assert [expander.label for expander in at.sidebar.expander] == ["Scope"]
    filters = {select.label: select for select in at.sidebar.multiselect}
    assert list(filters) == SCOPE_LABELS
    assert filters["Entity"].options == ["Acme DE", "Acme FR"]
    assert filters["Collector"].options == ["Anna", "Ben"]
    assert filters["Division"].options == ["East", "North", "South"]
    assert filters["Risk class"].options == ["A", "B", "C"]
    assert all(select.value == [] for select in filters.values())
    for dimension in contract.DIMENSIONS:
        assert at.sidebar.multiselect(key=f"scope_{dimension}").label == contract.DIMENSION_LABELS[dimension]


def test_a_shared_url_opens_with_its_as_of_date_and_scope(ledger_app: AppTest) -> None:
    """?as_of=2026-02-28&scope_entity=Acme DE: the sidebar shows them and the pages get them."""
    ledger_app.query_params["as_of"] = "2026-02-28"
    ledger_app.query_params["scope_entity"] = "Acme DE"
    at = open_data_page(ledger_app)
    assert at.sidebar.date_input(key="as_of").value == date(2026, 2, 28)
    assert at.sidebar.multiselect(key="scope_entity").value == ["Acme DE"]
    assert at.sidebar.multiselect(key="scope_collector").value == []
    context = at.session_state["context"]
    assert context.as_of == date(2026, 2, 28)
    assert context.scope.describe() == "Entity: Acme DE"


def test_choosing_a_collector_narrows_the_scope(ledger_app: AppTest) -> None:
    at = open_data_page(ledger_app)
    at.sidebar.multiselect(key="scope_collector").select("Anna").run()
    assert not at.exception
    assert at.sidebar.multiselect(key="scope_collector").value == ["Anna"]
    assert at.session_state["context"].scope.describe() == "Collector: Anna"


def test_data_page_shows_what_is_loaded(ledger_app: AppTest) -> None:
    at = open_data_page(ledger_app)
    assert metrics(at) == {
        "Customers": "3",
        "Documents": "5",
        "Payments": "6",
        "Data as of": "2026-03-31",
        "Functional currency": "EUR",
    }
    assert [t.label for t in at.tabs] == ["Import", "Record of imports", "Demo company"]


def test_record_of_imports_lists_the_import(ledger_app: AppTest) -> None:
    at = open_data_page(ledger_app)
    assert import_record(at) == [
        {
            "source": "Import",
            "files": LEDGER_FILES,
            "customers": 3,
            "documents": 5,
            "payments": 6,
            "open_items": 0,
        }
    ]


def test_an_upload_with_an_unknown_customer_is_refused_with_its_row(
    ledger_app: AppTest, ledger_store: Store
) -> None:
    """documents.csv row 7 bills C9, who is not a customer: the whole import is refused, the problem
    is listed by file, row and column, and the stored data is the same generation as before."""
    before = ledger_store.manifest()
    stored_documents = ledger_store.read(contract.DOCUMENTS)
    at = upload_documents(open_data_page(ledger_app), "documents.csv", BAD_DOCUMENTS_CSV)

    assert [e.value for e in at.error] == ["Import refused: 1 problem; nothing was written."]
    assert problems_table(at).to_dicts() == [
        {"file": "documents.csv", "row": 7, "column": "customer_id", "problem": "unknown customer 'C9'"}
    ]
    assert not at.success
    assert ledger_store.manifest() == before
    assert ledger_store.read(contract.DOCUMENTS).equals(stored_documents)
    assert metrics(at)["Documents"] == "5"
    assert len(import_record(at)) == 1


def test_an_upload_of_a_new_invoice_is_imported(ledger_app: AppTest, ledger_store: Store) -> None:
    """A file with one new invoice, I5 for C2: it joins the five stored documents."""
    at = upload_documents(open_data_page(ledger_app), "new_documents.csv", NEW_INVOICE_CSV)

    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["Imported 1 document."]
    assert metrics(at)["Customers"] == "3"
    assert metrics(at)["Documents"] == "6"
    assert metrics(at)["Payments"] == "6"
    assert ledger_store.manifest().documents == 6
    assert "I5" in ledger_store.read(contract.DOCUMENTS).get_column("document_id").to_list()
    newest, first = import_record(at)
    assert newest["files"] == "documents: new_documents.csv"
    assert (newest["customers"], newest["documents"], newest["payments"]) == (0, 1, 0)
    assert first["files"] == LEDGER_FILES


def test_after_an_import_the_import_tab_is_ready_for_the_next_files(
    ledger_app: AppTest, ledger_store: Store
) -> None:
    at = upload_documents(open_data_page(ledger_app), "new_documents.csv", NEW_INVOICE_CSV)
    assert ledger_store.manifest().documents == 6
    assert [p for p in (ledger_store.root / "uploads").rglob("*") if p.is_file()] == []
    assert all(uploader.value is None for uploader in at.file_uploader)
    assert "Choose at least one file to import." in [c.value for c in at.caption]


def test_a_refused_import_leaves_no_uploaded_file_in_the_data_folder(
    ledger_app: AppTest, ledger_store: Store
) -> None:
    upload_documents(open_data_page(ledger_app), "documents.csv", BAD_DOCUMENTS_CSV)
    assert [e.value for e in ledger_app.error] == ["Import refused: 1 problem; nothing was written."]
    assert [p for p in (ledger_store.root / "uploads").rglob("*") if p.is_file()] == []


def test_an_empty_data_folder_says_there_is_no_data_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AR_NO_DEMO=1 and an empty folder: no demo is generated; the sidebar has the date but no
    scope; the Data page invites an import; nothing fails."""
    folder = tmp_path / "empty"
    folder.mkdir()
    at = open_data_page(app_over(folder, monkeypatch))

    assert at.sidebar.date_input(key="as_of").value == date.today()
    assert not at.sidebar.expander
    assert not at.sidebar.multiselect
    assert [i.value for i in at.info] == [
        "No data yet. Import your ERP exports below, or generate the demo company.",
        "Nothing imported yet.",
    ]
    assert not at.metric
    assert not at.status
    assert not Store(folder).exists()


def upload_folders(store: Store) -> list[Path]:
    uploads = store.root / "uploads"
    return sorted(uploads.iterdir()) if uploads.is_dir() else []


def test_uploads_never_imported_do_not_stay(ledger_store: Store, ledger_app: AppTest) -> None:
    """A file chosen then taken off the uploader is removed at once; an import, landed or refused,
    removes its files; folders abandoned by closed tabs go at the next session's start."""
    import os
    import time

    at = open_data_page(ledger_app)
    at.file_uploader(key="upload_documents").upload("documents.csv", NEW_INVOICE_CSV.encode(), "text/csv")
    at.run()
    [folder] = upload_folders(ledger_store)
    assert [path.name for path in folder.rglob("*.csv")] == ["documents.csv"]
    at.file_uploader(key="upload_documents").clear()
    at.run()
    assert upload_folders(ledger_store) == []

    upload_documents(at, "documents.csv", BAD_DOCUMENTS_CSV)
    assert "Import refused" in at.error[0].value
    assert upload_folders(ledger_store) == []

    abandoned = ledger_store.root / "uploads" / "abandoned" / "documents"
    abandoned.mkdir(parents=True)
    (abandoned / "documents.csv").write_text(DOCUMENTS_CSV)
    old = time.time() - 7 * 3600
    for path in (abandoned / "documents.csv", abandoned, abandoned.parent):
        os.utime(path, (old, old))
    in_use = ledger_store.root / "uploads" / "in-use"
    in_use.mkdir()
    (in_use / "documents.csv").write_text(DOCUMENTS_CSV)
    open_data_page(AppTest.from_file(str(APP), default_timeout=30))
    assert [folder.name for folder in upload_folders(ledger_store)] == ["in-use"]
