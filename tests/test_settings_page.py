"""The Settings page in AppTest: edit and save DIR/settings.toml, a refusal naming the field, the test
message received by a real SMTP server on loopback, and only credit managers and admins see it."""

from __future__ import annotations

from pathlib import Path

import pytest
from mailserver import body, mail_server
from streamlit.testing.v1 import AppTest

from analytics import access, settings
from analytics.store import Store
from pages._format import markdown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    monkeypatch.delenv("AR_SMTP_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/settings.py").run()
    assert not at.exception, at.exception
    return at


def test_save_the_mail_server_inbox_and_reports(app: AppTest, ledger_store: Store) -> None:
    assert [t.value for t in app.title] == ["Settings"]
    app.text_input(key="settings_host").input("smtp.acme.test")
    app.number_input(key="settings_port").set_value(2525)
    app.text_input(key="settings_sender").input("ar@acme.test")
    app.text_input(key="settings_inbox_folder").input("drop")
    app.text_area(key="settings_cfo_to").input("cfo@acme.test\nceo@acme.test")
    app.selectbox(key="settings_cfo_when").set_value("friday")
    app.text_area(key="settings_digest_to").input("Anna: anna@acme.test")
    app.button(key="settings_save").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == [
        markdown_text(f"Settings saved to {ledger_store.root / 'settings.toml'}.")
    ]
    saved = settings.load(ledger_store.root)
    assert (saved.mail.host, saved.mail.port, saved.mail.sender) == ("smtp.acme.test", 2525, "ar@acme.test")
    assert saved.inbox.folder == "drop"
    assert saved.reports.cfo_pack == settings.CfoPack(("cfo@acme.test", "ceo@acme.test"), "friday")
    assert dict(saved.reports.collector_digest.to) == {"Anna": "anna@acme.test"}
    assert access.audit_trail(ledger_store.root).get_column("detail")[0] == "settings saved to settings.toml"


def test_bad_settings_are_refused_naming_the_field(app: AppTest, ledger_store: Store) -> None:
    app.text_input(key="settings_sender").input("nobody").run()
    app.button(key="settings_save").click().run()
    assert [e.value for e in app.error] == [
        "Refused, nothing was saved:\n- " + markdown_text("mail.sender: 'nobody' is not an e-mail address")
    ]
    assert not (ledger_store.root / "settings.toml").exists()


def test_send_a_test_message(app: AppTest) -> None:
    with mail_server() as server:
        app.text_input(key="settings_host").input("127.0.0.1")
        app.number_input(key="settings_port").set_value(server.port)
        app.checkbox(key="settings_starttls").uncheck()
        app.text_input(key="settings_sender").input("ar@acme.test")
        app.text_input(key="settings_test_to").input("me@acme.test")
        app.button(key="settings_test_send").click().run()
        assert not app.exception, app.exception
        ((mail_from, recipients, message),) = server.received
    assert (mail_from, recipients, message["Subject"]) == (
        "ar@acme.test",
        ["me@acme.test"],
        "Receivables: test message",
    )
    assert "went out through 127.0.0.1" in body(message)
    said = f"Test message sent to me@acme.test through 127.0.0.1:{server.port} (none), from ar@acme.test."
    assert [s.value for s in app.success] == [markdown_text(said)]


def test_only_credit_managers_and_admins_see_the_settings(ledger_store: Store, monkeypatch) -> None:
    users = access.Users(ledger_store.root)
    users.add("anna", "collector", password="anna-password", collector="Anna")
    users.add("boss", "credit_manager", password="boss-password")
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    for name, password, sees in (("anna", "anna-password", False), ("boss", "boss-password", True)):
        at = AppTest.from_file(APP, default_timeout=60)
        at.run()
        at.text_input(key="sign_in_username").input(name)
        at.text_input(key="sign_in_password").input(password)
        at.button[0].click().run()
        if sees:
            at.switch_page("pages/settings.py").run()
            assert [t.value for t in at.title] == ["Settings"]
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page("pages/settings.py")
