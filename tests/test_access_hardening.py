"""Hardening of sign-in, the users file and the audit trail: the wait after failed sign-ins cannot be
lifted by padding the trail, a users file that breaks a rule lets nobody in (command line and app),
the audit trail is bounded, rotated and read from its end, and no file of the data folder is written
through a symbolic link.

The ledger is the hand-worked one of conftest.py (Anna's C1 owes 1,000.00, Ben's C2 1,000.00).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import access, cli
from analytics.store import Store

APP = str(Path(__file__).resolve().parent.parent / "app.py")
MIB = 1024 * 1024


@pytest.fixture
def team(ledger_store: Store) -> Store:
    users = access.Users(ledger_store.root)
    users.add("admin", "admin", password="admin-password")
    users.add("anna", "collector", password="anna-password", collector="Anna")
    return ledger_store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit status, standard output and standard error of `python -m analytics ARGS`."""
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def fail_three_times(root: Path, username: str, start: float) -> None:
    for attempt in range(3):
        with pytest.raises(access.SignInRefused, match="Unknown user or wrong password"):
            access.sign_in(root, username, "guess", now=start + attempt)


# --- 1. the wait after failed sign-ins ----------------------------------------------------------------


def test_a_huge_name_does_not_lift_the_wait(team: Store) -> None:
    """Three failures for anna at 100..102 make her wait until 107. A 5 MiB name at 103 is refused
    before it is recorded (the trail stays small); at 104 anna still waits 3 s."""
    root = team.root
    fail_three_times(root, "anna", 100.0)
    with pytest.raises(access.SignInRefused, match="A user name has at most 100 characters"):
        access.sign_in(root, "x" * (5 * MIB), "guess", now=103.0)
    assert (root / access.AUDIT_FILE).stat().st_size < 10_000
    newest = access.audit_trail(root, limit=1).row(0, named=True)
    assert (newest["user"], newest["event"]) == ("(invalid name)", "Failed sign-in")
    assert newest["detail"] == "user name refused: more than 100 characters (5,242,880)"
    with pytest.raises(
        access.SignInRefused, match="Too many failed sign-ins for anna: try again in 3 seconds"
    ):
        access.sign_in(root, "anna", "anna-password", now=104.0)


def test_a_flood_of_audit_lines_does_not_lift_the_wait(team: Store) -> None:
    """Three failures, then 8 MiB of other lines in the trail: anna still waits; once the wait is
    over her right password lets her in and clears her count."""
    root = team.root
    fail_three_times(root, "anna", 100.0)
    line = json.dumps({"user": "admin", "event": "export", "detail": "p" * 1000, "epoch": 103.0}) + "\n"
    with open(root / access.AUDIT_FILE, "a") as trail:
        trail.write(line * (8 * MIB // len(line)))
    assert access.consecutive_failures(root, "Anna") == (3, 102.0)
    assert access.failure_delay(root, "anna", now=104.0) == pytest.approx(3.0)
    with pytest.raises(access.SignInRefused, match="try again in 3 seconds"):
        access.sign_in(root, "anna", "anna-password", now=104.0)
    assert access.sign_in(root, "anna", "anna-password", now=107.5).username == "anna"
    assert access.consecutive_failures(root, "anna") == (0, None)


def test_names_with_control_characters_are_refused_before_they_are_recorded(team: Store) -> None:
    for name in ("anna\x00", 'anna\n{"event": "sign_in"}', "anna\u202e"):
        with pytest.raises(access.SignInRefused, match="no control characters"):
            access.sign_in(team.root, name, "anna-password")
    assert set(access.audit_trail(team.root).get_column("user")) == {"(invalid name)"}
    assert access.consecutive_failures(team.root, "anna") == (0, None)


def test_unknown_names_wait_like_users_and_the_record_stays_small(
    team: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mallory (no user) waits like anna. With room for 10 names, 40 other names failing 3 times
    leave 10 names in the record, anna's (a user's) still among them with her wait."""
    root = team.root
    fail_three_times(root, "mallory", 100.0)
    with pytest.raises(access.SignInRefused, match="Too many failed sign-ins for mallory: try again in 3"):
        access.sign_in(root, "mallory", "guess", now=104.0)
    monkeypatch.setattr(access, "MAX_FAILURE_NAMES", 10)
    fail_three_times(root, "anna", 200.0)
    for number in range(15):
        with pytest.raises(access.SignInRefused):
            access.sign_in(root, f"intruder{number}", "guess", now=203.0 + number)
    record = json.loads((root / access.FAILURES_FILE).read_text())
    assert len(record) == 10 and record["anna"] == [3, 202.0]
    assert access.failure_delay(root, "anna", now=204.0) == pytest.approx(3.0)


# --- 2 and 4. a users file that breaks a rule -----------------------------------------------------------


def write_users(root: Path, entries: list[object]) -> Path:
    path = root / access.USERS_FILE
    path.write_text(json.dumps({"version": 1, "users": entries}))
    return path


ADMIN = {"username": "admin", "role": "admin"}
BAD_ENTRIES = [
    ({"username": "anna", "role": "Collector", "collector": "Anna"}, "role", "unknown role 'Collector'"),
    ({"username": "anna", "role": "collector"}, "collector", "a collector needs a collector name"),
    ({"username": "anna", "role": "team_lead"}, "team", "a team lead needs a team"),
    ({"username": "anna", "role": "team_lead", "team": "Ben"}, "team", "not a list of collector names"),
    ({"username": "anna", "role": "viewer", "limits": {"office": ["Lyon"]}}, "limits", "unknown dimension"),
    ({"username": "anna", "role": "viewer", "limits": {"entity": []}}, "limits", "not a non-empty list"),
    ({"username": "anna", "role": "viewer", "limit": {"entity": ["Acme FR"]}}, "limit", "unknown field"),
    ({"username": "anna", "role": "viewer", "collector": 7}, "collector", "not text"),
    ({"username": "anna", "role": "viewer", "password_hash": "secret"}, "password_hash", "not an argon2"),
    ({"username": "Admin", "role": "viewer"}, "username", "the same name as user 1"),
    ({"username": "anna smith", "role": "viewer"}, "username", "letters, digits"),
]


@pytest.mark.parametrize(("entry", "field", "problem"), BAD_ENTRIES, ids=lambda v: str(v)[:30])
def test_a_bad_users_file_refuses_the_command_line(
    ledger_store: Store, capsys: pytest.CaptureFixture[str], entry: dict, field: str, problem: str
) -> None:
    """Any rule broken anywhere in the file: every command that reads it refuses, exit status 2, with
    a message naming the file, the entry, the user and the field."""
    path = write_users(ledger_store.root, [ADMIN, entry])
    expected = f"error: {path}, user 2 ('{entry['username']}'), field '{field}': "
    for command in (
        ("users", "list", "--data", str(path.parent)),
        ("report", "aging", "--data", str(path.parent), "--as-of", "2026-02-01", "--user", "admin"),
    ):
        status, out, err = run(capsys, *command)
        assert (status, out) == (2, "")
        assert err.startswith(expected) and problem in err, err


def test_an_unknown_role_sees_nothing_and_writes_nothing(
    ledger_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """The case that gave full access: anna with role "Collector" asks for the aging balance."""
    path = write_users(
        ledger_store.root, [ADMIN, {"username": "anna", "role": "Collector", "collector": "Anna"}]
    )
    status, out, err = run(
        capsys, "report", "aging", "--data", str(path.parent), "--as-of", "2026-02-01", "--user", "anna"
    )
    assert (status, out) == (2, "")
    assert "unknown role 'Collector'; choose one of: admin, credit_manager" in err
    with pytest.raises(access.UsersFileInvalid):
        access.Users(path.parent).add("zed", "viewer", password=None)
    assert "zed" not in path.read_text()
    stray = access.User("anna", "Collector", collector="Anna")
    with pytest.raises(access.AccessDenied, match="unknown role"):
        stray.rights()
    assert not stray.can(access.WRITE)


def test_an_unreadable_users_file_names_itself(
    ledger_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ledger_store.root / access.USERS_FILE
    for text in ('{"users": [', '["admin"]', '{"version": 2, "users": []}', '{"users": ["admin"]}'):
        path.write_text(text)
        status, _, err = run(capsys, "users", "list", "--data", str(path.parent))
        assert status == 2 and err.startswith(f"error: {path}"), err


def shown(markdown: object) -> str:
    """What a reader sees of an element's markdown: the escapes and invisible word joiners taken off."""
    return re.sub(r"\\(.)", r"\1", str(markdown)).replace("\u2060", "")


def page_text(at: AppTest) -> str:
    kinds = ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success")
    return "\n".join(shown(element.value) for kind in kinds for element in at.get(kind))


@pytest.mark.parametrize(
    ("users", "message"),
    [
        (
            [ADMIN, {"username": "anna", "role": "Collector", "collector": "Anna"}],
            "The users file is not valid (users.json, user 2, field 'role': unknown role 'Collector'",
        ),
        ("{not json", "The users file is not valid (users.json: not a readable users file"),
    ],
    ids=["unknown role", "not JSON"],
)
def test_a_bad_users_file_shows_a_message_on_the_sign_in_page(
    team: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    users: object,
    message: str,
) -> None:
    """Signed in as anna, then the file is broken: the next click shows the message (no traceback, no
    user name, not the data folder's path); the server log has the detail."""
    monkeypatch.setenv("AR_DATA_DIR", str(team.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["as_of"] = "2026-02-01"
    at.run()
    at.text_input(key="sign_in_username").input("anna")
    at.text_input(key="sign_in_password").input("anna-password")
    at.button[0].click().run()
    assert [title.value for title in at.title] == ["Overview"]
    path = team.root / access.USERS_FILE
    path.write_text(users if isinstance(users, str) else json.dumps({"version": 1, "users": users}))
    at.run()
    assert not at.exception
    assert [title.value for title in at.title] == ["Sign in"]
    assert [shown(error.value) for error in at.error][0].startswith(message)
    assert "nobody can sign in until an administrator corrects it" in shown(at.error[0].value)
    assert str(team.root) not in page_text(at) and "anna" not in page_text(at)
    assert not at.dataframe and not at.metric
    assert str(path) in caplog.text


# --- 3. the audit trail: bounded lines, rotation, read from the end -----------------------------------


def test_an_audit_line_is_bounded(tmp_path: Path) -> None:
    access.audit(tmp_path, "u" * (3 * MIB), "export", "d" * (40 * MIB), source="app")
    line = (tmp_path / access.AUDIT_FILE).read_bytes()
    assert len(line) < 6_000
    entry = access.audit_trail(tmp_path).row(0, named=True)
    assert entry["user"] == "u" * 100 + "…(truncated)"
    assert entry["detail"] == "d" * 4096 + "…(truncated)"


def test_the_trail_rotates_and_is_read_across_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines of about 150 bytes, rotated at 1,000 bytes, 2 rotated files kept: after 40 lines the
    trail holds the newest ones, without a gap, newest first; the oldest went with the third file."""
    monkeypatch.setattr(access, "AUDIT_ROTATE_BYTES", 1_000)
    monkeypatch.setattr(access, "AUDIT_KEEP", 2)
    for number in range(40):
        access.audit(tmp_path, "admin", "export", f"report {number:02}", now=1000.0 + number)
    names = sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("audit"))
    assert names == ["audit.1.jsonl", "audit.2.jsonl", "audit.jsonl"]
    assert all((tmp_path / name).stat().st_size <= 1_000 for name in names)
    details = access.audit_trail(tmp_path).get_column("detail").to_list()
    kept = len(details)
    assert 12 < kept < 21
    assert details == [f"report {number:02}" for number in range(39, 39 - kept, -1)]
    newest_file = sum(1 for _ in open(tmp_path / "audit.jsonl"))
    spanning = access.audit_trail(tmp_path, limit=newest_file + 2).get_column("detail").to_list()
    assert spanning == details[: newest_file + 2]
    assert access.audit_trail(tmp_path, limit=3, user="ADMIN").get_column("detail").to_list() == details[:3]


def test_the_newest_lines_are_read_from_the_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A trail whose first 2 GiB are a hole (nothing stored, no line end): the newest two lines come
    at once, from the admin page's reader and from `audit --limit 2`."""
    with open(tmp_path / access.AUDIT_FILE, "wb") as trail:
        trail.truncate(2 * 1024 * MIB)
        trail.seek(0, os.SEEK_END)
        for number in range(3):
            entry = {"at": "2026-02-01T10:00:00+00:00", "user": "admin", "event": "export"}
            trail.write((json.dumps(entry | {"detail": f"report {number}"}) + "\n").encode())
    started = time.monotonic()
    assert access.audit_trail(tmp_path, limit=2).get_column("detail").to_list() == ["report 2", "report 1"]
    status, out, _ = run(capsys, "audit", "--data", str(tmp_path), "--limit", "2")
    assert time.monotonic() - started < 3.0
    assert status == 0 and [line.split()[-1] for line in out.splitlines()] == ["2", "1"]


# --- 5. no file of the data folder is written through a link -------------------------------------------


@pytest.mark.parametrize(
    "name", [access.AUDIT_FILE, access.FAILURES_FILE, ".audit.lock", ".sign_in_failures.lock"]
)
def test_sign_in_refuses_a_link_in_place_of_its_files(team: Store, tmp_path: Path, name: str) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not the app's\n")
    link = team.root / name
    link.unlink(missing_ok=True)
    link.symlink_to(elsewhere)
    with pytest.raises(access.UnsafeFile, match=f"{link} is a symbolic link or not a regular file: refused"):
        access.sign_in(team.root, "anna", "guess")
    assert elsewhere.read_text() == "not the app's\n"
    assert os.path.islink(link)


def test_the_users_commands_refuse_a_linked_users_file(
    team: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A users file that is a link (to a copy, or to nowhere: never demo mode): refused, exit 2, the
    target untouched."""
    path = team.root / access.USERS_FILE
    target = tmp_path / "users-copy.json"
    target.write_bytes(path.read_bytes())
    before = target.read_bytes()
    path.unlink()
    path.symlink_to(target)
    status, _, err = run(
        capsys, "users", "add", "zed", "--role", "viewer", "--no-password", "--data", str(team.root)
    )
    assert status == 2 and f"error: {path} is a symbolic link" in err
    assert target.read_bytes() == before
    path.unlink()
    path.symlink_to(tmp_path / "nowhere.json")
    assert access.Users(team.root).exists()
    status, _, err = run(
        capsys, "report", "aging", "--data", str(team.root), "--as-of", "2026-02-01", "--user", "admin"
    )
    assert status == 2 and "symbolic link" in err
    assert not (tmp_path / "nowhere.json").exists()
