"""The cash forecast: expected dates from each customer's days late (or its segment's), the weeks, the
overdue backlog and what comes later apart, credits netted; the back-test on a small case worked out by
hand. Ledgers are imported from CSV text, as a user's exports would be."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from analytics import aging, forecast, ingest, predictions
from analytics.scope import Scope
from analytics.store import Store

AS_OF = date(2026, 6, 30)

CUSTOMERS = """customer_id,customer_name,entity,segment,collector
K1,Kilo,E,SME,X
K2,Lima,E,SME,X
K3,Mike,E,Retail,Y
K4,November,E,Retail,Y
"""
DOCUMENTS = """document_id,document_type,customer_id,document_date,due_date,currency,amount
H0,invoice,K1,2025-09-01,2025-09-30,EUR,100.00
H1,invoice,K1,2026-01-01,2026-01-31,EUR,100.00
H2,invoice,K1,2026-01-29,2026-02-28,EUR,200.00
H3,invoice,K1,2026-03-01,2026-03-31,EUR,100.00
H4,invoice,K2,2026-03-31,2026-04-30,EUR,400.00
O1,invoice,K1,2026-05-26,2026-06-25,EUR,1000.00
O2,invoice,K1,2026-06-20,2026-07-20,EUR,500.00
CN,credit_note,K1,2026-06-15,2026-06-15,EUR,-150.00
O3,invoice,K2,2026-05-02,2026-06-01,EUR,800.00
O4,invoice,K2,2026-06-01,2026-07-01,EUR,300.00
O5,invoice,K3,2026-06-10,2026-07-10,EUR,200.00
O6,invoice,K3,2026-06-30,2026-10-30,EUR,700.00
O7,invoice,K4,2026-06-05,2026-07-05,EUR,100.00
CN2,credit_note,K4,2026-06-20,2026-06-20,EUR,-250.00
"""
PAYMENTS = """payment_id,customer_id,payment_date,document_id,amount,method
Q0,K1,2025-10-05,H0,100.00,cash
Q1,K1,2026-02-10,H1,100.00,cash
Q2,K1,2026-03-15,H2,200.00,cash
Q3,K1,2026-04-05,H3,100.00,cash
Q4,K2,2026-05-30,H4,400.00,cash
"""


def import_ledger(folder: Path, customers: str, documents: str, payments: str) -> Store:
    exports = folder / "exports"
    exports.mkdir(parents=True)
    sources = ingest.Sources(
        customers=exports / "customers.csv",
        documents=exports / "documents.csv",
        payments=exports / "payments.csv",
    )
    sources.customers.write_text(customers)
    sources.documents.write_text(documents)
    sources.payments.write_text(payments)
    store = Store(folder / "data")
    ingest.import_files(store, sources)
    return store


@pytest.fixture
def forecast_store(tmp_path: Path) -> Store:
    return import_ledger(tmp_path, CUSTOMERS, DOCUMENTS, PAYMENTS)


def test_days_late_of_customers_and_segments(forecast_store: Store) -> None:
    """12 months to 2026-06-30. K1 settled H0 5, H1 10, H2 15, H3 5 days late (100, 100, 200, 100):
    (500 + 1000 + 3000 + 500) / 500 = 10.00 days, its own (4 invoices). K2 settled H4 alone (400, 30
    days late): fewer than 3, so its segment SME's: (5000 + 12000) / 900 = 18.89. K3 and K4 (Retail)
    have none, nor has their segment: 0."""
    lateness = forecast.customer_lateness(forecast_store, AS_OF).with_columns(pl.col("days_late").round(2))
    assert lateness.rows() == [
        ("K1", 10.0, "customer"),
        ("K2", 18.89, "segment"),
        ("K3", 0.0, "none"),
        ("K4", 0.0, "none"),
    ]


def test_forecast_weeks_backlog_and_later(forecast_store: Store) -> None:
    """At 2026-06-30 (week 1: 07-01..07-07, week 2: 07-08..07-14, ...):
    O1 K1 due 06-25 + 10 = 07-05: week 1, 1000 less K1's credit note CN 150 = 850;
    O2 K1 due 07-20 + 10 = 07-30 (30 days ahead): week 5, 500;
    O3 K2 due 06-01 + 19 = 06-20: already past, the overdue backlog, 800;
    O4 K2 due 07-01 + 19 = 07-20 (20 days): week 3, 300;
    O5 K3 due 07-10 + 0 (10 days): week 2, 200;
    O6 K3 due 10-30 (122 days): after week 13, later, 700;
    O7 K4 due 07-05: week 1, but K4's credit note CN2 of 250 absorbs it whole: 0; the other 150 of the
    credit is no collection and is left out.
    Total expected: 850 + 500 + 800 + 300 + 200 + 700 = 3350 = open invoices 3600 - credits absorbed 250."""
    result = forecast.cash_forecast(forecast_store, AS_OF)
    weeks = {row["week"]: row for row in result.weeks.iter_rows(named=True)}
    assert len(weeks) == 13
    assert (weeks[1]["week_start"], weeks[1]["week_end"]) == (date(2026, 7, 1), date(2026, 7, 7))
    assert (weeks[13]["week_start"], weeks[13]["week_end"]) == (date(2026, 9, 23), date(2026, 9, 29))
    expected = {week: str(row["expected"]) for week, row in weeks.items() if row["expected"] != 0}
    assert expected == {1: "850.00", 2: "200.00", 3: "300.00", 5: "500.00"}
    assert [weeks[w]["items"] for w in (1, 2, 3, 4, 5)] == [1, 1, 1, 0, 1]
    assert result.overdue_backlog == Decimal("800.00")
    assert result.later == Decimal("700.00")
    assert result.total == Decimal("3350.00")
    items = {row["document_id"]: row for row in result.items.iter_rows(named=True)}
    assert (items["O1"]["expected_date"], str(items["O1"]["expected_amount"])) == (date(2026, 7, 5), "850.00")
    assert (items["O3"]["status"], items["O3"]["expected_date"]) == ("overdue_backlog", date(2026, 6, 20))
    assert (items["O6"]["status"], items["O6"]["week"]) == ("later", None)
    assert (items["O7"]["status"], str(items["O7"]["expected_amount"])) == ("week", "0.00")
    assert (items["CN"]["status"], items["CN2"]["status"]) == ("credit", "credit")
    assert items["O4"]["lateness_basis"] == "segment"


def test_forecast_from_the_aged_items_a_page_holds(forecast_store: Store) -> None:
    """Given the aged items of the date and scope (as the overview holds them), the forecast is the one
    it derives itself, item by item and to the cent, and the items are left as they were."""
    for scope in (Scope(), Scope.of({"segment": ["SME"]})):
        items = aging.aged_items(forecast_store, AS_OF, scope)
        before = items.clone()
        given = forecast.cash_forecast(forecast_store, AS_OF, scope, items=items)
        derived = forecast.cash_forecast(forecast_store, AS_OF, scope)
        assert given.items.equals(derived.items)
        assert given.weeks.equals(derived.weeks)
        assert (given.overdue_backlog, given.later) == (derived.overdue_backlog, derived.later)
        assert items.equals(before)


def test_forecast_report_puts_the_backlog_first_and_later_last(forecast_store: Store) -> None:
    """The one-table form: overdue backlog 800 (O3), weeks 1-13, later 700 (O6); expected adds up to 3350."""
    table = forecast.report(forecast.cash_forecast(forecast_store, AS_OF))
    assert table.columns == ["row", "week", "week_start", "week_end", "expected", "items", "mape"]
    assert table["row"].to_list() == ["overdue backlog", *[f"week {w}" for w in range(1, 14)], "later"]
    assert (str(table["expected"][0]), str(table["expected"][-1])) == ("800.00", "700.00")
    assert sum(table["expected"]) == Decimal("3350.00")


def test_forecast_in_a_scope(forecast_store: Store) -> None:
    """A scope narrows the items, not the habits: SME (K1, K2) and Retail (K3, K4) keep the expected
    dates of the whole and their weeks add up to the whole's."""
    whole = forecast.cash_forecast(forecast_store, AS_OF)
    sme = forecast.cash_forecast(forecast_store, AS_OF, Scope.of({"segment": ["SME"]}))
    retail = forecast.cash_forecast(forecast_store, AS_OF, Scope.of({"segment": ["Retail"]}))
    assert set(sme.items["customer_id"]) == {"K1", "K2"}
    dates = dict(whole.items.select("document_id", "expected_date").iter_rows())
    assert all(dates[d] == e for d, e in sme.items.select("document_id", "expected_date").iter_rows())
    assert [a + b for a, b in zip(sme.weeks["expected"], retail.weeks["expected"], strict=True)] == list(
        whole.weeks["expected"]
    )
    assert sme.overdue_backlog + retail.overdue_backlog == whole.overdue_backlog


BACKTEST_CUSTOMERS = """customer_id,customer_name,entity,segment
B1,Bravo,E,SME
"""
BACKTEST_DOCUMENTS = """document_id,document_type,customer_id,document_date,due_date,currency,amount
G1,invoice,B1,2025-11-01,2025-12-01,EUR,100.00
G2,invoice,B1,2025-12-01,2025-12-31,EUR,100.00
G3,invoice,B1,2026-01-01,2026-01-31,EUR,100.00
F3,invoice,B1,2026-01-15,2026-02-14,EUR,300.00
F1,invoice,B1,2026-03-05,2026-04-03,EUR,100.00
F2,invoice,B1,2026-03-10,2026-04-20,EUR,200.00
F4,invoice,B1,2026-04-01,2026-04-15,EUR,400.00
"""
BACKTEST_PAYMENTS = """payment_id,customer_id,payment_date,document_id,amount,method
V1,B1,2025-12-08,G1,100.00,cash
V2,B1,2026-01-07,G2,100.00,cash
V3,B1,2026-02-07,G3,100.00,cash
V4,B1,2026-04-03,F3,300.00,cash
V5,B1,2026-04-10,F1,100.00,cash
V6,B1,2026-04-27,F2,150.00,cash
V7,B1,2026-05-12,F2,50.00,cash
V8,B1,2026-04-15,,500.00,cash
V9,B1,2026-04-20,F4,400.00,cash
"""


def test_backtest_on_a_small_case(tmp_path: Path) -> None:
    """As of 2026-06-30 the last month end whose 13 weeks are over is 2026-03-31 (+91 days = 06-30).
    Known then: G1, G2, G3 each paid 7 days late: B1 pays 7 days late. Open then: F3 (due 02-14,
    expected 02-21: backlog), F1 100 (due 04-03, expected 04-10: week 2, 04-08..04-14), F2 200 (due 04-20,
    expected 04-27: week 4, 04-22..04-28).
    Came in: F1 100 on 04-10 (week 2); F2 150 on 04-27 (week 4) and 50 on 05-12 (week 6); F3 on 04-03 is
    backlog, V8 on account and F4 (issued later) were not forecast: none of them counts.
    Week 2: 100 vs 100, 0%; week 4: 200 vs 150, 50 / 150 = 33.33%; week 6: 0 vs 50, 100%; other weeks
    nothing came in: no error. With 2 month ends, 2026-02-28 adds a run whose only open item (F3) is
    backlog: nothing placed, nothing compared, the errors stay."""
    store = import_ledger(tmp_path, BACKTEST_CUSTOMERS, BACKTEST_DOCUMENTS, BACKTEST_PAYMENTS)
    assert forecast.backtest_dates(store, AS_OF, 1) == [date(2026, 3, 31)]
    runs = forecast.backtest(store, AS_OF, months=1)
    assert runs.height == 13
    compared = runs.filter(pl.col("ape").is_not_null())
    assert compared.rows() == [
        (date(2026, 3, 31), 2, Decimal("100.00"), Decimal("100.00"), 0.0),
        (date(2026, 3, 31), 4, Decimal("200.00"), Decimal("150.00"), 33.33),
        (date(2026, 3, 31), 6, Decimal("0.00"), Decimal("50.00"), 100.0),
    ]
    errors = forecast.accuracy(forecast.backtest(store, AS_OF, months=2))
    assert errors.filter(pl.col("runs") > 0).rows() == [(2, 1, 0.0), (4, 1, 33.33), (6, 1, 100.0)]
    beside = forecast.weeks_with_accuracy(forecast.cash_forecast(store, AS_OF), errors)
    assert beside.columns == ["week", "week_start", "week_end", "expected", "items", "mape"]
    assert beside["mape"].to_list()[:6] == [None, 0.0, None, 33.33, None, 100.0]


def test_backtest_without_data(tmp_path: Path) -> None:
    assert forecast.backtest(Store(tmp_path / "empty"), AS_OF).height == 0
    assert forecast.accuracy(forecast.backtest(Store(tmp_path / "empty"), AS_OF))["runs"].sum() == 0


def _monthly_ledger(delays: dict[str, tuple[str, int]], months: int = 25) -> tuple[str, str]:
    """Documents and payments: for each document prefix, customer MIX issued an invoice of the given
    amount on the first of each month from 2024-01 (`months` months), due 30 days later, paid `delay`
    days after its due date."""
    documents = ["document_id,document_type,customer_id,document_date,due_date,currency,amount"]
    payments = ["payment_id,customer_id,payment_date,document_id,amount,method"]
    for n in range(months):
        issued = date(2024 + n // 12, n % 12 + 1, 1)
        due = issued + timedelta(days=30)
        for prefix, (amount, delay) in delays.items():
            document = f"{prefix}-{issued:%Y-%m}"
            documents.append(f"{document},invoice,MIX,{issued},{due},EUR,{amount}")
            payments.append(f"P-{document},MIX,{due + timedelta(days=delay)},{document},{amount},cash")
    return "\n".join(documents) + "\n", "\n".join(payments) + "\n"


MIX_CUSTOMERS = "customer_id,customer_name,entity,segment\nMIX,Mixed Payer,E,SME\n"
MIX_AS_OF = date(2026, 1, 31)


def test_the_forecast_uses_the_invoice_predictions_when_they_back_test_better(tmp_path: Path) -> None:
    """MIX pays its 1,000.00 invoices 40 days late and its 100.00 ones on their due date. The rule
    expects both 36 days late (the amount-weighted mean: 40 x 1000 / 1100), so at each back-test month
    end the 100.00 lands five weeks after it was paid; the predictions tell the two apart. The
    forecast at 2026-01-31 is built from them and says so; the January 1,000.00 invoice is expected
    on its predicted date."""
    store = import_ledger(
        tmp_path, MIX_CUSTOMERS, *_monthly_ledger({"BIG": ("1000.00", 40), "SMALL": ("100.00", 0)})
    )
    result, runs = forecast.best_forecast(store, MIX_AS_OF)
    method = result.method
    assert method.name == forecast.PREDICTIONS
    assert method.month_ends == 6
    assert method.predictions_mape < method.rule_mape
    assert method.describe().startswith("Expected dates from the invoice predictions: back-tested at 6")
    made = predictions.predict(store, MIX_AS_OF).filter(pl.col("document_id") == "BIG-2026-01")
    item = result.items.filter(pl.col("document_id") == "BIG-2026-01").row(0, named=True)
    assert item["lateness_basis"] == forecast.PREDICTION_BASIS
    assert item["expected_date"] == made.item(0, "predicted_payment_date")
    assert runs.get_column("ape").mean() == pytest.approx(
        forecast.backtest(
            store,
            MIX_AS_OF,
            predicted=forecast.predictions_at(store, forecast.backtest_dates(store, MIX_AS_OF)),
        )
        .get_column("ape")
        .mean()
    )


def test_the_forecast_keeps_the_rule_when_the_predictions_do_no_better(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """MIX pays every invoice exactly 20 days late: the rule is right to the day and the predictions
    cannot beat it, so the forecast keeps the rule and says so; the command line says it on stderr."""
    store = import_ledger(tmp_path, MIX_CUSTOMERS, *_monthly_ledger({"INV": ("500.00", 20)}))
    result, _ = forecast.best_forecast(store, MIX_AS_OF)
    assert result.method.name == forecast.RULE
    assert result.method.rule_mape is not None
    assert result.method.describe().startswith(
        "Expected dates from the customers' mean days late: back-tested"
    )
    assert set(result.items.get_column("lateness_basis")) == {"customer"}
    from tests.test_cli import run

    output = run(cli_env, "report", "forecast", "--data", str(store.root), "--as-of", str(MIX_AS_OF))
    assert output.returncode == 0, output.stderr
    assert result.method.describe() in output.stderr
