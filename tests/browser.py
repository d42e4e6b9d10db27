"""Browser test harness: the app served by `streamlit run` on loopback, seen through Debian's chromium
driven by Playwright (the browser download of `playwright install` does not work here).

Owns starting and stopping a Streamlit server over a data folder, launching chromium, waiting for a
script run to finish, reading Streamlit's data grid and saving screenshots.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING_CHROMIUM = (
    f"{CHROMIUM} is missing: the browser tests need Debian's chromium (`apt-get install chromium`); "
    "CI installs it. `playwright install` does not work here and is not a substitute."
)
SERVER_START_SECONDS = 60.0
APP_RUN_MS = 20_000
VIEWPORT = {"width": 1400, "height": 1400}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running `streamlit run serve.py` (app.py, served) and where its output goes."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.is_file() else ""


def start_server(
    data_dir: Path,
    log: Path,
    timeout: float = SERVER_START_SECONDS,
    *,
    port: int | None = None,
    secrets_file: Path | None = None,
    run_log: Path | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Serve app.py over `data_dir` as run.py does (`streamlit run serve.py`) (no demo generation) and wait until /_stcore/health answers "ok".

    `port` defaults to a free one (pass one when a setting must name it beforehand, as the identity
    provider's redirect_uri does); `secrets_file` replaces the secrets.toml files Streamlit would read;
    `run_log` is the file the app records its script runs in (pages/_runs.py), for counting them;
    `env`: variables set for the server on top of this process's (AR_COLLECTIONS_URL, for one).
    Raises RuntimeError with the server's output when it exits or does not answer within `timeout`.
    """
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "serve.py",
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
    if secrets_file is not None:
        command += ["--secrets.files", str(secrets_file)]
    variables = {**os.environ, **(env or {}), "AR_DATA_DIR": str(data_dir), "AR_NO_DEMO": "1"}
    if run_log is not None:
        variables["AR_RUN_LOG"] = str(run_log)
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=variables, stdout=output, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}:\n{server.output()}")
        if _healthy(server.url):
            return server
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(
        f"streamlit did not answer {server.url}/_stcore/health in {timeout:.0f} s:\n{server.output()}"
    )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def stop_server(server: Server) -> None:
    """Terminate the server process (and only it), killing it if it does not stop in 10 s."""
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium, headless. A missing binary is an error, never a reason to skip."""
    if not CHROMIUM.is_file():
        raise RuntimeError(MISSING_CHROMIUM)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


APP_STATE_SCRIPT = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    const running = [...document.querySelectorAll("[data-testid='stStatusWidget']")].some(
        (widget) => widget.offsetParent !== null
    );
    return app ? [app.dataset.testConnectionState, app.dataset.testScriptState, running] : null;
}"""
SETTLED_SECONDS = 0.4


def wait_for_app(page: Page, timeout_ms: int = APP_RUN_MS) -> None:
    """Wait until the app is connected, its script is not running and no "Running" status widget is
    shown, and has stayed so for a moment (a run can start a second one, and the last elements are
    drawn just after the run ends). Raises TimeoutError with the last state seen."""
    deadline = time.monotonic() + timeout_ms / 1000
    settled_since: float | None = None
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(APP_STATE_SCRIPT)
        if state is not None and state[0] == "CONNECTED" and state[1] == "notRunning" and not state[2]:
            settled_since = settled_since or time.monotonic()
            if time.monotonic() - settled_since >= SETTLED_SECONDS:
                return
        else:
            settled_since = None
        page.wait_for_timeout(50)
    raise TimeoutError(
        f"the app did not finish running in {timeout_ms} ms (connection, script, running: {state})"
    )


def open_path(page: Page, server: Server, path: str) -> None:
    """Open a URL path of the app (e.g. "/data") and wait for its run to finish."""
    page.goto(f"{server.url}{path}", timeout=APP_RUN_MS)
    page.wait_for_selector("[data-testid='stApp']", timeout=APP_RUN_MS)
    wait_for_app(page)


def settled_box(element: Locator, timeout_ms: int = APP_RUN_MS) -> dict[str, float]:
    """The element's bounding box once it has stopped moving (the same on two looks 100 ms apart),
    for a click at a position inside it: a box measured while the page above still lays out (a
    notice, a chart drawn late) puts the click on a neighbour, a table's header for its first row."""
    element.wait_for(state="visible", timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    box = element.bounding_box()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        again = element.bounding_box()
        if again == box and box is not None:
            return box
        box = again
    raise AssertionError(f"{element} kept moving for {timeout_ms} ms")


# A Streamlit dataframe's rows are 35 px high, its header one row.
ROW_PX = 35


def click_grid_row(page: Page, grid: Locator, row: int) -> None:
    """Click the checkbox cell (left of the first column) of data row `row` (0 = the first) of a
    Streamlit dataframe drawn on a canvas, then wait for the app."""
    grid.scroll_into_view_if_needed()
    box = settled_box(grid)
    page.mouse.click(box["x"] + 12, box["y"] + ROW_PX + ROW_PX * row + ROW_PX / 2)
    wait_for_app(page)


def grid_cells(grid: Locator) -> list[list[str]]:
    """The grid's cells (header first), once its accessible mirror has its rows."""
    grid.locator("table[role='grid'] tbody tr").first.wait_for(state="attached", timeout=APP_RUN_MS)
    return grid_rows(grid)


def grid_column(grid: Locator, header: str) -> list[str]:
    """The cells of the grid's column `header`, top to bottom."""
    rows = grid_cells(grid)
    index = rows[0].index(header)
    return [row[index] for row in rows[1:]]


def grid_rows(grid: Locator) -> list[list[str]]:
    """The cells of a Streamlit dataframe, header row first, as text.

    The grid is drawn on a canvas; its accessible table mirrors the rendered rows for screen readers.
    """
    rows = grid.locator("table[role='grid'] tr")
    return [[cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in rows.all()]


def screenshot(page: Page, name: str) -> Path:
    """Save the viewport as screenshots/NAME.png at the project root (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def runs_in(run_log: Path, part: str) -> int:
    """How many script runs of `part` ('app', or a fragment's name) the app has recorded in `run_log`."""
    if not run_log.is_file():
        return 0
    return sum(line.split(" ", 1)[1] == part for line in run_log.read_text(encoding="utf-8").splitlines())
