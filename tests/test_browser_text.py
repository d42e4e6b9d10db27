"""What the address and the data supply is shown as text in a real browser (Debian's chromium): a
crafted drill= parameter on the aging breadcrumb, a crafted customer= parameter and a hostile division
on the customer page render their characters as written, with no bold, colour, icon or link.

The ledger of test_page_text.py: C2 named NAME, in division DIVISION.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import browser
import pytest
from browser import Server
from playwright.sync_api import Locator, Page
from test_browser import no_exception
from test_page_text import DIVISION, DRILL, NAME, hostile_data

from pages._format import WORD_JOINER

MARKUP = "strong, em, b, a, code, img, span[style*='color'], [data-testid='stIconMaterial']"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = hostile_data(tmp_path_factory.mktemp("browser-text"))
    try:
        running = browser.start_server(data, tmp_path_factory.mktemp("server") / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    browser.stop_server(running)


def text_of(element: Locator) -> str:
    return element.inner_text().replace(WORD_JOINER, "").strip()


def test_a_crafted_drill_shows_its_characters_on_the_breadcrumb(page: Page, server: Server) -> None:
    browser.open_path(
        page, server, "/aging?" + urlencode({"as_of": "2026-02-01", "drill": f"entity={DRILL}"})
    )
    crumb = page.locator(".st-key-crumb_0 button")
    assert text_of(crumb) == f"Entity: {DRILL}"
    assert crumb.locator(MARKUP).count() == 0
    assert page.locator("[data-testid='stMain'] a[href*='evil.example']").count() == 0
    no_exception(page)
    browser.screenshot(page, "30_crafted_drill_breadcrumb")


def test_a_hostile_division_and_a_crafted_customer_show_as_text(page: Page, server: Server) -> None:
    browser.open_path(page, server, "/customer?" + urlencode({"as_of": "2026-02-01", "customer": "C2"}))
    identity = page.locator("[data-testid='stMain'] [data-testid='stMarkdownContainer']").filter(
        has_text="Country"
    )
    assert f"Division {DIVISION}" in text_of(identity.first)
    assert identity.first.locator("a, em, i, img, span[style*='color']").count() == 0
    assert page.get_by_role("combobox", name="Customer", exact=True).input_value() == f"{NAME} (C2)"

    browser.open_path(page, server, "/customer?" + urlencode({"as_of": "2026-02-01", "customer": DRILL}))
    warning = page.locator("[data-testid='stAlert']").filter(has_text="No customer")
    assert text_of(warning) == f"No customer {DRILL} in your scope (all customers)."
    assert warning.locator(MARKUP).count() == 0
    assert page.locator("[data-testid='stMain'] a[href*='evil.example']").count() == 0
    no_exception(page)
