"""Coaching the collectors on a small hand-worked team: the month of March 2026 (as of 2026-03-31, the
period runs from 03-01 to 03-31, balances at its start are those of 02-28; 22 working days).

    customers  A1 Anna's, A2 Anna's, B1 Ben's, C1 Cleo's (all EUR)

    documents  IA1 A1 2025-11-01 due 2025-11-15 1000.00    IB0 B1 2025-10-15 due 2025-11-14  300.00
               IA2 A1 2026-03-01 due 2026-03-31  600.00    IB1 B1 2026-01-01 due 2026-01-31 2000.00
               IA3 A2 2026-01-10 due 2026-02-09  400.00    IB2 B1 2026-03-05 due 2026-04-04 1000.00
               IA4 A2 2026-02-01 due 2026-03-03  100.00    IC1 C1 2025-10-01 due 2025-10-31  800.00
                                                           IC2 C1 2026-02-01 due 2026-03-03  500.00
                                                           IC3 C1 2025-12-01 due 2025-12-15   50.00

    payments   PA1 IA1 03-15 cash 400.00   PB1 IB1 03-10 cash 1500.00
               PC1 IC1 03-20 write-off 800.00   PC2 IC3 03-05 cash 50.00

Balances (days past due in brackets):
    Anna  02-28: IA1 1000 (105), IA3 400 (19), IA4 100 (-3): AR 1500, overdue 1400, +30 1000, +90 1000
          03-31: IA1 600 (136), IA2 600 (0), IA3 400 (50), IA4 100 (28): AR 1700, not due 600,
                 overdue 1100 (64.71%), +30 1000, +90 600 (35.29%)
    Ben   02-28: IB0 300 (106), IB1 2000 (28): AR 2300, overdue 2300, +30 300, +90 300
          03-31: IB0 300 (137), IB1 500 (59), IB2 1000 (-4): AR 1800, not due 1000, overdue 800
                 (44.44%), +30 800, +90 300 (16.67%)
    Cleo  02-28: IC1 800 (120), IC2 500 (-3), IC3 50 (75): AR 1350, overdue 850, +30 850, +90 800
          03-31: IC2 500 (28): AR 500, not due 0, overdue 500 (100%), +30 0, +90 0 (0%)

CEI = (AR start + sales of March - AR end) / (AR start + sales - not due at end):
    Anna (1500 + 600 - 1700) / (1500 + 600 - 600) = 400 / 1500 = 26.67
    Ben  (2300 + 1000 - 1800) / (2300 + 1000 - 1000) = 1500 / 2300 = 65.22
    Cleo (1350 + 0 - 500) / (1350 + 0 - 0) = 850 / 1350 = 62.96          median 62.96
Countback DSO at 03-31: Anna 1700 = March 600 (31 d) + Feb 100 (28 d) + Jan 400 (31 d) + 600 left, and
December had no sales: 90.00; Ben 1800 = March 1000 (31 d) + 800 left, February had none: 31.00; Cleo had
no sales in March: none. ADD = AR / sales of Jan-Mar x 90 - not due / the same x 90: Anna 1700/1100 x 90
- 600/1100 x 90 = 139.09 - 49.09 = 90.00; Ben 54.00 - 30.00 = 24.00; Cleo 90.00 - 0.00 = 90.00.
Reduced: of what was overdue at 02-28, Anna got 400 in on IA1 (+90), Ben 1500 on IB1, Cleo 50 on IC3
(IC1's write-off is a write-off, not a collection).

The collections history (each submitted at its date):
    Anna  03-02 promise IA1 400 by 03-10 (deadline 03-13; PA1 comes on 03-15: broken) with a call,
          promise_obtained; 03-03 dispute on IA2, resolved 03-24 (21 days); 03-05 promise IA3 (400) by
          03-20 (broken) with an email naming IA3; 03-10 call to A1, no_answer, next action 03-17 (late).
    Ben   03-02 dispute on IB0 with a call, dispute_raised; resolved 03-12 (10 days); 03-03 promise IB1
          1500 by 03-09 with a call, promise_obtained (PB1 on 03-10: kept); 03-25 call, reached;
          03-26 email, other.
    Cleo  03-02 promise IC3 by 03-06 with a call (PC2 on 03-05: kept); 03-16 promise IC2 by 03-25
          with a call (broken); 03-18 and 03-19 calls, no_answer; 03-23 letter, next action 03-30 (late).

Activity: Anna 3 actions (2 calls, 1 reached: 50%), Ben 4 (3 calls, 3 reached: 100%), Cleo 5 (4 calls,
2 reached: 50%); per working day 3/22 = 0.14, 4/22 = 0.18, 5/22 = 0.23. Kept rate: Anna 0 of 2 (0%),
Ben 1 of 1 (100%), Cleo 1 of 2 (50%): median 50. Coverage at 03-31: Anna's last actions (03-10 and
03-05) are within 30 days but not 14: 0% and 100%; Ben and Cleo 100% and 100%. IA4 (100.00) is the one
overdue item nothing touched (9.09% of Anna's overdue). Late next actions: A1 (03-17) and C1 (03-30).

Flags at threshold 2: Anna's +90 share 35.29 / 16.67 = 2.1x (bad when high), CEI 26.67 / 62.96 = 0.4x,
kept rate 0 / 50 = 0.0x, coverage 14 days 0 / 100 = 0.0x (bad when low). Nothing else: a median of 0
(never touched) gives no ratio.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analytics import coaching, coaching_notes, collections, export, ingest, kpis, submissions
from analytics.coaching_notes import CoachingNote, Objective
from analytics.collections import CollectionsDB, CollectionsRefused
from analytics.item_states import item_states
from analytics.scope import EVERYTHING
from analytics.store import Store, query
from analytics.submissions import Action, Qualification, Submission

AS_OF = date(2026, 3, 31)

CUSTOMERS = """customer_id,customer_name,entity,collector
A1,Alder Ltd,Acme,Anna
A2,Aspen SA,Acme,Anna
B1,Birch GmbH,Acme,Ben
C1,Cedar SARL,Acme,Cleo
"""
DOCUMENTS = """document_id,document_type,customer_id,document_date,due_date,currency,amount,amount_functional
IA1,invoice,A1,2025-11-01,2025-11-15,EUR,1000.00,1000.00
IA2,invoice,A1,2026-03-01,2026-03-31,EUR,600.00,600.00
IA3,invoice,A2,2026-01-10,2026-02-09,EUR,400.00,400.00
IA4,invoice,A2,2026-02-01,2026-03-03,EUR,100.00,100.00
IB0,invoice,B1,2025-10-15,2025-11-14,EUR,300.00,300.00
IB1,invoice,B1,2026-01-01,2026-01-31,EUR,2000.00,2000.00
IB2,invoice,B1,2026-03-05,2026-04-04,EUR,1000.00,1000.00
IC1,invoice,C1,2025-10-01,2025-10-31,EUR,800.00,800.00
IC2,invoice,C1,2026-02-01,2026-03-03,EUR,500.00,500.00
IC3,invoice,C1,2025-12-01,2025-12-15,EUR,50.00,50.00
"""
PAYMENTS = """payment_id,customer_id,payment_date,document_id,amount,method
PA1,A1,2026-03-15,IA1,400.00,cash
PB1,B1,2026-03-10,IB1,1500.00,cash
PC1,C1,2026-03-20,IC1,800.00,write_off
PC2,C1,2026-03-05,IC3,50.00,cash
"""


def promise(document_id: str, by: date, amount: str | None = None) -> Qualification:
    return Qualification(
        document_id,
        "promise_to_pay",
        promised_date=by,
        promised_amount=Decimal(amount) if amount else None,
    )


def dispute(document_id: str) -> Qualification:
    return Qualification(document_id, "disputed", comment="Price not as quoted", dispute_reason="price")


def resolution(document_id: str) -> Qualification:
    return Qualification(document_id, "dispute_resolved", comment="Checked", outcome="customer_to_pay")


def call(customer_id: str, outcome: str, *documents: str, next_action: date | None = None) -> Action:
    return Action(customer_id, "call", outcome, next_action_date=next_action, document_ids=documents)


# (date, user, submission), in date order.
HISTORY = [
    (
        date(2026, 3, 2),
        "Anna",
        Submission((promise("IA1", date(2026, 3, 10), "400.00"),), call("A1", "promise_obtained")),
    ),
    (date(2026, 3, 2), "Ben", Submission((dispute("IB0"),), call("B1", "dispute_raised"))),
    (
        date(2026, 3, 2),
        "Cleo",
        Submission((promise("IC3", date(2026, 3, 6)),), call("C1", "promise_obtained")),
    ),
    (date(2026, 3, 3), "Anna", Submission((dispute("IA2"),))),
    (
        date(2026, 3, 3),
        "Ben",
        Submission((promise("IB1", date(2026, 3, 9), "1500.00"),), call("B1", "promise_obtained")),
    ),
    (
        date(2026, 3, 5),
        "Anna",
        Submission(
            (promise("IA3", date(2026, 3, 20)),), Action("A2", "email", "other", document_ids=("IA3",))
        ),
    ),
    (date(2026, 3, 10), "Anna", Submission(action=call("A1", "no_answer", next_action=date(2026, 3, 17)))),
    (date(2026, 3, 12), "Ben", Submission((resolution("IB0"),))),
    (
        date(2026, 3, 16),
        "Cleo",
        Submission((promise("IC2", date(2026, 3, 25)),), call("C1", "promise_obtained")),
    ),
    (date(2026, 3, 18), "Cleo", Submission(action=call("C1", "no_answer", next_action=date(2026, 3, 20)))),
    (date(2026, 3, 19), "Cleo", Submission(action=call("C1", "no_answer"))),
    (
        date(2026, 3, 23),
        "Cleo",
        Submission(action=Action("C1", "letter", "other", next_action_date=date(2026, 3, 30))),
    ),
    (date(2026, 3, 24), "Anna", Submission((resolution("IA2"),))),
    (date(2026, 3, 25), "Ben", Submission(action=call("B1", "reached"))),
    (date(2026, 3, 26), "Ben", Submission(action=Action("B1", "email", "other"))),
]


def build_team(folder: Path) -> tuple[Store, CollectionsDB]:
    """The small team of the module's docstring: its ledger imported from CSV text into folder/data and
    its collections history submitted date by date. The caller closes the database."""
    exports = folder / "exports"
    exports.mkdir(parents=True)
    paths = {}
    for name, text in (("customers", CUSTOMERS), ("documents", DOCUMENTS), ("payments", PAYMENTS)):
        paths[name] = exports / f"{name}.csv"
        paths[name].write_text(text, encoding="utf-8")
    store = Store(folder / "data")
    ingest.import_files(store, ingest.Sources(**paths))
    db = CollectionsDB.for_store(store)
    for day, user, submission in HISTORY:
        submissions.submit(db, submission, store=store, as_of=day, scope=EVERYTHING, user=user)
    return store, db


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, CollectionsDB]:
    store, db = build_team(tmp_path_factory.mktemp("team"))
    yield store, db
    db.close()


@pytest.fixture(scope="module")
def march(team: tuple[Store, CollectionsDB]) -> coaching.TeamTable:
    store, db = team
    return coaching.team_table(db, store, coaching.CoachingQuery(AS_OF, "month"))


def rows_of(table: coaching.TeamTable) -> dict[str, dict]:
    return {row["collector"]: row for row in table.rows.iter_rows(named=True)}


def money(text: str) -> Decimal:
    return Decimal(text)


# --- periods -------------------------------------------------------------------------------------------


def test_periods_end_on_the_as_of_date() -> None:
    """A month end gives the calendar month and quarter; another day, the same day a month (three) before."""
    assert coaching.period_start(date(2026, 3, 31), "month") == date(2026, 2, 28)
    assert coaching.period_start(date(2026, 2, 28), "month") == date(2026, 1, 31)
    assert coaching.period_start(date(2026, 3, 31), "quarter") == date(2025, 12, 31)
    assert coaching.period_start(date(2026, 11, 25), "month") == date(2026, 10, 25)
    assert coaching.period_start(date(2026, 5, 30), "quarter") == date(2026, 2, 28)
    assert coaching.period_start(date(2026, 3, 31), "week") == date(2026, 3, 24)
    assert coaching.working_days(date(2026, 2, 28), date(2026, 3, 31)) == 22
    assert coaching.working_days(date(2026, 3, 24), date(2026, 3, 31)) == 5
    with pytest.raises(ValueError, match="unknown period"):
        coaching.CoachingQuery(AS_OF, "year")
    with pytest.raises(ValueError, match="above 1"):
        coaching.CoachingQuery(AS_OF, "month", threshold=1.0)


# --- the figures -----------------------------------------------------------------------------------------


def test_portfolio_at_the_end_and_its_change(march: coaching.TeamTable) -> None:
    rows = rows_of(march)
    assert list(rows) == ["Anna", "Ben", "Cleo"]
    assert (march.start, march.end, march.dso_period) == (date(2026, 2, 28), AS_OF, AS_OF)
    anna, ben, cleo = rows["Anna"], rows["Ben"], rows["Cleo"]
    assert (anna["customers"], anna["ar"], anna["overdue"], anna["over_30"], anna["over_90"]) == (
        2,
        money("1700.00"),
        money("1100.00"),
        money("1000.00"),
        money("600.00"),
    )
    assert (anna["ar_change"], anna["overdue_change"], anna["over_30_change"], anna["over_90_change"]) == (
        money("200.00"),
        money("-300.00"),
        money("0.00"),
        money("-400.00"),
    )
    # 1100 / 1700 = 64.71% now, 1400 / 1500 = 93.33% then; 600 / 1700 = 35.29%, 1000 / 1500 = 66.67%.
    assert (anna["pct_overdue"], anna["pct_overdue_change"]) == (64.71, -28.62)
    assert (anna["pct_over_90"], anna["pct_over_90_change"]) == (35.29, -31.38)
    assert (ben["ar"], ben["overdue"], ben["over_30"], ben["over_90"]) == (
        money("1800.00"),
        money("800.00"),
        money("800.00"),
        money("300.00"),
    )
    assert (ben["over_30_change"], ben["pct_overdue"], ben["pct_over_90"]) == (money("500.00"), 44.44, 16.67)
    assert (cleo["ar"], cleo["overdue"], cleo["over_90"], cleo["over_90_change"]) == (
        money("500.00"),
        money("500.00"),
        money("0.00"),
        money("-800.00"),
    )
    assert (cleo["pct_overdue"], cleo["pct_over_90"], cleo["customers_change"]) == (100.0, 0.0, 0)


def test_results_of_the_month(march: coaching.TeamTable, team: tuple[Store, CollectionsDB]) -> None:
    rows = rows_of(march)
    anna, ben, cleo = rows["Anna"], rows["Ben"], rows["Cleo"]
    assert [rows[c]["cei"] for c in rows] == [26.67, 65.22, 62.96]
    assert [rows[c]["cash_collected"] for c in rows] == [money("400.00"), money("1500.00"), money("50.00")]
    assert [rows[c]["write_offs"] for c in rows] == [money("0.00"), money("0.00"), money("800.00")]
    assert [rows[c]["overdue_reduced"] for c in rows] == [money("400.00"), money("1500.00"), money("50.00")]
    assert [rows[c]["over_90_reduced"] for c in rows] == [money("400.00"), money("0.00"), money("0.00")]
    assert [rows[c]["dso_countback"] for c in rows] == [90.0, 31.0, None]
    assert [rows[c]["add"] for c in rows] == [90.0, 24.0, 90.0]
    assert (anna["promises_obtained"], anna["promises_kept"], anna["promises_broken"]) == (2, 0, 2)
    assert (ben["promises_obtained"], ben["promises_kept"], ben["promises_broken"]) == (1, 1, 0)
    assert (cleo["promises_obtained"], cleo["promises_kept"], cleo["promises_broken"]) == (2, 1, 1)
    assert [rows[c]["promise_kept_rate"] for c in rows] == [0.0, 100.0, 50.0]
    assert [(rows[c]["disputes_resolved"], rows[c]["avg_resolution_days"]) for c in rows] == [
        (1, 21.0),
        (1, 10.0),
        (0, None),
    ]
    # A month ending on a month end: the period's CEI is the month's CEI of the KPI series.
    store, _ = team
    series = kpis.month_end_series(store, AS_OF, AS_OF, by="collector", as_of=AS_OF)
    assert dict(zip(series["collector"], series["cei"], strict=True)) == {
        "Anna": 26.67,
        "Ben": 65.22,
        "Cleo": 62.96,
    }


def test_activity_of_the_month(march: coaching.TeamTable) -> None:
    rows = rows_of(march)
    assert [rows[c]["working_days"] for c in rows] == [22, 22, 22]
    assert [rows[c]["actions"] for c in rows] == [3, 4, 5]
    assert [rows[c]["actions_per_day"] for c in rows] == [0.14, 0.18, 0.23]
    assert [rows[c]["calls_per_day"] for c in rows] == [0.09, 0.14, 0.18]
    assert [rows[c]["emails_per_day"] for c in rows] == [0.05, 0.05, 0.0]
    assert [rows[c]["letters_per_day"] for c in rows] == [0.0, 0.0, 0.05]
    assert [rows[c]["reach_rate"] for c in rows] == [50.0, 100.0, 50.0]
    assert [rows[c]["coverage_14"] for c in rows] == [0.0, 100.0, 100.0]
    assert [rows[c]["coverage_30"] for c in rows] == [100.0, 100.0, 100.0]
    assert [(rows[c]["untouched_items"], rows[c]["untouched_amount"]) for c in rows] == [
        (1, money("100.00")),
        (0, money("0.00")),
        (0, money("0.00")),
    ]
    assert [rows[c]["untouched_share"] for c in rows] == [9.09, 0.0, 0.0]
    assert [rows[c]["late_next_actions"] for c in rows] == [1, 0, 1]


def test_median_and_flags(march: coaching.TeamTable) -> None:
    median = march.median.row(0, named=True)
    assert median["collector"] == "Team median"
    assert (median["cei"], median["pct_over_90"], median["promise_kept_rate"], median["coverage_14"]) == (
        62.96,
        16.67,
        50.0,
        100.0,
    )
    assert median["ar"] == money("1700.00")
    assert median["dso_countback"] == 60.5  # (90 + 31) / 2: Cleo has no figure
    assert median["customers"] == 1.0
    flags = rows_of(march)
    assert flags["Anna"]["flags"].split("; ") == [
        "+90 share 2.1x the team median (35.29% vs 16.67%)",
        "CEI 0.4x the team median (26.67% vs 62.96%)",
        "promise kept rate 0.0x the team median (0.00% vs 50.00%)",
        "coverage 14 days 0.0x the team median (0.00% vs 100.00%)",
    ]
    assert [flags[c]["flag_count"] for c in flags] == [4, 0, 0]
    assert march.outliers.get_column("figure").to_list() == [
        "pct_over_90",
        "cei",
        "promise_kept_rate",
        "coverage_14",
    ]
    untouched = march.comparison.filter(pl.col("figure") == "untouched_share", pl.col("collector") == "Anna")
    assert untouched.row(0, named=True)["ratio"] is None  # a median of 0 says nothing
    table = march.with_median()
    assert table.get_column("collector").to_list() == ["Anna", "Ben", "Cleo", "Team median"]


def test_a_looser_threshold_flags_less(team: tuple[Store, CollectionsDB]) -> None:
    """At 2.5x: +90 share 2.1x and CEI 0.42x (above 1/2.5 = 0.4) are no longer outliers."""
    store, db = team
    table = coaching.team_table(db, store, coaching.CoachingQuery(AS_OF, "month", threshold=2.5))
    assert table.outliers.get_column("figure").to_list() == ["promise_kept_rate", "coverage_14"]


def test_outlier_rule() -> None:
    assert coaching.ratio_to_median(3.0, 1.5) == 2.0
    assert coaching.ratio_to_median(3.0, 0.0) is None
    assert coaching.ratio_to_median(-1.0, 2.0) is None
    assert coaching.ratio_to_median(None, 2.0) is None
    assert coaching.is_outlier(2.0, coaching.HIGH, 2.0)
    assert not coaching.is_outlier(1.99, coaching.HIGH, 2.0)
    assert coaching.is_outlier(0.5, coaching.LOW, 2.0)
    assert not coaching.is_outlier(0.51, coaching.LOW, 2.0)
    assert not coaching.is_outlier(3.0, coaching.LOW, 2.0)
    assert not coaching.is_outlier(None, coaching.HIGH, 2.0)
    assert (
        coaching.reason("pct_over_90", 31.0, 15.5, 2.0) == "+90 share 2.0x the team median (31.00% vs 15.50%)"
    )
    assert set(coaching.OBJECTIVE_LABELS) == set(coaching_notes.OBJECTIVE_METRICS)
    assert set(coaching_notes.OBJECTIVE_METRICS) <= set(coaching.ROW_COLUMNS)


def test_a_week_and_a_quarter(team: tuple[Store, CollectionsDB]) -> None:
    """The week to 03-31 (03-25 to 03-31, 5 working days): Ben's call and email, nobody else's. The quarter
    (01-01 to 03-31) takes CEI by the CRF convention, the quarter's sales / 3 in place of the month's:
        Anna (1000 + 1100/3 - 1700) / (1000 + 1100/3 - 600) = -333.33 / 766.67 = -43.48
        Ben  (300 + 3000/3 - 1800) / (300 + 3000/3 - 1000) = -500 / 300 = -166.67
        Cleo (850 + 500/3 - 500) / (850 + 500/3 - 0) = 516.67 / 1016.67 = 50.82
    as kpis.month_end_series' cei_quarterly has it."""
    store, db = team
    week = rows_of(coaching.team_table(db, store, coaching.CoachingQuery(AS_OF, "week")))
    assert [week[c]["actions"] for c in week] == [0, 2, 0]
    assert week["Ben"]["actions_per_day"] == 0.4
    quarter = rows_of(coaching.team_table(db, store, coaching.CoachingQuery(AS_OF, "quarter")))
    assert [quarter[c]["cei"] for c in quarter] == [-43.48, -166.67, 50.82]
    series = kpis.month_end_series(store, AS_OF, AS_OF, by="collector", as_of=AS_OF)
    assert {c: quarter[c]["cei"] for c in quarter} == dict(
        zip(series["collector"], series["cei_quarterly"], strict=True)
    )


def test_scope_narrows_the_team(team: tuple[Store, CollectionsDB]) -> None:
    from analytics.scope import Scope

    store, db = team
    table = coaching.team_table(
        db, store, coaching.CoachingQuery(AS_OF, "month", Scope.of({"collector": ["Anna", "Ben"]}))
    )
    assert table.rows.get_column("collector").to_list() == ["Anna", "Ben"]
    assert table.median.row(0, named=True)["ar"] == money("1750.00")


# --- a collector's record --------------------------------------------------------------------------------


def test_heatmap_counts_actions_by_day(team: tuple[Store, CollectionsDB]) -> None:
    """Anna acted on Monday 03-02, Thursday 03-05 and Tuesday 03-10; 13 weeks of 7 days to the week of
    03-31 (from Monday 2026-01-05); the days after 03-31 have no figure."""
    store, db = team
    heat = coaching.activity_heatmap(db, store, "Anna", AS_OF)
    assert heat.height == 91
    assert heat.get_column("day").min() == date(2026, 1, 5)
    busy = heat.filter(pl.col("actions") > 0)
    assert busy.select("day", "weekday", "actions").rows() == [
        (date(2026, 3, 2), 0, 1),
        (date(2026, 3, 5), 3, 1),
        (date(2026, 3, 10), 1, 1),
    ]
    assert heat.filter(pl.col("day") > AS_OF).get_column("actions").null_count() == 5
    assert busy.get_column("week").to_list() == [date(2026, 3, 2), date(2026, 3, 2), date(2026, 3, 9)]


def test_breakdown_by_type_and_outcome(team: tuple[Store, CollectionsDB]) -> None:
    store, db = team
    breakdown = coaching.activity_breakdown(db, store, "Cleo", date(2026, 2, 28), AS_OF)
    assert breakdown.rows() == [
        ("call", "no_answer", 2, 0.09),
        ("call", "promise_obtained", 2, 0.09),
        ("letter", "other", 1, 0.05),
    ]


def test_customers_at_risk(team: tuple[Store, CollectionsDB]) -> None:
    """Anna at 03-31: Alder (A1) has 600.00 over 90 days and its promise on IA1 broken, last contact
    03-10 (21 days); Aspen (A2) has its promise on IA3 broken, last contact 03-05 (26 days)."""
    store, db = team
    risk = coaching.at_risk_customers(db, store, "Anna", AS_OF)
    assert risk.select(
        "customer_id", "over_90", "broken_promises", "days_since_contact", "reasons"
    ).rows() == [
        ("A1", money("600.00"), 1, 21, "+90 600.00; 1 broken promise"),
        ("A2", money("0.00"), 1, 26, "1 broken promise"),
    ]
    # Fifty days on, nobody called: both are 30 days and more without contact.
    later = coaching.at_risk_customers(db, store, "Anna", date(2026, 4, 30))
    assert later.get_column("reasons").to_list()[0] == "+90 600.00; 1 broken promise; no contact for 51 days"


def test_trends_beside_the_team(team: tuple[Store, CollectionsDB]) -> None:
    """Aging shares at 02-28 and 03-31: Anna's +90 is 1000 of 1500 (66.67%) then 600 of 1700 (35.29%);
    the team's is 1000 + 300 + 800 of 1500 + 2300 + 1350 = 2100 / 5150 (40.78%) then 600 + 300 + 0 of
    1700 + 1800 + 500 = 900 / 4000 (22.5%)."""
    store, _ = team
    trend = coaching.portfolio_trend(store, [date(2026, 2, 28), AS_OF], "Anna")
    over_90 = trend.filter(pl.col("bucket") == "over_90").select("month_end", "who", "share").rows()
    assert over_90 == [
        (date(2026, 2, 28), "Anna", 66.67),
        (date(2026, 2, 28), "Team", 40.78),
        (AS_OF, "Anna", 35.29),
        (AS_OF, "Team", 22.5),
    ]
    series = kpis.month_end_series(store, date(2026, 2, 1), AS_OF, by="collector", as_of=AS_OF)
    whole = kpis.month_end_series(store, date(2026, 2, 1), AS_OF, as_of=AS_OF)
    kpi = coaching.kpi_trend(series, whole, "Anna")
    assert kpi.filter(pl.col("period") == AS_OF).select("who", "cei").rows() == [
        ("Anna", 26.67),
        ("Team", whole.filter(pl.col("period") == AS_OF)["cei"][0]),
    ]


def test_promises_recorded_before_a_period_count_where_they_fall_due(
    team: tuple[Store, CollectionsDB],
) -> None:
    """From 03-12 (excluded) to 03-31, only the promises whose deadline (promised date + 3 days) falls in
    the period are kept or broken, wherever they were recorded: IA1 (recorded 03-02, deadline 03-13) and
    IA3 (03-05, 03-23) broken for Anna, IC2 (03-16, 03-28) broken for Cleo; IB1 (03-12) and IC3
    (03-09) fell due before. Obtained in the period: IC2 alone."""
    store, db = team
    rows = coaching.collector_figures(db, store, date(2026, 3, 12), AS_OF)
    assert rows.select("collector", "promises_obtained", "promises_kept", "promises_broken").rows() == [
        ("Anna", 0, 0, 2),
        ("Ben", 0, 0, 0),
        ("Cleo", 1, 0, 1),
    ]


def test_a_record_from_the_figures_kept_for_the_whole_team(team: tuple[Store, CollectionsDB]) -> None:
    """The aging of the month ends done once for every collector (bucket_sums) and the item states of
    the whole scope give each collector the figures of test_trends_beside_the_team and
    test_customers_at_risk; a collector with no portfolio gets no share beside the team's."""
    store, db = team
    month_ends = [date(2026, 2, 28), AS_OF]
    sums = coaching.bucket_sums(store, month_ends)
    trend = coaching.portfolio_trend(store, month_ends, "Anna", sums=sums)
    assert trend.filter(pl.col("bucket") == "over_90").select("month_end", "who", "share").rows() == [
        (date(2026, 2, 28), "Anna", 66.67),
        (date(2026, 2, 28), "Team", 40.78),
        (AS_OF, "Anna", 35.29),
        (AS_OF, "Team", 22.5),
    ]
    nobody = coaching.portfolio_trend(store, month_ends, "Nobody", sums=sums)
    assert nobody.filter(pl.col("who") == "Nobody").get_column("share").is_null().all()
    assert nobody.filter(pl.col("who") == "Team", pl.col("bucket") == "over_90")["share"].to_list() == [
        40.78,
        22.5,
    ]
    states = item_states(db, store, AS_OF)
    risk = coaching.at_risk_customers(db, store, "Anna", AS_OF, states=states)
    assert risk.select("customer_id", "over_90", "broken_promises", "days_since_contact").rows() == [
        ("A1", money("600.00"), 1, 21),
        ("A2", money("0.00"), 1, 26),
    ]


# --- coaching notes ---------------------------------------------------------------------------------------


def test_notes_are_kept_and_their_objectives_measured(tmp_path: Path, collections_backend) -> None:
    """On each back end, on 02-28 the lead sets Anna: +90 <= 700 by 03-31 (600: met), coverage 30 days >= 80 by 03-31 (100:
    met), kept rate >= 50 by 03-31 (0: missed), overdue <= 900 by 04-30 (not due: pending, 1100 as of
    03-31). On 03-10: +90 <= 1000 by 03-15, measured at 03-15 (IA1 600 after PA1 that day: met)."""
    store, db = build_team(tmp_path)
    try:
        first = coaching_notes.add_note(
            db,
            CoachingNote(
                "Anna",
                "Focus on the oldest items",
                (
                    Objective("over_90", "<=", Decimal("700"), AS_OF, "+90 under 700 by month end"),
                    Objective("coverage_30", ">=", Decimal("80"), AS_OF),
                    Objective("promise_kept_rate", ">=", Decimal("50"), AS_OF),
                    Objective("overdue", "<=", Decimal("900"), date(2026, 4, 30)),
                ),
                period="month",
            ),
            store=store,
            as_of=date(2026, 2, 28),
            scope=EVERYTHING,
            user="Team lead",
        )
        second = coaching_notes.add_note(
            db,
            CoachingNote("Anna", "", (Objective("over_90", "<=", Decimal("1000"), date(2026, 3, 15)),)),
            store=store,
            as_of=date(2026, 3, 10),
            scope=EVERYTHING,
            user="Team lead",
        )
        coaching_notes.add_note(
            db,
            CoachingNote("Ben", "Well done"),
            store=store,
            as_of=date(2026, 3, 10),
            scope=EVERYTHING,
            user="Team lead",
        )
        assert (first, second) == (1, 2)
        notes = coaching_notes.notes(db, collectors=["Anna"])
        assert notes.get_column("note_id").to_list() == [1, 2]
        assert notes.row(0, named=True)["comment"] == "Focus on the oldest items"
        assert coaching_notes.notes(db).height == 3

        outcomes = coaching.objective_outcomes(db, store, "Anna", AS_OF)
        assert outcomes.select("note_id", "metric", "measured_on", "value", "status").rows() == [
            (2, "over_90", date(2026, 3, 15), 600.0, "met"),
            (1, "over_90", AS_OF, 600.0, "met"),
            (1, "coverage_30", AS_OF, 100.0, "met"),
            (1, "promise_kept_rate", AS_OF, 0.0, "missed"),
            (1, "overdue", AS_OF, 1100.0, "pending"),
        ]
        assert outcomes.row(1, named=True)["text"] == "+90 under 700 by month end"
        # Before the first due date, every objective is pending; notes written later are not shown yet.
        early = coaching.objective_outcomes(db, store, "Anna", date(2026, 3, 5))
        assert early.get_column("status").to_list() == ["pending"] * 4
        ben = coaching.objective_outcomes(db, store, "Ben", AS_OF)
        assert ben.select("comment", "metric", "status").rows() == [("Well done", None, None)]
    finally:
        db.close()


def test_a_note_is_checked_before_it_is_written(team: tuple[Store, CollectionsDB]) -> None:
    store, db = team
    before = coaching_notes.notes(db).height
    with pytest.raises(CollectionsRefused) as refused:
        coaching_notes.add_note(
            db,
            CoachingNote(
                "Zoe",
                "",
                (
                    Objective("dso", "<", Decimal("40"), date(2026, 3, 1)),
                    Objective("over_90", "<=", None, AS_OF),
                ),
            ),
            store=store,
            as_of=AS_OF,
            scope=EVERYTHING,
            user=" ",
        )
    assert refused.value.messages == [
        "user_name: required (who records this)",
        "collector: 'Zoe' holds no customer in your scope",
        "objective 1, metric: 'dso' is not one of: over_90, overdue, pct_overdue, coverage_30, "
        "promise_kept_rate, actions_per_day",
        "objective 1, comparison: '<' is not one of: <=, >=",
        "objective 1, due_date: 2026-03-01 is in the past (the note is of 2026-03-31)",
        "objective 2, target: required",
    ]
    with pytest.raises(CollectionsRefused, match="write a comment or set an objective"):
        coaching_notes.add_note(
            db, CoachingNote("Anna"), store=store, as_of=AS_OF, scope=EVERYTHING, user="Lead"
        )
    assert coaching_notes.notes(db).height == before


def test_an_older_file_gets_the_notes_table(tmp_path: Path) -> None:
    """A collections file of schema 1 (no coaching_notes) is upgraded on opening: the table is created,
    the version recorded, nothing else touched."""
    path = tmp_path / "old.duckdb"
    CollectionsDB(path).close()
    # What schema 1 had: the tables of item events, actions and imports alone.
    con = duckdb.connect(str(path))
    for table in (
        "coaching_notes",
        "scenarios",
        "scenario_steps",
        "scenario_rule_sets",
        "scenario_rules",
        "scenario_assignments",
        "scenario_step_log",
        "scenario_runs",
        "scenario_settings",
        "customer_contacts",
    ):
        con.execute(f"drop table {table}")
    con.execute("alter table actions drop column original_author")
    con.execute("alter table item_events drop column original_author")
    con.execute("delete from schema_version")
    con.execute(query("collections_record_schema_version"), {"version": 1, "applied_at": date(2026, 1, 1)})
    con.close()
    with CollectionsDB(path) as db:
        assert db.read("collections_schema_version").get_column("version").to_list() == [
            collections.SCHEMA_VERSION
        ]
        assert coaching_notes.notes(db).is_empty()
        assert db.data_version() == "0-0-0"


def test_export_of_the_team_table(march: coaching.TeamTable) -> None:
    """The export holds the collectors then the team median, amounts as numbers to the cent."""
    text = export.to_csv(march.with_median()).decode()
    lines = text.splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["collector", "customers", "customers_change"]
    assert "flags" in header and "coverage_30" in header
    assert [line.split(",")[0] for line in lines[1:]] == ["Anna", "Ben", "Cleo", "Team median"]
    assert lines[1].split(",")[header.index("ar")] == "1700.00"
    assert export.to_xlsx(march.with_median(), sheet="Collectors")[:2] == b"PK"
