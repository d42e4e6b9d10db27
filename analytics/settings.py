"""The settings that are not data: `DIR/settings.toml`, edited on the Settings page or by hand.

Owns the file's sections and their checks, its atomic save, and the SMTP server it describes:
- `[mail]`: `host`, `port`, `sender` (the address mail comes from), `starttls`, `username`. The
  password is never in the file: only the environment variable AR_SMTP_PASSWORD holds it.
- `[inbox]`: `folder` (where ERP exports are dropped for `daily`, relative to DIR unless absolute)
  and `mapping` (the import mapping applied to them, a TOML file, relative to DIR unless absolute).
- `[reports.cfo_pack]`: `to` (addresses), `when`; `[reports.collector_digest]`: `when` and `to`, a
  table of collector name = address.

`when` is `daily`, `weekdays`, a day of the week (`monday` ...: weekly), `month_start` or `never`.
A file that breaks a rule is refused whole, each problem naming its field (`mail.port: ...`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from analytics.reminders import SmtpSettings, send

SETTINGS_FILE = "settings.toml"
PASSWORD_VARIABLE = "AR_SMTP_PASSWORD"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULES = ("daily", "weekdays", *WEEKDAYS, "month_start", "never")
SCHEDULE_LABELS = {
    "daily": "every day",
    "weekdays": "Monday to Friday",
    **{day: f"every {day.capitalize()}" for day in WEEKDAYS},
    "month_start": "on the first day of each month",
    "never": "never",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SettingsInvalid(ValueError):
    """The settings break a rule; each message names the field."""

    def __init__(self, path: Path | None, messages: list[str]) -> None:
        self.path = path
        self.messages = messages
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(messages))


@dataclass(frozen=True)
class Mail:
    host: str = ""
    port: int = 587
    sender: str = ""
    starttls: bool = True
    username: str = ""


@dataclass(frozen=True)
class Inbox:
    folder: str = "inbox"
    mapping: str = ""


@dataclass(frozen=True)
class CfoPack:
    to: tuple[str, ...] = ()
    when: str = "monday"


@dataclass(frozen=True)
class CollectorDigest:
    # collector name (as in the customers' collector column) -> address
    to: Mapping[str, str] = field(default_factory=dict)
    when: str = "weekdays"


@dataclass(frozen=True)
class Reports:
    cfo_pack: CfoPack = field(default_factory=CfoPack)
    collector_digest: CollectorDigest = field(default_factory=CollectorDigest)


@dataclass(frozen=True)
class Settings:
    mail: Mail = field(default_factory=Mail)
    inbox: Inbox = field(default_factory=Inbox)
    reports: Reports = field(default_factory=Reports)

    def inbox_folder(self, root: Path) -> Path:
        return Path(root) / self.inbox.folder

    def mapping_path(self, root: Path) -> Path | None:
        return Path(root) / self.inbox.mapping if self.inbox.mapping else None


def path_of(root: str | os.PathLike[str]) -> Path:
    return Path(root) / SETTINGS_FILE


def is_due(when: str, day: date) -> bool:
    """Whether a report scheduled `when` goes out on `day`."""
    if when == "daily":
        return True
    if when == "weekdays":
        return day.weekday() < 5
    if when in WEEKDAYS:
        return day.weekday() == WEEKDAYS.index(when)
    if when == "month_start":
        return day.day == 1
    return False


def load(root: str | os.PathLike[str]) -> Settings:
    """The settings of the data folder (the defaults when it has no settings file); SettingsInvalid
    names each field that breaks a rule."""
    path = path_of(root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except UnicodeDecodeError:
        raise SettingsInvalid(path, ["the file is not UTF-8 text"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SettingsInvalid(path, [f"not valid TOML: {error}"]) from None
    return parse(raw, path)


def parse(raw: Mapping[str, object], path: Path | None = None) -> Settings:
    """Settings from the file's tables, checked; SettingsInvalid lists every problem."""
    problems: list[str] = []
    _unknown(raw, {"mail", "inbox", "reports"}, "", problems)
    mail_raw = _table(raw, "mail", "", problems)
    inbox_raw = _table(raw, "inbox", "", problems)
    reports_raw = _table(raw, "reports", "", problems)
    _unknown(mail_raw, {f.name for f in fields(Mail)}, "mail.", problems)
    _unknown(inbox_raw, {f.name for f in fields(Inbox)}, "inbox.", problems)
    _unknown(reports_raw, {"cfo_pack", "collector_digest"}, "reports.", problems)
    if "password" in mail_raw:
        problems.append(f"mail.password: the password is not kept in the file; set {PASSWORD_VARIABLE}")
    defaults = Mail()
    mail = Mail(
        host=_text(mail_raw, "host", "mail.", problems, defaults.host),
        port=_port(mail_raw, problems),
        sender=_text(mail_raw, "sender", "mail.", problems, defaults.sender),
        starttls=_bool(mail_raw, "starttls", "mail.", problems, defaults.starttls),
        username=_text(mail_raw, "username", "mail.", problems, defaults.username),
    )
    if mail.sender and not _EMAIL.match(mail.sender):
        problems.append(f"mail.sender: {mail.sender!r} is not an e-mail address")
    if mail.host and not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", mail.host):
        problems.append(f"mail.host: {mail.host!r} is not a host name or address")
    inbox = Inbox(
        folder=_text(inbox_raw, "folder", "inbox.", problems, Inbox().folder) or Inbox().folder,
        mapping=_text(inbox_raw, "mapping", "inbox.", problems, ""),
    )
    cfo_raw = _table(reports_raw, "cfo_pack", "reports.", problems)
    digest_raw = _table(reports_raw, "collector_digest", "reports.", problems)
    _unknown(cfo_raw, {"to", "when"}, "reports.cfo_pack.", problems)
    _unknown(digest_raw, {"to", "when"}, "reports.collector_digest.", problems)
    cfo_to = cfo_raw.get("to", [])
    if isinstance(cfo_to, str):
        cfo_to = [cfo_to]
    if not isinstance(cfo_to, list) or not all(isinstance(a, str) for a in cfo_to):
        problems.append("reports.cfo_pack.to: a list of e-mail addresses")
        cfo_to = []
    cfo_to = [a.strip() for a in cfo_to if a.strip()]
    problems += [
        f"reports.cfo_pack.to: {a!r} is not an e-mail address" for a in cfo_to if not _EMAIL.match(a)
    ]
    digest_to = digest_raw.get("to", {})
    if not isinstance(digest_to, dict) or not all(isinstance(v, str) for v in digest_to.values()):
        problems.append('reports.collector_digest.to: a table of collector = "address"')
        digest_to = {}
    digest_to = {str(k).strip(): v.strip() for k, v in digest_to.items() if str(k).strip()}
    problems += [
        f"reports.collector_digest.to.{name}: {a!r} is not an e-mail address"
        for name, a in digest_to.items()
        if not _EMAIL.match(a)
    ]
    reports = Reports(
        CfoPack(tuple(cfo_to), _when(cfo_raw, "reports.cfo_pack.", problems, CfoPack().when)),
        CollectorDigest(
            digest_to, _when(digest_raw, "reports.collector_digest.", problems, CollectorDigest().when)
        ),
    )
    if problems:
        raise SettingsInvalid(path, problems)
    return Settings(mail, inbox, reports)


def _table(raw: Mapping[str, object], key: str, prefix: str, problems: list[str]) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"{prefix}{key}: must be a table ([{prefix}{key}])")
        return {}
    return value


def _unknown(raw: Mapping[str, object], known: set[str], prefix: str, problems: list[str]) -> None:
    for key in raw:
        if key not in known and not (prefix == "mail." and key == "password"):
            problems.append(f"{prefix}{key}: unknown setting (known: {', '.join(sorted(known))})")


def _text(raw: Mapping[str, object], key: str, prefix: str, problems: list[str], default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        problems.append(f"{prefix}{key}: must be text, got {value!r}")
        return default
    if any(ord(c) < 32 for c in value):
        problems.append(f"{prefix}{key}: must not hold control characters")
        return default
    return value.strip()


def _bool(raw: Mapping[str, object], key: str, prefix: str, problems: list[str], default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{prefix}{key}: must be true or false, got {value!r}")
        return default
    return value


def _port(raw: Mapping[str, object], problems: list[str]) -> int:
    value = raw.get("port", Mail().port)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        problems.append(f"mail.port: must be a whole number from 1 to 65535, got {value!r}")
        return Mail().port
    return value


def _when(raw: Mapping[str, object], prefix: str, problems: list[str], default: str) -> str:
    value = raw.get("when", default)
    if not isinstance(value, str) or value.strip().lower() not in SCHEDULES:
        problems.append(f"{prefix}when: must be one of {', '.join(SCHEDULES)}, got {value!r}")
        return default
    return value.strip().lower()


# --- writing ---------------------------------------------------------------------------------------


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def dumps(current: Settings) -> str:
    """The settings as TOML (what `save` writes)."""
    mail, inbox, reports = current.mail, current.inbox, current.reports
    lines = [
        "# Receivables settings (see README.md, 'Settings'). The SMTP password is not kept here:",
        f"# set the environment variable {PASSWORD_VARIABLE}.",
        "",
        "[mail]",
        f"host = {_quoted(mail.host)}",
        f"port = {mail.port}",
        f"sender = {_quoted(mail.sender)}",
        f"starttls = {'true' if mail.starttls else 'false'}",
        f"username = {_quoted(mail.username)}",
        "",
        "[inbox]",
        f"folder = {_quoted(inbox.folder)}",
        f"mapping = {_quoted(inbox.mapping)}",
        "",
        "[reports.cfo_pack]",
        f"to = [{', '.join(_quoted(a) for a in reports.cfo_pack.to)}]",
        f"when = {_quoted(reports.cfo_pack.when)}",
        "",
        "[reports.collector_digest]",
        f"when = {_quoted(reports.collector_digest.when)}",
        "",
        "[reports.collector_digest.to]",
        *(f"{_quoted(name)} = {_quoted(a)}" for name, a in sorted(reports.collector_digest.to.items())),
    ]
    return "\n".join(lines) + "\n"


def save(root: str | os.PathLike[str], current: Settings) -> Path:
    """Check and write the settings whole: written beside the file, then renamed over it, so that a
    reader sees the old settings or the new. SettingsInvalid (nothing written) when they break a rule."""
    text = dumps(current)
    parse(tomllib.loads(text), None)
    path = path_of(root)
    if path.is_symlink():
        raise SettingsInvalid(path, ["the settings file is a symbolic link: replace it with a file"])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


# --- the SMTP server ---------------------------------------------------------------------------------


def smtp(current: Settings, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """The SMTP server of `[mail]` (None without a host), with the password of AR_SMTP_PASSWORD.
    TLS: STARTTLS when `starttls`, else implicit TLS on port 465 and none on any other port."""
    environ = os.environ if environ is None else environ
    mail = current.mail
    if not mail.host:
        return None
    tls = "starttls" if mail.starttls else ("ssl" if mail.port == 465 else "none")
    sender = (
        mail.sender
        or (mail.username if _EMAIL.match(mail.username) else "")
        or (f"accounts.receivable@{mail.host}")
    )
    password = environ.get(PASSWORD_VARIABLE) or None
    return SmtpSettings(mail.host, mail.port, mail.username or None, password, sender, tls)


def smtp_of(root: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    """The SMTP server of the data folder's settings file (SettingsInvalid when it breaks a rule)."""
    return smtp(load(root), environ)


def send_test_message(current: Settings, recipient: str, environ: Mapping[str, str] | None = None) -> str:
    """Send a short message through the [mail] server to `recipient`; what was done, in a sentence.
    ReminderError says why it failed; SettingsInvalid when there is no server or no valid address."""
    server = smtp(current, environ)
    recipient = recipient.strip()
    problems = [] if server else ["mail.host: give the mail server's host name first"]
    if not _EMAIL.match(recipient):
        problems.append(f"test recipient: {recipient!r} is not an e-mail address")
    if problems:
        raise SettingsInvalid(None, problems)
    message = EmailMessage()
    message["Subject"] = "Receivables: test message"
    message["From"] = server.sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message.set_content(
        f"This test message went out through {server.describe()}.\n"
        "Reminders and scheduled reports will be sent the same way.\n"
    )
    send(message, server)
    return f"Test message sent to {recipient} through {server.describe()}."
