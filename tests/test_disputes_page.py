"""The Disputes and promises page in AppTest, on the small demo company of conftest.py (120 customers,
seed 11, as of 2026-11-20), whose open disputes have several reasons and owners: the open-disputes
list (a fragment) narrowed by its Reason and Owner filters shows exactly the disputes of that reason
and owner, oldest first, while the tiles above it keep the page's figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics import collections, disputes, labels
from analytics.store import Store
from pages._format import label, markdown_text

APP = str(Path(__file__).resolve().parent.parent / "app.py")
AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def open_disputes(demo_data_dir: Path) -> pl.DataFrame:
    """The open disputes at AS_OF as the analytics count them, oldest first: what the list must show."""
    store = Store(demo_data_dir)
    with collections.CollectionsDB.for_store(store) as db:
        summary = disputes.dispute_summary(db, store, AS_OF)
    return summary.open_disputes.sort(["age_days", "document_id"], descending=[True, False])


@pytest.fixture
def app(demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AR_DATA_DIR", str(demo_data_dir))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["as_of"] = AS_OF.isoformat()
    at.run()
    at.switch_page("pages/disputes.py").run()
    assert not at.exception, at.exception
    return at


def listed(at: AppTest) -> pl.DataFrame:
    """The open-disputes list (the one dataframe with both a reason and an owner per row)."""
    (frame,) = [
        frame.value
        for frame in at.dataframe
        if {"dispute_reason", "internal_owner", "document_id"} <= set(frame.value.columns)
    ]
    return pl.from_pandas(frame[["document_id", "dispute_reason", "internal_owner", "age_days"]])


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def documents(frame: pl.DataFrame) -> list[str]:
    return frame.get_column("document_id").to_list()


def test_the_list_shows_every_open_dispute_oldest_first(app: AppTest, open_disputes: pl.DataFrame) -> None:
    assert app.title[0].value == "Disputes and promises"
    assert tiles(app)["Open disputes"] == f"{open_disputes.height:,}"
    assert open_disputes.height >= 5  # the demo must give the filters something to narrow
    shown = listed(app)
    assert sorted(documents(shown)) == sorted(documents(open_disputes))
    ages = shown.get_column("age_days").to_list()
    assert ages == sorted(ages, reverse=True)
    reasons = sorted(open_disputes.get_column("dispute_reason").unique().to_list())
    assert app.selectbox(key="disputes_reason").options == ["(all)", *[label(r) for r in reasons]]


def test_the_reason_filter_narrows_the_list_to_that_reason(app: AppTest, open_disputes: pl.DataFrame) -> None:
    """The most frequent reason: its disputes alone; the tiles above still count them all."""
    figures = tiles(app)
    reason = (
        open_disputes.group_by("dispute_reason")
        .len()
        .sort(["len", "dispute_reason"], descending=[True, False])
    ).get_column("dispute_reason")[0]
    expected = open_disputes.filter(pl.col("dispute_reason") == reason)
    assert 1 < expected.height < open_disputes.height
    app.selectbox(key="disputes_reason").set_value(reason).run()
    assert not app.exception, app.exception
    shown = listed(app)
    assert set(shown.get_column("dispute_reason").to_list()) == {labels.value(reason)}
    assert sorted(documents(shown)) == sorted(documents(expected))
    assert tiles(app) == figures


def test_reason_and_owner_together_and_back_to_all(app: AppTest, open_disputes: pl.DataFrame) -> None:
    """An owner with disputes of more than one reason: the owner alone lists them all; with one of the
    reasons too, only the disputes of both; the owner's options offer every owner."""
    reasons_of = open_disputes.group_by("internal_owner").agg(pl.col("dispute_reason").n_unique().alias("n"))
    owners = reasons_of.filter(pl.col("n") > 1).sort("internal_owner").get_column("internal_owner")
    assert owners.len() >= 1
    owner = owners[0]
    box = app.selectbox(key="disputes_owner")
    assert box.options == ["(all)", *sorted(open_disputes.get_column("internal_owner").unique().to_list())]
    box.set_value(owner).run()
    of_owner = open_disputes.filter(pl.col("internal_owner") == owner)
    assert sorted(documents(listed(app))) == sorted(documents(of_owner))
    reason = sorted(of_owner.get_column("dispute_reason").unique().to_list())[0]
    app.selectbox(key="disputes_reason").set_value(reason).run()
    assert not app.exception, app.exception
    both = of_owner.filter(pl.col("dispute_reason") == reason)
    shown = listed(app)
    assert sorted(documents(shown)) == sorted(documents(both))
    assert shown.select("dispute_reason", "internal_owner").unique().rows() == [(labels.value(reason), owner)]
    app.selectbox(key="disputes_owner").set_value("(all)").run()
    app.selectbox(key="disputes_reason").set_value("(all)").run()
    assert sorted(documents(listed(app))) == sorted(documents(open_disputes))


def test_selected_disputes_go_to_the_side_panel(app: AppTest, open_disputes: pl.DataFrame) -> None:
    """Selecting two rows of a narrowed list offers the side panel on those two documents."""
    reason = open_disputes.get_column("dispute_reason").mode().sort()[0]
    app.selectbox(key="disputes_reason").set_value(reason).run()
    (key,) = [k for k in app.session_state if str(k).startswith(f"open_disputes_{reason}_")]
    app.session_state[key] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    assert "(2 items)" in app.button(key="disputes_panel").label


def test_filters_that_leave_no_dispute_say_so(app: AppTest, open_disputes: pl.DataFrame) -> None:
    """A reason and an owner with no dispute in common: a message says so instead of an empty grid."""
    pairs = set(open_disputes.select("dispute_reason", "internal_owner").rows())
    reason, owner = next(
        (r, o)
        for r in sorted(open_disputes.get_column("dispute_reason").unique().to_list())
        for o in sorted(open_disputes.get_column("internal_owner").unique().to_list())
        if (r, o) not in pairs
    )
    app.selectbox(key="disputes_reason").set_value(reason).run()
    app.selectbox(key="disputes_owner").set_value(owner).run()
    assert not app.exception, app.exception
    assert not [
        frame for frame in app.dataframe if {"dispute_reason", "internal_owner"} <= set(frame.value.columns)
    ]
    assert markdown_text(f"No open dispute with reason {label(reason)} and owner {owner}.") in [
        info.value for info in app.info
    ]
    assert app.button(key="disputes_panel").label == "Select items to qualify"


def test_a_ledger_without_disputes_lists_none(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/disputes.py").run()
    assert not at.exception, at.exception
    assert [info.value for info in at.info if info.value.startswith("No open dispute")] == [
        "No open dispute.",
        "No open dispute.",
    ]
    assert app_lists_nothing(at)


def app_lists_nothing(at: AppTest) -> bool:
    return not [
        frame for frame in at.dataframe if {"dispute_reason", "internal_owner"} <= set(frame.value.columns)
    ]
