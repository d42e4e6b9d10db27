"""The worklist and the customer page in a real browser, counting script runs: `streamlit run app.py`
over a small demo company (80 customers, 4,000 documents, seed 5, as of 2026-11-20, with its
collections history) with AR_RUN_LOG set (pages/_runs.py), seen through Debian's chromium.

Each click must rerun the fragment that shows what it changed, once, and never the whole app ("app"
runs): selecting a customer reruns `worklist_selected` (its items) alone, the section tables are not
sent again; selecting a customer of another section also reruns `worklist_customers` (the section that
had the selection is cleared); opening the side panel reruns `worklist_selected` (the panel is drawn by
it); filling the panel reruns the panel alone; a save reruns `worklist_counts`, `worklist_customers`
and `worklist_selected` (the figures and the tables it changed), and the call it logged shows at once:
the "Saved" message, the items' next action date in the table, the call in the panel's history. On
the customer page, switching customers reruns `customer` (and the two fragments within it),
selecting items `customer_items`.

Chromium is required: when /usr/bin/chromium is missing these tests fail, they never skip.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import browser
import pytest
from browser import Server
from playwright.sync_api import Locator, Page, expect
from test_browser import metric, no_exception

from analytics import demo
from analytics.store import Store

DEMO_AS_OF = date(2026, 11, 20)
AS_OF = f"as_of={DEMO_AS_OF.isoformat()}"
NEXT_ACTION = (DEMO_AS_OF + timedelta(days=7)).isoformat()
COUNTS = ("To do today", "Late", "Done today", "Overdue items", "Overdue (EUR)")
PARTS = (
    "app",
    "worklist_counts",
    "worklist_customers",
    "worklist_selected",
    "panel",
    "customer",
    "customer_items",
    "customer_timeline",
)


@dataclass(frozen=True)
class Served:
    server: Server
    run_log: Path

    def runs(self) -> dict[str, int]:
        return {part: browser.runs_in(self.run_log, part) for part in PARTS}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("worklist-demo") / "data"
    demo.create(Store(folder), customers=80, documents=4000, seed=5, as_of=DEMO_AS_OF)
    logs = tmp_path_factory.mktemp("worklist-server")
    run_log = logs / "runs.log"
    try:
        server = browser.start_server(folder, logs / "streamlit.log", run_log=run_log)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield Served(server, run_log)
    browser.stop_server(server)


def ran(served: Served, before: dict[str, int]) -> dict[str, int]:
    """The runs of each part since `before`, those that ran at least once."""
    now = served.runs()
    return {part: now[part] - before[part] for part in PARTS if now[part] != before[part]}


def counts(page: Page) -> list[str]:
    return [metric(page, label).inner_text() for label in COUNTS]


def items_grid(page: Page, customer_id: str) -> Locator:
    return page.locator(f".st-key-worklist_items_{customer_id} [data-testid='stDataFrame']")


# What the worklist says while the payment predictions behind its pre-due list are worked out.
PREDICTING = "are being worked out in the background"


def open_worklist(page: Page, served: Served) -> None:
    """Open the worklist once the server's payment predictions are ready: the pre-due list then stands
    below the sections, and the clicks that follow land on a page that no longer grows."""
    deadline = time.monotonic() + 120
    while True:
        browser.open_path(page, served.server, f"/worklist?{AS_OF}")
        expect(page.get_by_role("heading", name="Worklist", exact=True)).to_be_visible()
        browser.wait_for_app(page)
        if page.get_by_text(PREDICTING).count() == 0:
            break
        assert time.monotonic() < deadline, "the payment predictions were not ready in 120 s"
        page.wait_for_timeout(1000)
    expect(page.get_by_text(re.compile(r"^Likely to be paid late|^No invoice not yet due"))).to_be_visible()


def test_worklist_select_open_fill_save_each_rerun_one_fragment(page: Page, served: Served) -> None:
    """Select the first customer of the first section, open the panel on all its items, log a call
    (next action a week on, 2026-11-27) and save."""
    open_worklist(page, served)
    figures = counts(page)
    sections = page.locator("[class*='st-key-worklist_'] [data-testid='stDataFrame']").filter(
        has=page.locator("table[role='grid'] tbody tr")
    )
    grid = sections.first
    customer_id = browser.grid_cells(grid)[1][1]

    before = served.runs()
    browser.click_grid_row(page, grid, 0)
    expect(page.get_by_role("heading", name=f"({customer_id})")).to_be_visible()
    assert ran(served, before) == {"worklist_selected": 1}
    assert counts(page) == figures
    items = items_grid(page, customer_id)
    items.scroll_into_view_if_needed()
    documents = browser.grid_column(items, "Document")
    assert documents

    before = served.runs()
    page.locator(".st-key-worklist_panel button").click()
    browser.wait_for_app(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text(f"{len(documents)} item(s)")).to_be_visible()
    assert ran(served, before) == {"worklist_selected": 1, "panel": 1}

    before = served.runs()
    dialog.get_by_role("combobox", name="Log an action").click()
    page.get_by_role("option", name="Call", exact=True).click()
    browser.wait_for_app(page)
    expect(dialog.get_by_role("combobox", name="Outcome")).to_be_visible()
    assert ran(served, before) == {"panel": 1}
    dialog.get_by_label("Comment").fill("Called about the overdue items")
    # A text area sends its value when it loses the focus: leave it now, not with the Save click (which
    # would then cost the panel's run for the comment besides the save's).
    dialog.get_by_label("Comment").press("Tab")
    browser.wait_for_app(page)

    before = served.runs()
    dialog.get_by_role("button", name="Save", exact=True).click()
    browser.wait_for_app(page)
    expect(page.get_by_text("Saved: call logged.")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert ran(served, before) == {"worklist_counts": 1, "worklist_customers": 1, "worklist_selected": 1}
    no_exception(page)
    # The call names every item listed: the customer is done today, each item's next action is the call's.
    done = int(figures[2].replace(",", ""))
    expect(metric(page, "Done today")).to_have_text(re.compile(rf"^({done}|{done + 1})$"))
    items = items_grid(page, customer_id)
    expect(items.locator("table[role='grid']")).to_contain_text(NEXT_ACTION)
    assert set(browser.grid_column(items, "Next action")) == {NEXT_ACTION}

    # Opened again, the panel starts blank (not with the saved call's fields) and its history lists the call.
    page.locator(".st-key-worklist_panel button").click()
    browser.wait_for_app(page)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("combobox", name="Log an action")).to_have_value("(no action)")
    expect(dialog.get_by_role("combobox", name="Outcome")).to_have_count(0)
    expect(dialog.get_by_label("Comment")).to_have_value("")
    dialog.get_by_text(re.compile(r"^History \(\d+\)$")).click()
    browser.wait_for_app(page)
    history = dialog.locator("[data-testid='stDataFrame']").filter(
        has=page.locator("th", has_text="User name")
    )
    history.scroll_into_view_if_needed()
    assert "Called about the overdue items" in browser.grid_column(history, "Comment")
    no_exception(page)


def test_customer_page_switch_and_select_each_rerun_one_fragment(page: Page, served: Served) -> None:
    """Switch to the second customer of the list, then select its first open item."""
    browser.open_path(page, served.server, f"/customer?{AS_OF}")
    expect(page.get_by_role("heading", name="Customer", exact=True)).to_be_visible()
    box = page.locator("[class*='st-key-customer_pick_']").get_by_role("combobox")
    before_value = box.input_value()
    box.click()
    option = page.get_by_role("option").nth(1)
    wanted = option.inner_text().strip()

    before = served.runs()
    option.click()
    browser.wait_for_app(page)
    after = page.locator("[class*='st-key-customer_pick_']").get_by_role("combobox").input_value()
    assert after == wanted != before_value
    assert ran(served, before) == {"customer": 1, "customer_items": 1, "customer_timeline": 1}
    customer_id = re.search(r"\(([^()]+)\)$", wanted).group(1)
    assert f"customer={customer_id}" in page.evaluate("window.location.href")

    grid = page.locator(f".st-key-customer_items_{customer_id} [data-testid='stDataFrame']")
    browser.grid_cells(grid)
    before = served.runs()
    browser.click_grid_row(page, grid, 0)
    expect(page.locator(".st-key-customer_panel button")).to_have_text(re.compile(r"\(1 item\)"))
    assert ran(served, before) == {"customer_items": 1}
    no_exception(page)


def test_worklist_selection_moving_to_another_section_reruns_the_sections_once(
    page: Page, served: Served
) -> None:
    """Select the first customer of the first section, then the first of the second: the first
    selection reruns the selected customer's part alone; the second also reruns the sections once (the
    first section's check is cleared), and the second customer's items are shown."""
    open_worklist(page, served)
    figures = counts(page)
    sections = page.locator("[class*='st-key-worklist_'] [data-testid='stDataFrame']").filter(
        has=page.locator("table[role='grid'] tbody tr")
    )
    expect(sections.nth(1)).to_be_attached()
    first, second = sections.nth(0), sections.nth(1)
    first_id, second_id = browser.grid_cells(first)[1][1], browser.grid_cells(second)[1][1]

    before = served.runs()
    browser.click_grid_row(page, first, 0)
    expect(page.get_by_role("heading", name=f"({first_id})")).to_be_visible()
    assert ran(served, before) == {"worklist_selected": 1}

    before = served.runs()
    browser.click_grid_row(page, second, 0)
    expect(page.get_by_role("heading", name=f"({second_id})")).to_be_visible()
    expect(page.get_by_role("heading", name=f"({first_id})")).to_have_count(0)
    assert ran(served, before) == {"worklist_customers": 1, "worklist_selected": 1}
    assert counts(page) == figures
    assert browser.grid_column(items_grid(page, second_id), "Document")
    no_exception(page)
