"""The collections workspace on the hand-worked ledger of conftest.py: promise outcomes at boundary
dates, disputes and their resolution, the state of an item derived from its events, refused input
(nothing written), concurrent writers, export and import, the demo history. Writes killed midway:
test_faults.py.

The ledger's items used here (functional currency EUR):
    I1  C1 Alpha (Anna)  issued 01-10, due 02-09, 1000.00; P1 cash 400.00 on 02-15 (600.00 left)
    I2  C1 Alpha (Anna)  issued 02-05, due 03-07,  500.00; CN1 applied 100.00 on 03-01 (credit_note)
    I3  C2 Beta  (Ben)   issued 01-15, due 01-15, 1000.00; P4 cash 1000.00 on 02-20 (settled)
    I4  C3 Gamma (Anna)  issued 03-01, due 03-31,  300.00; P5 written off 300.00 on 03-31
Grace period: 3 days, so a promise for day D is kept by a payment on D + 3 at the latest.
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analytics import (
    collections,
    demo,
    disputes,
    event_files,
    ingest,
    promises,
    submission_checks,
    submissions,
)
from analytics.collections import CollectionsDB, CollectionsRefused
from analytics.item_states import item_states
from analytics.scope import EVERYTHING, Scope
from analytics.store import ImportRecord, Store, Tables
from analytics.submissions import Action, Qualification, Submission

ROOT = Path(__file__).resolve().parent.parent
ANNA = Scope.of({"collector": ["Anna"]})


@pytest.fixture
def db(ledger_store: Store, collections_backend) -> CollectionsDB:
    """The ledger's collections database, on each back end (conftest.py's collections_backend)."""
    database = CollectionsDB.for_store(ledger_store)
    yield database
    database.close()


def promise(document_id: str, promised_date: date, amount: str | None) -> Submission:
    return Submission(
        (
            Qualification(
                document_id,
                "promise_to_pay",
                promised_date=promised_date,
                promised_amount=Decimal(amount) if amount else None,
            ),
        )
    )


def state_of(db: CollectionsDB, store: Store, as_of: date, document_id: str) -> dict:
    states = item_states(db, store, as_of)
    rows = states.filter(pl.col("document_id") == document_id).to_dicts()
    return rows[0] if rows else {}


# --- promises ----------------------------------------------------------------------------------------


def test_promise_kept_by_a_payment_on_the_last_day_of_grace(ledger_store: Store, db: CollectionsDB) -> None:
    """On 02-10 Alpha promises 400.00 on I1 for 02-12: deadline 02-12 + 3 = 02-15. Open on 02-14
    (P1 not in yet, deadline ahead); P1 400.00 arrives on 02-15, the deadline itself: kept from 02-15 on."""
    submissions.submit(
        db,
        promise("I1", date(2026, 2, 12), "400.00"),
        store=ledger_store,
        as_of=date(2026, 2, 10),
        scope=ANNA,
        user="Anna",
    )
    assert state_of(db, ledger_store, date(2026, 2, 14), "I1")["promise_status"] == "open"
    at_deadline = state_of(db, ledger_store, date(2026, 2, 15), "I1")
    assert (at_deadline["state"], at_deadline["promise_status"]) == ("promise_to_pay", "kept")
    assert at_deadline["promised_amount"] == Decimal("400.00")
    outcomes = promises.promise_outcomes(db, ledger_store, date(2026, 2, 20))
    row = outcomes.row(0, named=True)
    assert (row["deadline"], row["settled_on"], row["settled_amount"]) == (
        date(2026, 2, 15),
        date(2026, 2, 15),
        Decimal("400.00"),
    )


def test_promise_broken_by_a_payment_one_day_after_grace(ledger_store: Store, db: CollectionsDB) -> None:
    """Promised for 02-11: deadline 02-14. On 02-14 (the deadline) it is still open; P1 comes on 02-15,
    one day late: broken from 02-15, and stays broken later."""
    submissions.submit(
        db,
        promise("I1", date(2026, 2, 11), "400.00"),
        store=ledger_store,
        as_of=date(2026, 2, 10),
        scope=ANNA,
        user="Anna",
    )
    assert state_of(db, ledger_store, date(2026, 2, 14), "I1")["promise_status"] == "open"
    assert state_of(db, ledger_store, date(2026, 2, 15), "I1")["promise_status"] == "broken"
    assert state_of(db, ledger_store, date(2026, 3, 31), "I1")["promise_status"] == "broken"


def test_a_partial_payment_does_not_keep_a_promise_of_the_whole_amount(
    ledger_store: Store, db: CollectionsDB
) -> None:
    """No amount given: the whole open amount, 1000.00. P1 pays 400.00 within the window (deadline
    02-15): open on 02-15 (not past), broken on 02-16 with 400.00 settled of 1000.00."""
    submissions.submit(
        db,
        promise("I1", date(2026, 2, 12), None),
        store=ledger_store,
        as_of=date(2026, 2, 10),
        scope=ANNA,
        user="Anna",
    )
    assert state_of(db, ledger_store, date(2026, 2, 15), "I1")["promise_status"] == "open"
    late = state_of(db, ledger_store, date(2026, 2, 16), "I1")
    assert (late["promise_status"], late["promised_amount"]) == ("broken", Decimal("1000.00"))
    outcome = promises.promise_outcomes(db, ledger_store, date(2026, 2, 16)).row(0, named=True)
    assert outcome["settled_amount"] == Decimal("400.00")


def test_credit_notes_count_and_write_offs_do_not(ledger_store: Store, db: CollectionsDB) -> None:
    """I2 (open 500.00 on 02-20): 100.00 promised for 02-26 (deadline 03-01) is kept by CN1 applied on
    03-01. I4 (open 300.00 on 03-20): promised for 03-30 (deadline 04-02); P5 writes it off on 03-31,
    which is no payment: broken on 04-03."""
    submissions.submit(
        db,
        promise("I2", date(2026, 2, 26), "100.00"),
        store=ledger_store,
        as_of=date(2026, 2, 20),
        scope=ANNA,
        user="Anna",
    )
    submissions.submit(
        db,
        promise("I4", date(2026, 3, 30), None),
        store=ledger_store,
        as_of=date(2026, 3, 20),
        scope=ANNA,
        user="Anna",
    )
    outcomes = promises.promise_outcomes(db, ledger_store, date(2026, 4, 3))
    assert dict(outcomes.select("document_id", "promise_status").iter_rows()) == {
        "I2": "kept",
        "I4": "broken",
    }


def test_an_as_of_date_in_the_past_ignores_later_payments(ledger_store: Store, db: CollectionsDB) -> None:
    """Seen from 02-14, the promise of 400.00 for 02-12 is open whatever happened on 02-15."""
    submissions.submit(
        db,
        promise("I1", date(2026, 2, 12), "400.00"),
        store=ledger_store,
        as_of=date(2026, 2, 10),
        scope=ANNA,
        user="Anna",
    )
    outcome = promises.promise_outcomes(db, ledger_store, date(2026, 2, 14)).row(0, named=True)
    assert (outcome["promise_status"], outcome["settled_amount"]) == ("open", Decimal("0.00"))


# --- disputes and the state of an item ---------------------------------------------------------------


def test_dispute_then_resolution(ledger_store: Store, db: CollectionsDB) -> None:
    """I1 disputed on 02-10 (price, 300.00, owner Sam, expected 02-20); resolved on 02-18 (customer to
    pay). On 02-12 it is disputed for 2 days; on 02-17 still disputed (7 days); on 02-18 back to none.
    The resolution took 8 days."""
    dispute = Qualification(
        "I1",
        "disputed",
        comment="Price differs from the quote",
        dispute_reason="price",
        disputed_amount=Decimal("300.00"),
        internal_owner="Sam",
        expected_resolution=date(2026, 2, 20),
    )
    submissions.submit(
        db, Submission((dispute,)), store=ledger_store, as_of=date(2026, 2, 10), scope=ANNA, user="Anna"
    )
    row = state_of(db, ledger_store, date(2026, 2, 12), "I1")
    assert {
        k: row[k]
        for k in ("state", "dispute_reason", "disputed_amount", "internal_owner", "dispute_age_days")
    } == {
        "state": "disputed",
        "dispute_reason": "price",
        "disputed_amount": Decimal("300.00"),
        "internal_owner": "Sam",
        "dispute_age_days": 2,
    }
    summary = disputes.dispute_summary(db, ledger_store, date(2026, 2, 12))
    assert summary.figures["open_disputes"] == 1
    assert summary.by_reason.select("dispute_reason", "disputes", "disputed_amount").rows() == [
        ("price", 1, Decimal("300.00"))
    ]

    resolution = Qualification(
        "I1", "dispute_resolved", comment="Quote checked: price is right", outcome="customer_to_pay"
    )
    submissions.submit(
        db, Submission((resolution,)), store=ledger_store, as_of=date(2026, 2, 18), scope=ANNA, user="Anna"
    )
    assert state_of(db, ledger_store, date(2026, 2, 17), "I1")["state"] == "disputed"
    assert state_of(db, ledger_store, date(2026, 2, 18), "I1")["state"] == "none"
    summary = disputes.dispute_summary(db, ledger_store, date(2026, 2, 18))
    assert summary.figures["open_disputes"] == 0
    resolved = summary.resolution_by_reason.row(0, named=True)
    assert (resolved["dispute_reason"], resolved["resolved"], resolved["average_days_to_resolve"]) == (
        "price",
        1,
        8.0,
    )
    assert resolved["customer_to_pay"] == 1

    with pytest.raises(CollectionsRefused) as refused:
        submissions.submit(
            db,
            Submission((resolution,)),
            store=ledger_store,
            as_of=date(2026, 2, 19),
            scope=ANNA,
            user="Anna",
        )
    assert refused.value.messages == ["document I1, event_type: 'I1' has no open dispute to resolve"]


def test_disputes_page_promises_by_deadline_over_one_month(ledger_store: Store, db: CollectionsDB) -> None:
    """The summary of March to 03-20 (months=1): on 01-20 Alpha promises 400.00 on I1 for 02-12
    (deadline 02-15, kept by P1 that day), on 03-02 400.00 (all still open) on I2 for 03-05 (deadline 03-08, nothing
    paid: broken). The kept rate takes both (deadlines in the 90 days to 03-20): 1 of 2, 50%; March's
    row has the I2 promise made and broken, I1's made and kept in months before it."""
    submissions.submit(
        db,
        promise("I1", date(2026, 2, 12), "400.00"),
        store=ledger_store,
        as_of=date(2026, 1, 20),
        scope=ANNA,
        user="Anna",
    )
    submissions.submit(
        db,
        promise("I2", date(2026, 3, 5), "400.00"),
        store=ledger_store,
        as_of=date(2026, 3, 2),
        scope=ANNA,
        user="Anna",
    )
    summary = disputes.dispute_summary(db, ledger_store, date(2026, 3, 20), months=1)
    figures = summary.figures
    assert (figures["promises_kept"], figures["promises_broken"], figures["kept_rate"]) == (1, 1, 50.0)
    assert summary.monthly.select("month", "promises_made", "promises_kept", "promises_broken").rows() == [
        (date(2026, 3, 31), 1, 0, 1)
    ]
    states = item_states(db, ledger_store, date(2026, 3, 20))
    given = disputes.dispute_summary(db, ledger_store, date(2026, 3, 20), months=1, states=states)
    assert given.figures == figures
    assert given.broken_promises.get_column("document_id").to_list() == ["I2"]


def test_the_state_is_the_latest_event_at_the_as_of_date(ledger_store: Store, db: CollectionsDB) -> None:
    """I2: promise on 02-10, litigation on 02-20, cleared on 02-25. The state at each date is the one the
    latest event on or before it set; history lists the three, newest first."""
    submissions.submit(
        db,
        promise("I2", date(2026, 2, 27), "500.00"),
        store=ledger_store,
        as_of=date(2026, 2, 10),
        scope=ANNA,
        user="Anna",
    )
    litigation = Qualification("I2", "litigation", comment="Formal notice unanswered")
    submissions.submit(
        db, Submission((litigation,)), store=ledger_store, as_of=date(2026, 2, 20), scope=ANNA, user="Anna"
    )
    submissions.submit(
        db,
        Submission((Qualification("I2", "cleared"),)),
        store=ledger_store,
        as_of=date(2026, 2, 25),
        scope=ANNA,
        user="Anna",
    )
    states = {day: state_of(db, ledger_store, date(2026, 2, day), "I2") for day in (9, 10, 19, 20, 25)}
    assert {day: row["state"] for day, row in states.items()} == {
        9: "none",
        10: "promise_to_pay",
        19: "promise_to_pay",
        20: "litigation",
        25: "none",
    }
    assert states[20]["promised_date"] is None  # the promise is not the state any more
    story = collections.history(db, document_ids=["I2"])
    assert story.select("date", "type", "details").rows() == [
        (date(2026, 2, 25), "cleared", "back to normal"),
        (date(2026, 2, 20), "litigation", "sent to litigation"),
        (date(2026, 2, 10), "promise_to_pay", "promised 500.00 by 2026-02-27"),
    ]


def test_one_submission_qualifies_items_and_logs_the_call(ledger_store: Store, db: CollectionsDB) -> None:
    """A call on Alpha on 02-10 that obtains a promise on I1 and records a dispute on I2: two events and
    one action in one submission; the action names both items; the customer's timeline shows all three."""
    result = submissions.submit(
        db,
        Submission(
            (
                Qualification(
                    "I1", "promise_to_pay", promised_date=date(2026, 2, 13), promised_amount=Decimal("400")
                ),
                Qualification("I2", "disputed", comment="Missing parts", dispute_reason="delivery"),
            ),
            Action(
                "C1",
                "call",
                "promise_obtained",
                contact_person="Marie Curie",
                next_action_date=date(2026, 2, 17),
            ),
        ),
        store=ledger_store,
        as_of=date(2026, 2, 10),
        scope=ANNA,
        user="Anna",
    )
    assert len(result.event_ids) == 2 and result.action_id is not None
    action = db.actions().row(0, named=True)
    assert action["document_ids"] == ["I1", "I2"]
    assert action["next_action_date"] == date(2026, 2, 17)
    events = db.events(customer_ids=["C1"])
    assert set(events.get_column("submission_id")) == {result.submission_id}
    assert events.filter(pl.col("document_id") == "I2").row(0, named=True)["disputed_amount"] == Decimal(
        "500.00"
    )
    timeline = collections.history(db, customer_id="C1")
    assert sorted(timeline.get_column("type")) == ["call", "disputed", "promise_to_pay"]
    row = state_of(db, ledger_store, date(2026, 2, 10), "I1")
    assert (row["last_action_date"], row["next_action_date"]) == (date(2026, 2, 10), date(2026, 2, 17))


# --- refused input -----------------------------------------------------------------------------------

FEB_16 = date(2026, 2, 16)  # I1 open 600.00, I2 open 500.00, I3 open 1000.00, I4 not issued yet


@pytest.mark.parametrize(
    ("submission", "message"),
    [
        (
            promise("I1", date(2026, 2, 15), "100.00"),
            "document I1, promised_date: 2026-02-15 is in the past (the date of the event is 2026-02-16)",
        ),
        (
            promise("I1", date(2026, 2, 20), "600.01"),
            "document I1, promised_amount: 600.01 is above the item's open amount 600.00",
        ),
        (
            promise("I1", date(2026, 2, 20), "-5.00"),
            "document I1, promised_amount: must be positive, got -5.00",
        ),
        (
            Submission(
                (
                    Qualification(
                        "I2",
                        "disputed",
                        comment="x",
                        dispute_reason="price",
                        disputed_amount=Decimal("500.50"),
                    ),
                )
            ),
            "document I2, disputed_amount: 500.50 is above the item's open amount 500.00",
        ),
        (
            promise("I4", date(2026, 3, 20), None),
            "document I4, document_id: 'I4' is not an open item at 2026-02-16",
        ),
        (
            promise("I3", date(2026, 2, 20), None),
            "document I3, document_id: 'I3' is outside your scope (customer C2)",
        ),
        (
            Submission((Qualification("I1", "paid"),)),
            "document I1, event_type: 'paid' is not one of: " + ", ".join(collections.QUALIFICATIONS),
        ),
        (
            Submission((Qualification("I1", "disputed", comment="x", dispute_reason="colour"),)),
            "document I1, dispute_reason: 'colour' is not one of: " + ", ".join(collections.DISPUTE_REASONS),
        ),
        (
            Submission((Qualification("I1", "disputed", dispute_reason="price"),)),
            "document I1, comment: required for a dispute",
        ),
        (
            Submission((Qualification("I1", "litigation", comment="  "),)),
            "document I1, comment: required for litigation",
        ),
        (
            Submission((Qualification("I1", "bad_debt_proposed"),)),
            "document I1, comment: required for a bad-debt proposal",
        ),
        (
            Submission((Qualification("I1", "dispute_resolved", outcome="customer_to_pay"),)),
            "document I1, comment: required for a dispute resolution",
        ),
        (
            Submission(action=Action("C1", "fax", "reached")),
            "action, action_type: 'fax' is not one of: " + ", ".join(collections.ACTION_TYPES),
        ),
        (
            Submission(action=Action("C1", "call", "angry")),
            "action, outcome: 'angry' is not one of: " + ", ".join(collections.ACTION_OUTCOMES),
        ),
        (
            Submission(action=Action("C2", "call", "reached")),
            "action, customer_id: customer 'C2' is outside your scope",
        ),
        (
            Submission(action=Action("C1", "call", "reached", document_ids=("I3",))),
            "action, document_ids: 'I3' is not an open item of customer C1 at 2026-02-16",
        ),
        (
            Submission(action=Action("C1", "call", "reached", next_action_date=date(2026, 2, 1))),
            "action, next_action_date: 2026-02-01 is in the past (the date of the action is 2026-02-16)",
        ),
        (Submission(), "nothing to record: qualify an item or log an action"),
    ],
)
def test_refused_input_writes_nothing(
    ledger_store: Store, db: CollectionsDB, submission: Submission, message: str
) -> None:
    with pytest.raises(CollectionsRefused) as refused:
        submissions.submit(db, submission, store=ledger_store, as_of=FEB_16, scope=ANNA, user="Anna")
    assert message in refused.value.messages
    assert db.events().height == 0 and db.actions().height == 0


def test_all_or_nothing_lists_every_problem(ledger_store: Store, db: CollectionsDB) -> None:
    """A valid promise on I1 with a call on a customer out of scope and a dispute without comment: both
    problems are listed, and the valid promise is not written either."""
    submission = Submission(
        (
            promise("I1", date(2026, 2, 20), "100.00").qualifications[0],
            Qualification("I2", "disputed", dispute_reason="price"),
        ),
        Action("C1", "call", "reached", document_ids=("I3",)),
    )
    with pytest.raises(CollectionsRefused) as refused:
        submissions.submit(db, submission, store=ledger_store, as_of=FEB_16, scope=ANNA, user="Anna")
    assert refused.value.messages == [
        "document I2, comment: required for a dispute",
        "action, document_ids: 'I3' is not an open item of customer C1 at 2026-02-16",
    ]
    with pytest.raises(CollectionsRefused, match="user_name: required"):
        submissions.submit(
            db, promise("I1", date(2026, 2, 20), None), store=ledger_store, as_of=FEB_16, scope=ANNA, user=" "
        )
    assert db.events().height == 0 and db.actions().height == 0


# --- concurrency -------------------------------------------------------------------------------------


def test_twenty_threads_of_a_hundred_actions(ledger_store: Store, db: CollectionsDB) -> None:
    """20 threads log 100 calls each through one CollectionsDB: exactly 2,000 rows, every comment once,
    2,000 distinct ids."""
    errors: list[BaseException] = []

    def log(thread: int) -> None:
        try:
            for number in range(100):
                action = Action("C1", "call", "reached", comment=f"{thread}-{number}")
                submissions.submit(
                    db,
                    Submission(action=action),
                    store=ledger_store,
                    as_of=FEB_16,
                    scope=ANNA,
                    user=f"user{thread}",
                )
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=log, args=(t,)) for t in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    actions = db.actions()
    assert actions.height == 2_000
    assert actions.get_column("action_id").n_unique() == 2_000
    assert sorted(actions.get_column("comment")) == sorted(f"{t}-{n}" for t in range(20) for n in range(100))


# --- export and import -------------------------------------------------------------------------------


def seed_events(db: CollectionsDB, store: Store) -> None:
    submissions.submit(
        db,
        Submission(
            (
                Qualification(
                    "I1", "promise_to_pay", promised_date=date(2026, 2, 13), promised_amount=Decimal("400")
                ),
            ),
            Action(
                "C1",
                "email",
                "promise_obtained",
                comment="Statement sent",
                next_action_date=date(2026, 2, 17),
            ),
        ),
        store=store,
        as_of=date(2026, 2, 10),
        scope=EVERYTHING,
        user="Anna",
    )
    dispute = Qualification(
        "I3", "disputed", comment="Wrong quantity", dispute_reason="billing_error", internal_owner="Billing"
    )
    submissions.submit(
        db, Submission((dispute,)), store=store, as_of=date(2026, 2, 12), scope=EVERYTHING, user="Ben"
    )


def test_export_then_import_into_another_database(
    ledger_store: Store, db: CollectionsDB, tmp_path: Path, collections_backend
) -> None:
    """The export of two submissions (a promise with an email, a dispute) read back into an empty
    database gives the same events and action, recorded by the importer with their first authors as
    original authors; importing the same file again is refused."""
    seed_events(db, ledger_store)
    exported = event_files.export_events(db)
    assert exported.select("kind", "date", "type", "document_ids").rows() == [
        ("qualification", date(2026, 2, 10), "promise_to_pay", "I1"),
        ("action", date(2026, 2, 10), "email", "I1"),
        ("qualification", date(2026, 2, 12), "disputed", "I3"),
    ]
    path = tmp_path / "events.csv"
    exported.write_csv(path)
    with collections_backend.open(tmp_path / "other.duckdb") as other:
        result = event_files.import_events(other, path, ledger_store, user="Importer", today=date(2026, 3, 1))
        assert (result.item_events, result.actions) == (2, 1)
        columns = [
            "document_id",
            "event_type",
            "event_date",
            "promised_date",
            "promised_amount",
            "dispute_reason",
            "disputed_amount",
            "internal_owner",
        ]
        assert other.events().select(columns).equals(db.events().select(columns))
        # The importer recorded them here; who recorded them first is their original author.
        assert other.events().select("user_name", "original_author").rows() == [
            ("Importer", "Anna"),
            ("Importer", "Ben"),
        ]
        assert other.actions().select("user_name", "original_author").rows() == [("Importer", "Anna")]
        story = collections.history(other, customer_id="C1")
        assert story.get_column("user_name").to_list()[-1] == "Importer, imported from Anna's history"
        assert (
            other.actions()
            .select("customer_id", "action_type", "document_ids", "next_action_date")
            .equals(db.actions().select("customer_id", "action_type", "document_ids", "next_action_date"))
        )
        with pytest.raises(ingest.ImportRefused, match="this file was already imported by Importer"):
            event_files.import_events(other, path, ledger_store, user="Importer", today=date(2026, 3, 1))


def test_import_names_file_row_and_column(ledger_store: Store, db: CollectionsDB, tmp_path: Path) -> None:
    """Row 2 is fine; row 3 promises more than I1's open 600.00 on 02-16; row 4 has an unknown action
    type and a date that is not a date; row 5 is dated after today. Nothing is written."""
    path = tmp_path / "actions.csv"
    path.write_text(
        "kind,date,customer_id,document_ids,type,outcome,promised_date,promised_amount,comment\n"
        "qualification,2026-02-10,,I1,promise_to_pay,,2026-02-13,400.00,\n"
        "qualification,2026-02-16,,I1,promise_to_pay,,2026-02-20,700.00,\n"
        "action,16/02/2026,C1,I1,fax,reached,,,\n"
        "action,2026-03-05,C1,,call,reached,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ingest.ImportRefused) as refused:
        event_files.import_events(db, path, ledger_store, user="Anna", today=date(2026, 3, 1))
    problems = [str(p) for p in refused.value.problems]
    assert (
        "actions.csv, row 3, column promised_amount: 700.00 is above the item's open amount 600.00"
        in problems
    )
    assert "actions.csv, row 4, column date: '16/02/2026' is not a date like 2026-01-31" in problems
    assert any(p.startswith("actions.csv, row 4, column action_type: 'fax' is not one of") for p in problems)
    assert "actions.csv, row 5, column date: 2026-03-05 is in the future (today is 2026-03-01)" in problems
    assert db.events().height == 0 and db.actions().height == 0


def test_schema_is_created_once_and_versioned(ledger_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    CollectionsDB(path).close()
    with CollectionsDB(path) as again:
        assert again.read("collections_schema_version").get_column("version").to_list() == [
            collections.SCHEMA_VERSION
        ]
        assert again.data_version() == "0-0-0"


# --- the demo history --------------------------------------------------------------------------------

DEMO_AS_OF = date(2026, 5, 20)


@pytest.fixture(scope="module")
def demo_company(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[demo.Ledger, Store, pl.DataFrame, pl.DataFrame]:
    ledger = demo.generate(customers=120, documents=6_000, seed=5, as_of=DEMO_AS_OF)
    store = Store(tmp_path_factory.mktemp("demo-history") / "data")
    store.write(
        Tables(ledger.customers, ledger.documents, ledger.payments, keep_snapshots=False),
        ImportRecord("demo", "demo", "-", 0, 0, 0, 0),
    )
    events, actions = demo.collections_history(ledger, seed=5, as_of=DEMO_AS_OF)
    return ledger, store, events, actions


def test_demo_history_is_deterministic(demo_company: tuple) -> None:
    ledger, _, events, actions = demo_company
    again = demo.collections_history(ledger, seed=5, as_of=DEMO_AS_OF)
    other = demo.collections_history(ledger, seed=6, as_of=DEMO_AS_OF)
    assert events.equals(again[0]) and actions.equals(again[1])
    assert not events.equals(other[0])
    shuffled = demo.Ledger(
        *(
            frame.sample(fraction=1.0, shuffle=True, seed=1)
            for frame in (ledger.customers, ledger.documents, ledger.payments)
        )
    )
    assert events.equals(demo.collections_history(shuffled, seed=5, as_of=DEMO_AS_OF)[0])
    assert events.columns == list(collections.ITEM_EVENT_SCHEMA)
    assert actions.columns == list(collections.ACTION_SCHEMA)
    assert events.get_column("event_date").min() > DEMO_AS_OF - timedelta(days=2 * 366)
    assert set(events.get_column("event_type")) == set(collections.QUALIFICATIONS)


def test_demo_history_passes_the_rules_of_a_submission(demo_company: tuple) -> None:
    """Every event and action, checked at its own date: item open, amounts within the open amount,
    dates not in the past, allowed values, comments, resolutions of open disputes only."""
    _, store, events, actions = demo_company
    assert submission_checks.history_problems(store, events, actions).rows() == []


def test_demo_promises_match_the_payments(demo_company: tuple, tmp_path: Path) -> None:
    """Worked from the ledger independently: a decided promise is kept exactly when cash and credit
    notes on its document from its date to promised date + 3 reach the promised amount; broken ones of
    items paid since were paid after that deadline. Both kinds exist, and most promises are kept."""
    ledger, store, events, actions = demo_company
    with CollectionsDB(tmp_path / "c.duckdb") as db:
        assert submissions.load_history(db, events, actions) == (events.height, actions.height)
        outcomes = promises.promise_outcomes(db, store, DEMO_AS_OF)
    settling = ledger.payments.filter(pl.col("method").is_in(["cash", "credit_note"]))
    decided = outcomes.filter(pl.col("promise_status") != "open")
    paid = (
        decided.select("event_id", "document_id", "event_date", "deadline")
        .join(settling.select("document_id", "payment_date", "amount"), on="document_id", how="left")
        .filter(pl.col("payment_date").is_between(pl.col("event_date"), pl.col("deadline")))
        .group_by("event_id")
        .agg(pl.col("amount").sum().alias("paid"))
    )
    checked = decided.join(paid, on="event_id", how="left").with_columns(pl.col("paid").fill_null(0))
    expected = (
        pl.when(pl.col("paid") >= pl.col("promised_amount")).then(pl.lit("kept")).otherwise(pl.lit("broken"))
    )
    assert checked.filter(expected != pl.col("promise_status")).height == 0
    counts = dict(decided.group_by("promise_status").len().iter_rows())
    assert counts["kept"] > counts["broken"] > 0
    settled_in_full = (
        settling.group_by("document_id")
        .agg(pl.col("amount").sum().alias("settled"), pl.col("payment_date").max().alias("last_paid"))
        .join(ledger.documents.select("document_id", "amount_functional"), on="document_id")
        .filter(pl.col("settled") >= pl.col("amount_functional"))
    )
    broken = decided.filter(pl.col("promise_status") == "broken").join(settled_in_full, on="document_id")
    assert broken.height > 0
    assert broken.filter(pl.col("last_paid") <= pl.col("deadline")).height == 0


def test_a_schema_3_file_gains_the_original_author_on_opening(tmp_path: Path) -> None:
    """A file written before original authors (schema 3: no such column) opens, gains the column
    (null for its rows) and records schema 4."""
    path = tmp_path / "collections.duckdb"
    CollectionsDB(path).close()
    con = duckdb.connect(str(path))
    con.execute("alter table actions drop column original_author")
    con.execute("alter table item_events drop column original_author")
    con.execute("delete from schema_version where version = 4")
    con.execute("insert into schema_version values (3, now())")
    con.close()
    with CollectionsDB(path) as db:
        assert db.actions().columns == list(collections.ACTION_SCHEMA)
        assert db.events().columns == list(collections.ITEM_EVENT_SCHEMA)
        assert db.read("collections_schema_version").item() == 4


# --- settlements kept per generation of the store -----------------------------------------------------


def test_promise_figures_after_saves_equal_a_full_settlement(ledger_store: Store, db: CollectionsDB) -> None:
    """Seen from 04-03 while promises are saved one after another (the settlements of the earlier
    ones are kept, only the new one is settled against the payments): I1 400.00 for 02-12 kept by P1;
    I2 100.00 for 02-26 kept by CN1; I4 for 03-30 broken (a write-off is no payment); a second promise
    on I1, 600.00 for 03-20, broken. After each save the outcomes and the item states equal those of a
    settlement of every promise from scratch (I4, written off, is no longer an open item)."""
    as_of = date(2026, 4, 3)
    saves = [
        (promise("I1", date(2026, 2, 12), "400.00"), date(2026, 2, 10)),
        (promise("I2", date(2026, 2, 26), "100.00"), date(2026, 2, 20)),
        (promise("I4", date(2026, 3, 30), None), date(2026, 3, 20)),
        (promise("I1", date(2026, 3, 20), "600.00"), date(2026, 3, 1)),
    ]
    promises.forget_settlements()
    seen = []
    for submission, recorded in saves:
        submissions.submit(db, submission, store=ledger_store, as_of=recorded, scope=ANNA, user="Anna")
        kept = promises.kept_settlements()
        outcomes = promises.promise_outcomes(db, ledger_store, as_of)
        # The saved promise alone was settled now, the earlier ones came from those kept.
        assert promises.kept_settlements() == kept + 1
        states = item_states(db, ledger_store, as_of)
        promises.forget_settlements()
        assert outcomes.equals(promises.promise_outcomes(db, ledger_store, as_of))
        assert states.equals(item_states(db, ledger_store, as_of))
        seen.append(
            outcomes.select("document_id", "promised_date", "settled_amount", "promise_status").rows()
        )
    assert seen[-1] == [
        ("I1", date(2026, 2, 12), Decimal("400.00"), "kept"),
        ("I2", date(2026, 2, 26), Decimal("100.00"), "kept"),
        ("I1", date(2026, 3, 20), Decimal("0.00"), "broken"),
        ("I4", date(2026, 3, 30), Decimal("0.00"), "broken"),
    ]
    assert dict(states.select("document_id", "promise_status").drop_nulls().iter_rows()) == {
        "I1": "broken",
        "I2": "kept",
    }


def test_a_payment_imported_after_a_settlement_counts(ledger_store: Store, db: CollectionsDB) -> None:
    """I4's promise for 03-30 is broken at 04-03 (settled once, the figure kept); a new import adds a
    cash payment of 300.00 on I4 on 04-01, within grace: the promise is kept from then on (the
    settlements kept belong to the generation they were read from)."""
    submissions.submit(
        db,
        promise("I4", date(2026, 3, 30), None),
        store=ledger_store,
        as_of=date(2026, 3, 20),
        scope=ANNA,
        user="Anna",
    )
    before = promises.promise_outcomes(db, ledger_store, date(2026, 4, 3)).row(0, named=True)
    assert before["promise_status"] == "broken"
    con = ledger_store.connect()
    payments = con.sql("select * from payments").pl()
    late = payments.filter(pl.col("payment_id") == "P4").with_columns(
        pl.lit("P6").alias("payment_id"),
        pl.lit("C3").alias("customer_id"),
        pl.lit(date(2026, 4, 1)).alias("payment_date"),
        pl.lit("I4").alias("document_id"),
        pl.lit(Decimal("300.00")).cast(payments.schema["amount"]).alias("amount"),
    )
    ledger_store.write(
        Tables(
            con.sql("select * from customers").pl(),
            con.sql("select * from documents").pl(),
            pl.concat([payments, late]),
        ),
        ImportRecord("test", "payments.csv", "-", 0, 0, 1, 0),
    )
    after = promises.promise_outcomes(db, ledger_store, date(2026, 4, 3)).row(0, named=True)
    assert (after["promise_status"], after["settled_on"], after["settled_amount"]) == (
        "kept",
        date(2026, 4, 1),
        Decimal("300.00"),
    )


def test_actions_per_month_count_the_scope_alone(ledger_store: Store, db: CollectionsDB) -> None:
    """Calls on Alpha (Anna) on 02-10 and 03-05 and on Beta (Ben) on 02-12, summed up at 03-20 over two
    months: Anna's portfolio counts one action in February and one in March, the whole company two in
    February."""
    for customer, day, scope in (("C1", date(2026, 2, 10), ANNA), ("C1", date(2026, 3, 5), ANNA)):
        submissions.submit(
            db,
            Submission((), Action(customer, "call", "no_answer")),
            store=ledger_store,
            as_of=day,
            scope=scope,
            user="Anna",
        )
    submissions.submit(
        db,
        Submission((), Action("C2", "call", "no_answer")),
        store=ledger_store,
        as_of=date(2026, 2, 12),
        scope=EVERYTHING,
        user="Ben",
    )
    as_of = date(2026, 3, 20)
    anna = disputes.dispute_summary(db, ledger_store, as_of, ANNA, months=2).monthly
    everyone = disputes.dispute_summary(db, ledger_store, as_of, months=2).monthly
    assert anna.select("month", "actions").rows() == [(date(2026, 2, 28), 1), (date(2026, 3, 31), 1)]
    assert everyone.select("month", "actions").rows() == [(date(2026, 2, 28), 2), (date(2026, 3, 31), 1)]


# --- the rows held in memory -------------------------------------------------------------------------


def test_the_rows_held_in_memory_follow_every_write_and_a_replaced_history(
    ledger_store: Store, tmp_path: Path
) -> None:
    """A reader's events and actions after saves, and after the history is replaced (ids numbered from
    1 again), are the rows a fresh process reads from the file: none missed, none doubled, in order."""
    path = tmp_path / "collections.duckdb"

    def fresh() -> tuple[pl.DataFrame, pl.DataFrame]:
        with CollectionsDB(path) as other:
            return other.events(), other.actions()

    db = CollectionsDB(path)
    try:
        db.events(), db.actions()  # held from here on: what follows must be added to them
        submissions.submit(
            db,
            promise("I1", date(2026, 2, 20), "400.00"),
            store=ledger_store,
            as_of=date(2026, 2, 10),
            scope=ANNA,
            user="Anna",
        )
        submissions.submit(
            db,
            Submission(action=Action("C1", "call", "reached", comment="Will pay", document_ids=("I1",))),
            store=ledger_store,
            as_of=date(2026, 2, 11),
            scope=ANNA,
            user="Anna",
        )
        after_saves = (db.events(), db.actions())
        assert (after_saves[0].height, after_saves[1].height) == (1, 1)
        db.close()
        assert all(held.equals(read) for held, read in zip(after_saves, fresh(), strict=True))
        db = CollectionsDB(path)
        held_before = db.events()
        events = held_before.with_columns(pl.col("event_date") - timedelta(days=1))
        submissions.load_history(db, events, db.actions().head(0), replace=True)
        replaced = (db.events(), db.actions())
        assert replaced[1].is_empty() and replaced[0].get_column("event_date").to_list() == [date(2026, 2, 9)]
        db.close()
        assert all(held.equals(read) for held, read in zip(replaced, fresh(), strict=True))
    finally:
        db.close()


def test_the_timeline_has_one_line_per_submission(ledger_store: Store, db: CollectionsDB) -> None:
    """On 02-12 Anna records a delivery dispute on I1 and I2 with a call in one save, on 02-13 a call
    alone: Alpha's timeline has two lines, newest first, the first naming both invoices once."""
    submissions.submit(
        db,
        Submission(
            (
                Qualification("I1", "disputed", comment="Parts missing", dispute_reason="delivery"),
                Qualification("I2", "disputed", comment="Parts missing", dispute_reason="delivery"),
            ),
            Action("C1", "call", "reached", comment="Parts missing", contact_person="M. Roy"),
        ),
        store=ledger_store,
        as_of=date(2026, 2, 12),
        scope=ANNA,
        user="Anna",
    )
    submissions.submit(
        db,
        Submission(action=Action("C1", "call", "no_answer", comment="No answer")),
        store=ledger_store,
        as_of=date(2026, 2, 13),
        scope=ANNA,
        user="Anna",
    )
    lines = collections.timeline(db, "C1")
    assert lines.height == 2
    newest, dispute = lines.row(0, named=True), lines.row(1, named=True)
    assert (newest["date"], newest["action_type"], newest["outcome"], newest["qualification"]) == (
        date(2026, 2, 13),
        "call",
        "no_answer",
        None,
    )
    assert newest["documents"] == ""
    assert dispute["kinds"] == ["action", "qualification"]
    assert (dispute["action_type"], dispute["qualification"], dispute["documents"]) == (
        "call",
        "disputed",
        "I1, I2",
    )
    assert dispute["contact_person"] == "M. Roy" and dispute["user_name"] == "Anna"
    assert dispute["comment"] == "Parts missing"
    assert (
        dispute["details"].startswith("I1: delivery dispute of")
        and "; I2: delivery dispute of" in dispute["details"]
    )
    # The items' own story (the side panel's) still lists each event.
    assert (
        collections.history(db, document_ids=["I1", "I2"]).filter(pl.col("kind") == "qualification").height
        == 2
    )
