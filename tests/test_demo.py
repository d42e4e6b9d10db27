"""The demo company: deterministic, within the data contract, and a receivables book that looks alive
at its as-of date (some items not yet due, some a few days late, a tail over 90 days)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from analytics import contract, demo
from analytics.store import Store

AS_OF = date(2026, 5, 20)
MONTHS = 26


@pytest.fixture(scope="module")
def ledger() -> demo.Ledger:
    return demo.generate(customers=200, documents=10_000, seed=5, as_of=AS_OF, months=MONTHS)


def open_items(ledger: demo.Ledger, as_of: date) -> pl.DataFrame:
    """Open amounts at `as_of` per DESIGN.md: amount_functional minus the payments up to as_of, and
    cash on account as an item of -amount due on its payment date; with days past due."""
    paid = (
        ledger.payments.filter(pl.col("payment_date") <= as_of, pl.col("document_id").is_not_null())
        .group_by("document_id")
        .agg(pl.col("amount").sum().alias("paid"))
    )
    documents = (
        ledger.documents.filter(pl.col("document_date") <= as_of)
        .join(paid, on="document_id", how="left")
        .select(
            "customer_id",
            "due_date",
            (pl.col("amount_functional") - pl.col("paid").fill_null(0)).alias("open_amount"),
        )
    )
    on_account = ledger.payments.filter(
        pl.col("payment_date") <= as_of, pl.col("document_id").is_null()
    ).select(
        "customer_id", pl.col("payment_date").alias("due_date"), (-pl.col("amount")).alias("open_amount")
    )
    return (
        pl.concat([documents, on_account])
        .filter(pl.col("open_amount") != 0)
        .with_columns(
            days_past_due=(pl.lit(as_of) - pl.col("due_date")).dt.total_days(),
            open_amount=pl.col("open_amount").cast(pl.Float64),
        )
    )


def test_same_arguments_give_the_same_ledger_and_another_seed_another() -> None:
    first = demo.generate(customers=60, documents=2_000, seed=3, as_of=AS_OF)
    again = demo.generate(customers=60, documents=2_000, seed=3, as_of=AS_OF)
    other = demo.generate(customers=60, documents=2_000, seed=4, as_of=AS_OF)
    assert first.customers.equals(again.customers)
    assert first.documents.equals(again.documents)
    assert first.payments.equals(again.payments)
    assert not first.documents.equals(other.documents)
    assert not first.customers["customer_name"].equals(other.customers["customer_name"])


def test_frames_have_the_contract_columns_and_types(ledger: demo.Ledger) -> None:
    assert list(ledger.customers.schema.items()) == list(contract.CUSTOMERS.schema.items())
    assert list(ledger.documents.schema.items()) == list(contract.DOCUMENTS.schema.items())
    assert list(ledger.payments.schema.items()) == list(contract.PAYMENTS.schema.items())
    assert ledger.customers.height == 200
    assert ledger.documents.height == 10_000
    for table, frame in (
        (contract.CUSTOMERS, ledger.customers),
        (contract.DOCUMENTS, ledger.documents),
        (contract.PAYMENTS, ledger.payments),
    ):
        assert frame.select(pl.col(table.required).null_count()).sum_horizontal().item() == 0, table.name
    assert ledger.documents["amount_functional"].null_count() == 0
    assert ledger.customers.null_count().sum_horizontal().item() == 0


def test_values_are_the_allowed_ones(ledger: demo.Ledger) -> None:
    documents, payments, customers = ledger.documents, ledger.payments, ledger.customers
    assert set(documents["document_type"]) == set(contract.DOCUMENT_TYPES)
    assert set(payments["method"]) == set(contract.PAYMENT_METHODS)
    assert set(documents["currency"]) == {"EUR", "GBP"}
    assert set(documents["currency"]) <= contract.CURRENCIES
    assert set(customers["risk_class"]) == {"A", "B", "C", "D"}
    assert set(customers["payment_terms_days"]) <= {0, 30, 45, 60}
    assert {30, 45, 60} <= set(customers["payment_terms_days"])
    assert customers["country"].str.contains(r"^[A-Z]{2}$").all()
    assert {"FR", "DE", "GB"} <= set(customers["country"])
    assert (customers["credit_limit"] > 0).all()


def test_keys_are_unique_and_references_exist(ledger: demo.Ledger) -> None:
    customers, documents, payments = ledger.customers, ledger.documents, ledger.payments
    assert customers["customer_id"].is_unique().all()
    assert customers["customer_name"].is_unique().all()
    assert documents["document_id"].is_unique().all()
    assert documents["document_id"].str.contains(r"^(INV|CN|DN)-\d{6,}$").all()
    assert payments["payment_id"].str.contains(r"^PAY-\d{7,}$").all()
    # A payment allocates to a document at most once.
    assert (
        not payments.filter(pl.col("document_id").is_not_null())
        .select("payment_id", "document_id")
        .is_duplicated()
        .any()
    )
    assert documents["customer_id"].is_in(customers["customer_id"].implode()).all()
    assert payments["customer_id"].is_in(customers["customer_id"].implode()).all()
    applied = payments.filter(pl.col("document_id").is_not_null())
    assert applied["document_id"].is_in(documents["document_id"].implode()).all()
    # A payment row is always the document's own customer's.
    owners = applied.join(documents, on="document_id", suffix="_document")
    assert (owners["customer_id"] == owners["customer_id_document"]).all()


def test_dates_stay_within_the_window_and_payments_follow_documents(ledger: demo.Ledger) -> None:
    documents, payments = ledger.documents, ledger.payments
    assert documents["document_date"].max() <= AS_OF
    assert documents["document_date"].min() > AS_OF - timedelta(days=31 * MONTHS)
    assert documents["document_date"].min() <= AS_OF - timedelta(days=30 * (MONTHS - 1))
    assert (documents["due_date"] >= documents["document_date"]).all()
    assert payments["payment_date"].max() <= AS_OF
    dated = payments.join(documents, on="document_id")
    assert (dated["payment_date"] >= dated["document_date"]).all()
    terms = documents.join(ledger.customers, on="customer_id").filter(pl.col("document_type") == "invoice")
    assert (
        (terms["due_date"] - terms["document_date"])
        .dt.total_days()
        .equals(terms["payment_terms_days"], check_names=False)
    )


def test_no_document_is_over_settled(ledger: demo.Ledger) -> None:
    """Invoices and debit notes are positive and their payments never exceed them; credit notes are
    negative and what is applied of them never exceeds them either."""
    documents = ledger.documents
    settled = (
        ledger.payments.filter(pl.col("document_id").is_not_null())
        .group_by("document_id")
        .agg(pl.col("amount").sum().alias("settled"))
    )
    rows = documents.join(settled, on="document_id", how="left").with_columns(pl.col("settled").fill_null(0))
    positive = rows.filter(pl.col("document_type") != "credit_note")
    credit = rows.filter(pl.col("document_type") == "credit_note")
    assert (positive["amount"] > 0).all()
    assert (credit["amount"] < 0).all()
    assert (positive["settled"] >= 0).all()
    assert (positive["settled"] <= positive["amount_functional"]).all()
    assert (credit["settled"] <= 0).all()
    assert (credit["settled"] >= credit["amount_functional"]).all()


def test_credit_notes_are_applied_as_two_rows_of_one_payment(ledger: demo.Ledger) -> None:
    kinds = ledger.documents.select("document_id", "document_type")
    applications = (
        ledger.payments.filter(pl.col("method") == "credit_note")
        .join(kinds, on="document_id")
        .group_by("payment_id")
        .agg(
            pl.len().alias("rows"),
            pl.col("amount").sum().alias("total"),
            (pl.col("document_type") == "credit_note").sum().alias("credit_notes"),
            pl.col("customer_id").n_unique().alias("customers"),
        )
    )
    assert applications.height > 0
    assert (applications["rows"] == 2).all()
    assert (applications["total"] == 0).all()
    assert (applications["credit_notes"] == 1).all()
    assert (applications["customers"] == 1).all()


def test_gbp_documents_are_converted_to_euros(ledger: demo.Ledger) -> None:
    documents = ledger.documents.with_columns(
        rate=pl.col("amount_functional").cast(pl.Float64) / pl.col("amount").cast(pl.Float64)
    )
    pounds = documents.filter(pl.col("currency") == "GBP", pl.col("amount").abs() > 100)
    euros = documents.filter(pl.col("currency") == "EUR")
    assert pounds.height > 0
    assert pounds["rate"].min() > 1.1
    assert pounds["rate"].max() < 1.25
    assert (euros["amount"] == euros["amount_functional"]).all()
    assert set(ledger.customers.filter(pl.col("entity") == "Acme UK Ltd")["country"]) >= {"GB"}


def test_the_book_looks_alive_at_as_of(ledger: demo.Ledger) -> None:
    items = open_items(ledger, AS_OF)
    receivables = items["open_amount"].sum()
    not_due = items.filter(pl.col("days_past_due") <= 0)["open_amount"].sum()
    late = items.filter(pl.col("days_past_due").is_between(1, 30))["open_amount"].sum()
    over_90 = items.filter(pl.col("days_past_due") > 90)["open_amount"].sum()
    assert receivables > 0
    assert not_due > 0
    assert late > 0
    assert over_90 > 0
    assert 0.10 <= 1 - not_due / receivables <= 0.40


def test_riskier_customers_are_the_late_payers(ledger: demo.Ledger) -> None:
    """Risk class follows payment behaviour: D-rated customers have a far larger share of their
    receivables overdue than A-rated ones."""
    items = open_items(ledger, AS_OF).join(ledger.customers, on="customer_id")
    by_class = items.group_by("risk_class").agg(
        (pl.col("open_amount").filter(pl.col("days_past_due") > 0).sum() / pl.col("open_amount").sum()).alias(
            "overdue_share"
        )
    )
    share = dict(by_class.iter_rows())
    assert share["D"] > 0.3
    assert share["D"] > 3 * share["A"]


def test_some_customers_stopped_paying(ledger: demo.Ledger) -> None:
    """Defaulters: customers who paid before, have paid nothing in the last two months, and owe items
    more than 60 days past due."""
    recent = AS_OF - timedelta(days=60)
    cash = ledger.payments.filter(pl.col("method") == "cash", pl.col("document_id").is_not_null())
    paid_before = set(cash.filter(pl.col("payment_date") < recent)["customer_id"])
    paid_lately = set(cash.filter(pl.col("payment_date") >= recent)["customer_id"])
    overdue = set(open_items(ledger, AS_OF).filter(pl.col("days_past_due") > 60)["customer_id"])
    assert len((paid_before - paid_lately) & overdue) >= 1


def test_the_organisation(ledger: demo.Ledger) -> None:
    customers = ledger.customers
    assert 6 <= customers["collector"].n_unique() <= 10
    assert 2 <= customers["entity"].n_unique() <= 3
    assert set(customers["segment"]) == {"Key accounts", "SME", "Public sector", "Export", "Retail"}
    assert customers["division"].n_unique() >= 4
    assert customers["region"].n_unique() >= 3
    assert customers["portfolio"].n_unique() >= 4
    assert customers["salesperson"].n_unique() >= 5
    # Collectors are people: a first and a last name.
    assert customers["collector"].str.contains(r"^[A-Z][a-z]+ [A-Z][a-z]+$").all()
    big = demo.generate(customers=30_000, documents=0, seed=1, as_of=AS_OF).customers
    assert 6 <= big["collector"].n_unique() <= 10
    assert big["customer_name"].is_unique().all()


def test_every_kind_of_settlement_is_present(ledger: demo.Ledger) -> None:
    documents, payments = ledger.documents, ledger.payments
    credit_note_share = (documents["document_type"] == "credit_note").mean()
    assert 0.03 <= credit_note_share <= 0.05
    assert (documents["document_type"] == "debit_note").sum() > 0
    on_account = payments["document_id"].is_null().mean()
    assert 0.005 <= on_account <= 0.02
    assert (payments.filter(pl.col("document_id").is_null())["method"] == "cash").all()
    assert (payments["method"] == "write_off").sum() > 0
    # Partial payments: invoices settled by two cash payments on different days.
    in_two = (
        payments.filter(pl.col("method") == "cash", pl.col("document_id").is_not_null())
        .group_by("document_id")
        .agg(pl.col("payment_date").n_unique().alias("days"))
        .filter(pl.col("days") >= 2)
    )
    assert in_two.height > 0


def test_monthly_sales_are_seasonal(ledger: demo.Ledger) -> None:
    sales = (
        ledger.documents.filter(pl.col("document_date") < AS_OF.replace(day=1))
        .group_by(month=pl.col("document_date").dt.truncate("1mo"))
        .agg(pl.col("amount_functional").sum().cast(pl.Float64).alias("sales"))
        .sort("month")
        .slice(1)  # the first month is partial
    )
    typical = sales["sales"].median()
    august = sales.filter(pl.col("month").dt.month() == 8)["sales"]
    december = sales.filter(pl.col("month").dt.month() == 12)["sales"]
    assert august.len() == 2
    assert (august < 0.8 * typical).all()
    assert (december > august.max()).all()


def test_progress_is_reported_in_order() -> None:
    calls: list[tuple[float, str]] = []
    demo.generate(customers=20, documents=300, as_of=AS_OF, progress=lambda f, m: calls.append((f, m)))
    fractions = [fraction for fraction, _ in calls]
    assert 3 <= len(calls) <= 12
    assert fractions == sorted(fractions)
    assert fractions[0] >= 0 and fractions[-1] == 1.0
    assert all(message for _, message in calls)


def test_as_of_defaults_to_today() -> None:
    ledger = demo.generate(customers=20, documents=300)
    assert ledger.documents["document_date"].max() <= date.today()
    assert ledger.payments["payment_date"].max() <= date.today()
    assert ledger.documents["document_date"].max() >= date.today() - timedelta(days=31)


def test_bad_arguments_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="customers must be at least 1"):
        demo.generate(customers=0)
    with pytest.raises(ValueError, match="functional currency 'XYZ'"):
        demo.generate(functional_currency="XYZ")


def test_create_writes_the_demo_company_into_a_data_folder(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    manifest = demo.create(store, customers=40, documents=1_500, seed=2, as_of=AS_OF)
    expected = demo.generate(customers=40, documents=1_500, seed=2, as_of=AS_OF)
    assert (manifest.customers, manifest.documents, manifest.payments) == (
        40,
        1_500,
        expected.payments.height,
    )
    assert manifest.functional_currency == "EUR"
    assert store.read(contract.DOCUMENTS).sort("document_id").equals(expected.documents.sort("document_id"))
