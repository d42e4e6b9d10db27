"""The daily run on a small demo company at its last date, through a real SMTP server on loopback: the
demo's customers have contacts (nine in ten an address at example.com), so the run sends each
automatic e-mail step due once, to the customer's own contact, skips the customers without an
address, and a second run the same day sends nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from mailserver import mail_server

from analytics import daily, demo, scenarios
from analytics.collections import CollectionsDB
from analytics.store import Store

AS_OF = date(2026, 11, 20)


def test_daily_on_the_demo_sends_each_due_automatic_step_once_to_its_contact(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    demo.create(store, customers=40, documents=1_500, seed=3, as_of=AS_OF)
    with CollectionsDB.for_store(store) as db:
        contacts = scenarios.contacts(db)
        due = scenarios.proposals(db, store, AS_OF).filter(
            pl.col("automatic"), ~pl.col("done"), pl.col("action_type") == "email"
        )
    assert contacts.height == 40 and contacts.filter(pl.col("email").is_null()).height == 4
    address = dict(contacts.select("customer_id", "email").iter_rows())
    assert all(a.endswith("@example.com") for a in address.values() if a)
    reachable = sorted(c for c in due.get_column("customer_id").to_list() if address[c])
    assert reachable, "the demo has automatic e-mails due at its last date"
    with mail_server() as server:
        (store.root / "settings.toml").write_text(server.settings_toml(), encoding="utf-8")
        first = daily.run(store, AS_OF, environ={})
        received = sorted((recipients, message["To"]) for _, recipients, message in server.received)
        again = daily.run(store, AS_OF, environ={})
        assert len(server.received) == len(received)  # the second run sent nothing
    emailed = [row for row in first.sent if row["action_type"] == "email"]
    assert sorted(row["customer_id"] for row in emailed) == reachable
    assert all(row["recipient"] == address[row["customer_id"]] for row in emailed)
    assert received == sorted(([address[c]], address[c]) for c in reachable)
    skipped = sorted(row["customer_id"] for row in first.skipped)
    assert skipped == sorted(c for c in due.get_column("customer_id").to_list() if not address[c])
    assert all("no e-mail address" in row["detail"] for row in first.skipped)
    assert again.sent == [] and again.deliveries == []
