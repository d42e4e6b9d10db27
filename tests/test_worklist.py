"""The collector's worklist on a hand-worked book at 2026-06-30: sections in order, priority scores,
one row per customer and section, the counts at the top.

Customers (collector Anna unless said): K1 risk A, K2 B, K3 C, K4 D, K5 no risk class, K6 B (Ben).
Items open at 06-30 (EUR; days past due; priority = amount x (1 + min(dpd, 180) / 30) x risk factor):

    A1  K1  1000.00  10  promise for 06-25 made 06-22: broken (06-25 + 3 < 06-30)  1333.33
    A2  K2   500.00  30  promise for 06-30 made 06-26: due today                   1200.00
    A3  K3   200.00  90  call on 06-20 naming it, next action 06-29: late          1200.00
    A4  K4   100.00   3  overdue since 06-28: new                                    220.00
    A5  K5   300.00 120  disputed 05-01, expected resolution 06-15: waiting         1800.00
    A6  K1  2000.00  60  overdue                                                    6000.00
    A12 K1   300.00  30  overdue                                                     600.00
    A8  K3   100.00 211  overdue (age factor capped at 180 days: 7)                 1050.00
    A7  K4    50.00 180  overdue                                                     700.00
    A9  K2   400.00 -15  not due: not listed
    A11 K5    80.00  15  promise for 07-05: waiting, not listed
    CN1 K1   -50.00  60  a credit note: not chased
    A10 K6  1000.00  29  Ben's: overdue in everyone's list                           2360.00
Anna logged an email to K2 on 06-30, Ben a call to K6.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from analytics import contract, submissions, worklist
from analytics.collections import CollectionsDB
from analytics.item_states import item_states
from analytics.scope import EVERYTHING
from analytics.store import ImportRecord, Store, Tables
from analytics.submissions import Action, Qualification, Submission

AS_OF = date(2026, 6, 30)
CUSTOMERS = [
    ("K1", "Kilo One", "Anna", "A"),
    ("K2", "Kilo Two", "Anna", "B"),
    ("K3", "Kilo Three", "Anna", "C"),
    ("K4", "Kilo Four", "Anna", "D"),
    ("K5", "Kilo Five", "Anna", None),
    ("K6", "Kilo Six", "Ben", "B"),
]
DOCUMENTS = [
    ("A1", "K1", date(2026, 6, 20), "1000.00"),
    ("A6", "K1", date(2026, 5, 1), "2000.00"),
    ("A12", "K1", date(2026, 5, 31), "300.00"),
    ("A2", "K2", date(2026, 5, 31), "500.00"),
    ("A9", "K2", date(2026, 7, 15), "400.00"),
    ("A3", "K3", date(2026, 4, 1), "200.00"),
    ("A8", "K3", date(2025, 12, 1), "100.00"),
    ("A4", "K4", date(2026, 6, 27), "100.00"),
    ("A7", "K4", date(2026, 1, 1), "50.00"),
    ("A5", "K5", date(2026, 3, 2), "300.00"),
    ("A11", "K5", date(2026, 6, 15), "80.00"),
    ("CN1", "K1", date(2026, 5, 1), "-50.00"),
    ("A10", "K6", date(2026, 6, 1), "1000.00"),
]


@pytest.fixture
def book(tmp_path: Path) -> tuple[Store, CollectionsDB]:
    customers = pl.DataFrame(
        {
            "customer_id": [c[0] for c in CUSTOMERS],
            "customer_name": [c[1] for c in CUSTOMERS],
            "entity": ["Acme"] * len(CUSTOMERS),
            "collector": [c[2] for c in CUSTOMERS],
            "risk_class": [c[3] for c in CUSTOMERS],
        }
    ).with_columns(
        [
            pl.lit(None, dtype=t).alias(n)
            for n, t in contract.CUSTOMERS.schema.items()
            if n not in ("customer_id", "customer_name", "entity", "collector", "risk_class")
        ]
    )
    documents = pl.DataFrame(
        {
            "document_id": [d[0] for d in DOCUMENTS],
            "document_type": ["credit_note" if d[0].startswith("CN") else "invoice" for d in DOCUMENTS],
            "customer_id": [d[1] for d in DOCUMENTS],
            "document_date": [min(d[2] - timedelta(days=30), AS_OF) for d in DOCUMENTS],
            "due_date": [d[2] for d in DOCUMENTS],
            "currency": ["EUR"] * len(DOCUMENTS),
            "amount": [d[3] for d in DOCUMENTS],
            "amount_functional": [d[3] for d in DOCUMENTS],
        }
    )
    store = Store(tmp_path / "data")
    store.write(
        Tables(
            customers.select(contract.CUSTOMERS.names).cast(contract.CUSTOMERS.schema),
            documents.cast(contract.DOCUMENTS.schema),
            pl.DataFrame(schema=contract.PAYMENTS.schema),
        ),
        ImportRecord("test", "worklist", "-", len(CUSTOMERS), len(DOCUMENTS), 0, 0),
    )
    db = CollectionsDB.for_store(store)

    def submit(as_of: date, submission: Submission, user: str = "Anna") -> None:
        submissions.submit(db, submission, store=store, as_of=as_of, scope=EVERYTHING, user=user)

    def promise(document_id: str, promised: date) -> Submission:
        return Submission((Qualification(document_id, "promise_to_pay", promised_date=promised),))

    submit(date(2026, 6, 22), promise("A1", date(2026, 6, 25)))
    submit(date(2026, 6, 26), promise("A2", date(2026, 6, 30)))
    submit(date(2026, 6, 25), promise("A11", date(2026, 7, 5)))
    submit(
        date(2026, 6, 20),
        Submission(
            action=Action("K3", "call", "no_answer", document_ids=("A3",), next_action_date=date(2026, 6, 29))
        ),
    )
    dispute = Qualification(
        "A5",
        "disputed",
        comment="Damaged on delivery",
        dispute_reason="quality",
        internal_owner="Quality desk",
        expected_resolution=date(2026, 6, 15),
    )
    submit(date(2026, 5, 1), Submission((dispute,)))
    submit(AS_OF, Submission(action=Action("K2", "email", "reached", comment="Statement sent")))
    submit(AS_OF, Submission(action=Action("K6", "call", "reached")), user="Ben")
    yield store, db
    db.close()


def test_sections_in_order_with_scores(book: tuple[Store, CollectionsDB]) -> None:
    store, db = book
    result = worklist.worklist(db, store, worklist.WorklistQuery(AS_OF, collector="Anna"))
    items = result.items.select("section", "document_id", "priority_score").rows()
    assert items == [
        ("broken_promise", "A1", 1333.33),
        ("promise_due", "A2", 1200.0),
        ("next_action", "A3", 1200.0),
        ("new_overdue", "A4", 220.0),
        ("dispute_waiting", "A5", 1800.0),
        ("overdue", "A6", 6000.0),
        ("overdue", "A8", 1050.0),
        ("overdue", "A7", 700.0),
        ("overdue", "A12", 600.0),
    ]
    a8 = result.items.filter(pl.col("document_id") == "A8").row(0, named=True)
    assert (a8["days_past_due"], a8["age_factor"], a8["risk_factor"]) == (211, 7.0, 1.5)
    a5 = result.items.filter(pl.col("document_id") == "A5").row(0, named=True)
    assert (a5["risk_factor"], a5["internal_owner"], a5["task_date"]) == (
        1.2,
        "Quality desk",
        date(2026, 6, 15),
    )
    broken = result.items.row(0, named=True)
    assert (broken["task_date"], broken["late"], broken["promise_status"]) == (
        date(2026, 6, 28),
        True,
        "broken",
    )


def test_one_row_per_customer_and_section(book: tuple[Store, CollectionsDB]) -> None:
    """K1 is in two sections: its broken promise (A1), and its other overdue items A6 and A12 together
    (2000.00 + 300.00 = 2300.00, score 6000.00 + 600.00 = 6600.00), one call for both."""
    store, db = book
    customers = worklist.worklist(db, store, worklist.WorklistQuery(AS_OF, collector="Anna")).customers
    assert customers.select(
        "section", "customer_id", "document_ids", "total_open_amount", "priority_score"
    ).rows() == [
        ("broken_promise", "K1", ["A1"], Decimal("1000.00"), 1333.33),
        ("promise_due", "K2", ["A2"], Decimal("500.00"), 1200.0),
        ("next_action", "K3", ["A3"], Decimal("200.00"), 1200.0),
        ("new_overdue", "K4", ["A4"], Decimal("100.00"), 220.0),
        ("dispute_waiting", "K5", ["A5"], Decimal("300.00"), 1800.0),
        ("overdue", "K1", ["A6", "A12"], Decimal("2300.00"), 6600.0),
        ("overdue", "K3", ["A8"], Decimal("100.00"), 1050.0),
        ("overdue", "K4", ["A7"], Decimal("50.00"), 700.0),
    ]
    k2 = customers.filter(pl.col("customer_id") == "K2").row(0, named=True)
    assert k2["done_today"] is True


def test_counts_at_the_top(book: tuple[Store, CollectionsDB]) -> None:
    """To do today: K1..K5 (sections 1 to 5); late: K1 (broken promise), K3 (next action 06-29), K5
    (dispute past 06-15); done today: Anna's email to K2. Overdue: the ten positive items past due,
    1000 + 2000 + 300 + 500 + 200 + 100 + 100 + 50 + 300 + 80 = 4630.00."""
    store, db = book
    counts = worklist.worklist(db, store, worklist.WorklistQuery(AS_OF, collector="Anna")).counts
    assert counts == {
        "to_do_today": 5,
        "late": 3,
        "done_today": 1,
        "overdue_items": 10,
        "overdue_amount": Decimal("4630.00"),
    }


def test_everyone_in_scope(book: tuple[Store, CollectionsDB]) -> None:
    """Without a collector, Ben's A10 (1000.00 x (1 + 29/30) x 1.2 = 2360.00) ranks second among the
    other overdue customers, and both actions of the day count as done."""
    store, db = book
    result = worklist.worklist(db, store, worklist.WorklistQuery(AS_OF))
    overdue = result.customers.filter(pl.col("section") == "overdue")
    assert overdue.select("customer_id", "priority_score").rows() == [
        ("K1", 6600.0),
        ("K6", 2360.0),
        ("K3", 1050.0),
        ("K4", 700.0),
    ]
    assert result.counts["done_today"] == 2
    assert (
        "A10"
        not in worklist.worklist(db, store, worklist.WorklistQuery(AS_OF, collector="Anna")).items[
            "document_id"
        ]
    )


def test_a_new_promise_takes_the_item_off_the_broken_list(book: tuple[Store, CollectionsDB]) -> None:
    """Anna calls K1 on 06-30 and gets a new promise on A1 for 07-03: A1 leaves the broken promises (its
    promise is open and not due), K1 is done today, and nothing is late for it any more."""
    store, db = book
    submissions.submit(
        db,
        Submission(
            (Qualification("A1", "promise_to_pay", promised_date=date(2026, 7, 3)),),
            Action("K1", "call", "promise_obtained"),
        ),
        store=store,
        as_of=AS_OF,
        scope=EVERYTHING,
        user="Anna",
    )
    result = worklist.worklist(db, store, worklist.WorklistQuery(AS_OF, collector="Anna"))
    assert "A1" not in result.items["document_id"]
    assert result.counts["late"] == 2 and result.counts["done_today"] == 2
    assert result.customers.filter(pl.col("customer_id") == "K1").get_column("done_today").to_list() == [True]


def test_priority_score_factors() -> None:
    """1 + min(dpd, 180)/30: 0 days -> 1, 30 -> 2, 180 and 400 -> 7, not yet due -> 1; risk A..D, else 1.2."""
    frame = pl.DataFrame(
        {
            "amount": ["100.00"] * 6,
            "days": [0, 30, 180, 400, -10, 45],
            "risk": ["A", "B", "C", "D", None, "X"],
        }
    ).with_columns(pl.col("amount").cast(contract.MONEY))
    scores = frame.select(
        worklist.priority_score(pl.col("amount"), pl.col("days"), pl.col("risk"))
    ).to_series()
    assert scores.to_list() == [100.0, 240.0, 1050.0, 1400.0, 120.0, 300.0]


def assert_same_worklist(live: worklist.Worklist, fresh: worklist.Worklist) -> None:
    assert live.counts == fresh.counts
    assert live.customers.equals(fresh.customers)
    assert live.items.equals(fresh.items)


def test_a_live_worklist_after_several_saves_equals_a_fresh_one(book: tuple[Store, CollectionsDB]) -> None:
    """The live worklist reads only what each save wrote and puts it in place; after each of these saves
    its figures, rows and item states are those a full read gives:
    1. a new promise on A1 for 07-03 with a call to K1 (A1 leaves the broken promises, K1 done today);
    2. a dispute on A6 (K1's 6,000 overdue item leaves the overdue list);
    3. Ben's call to K4 naming A7, next action 06-30 (A7 is a next action due today);
    4. the dispute on A5 resolved (a credit note to issue) (A5 is plain overdue again);
    5. a promise on A12 recorded at 06-29, before the as-of date (a save at another date).
    Anna's figures are checked after each, everyone's at the end; done today for Anna: her email to
    K2, her call to K1 and Ben's call to her customer K4."""
    store, db = book
    items = worklist.aged_items(store, AS_OF, EVERYTHING)
    live = worklist.LiveWorklist(store, AS_OF, EVERYTHING, items)
    anna = worklist.WorklistQuery(AS_OF, collector="Anna")
    everyone = worklist.WorklistQuery(AS_OF)
    assert_same_worklist(live.worklist(db, anna), worklist.worklist(db, store, anna))

    def save(submission: Submission, user: str = "Anna", as_of: date = AS_OF) -> None:
        submissions.submit(db, submission, store=store, as_of=as_of, scope=EVERYTHING, user=user)
        assert_same_worklist(live.worklist(db, anna), worklist.worklist(db, store, anna))
        fresh_states = item_states(db, store, AS_OF, EVERYTHING, items=items)
        assert live.refresh(db).states.equals(fresh_states)

    save(
        Submission(
            (Qualification("A1", "promise_to_pay", promised_date=date(2026, 7, 3)),),
            Action("K1", "call", "promise_obtained"),
        )
    )
    assert "A1" not in live.worklist(db, anna).items["document_id"]
    save(
        Submission(
            (
                Qualification(
                    "A6", "disputed", comment="Wrong price", dispute_reason="price", internal_owner="Sales"
                ),
            )
        )
    )
    assert "A6" not in live.worklist(db, anna).items["document_id"]
    save(
        Submission(action=Action("K4", "call", "reached", document_ids=("A7",), next_action_date=AS_OF)),
        user="Ben",
    )
    sections = live.worklist(db, anna).items.filter(pl.col("document_id") == "A7").get_column("section")
    assert sections.to_list() == ["next_action"]
    save(
        Submission(
            (
                Qualification(
                    "A5", "dispute_resolved", comment="Credit note issued", outcome="credit_note_to_issue"
                ),
            )
        )
    )
    save(
        Submission((Qualification("A12", "promise_to_pay", promised_date=date(2026, 7, 10)),)),
        as_of=date(2026, 6, 29),
    )
    assert_same_worklist(live.worklist(db, everyone), worklist.worklist(db, store, everyone))
    assert live.worklist(db, anna).counts["done_today"] == 3


def test_a_live_worklist_reads_a_replaced_history_whole(book: tuple[Store, CollectionsDB]) -> None:
    """A history loaded over the old one (the demo's new company) numbers its rows from 1 again: the
    live worklist cannot tell them from the old ones by id and reads everything again."""
    store, db = book
    items = worklist.aged_items(store, AS_OF, EVERYTHING)
    live = worklist.LiveWorklist(store, AS_OF, EVERYTHING, items)
    anna = worklist.WorklistQuery(AS_OF, collector="Anna")
    before = live.worklist(db, anna)
    assert "A1" in before.items["document_id"]
    submissions.load_history(db, db.events().head(0), db.actions().head(0), replace=True)
    after = live.worklist(db, anna)
    assert_same_worklist(after, worklist.worklist(db, store, anna))
    assert after.counts["done_today"] == 0
    assert after.items.filter(pl.col("document_id") == "A1").get_column("section").to_list() == ["overdue"]
