"""Signing in with the company account (Streamlit's `st.login`, OpenID Connect) in a real browser.

The app runs with an `[auth]` secrets file pointing to the test identity provider of oidc_provider.py
on loopback; the browser goes through the real redirects (app -> provider -> /oauth2callback -> app)
and Streamlit's Authlib client checks the provider's signed ID token. The hand-worked ledger of
conftest.py: Anna's portfolio (C1 Alpha SARL, C3 Gamma SA) holds 1,000.00 as of 2026-02-01, Ben's C2
another 1,000.00 that Anna must not see.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import browser
import pytest
from browser import Server
from oidc_provider import OIDCProvider
from playwright.sync_api import Page, TimeoutError, expect
from test_browser import ledger_data_dir, metric, no_exception
from test_browser_access import sign_in

from analytics import access

COMPANY_ACCOUNT = "Sign in with your company account"


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    running = OIDCProvider().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def oidc_server(
    tmp_path_factory: pytest.TempPathFactory, provider: OIDCProvider
) -> Iterator[tuple[Server, Path]]:
    data = ledger_data_dir(tmp_path_factory.mktemp("browser-oidc"))
    users = access.Users(data)
    users.add("admin", "admin", password="admin-password")
    users.add("anna@example.com", "collector", password=None, collector="Anna")
    folder = tmp_path_factory.mktemp("server")
    port = browser.free_port()
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        f'client_id = "{provider.client_id}"\n'
        f'client_secret = "{provider.client_secret}"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n',
        encoding="utf-8",
    )
    try:
        running = browser.start_server(data, folder / "streamlit.log", port=port, secrets_file=secrets_file)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield running, data
    browser.stop_server(running)


PROVIDER_ROUND_TRIP_MS = 60_000


def through_provider(page: Page, server: Server, button: str) -> None:
    """Click a button that leaves the app for the provider (and back), and wait for the app to run."""
    try:
        with page.expect_navigation(url=f"{server.url}/", timeout=PROVIDER_ROUND_TRIP_MS):
            page.get_by_role("button", name=button).click()
    except TimeoutError as error:
        raise AssertionError(f"{button!r} did not come back to the app:\n{server.output()}") from error
    page.wait_for_selector("[data-testid='stApp']", timeout=browser.APP_RUN_MS)
    browser.wait_for_app(page)


def events(data: Path, user: str, event: str) -> list[str]:
    """The details of the audit lines of one user and event, oldest first."""
    trail = access.audit_trail(data).reverse()
    return [
        row["detail"] for row in trail.iter_rows(named=True) if (row["user"], row["event"]) == (user, event)
    ]


def test_a_collector_signs_in_with_the_company_account(
    page: Page, oidc_server: tuple[Server, Path], provider: OIDCProvider
) -> None:
    server, data = oidc_server
    provider.email, provider.name = "anna@example.com", "Anna Martin"
    browser.open_path(page, server, "/")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert page.locator("[data-testid='stMetric']").count() == 0
    signed_in = len(events(data, "anna@example.com", "Signed in"))

    through_provider(page, server, COMPANY_ACCOUNT)
    assert provider.signed_in[-1] == "anna@example.com"
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar).to_contain_text("Anna · Collector")
    assert events(data, "anna@example.com", "Signed in")[signed_in:] == ["identity provider"]

    # The identity cookie signs her in on a page opened by address too, within her rights.
    browser.open_path(page, server, "/aging?as_of=2026-02-01")
    expect(page.get_by_role("heading", name="Aging balance", exact=True)).to_be_visible()
    expect(metric(page, "Total AR (EUR)")).to_have_text("1.00k")
    expect(sidebar).to_contain_text("Anna · Collector")
    sidebar.get_by_role("combobox", name="Collector", exact=True).click()
    assert [text.strip() for text in page.get_by_role("option").all_inner_texts()] == ["Anna"]
    page.keyboard.press("Escape")
    assert page.get_by_text("Beta GmbH").count() == 0
    no_exception(page)
    browser.screenshot(page, "30_company_account_collector_aging")

    # Signing out ends the company account's session too, and returns to the sign-in page for good.
    signed_out = provider.signed_out
    audited_out = len(events(data, "anna@example.com", "Signed out"))
    through_provider(page, server, "Sign out")
    assert provider.signed_out == signed_out + 1
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=COMPANY_ACCOUNT)).to_be_visible()
    assert page.locator("[data-testid='stMetric']").count() == 0
    assert events(data, "anna@example.com", "Signed out")[audited_out:] == [""]
    browser.open_path(page, server, "/aging?as_of=2026-02-01")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert page.locator("[data-testid='stMetric']").count() == 0
    no_exception(page)


def test_a_company_account_without_a_user_is_refused(
    page: Page, oidc_server: tuple[Server, Path], provider: OIDCProvider
) -> None:
    server, data = oidc_server
    provider.email, provider.name = "mallory@example.com", "Mallory"
    browser.open_path(page, server, "/aging?as_of=2026-02-01")
    through_provider(page, server, COMPANY_ACCOUNT)

    expect(
        page.get_by_text(
            "mallory@example.com has no access to this app: ask an administrator to add it", exact=False
        )
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert page.locator("[data-testid='stMetric']").count() == 0
    assert page.locator("[data-testid='stSidebar']").count() == 0
    assert page.get_by_text("Alpha SARL").count() == 0
    # The refusal stays on the page through reruns, and is recorded once.
    sign_in(page, "mallory@example.com", "a guessed password")
    expect(page.get_by_text("Unknown user or wrong password.")).to_be_visible()
    expect(page.get_by_text("mallory@example.com has no access to this app")).to_be_visible()
    assert events(data, "mallory@example.com", "Failed sign-in") == [
        "identity provider account without a user",
        "unknown user or wrong password",
    ]
    browser.screenshot(page, "31_company_account_refused")

    # A user with a password still signs in; signing out ends the company account's session too.
    sign_in(page, "admin", "admin-password")
    expect(page.locator("[data-testid='stSidebar']")).to_contain_text("admin · Administrator")
    through_provider(page, server, "Sign out")
    expect(page.get_by_text("has no access to this app")).to_have_count(0)
    expect(page.get_by_role("button", name=COMPANY_ACCOUNT)).to_be_visible()

    # "Sign out of the company account" lets another account try.
    through_provider(page, server, COMPANY_ACCOUNT)
    expect(page.get_by_text("mallory@example.com has no access to this app")).to_be_visible()
    through_provider(page, server, "Sign out of the company account")
    expect(page.get_by_text("has no access to this app")).to_have_count(0)
    provider.email, provider.name = "anna@example.com", "Anna Martin"
    through_provider(page, server, COMPANY_ACCOUNT)
    expect(page.locator("[data-testid='stSidebar']")).to_contain_text("Anna · Collector")
    no_exception(page)
