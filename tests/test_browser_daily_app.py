"""`python -m analytics daily` while the app runs: a real `streamlit run serve.py` over the hand-worked
ledger of conftest.py holds DIR/collections.duckdb (DuckDB: one process), so the command hands the
run to the app (POST /_ar/daily with the token of DIR/.app.json), which sends through a real SMTP
server on loopback. At 2026-02-14 Alpha SARL (C1) is 5 days late on I1 (1,000.00 EUR): Standard
B2B's automatic +5 d e-mail to compta@alpha.test is the one automatic step due. Chromium opens the
Recovery scenarios page (so that the app holds the database, as it does once anyone has used it),
and sees the step gone once the command has sent it. Chromium is required: these tests never skip."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import browser
import pytest
from mailserver import mail_server
from playwright.sync_api import Page, expect

from analytics import app_link, scenarios
from analytics.collections import CollectionsDB
from analytics.collections_db import CollectionsBusy
from analytics.store import Store

SUBJECT = "Payment reminder - Alpha SARL - 1,000.00 EUR overdue"


def daily(store: Store, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "analytics", "daily", "--data", str(store.root), "--as-of", "2026-02-14"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def post(url: str, headers: dict[str, str]) -> tuple[int, str]:
    body = json.dumps({"data": "x", "as_of": "2026-02-14", "user": "someone"}).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode())["error"]


def test_the_daily_command_hands_the_run_to_the_running_app(
    page: Page, ledger_store: Store, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    # Written before the server starts: only one process can open collections.duckdb.
    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test", contact_name="Mrs Dupont")
    link = ledger_store.root / app_link.APP_FILE
    with mail_server() as mail:
        (ledger_store.root / "settings.toml").write_text(mail.settings_toml(), encoding="utf-8")
        try:
            server = browser.start_server(ledger_store.root, tmp_path / "streamlit.log")
        except RuntimeError as error:
            pytest.fail(str(error), pytrace=False)
        try:
            browser.open_path(page, server, "/scenarios?as_of=2026-02-14")
            expect(page.get_by_text("Send all automatic steps due (1)").first).to_be_visible()
            with pytest.raises(CollectionsBusy):  # the app holds it: the command cannot run alone
                CollectionsDB.for_store(ledger_store)
            announced = json.loads(link.read_text(encoding="utf-8"))
            assert announced["url"] == f"{server.url}{app_link.ROUTE}"
            assert stat.S_IMODE(link.stat().st_mode) == 0o600

            first = daily(ledger_store, cli_env)
            assert first.returncode == 0, first.stdout + first.stderr
            assert first.stdout.startswith("Daily run at 2026-02-14")
            assert "Recovery steps: 1 sent, 0 skipped, 0 not sent" in first.stdout
            assert "compta@alpha.test" in first.stdout and "No problem." in first.stdout
            assert [(r, m["Subject"]) for _, r, m in mail.received] == [(["compta@alpha.test"], SUBJECT)]

            again = daily(ledger_store, cli_env)
            assert again.returncode == 0, again.stdout + again.stderr
            assert "Recovery steps: 0 sent, 0 skipped, 0 not sent" in again.stdout
            assert len(mail.received) == 1  # the second run sent nothing

            # The app's own pages see the step sent (its caches follow its collections database).
            browser.open_path(page, server, "/scenarios?as_of=2026-02-14")
            expect(page.get_by_text("Send all automatic steps due (1)")).to_have_count(0)

            # Without the token, with a wrong one, or through a proxy: refused, nothing run.
            assert post(announced["url"], {"Content-Type": "application/json"}) == (
                403,
                "the request does not carry the app's token (.app.json of the data folder)",
            )
            wrong = {app_link.TOKEN_HEADER: "guess"}
            assert post(announced["url"], wrong)[0] == 403
            # (Uvicorn takes a loopback proxy's X-Forwarded-For for the client: the far one is named.)
            proxied = {app_link.TOKEN_HEADER: announced["token"], "X-Forwarded-For": "203.0.113.9"}
            assert post(announced["url"], proxied) == (
                403,
                "the daily run is asked from this machine only, not from 203.0.113.9",
            )
            assert len(mail.received) == 1
        finally:
            browser.stop_server(server)
    assert not link.exists()  # withdrawn as the app stopped
