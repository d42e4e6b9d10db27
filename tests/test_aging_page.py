"""The aging page in AppTest, on the hand-worked ledger of conftest.py.

At the default as-of date (2026-03-31, the data's last day) the ledger holds, all for Alpha SARL
(C1, Acme FR / North / Anna): I1 600.00 (due 02-09, 50 days: 31-60), I2 400.00 (due 03-07,
24 days: 1-30) and 50.00 cash on account (P3, 21 days: 1-30): total 950.00, all overdue, +30 600.00.
The comparison date defaults to 2026-02-28: I1 600.00 (19 days), I2 500.00 (not due), CN1 -100.00
(8 days): total 1000.00, overdue 500.00.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import write_older_format
from streamlit.runtime.state.common import user_key_from_element_id
from streamlit.testing.v1 import AppTest

from analytics import demo
from analytics.export import markdown_text
from analytics.store import Store

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/aging.py").run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> tuple[str, str]:
    found = [m for m in at.metric if m.label == label]
    assert found, [m.label for m in at.metric]
    return found[0].value, found[0].delta


def drill_table(at: AppTest):
    """The drill table: the first dataframe of the Balance tab."""
    return at.dataframe[0].value


def drill_param(at: AppTest) -> list[str]:
    value = at.query_params.get("drill", [])
    return value if isinstance(value, list) else [value]


def select_row(at: AppTest, position: int) -> AppTest:
    """Click the name of a row of the drill table (its button cell), as the browser sends the click:
    the row's position and its label, for this run only. AppTest has no method for a button column."""
    table = at.dataframe[0]
    (widget_id,) = table.proto.button_click_widgets.values()
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = widget_id
    label = str(table.value.iloc[position, 0])
    state.string_trigger_value.data = json.dumps({"row": position, "label": label})
    at._run(states)
    assert not at.exception, at.exception
    return at


def test_headline_figures(app: AppTest) -> None:
    assert app.title[0].value == "Aging balance"
    assert metric(app, "Total AR (EUR)") == ("950.00", "-50.00")
    assert metric(app, "Overdue") == ("950.00", "+450.00")
    assert metric(app, "% overdue") == ("100.0%", "+50.0 pts")
    assert metric(app, "+30 days") == ("600.00", "+600.00")
    assert metric(app, "+90 days") == ("0.00", "+0.00")


def test_drill_down_and_back_up(app: AppTest) -> None:
    table = drill_table(app)
    assert table["entity"].to_list() == ["Acme FR"]
    assert table["total"].to_list() == [950.0]

    select_row(app, 0)
    assert drill_param(app) == ["entity=Acme FR"]
    assert drill_table(app)["division"].to_list() == ["North"]
    select_row(app, 0)
    assert drill_table(app)["collector"].to_list() == ["Anna"]
    select_row(app, 0)
    assert drill_table(app)["customer_name"].to_list() == ["Alpha SARL"]
    select_row(app, 0)
    documents = drill_table(app).sort_values("document_id")
    assert documents["document_id"].to_list() == ["I1", "I2", "P3"]
    assert documents["days_past_due"].to_list() == [50, 24, 21]
    assert documents["total"].to_list() == [600.0, 400.0, -50.0]
    assert drill_param(app) == [
        "entity=Acme FR",
        "division=North",
        "collector=Anna",
        "customer=C1",
    ]

    # The breadcrumb goes back to a level, then to the top.
    app.button(key="crumb_1").click().run()
    assert drill_table(app)["collector"].to_list() == ["Anna"]
    app.button(key="crumb_all").click().run()
    assert drill_table(app)["entity"].to_list() == ["Acme FR"]
    assert drill_param(app) == []


def test_bucket_filter_and_buckets(app: AppTest) -> None:
    app.button_group(key="bucket_filter").set_value(["d31_60"]).run()
    assert drill_table(app)["total"].to_list() == [600.0]
    assert metric(app, "Total AR (EUR)")[0] == "600.00"
    app.button_group(key="bucket_filter").set_value([]).run()
    assert drill_table(app)["total"].to_list() == [950.0]

    app.selectbox(key="buckets").set_value("30,60,90,120").run()
    columns = list(drill_table(app).columns)
    assert columns[:8] == ["entity", "not_due", "d1_30", "d31_60", "d61_90", "d91_120", "over_120", "total"]


def test_overdue_beyond_switch(app: AppTest) -> None:
    app.button_group(key="beyond").set_value("+30").run()
    assert drill_table(app)["total"].to_list() == [600.0]
    assert metric(app, "Total AR (EUR)")[0] == "600.00"


def test_rejuvenation_says_what_moved(app: AppTest) -> None:
    assert not [m for m in app.markdown if m.value.startswith("- ")], "computed while its tab is closed"
    app.session_state["aging_tabs"] = "Rejuvenation"
    app.run()
    sentences = [m.value for m in app.markdown if m.value.startswith("- ")]
    assert (
        "- "
        + markdown_text(
            "Overdue grew by 90.0% since 2026-02-28 (from 500.00 to 950.00), mostly Entity Acme FR (+450.00)."
        )
        in sentences
    )
    assert "- " + markdown_text("+90 did not change since 2026-02-28 (0.00).") in sentences

    # Roll rates (see test_aging.py): of 500.00 not due at 02-28, 400.00 is in 1-30 at 03-31 and
    # 100.00 was credited; of 500.00 in 1-30, I1's 600.00 is in 31-60 and CN1's -100.00 was credited.
    (heatmap,) = [json.loads(c.proto.spec) for c in app.get("plotly_chart") if "roll_rates" in c.proto.id]
    (trace,) = heatmap["data"]
    assert trace["y"][:2] == ["Not due (500)", "1-30 (500)"]
    assert trace["text"][0] == [
        "0%<br>0",
        "80%<br>400",
        "0%<br>0",
        "0%<br>0",
        "0%<br>0",
        "0%<br>0",
        "20%<br>100",
        "0%<br>0",
    ]
    assert trace["text"][1][2] == "120%<br>600" and trace["text"][1][6] == "-20%<br>-100"


def test_export_buttons_offer_the_table(app: AppTest) -> None:
    labels = [b.label for b in app.get("download_button")]
    assert labels == ["Export CSV", "Export XLSX"]


def test_empty_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/aging.py").run()
    assert not at.exception
    assert at.title[0].value == "Aging balance"
    assert any("No data yet" in info.value for info in at.info)


def chart_key(at: AppTest) -> str:
    (chart,) = [c for c in at.get("plotly_chart") if "aging_chart" in c.proto.id]
    return user_key_from_element_id(chart.proto.id)


def test_a_chart_segment_sets_the_bucket_filter(app: AppTest) -> None:
    """A click on the 31-60 segment (trace 2) filters the page to I1, 600.00, in the same run."""
    clicked = chart_key(app)
    app.session_state[clicked] = {
        "selection": {"points": [{"curve_number": 2, "point_index": 0, "customdata": "d31_60"}]}
    }
    app.run()
    assert not app.exception, app.exception
    assert app.button_group(key="bucket_filter").value == ["d31_60"]
    assert metric(app, "Total AR (EUR)")[0] == "600.00"
    assert drill_table(app)["total"].to_list() == [600.0]
    # A new chart, with no segment selected: a further run keeps the filter as the pills say.
    assert chart_key(app) != clicked
    app.button_group(key="bucket_filter").set_value([]).run()
    assert metric(app, "Total AR (EUR)")[0] == "950.00"


def test_the_address_opens_the_drilled_view_and_wins_over_the_session(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["drill"] = ["entity=Acme FR", "division=North"]
    at.run()
    at.switch_page("pages/aging.py").run()
    assert not at.exception, at.exception
    assert drill_table(at)["collector"].to_list() == ["Anna"]
    assert [b.label for b in at.button if b.key.startswith("crumb_")] == [
        "All",
        "Entity: Acme FR",
        "Division: North",
    ]
    select_row(at, 0)
    assert drill_param(at) == ["entity=Acme FR", "division=North", "collector=Anna"]
    assert drill_table(at)["customer_name"].to_list() == ["Alpha SARL"]
    # The back button brings the previous address: the page follows it, not the session's steps.
    at.query_params["drill"] = ["entity=Acme FR"]
    at.run()
    assert drill_table(at)["division"].to_list() == ["North"]


@pytest.fixture(scope="module")
def many_items(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo company with some 2,500 open items at its last date (more than two pages)."""
    folder = tmp_path_factory.mktemp("many") / "data"
    demo.create(Store(folder), customers=150, documents=30_000, seed=11, as_of=date(2026, 11, 20))
    return folder


def test_the_document_level_is_sent_a_page_at_a_time(
    many_items: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open items (an installment is one), oldest first, 1,000 a page; the second page follows the
    first."""
    monkeypatch.setenv("AR_DATA_DIR", str(many_items))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/aging.py").run()
    at.multiselect(key="path").set_value(["document"]).run()
    assert not at.exception, at.exception
    (count,) = [c.value for c in at.caption if "document row(s)" in c.value]
    total = int(count.split(" ")[0].replace(",", ""))
    assert total > 1_000
    first = drill_table(at)
    assert len(first) == 1_000
    assert first["days_past_due"].is_monotonic_decreasing
    assert f"Rows 1 to 1,000 of {total:,}, oldest first" in " ".join(c.value for c in at.caption)
    at.pagination[0].set_value(2).run()
    second = drill_table(at)
    assert f"Rows 1,001 to {min(2_000, total):,} of {total:,}" in " ".join(c.value for c in at.caption)
    assert len(second) == min(1_000, total - 1_000)
    assert second["days_past_due"].iloc[0] <= first["days_past_due"].iloc[-1]

    # An item is a document or one of its installments (the demo has some): no item on both pages.
    def items(page) -> set[tuple[str, str]]:
        return set(zip(page["document_id"], page["installment"].astype(str), strict=True))

    assert not items(second) & items(first)


def test_each_drill_opens_the_row_clicked_at_its_own_level(
    many_items: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click on the second entity's name opens its divisions; a click on the last division's name
    then opens that division's collectors: each click acts on the table it was made in, once (a later
    run without a click stays on the level), and the figures add up to the row clicked."""
    monkeypatch.setenv("AR_DATA_DIR", str(many_items))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/aging.py").run()
    assert not at.exception, at.exception
    entities = drill_table(at)
    assert list(entities.columns[:1]) == ["entity"] and len(entities) > 1
    entity = entities["entity"].iloc[1]

    select_row(at, 1)
    assert drill_param(at) == [f"entity={entity}"]
    divisions = drill_table(at)
    assert list(divisions.columns[:1]) == ["division"]
    assert divisions["total"].sum() == pytest.approx(entities["total"].iloc[1])
    last = len(divisions) - 1
    division = divisions["division"].iloc[last]

    select_row(at, last)
    steps = [f"entity={entity}", f"division={division}"]
    assert drill_param(at) == steps
    collectors = drill_table(at)
    assert list(collectors.columns[:1]) == ["collector"]
    assert collectors["total"].sum() == pytest.approx(divisions["total"].iloc[last])
    at.run()
    assert drill_param(at) == steps
    assert list(drill_table(at).columns[:1]) == ["collector"]

    # The customer level: the name, first, is what a click opens (by the customer's id).
    select_row(at, 0)
    customers = drill_table(at)
    assert list(customers.columns[:2]) == ["customer_name", "customer_id"]
    select_row(at, 0)
    assert drill_param(at)[-1] == f"customer={customers['customer_id'].iloc[0]}"
    assert "document_id" in drill_table(at).columns


def test_age_by_document_date_is_kept_in_the_address(
    app: AppTest, ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By document date at 2026-03-31: I1 (01-10) is 80 days old, 600.00 in 61-90; I2 (02-05) 54 days,
    400.00 in 31-60; P3 (03-10) 21 days, -50.00 in 0-30: total 950.00, still all overdue by due date.
    The choice is bound to the address: a link with it opens the same view."""
    app.button_group(key="age_by").set_value("document date").run()
    assert not app.exception, app.exception
    table = drill_table(app)
    assert list(table.columns)[:7] == ["entity", "d0_30", "d31_60", "d61_90", "over_90", "total", "overdue"]
    assert table.iloc[0, 1:7].to_list() == [-50.0, 400.0, 600.0, 0.0, 950.0, 950.0]
    assert metric(app, "Overdue")[0] == "950.00"
    app.button_group(key="bucket_filter").set_value(["d61_90"]).run()
    assert drill_table(app)["total"].to_list() == [600.0]

    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    linked = AppTest.from_file(APP, default_timeout=60)
    linked.query_params["age_by"] = "document date"
    linked.run()
    linked.switch_page("pages/aging.py").run()
    assert not linked.exception, linked.exception
    assert list(drill_table(linked).columns)[1] == "d0_30"


def test_a_data_folder_of_an_older_format_shows_what_to_run(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a data folder written in an older format (no stored periods), the app shows no page and no
    figure but the refusal, naming the command that brings the folder up to date."""
    write_older_format(ledger_store)
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    shown = [error.value for error in at.error]
    assert any(
        markdown_text("run `python -m analytics snapshot` to bring it up to date") in text for text in shown
    ), shown
    assert not at.metric
