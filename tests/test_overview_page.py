"""The overview (home) and the DSO pages in AppTest, on the hand-worked ledger of conftest.py.

At the as-of date 2026-03-31 (the data's last day) the month-end series is tests/test_kpis.py's:
March countback DSO 62.88 (February 37.30), standard 31.67, BPDSO 0.00 (18.75), ADD 31.67 (18.75),
CEI 26.92 (73.68), daily sales 30.00, cost of delay 950.00 (500.00). Receivables 950.00 (1000.00 at
02-28), all overdue (50.0% at 02-28).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import forecast
from analytics.store import Store

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def test_overview_is_the_home_page_with_the_headline_figures(app: AppTest) -> None:
    assert app.title[0].value == "Overview"
    assert metrics(app) == {
        "Receivables (EUR)": ("950.00", "-50.00"),
        "Overdue": ("100.0%", "+50.0 pts"),
        "DSO (countback)": ("62.9 d", "+25.6 d"),
        "CEI": ("26.9%", "-46.8 pts"),
        "Best possible DSO": ("0.0 d", "-18.8 d"),
        "Days of delay (ADD)": ("31.7 d", "+12.9 d"),
        "Cash tied up by delay (EUR)": ("950.00", "+450.00"),
        "One day of DSO (EUR)": ("30.00", ""),
    }


def test_overview_lists_the_overdue_customers_and_the_forecast(app: AppTest) -> None:
    top = app.dataframe[0].value
    assert top["customer_name"].to_list() == ["Alpha SARL"]
    assert top["overdue"].to_list() == [950.0]
    weeks = app.dataframe[1].value
    assert weeks["week"].to_list() == list(range(1, 14))
    assert any("Expected over the 13 weeks" in caption.value for caption in app.caption)


def test_overview_back_tests_on_demand_above_the_limit_of_open_items(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above BACKTEST_AUTOMATIC_ITEMS open items (here set to 0, the ledger having 3 at 2026-03-31) the
    back-test is off, the page says how to ask for it, and switching it on runs it."""
    monkeypatch.setattr(forecast, "BACKTEST_AUTOMATIC_ITEMS", 0)
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.toggle(key="overview_backtest").value is False
    captions = [caption.value for caption in at.caption]
    assert any(
        "accuracy is available on demand" in text and "Back-test the forecast on past month ends" in text
        for text in captions
    )
    assert not any("Not enough history yet to back-test" in text for text in captions)
    at.toggle(key="overview_backtest").set_value(True).run()
    assert not at.exception, at.exception
    captions = [caption.value for caption in at.caption]
    assert not any("available on demand" in text for text in captions)
    assert any("Not enough history yet to back-test the forecast." in text for text in captions)


def test_overview_on_an_empty_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Overview"
    assert [info.value for info in at.info] == [
        "No data yet. Open the **Data** page to import your ERP exports or generate the demo company."
    ]


def test_dso_page_by_entity_and_narrowed_to_one(app: AppTest) -> None:
    """By entity at 2026-03-31: Acme FR holds the whole 950.00; its countback walks 950 - 300 (March,
    31 days) - 400 (February, 28 days) = 250, then 250 / 1000 (its January sales) * 31 = 7.75: 66.75.
    Acme DE has no AR left (I3 paid) and no sales since January: no countback."""
    app.switch_page("pages/dso.py").run()
    assert app.title[0].value == "DSO and KPIs"
    assert app.dataframe[0].value["dso_countback"].to_list() == [62.88]
    app.selectbox(key="dso_by").set_value("entity").run()
    table = app.dataframe[0].value
    assert table["entity"].to_list() == ["Acme FR", "Acme DE"]
    assert table["ar_total"].to_list() == [950.0, 0.0]
    assert table["dso_countback"].to_list()[0] == 66.75
    app.session_state["dso_table_0"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert app.query_params["focus"] in ("Acme FR", ["Acme FR"])
    assert app.dataframe[0].value["entity"].to_list() == ["Acme FR"]
    app.button(key="dso_clear_focus").click().run()
    assert app.dataframe[0].value["entity"].to_list() == ["Acme FR", "Acme DE"]


def test_overview_warns_of_the_alerts_since_the_previous_run(app: AppTest) -> None:
    """With no run recorded, alerts look 7 days back: at 2026-03-10, I2 (Alpha SARL, 400.00 open, due
    03-07) fell due unpaid since 03-03; no other item fell due then and no customer exceeds its credit
    limit (C1 holds 950.00 of 5,000.00)."""

    def alerts() -> list[str]:
        return [w.value for w in app.warning if not w.value.startswith("**Demo mode**")]

    assert alerts() == []
    app.date_input(key="as_of").set_value(date(2026, 3, 10)).run()
    assert not app.exception, app.exception
    assert alerts() == ["Alerts since the previous run: 1 fell due unpaid."]
