"""The Collectors and Disputes pages answer a click with one run of the fragment it changed, in a real
browser: `streamlit run app.py` over a small demo company (120 customers, 6,000 documents, seed 11, as
of 2026-11-20, with its collections history) with AR_RUN_LOG set (pages/_runs.py), seen through
Debian's chromium.

Choosing another collector, in the record's Collector box or by a row of the team table, reruns
`collectors_record` once and never the app; the record then shows that collector's heading and
figures, worked out beforehand by analytics.coaching over the same data. Filtering the open disputes
by reason, then by owner, reruns `disputes_open` once each; the list then holds exactly the open
disputes of that reason (and owner) that analytics.disputes counts, and the tiles above it keep
their figures.

Chromium is required: when /usr/bin/chromium is missing these tests fail, they never skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import browser
import polars as pl
import pytest
from browser import Server
from playwright.sync_api import Page, expect
from test_browser import metric, no_exception

from analytics import coaching, collections, demo, disputes
from analytics.store import Store
from pages import _format

DEMO_AS_OF = date(2026, 11, 20)
AS_OF = f"as_of={DEMO_AS_OF.isoformat()}"
PARTS = ("app", "collectors_record", "collectors_team_figure", "disputes_open", "panel")
TILES = ("Open disputes", "Disputed (EUR)", "Promises kept (90 days)", "Qualification rate")


@dataclass(frozen=True)
class Expected:
    """What the pages must show, worked out before the server opens the data (one process at a time
    can open collections.duckdb): the team table's rows by collector, the open disputes."""

    team: pl.DataFrame
    open_disputes: pl.DataFrame


@dataclass(frozen=True)
class Served:
    server: Server
    run_log: Path
    expected: Expected

    def runs(self) -> dict[str, int]:
        return {part: browser.runs_in(self.run_log, part) for part in PARTS}

    def ran(self, before: dict[str, int]) -> dict[str, int]:
        """The runs of each part since `before`, those that ran at least once."""
        now = self.runs()
        return {part: now[part] - before[part] for part in PARTS if now[part] != before[part]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("speed-demo") / "data"
    store = Store(folder)
    demo.create(store, customers=120, documents=6_000, seed=11, as_of=DEMO_AS_OF)
    with collections.CollectionsDB.for_store(store) as db:
        team = coaching.team_table(db, store, coaching.CoachingQuery(DEMO_AS_OF)).rows
        open_disputes = disputes.dispute_summary(db, store, DEMO_AS_OF).open_disputes
    logs = tmp_path_factory.mktemp("speed-server")
    run_log = logs / "runs.log"
    try:
        server = browser.start_server(folder, logs / "streamlit.log", run_log=run_log)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield Served(server, run_log, Expected(team, open_disputes))
    browser.stop_server(server)


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def expect_record(page: Page, team: pl.DataFrame, collector: str) -> None:
    """The record of `collector`: its heading, the Collector box, and its AR, % overdue and CEI tiles."""
    row = team.filter(pl.col("collector") == collector).row(0, named=True)
    expect(page.get_by_role("heading", name=f"{collector}'s record", exact=True)).to_be_visible()
    main = page.locator("[data-testid='stMain']")
    expect(main.get_by_role("combobox", name="Collector", exact=True)).to_have_value(collector)
    expect(metric(page, "AR (EUR)")).to_have_text(_format.compact_money(row["ar"]))
    expect(metric(page, "% overdue")).to_have_text(percent(row["pct_overdue"]))
    expect(metric(page, "CEI")).to_have_text(percent(row["cei"]))


def test_choosing_a_collector_reruns_the_record_alone(page: Page, served: Served) -> None:
    """Choose a collector in the record's Collector box, then another by a row of the team table."""
    team = served.expected.team
    browser.open_path(page, served.server, f"/collectors?{AS_OF}")
    expect(page.get_by_role("heading", name="Collectors", exact=True)).to_be_visible()
    grid = page.locator(".st-key-collectors_table_0 [data-testid='stDataFrame']")
    names = [row[0] for row in browser.grid_cells(grid)[1:-1]]
    assert sorted(names) == sorted(team.get_column("collector").to_list())
    assert len(names) >= 3
    first = names[0]
    expect_record(page, team, first)

    wanted = names[2]
    box = page.locator("[data-testid='stMain']").get_by_role("combobox", name="Collector", exact=True)
    before = served.runs()
    box.click()
    page.get_by_role("option", name=wanted, exact=True).click()
    browser.wait_for_app(page)
    expect_record(page, team, wanted)
    assert served.ran(before) == {"collectors_record": 1}
    expect(page.get_by_role("heading", name=f"{first}'s record", exact=True)).to_have_count(0)

    wanted = names[1]
    grid.scroll_into_view_if_needed()
    box_of_grid = browser.settled_box(grid)
    assert box_of_grid is not None
    before = served.runs()
    page.mouse.click(
        box_of_grid["x"] + 12, box_of_grid["y"] + browser.ROW_PX + browser.ROW_PX * 1 + browser.ROW_PX / 2
    )
    browser.wait_for_app(page)
    expect_record(page, team, wanted)
    assert served.ran(before) == {"collectors_record": 1}
    assert f"collector={wanted.replace(' ', '+')}" in page.evaluate("window.location.href")
    no_exception(page)


def test_filtering_the_open_disputes_reruns_the_list_alone(page: Page, served: Served) -> None:
    """Filter the open disputes by their most frequent reason, then by an owner of those disputes."""
    disputes = served.expected.open_disputes
    browser.open_path(page, served.server, f"/disputes?{AS_OF}")
    expect(page.get_by_role("heading", name="Disputes and promises", exact=True)).to_be_visible()
    expect(metric(page, "Open disputes")).to_have_text(f"{disputes.height:,}")
    tiles = [metric(page, name).inner_text() for name in TILES]
    listed = page.locator("[class*='st-key-open_disputes_'] [data-testid='stDataFrame']")
    assert sorted(browser.grid_column(listed, "Document")) == sorted(
        disputes.get_column("document_id").to_list()
    )

    reason = (
        disputes.group_by("dispute_reason")
        .len()
        .sort(["len", "dispute_reason"], descending=[True, False])
        .get_column("dispute_reason")[0]
    )
    of_reason = disputes.filter(pl.col("dispute_reason") == reason)
    assert 1 < of_reason.height < disputes.height
    before = served.runs()
    page.get_by_role("combobox", name="Reason", exact=True).click()
    page.get_by_role("option", name=_format.label(reason), exact=True).click()
    browser.wait_for_app(page)
    expect(listed.locator("table[role='grid'] tbody tr")).to_have_count(of_reason.height)
    assert sorted(browser.grid_column(listed, "Document")) == sorted(
        of_reason.get_column("document_id").to_list()
    )
    assert set(browser.grid_column(listed, "Dispute")) == {_format.label(reason)}
    assert served.ran(before) == {"disputes_open": 1}

    owner = sorted(of_reason.get_column("internal_owner").drop_nulls().unique().to_list())[0]
    both = of_reason.filter(pl.col("internal_owner") == owner)
    before = served.runs()
    page.get_by_role("combobox", name="Owner", exact=True).click()
    page.get_by_role("option", name=owner, exact=True).click()
    browser.wait_for_app(page)
    expect(listed.locator("table[role='grid'] tbody tr")).to_have_count(both.height)
    assert sorted(browser.grid_column(listed, "Document")) == sorted(both.get_column("document_id").to_list())
    assert set(browser.grid_column(listed, "Owner")) == {owner}
    assert served.ran(before) == {"disputes_open": 1}
    assert [metric(page, name).inner_text() for name in TILES] == tiles
    no_exception(page)
