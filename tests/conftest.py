"""Fixtures: a small hand-worked ledger written as real CSV files, and data folders built from it.

The ledger (functional currency EUR):

    customers  C1 Alpha SARL (entity Acme FR, division North, collector Anna)
               C2 Beta GmbH  (entity Acme DE, division East,  collector Ben)
               C3 Gamma SA   (entity Acme FR, division South, collector Anna)

    documents  I1  invoice     C1  2026-01-10  due 2026-02-09  EUR  1000.00
               I2  invoice     C1  2026-02-05  due 2026-03-07  EUR   500.00
               CN1 credit_note C1  2026-02-20  due 2026-02-20  EUR  -100.00
               I3  invoice     C2  2026-01-15  due 2026-01-15  USD  1200.00 = 1000.00 EUR
               I4  invoice     C3  2026-03-01  due 2026-03-31  EUR   300.00

    payments   P1  C1  2026-02-15  I1    400.00  cash         (partial payment)
               P2  C1  2026-03-01  I2    100.00  credit_note  (CN1 applied to I2: two rows)
               P2  C1  2026-03-01  CN1  -100.00  credit_note
               P3  C1  2026-03-10  -      50.00  cash         (cash on account)
               P4  C2  2026-02-20  I3   1000.00  cash         (I3 settled)
               P5  C3  2026-03-31  I4    300.00  write_off
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics import demo, ingest  # noqa: E402
from analytics import store as store_module  # noqa: E402
from analytics.store import Store  # noqa: E402

CUSTOMERS_CSV = """customer_id,customer_name,entity,division,region,portfolio,segment,salesperson,collector,credit_limit,payment_terms_days,risk_class,country
C1,Alpha SARL,Acme FR,North,Europe,P1,SME,Sam,Anna,5000.00,30,B,FR
C2,Beta GmbH,Acme DE,East,Europe,P2,Key accounts,Sue,Ben,20000.00,0,A,DE
C3,Gamma SA,Acme FR,South,Europe,P1,SME,Sam,Anna,1000.00,30,C,FR
"""

DOCUMENTS_CSV = """document_id,document_type,customer_id,document_date,due_date,currency,amount,amount_functional
I1,invoice,C1,2026-01-10,2026-02-09,EUR,1000.00,
I2,invoice,C1,2026-02-05,2026-03-07,EUR,500.00,
CN1,credit_note,C1,2026-02-20,2026-02-20,EUR,-100.00,
I3,invoice,C2,2026-01-15,2026-01-15,USD,1200.00,1000.00
I4,invoice,C3,2026-03-01,2026-03-31,EUR,300.00,300.00
"""

PAYMENTS_CSV = """payment_id,customer_id,payment_date,document_id,amount,method
P1,C1,2026-02-15,I1,400.00,cash
P2,C1,2026-03-01,I2,100.00,credit_note
P2,C1,2026-03-01,CN1,-100.00,credit_note
P3,C1,2026-03-10,,50.00,cash
P4,C2,2026-02-20,I3,1000.00,cash
P5,C3,2026-03-31,I4,300.00,write_off
"""


ORACLE = Path(__file__).resolve().parent / "oracle"


def oracle(name: str) -> str:
    """The SQL of tests/oracle/NAME.sql: a figure's definition worked out from documents and payments
    alone, what the stored files and the production queries are tested against."""
    return (ORACLE / f"{name}.sql").read_text(encoding="utf-8")


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def ledger_files(tmp_path: Path) -> ingest.Sources:
    """The hand-worked ledger as three CSV files."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return ingest.Sources(
        customers=write(folder, "customers.csv", CUSTOMERS_CSV),
        documents=write(folder, "documents.csv", DOCUMENTS_CSV),
        payments=write(folder, "payments.csv", PAYMENTS_CSV),
    )


@pytest.fixture
def ledger_store(tmp_path: Path, ledger_files: ingest.Sources) -> Store:
    """A data folder holding the hand-worked ledger."""
    store = Store(tmp_path / "data")
    ingest.import_files(store, ledger_files)
    return store


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with a small demo company, built once for the session."""
    from datetime import date

    folder = tmp_path_factory.mktemp("demo") / "data"
    demo.create(Store(folder), customers=120, documents=6_000, seed=11, as_of=date(2026, 11, 20))
    return folder


@pytest.fixture
def cli_env() -> dict[str, str]:
    """The environment for running `python -m analytics` in a child process."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(autouse=True)
def navigation_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AppTest run executes app.py and its st.navigation. Before each run AppTest resets
    Streamlit's legacy "pages/ folder" flag, which the mere presence of pages/ then turns on, so
    from the second run on it would run the current page's script alone (no sidebar, a stale
    context); the app declares its pages with st.navigation, which keeps the flag off."""
    original_init = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        PagesManager.uses_pages_directory = False
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(scope="session")
def chromium():
    """Debian's chromium, headless, for every browser test of the session (Playwright's sync API runs
    once at a time in a process). Missing chromium fails the browser tests; it never skips them."""
    import browser
    from playwright.sync_api import sync_playwright

    if not browser.CHROMIUM.is_file():
        pytest.fail(browser.MISSING_CHROMIUM, pytrace=False)
    with sync_playwright() as playwright:
        launched = browser.launch_chromium(playwright)
        yield launched
        launched.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context and page, closed after the test. `expect` waits as long as any other
    wait does: a fresh context loads and compiles the app's element code again (each context has a
    cache of its own), which on a busy machine takes longer than Playwright's 5 s default."""
    import browser
    from playwright.sync_api import expect

    expect.set_options(timeout=browser.APP_RUN_MS)
    context = chromium.new_context(viewport=browser.VIEWPORT)
    context.set_default_timeout(browser.APP_RUN_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


# --- the collections database on both back ends -------------------------------------------------------


@pytest.fixture(scope="session")
def postgres():
    """Debian's PostgreSQL started for the session (tests/postgres.py). Missing, it fails the tests
    that need it; it never skips them (`python3 run.py test` installs it)."""
    import postgres as server

    try:
        running = server.PostgresServer()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    running.stop()


class CollectionsBackend:
    """Which back end a test's collections databases use: "duckdb" (the file) or "postgresql"."""

    def __init__(self, kind: str, server: object | None) -> None:
        self.kind, self.server = kind, server

    def url(self, template: str | None = None) -> str | None:
        """A new database's URL (a copy of the database `template` when given); None for the file."""
        return self.server.database(template) if self.server is not None else None

    def open(self, path: Path, template: str | None = None):
        """A collections database: the file `path`, or a new PostgreSQL database (a copy of
        `template`)."""
        from analytics.collections import CollectionsDB

        return CollectionsDB(path, url=self.url(template))

    def __repr__(self) -> str:
        return self.kind


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def collections_backend(request: pytest.FixtureRequest) -> CollectionsBackend:
    """Each test that asks for it runs on both back ends; with PostgreSQL, AR_COLLECTIONS_URL names a
    new database of its own for the test (see collections_url), so CollectionsDB.for_store opens it."""
    server = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    return CollectionsBackend(request.param, server)


@pytest.fixture(autouse=True)
def collections_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """AR_COLLECTIONS_URL for the tests on PostgreSQL (a new database each), unset for the others."""
    monkeypatch.delenv("AR_COLLECTIONS_URL", raising=False)
    if "collections_backend" in request.fixturenames:
        backend = request.getfixturevalue("collections_backend")
        if backend.kind == "postgresql":
            monkeypatch.setenv("AR_COLLECTIONS_URL", backend.url())


def write_older_format(store: Store) -> None:
    """Make the live generation one of format 1: its manifest names no format, and the files stored
    since then are not there."""
    current = store.current
    for name in (store_module.BALANCE_PERIODS, store_module.CASH_PERIODS, store_module.SETTLEMENTS):
        (current / name).unlink()
    (current / store_module.MONTH_END_BALANCES).unlink()
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    del manifest["format"]
    (current / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
