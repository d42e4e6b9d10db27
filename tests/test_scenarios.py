"""Recovery scenarios on a hand-worked book: the engine's step at a date (pre-due step, step order,
minimum interval, dispute pause and resume, promise pause, broken promise, an item settled before its
step, minimum amount, end of the friendly phase), decisions, assignment rules and their precedence,
scenario versions, settings and alerts.

Every customer follows the default "Standard B2B" scenario unless said (offsets in days from the due
date of its oldest unsettled non-disputed item; minimum interval since the previous reminder):

    step 1  -15 e-mail (automatic)      step 5  +45 registered letter (minimum 100.00, 10 days)
    step 2   +5 e-mail (automatic, 5)   step 6  +60 internal escalation (7 days)
    step 3  +15 call (5 days)           step 7  +75 litigation handover (minimum 500.00, 10 days)
    step 4  +30 letter (7 days)         friendly phase ends at +60

The book (EUR; customers of segment SME, risk class B unless said):

    PRE  X1 due 06-15 1000.00, X2 due 07-15 500.00
    ORD  O1 due 05-01  800.00
    INT  N1 due 05-01  600.00; an e-mail logged by hand on 05-14
    DIS  D1 due 04-01  600.00 (disputed 04-20, resolved 05-10), D2 due 05-01 400.00
    ALL  A1 due 04-01  300.00 (disputed 04-10, never resolved)
    PRO  P1 due 05-01 1000.00; promise on 05-06 to pay by 05-20: deadline 05-23 (3 days' grace)
    SET  T1 due 05-01  500.00, paid in full on 05-05; T2 due 05-10 300.00
    MIN  M1 due 03-01   80.00
    END  E1 due 02-01 2000.00
    RSK (risk D), PUB (segment Public sector), BOTH (risk D and Public sector), EXP (segment Export):
         no items, for the assignment rules
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from analytics import contract, promises, scenarios, submissions
from analytics.collections import CollectionsDB
from analytics.item_states import item_states
from analytics.scenarios import Rule, Rules, Scenario, ScenarioRefused, Step
from analytics.scope import EVERYTHING
from analytics.store import ImportRecord, Store, Tables
from analytics.submissions import Action, Qualification, Submission

CUSTOMERS = [
    # customer_id, name, segment, risk_class, credit_limit
    ("PRE", "Pre-due SA", "SME", "B", None),
    ("ORD", "Order GmbH", "SME", "B", None),
    ("INT", "Interval Ltd", "SME", "B", None),
    ("DIS", "Dispute Co", "SME", "B", None),
    ("ALL", "All Disputed", "SME", "B", None),
    ("PRO", "Promise SA", "SME", "B", None),
    ("SET", "Settled BV", "SME", "B", "500.00"),
    ("MIN", "Minimum Sarl", "SME", "B", None),
    ("END", "Endgame AG", "SME", "B", None),
    ("RSK", "Risky Ltd", "SME", "D", None),
    ("PUB", "City Council", "Public sector", "B", None),
    ("BOTH", "Bankrupt Town", "Public sector", "D", None),
    ("EXP", "Overseas Inc", "Export", "B", None),
]
DOCUMENTS = [
    # document_id, customer_id, due_date, amount
    ("X1", "PRE", date(2026, 6, 15), "1000.00"),
    ("X2", "PRE", date(2026, 7, 15), "500.00"),
    ("O1", "ORD", date(2026, 5, 1), "800.00"),
    ("N1", "INT", date(2026, 5, 1), "600.00"),
    ("D1", "DIS", date(2026, 4, 1), "600.00"),
    ("D2", "DIS", date(2026, 5, 1), "400.00"),
    ("A1", "ALL", date(2026, 4, 1), "300.00"),
    ("P1", "PRO", date(2026, 5, 1), "1000.00"),
    ("T1", "SET", date(2026, 5, 1), "500.00"),
    ("T2", "SET", date(2026, 5, 10), "300.00"),
    ("M1", "MIN", date(2026, 3, 1), "80.00"),
    ("E1", "END", date(2026, 2, 1), "2000.00"),
]
USER = "Anna"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, collections_backend) -> tuple[Store, Path, str | None]:
    """The book's data folder and a collections database holding its story, built once on each back
    end (the file, or a PostgreSQL database: its URL): each test works on a copy of the database (the
    Parquet store is only read)."""
    folder = tmp_path_factory.mktemp("scenarios")
    customers = pl.DataFrame(
        {
            "customer_id": [c[0] for c in CUSTOMERS],
            "customer_name": [c[1] for c in CUSTOMERS],
            "entity": ["Acme"] * len(CUSTOMERS),
            "collector": [USER] * len(CUSTOMERS),
            "segment": [c[2] for c in CUSTOMERS],
            "risk_class": [c[3] for c in CUSTOMERS],
            "credit_limit": [c[4] for c in CUSTOMERS],
        }
    ).with_columns(
        pl.lit(None, dtype=t).alias(n)
        for n, t in contract.CUSTOMERS.schema.items()
        if n
        not in (
            "customer_id",
            "customer_name",
            "entity",
            "collector",
            "segment",
            "risk_class",
            "credit_limit",
        )
    )
    documents = pl.DataFrame(
        {
            "document_id": [d[0] for d in DOCUMENTS],
            "document_type": ["invoice"] * len(DOCUMENTS),
            "customer_id": [d[1] for d in DOCUMENTS],
            "document_date": [d[2] - timedelta(days=30) for d in DOCUMENTS],
            "due_date": [d[2] for d in DOCUMENTS],
            "currency": ["EUR"] * len(DOCUMENTS),
            "amount": [d[3] for d in DOCUMENTS],
            "amount_functional": [d[3] for d in DOCUMENTS],
        }
    )
    payments = pl.DataFrame(
        {
            "payment_id": ["PT1"],
            "customer_id": ["SET"],
            "payment_date": [date(2026, 5, 5)],
            "document_id": ["T1"],
            "amount": ["500.00"],
            "method": ["cash"],
        }
    )
    store = Store(folder / "data")
    store.write(
        Tables(
            customers.select(contract.CUSTOMERS.names).cast(contract.CUSTOMERS.schema),
            documents.cast(contract.DOCUMENTS.schema),
            payments.cast(contract.PAYMENTS.schema),
        ),
        ImportRecord("test", "scenarios", "-", len(CUSTOMERS), len(DOCUMENTS), 1, 0),
    )
    path = folder / "story.duckdb"
    with collections_backend.open(path) as db:
        url = getattr(db.backend, "url", None)
        submit = _submitter(store, db)
        submit(date(2026, 4, 10), Submission((_dispute("A1"),)))
        submit(date(2026, 4, 20), Submission((_dispute("D1"),)))
        resolved = Qualification(
            "D1", "dispute_resolved", comment="Checked: delivered", outcome="customer_to_pay"
        )
        submit(date(2026, 5, 10), Submission((resolved,)))
        submit(
            date(2026, 5, 6),
            Submission((Qualification("P1", "promise_to_pay", promised_date=date(2026, 5, 20)),)),
        )
        submit(
            date(2026, 5, 14), Submission(action=Action("INT", "email", "other", comment="Statement sent"))
        )
        scenarios.ensure_defaults(db)
    return store, path, url


@pytest.fixture
def book(
    recorded: tuple[Store, Path, str | None], tmp_path: Path, collections_backend
) -> tuple[Store, CollectionsDB]:
    store, path, url = recorded
    copy = tmp_path / "collections.duckdb"
    if url is None:
        shutil.copyfile(path, copy)
        db = CollectionsDB(copy)
    else:
        db = collections_backend.open(copy, template=url.rsplit("/", 1)[1])
    yield store, db
    db.close()


def _dispute(document_id: str) -> Qualification:
    return Qualification(document_id, "disputed", comment="Price not as agreed", dispute_reason="price")


def _submitter(store: Store, db: CollectionsDB):
    def submit(as_of: date, submission: Submission) -> None:
        submissions.submit(db, submission, store=store, as_of=as_of, scope=EVERYTHING, user=USER)

    return submit


def position(book: tuple[Store, CollectionsDB], as_of: date, customer_id: str) -> dict:
    store, db = book
    rows = scenarios.positions(db, store, as_of).filter(pl.col("customer_id") == customer_id).to_dicts()
    return rows[0] if rows else {}


def proposal(book: tuple[Store, CollectionsDB], as_of: date, customer_id: str) -> scenarios.Proposal:
    store, db = book
    rows = scenarios.proposals(db, store, as_of).filter(pl.col("customer_id") == customer_id)
    assert rows.height == 1, rows
    return scenarios.Proposal.from_row(rows.row(0, named=True))


def confirm(book: tuple[Store, CollectionsDB], as_of: date, customer_id: str, **kwargs) -> None:
    store, db = book
    scenarios.confirm(
        db, store, proposal(book, as_of, customer_id), as_of=as_of, scope=EVERYTHING, user=USER, **kwargs
    )


# --- the engine ----------------------------------------------------------------------------------------


def test_pre_due_step_fifteen_days_before_the_oldest_due_date(book) -> None:
    """PRE's oldest item X1 falls due on 06-15: on 05-30 (-16 days) the -15 e-mail is ahead, on 05-31;
    on 05-31 it is due and concerns X1 only (X2, due 07-15, is 45 days away)."""
    before = position(book, date(2026, 5, 30), "PRE")
    assert (before["status"], before["step_label"], before["due_date"]) == (
        "upcoming",
        "-15 d e-mail",
        date(2026, 5, 31),
    )
    due = position(book, date(2026, 5, 31), "PRE")
    assert (due["status"], due["step"], due["days_from_due"]) == ("due", 1, -15)
    assert (due["document_ids"], due["amount"], due["automatic"]) == (["X1"], Decimal("1000.00"), True)
    assert due["reference_due_date"] == date(2026, 6, 15)


def test_steps_go_forward_one_at_a_time(book) -> None:
    """ORD's O1 is due 05-01. On 05-06 (+5) the +5 e-mail is due (the -15 one, never sent, is
    superseded); confirmed that day, it shows as done all day. On 05-10 the +15 call is ahead (05-16);
    on 05-16 it is due and skipped; on 05-31 (+30) the letter is due, and on 06-02, still undecided,
    it is still the letter: never a step back."""
    store, db = book
    assert position(book, date(2026, 5, 6), "ORD")["step_label"] == "+5 d e-mail"
    confirm(book, date(2026, 5, 6), "ORD")
    done = (
        scenarios.proposals(db, store, date(2026, 5, 6))
        .filter(pl.col("customer_id") == "ORD")
        .row(0, named=True)
    )
    assert (done["step"], done["done"], done["decision"]) == (2, True, "confirmed")
    ahead = position(book, date(2026, 5, 10), "ORD")
    assert (ahead["status"], ahead["step_label"], ahead["due_date"]) == (
        "upcoming",
        "+15 d call",
        date(2026, 5, 16),
    )
    call = proposal(book, date(2026, 5, 16), "ORD")
    assert call.step_label == "+15 d call"
    scenarios.skip(
        db, store, call, as_of=date(2026, 5, 16), scope=EVERYTHING, user=USER, reason="Customer on holiday"
    )
    assert position(book, date(2026, 5, 20), "ORD")["step_label"] == "+30 d letter"
    for day in (date(2026, 5, 31), date(2026, 6, 2)):
        letter = position(book, day, "ORD")
        assert (letter["status"], letter["step"], letter["due_date"]) == ("due", 4, date(2026, 5, 31))
    log = scenarios.step_log(db, customer_ids=["ORD"])
    assert log.select("log_date", "offset_days", "decision", "action_type").rows() == [
        (date(2026, 5, 6), 5, "confirmed", "email"),
        (date(2026, 5, 16), 15, "skipped", "call"),
    ]
    actions = db.actions(customer_ids=["ORD"])
    assert actions.get_column("action_type").to_list() == ["email", "note"]
    assert (
        actions.get_column("comment")[1] == "Skipped Standard B2B, step 3 (+15 d call): Customer on holiday"
    )
    assert actions.get_column("action_id").to_list() == log.get_column("action_id").to_list()


def test_minimum_interval_since_the_previous_reminder(book) -> None:
    """INT's N1 is due 05-01; an e-mail was logged by hand on 05-14. On 05-16 (+15) the call waits
    for 05-14 + 5 = 05-19; it is due on 05-19."""
    waiting = position(book, date(2026, 5, 16), "INT")
    assert (waiting["status"], waiting["step_label"], waiting["due_date"]) == (
        "waiting",
        "+15 d call",
        date(2026, 5, 19),
    )
    assert waiting["last_reminder_date"] == date(2026, 5, 14)
    assert position(book, date(2026, 5, 19), "INT")["status"] == "due"


def test_a_disputed_item_leaves_the_scenario_and_comes_back_when_resolved(book) -> None:
    """DIS: D1 (due 04-01, 600.00) is disputed from 04-20 to 05-10. On 05-06 the reference is D2 (due
    05-01): the +5 e-mail concerns D2 alone, 400.00; it is confirmed. On 05-11 D1 is back: the
    reference is 04-01 (40 days), the last step decided is +5, so the +30 letter is next, on D1 and
    D2 (1,000.00), due 04-01 + 30 = 05-01 but not before the e-mail of 05-06 + 7 days: 05-13."""
    during = position(book, date(2026, 5, 6), "DIS")
    assert (during["step_label"], during["document_ids"], during["amount"]) == (
        "+5 d e-mail",
        ["D2"],
        Decimal("400.00"),
    )
    confirm(book, date(2026, 5, 6), "DIS")
    after = position(book, date(2026, 5, 11), "DIS")
    assert (after["status"], after["step_label"], after["due_date"]) == (
        "waiting",
        "+30 d letter",
        date(2026, 5, 13),
    )
    assert (after["document_ids"], after["amount"], after["days_from_due"]) == (
        ["D1", "D2"],
        Decimal("1000.00"),
        40,
    )
    assert position(book, date(2026, 5, 13), "DIS")["status"] == "due"


def test_positions_from_the_item_states_a_page_keeps(book) -> None:
    """The item states of the whole book (as the pages cache them once per save) give DIS the same
    position during its dispute as test_a_disputed_item_leaves_the_scenario_and_comes_back_when_resolved
    finds: the +5 d e-mail on D2 alone, 400.00."""
    store, db = book
    as_of = date(2026, 5, 6)
    states = item_states(db, store, as_of)
    given = scenarios.positions(db, store, as_of, states=states)
    during = given.filter(pl.col("customer_id") == "DIS").row(0, named=True)
    assert (during["step_label"], during["document_ids"], during["amount"]) == (
        "+5 d e-mail",
        ["D2"],
        Decimal("400.00"),
    )
    assert given.equals(scenarios.positions(db, store, as_of))


def test_a_customer_whose_every_item_is_disputed_is_out_of_the_scenario(book) -> None:
    """ALL's only item A1 is in dispute since 04-10: nothing is proposed on 05-01."""
    out = position(book, date(2026, 5, 1), "ALL")
    assert (out["status"], out["step"], out["items"]) == ("out_of_scenario", None, 0)
    assert (
        "ALL"
        not in scenarios.proposals(book[1], book[0], date(2026, 5, 1)).get_column("customer_id").to_list()
    )


def test_an_open_promise_pauses_until_its_date_plus_grace_and_a_broken_one_resumes_at_once(book) -> None:
    """PRO promised on 05-06 to pay P1 by 05-20 (deadline 05-23). On 05-16 and 05-23 the scenario is
    paused; on 05-24 the promise is broken and the +15 call (due since 05-16) is proposed at once."""
    for day in (date(2026, 5, 16), date(2026, 5, 23)):
        paused = position(book, day, "PRO")
        assert (paused["status"], paused["paused_until"]) == ("paused", date(2026, 5, 23))
    resumed = position(book, date(2026, 5, 24), "PRO")
    assert (resumed["status"], resumed["step_label"], resumed["due_date"]) == (
        "due",
        "+15 d call",
        date(2026, 5, 16),
    )
    assert resumed["paused_until"] is None


def test_an_item_settled_before_its_step_drops_out(book) -> None:
    """SET: T1 (due 05-01) is paid on 05-05. On 04-30 the reference is T1 (-1 day): the -15 e-mail is due
    on T1 and T2 (due 05-10, -10 days), 800.00. On 05-06 the +5 e-mail would be due on T1, but T1 is
    gone: the reference is T2 (-4 days) and the -15 e-mail concerns T2 alone, 300.00."""
    before = position(book, date(2026, 4, 30), "SET")
    assert (before["step_label"], before["document_ids"], before["amount"]) == (
        "-15 d e-mail",
        ["T1", "T2"],
        Decimal("800.00"),
    )
    after = position(book, date(2026, 5, 6), "SET")
    assert (after["step_label"], after["document_ids"], after["amount"]) == (
        "-15 d e-mail",
        ["T2"],
        Decimal("300.00"),
    )
    assert after["reference_due_date"] == date(2026, 5, 10)


def test_a_reminder_before_the_due_date_is_not_sent_after_it(book) -> None:
    """PRE's X1 falls due 06-15. Had nothing been sent by 06-16 (+1), the -15 e-mail is stale: the
    +5 e-mail is next, on 06-20."""
    late = position(book, date(2026, 6, 16), "PRE")
    assert (late["status"], late["step_label"], late["due_date"]) == (
        "upcoming",
        "+5 d e-mail",
        date(2026, 6, 20),
    )


def test_a_step_below_its_minimum_amount_is_passed_over(book) -> None:
    """MIN owes 80.00, due 03-01. On 04-15 (+45) the registered letter needs 100.00: the +30 letter is
    proposed instead; on 04-30 (+60) the internal escalation (no minimum)."""
    assert position(book, date(2026, 4, 15), "MIN")["step_label"] == "+30 d letter"
    assert position(book, date(2026, 4, 30), "MIN")["step_label"] == "+60 d internal escalation"


def test_the_end_of_the_friendly_phase(book) -> None:
    """END's E1 (2,000.00) is due 02-01; the friendly phase ends at +60. On 04-02 (+60) the escalation
    is due, not flagged; on 04-03 (+61) it is flagged. On 04-17 (+75) the litigation handover is due;
    confirmed, it qualifies E1 as litigation, and on 04-18 the customer is out of the scenario."""
    store, db = book
    last_friendly = position(book, date(2026, 4, 2), "END")
    assert (last_friendly["step_label"], last_friendly["beyond_friendly_phase"]) == (
        "+60 d internal escalation",
        False,
    )
    assert position(book, date(2026, 4, 3), "END")["beyond_friendly_phase"] is True
    handover = proposal(book, date(2026, 4, 17), "END")
    assert (handover.step_label, handover.action_type) == ("+75 d litigation handover", "litigation_handover")
    confirm(book, date(2026, 4, 17), "END")
    states = item_states(db, store, date(2026, 4, 18)).filter(pl.col("document_id") == "E1")
    assert states.get_column("state").to_list() == ["litigation"]
    assert position(book, date(2026, 4, 18), "END")["status"] == "out_of_scenario"
    assert db.actions(customer_ids=["END"]).get_column("action_type").to_list() == ["note"]


def test_a_step_is_decided_once_a_day(book) -> None:
    store, db = book
    confirm(book, date(2026, 5, 6), "ORD")
    with pytest.raises(ScenarioRefused, match="already confirmed today by Anna"):
        confirm(book, date(2026, 5, 6), "ORD")
    with pytest.raises(ScenarioRefused, match="say why"):
        scenarios.skip(
            db,
            store,
            proposal(book, date(2026, 5, 6), "ORD"),
            as_of=date(2026, 5, 6),
            scope=EVERYTHING,
            user=USER,
            reason=" ",
        )


def test_the_proposals_frame_for_the_worklist(book) -> None:
    """On 05-31, by due date: END's litigation handover (E1, 119 days: due 02-01 + 75 = 04-17), MIN's
    escalation (M1, 91 days: the handover needs 500.00, so +60: 04-30), SET's call (T2, 21 days: 05-25),
    then on 05-31: PRE's -15 e-mail, the +30 letters of ORD, INT and PRO (its promise broke on 05-24),
    and DIS's +60 escalation (D1, due 04-01, is back from its dispute: 60 days). ALL is out."""
    store, db = book
    frame = scenarios.proposals(db, store, date(2026, 5, 31))
    assert frame.columns[:10] == [
        "customer_id",
        "customer_name",
        "scenario",
        "step",
        "action_type",
        "due_date",
        "items",
        "amount",
        "automatic",
        "done",
    ]
    rows = {r["customer_id"]: (r["step_label"], r["due_date"]) for r in frame.iter_rows(named=True)}
    assert rows == {
        "END": ("+75 d litigation handover", date(2026, 4, 17)),
        "MIN": ("+60 d internal escalation", date(2026, 4, 30)),
        "SET": ("+15 d call", date(2026, 5, 25)),
        "PRE": ("-15 d e-mail", date(2026, 5, 31)),
        "ORD": ("+30 d letter", date(2026, 5, 31)),
        "INT": ("+30 d letter", date(2026, 5, 31)),
        "PRO": ("+30 d letter", date(2026, 5, 31)),
        "DIS": ("+60 d internal escalation", date(2026, 5, 31)),
    }
    assert frame.get_column("due_date").to_list() == sorted(frame.get_column("due_date").to_list())
    assert frame.filter(pl.col("customer_id") == "DIS").row(0, named=True)["document_ids"] == ["D1", "D2"]


# --- assignment -------------------------------------------------------------------------------------------


def assigned(book) -> dict[str, tuple[str, str, str]]:
    store, db = book
    frame = scenarios.assignments(db, store)
    return {
        r["customer_id"]: (r["scenario_id"], r["assignment"], r["assignment_reason"])
        for r in frame.iter_rows(named=True)
    }


def test_default_rules_in_priority_order(book) -> None:
    """Risk class D -> Risky customers (rule 1); segment Public sector -> Public sector (rule 2);
    segment Export -> Export (rule 3); else Standard B2B. BOTH (risk D, public) gets rule 1."""
    found = assigned(book)
    assert found["RSK"] == ("risky", "rule", "rule 1: risk class is D")
    assert found["PUB"] == ("public_sector", "rule", "rule 2: segment is Public sector")
    assert found["BOTH"][0] == "risky"
    assert found["EXP"][:2] == ("export", "rule")
    assert found["ORD"] == ("standard_b2b", "default", "the default scenario")


def test_explicit_beats_rules_beats_default(book) -> None:
    store, db = book
    scenarios.assign(db, store, "BOTH", "export", user="Lead")
    assert assigned(book)["BOTH"][:2] == ("export", "explicit")
    assert assigned(book)["BOTH"][2].startswith("assigned to this customer by Lead on ")
    current = scenarios.rules(db)
    scenarios.save_rules(
        db,
        Rules(
            (Rule("segment", "  public SECTOR ", "public_sector"), Rule("risk_class", "D", "risky")),
            "standard_b2b",
        ),
        user="Lead",
        base_version=current.version,
    )
    scenarios.assign(db, store, "BOTH", None, user="Lead")
    found = assigned(book)
    assert found["BOTH"] == ("public_sector", "rule", "rule 1: segment is public SECTOR")
    assert found["EXP"] == ("standard_b2b", "default", "the default scenario")
    scenarios.archive_scenario(db, "risky", user="Lead")
    assert assigned(book)["RSK"][:2] == ("standard_b2b", "default")
    with pytest.raises(ScenarioRefused, match="not an active scenario"):
        scenarios.assign(db, store, "RSK", "risky", user="Lead")
    with pytest.raises(ScenarioRefused, match="unknown customer"):
        scenarios.assign(db, store, "NOPE", "export", user="Lead")


def test_rules_are_checked_and_versioned(book) -> None:
    store, db = book
    with pytest.raises(ScenarioRefused) as refused:
        scenarios.save_rules(
            db, Rules((Rule("colour", "red", "risky"), Rule("segment", "", "nope")), "gone"), user="Lead"
        )
    assert refused.value.messages == [
        "rule 1, dimension: 'colour' is not one of: " + ", ".join(contract.DIMENSIONS),
        "rule 2, value: required",
        "rule 2, scenario: 'nope' is not an active scenario",
        "default scenario: 'gone' is not an active scenario",
    ]
    with pytest.raises(ScenarioRefused, match="changed meanwhile"):
        scenarios.save_rules(db, Rules((), "export"), user="Lead", base_version=0)
    saved = scenarios.save_rules(db, Rules((), "export"), user="Lead", base_version=1)
    assert (saved.version, scenarios.rules(db)) == (2, Rules((), "export", 2))


# --- scenarios, versions, settings -----------------------------------------------------------------------------


def test_default_scenarios_are_written_once(book) -> None:
    _, db = book
    first = scenarios.scenarios(db)
    assert [s.name for s in first] == ["Export", "Public sector", "Risky customers", "Standard B2B"]
    assert scenarios.ensure_defaults(db) is False
    standard = scenarios.scenario(db, "standard_b2b")
    assert [s.label for s in standard.steps] == [
        "-15 d e-mail",
        "+5 d e-mail",
        "+15 d call",
        "+30 d letter",
        "+45 d registered letter",
        "+60 d internal escalation",
        "+75 d litigation handover",
    ]
    assert (standard.friendly_phase_end_days, standard.version) == (60, 1)
    for found in first:
        assert scenarios.check_scenario(found, first) == []


def test_a_new_scenario_and_its_versions(book) -> None:
    """Save 'Key accounts' (two steps given out of order: stored by offset), edit it (version 2): the
    current one is the latest and version 1 is still there."""
    _, db = book
    created = scenarios.save_scenario(
        db,
        Scenario(
            None,
            " Key accounts ",
            (Step(10, "call", "call_script"), Step(-7, "email", "pre_due_reminder", automatic=True)),
            friendly_phase_end_days=45,
        ),
        user="Lead",
    )
    assert (created.scenario_id, created.name, created.version) == ("key_accounts", "Key accounts", 1)
    assert [s.offset_days for s in created.steps] == [-7, 10]
    edited = scenarios.save_scenario(
        db,
        Scenario(
            "key_accounts",
            "Key accounts",
            (*created.steps, Step(30, "letter", "reminder_letter", Decimal("250"), False, 7)),
        ),
        user="Lead",
        base_version=1,
    )
    assert edited.version == 2
    assert len(scenarios.scenario(db, "key_accounts").steps) == 3
    versions = scenarios.scenario_versions(db, "key_accounts")
    assert versions.select("version", "steps", "step_list").rows() == [
        (2, 3, "-7 d email, +10 d call, +30 d letter"),
        (1, 2, "-7 d email, +10 d call"),
    ]
    with pytest.raises(ScenarioRefused, match="was changed by Lead meanwhile"):
        scenarios.save_scenario(db, edited, user="Other", base_version=1)


def test_a_copy_needs_its_own_name(book) -> None:
    _, db = book
    with pytest.raises(ScenarioRefused, match="another scenario is called 'Standard B2B'"):
        scenarios.copy_scenario(db, "standard_b2b", "standard b2b", user="Lead")
    copied = scenarios.copy_scenario(db, "standard_b2b", "Standard B2B (strict)", user="Lead")
    assert (copied.scenario_id, copied.version) == ("standard_b2b_strict", 1)
    assert copied.steps == scenarios.scenario(db, "standard_b2b").steps


def test_scenario_checks(book) -> None:
    _, db = book
    with pytest.raises(ScenarioRefused) as refused:
        scenarios.save_scenario(
            db,
            Scenario(
                None,
                "Bad",
                (
                    Step(5, "email", "first_reminder"),
                    Step(5, "call", "call_script", automatic=True),
                    Step(100, "letter", "reminder_letter"),
                    Step(10, "fax", "nope", Decimal("-1")),
                ),
                friendly_phase_end_days=95,
            ),
            user="Lead",
        )
    assert refused.value.messages == [
        "friendly_phase_end_days: the friendly phase ends 1 to 90 days after the due date, got 95",
        "step 2, offset_days: two steps at +5 days",
        "step 2, automatic: only e-mails and letters go out on their own, not a call",
        "step 3: +100 d letter comes after the end of the friendly phase (+95 d); only an internal "
        "escalation or a litigation handover can",
        "step 4, action_type: 'fax' is not one of: email, letter, registered_letter, call, sms, "
        "internal_escalation, litigation_handover",
        "step 4, template: 'nope' is not one of: call_script, first_reminder, formal_notice, "
        "internal_escalation, litigation_handover, pre_due_reminder, reminder_letter, second_reminder, "
        "sms_reminder",
        "step 4, min_amount: must not be negative, got -1",
    ]


def test_steps_from_an_edited_table() -> None:
    frame = pl.DataFrame(
        {
            "offset_days": [-10, 20, None, None],
            "action_type": ["email", "registered_letter", None, "call"],
            "template": [None, "formal_notice", None, None],
            "min_amount": [None, 99.999, None, None],
            "automatic": [True, None, None, None],
            "min_interval_days": [None, 7, None, None],
            "attach_statement": [True, None, None, None],
        },
        schema=scenarios.STEP_EDITOR_SCHEMA,
    )
    with pytest.raises(ScenarioRefused, match="step 4, offset_days: required"):
        scenarios.steps_from_frame(frame)
    assert scenarios.steps_from_frame(frame.head(3)) == (
        Step(-10, "email", "pre_due_reminder", Decimal("0.00"), True, 0, attach_statement=True),
        Step(20, "registered_letter", "formal_notice", Decimal("100.00"), False, 7),
    )
    assert scenarios.steps_frame(scenarios.steps_from_frame(frame.head(2))).height == 2


def test_settings_are_versioned(book) -> None:
    _, db = book
    assert scenarios.settings(db) == scenarios.Settings()
    saved = scenarios.save_settings(
        db,
        scenarios.Settings(
            penalties_enabled=True, annual_interest_rate=Decimal("12.15"), sender_email="ar@acme.test"
        ),
        user="Lead",
    )
    assert saved.version == 1
    again = scenarios.settings(db)
    assert (again.penalties_enabled, again.annual_interest_rate, again.fixed_fee, again.version) == (
        True,
        Decimal("12.15"),
        Decimal("40.00"),
        1,
    )
    assert again.penalties == scenarios.reminders.Penalties(True, Decimal("12.15"), Decimal("40.00"))
    with pytest.raises(ScenarioRefused, match="sender_email: 'nobody' is not an e-mail address"):
        scenarios.save_settings(db, scenarios.Settings(sender_email="nobody"), user="Lead")


# --- alerts and runs ---------------------------------------------------------------------------------------------


def test_alerts_since_the_previous_run(book) -> None:
    """First run on 05-04 (no previous run: the 7 days back from 05-04, from 04-27): O1, N1, D2, P1 and
    T1 fell due on 05-01 unpaid (D1 and A1 fell due before); SET's balance 800.00 is over its credit
    limit 500.00 by 300.00; E1 is 2,000.00 overdue with no action (large overdue: 1,000.00 here).
    The run of 05-25 looks from 05-04: T2 fell due 05-10 (T1 was paid 05-05); P1's promise broke
    (deadline 05-23); SET's balance is 300.00 now, within its limit."""
    store, db = book
    scenarios.save_settings(db, scenarios.Settings(large_overdue_amount=Decimal("1000.00")), user="Lead")
    first = scenarios.run(store, db, date(2026, 5, 4), send=False)
    assert (first.previous_run, first.since) == (None, date(2026, 4, 27))
    rows = first.alerts.select("alert", "customer_id", "document_id", "amount").rows()
    assert [r for r in rows if r[0] == "new_overdue"] == [
        ("new_overdue", "PRO", "P1", Decimal("1000.00")),
        ("new_overdue", "ORD", "O1", Decimal("800.00")),
        ("new_overdue", "INT", "N1", Decimal("600.00")),
        ("new_overdue", "SET", "T1", Decimal("500.00")),
        ("new_overdue", "DIS", "D2", Decimal("400.00")),
    ]
    assert ("over_credit_limit", "SET", None, Decimal("300.00")) in rows
    large = [r for r in rows if r[0] == "large_overdue_no_action"]
    assert ("large_overdue_no_action", "END", None, Decimal("2000.00")) in large
    later = scenarios.run(store, db, date(2026, 5, 25), send=False)
    assert (later.previous_run, later.since) == (date(2026, 5, 4), date(2026, 5, 4))
    kinds = later.alerts.filter(pl.col("alert").is_in(["new_overdue", "broken_promise", "over_credit_limit"]))
    assert kinds.select("alert", "customer_id", "document_id", "amount").rows() == [
        ("new_overdue", "SET", "T2", Decimal("300.00")),
        ("broken_promise", "PRO", "P1", Decimal("1000.00")),
    ]
    report = later.report()
    assert "previous run 2026-05-04" in report
    assert "Promise broken" in report and "Nothing sent" in report


def test_run_writes_automatic_letters_and_reports_missing_addresses(book, tmp_path: Path) -> None:
    """On 05-31 PRE's -15 e-mail is automatic but PRE has no e-mail address and no SMTP is set: not
    sent. A scenario with an automatic letter at +30 assigned to ORD: its PDF is written to the outbox
    and the step logged as done (letter, channel pdf)."""
    store, db = book
    scenarios.save_scenario(
        db, Scenario(None, "Letters", (Step(30, "letter", "reminder_letter", automatic=True),)), user="Lead"
    )
    scenarios.assign(db, store, "ORD", "letters", user="Lead")
    result = scenarios.run(store, db, date(2026, 5, 31), send=True, smtp=None, outbox=tmp_path / "out")
    deliveries = {r["customer_id"]: r for r in result.deliveries.iter_rows(named=True)}
    assert deliveries["PRE"]["status"] == "not_sent"
    assert "no e-mail address" in deliveries["PRE"]["detail"]
    assert deliveries["ORD"]["status"] == "written"
    path = Path(deliveries["ORD"]["detail"])
    assert path.parent == tmp_path / "out" and path.read_bytes().startswith(b"%PDF")
    log = scenarios.step_log(db, customer_ids=["ORD"]).row(0, named=True)
    assert (log["decision"], log["channel"], log["action_type"]) == ("confirmed", "pdf", "letter")
    assert "O1" in log["content"] and "800.00 EUR" in log["content"]
    assert result.proposals.filter(pl.col("customer_id") == "ORD").get_column("done").to_list() == [True]


def test_alerts_and_proposals_after_saves_equal_those_worked_out_from_scratch(book) -> None:
    """Seen from 05-25 (alerts since 05-04) while promises are saved (the settlements of the earlier
    ones kept): O1, promised on 05-12 for 05-15 (deadline 05-18) and never paid, breaks beside PRO's
    P1 (deadline 05-23); T1, promised on 05-04 for 05-06 and paid on 05-05, is kept (no alert). After
    each save the alerts and the steps due equal those worked out with every promise settled again,
    the proposals from the positions of the kept item states too. A promise is an alert when its
    deadline falls in the period: O1's on 05-18 is one since 05-18, not since 05-19."""
    store, db = book
    as_of = date(2026, 5, 25)
    submit = _submitter(store, db)
    saves = [
        (date(2026, 5, 12), Qualification("O1", "promise_to_pay", promised_date=date(2026, 5, 15))),
        (date(2026, 5, 4), Qualification("T1", "promise_to_pay", promised_date=date(2026, 5, 6))),
    ]
    since = date(2026, 5, 4)
    promises.forget_settlements()
    scenarios.alerts(db, store, as_of, since=since)
    for recorded, qualification in saves:
        submit(recorded, Submission((qualification,)))
        alerts = scenarios.alerts(db, store, as_of, since=since)
        proposals = scenarios.proposals_from(
            scenarios.positions(db, store, as_of, states=item_states(db, store, as_of))
        )
        promises.forget_settlements()
        assert alerts.equals(scenarios.alerts(db, store, as_of, since=since))
        assert proposals.equals(scenarios.proposals(db, store, as_of))
    broken = alerts.filter(pl.col("alert") == "broken_promise")
    assert broken.select("customer_id", "document_id", "amount").rows() == [
        ("PRO", "P1", Decimal("1000.00")),
        ("ORD", "O1", Decimal("800.00")),
    ]

    def broken_since(day: date) -> list[str]:
        found = scenarios.alerts(db, store, as_of, since=day).filter(pl.col("alert") == "broken_promise")
        return found.get_column("document_id").to_list()

    assert broken_since(date(2026, 5, 18)) == ["P1", "O1"]
    assert broken_since(date(2026, 5, 19)) == ["P1"]
    assert broken_since(date(2026, 5, 23)) == ["P1"]
    assert broken_since(date(2026, 5, 24)) == []
