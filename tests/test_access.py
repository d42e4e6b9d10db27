"""Users, roles, rights and the audit trail, through analytics.access and the command line.

On the hand-worked ledger of conftest.py as of 2026-02-01: C1 Alpha SARL (collector Anna, entity
Acme FR) owes I1 1,000.00 (due 02-09, not due); C2 Beta GmbH (collector Ben, Acme DE) owes I3
1,000.00 EUR (due 01-15: 17 days past due); C3 (Anna) has nothing yet. Total AR 2,000.00.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from analytics import access, aging, submissions
from analytics.scope import Scope
from analytics.store import Store

AS_OF = "2026-02-01"


def cli(env: dict[str, str], *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        env=env,
        capture_output=True,
        text=True,
        input=None if password is None else password + "\n",
        timeout=120,
    )


TEAM = (
    ("admin", "admin-password", {"role": "admin"}),
    ("anna", "anna-password", {"role": "collector", "collector": "Anna", "display_name": "Anna K."}),
    ("lead", "lead-password", {"role": "team_lead", "team": ["Ben"]}),
    ("cfo", "cfo-password1", {"role": "viewer", "limits": {"entity": ["Acme FR"]}}),
)


@pytest.fixture
def team(ledger_store: Store) -> Store:
    """The ledger with an administrator, Anna (collector), a team lead of Ben and a viewer of Acme FR."""
    users = access.Users(ledger_store.root)
    for username, password, fields in TEAM:
        users.add(username, password=password, **fields)
    return ledger_store


def test_users_add_on_the_command_line(ledger_store: Store, cli_env: dict[str, str]) -> None:
    data = str(ledger_store.root)
    for username, password, fields in TEAM:
        arguments = ["--role", fields["role"]]
        arguments += ["--collector", fields["collector"]] if "collector" in fields else []
        arguments += ["--name", fields["display_name"]] if "display_name" in fields else []
        arguments += [f"--team={name}" for name in fields.get("team", [])]
        arguments += [f"--limit=entity={value}" for value in fields.get("limits", {}).get("entity", [])]
        done = cli(
            cli_env,
            "users",
            "add",
            username,
            *arguments,
            "--data",
            data,
            "--password-stdin",
            password=password,
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Added cfo: viewer (read-only), sees Entity: Acme FR."
    assert access.sign_in(ledger_store.root, "anna", "anna-password").display_name == "Anna K."


def test_users_file_keeps_salted_hashes_only(team: Store, cli_env: dict[str, str]) -> None:
    path = team.root / access.USERS_FILE
    text = path.read_text()
    assert "anna-password" not in text
    records = {user["username"]: user for user in json.loads(text)["users"]}
    assert records["anna"]["password_hash"].startswith("$argon2id$")
    assert records["anna"]["password_hash"] != records["admin"]["password_hash"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    listed = cli(cli_env, "users", "list", "--data", str(team.root))
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["admin", "anna", "cfo", "lead"]
    assert "Collector: Anna" in lines[1] and "collector" in lines[1]
    assert "Entity: Acme FR" in lines[2]


def test_users_commands_refuse_bad_definitions(team: Store, cli_env: dict[str, str]) -> None:
    data = str(team.root)
    cases = [
        (
            ("users", "add", "zed", "--role", "collector", "--data", data, "--no-password"),
            "a collector needs a collector name",
        ),
        (
            (
                "users",
                "add",
                "zed",
                "--role",
                "collector",
                "--collector",
                "Zoe",
                "--data",
                data,
                "--no-password",
            ),
            "no customer has collector Zoe; collectors: Anna, Ben",
        ),
        (("users", "add", "anna", "--role", "viewer", "--data", data, "--no-password"), "exists already"),
        (("users", "add", "x y", "--role", "viewer", "--data", data, "--no-password"), "letters, digits"),
        (("users", "remove", "admin", "--data", data), "last administrator"),
        (("users", "set-role", "admin", "viewer", "--data", data), "last administrator"),
        (("users", "remove", "nobody", "--data", data), "no user 'nobody'"),
    ]
    for arguments, message in cases:
        done = cli(cli_env, *arguments)
        assert done.returncode == 2, (arguments, done.stderr)
        assert message in done.stderr, (arguments, done.stderr)
    short = cli(
        cli_env, "users", "set-password", "anna", "--data", data, "--password-stdin", password="short"
    )
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    assert [user.username for user in access.Users(team.root).all()] == ["admin", "anna", "lead", "cfo"]


def test_set_role_and_remove(team: Store, cli_env: dict[str, str]) -> None:
    data = str(team.root)
    done = cli(cli_env, "users", "set-role", "lead", "collector", "--collector", "Ben", "--data", data)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "lead: collector, sees Collector: Ben."
    lead = access.Users(team.root).get("lead")
    assert (lead.role, lead.collector, lead.team) == ("collector", "Ben", ())
    assert cli(cli_env, "users", "remove", "lead", "--data", data).returncode == 0
    assert access.Users(team.root).get("lead") is None


def test_rights_narrow_and_refuse() -> None:
    anna = access.User("anna", access.COLLECTOR, collector="Anna")
    assert access.restrict(anna, Scope()).filters == (("collector", ("Anna",)),)
    both = access.restrict(anna, Scope.of({"entity": ["Acme FR"]}))
    assert dict(both.filters) == {"entity": ("Acme FR",), "collector": ("Anna",)}
    with pytest.raises(access.AccessDenied, match="Collector Ben is outside the rights of anna"):
        access.restrict(anna, Scope.of({"collector": ["Anna", "Ben"]}))
    limited = access.User("cfo", access.VIEWER, limits=Scope.of({"entity": ["Acme FR"]}).filters)
    with pytest.raises(access.AccessDenied, match="Entity Acme DE is outside"):
        access.restrict(limited, Scope.of({"entity": ["Acme DE"]}))
    manager = access.User("boss", access.CREDIT_MANAGER)
    assert access.restrict(manager, Scope.of({"collector": ["Ben"]})) == Scope.of({"collector": ["Ben"]})
    # A collector limited to an entity their portfolio is not in sees nothing, not everything.
    nowhere = access.User(
        "x", access.COLLECTOR, collector="Anna", limits=Scope.of({"collector": ["Ben"]}).filters
    )
    assert nowhere.rights().values("collector") == ("",)


def test_each_user_sees_only_their_rights(team: Store) -> None:
    """Aging by collector as of 2026-02-01, through the rights of each user."""
    as_of = date(2026, 2, 1)
    totals = {}
    for username in ("admin", "anna", "lead", "cfo"):
        scope = access.restrict(access.Users(team.root).get(username), Scope())
        items = aging.aged_items(team, as_of, scope)
        report = aging.report(items, as_of, "collector", (30, 60, 90), scope)
        totals[username] = {row["collector"]: str(row["total"]) for row in report.iter_rows(named=True)}
    assert totals == {
        "admin": {"Anna": "1000.00", "Ben": "1000.00"},
        "anna": {"Anna": "1000.00"},
        "lead": {"Ben": "1000.00"},
        "cfo": {"Anna": "1000.00"},
    }


def test_command_line_applies_the_users_rights(team: Store, cli_env: dict[str, str]) -> None:
    data = str(team.root)
    report = ("report", "aging", "--data", data, "--as-of", AS_OF, "--by", "customer")
    missing = cli(cli_env, *report)
    assert missing.returncode == 2
    assert "defines users: give --user NAME" in missing.stderr
    mine = cli(cli_env, *report, "--user", "anna")
    assert mine.returncode == 0, mine.stderr
    rows = mine.stdout.splitlines()
    assert rows[1].startswith("C1,Alpha SARL,") and len(rows) == 2
    outside = cli(cli_env, *report, "--user", "anna", "--where", "collector=Ben")
    assert outside.returncode == 2
    assert "Collector Ben is outside the rights of anna (Collector: Anna)" in outside.stderr
    assert outside.stdout == ""
    unknown = cli(cli_env, *report, "--user", "mallory")
    assert unknown.returncode == 2 and "--user mallory: no such user" in unknown.stderr
    dso = cli(
        cli_env, "report", "dso", "--data", data, "--from", "2026-01", "--to", "2026-02", "--user", "lead"
    )
    assert dso.returncode == 0, dso.stderr
    february = dso.stdout.splitlines()[2].split(",")
    assert february[:2] == ["2026-02-28", "0.00"]  # Ben's I3 was paid on 02-20
    trail = access.audit_trail(team.root)
    exports = trail.filter(pl.col("event") == "Export")
    assert exports.get_column("user").to_list() == ["lead", "anna"]
    assert "(Collector: Anna)" in exports.get_column("detail")[1]
    refused = trail.filter(pl.col("event") == "Refused")
    assert refused.get_column("user").to_list() == ["anna"]


def test_writes_need_the_right_and_stay_in_scope(
    team: Store, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A viewer may not import actions; Anna may not qualify Ben's invoice; Anna's own call lands."""
    data = str(team.root)
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "kind,date,customer_id,document_ids,type,outcome,comment\naction,2026-02-02,C2,I3,call,reached,hi\n"
    )
    viewer = cli(cli_env, "actions", "import", "--data", data, "--file", str(calls), "--user", "cfo")
    assert viewer.returncode == 2
    assert "cfo (viewer (read-only)) may not qualify items and log actions" in viewer.stderr
    outside = cli(cli_env, "actions", "import", "--data", data, "--file", str(calls), "--user", "anna")
    assert outside.returncode == 2
    assert "C2" in outside.stderr and "scope" in outside.stderr
    own = tmp_path / "own.csv"
    own.write_text(
        "kind,date,customer_id,document_ids,type,outcome,comment\naction,2026-02-02,C1,I1,call,reached,ok\n"
    )
    done = cli(cli_env, "actions", "import", "--data", data, "--file", str(own), "--user", "anna")
    assert done.returncode == 0, done.stderr
    exported = cli(cli_env, "actions", "export", "--data", data, "--user", "lead")
    assert exported.returncode == 0
    assert exported.stdout.count("\n") == 1  # the header: the team lead of Ben does not see Anna's call
    mine = cli(cli_env, "actions", "export", "--data", data, "--user", "anna")
    assert ",C1,I1,call," in mine.stdout and "Anna K." in mine.stdout
    trail = access.audit_trail(team.root)
    assert trail.filter(pl.col("event") == "Write").get_column("user").to_list() == ["anna"]
    assert trail.filter(pl.col("event") == "Refused").get_column("user").to_list() == ["cfo"]


def test_an_imported_history_is_recorded_by_the_importer(
    team: Store, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A file's user_name is not who records its rows: the importing user is. Anna (a collector) may
    import her own calls, not a history naming Ben; the administrator may, and Ben stays its original
    author, shown beside the importer in the export."""
    data = str(team.root)
    history = tmp_path / "history.csv"
    history.write_text(
        "kind,date,customer_id,document_ids,type,outcome,comment,user_name\n"
        "action,2026-02-02,C1,I1,call,reached,hello,Ben\n"
    )
    collector = cli(cli_env, "actions", "import", "--data", data, "--file", str(history), "--user", "anna")
    assert collector.returncode == 2
    assert (
        "history.csv, row 2, column user_name: 'Ben' recorded this row, not Anna K.: only a role that may "
        "import data brings another's history"
    ) in collector.stderr
    admin = cli(cli_env, "actions", "import", "--data", data, "--file", str(history), "--user", "admin")
    assert admin.returncode == 0, admin.stderr
    exported = cli(cli_env, "actions", "export", "--data", data, "--user", "admin")
    header, row = exported.stdout.strip().splitlines()
    values = dict(zip(header.split(","), row.split(","), strict=True))
    assert (values["comment"], values["user_name"], values["original_author"]) == ("hello", "admin", "Ben")


def test_sign_in_with_delay_after_repeated_failures(team: Store) -> None:
    root = team.root
    assert access.sign_in(root, "Anna", "anna-password", now=1000.0).username == "anna"
    for attempt in range(3):
        with pytest.raises(access.SignInRefused, match="Unknown user or wrong password"):
            access.sign_in(root, "anna", "guess", now=1001.0 + attempt)
    # The fourth attempt, right password or not, waits 5 s after the third failure.
    with pytest.raises(
        access.SignInRefused, match="Too many failed sign-ins for anna: try again in 5 seconds"
    ):
        access.sign_in(root, "anna", "anna-password", now=1003.0)
    assert access.sign_in(root, "anna", "anna-password", now=1008.5).username == "anna"
    # An unknown name fails like a wrong password.
    with pytest.raises(access.SignInRefused, match="Unknown user or wrong password"):
        access.sign_in(root, "mallory", "anna-password", now=1010.0)
    for attempt in range(5):
        with pytest.raises(access.SignInRefused):
            access.sign_in(root, "lead", "x", now=2000.0 + attempt * 100)
    assert access.failure_delay(root, "lead", now=2400.0) == pytest.approx(20.0)  # 5 s doubled twice
    events = access.audit_trail(root).filter(
        pl.col("user").is_in(["anna", "mallory"]) & pl.col("event").str.contains("ign")
    )
    assert events.get_column("event").to_list()[::-1] == [
        "Signed in",
        "Failed sign-in",
        "Failed sign-in",
        "Failed sign-in",
        "Sign-in refused (wait)",
        "Signed in",
        "Failed sign-in",
    ]


def test_audit_trail_survives_a_cut_line(team: Store) -> None:
    path = team.root / access.AUDIT_FILE
    access.audit(team.root, "anna", "export", "first")
    with open(path, "a") as handle:
        handle.write('{"at": "2026-')  # a line cut by a crash mid-write
    access.audit(team.root, "anna", "export", "second")
    details = access.audit_trail(team.root).get_column("detail").to_list()
    assert details[:2] == ["second", "first"]


def test_audit_command_prints_newest_first(team: Store, cli_env: dict[str, str]) -> None:
    access.audit(team.root, "anna", "export", "aging table")
    done = cli(cli_env, "audit", "--data", str(team.root), "--user", "anna")
    assert done.returncode == 0
    first = done.stdout.splitlines()[0]
    assert "anna" in first and "Export" in first and "aging table" in first


def test_a_submit_outside_the_rights_writes_nothing(team: Store) -> None:
    """Anna promises payment on her I1 and on Ben's I3 in one submit: refused whole, nothing written;
    on I1 alone it lands."""
    from analytics import collections

    anna = access.Users(team.root).get("anna")
    scope = access.restrict(anna, Scope())
    promise = {"event_type": "promise_to_pay", "promised_date": date(2026, 2, 10)}
    both = submissions.Submission(
        (submissions.Qualification("I1", **promise), submissions.Qualification("I3", **promise))
    )
    with collections.CollectionsDB.for_store(team) as db:
        with pytest.raises(collections.CollectionsRefused) as refused:
            submissions.submit(db, both, store=team, as_of=date(2026, 2, 1), scope=scope, user=anna.name)
        assert any("I3" in message and "scope" in message for message in refused.value.messages)
        assert db.events().is_empty()
        own = submissions.Submission((submissions.Qualification("I1", **promise),))
        submissions.submit(db, own, store=team, as_of=date(2026, 2, 1), scope=scope, user=anna.name)
        assert db.events().get_column("document_id").to_list() == ["I1"]


def test_a_company_account_must_be_a_user_with_a_verified_address(team: Store) -> None:
    access.Users(team.root).add("anna@example.com", "collector", password=None, collector="Anna")
    assert access.identity_provider_user(team.root, "Anna@Example.com", True).collector == "Anna"
    assert access.identity_provider_user(team.root, "anna@example.com").username == "anna@example.com"
    with pytest.raises(access.SignInRefused, match="has not verified this e-mail address"):
        access.identity_provider_user(team.root, "anna@example.com", False)
    with pytest.raises(access.SignInRefused, match="mallory@example.com has no access to this app"):
        access.identity_provider_user(team.root, "mallory@example.com", True)
    # A company account has no password: the sign-in form refuses it whatever is typed.
    with pytest.raises(access.SignInRefused, match="Unknown user or wrong password"):
        access.sign_in(team.root, "anna@example.com", "")
    failed = access.audit_trail(team.root).filter(pl.col("event") == "Failed sign-in")
    assert failed.get_column("detail").to_list() == [
        "unknown user or wrong password",
        "identity provider account without a user",
        "e-mail address not verified",
    ]


@pytest.mark.parametrize(
    ("command", "refusal"),
    [
        (("import", "--documents", "documents.csv"), "cfo (viewer (read-only)) may not import data"),
        (("demo", "--customers", "10", "--documents", "100"), "cfo (viewer (read-only)) may not import data"),
        (("snapshot", "--as-of", "2026-02-01"), "cfo (viewer (read-only)) may not import data"),
        (
            ("scenarios", "run", "--as-of", "2026-02-01", "--send"),
            "cfo (viewer (read-only)) may not change recovery scenarios and send reminders",
        ),
    ],
)
def test_a_viewer_cannot_change_data_from_the_command_line(
    team: Store, cli_env: dict[str, str], command: tuple[str, ...], refusal: str
) -> None:
    before = team.version()
    done = cli(cli_env, *command, "--data", str(team.root), "--user", "cfo")
    assert done.returncode == 2, done.stderr
    assert f"error: {refusal}" in done.stderr
    assert team.version() == before
    assert access.audit_trail(team.root).row(0, named=True)["event"] == "Refused"


def test_the_hash_checked_for_an_unknown_name_costs_what_a_users_does() -> None:
    """The dummy hash an unknown name is checked against is written out in the code: it must be a hash
    of its phrase with the hasher's current parameters, so that checking it takes as long as checking a
    user's password."""
    assert access._HASHER.verify(access._DUMMY_HASH, "not a password of anyone")
    assert not access._HASHER.check_needs_rehash(access._DUMMY_HASH)
