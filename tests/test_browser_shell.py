"""The app shell in a real browser (Debian's chromium), on a server started for each test so that its
page is the first one the server runs: the sidebar never lists the files of pages/ (Streamlit's view
of a pages/ folder until the first st.navigation), only the navigation menu's page titles.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import browser
import pytest
from browser import Server
from playwright.sync_api import Page, expect
from test_browser import ledger_data_dir, no_exception

from analytics.collections import CollectionsDB
from analytics.collections_db import CollectionsBusy
from analytics.store import Store

# Every text the sidebar's navigation shows, from the page's first script on: a page list drawn for
# a moment and replaced is caught too.
RECORD_NAVIGATION = """
window.__navigation = [];
new MutationObserver(() => {
    for (const link of document.querySelectorAll("[data-testid='stSidebarNav'] a, [data-testid='stSidebarNavLink']")) {
        const text = link.innerText.trim().split("\\n").pop().trim();  // after the icon's name
        if (text && !window.__navigation.includes(text)) window.__navigation.push(text);
    }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""
PAGE_FILES = sorted(path.stem for path in (Path(browser.ROOT) / "pages").glob("*.py"))
TITLES = ["Overview", "Aging balance", "DSO and KPIs", "Worklist", "Customer", "Collectors", "Data"]


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    data = ledger_data_dir(tmp_path / "ledger")
    try:
        running = browser.start_server(data, tmp_path / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    browser.stop_server(running)


def navigation_seen(page: Page) -> list[str]:
    return page.evaluate("() => window.__navigation")


@pytest.mark.parametrize("path", ["/?as_of=2026-02-01", "/worklist?as_of=2026-02-01"])
def test_the_first_page_of_a_server_never_lists_the_page_files(
    page: Page, fresh_server: Server, path: str
) -> None:
    assert "widgets" in PAGE_FILES and "worklist" in PAGE_FILES
    page.context.add_init_script(RECORD_NAVIGATION)
    browser.open_path(page, fresh_server, path)
    no_exception(page)
    heading = "Overview" if path.startswith("/?") else "Worklist"
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    sidebar = page.locator("[data-testid='stSidebar']")
    for title in TITLES:
        expect(
            sidebar.locator("[data-testid='stSidebarNavLink']").filter(has_text=title).first
        ).to_be_visible()
    seen = navigation_seen(page)
    assert [text for text in seen if text in PAGE_FILES or text.lstrip("_ ") in PAGE_FILES] == []
    assert set(seen) >= set(TITLES)
    # The menu still works: another page opens from it.
    sidebar.locator("[data-testid='stSidebarNavLink']").filter(has_text="Aging balance").first.click()
    browser.wait_for_app(page)
    expect(page.get_by_role("heading", name="Aging balance", exact=True)).to_be_visible()
    no_exception(page)
    assert [text for text in navigation_seen(page) if text.lstrip("_ ") in PAGE_FILES] == []
    log = fresh_server.output()
    assert "Traceback" not in log and "warming the caches" not in log, log


def test_the_server_warms_the_data_folder_before_any_page_is_asked_for(tmp_path: Path) -> None:
    """`streamlit run serve.py` opens the collections database and fills the shared caches as it
    starts, so that the first person's page finds them: with no browser connected, another process
    soon finds the database held by the server."""
    data = ledger_data_dir(tmp_path / "ledger")
    server = browser.start_server(data, tmp_path / "streamlit.log")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                CollectionsDB.for_store(Store(data)).close()
            except CollectionsBusy as busy:
                assert busy.pid == server.process.pid
                break
            assert time.monotonic() < deadline, "the server never opened the collections database by itself"
            time.sleep(0.2)
        assert "Traceback" not in server.output(), server.output()
    finally:
        browser.stop_server(server)
