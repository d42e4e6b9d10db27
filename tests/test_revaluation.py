"""Revaluation (DESIGN.md, "Revaluation"): with --revalue (and the aging page's switch), an open item in
another currency than the functional one (EUR here) is valued at the latest rate on or before the
as-of date: its open amount in document currency times that rate, to the cent (half away from zero).

The hand-worked ledger (Alpha SARL, Acme FR):
  U1 invoice USD 1,000.00 booked 900.00 EUR (0.90), dated 01-10, due 02-09; P1 pays 450.00 EUR on
     02-15, so from then on 500.00 USD (450/900 of 1,000.00) stay open, booked 450.00.
  G1 invoice GBP 200.00 booked 230.00 EUR (1.15), dated 01-20, due 03-21.
  E1 invoice EUR 500.00, dated 01-15, due 02-14: never revalued.
Rates: USD 0.92 from 01-31, 0.8555 from 02-28; GBP 1.18 from 01-31, 1.123425 from 03-31.

  01-30  no rate yet: refused, naming GBP (the first currency without one) and 2026-01-30.
  01-31  U1 1,000.00 x 0.92 = 920.00 (+20.00); G1 200.00 x 1.18 = 236.00 (+6.00); E1 500.00.
         Total 1,656.00, booked 1,630.00, revaluation +26.00.
  02-27  U1 500.00 x 0.92 = 460.00 (booked 450.00, +10.00); G1 236.00 (+6.00); E1 500.00.
         Total 1,196.00, booked 1,180.00, revaluation +16.00.
  02-28  U1 500.00 x 0.8555 = 427.75 (-22.25); G1 still at 1.18: 236.00 (+6.00); E1 500.00.
         Total 1,163.75, booked 1,180.00, revaluation -16.25. By due date: G1 (due 03-21) not due
         236.00; U1 (19 days) and E1 (14 days) in 1-30: 927.75; overdue 927.75.
  03-31  U1 427.75 (-22.25); G1 200.00 x 1.123425 = 224.685, half away from zero 224.69 (-5.31);
         E1 500.00. Total 1,152.44, booked 1,180.00, revaluation -27.56.
Without --revalue, at 02-28: G1 not due 230.00, U1 450.00 and E1 500.00 in 1-30: 950.00; the
booked total 1,180.00.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from conftest import write
from streamlit.testing.v1 import AppTest

from analytics import aging, cli, ingest, revaluation
from analytics.store import Store

APP = str(Path(__file__).resolve().parent.parent / "app.py")

CUSTOMERS = """customer_id,customer_name,entity,country
C1,Alpha SARL,Acme FR,FR
"""
DOCUMENTS = """document_id,document_type,customer_id,document_date,due_date,currency,amount,amount_functional
U1,invoice,C1,2026-01-10,2026-02-09,USD,1000.00,900.00
G1,invoice,C1,2026-01-20,2026-03-21,GBP,200.00,230.00
E1,invoice,C1,2026-01-15,2026-02-14,EUR,500.00,500.00
"""
PAYMENTS = """payment_id,customer_id,payment_date,document_id,amount,method
P1,C1,2026-02-15,U1,450.00,cash
"""
RATES = """rate_date,currency,rate
2026-01-31,USD,0.92
2026-02-28,USD,0.8555
2026-01-31,GBP,1.18
2026-03-31,GBP,1.123425
"""


@pytest.fixture
def sources(tmp_path: Path) -> ingest.Sources:
    folder = tmp_path / "exports"
    folder.mkdir()
    return ingest.Sources(
        customers=write(folder, "customers.csv", CUSTOMERS),
        documents=write(folder, "documents.csv", DOCUMENTS),
        payments=write(folder, "payments.csv", PAYMENTS),
        exchange_rates=write(folder, "rates.csv", RATES),
    )


@pytest.fixture
def store(tmp_path: Path, sources: ingest.Sources) -> Store:
    store = Store(tmp_path / "data")
    ingest.import_files(store, sources)
    return store


def revalued(store: Store, at: date) -> dict[str, tuple[str, str, str]]:
    """Each open item: (open_amount_functional, open_amount_booked, revaluation)."""
    items = aging.aged_items(store, at, revalue=True)
    return {
        row["document_id"]: (
            str(row["open_amount_functional"]),
            str(row["open_amount_booked"]),
            str(row["revaluation"]),
        )
        for row in items.iter_rows(named=True)
    }


def totals(store: Store, at: date) -> dict[str, Decimal]:
    items = aging.aged_items(store, at, revalue=True)
    request = aging.AgingQuery(at)
    return {"total": aging.headline(items, request)["total"], **aging.revaluation_headline(items, request)}


@pytest.mark.parametrize(
    ("at", "expected", "figures"),
    [
        (
            date(2026, 1, 31),
            {
                "U1": ("920.00", "900.00", "20.00"),
                "G1": ("236.00", "230.00", "6.00"),
                "E1": ("500.00", "500.00", "0.00"),
            },
            ("1656.00", "1630.00", "26.00"),
        ),
        (
            date(2026, 2, 27),
            {
                "U1": ("460.00", "450.00", "10.00"),
                "G1": ("236.00", "230.00", "6.00"),
                "E1": ("500.00", "500.00", "0.00"),
            },
            ("1196.00", "1180.00", "16.00"),
        ),
        (
            date(2026, 2, 28),
            {
                "U1": ("427.75", "450.00", "-22.25"),
                "G1": ("236.00", "230.00", "6.00"),
                "E1": ("500.00", "500.00", "0.00"),
            },
            ("1163.75", "1180.00", "-16.25"),
        ),
        (
            date(2026, 3, 31),
            {
                "U1": ("427.75", "450.00", "-22.25"),
                "G1": ("224.69", "230.00", "-5.31"),
                "E1": ("500.00", "500.00", "0.00"),
            },
            ("1152.44", "1180.00", "-27.56"),
        ),
    ],
)
def test_open_items_are_valued_at_the_latest_rate_on_or_before_the_date(
    store: Store, at: date, expected: dict, figures: tuple[str, str, str]
) -> None:
    assert revalued(store, at) == expected
    found = totals(store, at)
    assert (str(found["total"]), str(found["booked"]), str(found["revaluation"])) == figures


def test_without_revalue_the_items_keep_their_booked_value(store: Store) -> None:
    items = aging.aged_items(store, date(2026, 2, 28))
    assert revaluation.BOOKED not in items.columns
    assert str(aging.headline(items, aging.AgingQuery(date(2026, 2, 28)))["total"]) == "1180.00"


def test_a_missing_rate_is_refused_naming_the_currency_and_the_date(store: Store) -> None:
    with pytest.raises(revaluation.MissingRate) as missing:
        aging.aged_items(store, date(2026, 1, 30), revalue=True)
    assert str(missing.value) == (
        "no exchange rate for GBP on or before 2026-01-30 (its first rate is of 2026-01-31): "
        "import one with --exchange-rates to revalue"
    )


def test_the_command_line_revalues_and_refuses(store: Store, capsys) -> None:
    """`report aging --revalue` at 02-28: by entity the revalued buckets; by document the booked amount
    and the revaluation beside each open amount; at 01-30 exit status 2 and the message."""
    data = str(store.root)
    args = ["report", "aging", "--data", data, "--as-of", "2026-02-28", "--revalue"]
    assert cli.main([*args, "--by", "entity"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert (row["entity"], row["not_due"], row["d1_30"], row["total"], row["overdue"]) == (
        "Acme FR",
        "236.00",
        "927.75",
        "1163.75",
        "927.75",
    )
    assert cli.main([*args, "--by", "document"]) == 0
    rows = {row["document_id"]: row for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (rows["U1"]["open_amount_functional"], rows["U1"]["open_amount_booked"]) == ("427.75", "450.00")
    assert rows["U1"]["revaluation"] == "-22.25"
    assert rows["E1"]["revaluation"] == "0.00"

    assert cli.main(["report", "aging", "--data", data, "--as-of", "2026-02-28", "--by", "entity"]) == 0
    out = capsys.readouterr().out
    assert "Acme FR,230.00,950.00,0.00,0.00,0.00,1180.00,950.00" in out

    assert cli.main(["report", "aging", "--data", data, "--as-of", "2026-01-30", "--revalue"]) == 2
    assert "no exchange rate for GBP on or before 2026-01-30" in capsys.readouterr().err


def test_the_command_line_imports_exchange_rates(tmp_path: Path, sources: ingest.Sources, capsys) -> None:
    data = str(tmp_path / "cli")
    args = ["import", "--data", data, "--customers", str(sources.customers)]
    args += ["--documents", str(sources.documents), "--exchange-rates", str(sources.exchange_rates)]
    assert cli.main(args) == 0
    assert "4 exchange rates" in capsys.readouterr().out
    rates = Store(data).read(ingest.contract.EXCHANGE_RATES)
    assert rates.filter(pl.col("currency") == "GBP").get_column("rate").to_list() == [
        Decimal("1.18"),
        Decimal("1.123425"),
    ]


def test_rate_rows_are_checked_like_any_file(tmp_path: Path, sources: ingest.Sources) -> None:
    """A rate that is not a number, one not above 0, a second rate of a currency on one date, a rate
    for the functional currency, an unknown currency: each refused naming its row and column; nothing
    written."""
    bad = write(
        tmp_path,
        "bad_rates.csv",
        "rate_date,currency,rate\n"
        "2026-01-31,USD,abc\n"
        "2026-01-31,GBP,0\n"
        "2026-02-28,USD,0.90\n"
        "2026-02-28,USD,0.91\n"
        "2026-02-28,EUR,1.00\n"
        "2026-02-28,XYZ,1.00\n",
    )
    store = Store(tmp_path / "refused")
    with pytest.raises(ingest.ImportRefused) as refused:
        ingest.import_files(store, ingest.Sources(sources.customers, sources.documents, exchange_rates=bad))
    report = refused.value.report()
    assert (
        "bad_rates.csv, row 2, column rate: 'abc' is not a positive rate with at most 10 decimals" in report
    )
    assert "bad_rates.csv, row 3, column rate: rate 0 of GBP is not above 0" in report
    assert (
        "bad_rates.csv, row 5, column currency: duplicate rate on the same date for 'USD' (first at row 4)"
        in (report)
    )
    assert "bad_rates.csv, row 6, column currency: EUR is the functional currency" in report
    assert "bad_rates.csv, row 7, column currency: 'XYZ' is not an ISO 4217 currency code" in report
    assert not store.exists()


def test_a_mapping_takes_an_erp_s_column_names(tmp_path: Path, sources: ingest.Sources) -> None:
    """An ERP's rate table (Datum;Waehrung;Kurs, German dates and decimal commas) through a mapping's
    [exchange_rates] section: the same figures as the canonical file at 03-31."""
    erp = write(
        tmp_path,
        "kurse.csv",
        "Datum;Waehrung;Kurs\n31.01.2026;USD;0,92\n28.02.2026;USD;0,8555\n"
        "31.01.2026;GBP;1,18\n31.03.2026;GBP;1,123425\n",
    )
    mapping = write(
        tmp_path,
        "mapping.toml",
        '[exchange_rates]\ncolumns = { rate_date = "Datum", currency = "Waehrung", rate = "Kurs" }\n'
        'separator = ";"\ndate_format = "%d.%m.%Y"\ndecimal_separator = ","\n',
    )
    store = Store(tmp_path / "mapped")
    ingest.import_files(
        store,
        ingest.Sources(sources.customers, sources.documents, sources.payments, exchange_rates=erp),
        ingest.load_mapping(mapping),
    )
    assert revalued(store, date(2026, 3, 31))["G1"] == ("224.69", "230.00", "-5.31")


def test_the_demo_company_has_rates_for_its_currencies(tmp_path: Path) -> None:
    """Its invoices are booked at their month's rate, which is its exchange_rates row of that month:
    every foreign-currency item revalues, and an invoice of the as-of date's month by nothing (a credit
    note is booked at its invoice's rate)."""
    from analytics import demo

    store = Store(tmp_path / "demo")
    demo.create(store, customers=40, documents=1_500, seed=3, as_of=date(2026, 11, 20), history=False)
    items = aging.aged_items(store, date(2026, 11, 20), revalue=True)
    foreign = items.filter(pl.col("currency") != "EUR")
    assert foreign.height > 0
    this_month = foreign.filter(
        pl.col("document_date") >= date(2026, 11, 1), pl.col("document_type") == "invoice"
    )
    assert this_month.height > 0
    assert set(this_month.get_column("revaluation").to_list()) == {Decimal("0.00")}


def page(store: Store, monkeypatch: pytest.MonkeyPatch, as_of: str) -> AppTest:
    monkeypatch.setenv("AR_DATA_DIR", str(store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.date_input(key="as_of").set_value(date.fromisoformat(as_of)).run()
    at.switch_page("pages/aging.py").run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> dict[str, str]:
    """Each metric's value, and for money its exact amount in the help text (before the ';')."""
    return {
        metric.label: f"{metric.value} ({metric.proto.help.split(';')[0].split(' at ')[0]})"
        if metric.proto.help and metric.label != "Revaluation"
        else metric.value
        for metric in at.metric
    }


def test_the_aging_page_switch_revalues(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 02-28 the page shows the booked 1,180.00; switched on, 1,163.75 with the booked total and the
    revaluation -16.25 beside it, and at the document level U1's 427.75 beside its booked 450.00 and
    -22.25; at 01-30 switched on, the refusal naming GBP and the date instead of the figures."""
    at = page(store, monkeypatch, "2026-02-28")
    assert shown(at)["Total AR (EUR)"] == "1.18k (1,180.00 EUR)"
    assert "Revaluation" not in shown(at)
    at.toggle(key="revalue").set_value(True).run()
    figures = shown(at)
    assert (figures["Total AR (EUR)"], figures["Booked (EUR)"], figures["Revaluation"]) == (
        "1.16k (1,163.75 EUR)",
        "1.18k (1,180.00 EUR)",
        "-16.25",
    )

    # The document level shows each item's booked amount and revaluation beside its open amount.
    at.multiselect(key="path").set_value(["document"]).run()
    documents = at.dataframe[0].value.set_index("document_id")
    assert documents.loc["U1", ["open_amount_functional", "open_amount_booked", "revaluation"]].tolist() == [
        427.75,
        450.00,
        -22.25,
    ]
    assert documents.loc["E1", "revaluation"] == 0

    at = page(store, monkeypatch, "2026-01-30")
    at.toggle(key="revalue").set_value(True).run()
    # The message is shown as written: Markdown's characters come escaped.
    assert [error.value.replace("\\", "") for error in at.error] == [
        "no exchange rate for GBP on or before 2026-01-30 (its first rate is of 2026-01-31): "
        "import one with --exchange-rates to revalue"
    ]
    assert "Total AR (EUR)" not in shown(at)
