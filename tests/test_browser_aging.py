"""The aging page answers a click with one run of its fragment, in a real browser (Debian's chromium).

Over the hand-worked ledger of conftest.py at 2026-03-31 (see test_aging_page.py): Acme FR holds
950.00, 350.00 in 1-30 (I2 400.00, P3 -50.00) and 600.00 in 31-60 (I1); its one division is North.
Each click below (a drill row, a breadcrumb step, a chart segment, a bucket pill, the +30 switch) is
followed by exactly one run of the `aging_balance` fragment and no run of the app, counted in the run
log the app writes (pages/_runs.py), and by the figures worked out above. The address keeps the drill:
a new session on it opens the drilled view, the back button returns to the top level.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import browser
import pytest
from browser import Server
from playwright.sync_api import Page, expect
from test_browser import ledger_data_dir, metric, no_exception

from analytics import demo
from analytics.store import Store

FRAGMENT = "aging_balance"


@pytest.fixture(scope="module")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runs") / "runs.log"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, run_log: Path) -> Iterator[Server]:
    data = ledger_data_dir(tmp_path_factory.mktemp("aging-ledger"))
    try:
        running = browser.start_server(
            data, tmp_path_factory.mktemp("server") / "streamlit.log", run_log=run_log
        )
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    browser.stop_server(running)


@pytest.fixture(scope="module")
def demo_run_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-runs") / "runs.log"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, demo_run_log: Path) -> Iterator[Server]:
    """A demo company (several entities, divisions and collectors) at its last date, 2026-11-20."""
    data = tmp_path_factory.mktemp("aging-demo") / "data"
    demo.create(Store(data), customers=60, documents=3_000, seed=11, as_of=date(2026, 11, 20))
    try:
        running = browser.start_server(
            data, tmp_path_factory.mktemp("demo-server") / "streamlit.log", run_log=demo_run_log
        )
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    browser.stop_server(running)


class Runs:
    """The runs recorded since the last look: how many of the app, how many of the fragment."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.seen = self.counts()

    def counts(self) -> tuple[int, int]:
        return browser.runs_in(self.log, "app"), browser.runs_in(self.log, FRAGMENT)

    def since(self) -> tuple[int, int]:
        now = self.counts()
        app, fragment = now[0] - self.seen[0], now[1] - self.seen[1]
        self.seen = now
        return app, fragment


def drill_grid(page: Page):
    return page.locator("[class*='st-key-drill_table_'] [data-testid='stDataFrame']").first


def first_column(page: Page) -> tuple[str, list[str]]:
    """The drill table's first header and first column (its accessible mirror, once drawn)."""
    drill_grid(page).locator("table[role='grid'] tbody tr").first.wait_for(state="attached")
    header, *rows = browser.grid_rows(drill_grid(page))
    return header[0], [row[0] for row in rows]


def click_first_row(page: Page) -> None:
    click_name(page, 0)


def click_name(page: Page, row: int) -> None:
    """Click the name of a row of the drill table (its button, at the left of the row's first cell)."""
    grid = drill_grid(page)
    grid.scroll_into_view_if_needed()
    box = browser.settled_box(grid)
    page.mouse.click(box["x"] + 12, box["y"] + 35 * (row + 1) + 18)
    browser.wait_for_app(page)


def expect_level(page: Page, header: str) -> list[str]:
    """Wait for the drill table of the level whose first header is `header`; its first column."""
    expect(drill_grid(page).locator("table[role='grid'] th").first).to_have_text(header)
    found, names = first_column(page)
    assert found == header
    return names


def click_segment(page: Page, trace: int) -> None:
    """Click a bar segment of the chart where it is drawn (Plotly's drag layer lies over the bars)."""
    segment = page.locator("[class*='st-key-aging_chart_'] g.trace.bars").nth(trace).locator("path").first
    box = browser.settled_box(segment)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    browser.wait_for_app(page)


def active_pills(page: Page) -> list[str]:
    return page.locator(".st-key-bucket_filter button[aria-pressed='true']").all_inner_texts()


def test_a_drill_click_and_the_breadcrumb_each_cost_one_fragment_run(
    page: Page, server: Server, run_log: Path
) -> None:
    browser.open_path(page, server, "/aging")
    expect(metric(page, "Total AR (EUR)")).to_have_text("950.00")
    assert first_column(page) == ("Entity", ["Acme FR"])
    runs = Runs(run_log)

    click_first_row(page)
    expect(page.locator(".st-key-crumb_0 button")).to_have_text("Entity: Acme FR")
    expect(drill_grid(page).locator("table[role='grid']")).to_contain_text("North")
    assert first_column(page) == ("Division", ["North"])
    expect(metric(page, "Total AR (EUR)")).to_have_text("950.00")
    assert "drill=entity%3DAcme" in page.url
    assert runs.since() == (0, 1)

    page.locator(".st-key-crumb_all button").click()
    browser.wait_for_app(page)
    expect(page.locator(".st-key-crumb_0")).to_have_count(0)
    assert first_column(page) == ("Entity", ["Acme FR"])
    assert "drill=" not in page.url
    assert runs.since() == (0, 1)
    no_exception(page)


def test_a_chart_segment_a_pill_and_the_beyond_switch_each_cost_one_fragment_run(
    page: Page, server: Server, run_log: Path
) -> None:
    browser.open_path(page, server, "/aging")
    expect(metric(page, "Total AR (EUR)")).to_have_text("950.00")
    runs = Runs(run_log)

    # The traces are the buckets in order: not due, 1-30, 31-60, 61-90, +90.
    click_segment(page, 2)
    expect(metric(page, "Total AR (EUR)")).to_have_text("600.00")
    assert active_pills(page) == ["31-60"]
    assert browser.grid_rows(drill_grid(page))[1][:8] == ["Acme FR", "0", "0", "600", "0", "0", "600", "600"]
    assert runs.since() == (0, 1)

    page.locator(".st-key-bucket_filter button[aria-pressed='true']").click()
    browser.wait_for_app(page)
    expect(metric(page, "Total AR (EUR)")).to_have_text("950.00")
    assert active_pills(page) == []
    assert runs.since() == (0, 1)

    page.locator(".st-key-beyond").get_by_role("radio", name="+30", exact=True).click()
    browser.wait_for_app(page)
    expect(metric(page, "Total AR (EUR)")).to_have_text("600.00")
    expect(page.get_by_text("items more than 30 days past due")).to_be_visible()
    assert runs.since() == (0, 1)
    no_exception(page)


def test_the_address_keeps_the_drill(page: Page, server: Server) -> None:
    browser.open_path(page, server, "/aging")
    click_first_row(page)
    assert first_column(page) == ("Division", ["North"])
    drilled = page.url

    page.go_back()
    browser.wait_for_app(page)
    expect(page.locator(".st-key-crumb_0")).to_have_count(0)
    # The breadcrumb goes before the grid is drawn again: wait for the entity level's header.
    assert expect_level(page, "Entity") == ["Acme FR"]

    # A new session on the drilled address (a shared link, a reload) opens the division level.
    other = page.context.new_page()
    browser.open_path(other, server, drilled[len(server.url) :])
    expect(other.locator(".st-key-crumb_0 button")).to_have_text("Entity: Acme FR")
    assert expect_level(other, "Division") == ["North"]
    no_exception(other)


def test_the_rejuvenation_tab_runs_only_the_fragment_when_opened(
    page: Page, server: Server, run_log: Path
) -> None:
    """Its roll rates are not drawn until the tab opens; opening it is one fragment run."""
    browser.open_path(page, server, "/aging")
    heading = page.get_by_role("heading", name="Roll rates from 2026-02-28 to 2026-03-31")
    expect(heading).to_have_count(0)
    runs = Runs(run_log)
    page.get_by_role("tab", name="Rejuvenation").click()
    browser.wait_for_app(page)
    expect(heading).to_be_visible()
    assert runs.since() == (0, 1)
    no_exception(page)


def test_each_drill_opens_the_row_clicked_at_its_own_level(
    page: Page, demo_server: Server, demo_run_log: Path
) -> None:
    """A click on the second entity's name opens its divisions, a click on the last division's name
    then opens that division's collectors: each is one fragment run, acting on the row clicked in the
    table shown, never on a row of the level before; no further run follows."""
    browser.open_path(page, demo_server, "/aging")
    entities = expect_level(page, "Entity")
    assert len(entities) > 1
    runs = Runs(demo_run_log)

    click_name(page, 1)
    expect(page.locator(".st-key-crumb_0 button")).to_have_text(f"Entity: {entities[1]}")
    divisions = expect_level(page, "Division")
    assert runs.since() == (0, 1)

    click_name(page, len(divisions) - 1)
    expect(page.locator(".st-key-crumb_1 button")).to_have_text(f"Division: {divisions[-1]}")
    expect(page.locator(".st-key-crumb_0 button")).to_have_text(f"Entity: {entities[1]}")
    expect_level(page, "Collector")
    assert runs.since() == (0, 1)
    page.wait_for_timeout(500)
    browser.wait_for_app(page)
    expect(page.locator(".st-key-crumb_2")).to_have_count(0)
    assert runs.since() == (0, 0)
    no_exception(page)
