"""Sign-in, roles and rights in the app (AppTest), on the hand-worked ledger of conftest.py as of
2026-02-01: Anna's C1 owes 1,000.00 (not due), Ben's C2 owes 1,000.00 (17 days past due)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics import access
from analytics.export import markdown_text
from analytics.store import Store
from pages import _format

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def team(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    users = access.Users(ledger_store.root)
    users.add("admin", "admin", password="admin-password")
    users.add("anna", "collector", password="anna-password", collector="Anna")
    users.add("cfo", "viewer", password="cfo-password1")
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    return ledger_store


def start(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["as_of"] = "2026-02-01"
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_sign_in_is_required_once_users_exist(team: Store) -> None:
    at = start()
    assert [title.value for title in at.title] == ["Sign in"]
    assert not at.metric and not at.dataframe
    assert not [w for w in at.warning if "Demo mode" in w.value]
    sign_in(at, "anna", "wrong-password")
    assert [error.value for error in at.error] == [_format.markdown_text("Unknown user or wrong password.")]
    assert [title.value for title in at.title] == ["Sign in"]
    sign_in(at, "anna", "anna-password")
    assert [title.value for title in at.title] == ["Overview"]
    assert at.sidebar.markdown[0].value == "**Anna** · Collector"
    trail = access.audit_trail(team.root)
    assert trail.get_column("event").to_list()[:2] == ["Signed in", "Failed sign-in"]


def test_repeated_failures_make_the_next_attempt_wait(team: Store) -> None:
    at = start()
    for _ in range(3):
        sign_in(at, "cfo", "not-the-password")
    sign_in(at, "cfo", "cfo-password1")
    assert at.error[0].value.startswith(
        _format.markdown_text("Too many failed sign-ins for cfo: try again in ")
    )
    assert [title.value for title in at.title] == ["Sign in"]


def test_a_collector_sees_only_their_portfolio(team: Store) -> None:
    at = sign_in(start(), "anna", "anna-password")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Receivables (EUR)"] == "1.00k"
    collector_filter = next(box for box in at.sidebar.multiselect if box.label == "Collector")
    assert collector_filter.options == ["Anna"]
    at.switch_page("pages/aging.py").run()
    assert not at.exception, at.exception
    shown = {m.label: m.value for m in at.metric}
    assert (shown["Total AR (EUR)"], shown["Overdue"]) == ("1.00k", "0.00")
    at.switch_page("pages/data.py").run()
    data = {m.label: m.value for m in at.metric}
    assert data == {"Customers you see": "2", "Data as of": "2026-03-31", "Functional currency": "EUR"}
    assert "The record of imports is shown to users who see every customer." in [i.value for i in at.info]
    at.switch_page("pages/customer.py").run()
    picker = at.selectbox(key="customer_pick_C1")
    assert [option.split(" (")[0] for option in picker.options] == ["Alpha SARL", "Gamma SA"]


def test_a_collector_cannot_reach_another_portfolio_through_the_url(team: Store) -> None:
    at = sign_in(start(customer="C2"), "anna", "anna-password")
    at.switch_page("pages/customer.py").run()
    assert not at.exception, at.exception
    assert any(
        f"No customer C2 in your scope ({_format.markdown_text('Collector: Anna')})" in w.value
        for w in at.warning
    )
    assert all("Beta GmbH" not in option for option in at.selectbox[0].options)
    at.query_params["scope_collector"] = "Ben"
    at.switch_page("pages/aging.py").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Total AR (EUR)"], metrics["Overdue"]) == ("1.00k", "0.00")


def test_a_viewer_reads_but_cannot_write_or_import(team: Store) -> None:
    at = sign_in(start(customer="C1"), "cfo", "cfo-password1")
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    assert at.info[0].value.startswith("Your role (viewer (read-only)) may not import data.")
    assert not at.get("file_uploader")
    at.switch_page("pages/customer.py").run()
    at.session_state["customer_items_C1"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="customer_panel").click().run()
    at.selectbox(key="panel_action").set_value("call").run()
    save = at.button(key="panel_save")
    assert save.disabled
    assert save.help == "Your role (viewer (read-only)) may not qualify items and log actions."


def test_only_an_administrator_sees_users_and_audit(team: Store) -> None:
    at = sign_in(start(), "anna", "anna-password")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin.py")
    admin = sign_in(start(), "admin", "admin-password")
    admin.switch_page("pages/admin.py").run()
    assert not admin.exception, admin.exception
    assert [title.value for title in admin.title] == ["Users and audit"]
    users, trail = (frame.value for frame in admin.dataframe)
    assert users["username"].to_list() == ["admin", "anna", "cfo"]
    assert users["sees"].to_list() == ["all customers", "Collector: Anna", "all customers"]
    assert trail[["user", "event"]].head(2).values.tolist() == [["admin", "Signed in"], ["anna", "Signed in"]]


def test_sign_out_returns_to_the_sign_in_form(team: Store) -> None:
    at = sign_in(start(), "anna", "anna-password")
    at.sidebar.button(key="sign_out").click().run()
    assert [title.value for title in at.title] == ["Sign in"]
    assert access.audit_trail(team.root).get_column("event")[0] == "Signed out"


def test_a_removed_user_is_signed_out_at_the_next_click(team: Store) -> None:
    at = sign_in(start(), "cfo", "cfo-password1")
    access.Users(team.root).remove("cfo")
    at.run()
    assert [title.value for title in at.title] == ["Sign in"]


def test_a_role_changed_in_the_users_file_applies_at_the_next_click(team: Store) -> None:
    at = sign_in(start(), "cfo", "cfo-password1")
    assert at.sidebar.markdown[0].value == "**cfo** · Viewer (read-only)"
    access.Users(team.root).update("cfo", role="admin")
    at.run()
    assert at.sidebar.markdown[0].value == "**cfo** · Administrator"
    at.switch_page("pages/admin.py").run()
    assert [title.value for title in at.title] == ["Users and audit"]


def test_a_users_file_edited_in_place_applies_at_the_next_click(team: Store) -> None:
    """The same file (inode), the same size, rewritten at once: the change still applies."""
    at = sign_in(start(), "cfo", "cfo-password1")
    access.Users(team.root).update("cfo", display_name="Ann Smith")
    at.run()
    assert at.sidebar.markdown[0].value == "**Ann Smith** · Viewer (read-only)"
    path = access.Users(team.root).path
    edited = path.read_bytes().replace(b"Ann Smith", b"Bob Jones")
    with open(path, "r+b") as file:
        file.write(edited)
    at.run()
    assert at.sidebar.markdown[0].value == "**Bob Jones** · Viewer (read-only)"
    path.write_bytes(edited.replace(b'"viewer"', b'"wizard"'))
    at.run()
    assert [title.value for title in at.title] == ["Sign in"]
    assert at.error and "users file" in at.error[0].value


def test_demo_mode_says_so_in_a_banner(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = start()
    assert at.warning[0].value.startswith("**Demo mode**: there is no users file")
    assert [title.value for title in at.title] == ["Overview"]
    assert access.audit_trail(ledger_store.root).filter(pl.col("event") == "Signed in").is_empty()


def test_a_drill_key_outside_the_rights_shows_nothing_of_it(team: Store) -> None:
    at = sign_in(start(drill="entity=Acme DE"), "anna", "anna-password")
    at.switch_page("pages/aging.py").run()
    assert not at.exception, at.exception
    assert at.info[0].value.startswith("No open items match these filters.")
    assert all(frame.value.empty for frame in at.dataframe)
    assert "Beta GmbH" not in str([frame.value for frame in at.dataframe])


def test_an_administrator_adds_changes_and_removes_users(team: Store) -> None:
    at = sign_in(start(), "admin", "admin-password")
    at.switch_page("pages/admin.py").run()
    at.text_input(key="add_username").input("bob")
    at.selectbox(key="add_role").set_value("collector").run()
    at.selectbox(key="add_collector").set_value("Ben")
    at.text_input(key="add_password").input("bob-password")
    at.text_input(key="add_password_again").input("bob-password")
    at.button(key="add_user").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [markdown_text("Added bob as collector (Collector: Ben).")]
    bob = access.sign_in(team.root, "bob", "bob-password")
    assert bob.rights().values("collector") == ("Ben",)

    at.selectbox(key="change_user").set_value("cfo").run()
    at.selectbox(key="change_cfo_role").set_value("team_lead").run()
    at.multiselect(key="change_cfo_team").set_value(["Anna", "Ben"])
    at.multiselect(key="change_cfo_limit_entity").set_value(["Acme FR"])
    at.button(key="change_save").click().run()
    assert [s.value for s in at.success] == [
        markdown_text("cfo: team_lead (Entity: Acme FR; Collector: Anna, Ben).")
    ]
    cfo = access.Users(team.root).get("cfo")
    assert (cfo.role, cfo.team, dict(cfo.limits)) == ("team_lead", ("Anna", "Ben"), {"entity": ("Acme FR",)})

    at.selectbox(key="remove_user").set_value("admin").run()
    at.checkbox(key="remove_confirm").check().run()
    at.button(key="remove_button").click().run()
    assert [e.value for e in at.error] == ["You cannot remove yourself: another administrator can."]
    at.selectbox(key="remove_user").set_value("bob").run()
    at.checkbox(key="remove_confirm").check().run()
    at.button(key="remove_button").click().run()
    assert access.Users(team.root).get("bob") is None
    changes = access.audit_trail(team.root).filter(pl.col("event") == "Users changed")
    assert changes.get_column("detail").to_list()[0] == "Removed bob."
    assert changes.get_column("user").to_list() == ["admin", "admin", "admin"]


def test_adding_a_user_with_mismatched_passwords_is_refused(team: Store) -> None:
    at = sign_in(start(), "admin", "admin-password")
    at.switch_page("pages/admin.py").run()
    at.text_input(key="add_username").input("zoe")
    at.text_input(key="add_password").input("zoe-password")
    at.text_input(key="add_password_again").input("zoe-passw0rd")
    at.button(key="add_user").click().run()
    assert [e.value for e in at.error] == ["The two passwords differ."]
    at.text_input(key="add_password_again").input("zoe-password")
    at.selectbox(key="add_role").set_value("collector").run()
    at.button(key="add_user").click().run()
    assert [e.value for e in at.error] == [
        markdown_text("zoe: a collector needs a collector name (theirs in the customers file)")
    ]
    assert access.Users(team.root).get("zoe") is None
