"""Each collector's morning digest sent by the daily run, on the hand-worked ledger of conftest.py at
2026-02-14 (a Saturday: the digest is scheduled `daily` here), through a real SMTP server on loopback.

Anna's worklist: Alpha SARL (C1) owes I1 1,000.00 EUR, due 02-09, 5 days late: a new overdue item,
one customer to do today; Gamma SA's I4 is not due yet. Ben's: Beta GmbH (C2) owes I3 1,000.00 EUR
(1,200.00 USD), 30 days late: an other overdue item, nothing to do today but one item overdue."""

from __future__ import annotations

from datetime import date

from mailserver import body, mail_server

from analytics import daily, scheduled, worklist
from analytics.collections import CollectionsDB
from analytics.store import Store

AS_OF = date(2026, 2, 14)


def configure(store: Store, server, digest: str) -> None:
    (store.root / "settings.toml").write_text(
        server.settings_toml() + f'\n[reports.collector_digest]\nwhen = "daily"\n\n{digest}',
        encoding="utf-8",
    )


def test_each_collector_gets_their_worklist_once_a_day(ledger_store: Store) -> None:
    with mail_server() as server:
        configure(
            ledger_store,
            server,
            '[reports.collector_digest.to]\nAnna = "anna@acme.test"\nBen = "ben@acme.test"\n',
        )
        first = daily.run(ledger_store, AS_OF, environ={})
        again = daily.run(ledger_store, AS_OF, environ={})
        received = {recipients[0]: message for _, recipients, message in server.received}
    assert len(server.received) == 2  # the second run sent nothing
    assert [(row["recipient"], row["status"]) for row in first.reports] == [
        ("anna@acme.test", "sent"),
        ("ben@acme.test", "sent"),
    ]
    assert {row["status"] for row in again.reports} == {"already_sent"}
    assert not first.problems
    with CollectionsDB.for_store(ledger_store) as db:
        anna = worklist.worklist(db, ledger_store, worklist.WorklistQuery(AS_OF, collector="Anna"))
        ben = worklist.worklist(db, ledger_store, worklist.WorklistQuery(AS_OF, collector="Ben"))
    assert (anna.counts["to_do_today"], str(anna.counts["overdue_amount"])) == (1, "1000.00")
    anna_mail, ben_mail = received["anna@acme.test"], received["ben@acme.test"]
    assert anna_mail["Subject"] == (
        f"Worklist at 2026-02-14 for Anna: {anna.counts['to_do_today']} customer(s) to do today, "
        f"{anna.counts['late']} late"
    )
    text = body(anna_mail)
    assert (
        f"To do today: {anna.counts['to_do_today']} customer(s), of which {anna.counts['late']} late" in text
    )
    assert f"Done today: {anna.counts['done_today']}" in text
    assert (
        f"Overdue: {anna.counts['overdue_items']} item(s), {scheduled.money(anna.counts['overdue_amount'])} EUR"
        in text
    )
    assert "New overdue items: Alpha SARL (C1), 1 item(s), 1,000.00, 5 days past due, task 2026-02-10" in text
    assert "Gamma" not in text and "Beta" not in text
    ben_text = body(ben_mail)
    assert f"To do today: {ben.counts['to_do_today']} customer(s)" in ben_text
    assert f"Overdue: {ben.counts['overdue_items']} item(s), 1,000.00 EUR" in ben_text
    assert "Other overdue items: Beta GmbH (C2), 1 item(s), 1,000.00, 30 days past due" in ben_text


def test_collectors_sharing_an_address_get_one_digest(ledger_store: Store) -> None:
    with mail_server() as server:
        configure(
            ledger_store,
            server,
            '[reports.collector_digest.to]\nAnna = "team@acme.test"\nBen = "team@acme.test"\n',
        )
        result = daily.run(ledger_store, AS_OF, environ={})
        ((_, recipients, message),) = server.received
    assert recipients == ["team@acme.test"]
    assert (
        message["Subject"].strip()
        == "Worklist at 2026-02-14 for Anna, Ben: 1 customer(s) to do today, 0 late"
    )
    text = body(message)
    assert "Worklist of Anna at 2026-02-14" in text and "Worklist of Ben at 2026-02-14" in text
    assert [row["detail"] for row in result.reports] == ["worklist of Anna, Ben"]


def test_a_refused_digest_is_reported_and_sent_at_the_next_run(ledger_store: Store) -> None:
    with mail_server() as server:
        configure(ledger_store, server, '[reports.collector_digest.to]\nAnna = "anna@acme.test"\n')
        server.refuse = True
        refused = daily.run(ledger_store, AS_OF, environ={})
        server.refuse = False
        retried = daily.run(ledger_store, AS_OF, environ={})
        assert [r for _, r, _ in server.received] == [["anna@acme.test"]]
    assert [row["status"] for row in refused.reports] == ["not_sent"]
    assert "reports: 1 collector digest(s) not sent, tried again at the next run" in refused.problems
    assert [row["status"] for row in retried.reports] == ["sent"]


def test_the_digest_is_not_sent_on_a_day_it_is_not_due(ledger_store: Store) -> None:
    with mail_server() as server:
        (ledger_store.root / "settings.toml").write_text(
            server.settings_toml()
            + '\n[reports.collector_digest]\nwhen = "weekdays"\n\n'
            + '[reports.collector_digest.to]\nAnna = "anna@acme.test"\n',
            encoding="utf-8",
        )
        result = daily.run(ledger_store, AS_OF, environ={})  # a Saturday
        assert server.received == []
    assert result.reports == []
