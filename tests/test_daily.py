"""The daily run on the hand-worked ledger of conftest.py at 2026-02-14, against a real SMTP server on
loopback: Alpha SARL (C1) owes I1 1,000.00 EUR, due 02-09, 5 days late: Standard B2B's automatic +5 d
e-mail is due; Beta GmbH (C2) owes I3 1,200.00 USD (1,000.00 EUR), due 01-15, 30 days late: its +30 d
letter waits for a collector's confirmation (not automatic), so the run sends it nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from browser import free_port
from mailserver import body, mail_server, pdf_text

from analytics import access, app_link, contract, daily, scenarios
from analytics.collections import CollectionsDB
from analytics.store import Store

AS_OF = date(2026, 2, 14)
NEW_DOCUMENT = """document_id,document_type,customer_id,document_date,due_date,currency,amount,amount_functional
I5,invoice,C3,2026-02-10,2026-03-12,EUR,250.00,
"""
BAD_DOCUMENT = """document_id,document_type,customer_id,document_date,due_date,currency,amount,amount_functional
I6,invoice,C9,2026-02-10,2026-03-12,EUR,250.00,
"""


@pytest.fixture
def book(ledger_store: Store) -> Store:
    with CollectionsDB.for_store(ledger_store) as db:
        scenarios.save_contact(db, "C1", user="Anna", email="compta@alpha.test", contact_name="Mrs Dupont")
        scenarios.save_contact(db, "C2", user="Ben", email="ap@beta.test")
    return ledger_store


def configure(store: Store, port: int) -> None:
    (store.root / "settings.toml").write_text(
        f'[mail]\nhost = "127.0.0.1"\nport = {port}\nsender = "ar@acme.test"\nstarttls = false\n',
        encoding="utf-8",
    )


def emails(server) -> list[tuple[list[str], str]]:
    return sorted((recipients, message["Subject"]) for _, recipients, message in server.received)


def test_the_inbox_is_imported_and_moved_with_its_report(book: Store) -> None:
    inbox = book.root / "inbox"
    inbox.mkdir()
    (inbox / "documents-0214.csv").write_text(NEW_DOCUMENT, encoding="utf-8")
    (inbox / ".documents-next.csv.partial").write_text(NEW_DOCUMENT, encoding="utf-8")
    result = daily.run(book, AS_OF, environ={})
    assert [row["status"] for row in result.imports] == ["imported"]
    done = inbox / "done" / "2026-02-14-documents-0214.csv"
    assert done.read_text(encoding="utf-8") == NEW_DOCUMENT
    assert (
        (inbox / "done" / "2026-02-14-documents-0214.csv.report.txt")
        .read_text()
        .startswith("Imported: 1 document.")
    )
    assert not (inbox / "documents-0214.csv").exists()
    assert (inbox / ".documents-next.csv.partial").exists()  # being written: left for the next run
    assert "I5" in book.read(contract.DOCUMENTS).get_column("document_id").to_list()
    assert "imported  documents-0214.csv: Imported: 1 document." in result.summary()


def test_a_refused_file_goes_to_refused_with_the_problems(book: Store) -> None:
    inbox = book.root / "inbox"
    inbox.mkdir()
    (inbox / "documents.csv").write_text(BAD_DOCUMENT, encoding="utf-8")
    (inbox / "ledger.csv").write_text("x\n1\n", encoding="utf-8")
    result = daily.run(book, AS_OF, environ={})
    report = (inbox / "refused" / "2026-02-14-documents.csv.report.txt").read_text()
    assert report.startswith("Import refused: 1 problem; nothing was written.")
    assert "documents.csv, row 2, column customer_id: unknown customer 'C9'" in report
    assert (inbox / "refused" / "2026-02-14-documents.csv").exists()
    assert (
        (inbox / "refused" / "2026-02-14-ledger.csv.report.txt")
        .read_text()
        .startswith("Import refused: the file's name must start with its table: customers*, documents*")
    )
    assert "I6" not in book.read(contract.DOCUMENTS).get_column("document_id").to_list()
    assert any("documents.csv was refused" in problem for problem in result.problems)


def test_each_due_step_is_sent_once_to_the_right_contact(book: Store) -> None:
    with mail_server() as server:
        configure(book, server.port)
        first = daily.run(book, AS_OF, environ={})
        received = emails(server)
        again = daily.run(book, AS_OF, environ={})
        assert emails(server) == received
    assert [(row["customer_id"], row["recipient"]) for row in first.sent] == [("C1", "compta@alpha.test")]
    assert received == [(["compta@alpha.test"], "Payment reminder - Alpha SARL - 1,000.00 EUR overdue")]
    dupont = next(m for _, r, m in server.received if r == ["compta@alpha.test"])
    assert "Dear Mrs Dupont" in body(dupont)
    assert (len(again.sent), again.deliveries) == (0, [])
    assert "Recovery steps: 0 sent, 0 skipped, 0 not sent" in again.summary()
    assert not first.problems and not again.problems


def test_a_refusing_mail_server_is_reported_and_the_step_sent_at_the_next_run(book: Store) -> None:
    inbox = book.root / "inbox"
    inbox.mkdir()
    (inbox / "documents.csv").write_text(NEW_DOCUMENT, encoding="utf-8")
    with mail_server() as server:
        configure(book, server.port)
        server.refuse = True
        refused = daily.run(book, AS_OF, environ={})
        assert server.received == []
        server.refuse = False
        retried = daily.run(book, AS_OF, environ={})
        assert emails(server) == [
            (["compta@alpha.test"], "Payment reminder - Alpha SARL - 1,000.00 EUR overdue")
        ]
    assert [row["status"] for row in refused.imports] == ["imported"]  # the inbox went on
    assert [row["customer_id"] for row in refused.not_sent] == ["C1"] and not refused.sent
    assert any(
        "the mail server refused 1 step(s), tried again at the next run" in p for p in refused.problems
    )
    assert "failed: the server answered 554 Transaction failed: refused for the test" in refused.summary()
    assert [row["customer_id"] for row in retried.sent] == ["C1"] and not retried.problems
    with CollectionsDB.for_store(book) as db:
        log = scenarios.step_log(db).filter(pl.col("channel") == "smtp")
    assert log.get_column("customer_id").to_list() == ["C1"]


def test_the_run_is_recorded_in_the_audit_trail_and_the_last_run(book: Store) -> None:
    result = daily.run(book, AS_OF, environ={})
    trail = access.audit_trail(book.root)
    assert (trail.get_column("event")[0], trail.get_column("detail")[0]) == ("Daily run", result.headline())
    assert daily.last_run(book.root)["headline"] == result.headline()
    assert result.headline().startswith("daily run 2026-02-14: imported 0 file set(s), refused 0; ")
    # Without a mail server the e-mail steps are skipped, and said so.
    assert {row["detail"] for row in result.skipped} == {"SMTP not configured ([mail] host in settings.toml)"}
    assert any("no mail server in settings.toml" in p for p in result.problems)


def test_the_daily_command(book: Store, cli_env: dict[str, str]) -> None:
    with mail_server() as server:
        configure(book, server.port)
        done = subprocess.run(
            [sys.executable, "-m", "analytics", "daily", "--data", str(book.root), "--as-of", "2026-02-14"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert len(server.received) == 1
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Daily run at 2026-02-14")
    assert "Recovery steps: 1 sent, 0 skipped, 0 not sent" in done.stdout
    assert "compta@alpha.test" in done.stdout
    assert access.audit_trail(book.root).get_column("event")[0] == "Daily run"


def test_the_daily_command_with_users_needs_one_who_may_configure(book: Store, cli_env) -> None:
    users = access.Users(book.root)
    users.add("anna", "collector", password="anna-password", collector="Anna")
    command = [sys.executable, "-m", "analytics", "daily", "--data", str(book.root), "--user", "anna"]
    done = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "may not change recovery scenarios and send reminders" in done.stderr


def test_the_cfo_pack_holds_the_overview_figures(ledger_store: Store) -> None:
    """At 2026-03-31 the ledger's receivables are C1 I1 600.00 + I2 400.00 - P3 50.00 on account = 950.00
    EUR, all overdue (the cash on account, due 03-10, ages as overdue too); the pack's other figures
    are the Overview's, from the same functions. A second run the same day sends nothing more."""
    from analytics import scheduled

    figures = scheduled.cfo_figures(ledger_store, date(2026, 3, 31))
    assert (figures["total"], figures["overdue"]) == (Decimal("950.00"), Decimal("950.00"))
    with mail_server() as server:
        (ledger_store.root / "settings.toml").write_text(
            server.settings_toml() + '\n[reports.cfo_pack]\nto = ["cfo@acme.test"]\nwhen = "daily"\n',
            encoding="utf-8",
        )
        first = daily.run(ledger_store, date(2026, 3, 31), environ={})
        daily.run(ledger_store, date(2026, 3, 31), environ={})
        ((_, recipients, message),) = server.received
    assert recipients == ["cfo@acme.test"]
    assert [row["status"] for row in first.reports] == ["sent"]
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attachments) == {"receivables-2026-03-31.pdf", "aging-by-entity-2026-03-31.xlsx"}
    text = pdf_text(attachments["receivables-2026-03-31.pdf"])
    assert f"{scheduled.money(figures['total'])} EUR" in text
    assert f"{scheduled.money(figures['overdue'])} EUR \\({figures['overdue_share']}%\\)" in text
    assert scheduled.days(figures["dso_countback"]) in text and scheduled.days(figures["add"]) in text
    assert "Alpha SARL \\(C1\\)" in text
    entity = pl.read_excel(attachments["aging-by-entity-2026-03-31.xlsx"])
    assert entity.get_column("entity").to_list() == ["Acme FR"]  # Acme DE owes nothing at 03-31
    assert abs(entity.get_column("total").sum() - float(figures["total"])) < 0.005


def test_the_daily_command_says_when_the_app_holding_the_database_does_not_answer(
    book: Store, cli_env: dict[str, str], tmp_path
) -> None:
    """Another process holds collections.duckdb (here: this test) and DIR/.app.json names an app that
    is gone: the command says so (exit status 1), and what does not need the database still runs."""
    inbox = book.root / "inbox"
    inbox.mkdir()
    (inbox / "documents.csv").write_text(NEW_DOCUMENT, encoding="utf-8")
    command = [sys.executable, "-m", "analytics", "daily", "--data", str(book.root), "--as-of", "2026-02-14"]
    dead = f"http://127.0.0.1:{free_port()}{app_link.ROUTE}"
    with CollectionsDB.for_store(book):
        without_app = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=300)
        app_link.announce(book.root, dead)
        gone = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=300)
    assert without_app.returncode == 1, without_app.stderr
    assert (
        "the run could not be handed to the app: no running app announces itself in "
        f"{book.root / '.app.json'}" in without_app.stdout
    )
    assert "imported  documents.csv: Imported: 1 document." in without_app.stdout  # the inbox went on
    assert gone.returncode == 1, gone.stderr
    assert f"the run could not be handed to the app: the app at {dead} does not answer" in gone.stdout
    assert (
        "Recovery steps: 0 sent" in gone.stdout
        and "recovery steps: not sent, another instance" in gone.stdout
    )


def test_the_app_takes_a_daily_run_from_this_machine_with_its_token_only() -> None:
    token = "s3cret-token"
    ok = {"x-ar-token": token}
    assert app_link.refusal("127.0.0.1", ok, token) is None
    assert app_link.refusal("::1", ok, token) is None
    assert app_link.refusal("::ffff:127.0.0.1", ok, token) is None
    assert app_link.refusal("192.0.2.7", ok, token) == (
        "the daily run is asked from this machine only, not from 192.0.2.7"
    )
    assert app_link.refusal("192.0.2.7", ok, token, own_address="192.0.2.7") is None  # bound to it
    assert app_link.refusal("127.0.0.1", {}, token).startswith("the request does not carry the app's token")
    assert app_link.refusal("127.0.0.1", {"x-ar-token": "s3cret"}, token) is not None
    assert app_link.refusal("127.0.0.1", {**ok, "forwarded": "for=192.0.2.7"}, token) == (
        "the daily run is not asked through a proxy"
    )
    assert app_link.loopback_url("", 8501) == "http://127.0.0.1:8501/_ar/daily"
    assert app_link.loopback_url("0.0.0.0", 8501) == "http://127.0.0.1:8501/_ar/daily"
    assert app_link.loopback_url("::1", 8502) == "http://[::1]:8502/_ar/daily"
