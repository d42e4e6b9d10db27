"""Payment predictions: a hand-made ledger where one customer always pays 20 days late and another on
its due dates (the predictions follow), the no-look-ahead rule (payments after the as-of date change
nothing), the back-test's figures recomputed from the ledger, the command line's columns, and the IBM
sample's back-test beside the baseline."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics import ingest, predictions, submissions, worklist
from analytics.aging import aged_items
from analytics.collections import CollectionsDB
from analytics.scope import EVERYTHING
from analytics.store import Store
from analytics.submissions import Action, Qualification, Submission
from pages import _cache
from tests.test_cli import run
from tests.test_forecast import import_ledger
from tests.test_import import IBM_MAPPING, IBM_SAMPLE

AS_OF = date(2026, 1, 15)
CUSTOMERS = """customer_id,customer_name,entity,segment
LATE,Late Payer,E,SME
ONTIME,On Time,E,SME
NEW,Newcomer,E,SME
"""


def _month_first(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def ledger(extra_payments: str = "") -> tuple[str, str]:
    """Documents and payments: each of LATE and ONTIME issued one invoice of 100.00 on the first of
    each month of 2025, due 30 days later; LATE paid each 20 days after its due date, ONTIME on it.
    Open at AS_OF: LATE-12 (due 2025-12-31, paid 2026-01-20), one invoice each dated 2026-01-01, due
    2026-01-31, and NEW's first invoice."""
    documents = ["document_id,document_type,customer_id,document_date,due_date,currency,amount"]
    payments = ["payment_id,customer_id,payment_date,document_id,amount,method"]
    for month in range(1, 13):
        issued = _month_first(2025, month)
        due = issued + timedelta(days=30)
        for customer, delay in (("LATE", 20), ("ONTIME", 0)):
            document = f"{customer}-{month:02d}"
            documents.append(f"{document},invoice,{customer},{issued},{due},EUR,100.00")
            payments.append(f"P-{document},{customer},{due + timedelta(days=delay)},{document},100.00,cash")
    for customer in ("LATE", "ONTIME", "NEW"):
        documents.append(f"{customer}-OPEN,invoice,{customer},2026-01-01,2026-01-31,EUR,100.00")
    return "\n".join(documents) + "\n", "\n".join(payments) + "\n" + extra_payments


@pytest.fixture
def habits(tmp_path: Path) -> Store:
    documents, payments = ledger()
    return import_ledger(tmp_path, CUSTOMERS, documents, payments)


def test_predictions_follow_each_customers_habit(habits: Store) -> None:
    """LATE's open invoice (due 2026-01-31) is expected 20 days late, on 2026-02-20, and likely late;
    ONTIME's on its due date and likely on time (LATE-12, 15 days late at AS_OF, is paid late). NEW has no history of its own: it takes its segment's
    (half its invoices 20 days late: a mean of 10) and says so."""
    rows = {row["document_id"]: row for row in predictions.predict(habits, AS_OF).iter_rows(named=True)}
    assert set(rows) == {"LATE-12", "LATE-OPEN", "ONTIME-OPEN", "NEW-OPEN"}
    # Overdue and still open: it will be paid late, after AS_OF.
    assert rows["LATE-12"]["p_late"] == 1.0
    late, on_time, new = rows["LATE-OPEN"], rows["ONTIME-OPEN"], rows["NEW-OPEN"]
    assert abs((late["predicted_payment_date"] - date(2026, 2, 20)).days) <= 2
    assert late["predicted_days_late"] >= 18
    assert late["p_late"] > 0.5
    assert late["prediction_basis"] == "customer"
    assert abs((on_time["predicted_payment_date"] - date(2026, 1, 31)).days) <= 2
    assert on_time["p_late"] < 0.5
    assert new["prediction_basis"] == "segment"
    assert 0 <= new["p_late"] <= 1
    assert str(late["open_amount_functional"]) == "100.00"
    assert all(row["predicted_payment_date"] > AS_OF for row in rows.values())


def test_a_payment_after_the_as_of_date_changes_no_prediction(tmp_path: Path) -> None:
    """The same ledger with the open invoices paid after AS_OF (and one of the settled ones paid again,
    a correction): the predictions at AS_OF are the same, row for row."""
    before = predictions.predict(import_ledger(tmp_path / "before", CUSTOMERS, *ledger()), AS_OF)
    later = (
        "X1,LATE,2026-01-16,LATE-OPEN,100.00,cash\n"
        "X2,ONTIME,2026-02-01,ONTIME-OPEN,40.00,cash\n"
        "X3,LATE,2026-03-01,LATE-11,10.00,cash\n"
        "X4,NEW,2026-01-20,,500.00,cash\n"
    )
    after = predictions.predict(import_ledger(tmp_path / "after", CUSTOMERS, *ledger(later)), AS_OF)
    assert before.height == 4
    assert after.equals(before)


def test_a_partial_payment_before_the_as_of_date_is_known(tmp_path: Path) -> None:
    """A part paid by AS_OF shows in the open amount predicted (60.00 of 100.00 left)."""
    paid = "X1,LATE,2026-01-10,LATE-OPEN,40.00,cash\n"
    store = import_ledger(tmp_path, CUSTOMERS, *ledger(paid))
    rows = predictions.predict(store, AS_OF).filter(pl.col("document_id") == "LATE-OPEN")
    assert str(rows.item(0, "open_amount_functional")) == "60.00"


def _paid_on_from_the_ledger(payments_csv: str) -> dict[str, date]:
    """Each invoice's last cash payment date, read from the payments text itself."""
    paid: dict[str, date] = {}
    for row in csv.DictReader(io.StringIO(payments_csv)):
        if row["document_id"] and row["method"] == "cash":
            day = date.fromisoformat(row["payment_date"])
            paid[row["document_id"]] = max(day, paid.get(row["document_id"], day))
    return paid


def test_backtest_figures_recomputed_from_the_ledger(tmp_path: Path) -> None:
    """At three dates, every invoice open then and paid since scored against its last cash payment
    read from the payments text, and the baseline worked out here from the same text: the figures of
    backtest are these."""
    documents, payments = ledger("X1,NEW,2026-02-10,NEW-OPEN,100.00,cash\n")
    store = import_ledger(tmp_path, CUSTOMERS, documents, payments)
    dates = [date(2025, 9, 30), date(2025, 10, 31), date(2026, 1, 15)]
    figures = predictions.backtest(store, dates)
    paid = _paid_on_from_the_ledger(payments)
    due = {
        row["document_id"]: (date.fromisoformat(row["document_date"]), date.fromisoformat(row["due_date"]))
        for row in csv.DictReader(io.StringIO(documents))
    }
    errors, rights, baseline_errors, baseline_rights = [], [], [], []
    for day in dates:
        # The baseline by hand: due + the customer's mean days late over its invoices paid by `day`.
        delays: dict[str, list[int]] = {}
        for document, paid_on in paid.items():
            if paid_on <= day:
                delays.setdefault(document.split("-")[0], []).append((paid_on - due[document][1]).days)
        made = predictions.predict(store, day)
        scored = 0
        for row in made.iter_rows(named=True):
            document = row["document_id"]
            if document not in paid:
                continue
            scored += 1
            truth = paid[document]
            late = truth > due[document][1]
            errors.append(abs((row["predicted_payment_date"] - truth).days))
            rights.append((row["p_late"] >= 0.5) == late)
            customer = document.split("-")[0]
            mean = sum(delays.get(customer, [0])) / len(delays.get(customer, [0]))
            guess = max(due[document][1] + timedelta(days=round(mean)), day + timedelta(days=1))
            baseline_errors.append(abs((guess - truth).days))
            baseline_rights.append((guess > due[document][1]) == late)
        assert figures.filter(pl.col("as_of") == day).item(0, "invoices") == scored
    overall = figures.filter(pl.col("as_of").is_null()).row(0, named=True)
    assert overall["invoices"] == len(errors) > 0
    assert overall["mae_days"] == pytest.approx(sum(errors) / len(errors), abs=0.01)
    assert overall["baseline_mae_days"] == pytest.approx(
        sum(baseline_errors) / len(baseline_errors), abs=0.01
    )
    assert overall["late_accuracy"] == pytest.approx(100 * sum(rights) / len(rights), abs=0.01)
    assert overall["baseline_late_accuracy"] == pytest.approx(
        100 * sum(baseline_rights) / len(baseline_rights), abs=0.01
    )


def test_report_predictions_on_the_command_line(
    habits: Store, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """CSV with the columns DESIGN.md names, one row per open invoice; JSON the same; --where narrows
    it; a bad --where is refused with exit status 2; --backtest writes the back-test's columns."""
    data = str(habits.root)
    result = run(cli_env, "report", "predictions", "--data", data, "--as-of", "2026-01-15")
    assert result.returncode == 0, result.stderr
    frame = pl.read_csv(io.StringIO(result.stdout), schema_overrides={"open_amount_functional": pl.String})
    assert tuple(frame.columns) == predictions.PREDICTION_COLUMNS
    assert sorted(frame["document_id"].to_list()) == ["LATE-12", "LATE-OPEN", "NEW-OPEN", "ONTIME-OPEN"]
    assert frame.filter(pl.col("document_id") == "LATE-OPEN").item(0, "open_amount_functional") == "100.00"
    output = tmp_path / "predictions.json"
    result = run(
        cli_env, "report", "predictions", "--data", data, "--as-of", "2026-01-15",
        "--where", "segment=SME", "--format", "json", "--output", str(output),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(output.read_text())) == 4
    result = run(
        cli_env, "report", "predictions", "--data", data, "--as-of", "2026-01-15", "--where", "colour=red"
    )
    assert result.returncode == 2
    assert "colour" in result.stderr
    result = run(cli_env, "report", "predictions", "--data", data, "--as-of", "2026-01-15", "--backtest")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == ",".join(predictions.BACKTEST_COLUMNS)
    assert "baseline" in result.stderr


# Beside the project (../shared/data), or beside the folder of worktrees that holds it.
SAMPLES = [IBM_SAMPLE, IBM_SAMPLE.parents[3] / "shared" / "data" / IBM_SAMPLE.name]


@pytest.fixture(scope="module")
def ibm_backtest(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    sample = next((path for path in SAMPLES if path.is_file()), IBM_SAMPLE)
    store = Store(tmp_path_factory.mktemp("ibm") / "data")
    ingest.import_files(store, ingest.Sources(documents=sample), ingest.load_mapping(IBM_MAPPING))
    return predictions.backtest(store, predictions.month_ends(date(2012, 3, 31), date(2013, 12, 31), 3))


def test_ibm_sample_backtest_at_quarter_ends(ibm_backtest: pl.DataFrame) -> None:
    """Eight quarter ends of 2012-2013, each with invoices open then and paid since; the figures are
    those benchmarks/README.md gives."""
    assert ibm_backtest.filter(pl.col("as_of").is_not_null()).height == 8
    overall = ibm_backtest.filter(pl.col("as_of").is_null()).row(0, named=True)
    assert overall["invoices"] == 687
    assert 0 < overall["mae_days"] < 10
    assert 50 < overall["late_accuracy"] <= 100


def test_ibm_sample_late_or_not_beats_the_baseline(ibm_backtest: pl.DataFrame) -> None:
    """The issue's target for late or not: an accuracy at least 3 points above the baseline's (82.53%
    against 79.33% when written)."""
    overall = ibm_backtest.filter(pl.col("as_of").is_null()).row(0, named=True)
    assert overall["late_accuracy"] >= overall["baseline_late_accuracy"] + 3


@pytest.mark.xfail(strict=True, reason="the issue's target is not met yet: see benchmarks/README.md")
def test_ibm_sample_error_beats_the_baseline(ibm_backtest: pl.DataFrame) -> None:
    """The issue's target for the payment date: a mean absolute error at least 15% below the
    baseline's (5.97 days against 5.99 when written)."""
    overall = ibm_backtest.filter(pl.col("as_of").is_null()).row(0, named=True)
    assert overall["mae_days"] <= 0.85 * overall["baseline_mae_days"]


def test_p_late_and_the_predicted_date_agree(habits: Store) -> None:
    """Both come from one model: an invoice not yet due is likely late (p_late >= 0.5) exactly where
    its predicted payment date is after its due date."""
    made = predictions.predict(habits, AS_OF).filter(pl.col("due_date") > AS_OF)
    assert made.height == 3
    for row in made.iter_rows(named=True):
        assert (row["p_late"] >= 0.5) == (row["predicted_payment_date"] > row["due_date"]), row


def test_worklist_likely_late_reason_before_the_due_date(habits: Store) -> None:
    """At AS_OF, LATE-OPEN (due 2026-01-31, its customer always 20 days late) is not yet due and
    likely late: it has the reason, with 100.00 x p_late at risk. ONTIME-OPEN does not; LATE-12,
    already overdue, is the ordinary worklist's, not this one's."""

    made = predictions.predict(habits, AS_OF)
    rows = worklist.likely_late(made, AS_OF)
    assert rows["document_id"].to_list()[0] == "LATE-OPEN"
    assert "ONTIME-OPEN" not in rows["document_id"].to_list()
    assert "LATE-12" not in rows["document_id"].to_list()
    first = rows.row(0, named=True)
    assert first["reason"] == "likely_late"
    assert first["amount_at_risk"] == pytest.approx(100 * first["p_late"], abs=0.01)
    amounts = rows["amount_at_risk"].to_list()
    assert amounts == sorted(amounts, reverse=True)


def test_pre_due_list_leaves_out_what_is_waited_on_or_already_a_task(habits: Store) -> None:
    """At 2026-01-20 the pre-due list has LATE-OPEN and NEW-OPEN (a newcomer takes its segment's
    habit: likely late too), by customer, 100.00 open each. NEW-OPEN disputed: it is waited on and
    leaves the list. A call on LATE-OPEN setting a next action for 2026-01-20: it is the next action
    section's task, not the pre-due list's; the list is then empty."""

    as_of = date(2026, 1, 20)
    made = predictions.predict(habits, as_of)
    db = CollectionsDB.for_store(habits)
    request = worklist.WorklistQuery(as_of)
    live = worklist.LiveWorklist(habits, as_of, EVERYTHING, aged_items(habits, as_of))
    listed = live.likely_late(db, request, made)
    assert listed.items["document_id"].to_list() == ["LATE-OPEN", "NEW-OPEN"]
    assert listed.customers["customer_id"].to_list() == ["LATE", "NEW"]
    assert [str(amount) for amount in listed.customers["total_open_amount"]] == ["100.00", "100.00"]
    dispute = Qualification(
        "NEW-OPEN", "disputed", comment="Wrong price", dispute_reason="price", internal_owner="Sales"
    )
    submissions.submit(db, Submission((dispute,)), store=habits, as_of=as_of, scope=EVERYTHING, user="Anna")
    assert live.likely_late(db, request, made).items["document_id"].to_list() == ["LATE-OPEN"]
    call = Action("LATE", "call", "reached", document_ids=("LATE-OPEN",), next_action_date=as_of)
    submissions.submit(db, Submission(action=call), store=habits, as_of=as_of, scope=EVERYTHING, user="Anna")
    assert live.worklist(db, request).items["section"].to_list() == ["next_action"]
    assert live.likely_late(db, request, made).items.is_empty()
    db.close()


APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _column_label(table, column: str) -> str:  # noqa: ANN001 - AppTest's Dataframe
    """The header a user sees over `column` of an st.dataframe in AppTest."""
    return json.loads(table.proto.columns)[column]["label"]


def test_customer_page_shows_expected_dates_and_how_good(
    habits: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LATE's customer page at the data's last date. While the predictions are worked out (held here
    behind the one running before them), the open items' date column says so and the page does not
    wait; once they are ready, LATE-OPEN shows the predicted date and p_late the command line gives,
    and "How good is this" the back-test beside the baseline, the figures of predictions.backtest."""


    monkeypatch.setenv("AR_DATA_DIR", str(habits.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    as_of = habits.manifest().data_as_of
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["customer"] = "LATE"
    with _cache._PREDICTION_SLOT:
        at.run()
        at.switch_page("pages/customer.py").run()
        assert not at.exception, at.exception
        table = next(frame for frame in at.dataframe if "state" in frame.value.columns)
        assert _column_label(table, "predicted_payment_date") == "Expected payment (not ready yet)"
        assert table.value["predicted_payment_date"].isna().all()
        assert any("being worked out in the background" in caption.value for caption in at.caption)
    job = _cache._prediction_job(str(habits.root), habits.version(), as_of)
    assert job.wait(60) and job.failed is None
    at.run()
    assert not at.exception, at.exception
    table = next(frame for frame in at.dataframe if "state" in frame.value.columns)
    assert _column_label(table, "predicted_payment_date") == "Expected payment"
    made = predictions.predict(habits, as_of).filter(pl.col("document_id") == "LATE-OPEN").row(0, named=True)
    row = table.value.set_index("document_id").loc["LATE-OPEN"]
    assert row["predicted_payment_date"].date() == made["predicted_payment_date"]
    assert row["p_late"] == pytest.approx(made["p_late"] * 100)
    figures = predictions.backtest(habits, predictions.backtest_dates(as_of, 3), until=as_of)
    overall = figures.filter(pl.col("as_of").is_null()).row(0, named=True)
    assert overall["invoices"] > 0
    shown = next(frame.value for frame in at.dataframe if "baseline_error_days" in frame.value.columns)
    scope = shown.set_index("over").loc["This scope"]
    assert scope["invoices"] == overall["invoices"]
    assert scope["error_days"] == pytest.approx(overall["mae_days"])
    assert scope["baseline_error_days"] == pytest.approx(overall["baseline_mae_days"])
    assert scope["late_right"] == pytest.approx(overall["late_accuracy"])
    assert scope["baseline_late_right"] == pytest.approx(overall["baseline_late_accuracy"])
    assert any(predictions.summary(figures) == caption.value for caption in at.caption)


def test_worklist_page_lists_the_likely_late_invoice(habits: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worklist at the data's last date, 2026-01-20 (LATE-12 paid that day: nothing is overdue).
    While the predictions are worked out (held behind the one running before them) the page says so
    and does not wait. Once they are ready, "Likely to be paid late (not yet due)" lists Late Payer
    first with LATE-OPEN's 100.00 open and 100.00 x p_late at risk (the command line's p_late), and
    not On Time. Selecting Late Payer shows LATE-OPEN, due 2026-01-31, with its expected payment;
    the side panel opens on it."""


    monkeypatch.setenv("AR_DATA_DIR", str(habits.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    as_of = habits.manifest().data_as_of
    assert as_of == date(2026, 1, 20)
    at = AppTest.from_file(APP, default_timeout=60)
    with _cache._PREDICTION_SLOT:
        at.run()
        at.switch_page("pages/worklist.py").run()
        assert not at.exception, at.exception
        assert [info.value for info in at.info] == ["Nothing to do for this collector at this date."]
        assert any("likely to be paid late are being worked out" in caption.value for caption in at.caption)
        assert not any(expander.label.startswith("Likely to be paid late") for expander in at.expander)
    job = _cache._prediction_job(str(habits.root), habits.version(), as_of)
    assert job.wait(60) and job.failed is None
    at.run()
    assert not at.exception, at.exception
    made = predictions.predict(habits, as_of).filter(pl.col("document_id") == "LATE-OPEN").row(0, named=True)
    titles = [
        expander.label for expander in at.expander if expander.label.startswith("Likely to be paid late")
    ]
    assert titles == ["Likely to be paid late (not yet due) (2 customers)"]
    rows = next(frame.value for frame in at.dataframe if "amount_at_risk" in frame.value.columns)
    assert "ONTIME" not in rows["customer_id"].to_list()
    late = rows.iloc[0]
    assert (late["customer_id"], late["customer_name"], late["items"]) == ("LATE", "Late Payer", 1)
    assert late["total_open_amount"] == 100.0
    assert late["amount_at_risk"] == pytest.approx(100 * made["p_late"], abs=0.01)
    assert late["p_late"] == pytest.approx(made["p_late"] * 100)
    assert late["due_date"].date() == date(2026, 1, 31)
    (key,) = [key for key in at.session_state if str(key).startswith("worklist_likely_late_")]
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    assert [h.value for h in at.subheader] == ["Late Payer (LATE)"]
    items = next(frame.value for frame in at.dataframe if "section" in frame.value.columns)
    assert items["document_id"].to_list() == ["LATE-OPEN"]
    assert items["section"].to_list() == ["Likely late"]
    assert items["open_amount_functional"].to_list() == [100.0]
    assert [d.date() for d in items["due_date"]] == [date(2026, 1, 31)]
    assert [d.date() for d in items["predicted_payment_date"]] == [made["predicted_payment_date"]]
    at.button(key="worklist_panel").click().run()
    assert not at.exception, at.exception
    panel = next(
        frame.value
        for frame in at.dataframe
        if list(frame.value.columns)[:2] == ["document_id", "document_type"]
    )
    assert panel["document_id"].to_list() == ["LATE-OPEN"]
    assert any(markdown.value.startswith("**1 item(s)** of Late Payer") for markdown in at.markdown)
