"""Settings: the mail server (with a test message), the inbox that the daily run imports, and who
receives which scheduled report when; saved to DIR/settings.toml (credit managers and admins)."""

from __future__ import annotations

import os

import streamlit as st

from analytics import access, reminders, settings
from pages import _format, _session

ctx = _session.context()
st.title("Settings")
_session.require(access.CONFIGURE)
root = ctx.store.root

if notice := st.session_state.pop("settings_notice", None):
    st.success(_format.markdown_text(notice))
try:
    saved = settings.load(root)
except settings.SettingsInvalid as error:
    st.error(
        "The settings file is refused; the defaults are shown, and saving replaces the file:\n"
        + "\n".join(f"- {_format.markdown_text(m)}" for m in error.messages)
    )
    saved = settings.Settings()
st.caption(
    f"Saved to `{_format.markdown_text(settings.path_of(root))}`, which can also be edited by hand. "
    "The daily run (`python -m analytics daily --data DIR`) reads it at each start."
)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def digest_table(text: str) -> tuple[dict[str, str], list[str]]:
    """'Collector name: address' lines as a table; the lines without a colon as problems."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, address = line.rpartition(":")
        if not colon or not name.strip():
            problems.append(f"reports.collector_digest.to, line {number}: write 'Collector name: address'")
            continue
        found[name.strip()] = address.strip()
    return found, problems


st.subheader("Mail server")
columns = st.columns([3, 1, 1])
host = columns[0].text_input(
    "SMTP host", value=saved.mail.host, key="settings_host", placeholder="smtp.example.com"
)
port = columns[1].number_input(
    "Port", min_value=1, max_value=65535, value=saved.mail.port, step=1, key="settings_port"
)
starttls = columns[2].checkbox(
    "STARTTLS",
    value=saved.mail.starttls,
    key="settings_starttls",
    help="Off: implicit TLS on port 465, no encryption on any other port",
)
columns = st.columns(2)
sender = columns[0].text_input(
    "Sender (From)",
    value=saved.mail.sender,
    key="settings_sender",
    placeholder="accounts.receivable@example.com",
)
username = columns[1].text_input("User name", value=saved.mail.username, key="settings_username")
st.caption(
    "The password is never saved in the file: the app and the daily run read it from the environment "
    f"variable `{settings.PASSWORD_VARIABLE}` "
    + ("(set for this app)." if os.environ.get(settings.PASSWORD_VARIABLE) else "(not set for this app).")
)

st.subheader("Inbox")
columns = st.columns(2)
folder = columns[0].text_input(
    "Folder",
    value=saved.inbox.folder,
    key="settings_inbox_folder",
    help="Where ERP exports are dropped (relative to the data folder unless absolute). Files named "
    "customers*, documents*, payments* or open_items* are imported by the daily run.",
)
mapping = columns[1].text_input(
    "Import mapping (TOML file)",
    value=saved.inbox.mapping,
    key="settings_inbox_mapping",
    help="Column names and formats of the exports (relative to the data folder unless absolute)",
)

st.subheader("Scheduled reports")
schedules = list(settings.SCHEDULES)
columns = st.columns([3, 1])
cfo_to = columns[0].text_area(
    "CFO pack: recipients (one address a line)",
    value="\n".join(saved.reports.cfo_pack.to),
    key="settings_cfo_to",
    height=80,
)
cfo_when = columns[1].selectbox(
    "CFO pack: when",
    schedules,
    index=schedules.index(saved.reports.cfo_pack.when),
    format_func=settings.SCHEDULE_LABELS.get,
    key="settings_cfo_when",
)
columns = st.columns([3, 1])
digest_to = columns[0].text_area(
    "Collectors' morning digest: 'Collector name: address', one a line",
    value="\n".join(
        f"{name}: {address}" for name, address in sorted(saved.reports.collector_digest.to.items())
    ),
    key="settings_digest_to",
    height=100,
)
digest_when = columns[1].selectbox(
    "Digest: when",
    schedules,
    index=schedules.index(saved.reports.collector_digest.when),
    format_func=settings.SCHEDULE_LABELS.get,
    key="settings_digest_when",
)

digest, problems = digest_table(digest_to)
candidate = settings.Settings(
    settings.Mail(host.strip(), int(port), sender.strip(), starttls, username.strip()),
    settings.Inbox(folder.strip() or "inbox", mapping.strip()),
    settings.Reports(
        settings.CfoPack(tuple(lines(cfo_to)), cfo_when),
        settings.CollectorDigest(digest, digest_when),
    ),
)

if st.button("Save the settings", type="primary", key="settings_save"):
    _session.require(access.CONFIGURE)
    try:
        if problems:
            raise settings.SettingsInvalid(None, problems)
        path = settings.save(root, candidate)
    except settings.SettingsInvalid as error:
        st.error(
            "Refused, nothing was saved:\n"
            + "\n".join(f"- {_format.markdown_text(m)}" for m in error.messages)
        )
    else:
        _session.audit("write", f"settings saved to {path.name}")
        st.session_state["settings_notice"] = f"Settings saved to {path}."
        st.rerun()

st.subheader("Send a test message")
st.caption("Through the server as set above (saved or not), to check the host, port, TLS and sign-in.")
columns = st.columns([3, 1])
test_to = columns[0].text_input(
    "Send it to", key="settings_test_to", placeholder="me@example.com", label_visibility="collapsed"
)
if columns[1].button("Send a test message", key="settings_test_send"):
    _session.require(access.CONFIGURE)
    try:
        said = settings.send_test_message(candidate, test_to)
    except settings.SettingsInvalid as error:
        st.error("Not sent:\n" + "\n".join(f"- {_format.markdown_text(m)}" for m in error.messages))
    except reminders.ReminderError as error:
        st.error(f"Not sent: {_format.markdown_text(error)}")
    else:
        _session.audit("write", said)
        st.success(_format.markdown_text(said))
