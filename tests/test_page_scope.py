"""Signed-in users see their own portfolio only on the worklist, DSO, disputes, collectors and scenarios
pages and in their downloads (AppTest), on the small team of test_coaching.py as of 2026-03-31 with one
more dispute, on Ben's IB1 (500.00 open), raised on 03-27:

    anna  collector Anna: A1 Alder Ltd, A2 Aspen SA; AR 1,700.00, overdue 1,100.00 (IA1 600, IA3 400,
          IA4 100), not due 600.00 (IA2); promises broken: IA1 (by 03-10) and IA3 (by 03-20).
    lea   team lead of Ben and Cleo: B1 Birch GmbH (AR 1,800.00, overdue 800.00: IB0 300, IB1 500) and
          C1 Cedar SARL (AR 500.00, overdue 500.00: IC2); AR 2,300.00, overdue 1,300.00; one open
          dispute (IB1, 500.00); one broken promise (IC2, by 03-25).

Each page is checked on what the user sees (tables, figures, options, messages) and on what its download
buttons hand out, rendered by the callable the page gave the button.
"""

from __future__ import annotations

import email
import email.policy
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from test_coaching import build_team, dispute

from analytics import access, scenarios, submissions
from analytics.scope import EVERYTHING
from analytics.store import Store
from analytics.submissions import Submission

APP = str(Path(__file__).resolve().parent.parent / "app.py")
AS_OF = "2026-03-31"
CUSTOMERS = {"A1": "Alder Ltd", "A2": "Aspen SA", "B1": "Birch GmbH", "C1": "Cedar SARL"}
PORTFOLIOS = {"anna": ("A1", "A2"), "lea": ("B1", "C1")}
PASSWORDS = {"anna": "anna-password", "lea": "lea-password"}


@pytest.fixture
def team_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    store, db = build_team(tmp_path)
    submissions.submit(
        db, Submission((dispute("IB1"),)), store=store, as_of=date(2026, 3, 27), scope=EVERYTHING, user="Ben"
    )
    for customer_id, name in CUSTOMERS.items():
        scenarios.save_contact(
            db, customer_id, user="Ben", email=f"ap@{customer_id.lower()}.example", contact_name=name
        )
    db.close()  # the app opens its own writer
    users = access.Users(store.root)
    users.add("anna", "collector", password=PASSWORDS["anna"], collector="Anna")
    users.add("lea", "team_lead", password=PASSWORDS["lea"], team=("Ben", "Cleo"))
    monkeypatch.setenv("AR_DATA_DIR", str(store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    return store


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], bytes]]:
    """The data callable of every download button drawn, by file name: what a click hands out."""
    offered: dict[str, Callable[[], bytes]] = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, *, element_id=""):
        offered[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, element_id=element_id)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return offered


def signed_in(username: str, page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["as_of"] = AS_OF
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(PASSWORDS[username])
    at.button[0].click().run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def others(username: str) -> list[str]:
    """The names and ids of the customers outside the user's portfolio."""
    outside = [cid for cid in CUSTOMERS if cid not in PORTFOLIOS[username]]
    return [CUSTOMERS[cid] for cid in outside] + outside


def seen(at: AppTest) -> str:
    """Everything the page shows as text: tables, figures, messages, headings, options."""
    parts = [frame.value.to_csv() for frame in at.dataframe]
    parts += [f"{m.label} {m.value} {m.help}" for m in at.metric]
    for kind in ("markdown", "caption", "header", "subheader", "info", "warning", "error", "success"):
        parts += [element.value for element in getattr(at, kind)]
    parts += [" ".join(map(str, box.options)) for box in [*at.selectbox, *at.multiselect]]
    parts += [str(element.proto) for element in at.get("plotly_chart")]
    return "\n".join(parts)


def assert_nothing_of_the_others(text: str, username: str) -> None:
    shown = [name for name in others(username) if name in text]
    assert not shown, f"{username} sees {shown}"


def tables(at: AppTest, column: str) -> list:
    return [frame.value for frame in at.dataframe if column in frame.value.columns]


def table(at: AppTest, column: str):
    return tables(at, column)[0]


def csv_of(data: bytes) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(data))


# --- worklist ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "collectors", "overdue", "items"),
    [("anna", ["Anna"], "1.10k", "3"), ("lea", ["Ben", "Cleo"], "1.30k", "3")],
)
def test_the_worklist_holds_the_portfolio_alone(
    team_dir: Store, username: str, collectors: list[str], overdue: str, items: str
) -> None:
    at = signed_in(username, "pages/worklist.py", scope_collector="Ben" if username == "anna" else "Anna")
    assert at.selectbox[0].options[1:] == collectors
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Overdue (EUR)"], metrics["Overdue items"]) == (overdue, items)
    customers = [
        cid
        for frame in at.dataframe
        if "priority_score" in frame.value.columns
        for cid in frame.value["customer_id"]
    ]
    assert sorted(set(customers)) == sorted(PORTFOLIOS[username])
    assert_nothing_of_the_others(seen(at), username)


# --- DSO and KPIs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "ar"), [("anna", 1700.0), ("lea", 2300.0)])
def test_the_dso_page_and_its_export_hold_the_portfolio_alone(
    team_dir: Store, downloads: dict[str, Callable[[], bytes]], username: str, ar: float
) -> None:
    at = signed_in(username, "pages/dso.py")
    assert table(at, "ar_total")["ar_total"].tolist() == [ar]
    at.selectbox(key="dso_by").set_value("customer").run()
    assert not at.exception, [e.value for e in at.exception]
    rows = table(at, "ar_total")
    assert sorted(rows["customer_id"]) == sorted(PORTFOLIOS[username])
    assert rows["ar_total"].sum() == ar
    assert_nothing_of_the_others(seen(at), username)

    exported = csv_of(downloads[f"kpis_customer_{AS_OF}.csv"]())
    assert sorted(exported["customer_id"].unique()) == sorted(PORTFOLIOS[username])
    at_end = exported.filter(pl.col("period") == AS_OF)
    assert at_end["ar_total"].sum() == ar
    assert_nothing_of_the_others(exported.write_csv(), username)


# --- disputes and promises --------------------------------------------------------------------------


def test_the_disputes_page_holds_the_portfolio_alone(team_dir: Store) -> None:
    at = signed_in("anna", "pages/disputes.py")
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Open disputes"], metrics["Disputed (EUR)"]) == ("0", "0.00")
    due_this_week, broken = tables(at, "promised_amount")
    assert due_this_week.empty
    assert sorted(broken["document_id"]) == ["IA1", "IA3"]
    assert_nothing_of_the_others(seen(at), "anna")

    lead = signed_in("lea", "pages/disputes.py")
    metrics = {m.label: m.value for m in lead.metric}
    assert (metrics["Open disputes"], metrics["Disputed (EUR)"]) == ("1", "500.00")
    assert table(lead, "disputed_amount")["disputed_amount"].sum() == 500.0
    due_this_week, broken = tables(lead, "promised_amount")
    assert due_this_week.empty
    assert broken["document_id"].tolist() == ["IC2"]
    assert_nothing_of_the_others(seen(lead), "lea")


# --- collectors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "collectors", "ar"),
    [("anna", ["Anna"], [1700.0]), ("lea", ["Ben", "Cleo"], [1800.0, 500.0])],
)
def test_the_collectors_page_and_its_export_hold_the_team_alone(
    team_dir: Store,
    downloads: dict[str, Callable[[], bytes]],
    username: str,
    collectors: list[str],
    ar: list[float],
) -> None:
    at = signed_in(username, "pages/collectors.py", collector="Anna" if username == "lea" else "Ben")
    rows = table(at, "flag_count")
    team = rows.filter(items=[i for i, c in enumerate(rows["collector"]) if c != "Team median"], axis=0)
    assert sorted(team["collector"]) == collectors
    assert dict(zip(team["collector"], team["ar"], strict=True)) == dict(zip(collectors, ar, strict=True))
    (pick,) = [box for box in at.selectbox if box.label == "Collector"]
    assert pick.options == collectors
    outside = [c for c in ("Anna", "Ben", "Cleo") if c not in collectors]
    text = seen(at)
    assert_nothing_of_the_others(text, username)
    assert not [c for c in outside if c in text]

    exported = csv_of(downloads[f"collectors_month_{AS_OF}.csv"]())
    assert sorted(c for c in exported["collector"] if c != "Team median") == collectors
    assert sorted(exported.filter(pl.col("collector") != "Team median")["ar"]) == sorted(ar)


# --- recovery scenarios -----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["anna", "lea"])
def test_the_scenarios_page_and_its_letters_hold_the_portfolio_alone(
    team_dir: Store, downloads: dict[str, Callable[[], bytes]], username: str
) -> None:
    at = signed_in(username, "pages/scenarios.py")
    positions = table(at, "reason")
    assert sorted(positions["customer_id"]) == sorted(PORTFOLIOS[username])
    proposals = table(at, "beyond_friendly_phase")
    assert not proposals.empty and set(proposals["customer_id"]) <= set(PORTFOLIOS[username])
    assert_nothing_of_the_others(seen(at), username)
    for row, customer_id in enumerate(proposals["customer_id"]):
        at.session_state[f"scenario_proposals_{row}"] = {
            "selection": {"rows": [row], "columns": [], "cells": []}
        }
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        letter = [area.value for area in at.text_area if area.key and area.key.startswith("reminder_text_")]
        assert len(letter) == 1 and CUSTOMERS[customer_id] in letter[0]
        assert_nothing_of_the_others(letter[0], username)
    # Each step's .eml goes to its customer's own address with that text; the PDF is rendered from it.
    offered = sorted(name for name in downloads if name.endswith((".eml", ".pdf")))
    assert {name.split("-")[0] for name in offered} == set(proposals["customer_id"])
    for name in offered:
        content = downloads[name]()
        if name.endswith(".pdf"):
            assert content.startswith(b"%PDF")
            continue
        message = email.message_from_bytes(content, policy=email.policy.default)
        customer_id = name.split("-")[0]
        assert message["To"] == f"ap@{customer_id.lower()}.example"
        body = message.get_body(("plain",)).get_content()
        assert CUSTOMERS[customer_id] in body
        assert_nothing_of_the_others(body + str(message["Subject"]), username)
    # The Settings tab (which runs only when open) offers the portfolio's customers alone.
    at.session_state["scenario_tabs"] = "Settings"
    at.run()
    assert at.selectbox(key="contact_customer").options == [
        f"{CUSTOMERS[cid]} ({cid})" for cid in PORTFOLIOS[username]
    ]
    assert_nothing_of_the_others(seen(at), username)
