"""The settings file DIR/settings.toml: defaults, a round trip through save and load, refusals that
name the field, the password only from AR_SMTP_PASSWORD, and a test message received by a real SMTP
server on loopback."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from mailserver import body, mail_server

from analytics import reminders, settings
from analytics.settings import CfoPack, CollectorDigest, Inbox, Mail, Reports, Settings


def test_a_data_folder_without_a_settings_file_has_the_defaults(tmp_path: Path) -> None:
    current = settings.load(tmp_path)
    assert current == Settings()
    assert (current.inbox.folder, current.reports.cfo_pack.when) == ("inbox", "monday")
    assert settings.smtp(current, environ={}) is None


def test_saved_settings_read_back_the_same(tmp_path: Path) -> None:
    wanted = Settings(
        Mail("smtp.acme.test", 2525, "ar@acme.test", True, "ar-user"),
        Inbox("drop", "mapping.toml"),
        Reports(
            CfoPack(("cfo@acme.test", "ceo@acme.test"), "friday"),
            CollectorDigest({"Alice Martin": "alice@acme.test", 'Bob "B" Li': "bob@acme.test"}, "daily"),
        ),
    )
    path = settings.save(tmp_path, wanted)
    assert path == tmp_path / "settings.toml"
    assert "password =" not in path.read_text()
    assert settings.load(tmp_path) == wanted
    assert not list(tmp_path.glob(".*partial"))


def test_the_password_comes_only_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text(
        '[mail]\nhost = "smtp.acme.test"\nusername = "ar@acme.test"\n', encoding="utf-8"
    )
    server = settings.smtp_of(tmp_path, environ={"AR_SMTP_PASSWORD": "s3cret"})
    assert (server.host, server.port, server.tls, server.user, server.sender) == (
        "smtp.acme.test",
        587,
        "starttls",
        "ar@acme.test",
        "ar@acme.test",
    )
    assert server.password == "s3cret"
    assert "s3cret" not in repr(server) and "s3cret" not in server.describe()
    assert settings.smtp_of(tmp_path, environ={}).password is None
    (tmp_path / "settings.toml").write_text(
        '[mail]\nhost = "smtp.acme.test"\npassword = "s3cret"\n', encoding="utf-8"
    )
    with pytest.raises(settings.SettingsInvalid, match="mail.password: the password is not kept in the file"):
        settings.load(tmp_path)


def test_without_starttls_port_465_is_implicit_tls_and_others_plain() -> None:
    assert settings.smtp(Settings(Mail("h", 465, starttls=False)), {}).tls == "ssl"
    assert settings.smtp(Settings(Mail("h", 25, starttls=False)), {}).tls == "none"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[mail]\nport = "abc"\n', "mail.port: must be a whole number from 1 to 65535, got 'abc'"),
        ("[mail]\nport = 70000\n", "mail.port: must be a whole number from 1 to 65535, got 70000"),
        ('[mail]\nstarttls = "yes"\n', "mail.starttls: must be true or false, got 'yes'"),
        ('[mail]\nsender = "nobody"\n', "mail.sender: 'nobody' is not an e-mail address"),
        ('[mail]\nhots = "x"\n', "mail.hots: unknown setting"),
        ("[inbox]\nfolder = 3\n", "inbox.folder: must be text, got 3"),
        ('[reports.cfo_pack]\nwhen = "fortnightly"\n', "reports.cfo_pack.when: must be one of daily"),
        ('[reports.cfo_pack]\nto = ["cfo"]\n', "reports.cfo_pack.to: 'cfo' is not an e-mail address"),
        (
            '[reports.collector_digest.to]\n"Alice Martin" = "alice"\n',
            "reports.collector_digest.to.Alice Martin: 'alice' is not an e-mail address",
        ),
        ("[mail\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "settings.toml").write_text(text, encoding="utf-8")
    with pytest.raises(settings.SettingsInvalid) as refused:
        settings.load(tmp_path)
    assert message in str(refused.value)
    assert str(tmp_path / "settings.toml") in str(refused.value)


def test_bad_settings_are_not_saved(tmp_path: Path) -> None:
    settings.save(tmp_path, Settings(Mail("smtp.acme.test")))
    before = (tmp_path / "settings.toml").read_text()
    with pytest.raises(settings.SettingsInvalid, match="mail.sender: 'ar' is not an e-mail address"):
        settings.save(tmp_path, Settings(Mail("smtp.acme.test", sender="ar")))
    assert (tmp_path / "settings.toml").read_text() == before


def test_report_schedules() -> None:
    monday, saturday, first = date(2026, 3, 30), date(2026, 3, 28), date(2026, 4, 1)
    assert settings.is_due("monday", monday) and not settings.is_due("monday", saturday)
    assert settings.is_due("weekdays", monday) and not settings.is_due("weekdays", saturday)
    assert settings.is_due("month_start", first) and not settings.is_due("month_start", monday)
    assert settings.is_due("daily", saturday) and not settings.is_due("never", monday)


def test_a_test_message_reaches_the_mail_server(tmp_path: Path) -> None:
    with mail_server() as server:
        (tmp_path / "settings.toml").write_text(server.settings_toml(), encoding="utf-8")
        said = settings.send_test_message(settings.load(tmp_path), "me@acme.test", environ={})
        ((mail_from, recipients, message),) = server.received
    assert said.startswith("Test message sent to me@acme.test through 127.0.0.1:")
    assert (mail_from, recipients, message["Subject"]) == (
        "ar@acme.test",
        ["me@acme.test"],
        "Receivables: test message",
    )
    assert "went out through 127.0.0.1" in body(message)


def test_a_refusing_mail_server_says_why(tmp_path: Path) -> None:
    with mail_server() as server:
        server.refuse = True
        (tmp_path / "settings.toml").write_text(server.settings_toml(), encoding="utf-8")
        with pytest.raises(reminders.ReminderError, match="sending to me@acme.test through 127.0.0.1"):
            settings.send_test_message(settings.load(tmp_path), "me@acme.test", environ={})
    with pytest.raises(settings.SettingsInvalid, match="mail.host: give the mail server"):
        settings.send_test_message(Settings(), "me@acme.test", environ={})
