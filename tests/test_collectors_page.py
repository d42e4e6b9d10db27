"""The Collectors page in AppTest, on the small team of test_coaching.py (as of 2026-03-31, the month of
March): the team table with its median and flags, a collector's record, and a coaching note written,
kept and listed with its objective measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_coaching import build_team

from pages import _format

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    store, db = build_team(tmp_path)
    db.close()  # the app opens its own writer
    monkeypatch.setenv("AR_DATA_DIR", str(store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["as_of"] = "2026-03-31"
    at.run()
    at.switch_page("pages/collectors.py").run()
    assert not at.exception, at.exception
    return at


def team_table(at: AppTest):
    return next(frame.value for frame in at.dataframe if "flag_count" in frame.value.columns)


def test_team_table_with_median_and_flags(app: AppTest) -> None:
    """Sorted by flags: Anna (4 flags) first, then Ben and Cleo; the team median last. Anna, the most
    flagged, has her record open."""
    assert app.title[0].value == "Collectors"
    table = team_table(app)
    assert table["collector"].to_list() == ["Anna", "Ben", "Cleo", "Team median"]
    assert table["flag_count"].to_list() == [4, 0, 0, 0]
    assert table["ar"].to_list() == [1700.0, 1800.0, 500.0, 1700.0]
    assert table["flags"][0].startswith("+90 share 2.1x the team median (35.29% vs 16.67%)")
    assert [h.value for h in app.header] == ["Anna's record"]
    warnings = [w.value for w in app.warning if not w.value.startswith("**Demo mode**")]
    assert warnings[0].startswith("Flagged: +90 share 2.1x the team median")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["CEI"] == "26.7%"
    assert metrics["% overdue"] == "64.7%"
    assert len(app.get("plotly_chart")) == 5


def test_results_and_sorting(app: AppTest) -> None:
    app.segmented_control(key="collectors_group").set_value("Results").run()
    app.selectbox(key="collectors_sort").set_value("cei").run()
    table = team_table(app)
    assert table["collector"].to_list() == ["Ben", "Cleo", "Anna", "Team median"]
    assert table["cei"].to_list() == [65.22, 62.96, 26.67, 62.96]
    app.segmented_control(key="collectors_period").set_value("week").run()
    app.segmented_control(key="collectors_group").set_value("Activity").run()
    table = team_table(app)
    assert dict(zip(table["collector"], table["actions"], strict=True))["Ben"] == 2


def test_select_a_collector_and_write_a_coaching_note(app: AppTest) -> None:
    """Select Ben's row: his record opens. Write a note with '+90 <= 250 by 2026-04-30': it is listed,
    pending, measured at 300.00 as of 03-31 (IB0)."""
    app.session_state["collectors_table_0"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    assert [h.value for h in app.header] == ["Ben's record"]
    assert any(c.value == "No figure is flagged against the team median." for c in app.caption)
    assert any(c.value == "No note on Ben yet." for c in app.caption)

    app.text_area(key="coaching_comment").input("Chase IB0 now that the dispute is over")
    app.selectbox(key="coaching_metric_0").set_value("over_90")
    app.number_input(key="coaching_target_0").set_value(250.0)
    app.text_input(key="coaching_text_0").input("+90 under 250 by the end of April")
    app.button(key="coaching_save").click().run()
    assert not app.exception, app.exception
    assert [s.value for s in app.success] == [_format.markdown_text("Note on Ben saved with 1 objective.")]
    notes = next(frame.value for frame in app.dataframe if "status" in frame.value.columns)
    row = notes.iloc[0]
    assert row["comment"] == "Chase IB0 now that the dispute is over"
    assert row["objective_text"] == "+90 amount <= 250.00 by 2026-04-30"
    assert row["text"] == "+90 under 250 by the end of April"
    assert (row["value"], row["status"]) == (300.0, "pending")
    assert [h.value for h in app.header] == ["Ben's record"]


def test_a_note_without_content_is_refused(app: AppTest) -> None:
    app.button(key="coaching_save").click().run()
    errors = [e.value for e in app.error]
    assert errors and errors[0].startswith("Refused, nothing was written:")
    assert "write a comment or set an objective" in errors[0]


def record(at: AppTest) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """The record's heading and its tiles (value, delta)."""
    return [h.value for h in at.header], {m.label: (m.value, m.delta) for m in at.metric}


def chart_data(at: AppTest, key: str) -> dict[str, list[object]]:
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}"))
    trace = json.loads(chart.proto.spec)["data"][0]
    return {"x": trace["x"], "y": trace["y"]}


BEN = {
    "AR (EUR)": ("1.80k", "-500.00"),
    "% overdue": ("44.4%", "-55.6 pts"),
    "+90 (EUR)": ("300.00", "0.00"),
    "CEI": ("65.2%", "2.26"),
    "Countback DSO": ("31.0 d", "-29.5"),
    "Actions / day": ("0.18", "0.0"),
}


def test_choosing_a_collector_opens_that_record(app: AppTest) -> None:
    """Ben chosen in the record's Collector box: his heading, his figures against the median (CEI 65.2%,
    2.26 points above the median's 62.96%), no flag, no note yet; the address names him; the team
    table is as it was."""
    before = team_table(app)
    app.selectbox(key="collectors_pick").set_value("Ben").run()
    assert not app.exception, app.exception
    headers, tiles = record(app)
    assert headers == ["Ben's record"]
    assert tiles == BEN
    assert not [w for w in app.warning if w.value.startswith("Flagged")]
    assert any(c.value == "No note on Ben yet." for c in app.caption)
    assert app.query_params["collector"] == "Ben"
    assert team_table(app).equals(before)


def test_a_team_table_row_opens_its_record_and_the_median_row_none(app: AppTest) -> None:
    """Cleo's row (the third) opens her record: AR 500.00, 100% overdue, no countback DSO. The table
    is drawn afresh without the selection; its median row then opens no record: Cleo's stays."""
    app.session_state["collectors_table_0"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    headers, tiles = record(app)
    assert headers == ["Cleo's record"]
    assert tiles["AR (EUR)"] == ("500.00", "-850.00")
    assert tiles["% overdue"] == ("100.0%", "+37.0 pts")
    assert tiles["Countback DSO"][0] == "-"
    assert app.selectbox(key="collectors_pick").value == "Cleo"
    assert "collectors_table_1" in [frame.key for frame in app.dataframe]
    app.session_state["collectors_table_1"] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    assert record(app)[0] == ["Cleo's record"]
    assert team_table(app)["collector"].to_list()[-1] == "Team median"


def test_the_address_opens_the_collector_it_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, db = build_team(tmp_path)
    db.close()
    monkeypatch.setenv("AR_DATA_DIR", str(store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["as_of"] = "2026-03-31"
    at.query_params["collector"] = "Ben"
    at.run()
    at.switch_page("pages/collectors.py").run()
    assert not at.exception, at.exception
    assert record(at) == (["Ben's record"], BEN)


def test_the_team_chart_compares_the_figure_chosen_and_leaves_the_record(app: AppTest) -> None:
    """On +90 share (the default) Anna's 35.29% is the outlier; on CEI the bars are each collector's CEI
    (Anna 26.67%, Ben 65.22%, Cleo 62.96%); Anna's record stays open with its figures."""
    assert chart_data(app, "collectors_team_chart") == {
        "x": ["Anna", "Ben", "Cleo"],
        "y": [35.29, 16.67, 0.0],
    }
    anna = record(app)
    app.selectbox(key="collectors_compare").set_value("cei").run()
    assert not app.exception, app.exception
    assert chart_data(app, "collectors_team_chart") == {
        "x": ["Anna", "Ben", "Cleo"],
        "y": [26.67, 65.22, 62.96],
    }
    assert record(app) == anna
    assert anna[0] == ["Anna's record"]
