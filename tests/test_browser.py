"""The app in a real browser: `streamlit run app.py` over the hand-worked ledger of conftest.py (three
customers, five documents, six payments, data as of 2026-03-31), seen through Debian's chromium.

A user opens the app and finds the as-of date and the scope filters in the sidebar, and a scope
choice kept in the address; on the Data page (reached by its URL path, /data, also as the first
request of a fresh server) the counts of what is loaded and the record of imports; an upload of a
documents file with an invoice for an unknown customer is refused with the file, row and column of
the problem. Steps leave screenshots under screenshots/ (git-ignored).

Chromium is required: when /usr/bin/chromium is missing these tests fail, they never skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import browser
import pytest
from browser import Server
from conftest import CUSTOMERS_CSV, DOCUMENTS_CSV, PAYMENTS_CSV, write
from mailserver import pdf_text
from playwright.sync_api import Locator, Page, expect

from analytics import ingest
from analytics.store import Store

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


def ledger_data_dir(folder: Path) -> Path:
    """A data folder holding the hand-worked ledger, imported from its CSV files."""
    exports = folder / "exports"
    exports.mkdir(parents=True)
    data = folder / "data"
    ingest.import_files(
        Store(data),
        ingest.Sources(
            customers=write(exports, "customers.csv", CUSTOMERS_CSV),
            documents=write(exports, "documents.csv", DOCUMENTS_CSV),
            payments=write(exports, "payments.csv", PAYMENTS_CSV),
        ),
    )
    return data


@pytest.fixture(scope="session")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ledger_data_dir(tmp_path_factory.mktemp("browser-ledger"))


@pytest.fixture(scope="session")
def server(ledger_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        running = browser.start_server(ledger_dir, tmp_path_factory.mktemp("server") / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    browser.stop_server(running)


def metric(page: Page, label: str) -> Locator:
    """The displayed value of the st.metric tile labelled `label`."""
    label_element = page.locator("[data-testid='stMetricLabel']").filter(
        has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")
    )
    return (
        page.locator("[data-testid='stMetric']")
        .filter(has=label_element)
        .locator("[data-testid='stMetricValue']")
    )


def no_exception(page: Page) -> None:
    exceptions = page.locator("[data-testid='stException']")
    assert exceptions.count() == 0, exceptions.all_inner_texts()


def test_debian_chromium_is_installed() -> None:
    assert browser.CHROMIUM.is_file(), browser.MISSING_CHROMIUM


def test_sidebar_shows_the_as_of_date_and_the_scope_filters(page: Page, server: Server) -> None:
    """The as-of date defaults to the ledger's last date (2026-03-31, the write-off of I4) unless today
    is earlier; the Entity filter offers the ledger's two legal entities."""
    browser.open_path(page, server, "/")
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar.get_by_text("As of", exact=True)).to_be_visible()
    segments = sidebar.locator(".st-key-as_of [role='spinbutton']").all_inner_texts()
    assert "-".join(segments) == min(date.today(), LEDGER_AS_OF).isoformat()

    scope = sidebar.locator("[data-testid='stExpander']").filter(has_text="Scope")
    expect(scope).to_be_visible()
    for label in SCOPE_LABELS:
        expect(scope.get_by_role("combobox", name=label, exact=True)).to_be_visible()

    scope.get_by_role("combobox", name="Entity", exact=True).click()
    options = page.get_by_role("option")
    expect(options.filter(has_text="Acme FR")).to_be_visible()
    assert [o for o in options.all_inner_texts() if o.startswith("Acme")] == ["Acme DE", "Acme FR"]
    browser.screenshot(page, "01_sidebar_scope_entity")
    page.keyboard.press("Escape")
    no_exception(page)


def test_a_scope_choice_is_kept_in_the_url(page: Page, server: Server) -> None:
    """Choosing collector Anna puts it in the address, and that address opens with Anna chosen."""
    browser.open_path(page, server, "/data")
    page.get_by_role("combobox", name="Collector", exact=True).click()
    page.get_by_role("option", name="Anna", exact=True).click()
    page.keyboard.press("Escape")
    browser.wait_for_app(page)
    expect(page).to_have_url(re.compile(r"[?&]scope_collector=Anna\b"))

    # Opening the address again starts a new session, as a colleague's browser would.
    page.goto(page.url)
    browser.wait_for_app(page)
    collector = page.locator(".st-key-scope_collector")
    expect(collector).to_contain_text("Anna")
    expect(collector).not_to_contain_text("Ben")
    no_exception(page)


def test_data_page_shows_what_is_loaded(page: Page, server: Server) -> None:
    browser.open_path(page, server, "/data")
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    expect(metric(page, "Customers")).to_have_text("3")
    expect(metric(page, "Documents")).to_have_text("5")
    expect(metric(page, "Payments")).to_have_text("6")
    expect(metric(page, "Data as of")).to_have_text("2026-03-31")
    expect(metric(page, "Functional currency")).to_have_text("EUR")
    browser.screenshot(page, "02_data_page")
    no_exception(page)


def test_record_of_imports_lists_the_import(page: Page, server: Server) -> None:
    browser.open_path(page, server, "/data")
    page.get_by_role("tab", name="Record of imports", exact=True).click()
    panel = page.get_by_role("tabpanel")
    grid = panel.locator("[data-testid='stDataFrame']")
    expect(grid).to_be_visible()
    expect(grid.locator("table[role='grid']")).to_contain_text("customers: customers.csv")
    # The grid only mirrors the columns in view: the first six are (imported_at, source, files,
    # customers, documents, payments).
    header, *rows = browser.grid_rows(grid)
    assert header[1:6] == ["Source", "Files", "Customers", "Documents", "Payments"]
    assert [row[1:6] for row in rows] == [["Import", LEDGER_FILES, "3", "5", "6"]]
    browser.screenshot(page, "03_record_of_imports")
    no_exception(page)


def test_an_upload_with_an_unknown_customer_is_refused_with_its_row(page: Page, server: Server) -> None:
    """documents.csv row 7 bills C9, who is not a customer: the import is refused, the problem is
    listed by file, row and column, and the page still counts five documents."""
    browser.open_path(page, server, "/data")
    uploader = page.locator(".st-key-upload_documents")
    uploader.locator("input[type='file']").set_input_files(
        files=[{"name": "documents.csv", "mimeType": "text/csv", "buffer": BAD_DOCUMENTS_CSV.encode()}]
    )
    expect(uploader).to_contain_text("documents.csv")
    browser.wait_for_app(page)
    import_button = page.locator(".st-key-import_button button")
    expect(import_button).to_be_enabled()
    import_button.click()
    browser.wait_for_app(page)

    expect(page.get_by_text("Import refused: 1 problem; nothing was written.")).to_be_visible()
    problems = page.locator("[data-testid='stDataFrame']").filter(has_text="unknown customer")
    expect(problems).to_be_visible()
    assert browser.grid_rows(problems) == [
        ["File", "Row", "Column", "Problem"],
        ["documents.csv", "7", "customer_id", "unknown customer 'C9'"],
    ]
    problems.scroll_into_view_if_needed()
    browser.screenshot(page, "04_import_refused")
    expect(metric(page, "Documents")).to_have_text("5")
    no_exception(page)


def test_a_page_url_opened_first_on_a_fresh_server_shows_the_page(
    page: Page, ledger_dir: Path, tmp_path: Path
) -> None:
    """A link to /data (shared, or reopened after a restart) is the first request of a new server.

    With a pages/ folder beside app.py, Streamlit runs such a first request as a legacy pages/ app:
    data.py alone, without app.py. pages/_session.context() ends that mode and reruns the app; this
    test keeps it so (without it the page fails with KeyError 'context')."""
    fresh = browser.start_server(ledger_dir, tmp_path / "streamlit.log")
    try:
        browser.open_path(page, fresh, "/data")
        expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
        expect(metric(page, "Customers")).to_have_text("3")
        expect(page.locator("[data-testid='stSidebar'] .st-key-as_of")).to_be_visible()
        browser.screenshot(page, "05_fresh_server_data_url")
        no_exception(page)
    finally:
        browser.stop_server(fresh)


def url(page: Page) -> str:
    return page.evaluate("window.location.href")


def test_aging_page_bucket_click_and_drill(page: Page, server: Server) -> None:
    """The aging balance at 2026-03-31 (see test_aging_page.py): Acme FR holds 950.00, 350.00 in 1-30
    (I2 400.00, P3 -50.00) and 600.00 in 31-60 (I1). Clicking the 31-60 segment of the chart filters
    the page to it; selecting the table's row opens the division level, kept in the address."""
    browser.open_path(page, server, "/aging")
    expect(page.get_by_role("heading", name="Aging balance", exact=True)).to_be_visible()
    expect(metric(page, "Total AR (EUR)")).to_have_text("950.00")
    grid = page.locator("[data-testid='stDataFrame']").first
    expect(grid.locator("table[role='grid']")).to_contain_text("Acme FR")
    # The grid's accessible mirror holds the raw figures (the canvas shows them formatted).
    assert browser.grid_rows(grid)[1][:8] == ["Acme FR", "0", "350", "600", "0", "0", "950", "950"]
    browser.screenshot(page, "06_aging_page")

    # The chart's traces are the buckets in order: not due, 1-30, 31-60, 61-90, +90.
    segment = page.locator(".js-plotly-plot g.trace.bars").nth(2).locator("path").first
    # Plotly's drag layer lies over the bars: click where the segment is, as a mouse would.
    box = browser.settled_box(segment)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    browser.wait_for_app(page)
    expect(metric(page, "Total AR (EUR)")).to_have_text("600.00")
    expect(
        page.locator(
            ".st-key-bucket_filter [aria-checked='true'], .st-key-bucket_filter [aria-pressed='true']"
        )
    ).to_have_text("31-60")
    browser.screenshot(page, "07_aging_bucket_31_60")

    # Select the first row of the drill table (its checkbox cell, left of the first column).
    grid = page.locator("[data-testid='stDataFrame']").first
    box = browser.settled_box(grid)
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 18)
    browser.wait_for_app(page)
    assert "drill=entity%3DAcme+FR" in url(page) or "drill=entity%3DAcme%20FR" in url(page)
    grid = page.locator("[data-testid='stDataFrame']").first
    expect(grid.locator("table[role='grid']")).to_contain_text("North")
    header, *rows = browser.grid_rows(grid)
    assert header[0] == "Division"
    assert [row[0] for row in rows] == ["North"]
    expect(page.get_by_role("button", name="Entity: Acme FR")).to_be_visible()
    browser.screenshot(page, "08_aging_drilled_division")

    # The address opens the same view in a new session.
    page.goto(url(page))
    browser.wait_for_app(page)
    grid = page.locator("[data-testid='stDataFrame']").first
    expect(grid.locator("table[role='grid']")).to_contain_text("North")
    header, *rows = browser.grid_rows(grid)
    assert (header[0], [row[0] for row in rows]) == ("Division", ["North"])
    no_exception(page)


def test_an_action_logged_through_the_side_panel_is_in_the_timeline(page: Page, server: Server) -> None:
    """On Alpha SARL's view, select its oldest item (I1), log a call through the side panel, reload
    the page: the call is in the customer's timeline."""
    browser.open_path(page, server, "/customer?customer=C1")
    expect(page.get_by_role("heading", name="Customer", exact=True)).to_be_visible()
    items = page.locator("[data-testid='stDataFrame']").filter(has_text="I1")
    expect(items.locator("table[role='grid']")).to_contain_text("I1")
    box = browser.settled_box(items)
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 18)
    browser.wait_for_app(page)
    page.get_by_role("button", name=re.compile(r"Qualify or log an action \(1 item\)")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("combobox", name="Log an action").click()
    page.get_by_role("option", name="Call", exact=True).click()
    browser.wait_for_app(page)
    dialog.get_by_label("Comment").fill("Called the accounts payable desk")
    browser.wait_for_app(page)
    browser.screenshot(page, "09_side_panel")
    dialog.get_by_role("button", name="Save", exact=True).click()
    browser.wait_for_app(page)
    expect(page.get_by_text("Saved: call logged.")).to_be_visible()

    page.goto(url(page))
    browser.wait_for_app(page)
    timeline = page.locator("[data-testid='stDataFrame']").filter(has_text="Called the accounts payable desk")
    expect(timeline.locator("table[role='grid']")).to_contain_text("Call (reached)")
    timeline.scroll_into_view_if_needed()
    browser.screenshot(page, "10_customer_timeline")
    no_exception(page)


def test_the_customer_page_downloads_the_statement_of_account(page: Page, server: Server) -> None:
    """Alpha SARL at 2026-03-31 (test_statement.py): I1 600.00, I2 400.00 and P3's -50.00 on account,
    950.00 EUR open and overdue. The button gives that PDF."""
    browser.open_path(page, server, "/customer?customer=C1")
    expect(page.get_by_role("heading", name="Customer", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download statement (PDF)").click()
    assert download.value.suggested_filename.endswith(".pdf")
    text = pdf_text(Path(download.value.path()).read_bytes())
    assert "Statement of account at 2026-03-31" in text
    assert "Total open 950.00 EUR" in text and "of which overdue 950.00 EUR" in text
    for document_id, amount in (("I1", "600.00"), ("I2", "400.00"), ("P3", "-50.00")):
        assert document_id in text and amount in text
    no_exception(page)


def test_overview_is_the_home_page(page: Page, server: Server) -> None:
    """The first thing a user sees: the headline figures of 2026-03-31 (see test_overview_page.py), the
    DSO trend, the aging chart and the forecast."""
    browser.open_path(page, server, "/")
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(metric(page, "Receivables (EUR)")).to_have_text("950.00")
    expect(metric(page, "DSO (countback)")).to_have_text("62.9 d")
    expect(metric(page, "CEI")).to_have_text("26.9%")
    expect(page.locator(".js-plotly-plot").nth(2)).to_be_attached()
    expect(page.get_by_role("heading", name="Cash forecast: the next 13 weeks")).to_be_visible()
    browser.screenshot(page, "11_overview")
    no_exception(page)


def test_dso_page_by_entity(page: Page, server: Server) -> None:
    browser.open_path(page, server, "/dso?dso_by=Entity")
    expect(page.get_by_role("heading", name="DSO and KPIs", exact=True)).to_be_visible()
    grid = page.locator("[data-testid='stDataFrame']").first
    expect(grid.locator("table[role='grid']")).to_contain_text("Acme FR")
    header, *rows = browser.grid_rows(grid)
    assert header[:3] == ["Entity", "AR (EUR)", "Countback DSO"]
    assert [row[0] for row in rows] == ["Acme FR", "Acme DE"]
    assert rows[0][2] == "66.75"
    browser.screenshot(page, "12_dso_by_entity")
    no_exception(page)
