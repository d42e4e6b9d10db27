"""Send all automatic steps due, in a real browser: `streamlit run serve.py` over the hand-worked ledger
of conftest.py at 2026-02-14, seen through Debian's chromium, sending through a real SMTP server on
loopback. Alpha SARL (C1) is 5 days late on I1 (1,000.00 EUR): Standard B2B's automatic +5 d e-mail
is the one automatic step due, to compta@alpha.test. Chromium is required: these tests never skip."""

from __future__ import annotations

from pathlib import Path

import browser
import pytest
from mailserver import body, mail_server
from playwright.sync_api import Page, expect
from test_browser import no_exception

from analytics import scenarios
from analytics.collections import CollectionsDB
from analytics.store import Store

SUBJECT = "Payment reminder - Alpha SARL - 1,000.00 EUR overdue"


def test_send_all_automatic_steps_due_sends_and_shows_the_outcome(
    page: Page, ledger_store: Store, tmp_path: Path
) -> None:
    # Written before the server starts: only one process can open collections.duckdb.
    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test", contact_name="Mrs Dupont")
    with mail_server() as mail:
        (ledger_store.root / "settings.toml").write_text(mail.settings_toml(), encoding="utf-8")
        try:
            server = browser.start_server(ledger_store.root, tmp_path / "streamlit.log")
        except RuntimeError as error:
            pytest.fail(str(error), pytrace=False)
        try:
            browser.open_path(page, server, "/scenarios?as_of=2026-02-14")
            expander = page.locator("[data-testid='stExpander']").filter(
                has_text="Send all automatic steps due (1)"
            )
            expander.get_by_text("Send all automatic steps due (1)").first.click()
            preview = expander.locator("[data-testid='stDataFrame']").first
            expect(preview.locator("table[role='grid']")).to_contain_text("e-mail to compta@alpha.test")
            expect(expander.get_by_text("Dear Mrs Dupont", exact=False)).to_be_visible()
            assert mail.received == []
            send = page.locator(".st-key-scenario_send_all button")
            expect(send).to_have_text("Send all automatic steps due (1)")
            send.click()
            browser.wait_for_app(page)
            expect(page.get_by_text("Sent 1 of 1 automatic step(s).")).to_be_visible()
            # (A dataframe without selection gets no st-key-* class: found by its header.)
            outcomes = page.locator("[data-testid='stDataFrame']").filter(has_text="Outcome").first
            expect(outcomes.locator("table[role='grid']")).to_contain_text("compta@alpha.test")
            header, *rows = browser.grid_rows(outcomes)
            assert header[:7] == ["Customer", "Id", "Step", "Channel", "To", "Outcome", "Detail"]
            assert [row[:7] for row in rows] == [
                ["Alpha SARL", "C1", "+5 d e-mail", "E-mail (mail server)", "compta@alpha.test", "Sent", SUBJECT]
            ]
            # The step sent leaves the list: nothing more to send.
            expect(page.get_by_text("Send all automatic steps due (1)")).to_have_count(0)
            browser.screenshot(page, "40_send_all_outcome")
            no_exception(page)
        finally:
            browser.stop_server(server)
        ((_, recipients, message),) = mail.received
    assert recipients == ["compta@alpha.test"] and message["Subject"] == SUBJECT
    assert "Dear Mrs Dupont" in body(message)
