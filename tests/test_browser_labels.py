"""Every page of the demo company reads as words, not as the contract's codes, in a real browser
(Debian's chromium): the rendered text of each page and of each of its tabs, table headers and cells
included, holds none of the snake_case codes of analytics.labels.CODES (left_message,
bad_debt_proposed, over_120, document_id ...) and no table header is a bare column name (entity,
bucket, outcome ...). The aging page's XLSX export opens on rows naming the as-of date, the scope,
the filters and the buckets, above labelled headers with the currency in the money ones."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date

import browser
import polars as pl
import pytest
from browser import Server
from playwright.sync_api import Page
from test_browser import no_exception

from analytics import access, collections, demo, item_states, labels, scenarios, worklist
from analytics.store import Store

AS_OF = date(2026, 11, 20)
PAGES = (
    "/",
    "/aging",
    "/dso",
    "/worklist",
    "/customer",
    "/disputes",
    "/scenarios",
    "/collectors",
    "/data",
    "/settings",
    "/admin",
)
WORD = re.compile(r"[A-Za-z0-9_]+")
# The contract's codes, and those the collections side allows (a code that analytics.labels misses
# is still looked for).
CODES = labels.CODES | {
    code
    for code in (
        *collections.QUALIFICATIONS,
        *collections.DISPUTE_REASONS,
        *collections.RESOLUTION_OUTCOMES,
        *collections.ACTION_TYPES,
        *collections.ACTION_OUTCOMES,
        *item_states.STATES,
        *scenarios.ACTION_TYPES,
        *scenarios.STATUSES,
        *scenarios.ALERT_KINDS,
        *scenarios.CHANNELS,
        *worklist.SECTIONS,
        *access.ROLES,
    )
    if "_" in code
}
# Headers that would be a column's name shown raw.
RAW_HEADERS = frozenset(labels.COLUMNS) | CODES


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("labels-demo") / "data"
    demo.create(Store(data), customers=60, documents=3_000, seed=11, as_of=AS_OF)
    return data


@pytest.fixture(scope="module")
def server(demo_data, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        running = browser.start_server(demo_data, tmp_path_factory.mktemp("labels-server") / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    browser.stop_server(running)


def busiest_customer(demo_data) -> str:
    """The customer with the most open items at the demo's date (its timeline has actions)."""
    items = Store(demo_data).open_items(AS_OF)
    return items.group_by("customer_id").len().sort("len", "customer_id", descending=[True, False])[0, 0]


def shown_text(page: Page) -> tuple[str, list[str]]:
    """The text of the main area and the sidebar, and the headers of every table shown."""
    text = "\n".join(
        page.locator(selector).first.inner_text()
        for selector in ("[data-testid='stMain']", "[data-testid='stSidebar']")
        if page.locator(selector).count()
    )
    headers: list[str] = []
    for grid in page.locator("[data-testid='stDataFrame']").all():
        rows = browser.grid_rows(grid)
        if rows:
            headers.extend(rows[0])
            text += "\n" + "\n".join(" ".join(row) for row in rows[1:])
    return text, headers


def codes_in(text: str) -> set[str]:
    return {word for word in WORD.findall(text) if word in CODES}


def test_no_page_of_the_demo_shows_a_contract_code(page: Page, server: Server, demo_data) -> None:
    customer = busiest_customer(demo_data)
    found: dict[str, set[str]] = {}
    raw: dict[str, set[str]] = {}
    for path in PAGES:
        address = f"{path}?as_of={AS_OF.isoformat()}" + (
            f"&customer={customer}" if path == "/customer" else ""
        )
        browser.open_path(page, server, address)
        no_exception(page)
        views = [shown_text(page)]
        tabs = page.locator("[data-testid='stMain'] [role='tab']")
        for index in range(tabs.count()):
            tabs.nth(index).click()
            browser.wait_for_app(page)
            views.append(shown_text(page))
        for number, (text, headers) in enumerate(views):
            where = f"{path} (tab {number})" if number else path
            if codes := codes_in(text):
                found[where] = codes
            if bare := {header for header in headers if header in RAW_HEADERS}:
                raw[where] = bare
        browser.screenshot(page, f"40_labels_{path.strip('/') or 'overview'}")
    assert found == {}, f"contract codes on screen: {found}"
    assert raw == {}, f"column names as headers: {raw}"


def test_the_aging_xlsx_export_says_what_it_is_and_reads_as_labels(page: Page, server: Server) -> None:
    browser.open_path(page, server, f"/aging?as_of={AS_OF.isoformat()}")
    button = page.get_by_role("button", name="Export XLSX")
    button.scroll_into_view_if_needed()
    with page.expect_download() as download:
        button.click()
    data = download.value.path().read_bytes()
    sheet = pl.read_excel(io.BytesIO(data), has_header=False, infer_schema_length=0)
    rows = [[cell for cell in row if cell is not None] for row in sheet.rows()]
    about = {row[0]: row[1] for row in rows if len(row) == 2}
    assert about["As of"] == AS_OF.isoformat()
    assert about["Scope"] == "all customers"
    assert about["Filters"] == "none"
    assert about["Buckets"] == "Not due, 1-30, 31-60, 61-90, +90 (days past due)"
    assert about["Amounts in"] == "EUR"
    header = next(row for row in rows if row and row[0] == "Entity")
    assert header[1:] == [
        "Not due (EUR)",
        "1-30 (EUR)",
        "31-60 (EUR)",
        "61-90 (EUR)",
        "+90 (EUR)",
        "Total (EUR)",
        "Overdue (EUR)",
        "Items",
        "Share %",
    ]
    assert not codes_in(" ".join(header))
