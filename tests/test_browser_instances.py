"""Running more than one instance on one data folder (README, "Running more than one instance").

Only one process can open the collections database (`<data>/collections.duckdb`, DuckDB's rule); the
app opens it on the first page that shows or records qualifications and actions, and keeps it while it
runs. A second app process started on the same folder works read-only on the figures (they come from
the Parquet files, which any number of processes read) and, on every page that needs the collections
database, says that another instance holds the data folder, instead of a traceback. A command that
writes the collections database says the same and stops, having written nothing.

Two `streamlit run` servers over one small demo company (40 customers, 1,500 documents, seed 3, as of
2026-11-20), seen through Debian's chromium; chromium is required (these tests fail without it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import browser
import pytest
from browser import Server
from playwright.sync_api import Page, expect
from test_browser import metric, no_exception

from analytics import demo
from analytics.collections import CollectionsDB
from analytics.store import Store

AS_OF = "as_of=2026-11-20"
HELD = "another instance of the app, or a command, holds the data folder"
NEEDS = "This part needs the collections database, which another instance holds (see above)."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("instances") / "data"
    demo.create(Store(folder), customers=40, documents=1_500, seed=3, as_of=date(2026, 11, 20))
    return folder


def serve(data_dir: Path, log: Path) -> Server:
    try:
        return browser.start_server(data_dir, log)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def first(data_dir: Path, tmp_path: Path) -> Iterator[Server]:
    server = serve(data_dir, tmp_path / "first.log")
    yield server
    browser.stop_server(server)


def open_page(page: Page, server: Server, path: str) -> None:
    browser.open_path(page, server, f"/{path}?{AS_OF}")


def held_message(page: Page):
    return page.locator("[data-testid='stAlert']").filter(has_text=HELD)


def drill_rows(page: Page) -> list[list[str]]:
    grid = page.locator("[data-testid='stDataFrame']").first
    expect(grid.locator("table[role='grid'] tr").nth(1)).to_be_attached()
    return browser.grid_rows(grid)


def select_first_row(page: Page, done: Callable[[], bool]) -> None:
    """Click the first row of the drill table at its left (the header is 35 px high): the row's name
    above the documents, its checkbox at the documents; until `done()` says the page has moved on: on
    a busy machine a click can land while the grid is being drawn again, and be lost."""
    for _ in range(3):
        grid = page.locator("[data-testid='stDataFrame']").first
        grid.scroll_into_view_if_needed()
        box = browser.settled_box(grid)
        page.mouse.click(box["x"] + 12, box["y"] + 35 + 18)
        browser.wait_for_app(page)
        # The next level may still be on its way: clicking again too soon would open the one after.
        for _ in range(20):
            if done():
                return
            page.wait_for_timeout(250)
    pytest.fail("three clicks on the drill table's first row did not open the next level")


def test_a_second_instance_says_another_holds_the_data_folder(
    first: Server, data_dir: Path, page: Page, tmp_path: Path
) -> None:
    """The first instance's worklist opens (it now holds the collections database). A second
    instance on the same folder: its aging page shows the same figures and drill table as the
    first's, down to a customer's level, and says once at the top of every page that another instance
    holds the data folder; at the documents (where each item's qualification shows) and on its worklist
    the rest of the page gives way; the overview shows its figures without the alerts; no traceback. Once the first instance stops, reloading the second's worklist works."""
    open_page(page, first, "worklist")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    to_do = metric(page, "To do today").inner_text()
    open_page(page, first, "aging")
    figures = [metric(page, label).inner_text() for label in ("Total AR (EUR)", "Overdue", "+90 days")]
    rows = drill_rows(page)

    second = serve(data_dir, tmp_path / "second.log")
    try:
        open_page(page, second, "aging")
        no_exception(page)
        assert [
            metric(page, label).inner_text() for label in ("Total AR (EUR)", "Overdue", "+90 days")
        ] == figures
        assert drill_rows(page) == rows
        # Said once at the top of every page of the second instance.
        expect(held_message(page)).to_have_count(1)
        browser.screenshot(page, "instances-second-aging")
        for level in ("Division", "Collector", "Customer"):
            select_first_row(page, lambda level=level: drill_rows(page)[0][0] == level)
        select_first_row(page, lambda: page.get_by_text(NEEDS).count() == 1)
        no_exception(page)
        expect(held_message(page)).to_have_count(1)
        expect(page.get_by_text(NEEDS)).to_be_visible()
        browser.screenshot(page, "instances-second-aging-documents")

        # The home page shows its figures, without the recovery alerts.
        open_page(page, second, "")
        no_exception(page)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(held_message(page)).to_have_count(1)
        expect(metric(page, "Receivables (EUR)")).to_be_visible()

        open_page(page, second, "worklist")
        no_exception(page)
        expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
        expect(held_message(page)).to_have_count(1)
        expect(held_message(page)).to_contain_text(str(data_dir))
        expect(held_message(page)).to_contain_text("Close the other app")
        expect(page.locator("[data-testid='stMetric']")).to_have_count(0)
        browser.screenshot(page, "instances-second-worklist")

        browser.stop_server(first)
        page.reload()
        browser.wait_for_app(page)
        no_exception(page)
        expect(held_message(page)).to_have_count(0)
        expect(metric(page, "To do today")).to_have_text(to_do)
    finally:
        browser.stop_server(second)


def command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=browser.ROOT,
        env={**os.environ, "PYTHONPATH": str(browser.ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_commands_say_another_holds_the_data_folder(data_dir: Path) -> None:
    """While a process holds the collections database, `actions export` and `demo` stop with exit
    status 1 and say which process holds the data folder, without a traceback; the demo writes
    nothing (the company and its history stay as they were); `report aging` works alongside."""
    store = Store(data_dir)
    version = store.version()
    report = command("report", "aging", "--data", str(data_dir), "--as-of", "2026-11-20", "--by", "entity")
    held = (
        f"error: {HELD} {data_dir} (process {os.getpid()}): one process at a time can open its "
        "collections database, collections.duckdb (with PostgreSQL, AR_COLLECTIONS_URL, any number can)\n"
    )
    with CollectionsDB.for_store(store):
        exported = command("actions", "export", "--data", str(data_dir))
        demo_run = command("demo", "--data", str(data_dir), "--customers", "5", "--documents", "50")
        reported = command(
            "report", "aging", "--data", str(data_dir), "--as-of", "2026-11-20", "--by", "entity"
        )
    assert (exported.returncode, exported.stderr) == (1, held)
    assert (demo_run.returncode, demo_run.stderr.splitlines()[-1]) == (1, held.strip())
    assert "Traceback" not in demo_run.stderr
    assert store.version() == version
    assert (reported.returncode, reported.stdout) == (0, report.stdout)
