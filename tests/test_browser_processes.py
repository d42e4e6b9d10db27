"""Several app processes on one data folder with the collections data in PostgreSQL (README, "A team on
one workspace"), in a real browser.

Two `streamlit run serve.py` servers over the hand-worked ledger of conftest.py, both with
AR_COLLECTIONS_URL naming one database of the PostgreSQL server of tests/postgres.py, each page seen
through Debian's chromium. A call logged through the side panel of the first process, then 4 processes
writing 10 calls each at once while Alpha SARL's page is open (and run again) on the second: every
write is in the database once, and the second process's timeline, at its next run, shows the first's
call and the writers' newest calls, each once. Neither process says that another instance holds the
data folder (that notice is the embedded file's). Chromium is required: these tests fail without it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import browser
import pytest
from browser import Server
from playwright.sync_api import Browser, Page, expect
from test_browser import ledger_data_dir, no_exception, url
from test_browser_instances import HELD
from test_collections_processes import WRITER

from analytics.collections import CollectionsDB

PROCESSES, WRITES = 4, 10
FIRST_CALL = "Called from the first process"


@pytest.fixture
def shared(postgres, tmp_path: Path) -> tuple[Path, str]:
    """The data folder (the hand-worked ledger) and a new PostgreSQL database for its collections data."""
    return ledger_data_dir(tmp_path / "ledger"), postgres.database()


@pytest.fixture
def servers(shared: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    data_dir, address = shared
    started: list[Server] = []
    try:
        for name in ("first", "second"):
            started.append(
                browser.start_server(data_dir, tmp_path / f"{name}.log", env={"AR_COLLECTIONS_URL": address})
            )
        yield started[0], started[1]
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    finally:
        for server in started:
            browser.stop_server(server)


@pytest.fixture
def second_page(chromium: Browser) -> Iterator[Page]:
    """A browser context of its own (another user) for the second process."""
    context = chromium.new_context(viewport=browser.VIEWPORT)
    context.set_default_timeout(browser.APP_RUN_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def open_customer(page: Page, server: Server) -> None:
    browser.open_path(page, server, "/customer?customer=C1")
    expect(page.get_by_role("heading", name="Customer", exact=True)).to_be_visible()


def log_a_call(page: Page, comment: str) -> None:
    """Select I1 on Alpha SARL's view and log a call with `comment` through the side panel."""
    items = page.locator("[data-testid='stDataFrame']").filter(has_text="I1")
    expect(items.locator("table[role='grid']")).to_contain_text("I1")
    browser.click_grid_row(page, items, 0)
    page.get_by_role("button", name=re.compile(r"Qualify or log an action \(1 item\)")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("combobox", name="Log an action").click()
    page.get_by_role("option", name="Call", exact=True).click()
    browser.wait_for_app(page)
    dialog.get_by_label("Comment").fill(comment)
    browser.wait_for_app(page)
    dialog.get_by_role("button", name="Save", exact=True).click()
    browser.wait_for_app(page)
    expect(page.get_by_text("Saved: call logged.")).to_be_visible()


def timeline_comments(page: Page) -> list[str]:
    """The comments of the timeline's rows the grid shows, newest first."""
    timeline = page.locator("[data-testid='stDataFrame']").filter(has_text=FIRST_CALL)
    expect(timeline.locator("table[role='grid']")).to_contain_text("Call (reached)")
    timeline.scroll_into_view_if_needed()
    return browser.grid_column(timeline, "Comment")


def writers(data_dir: Path, address: str) -> list[subprocess.Popen[str]]:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data_dir), f"p{n}", str(WRITES)],
            cwd=browser.ROOT,
            env={**os.environ, "PYTHONPATH": str(browser.ROOT), "AR_COLLECTIONS_URL": address},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    for child in children:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
    return children


def test_two_processes_and_four_writers_on_one_database(
    servers: tuple[Server, Server], shared: tuple[Path, str], page: Page, second_page: Page
) -> None:
    """A call logged on the first process; 4 writers log 10 calls each at once while the second
    process's page of Alpha SARL is open and run again: the database holds the 41 calls, each comment
    once and 41 distinct ids; the second's timeline at its next run shows the first process's call
    and the newest writes, each once, in the timeline's order; no page says another instance holds
    the data folder."""
    first, second = servers
    data_dir, address = shared
    open_customer(second_page, second)
    no_exception(second_page)
    expect(
        second_page.get_by_text("No action or qualification recorded for this customer yet.")
    ).to_be_visible()

    open_customer(page, first)
    expect(page.get_by_text(HELD)).to_have_count(0)
    log_a_call(page, FIRST_CALL)
    no_exception(page)

    children = writers(data_dir, address)
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    # The second process runs its page while the writers write.
    while any(child.poll() is None for child in children):
        second_page.goto(url(second_page))
        browser.wait_for_app(second_page)
        no_exception(second_page)
    for child in children:
        out, err = child.communicate(timeout=120)
        assert (child.returncode, out.strip()) == (0, "done"), err

    with CollectionsDB(data_dir / "collections.duckdb", url=address) as db:
        actions = db.actions().sort("action_id")
    written = [FIRST_CALL] + [f"p{n}-{w}" for n in range(PROCESSES) for w in range(WRITES)]
    assert actions.height == len(written)
    assert actions.get_column("action_id").n_unique() == len(written)
    assert sorted(actions.get_column("comment")) == sorted(written)
    assert actions.get_column("comment")[0] == FIRST_CALL
    assert not (data_dir / "collections.duckdb").exists()  # nothing went to the embedded file

    second_page.goto(url(second_page))
    browser.wait_for_app(second_page)
    no_exception(second_page)
    expect(second_page.get_by_text(HELD)).to_have_count(0)
    # The timeline's order: newest date first (the side panel's call is dated the page's as-of date,
    # the writers' 2026-02-16), then newest saved, then newest id.
    story = actions.sort(["action_date", "recorded_at", "action_id"], descending=True)
    shown = timeline_comments(second_page)
    assert shown[0] == FIRST_CALL
    assert len(shown) >= 5 and shown == story.get_column("comment").to_list()[: len(shown)]
    browser.screenshot(second_page, "processes-second-timeline")

    open_customer(page, first)
    no_exception(page)
    expect(page.get_by_text(HELD)).to_have_count(0)
    assert timeline_comments(page) == shown
