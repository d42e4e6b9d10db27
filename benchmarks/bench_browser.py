"""Browser benchmark: what a person waits for, from a click to an idle app, in Debian's chromium.

    .venv/bin/python benchmarks/bench_browser.py [--documents 1000000] [--customers N] [--runs 5]
        [--only pages,aging,worklist,customer,first]
        [--json FILE] [--screenshots]

The data is the demo company (`analytics.demo.create`: --documents documents, by default 1,000,000, and
--customers customers, by default documents / 500 and at least 300, seed 7, as of 2026-11-20, with its
collections history), written once under benchmarks/output/ (git-ignored) and reused by later runs;
its collections database is put back as written before every server start, so that the saves of one
run do not pile up into the next. The app is served by `streamlit run serve.py` (as `run.py app` serves it) on loopback over that
folder (AR_DATA_DIR, AR_NO_DEMO: as tests/browser.py serves it) and driven by Playwright's sync API in
headless chromium.

Each interaction is timed in the page: from the input event (the `pointerdown` or `keydown` that
Playwright dispatches, its `event.timeStamp`) to the moment the app was first idle again, as a
MutationObserver installed in every document records it (`performance.now()` at the change): the
websocket connected (`data-test-connection-state` "CONNECTED"), the script not running
(`data-test-script-state` "notRunning"; Streamlit 1.67 also has "initial", "running",
"rerunRequested", "stopRequested", "compilationError") and no `stStatusWidget` element. The wait first
sees the app leave idle (a rerun was asked for; a short timeout, else the row fails), then waits until
it has been idle for SETTLE_MS, so that a run that starts a second one (st.rerun()) is timed to the end
of the second; the time is that of the last change to idle. A page load is timed from the navigation's
start (`performance.timeOrigin`) the same way. Every interaction checks what a person would see (the
heading of the page, the breadcrumb, the dialog, the "Saved" message); a check that fails makes the row
"failed: reason", never a time.

One server serves every round: a warm-up round, untimed, then --runs timed rounds, each in a new
browser context (a new session): open each page of the sidebar; on the aging balance open a drill
row (a click on its name), go back by the breadcrumb, click a bar segment of the chart, switch "Overdue beyond" to +30,
+60, +90 and back, change the buckets and back; on the worklist select a customer, open the side panel,
fill it (log a call), save; on the customer page switch customers. "First page after a server start"
is timed on --runs + 1 fresh servers (the first untimed), each the first request after health answers.

The floor is a bare Streamlit page (a title, a button, a small dataframe) served and timed the same way
in the same run: its button click and its page load. Figures are medians and 95th percentiles
(nearest rank: with fewer than 20 runs that is the slowest run).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "benchmarks" / "output"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics.worklist import SECTIONS as WORKLIST_SECTIONS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1400}
AS_OF = date(2026, 11, 20)
SEED = 7
RUNS = 5
# What --only chooses among: opening each page, the aging, worklist and customer interactions, the first
# page after a server start.
PARTS = ("pages", "aging", "worklist", "customer", "first")
DOCUMENTS = 1_000_000
SERVER_START_S = 120.0
# A rerun must have started this soon after the input (Streamlit marks "rerunRequested" at once).
START_MS = 3_000
# How long the app must stay idle to count as done (a run can start a second one).
SETTLE_MS = 600
RUN_MS = 120_000
ROW_PX = 35

# Targets, in ms: (median, p95) for an in-page interaction, a bound on the median otherwise.
IN_PAGE = "in-page"
PAGE_OPEN = "page open"
FIRST_PAGE = "first page"
SAVE = "save"
TARGETS = {IN_PAGE: (300, 500), PAGE_OPEN: (1000, None), FIRST_PAGE: (3000, None), SAVE: (500, None)}

# Installed in every document before its scripts: records each change of the app's idle state.
PROBE = """(() => {
  if (window.__bench) return;
  const bench = { log: [], state: "no app", lastChange: 0, doneAt: 0, input: null, armed: false, mark: 0, markTime: 0 };
  // The status widget leaves with a 200 ms transition after the run: "done" is when it began to.
  const quiet = (state) => state === "idle" || state === "status widget";
  window.__bench = bench;
  const stateNow = () => {
    const app = document.querySelector("[data-testid='stApp']");
    if (!app) return "no app";
    const connection = app.dataset.testConnectionState;
    if (connection !== "CONNECTED") return "connection " + connection;
    const script = app.dataset.testScriptState;
    if (script !== "notRunning") return "script " + script;
    if (document.querySelector("[data-testid='stStatusWidget']")) return "status widget";
    return "idle";
  };
  const update = () => {
    const state = stateNow();
    if (state !== bench.state) {
      if (quiet(state) && !quiet(bench.state)) bench.doneAt = performance.now();
      bench.state = state;
      bench.lastChange = performance.now();
      bench.log.push([bench.lastChange, state]);
    }
  };
  bench.update = update;
  bench.arm = () => {
    bench.input = null;
    bench.armed = true;
    bench.mark = bench.log.length;
    bench.markTime = performance.now();
  };
  // A fast run's "running" and "notRunning" can reach the page in one React commit, leaving the
  // attribute unchanged: the websocket says it all the same (the rerun asked for, the run's messages).
  bench.lastSend = 0;
  bench.lastMessage = 0;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", () => { bench.lastMessage = performance.now(); });
    }
    send(data) {
      bench.lastSend = performance.now();
      return super.send(data);
    }
  };
  bench.started = () =>
    bench.state !== "idle" ||
    bench.lastSend > bench.markTime ||
    bench.log.slice(bench.mark).some(([, s]) => s !== "idle");
  const onInput = (event) => {
    if (bench.armed) {
      bench.input = event.timeStamp;
      bench.armed = false;
    }
  };
  window.addEventListener("pointerdown", onInput, true);
  window.addEventListener("keydown", onInput, true);
  new MutationObserver(update).observe(document, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["data-test-script-state", "data-test-connection-state"],
  });
})();"""
SETTLED = """(settle) => {
  const b = window.__bench;
  if (!b || b.state !== "idle") return false;
  const end = Math.max(b.lastChange, b.lastMessage);
  // Idle since the input, and the server has answered the last message the page sent.
  const answered = b.lastSend <= b.markTime || b.lastMessage > b.lastSend;
  return end > b.markTime && answered && performance.now() - end >= settle;
}"""


# Milliseconds to the app's settled idle, and to its script's end.
Timing = tuple[float, float]


class Failed(Exception):
    """An interaction whose expected outcome did not show: its row says why."""


# --- data and servers --------------------------------------------------------------------------------
def demo_folder(documents: int, customers: int) -> Path:
    """The demo company's data folder under benchmarks/output/, written once (complete or not at all)."""
    from analytics import demo
    from analytics.store import Store

    home = OUTPUT / f"browser-demo-{documents}-{customers}-{AS_OF.isoformat()}"
    data = home / "data"
    pristine = home / "collections.pristine.duckdb"
    if pristine.is_file():
        return data
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    started = time.perf_counter()
    demo.create(Store(data), customers=customers, documents=documents, seed=SEED, as_of=AS_OF)
    shutil.copyfile(data / "collections.duckdb", home / "collections.tmp")
    (home / "collections.tmp").rename(pristine)
    print(f"demo written in {time.perf_counter() - started:.1f} s: {data}")
    return data


def restore_collections(data: Path) -> None:
    """Put the collections database back as the demo wrote it (the saves of earlier runs dropped)."""
    for stale in data.glob("collections.duckdb*"):
        stale.unlink()
    shutil.copyfile(data.parent / "collections.pristine.duckdb", data / "collections.duckdb")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        """Terminate this server process (only it), killing it if it does not stop in 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(script: Path, cwd: Path, log: Path, env: dict[str, str]) -> Server:
    """`streamlit run SCRIPT --server.headless true --server.port P` on loopback, once /_stcore/health
    answers "ok"."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"streamlit did not answer {server.url}/_stcore/health in {SERVER_START_S:.0f} s")


def app_server(data: Path, log: Path) -> Server:
    restore_collections(data)
    return start_server(ROOT / "serve.py", ROOT, log, {"AR_DATA_DIR": str(data), "AR_NO_DEMO": "1"})


FLOOR_APP = """import streamlit as st

st.title("Floor")
st.session_state.setdefault("clicks", 0)
if st.button("Click me"):
    st.session_state["clicks"] += 1
st.write(f"Clicks: {st.session_state['clicks']}")
st.dataframe({"name": ["a", "b", "c", "d"], "amount": [1.5, 2.25, 3.0, 4.75]})
"""


# --- timing in the page ------------------------------------------------------------------------------
def new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(PROBE)
    page = context.new_page()
    page.set_default_timeout(RUN_MS)
    return page


def wait_idle(page: Page) -> Timing:
    """Wait until the app has been idle for SETTLE_MS; the performance.now() when it became idle, and
    when its script was last done (connected, not running: the status widget may still be leaving)."""
    try:
        page.wait_for_function(SETTLED, arg=SETTLE_MS, polling="raf", timeout=RUN_MS)
    except Exception as error:
        state = page.evaluate("() => window.__bench && __bench.state")
        raise Failed(f"not idle after {RUN_MS / 1000:.0f} s (state: {state})") from error
    # When the state never left idle (see PROBE), the run ended with its last message.
    return tuple(
        page.evaluate(
            "() => [Math.max(__bench.lastChange, __bench.lastMessage), Math.max(__bench.doneAt, __bench.lastMessage)]"
        )
    )


def timed(page: Page, action: Callable[[], None]) -> Timing:
    """Milliseconds from the input that `action` makes to the app's next settled idle (and to its
    script's end)."""
    page.evaluate("() => { __bench.update(); __bench.arm(); }")
    action()
    try:
        page.wait_for_function("() => __bench.started()", polling="raf", timeout=START_MS)
    except Exception as error:
        raise Failed(f"no rerun started within {START_MS} ms of the input") from error
    idle, done = wait_idle(page)
    start = page.evaluate("() => __bench.input === null ? __bench.markTime : __bench.input")
    return idle - start, done - start


def load(page: Page, url: str) -> Timing:
    """Milliseconds from the navigation's start to the app's first settled idle."""
    page.goto(url, wait_until="commit", timeout=RUN_MS)
    page.wait_for_function("() => window.__bench !== undefined", timeout=RUN_MS)
    return wait_idle(page)


def expect_visible(page: Page, selector_or_locator, what: str, timeout_ms: int = 5_000) -> None:
    locator = (
        page.locator(selector_or_locator) if isinstance(selector_or_locator, str) else selector_or_locator
    )
    try:
        locator.first.wait_for(state="visible", timeout=timeout_ms)
    except Exception as error:
        raise Failed(f"{what} did not show") from error


def expect_gone(page: Page, selector: str, what: str, timeout_ms: int = 5_000) -> None:
    try:
        page.locator(selector).first.wait_for(state="detached", timeout=timeout_ms)
    except Exception as error:
        raise Failed(f"{what} still shown") from error


def no_exception(page: Page) -> None:
    shown = page.locator("[data-testid='stException']")
    if shown.count():
        raise Failed(f"the page shows an exception: {shown.first.inner_text()[:200]!r}")


# --- what is measured --------------------------------------------------------------------------------
@dataclass
class Row:
    name: str
    kind: str
    samples: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    failure: str | None = None

    def add(self, measure: Callable[[], Timing], keep: bool) -> None:
        if self.failure:
            return
        try:
            value = measure()
        except Failed as failed:
            self.failure = str(failed)
            return
        if keep:
            self.samples.append(value[0])
            self.done.append(value[1])

    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples and not self.failure else None

    def p95(self) -> float | None:
        if not self.samples or self.failure:
            return None
        ordered = sorted(self.samples)
        return ordered[math.ceil(0.95 * len(ordered)) - 1]

    def target(self) -> str:
        median, p95 = TARGETS[self.kind]
        return f"median <= {median}" + (f", p95 <= {p95}" if p95 else "")

    def met(self) -> str:
        if self.failure:
            return "failed"
        median, p95 = TARGETS[self.kind]
        ok = self.median() <= median and (p95 is None or self.p95() <= p95)
        return "met" if ok else "NOT met"


class Rows(dict[str, Row]):
    def get_row(self, name: str, kind: str) -> Row:
        if name not in self:
            self[name] = Row(name, kind)
        return self[name]


class Session:
    """One browser session on the app: the interactions of one round, in order."""

    def __init__(
        self,
        page: Page,
        server: Server,
        rows: Rows,
        keep: bool,
        run: int,
        shots: Path | None,
        parts: frozenset[str] = frozenset(PARTS),
    ):
        self.parts = parts
        self.page, self.server, self.rows, self.keep, self.run, self.shots = (
            page,
            server,
            rows,
            keep,
            run,
            shots,
        )

    def measure(self, name: str, kind: str, action: Callable[[], Timing]) -> bool:
        row = self.rows.get_row(name, kind)
        row.add(action, self.keep)
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            slug = "".join(c if c.isalnum() else "_" for c in name)[:60]
            self.page.screenshot(path=str(self.shots / f"run{self.run}_{slug}.png"))
        return row.failure is None

    def open_from_sidebar(self, title: str) -> Timing:
        page = self.page
        link = page.locator(f"[data-testid='stSidebarNavLink']:has(span[label={json.dumps(title)}])").first
        if not link.count():
            raise Failed(f"no sidebar link {title!r}")
        elapsed = timed(page, lambda: link.click())
        expect_visible(page, page.get_by_role("heading", name=title, exact=True), f"the heading {title!r}")
        no_exception(page)
        return elapsed

    def sidebar_titles(self) -> list[str]:
        labels = self.page.locator("[data-testid='stSidebarNavLink'] span[label]")
        return [label.get_attribute("label") for label in labels.all()]

    def round(self) -> None:
        page = self.page
        page.goto(self.server.url + "/", wait_until="commit")
        wait_idle(page)
        expect_visible(page, page.get_by_role("heading", name="Overview", exact=True), "the overview")
        titles = [t for t in self.sidebar_titles() if t != "Overview"] + ["Overview"]
        if "pages" in self.parts:
            for title in titles:
                self.measure(f"open {title}", PAGE_OPEN, lambda title=title: self.open_from_sidebar(title))
        if "Aging balance" in titles and "aging" in self.parts:
            self.aging()
        if "Worklist" in titles and "worklist" in self.parts:
            self.worklist()
        if "Customer" in titles and "customer" in self.parts:
            self.customer()

    # --- the aging balance
    def aging(self) -> None:
        if not self.measure(
            "open Aging balance (again)", PAGE_OPEN, lambda: self.open_from_sidebar("Aging balance")
        ):
            return
        self.measure("aging: open a drill row (click its name)", IN_PAGE, self.drill_row)
        self.measure("aging: back by the breadcrumb", IN_PAGE, self.breadcrumb_back)
        self.measure("aging: click a chart segment", IN_PAGE, self.chart_segment)
        for label in ("+30", "+60", "+90", "All items"):
            self.measure(f"aging: overdue beyond {label}", IN_PAGE, lambda label=label: self.beyond(label))
        self.measure("aging: buckets 30,60,90,120", IN_PAGE, lambda: self.buckets("30,60,90,120", 6))
        self.measure("aging: buckets back to 30,60,90", IN_PAGE, lambda: self.buckets("30,60,90", 5))

    def drill_row(self) -> Timing:
        page = self.page
        grid = page.locator("[class*='st-key-drill_table_'] [data-testid='stDataFrame']").first
        expect_visible(page, grid, "the drill table")
        if page.locator(".st-key-crumb_0").count():
            raise Failed("already drilled before the click")
        first = grid.locator("table[role='grid'] tbody tr").first.locator("td").first.inner_text().strip()
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        elapsed = timed(page, lambda: page.mouse.click(box["x"] + 12, box["y"] + ROW_PX + ROW_PX / 2))
        crumb = page.locator(".st-key-crumb_0")
        expect_visible(page, crumb, "the breadcrumb step")
        if first and first not in crumb.inner_text():
            raise Failed(f"the breadcrumb says {crumb.inner_text()!r}, not the row {first!r}")
        no_exception(page)
        return elapsed

    def breadcrumb_back(self) -> Timing:
        page = self.page
        button = page.locator(".st-key-crumb_all button")
        if not page.locator(".st-key-crumb_0").count():
            raise Failed("no breadcrumb step to go back from")
        elapsed = timed(page, lambda: button.click())
        expect_gone(page, ".st-key-crumb_0", "the breadcrumb step")
        no_exception(page)
        return elapsed

    def active_pills(self) -> list[str]:
        return self.page.locator(".st-key-bucket_filter button[aria-pressed='true']").all_inner_texts()

    def chart_segment(self) -> Timing:
        page = self.page
        bars = page.locator("[class*='st-key-aging_chart_'] .js-plotly-plot .barlayer path")
        expect_visible(page, bars, "a bar of the chart")
        page.locator("[class*='st-key-aging_chart_']").first.scroll_into_view_if_needed()
        box = None
        for index in range(bars.count()):
            candidate = bars.nth(index).bounding_box()
            if candidate and candidate["width"] >= 4 and candidate["height"] >= 4:
                box = candidate
                break
        if box is None:
            raise Failed("no bar segment large enough to click")
        if self.active_pills():
            raise Failed("a bucket filter was on before the click")
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        elapsed = timed(page, lambda: page.mouse.click(x, y))
        if len(self.active_pills()) != 1:
            raise Failed(f"bucket filter after the click: {self.active_pills()}")
        no_exception(page)
        # Untimed: clear the filter for the next interactions.
        active = page.locator(".st-key-bucket_filter button[aria-pressed='true']").first
        timed(page, lambda: active.click())
        return elapsed

    def beyond(self, label: str) -> Timing:
        page = self.page
        control = page.locator(".st-key-beyond")
        button = control.get_by_role("radio", name=label, exact=True)
        expect_visible(page, button, f"the {label!r} switch")
        elapsed = timed(page, lambda: button.click())
        caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text="As of ").first
        text = caption.inner_text()
        days = label.lstrip("+")
        if label == "All items":
            if "days past due" in text:
                raise Failed(f"caption still restricted: {text!r}")
        elif f"more than {days} days past due" not in text:
            raise Failed(f"caption does not say {days} days: {text!r}")
        no_exception(page)
        return elapsed

    def buckets(self, preset: str, count: int) -> Timing:
        page = self.page
        box = page.locator(".st-key-buckets").get_by_role("combobox")
        box.click()
        option = page.get_by_role("option", name=preset, exact=True)
        expect_visible(page, option, f"the option {preset!r}")
        elapsed = timed(page, lambda: option.click())
        pills = page.locator(".st-key-bucket_filter button[aria-pressed]")
        if pills.count() != count:
            raise Failed(f"{pills.count()} bucket pills after choosing {preset}, not {count}")
        no_exception(page)
        return elapsed

    # --- the worklist
    def worklist(self) -> None:
        if not self.measure("open Worklist (again)", PAGE_OPEN, lambda: self.open_from_sidebar("Worklist")):
            return
        steps = [
            ("worklist: select a customer", IN_PAGE, self.select_customer),
            ("worklist: open the side panel", IN_PAGE, self.open_panel),
            ("worklist: fill the panel (log a call)", IN_PAGE, self.fill_panel),
            ("worklist: save", SAVE, self.save_panel),
        ]
        for name, kind, step in steps:
            if not self.measure(name, kind, step):
                return

    def select_customer(self) -> Timing:
        page = self.page
        # The first section's table (keys worklist_<section>_<nonce>) that is open.
        sections = ", ".join(f"[class*='st-key-worklist_{section}_']" for section in WORKLIST_SECTIONS)
        grid = page.locator(f":is({sections}) [data-testid='stDataFrame']").filter(
            has=page.locator("table[role='grid'] tbody tr")
        )
        expect_visible(page, grid, "a worklist section's table")
        grid = grid.first
        grid.scroll_into_view_if_needed()
        rows = grid.locator("table[role='grid'] tbody tr")
        row = self.run % min(3, rows.count())
        customer_id = rows.nth(row).locator("td").nth(1).inner_text().strip()
        box = grid.bounding_box()
        elapsed = timed(page, lambda: page.mouse.click(box["x"] + 12, box["y"] + ROW_PX * (row + 1.5)))
        heading = page.get_by_role("heading", name=f"({customer_id})")
        expect_visible(page, heading, f"the customer {customer_id}'s items")
        expect_visible(page, ".st-key-worklist_panel button", "the side panel's button")
        no_exception(page)
        return elapsed

    def open_panel(self) -> Timing:
        page = self.page
        button = page.locator(".st-key-worklist_panel button")
        elapsed = timed(page, lambda: button.click())
        expect_visible(page, page.get_by_role("dialog"), "the side panel")
        no_exception(page)
        return elapsed

    def fill_panel(self) -> Timing:
        page = self.page
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("combobox", name="Log an action").click()
        option = page.get_by_role("option", name="Call", exact=True)
        expect_visible(page, option, "the action 'Call'")
        elapsed = timed(page, lambda: option.click())
        expect_visible(page, dialog.get_by_role("combobox", name="Outcome"), "the call's outcome")
        dialog.get_by_label("Comment").fill(f"Benchmark call {time.time_ns()}")
        no_exception(page)
        return elapsed

    def save_panel(self) -> Timing:
        page = self.page
        save = page.get_by_role("dialog").get_by_role("button", name="Save", exact=True)
        elapsed = timed(page, lambda: save.click())
        expect_visible(page, page.get_by_text("Saved: call logged."), "the message 'Saved: call logged.'")
        no_exception(page)
        return elapsed

    # --- the customer page
    def customer(self) -> None:
        if not self.measure("open Customer (again)", PAGE_OPEN, lambda: self.open_from_sidebar("Customer")):
            return
        self.measure("customer: switch customers", IN_PAGE, self.switch_customer)

    def switch_customer(self) -> Timing:
        page = self.page
        box = page.locator("[class*='st-key-customer_pick_']").get_by_role("combobox")
        before = box.input_value()
        box.click()
        option = page.get_by_role("option").nth(1 + self.run % 4)
        expect_visible(page, option, "a second customer in the list")
        wanted = option.inner_text().strip()
        elapsed = timed(page, lambda: option.click())
        after = page.locator("[class*='st-key-customer_pick_']").get_by_role("combobox").input_value()
        if after == before or after != wanted:
            raise Failed(f"the customer shown is {after!r}, not {wanted!r}")
        no_exception(page)
        return elapsed


def first_pages(browser: Browser, data: Path, rows: Rows, runs: int, logs: Path) -> None:
    """The first page after a server start, on runs + 1 fresh servers (the first untimed)."""
    row = rows.get_row("first page after a server start (overview)", FIRST_PAGE)
    for run in range(runs + 1):
        server = app_server(data, logs / f"first-{run}.log")
        try:
            page = new_page(browser)

            def measure(page=page, server=server) -> Timing:
                elapsed = load(page, server.url + "/")
                expect_visible(page, page.get_by_role("heading", name="Overview", exact=True), "the overview")
                no_exception(page)
                return elapsed

            row.add(measure, keep=run > 0)
            page.context.close()
        finally:
            server.stop()


def floor(browser: Browser, rows: Rows, runs: int, scratch: Path) -> None:
    """The bare page: a button click and a page load, timed the same way."""
    script = scratch / "floor_app.py"
    script.write_text(FLOOR_APP, encoding="utf-8")
    server = start_server(script, scratch, scratch / "floor.log", {})
    click = rows.get_row("floor: button click", IN_PAGE)
    page_load = rows.get_row("floor: page load", PAGE_OPEN)
    try:
        for run in range(runs + 1):
            page = new_page(browser)

            def loaded(page=page) -> Timing:
                elapsed = load(page, server.url + "/")
                expect_visible(page, page.get_by_text("Clicks: 0"), "the bare page")
                return elapsed

            def clicked(page=page) -> Timing:
                button = page.get_by_role("button", name="Click me")
                elapsed = timed(page, lambda: button.click())
                expect_visible(page, page.get_by_text("Clicks: 1"), "the click's count")
                return elapsed

            page_load.add(loaded, keep=run > 0)
            click.add(clicked, keep=run > 0)
            page.context.close()
    finally:
        server.stop()


# --- report ------------------------------------------------------------------------------------------
def report(rows: Rows, loads: dict[str, tuple[float, float, float]]) -> str:
    """The table: per interaction its median and p95 to idle, the median to the script's end, the
    ratio of the median to the floor's (its click for in-page rows, its page load for pages) and the
    target."""
    click = rows["floor: button click"].median()
    page_load = rows["floor: page load"].median()
    lines = [
        "| interaction | median ms | p95 ms | script done, median ms | / floor | target (ms) | |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows.values():
        base = click if row.kind in (IN_PAGE, SAVE) else page_load
        if row.failure:
            lines.append(f"| {row.name} | failed: {row.failure} | | | | {row.target()} | failed |")
            continue
        ratio = f"{row.median() / base:.1f}x" if base else "-"
        target, met = row.target(), row.met()
        if row.name.startswith("floor:"):
            target, met = "", ""
        done = statistics.median(row.done)
        lines.append(
            f"| {row.name} | {row.median():,.0f} | {row.p95():,.0f} | {done:,.0f} | {ratio} | {target} | {met} |"
        )
    lines.append("")
    for moment, (one, five, fifteen) in loads.items():
        lines.append(f"load average at {moment}: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--documents", type=int, default=DOCUMENTS, help=f"demo documents (default {DOCUMENTS:,})"
    )
    parser.add_argument(
        "--customers", type=int, help="demo customers (default documents / 500, at least 300)"
    )
    parser.add_argument(
        "--runs", type=int, default=RUNS, help=f"timed rounds after one warm-up (default {RUNS})"
    )
    parser.add_argument(
        "--only",
        type=lambda text: frozenset(part.strip() for part in text.split(",")),
        default=frozenset(PARTS),
        help=f"the parts to time, comma-separated among {', '.join(PARTS)} (default all; the floor always)",
    )
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    parser.add_argument("--screenshots", action="store_true", help="a screenshot after each interaction")
    args = parser.parse_args()
    customers = args.customers or max(300, args.documents // 500)
    if unknown := args.only - set(PARTS):
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}; choose among {', '.join(PARTS)}")

    loads = {"start": os.getloadavg()}
    print(f"load average at start: {loads['start']}; {os.cpu_count()} cores")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    data = demo_folder(args.documents, customers)
    print(f"data: {args.documents:,} documents, {customers:,} customers, as of {AS_OF}: {data}")
    scratch = Path(tempfile.mkdtemp(prefix="bench-browser-", dir=OUTPUT))
    shots = OUTPUT / "browser-screenshots" if args.screenshots else None
    rows = Rows()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            floor(browser, rows, args.runs, scratch)
            server = app_server(data, scratch / "app.log")
            try:
                for run in range(args.runs + 1):
                    page = new_page(browser)
                    try:
                        Session(
                            page, server, rows, keep=run > 0, run=run, shots=shots, parts=args.only
                        ).round()
                    except Failed as failed:
                        rows.get_row("round", IN_PAGE).failure = f"round {run}: {failed}"
                    finally:
                        page.context.close()
                    print(
                        f"round {run} done ({'timed' if run else 'warm-up'}), load {os.getloadavg()[0]:.2f}"
                    )
            finally:
                server.stop()
            if "first" in args.only:
                first_pages(browser, data, rows, args.runs, scratch)
            browser.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    loads["end"] = os.getloadavg()
    print(f"\n{args.documents:,} documents, {customers:,} customers; {args.runs} runs after a warm-up\n")
    print(report(rows, loads))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "documents": args.documents,
                    "customers": customers,
                    "as_of": AS_OF.isoformat(),
                    "runs": args.runs,
                    "settle_ms": SETTLE_MS,
                    "load_average": loads,
                    "rows": [
                        {
                            "name": row.name,
                            "kind": row.kind,
                            "samples_ms": row.samples,
                            "script_done_ms": row.done,
                            "median_ms": row.median(),
                            "p95_ms": row.p95(),
                            "failure": row.failure,
                            "target": row.target(),
                            "met": row.met(),
                        }
                        for row in rows.values()
                    ],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
