"""The collections pages in a real browser: `streamlit run app.py` over a small demo company (80
customers, 4,000 documents, seed 5, as of 2026-11-20, with its collections history), seen through
Debian's chromium.

A team lead opens Collectors and finds the team table (one row per collector and the team median),
its charts, and, on selecting a collector's row, that collector's record. A credit manager opens
Recovery scenarios, copies Standard B2B as a new scenario, assigns it to a customer who has a step due
today, and finds that step proposed under the new scenario. Steps leave screenshots under screenshots/
(git-ignored).

The helpers `metric`, `no_exception` and `url` are those of test_browser.py. Chromium is required: when
/usr/bin/chromium is missing these tests fail, they never skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import browser
import pytest
from browser import Server
from playwright.sync_api import Locator, Page, expect
from test_browser import metric, no_exception, url

from analytics import contract, demo
from analytics.store import Store

DEMO_AS_OF = date(2026, 11, 20)
# The as-of date in the address: the sidebar's default is min(today, the data's last date).
AS_OF = f"as_of={DEMO_AS_OF.isoformat()}"
# The Collectors page's charts: the team on one figure, aging shares, CEI and DSO, actions by day, and
# the record against the team median.
CHARTS = 5
TEAM_MEDIAN = "Team median"
COPIED = "Standard B2B"
NEW_SCENARIO = "Key accounts (browser)"


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo company, written before the server starts: only one process can open collections.duckdb."""
    folder = tmp_path_factory.mktemp("browser-demo") / "data"
    demo.create(Store(folder), customers=80, documents=4000, seed=5, as_of=DEMO_AS_OF)
    assert (folder / "collections.duckdb").is_file()
    return folder


@pytest.fixture(scope="session")
def demo_server(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        running = browser.start_server(demo_dir, tmp_path_factory.mktemp("demo-server") / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running
    browser.stop_server(running)


def on_tab(page: Page, name: str) -> None:
    """Show tab `name` of the page's st.tabs. A rerun that adds or drops the notice above the tabs
    (_panel.collections_notice()) sends the page back to its first tab: click the tab again."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
        browser.wait_for_app(page)
    expect(tab).to_have_attribute("aria-selected", "true")


def choose(page: Page, tab: str, widget: Locator, option: str, typed: str | None = None) -> None:
    """Pick `option` in a selectbox on tab `tab` (typing `typed` first to filter a long list)."""
    combobox = widget.get_by_role("combobox")
    combobox.click()
    if typed:
        combobox.fill(typed)
    page.get_by_role("option", name=option, exact=True).click()
    browser.wait_for_app(page)
    on_tab(page, tab)
    expect(combobox).to_have_value(option)


def test_collectors_page_team_table_charts_and_a_record(
    page: Page, demo_server: Server, demo_dir: Path
) -> None:
    """The team table lists every collector of the demo's customers once, then the team median; the
    page draws its charts (team, aging shares, CEI and DSO, activity heatmap, against the median).
    Selecting another collector's row opens that collector's record, kept in the address."""
    browser.open_path(page, demo_server, f"/collectors?{AS_OF}")
    expect(page.get_by_role("heading", name="Collectors", exact=True)).to_be_visible()
    team = page.locator(".st-key-collectors_table_0 [data-testid='stDataFrame']")
    expect(team.locator("table[role='grid']")).to_contain_text(TEAM_MEDIAN)
    header, *rows = browser.grid_rows(team)
    assert header[:3] == ["Collector", "Flags", "Customers"]
    names = [row[0] for row in rows]
    collectors = Store(demo_dir).read(contract.CUSTOMERS).get_column("collector").drop_nulls().unique()
    assert names[-1] == TEAM_MEDIAN
    assert sorted(names[:-1]) == sorted(collectors.to_list())
    assert len(names[:-1]) >= 2
    # Sorted by flags, most flagged first; the first collector's record is open.
    flags = [int(row[1]) for row in rows[:-1]]
    assert flags == sorted(flags, reverse=True)
    expect(page.get_by_role("heading", name=f"{names[0]}'s record", exact=True)).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS)
    browser.screenshot(page, "30_collectors_team")
    no_exception(page)

    chosen = names[1]
    browser.click_grid_row(page, team, 1)
    expect(page.get_by_role("heading", name=f"{chosen}'s record", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=f"{names[0]}'s record", exact=True)).to_have_count(0)
    main = page.locator("[data-testid='stMain']")
    expect(main.get_by_role("combobox", name="Collector", exact=True)).to_have_value(chosen)
    assert parse_qs(urlparse(url(page)).query)["collector"] == [chosen]
    expect(metric(page, "CEI")).to_have_text(re.compile(r"^(\d+\.\d%|-)$"))
    expect(page.get_by_text(f"New note on {chosen}")).to_be_attached()
    expect(page.locator(".js-plotly-plot")).to_have_count(CHARTS)
    # The team table stays, with the chosen collector in it.
    team = page.locator("[data-testid='stDataFrame']").filter(has_text=TEAM_MEDIAN)
    expect(team.locator("table[role='grid']")).to_contain_text(chosen)
    # The record at the top of the view: its figures and first charts.
    page.get_by_role("heading", name=f"{chosen}'s record", exact=True).evaluate("e => e.scrollIntoView()")
    browser.screenshot(page, "31_collectors_record")
    no_exception(page)


def test_create_a_scenario_assign_it_and_see_its_proposal(page: Page, demo_server: Server) -> None:
    """Copy Standard B2B as a new scenario, edit its description and save it (version 2, same steps);
    assign it explicitly to a customer with a Standard B2B step due today: the same step is now
    proposed under the new scenario, and the customer stands on it."""
    browser.open_path(page, demo_server, f"/scenarios?{AS_OF}")
    expect(page.get_by_role("heading", name="Recovery scenarios", exact=True)).to_be_visible()

    # A customer with a step of Standard B2B due today, from the proposals table.
    proposals = page.locator("[data-testid='stDataFrame']").filter(has_text="Customer").first
    expect(proposals.locator("table[role='grid']")).to_contain_text(COPIED)
    header, *rows = browser.grid_rows(proposals)
    assert header[:4] == ["Customer", "Id", "Scenario", "Step"]
    due = [row for row in rows if row[2] == COPIED]
    assert due, rows
    customer_name, customer_id, _, step = due[0][:4]

    # The Scenarios tab: copy Standard B2B under a new name.
    on_tab(page, "Scenarios")
    choose(page, "Scenarios", page.locator(".st-key-scenario_edit_choice"), COPIED)
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value(COPIED)
    copy_name = page.get_by_placeholder("Name of the copy")
    copy_name.fill(NEW_SCENARIO)
    copy_name.press("Enter")
    browser.wait_for_app(page)
    page.locator(".st-key-scenario_copy button").click()
    browser.wait_for_app(page)
    expect(page.get_by_text(f"Copied {COPIED} as {NEW_SCENARIO}.")).to_be_visible()
    # The copy is now the scenario being edited: change its description and save it.
    on_tab(page, "Scenarios")
    expect(page.locator(".st-key-scenario_edit_choice").get_by_role("combobox")).to_have_value(NEW_SCENARIO)
    expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value(NEW_SCENARIO)
    description = page.get_by_role("textbox", name="Description", exact=True)
    description.fill("Copied from Standard B2B in the browser test")
    description.press("Enter")
    browser.wait_for_app(page)
    on_tab(page, "Scenarios")  # that rerun dropped the notice
    expect(description).to_have_value("Copied from Standard B2B in the browser test")
    page.locator(".st-key-scenario_save button").click()
    browser.wait_for_app(page)
    saved = page.get_by_text(re.compile(rf"^Saved: {re.escape(NEW_SCENARIO)}, version 2, \d+ steps\.$"))
    expect(saved).to_be_visible()
    on_tab(page, "Scenarios")
    # (A dataframe without selection gets no st-key-* class: found by its header.)
    overview = page.locator("[data-testid='stDataFrame']").filter(has_text="Friendly phase ends (days)")
    expect(overview.locator("table[role='grid']")).to_contain_text(NEW_SCENARIO)
    by_name = {row[0]: row for row in browser.grid_rows(overview)[1:]}
    assert by_name[NEW_SCENARIO][1] == by_name[COPIED][1]  # the same steps
    browser.screenshot(page, "32_scenarios_created")
    no_exception(page)

    # The Assignment tab: the customer follows the new scenario explicitly.
    on_tab(page, "Assignment")
    customer = f"{customer_name} ({customer_id})"
    choose(page, "Assignment", page.locator(".st-key-scenario_assign_customer"), customer, customer_id)
    choose(page, "Assignment", page.locator(".st-key-scenario_assign_to"), NEW_SCENARIO)
    assign = page.locator(".st-key-scenario_assign button")
    expect(assign).to_be_enabled()
    assign.click()
    browser.wait_for_app(page)
    expect(page.get_by_text(f"{customer} now follows {NEW_SCENARIO}.")).to_be_visible()
    no_exception(page)

    # The Today tab: the step is proposed under the new scenario.
    on_tab(page, "Today")
    choose(page, "Today", page.locator(".st-key-scenario_filter"), NEW_SCENARIO)
    proposals = page.locator("[data-testid='stDataFrame']").filter(has_text="Customer").first
    expect(proposals.locator("table[role='grid']")).to_contain_text(NEW_SCENARIO)
    assert [row[:4] for row in browser.grid_rows(proposals)[1:]] == [
        [customer_name, customer_id, NEW_SCENARIO, step]
    ]
    standing = page.locator("[data-testid='stExpander']").filter(has_text="Where every customer stands")
    standing.get_by_text(re.compile(r"^Where every customer stands \(\d+\)$")).click()
    # Where every customer stands: due steps first, by date, so the customer's row (an early step due)
    # is among the first drawn (the grid mirrors only the rows in view).
    positions = standing.locator("[data-testid='stDataFrame']")
    expect(positions.locator("table[role='grid']")).to_contain_text(customer_id)
    header, *rows = browser.grid_rows(positions)
    assert header[:5] == ["Customer", "Id", "Scenario", "Status", "Step"]
    assert [row[:5] for row in rows if row[1] == customer_id] == [
        [customer_name, customer_id, NEW_SCENARIO, "Step due", step]
    ]
    standing.scroll_into_view_if_needed()
    browser.screenshot(page, "33_scenarios_proposals")
    no_exception(page)
