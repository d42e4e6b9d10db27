"""Signing in as a collector in a real browser (Debian's chromium): the hand-worked ledger of
conftest.py with a users file; Anna's portfolio (C1 Alpha SARL, C3 Gamma SA) holds 1,000.00 as of
2026-02-01, Ben's C2 another 1,000.00 that Anna must not see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import browser
import pytest
from browser import Server
from playwright.sync_api import Page, expect
from test_browser import ledger_data_dir, metric, no_exception

from analytics import access


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    data = ledger_data_dir(tmp_path_factory.mktemp("browser-access"))
    users = access.Users(data)
    users.add("admin", "admin", password="admin-password")
    users.add("anna", "collector", password="anna-password", collector="Anna")
    try:
        running = browser.start_server(data, tmp_path_factory.mktemp("server") / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running, data
    browser.stop_server(running)


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_role("textbox", name="User name").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    browser.wait_for_app(page)


def test_a_collector_signs_in_and_sees_only_their_portfolio(
    page: Page, signed_server: tuple[Server, Path]
) -> None:
    server, data = signed_server
    browser.open_path(page, server, "/aging?as_of=2026-02-01")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert page.locator("[data-testid='stMetric']").count() == 0
    assert page.get_by_text("Beta GmbH").count() == 0

    sign_in(page, "anna", "not her password")
    expect(page.get_by_text("Unknown user or wrong password.")).to_be_visible()
    sign_in(page, "anna", "anna-password")

    # The page the address asked for opens, within Anna's rights.
    expect(page.get_by_role("heading", name="Aging balance", exact=True)).to_be_visible()
    expect(metric(page, "Total AR (EUR)")).to_have_text("1.00k")
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar).to_contain_text("Anna · Collector")
    sidebar.get_by_role("combobox", name="Collector", exact=True).click()
    options = [text.strip() for text in page.get_by_role("option").all_inner_texts()]
    assert options == ["Anna"]
    page.keyboard.press("Escape")
    browser.screenshot(page, "20_signed_in_collector_aging")

    # An export is recorded in the audit trail with Anna's name.
    with page.expect_download() as download:
        page.locator(".st-key-aging_export_csv button").click()
    content = Path(download.value.path()).read_text()
    assert "Ben" not in content and "Beta GmbH" not in content
    trail = access.audit_trail(data)
    assert trail.row(0, named=True)["user"] == "anna"
    assert trail.row(0, named=True)["event"] == "Export"
    assert re.search(
        r"aging table aging_\w+_2026-02-01\.csv \(Collector: Anna\)", trail.row(0, named=True)["detail"]
    )
    no_exception(page)

    # Signing out returns to the form.
    sidebar.get_by_role("button", name="Sign out").click()
    browser.wait_for_app(page)
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert page.locator("[data-testid='stMetric']").count() == 0
