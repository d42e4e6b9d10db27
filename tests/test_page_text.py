"""What the data and the address supply is shown as text on the pages (AppTest): no emphasis, colour,
emoji, icon or link comes from a customer's name, a division or a crafted URL parameter.

The ledger of conftest.py with C2 renamed NAME and its division DIVISION; as of 2026-02-01 C2 owes
1,000.00, 17 days past due, so it is on Ben's worklist.

What Streamlit shows of a Markdown text made of backslash escapes is the text without them; it then
turns a bare http:// or www. address or an e-mail address into a link and a :shortcode: into an emoji
(the regular expressions below are the ones of its frontend), which the word joiner breaks.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import CUSTOMERS_CSV, DOCUMENTS_CSV, PAYMENTS_CSV, ROOT, write
from streamlit.testing.v1 import AppTest

from analytics import ingest, worklist
from analytics.store import Store
from pages import _format

NAME = "**Bold** :red[Red] http://evil.example"
DIVISION = "_East_ <i>it</i> :material/home: www.evil.example ben@evil.example :smile:"
DRILL = "**Drill** :blue[Blue] :material/warning: <b>x</b> [link](http://evil.example) https://evil.example"

# Streamlit 1.67's frontend: GFM literal autolinks (mdast-util-gfm-autolink-literal), found in the
# text after the escapes are read, and the shortcodes that load remark-emoji.
AUTOLINKS = (
    re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE),
    re.compile(r"(?<![-.\w+])([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
)
SHORTCODE = re.compile(r":[\w+-][\w_+-]*:")


def shown(markdown: str) -> str:
    """The text CommonMark shows for `markdown` made of text and backslash escapes only."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def assert_literal(markdown: str, value: str) -> None:
    """`value` appears in `markdown` escaped: shown as written, no markup, nothing Streamlit links."""
    assert _format.markdown_text(value) in markdown
    text = shown(markdown)
    assert value in text.replace(_format.WORD_JOINER, "")
    assert not any(pattern.search(text) for pattern in AUTOLINKS), text
    assert not SHORTCODE.search(text), text


def hostile_data(folder: Path) -> Path:
    """A data folder under `folder` holding the ledger with C2 named NAME, in division DIVISION."""
    exports = folder / "exports"
    exports.mkdir()
    customers = CUSTOMERS_CSV.replace("C2,Beta GmbH,Acme DE,East", f"C2,{NAME},Acme DE,{DIVISION}")
    store = Store(folder / "data")
    ingest.import_files(
        store,
        ingest.Sources(
            customers=write(exports, "customers.csv", customers),
            documents=write(exports, "documents.csv", DOCUMENTS_CSV),
            payments=write(exports, "payments.csv", PAYMENTS_CSV),
        ),
    )
    return store.root


@pytest.fixture
def hostile_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = hostile_data(tmp_path)
    monkeypatch.setenv("AR_DATA_DIR", str(root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    return root


def start(page: str, **query: str | list[str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["as_of"] = "2026-02-01"
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    """Every Markdown text of the page: markdown, captions, headers, messages, labels."""
    return [
        element.value
        for kind in (
            "markdown",
            "caption",
            "title",
            "header",
            "subheader",
            "info",
            "warning",
            "error",
            "success",
        )
        for element in getattr(at, kind)
    ] + [button.label for button in at.button]


@pytest.mark.parametrize(
    "value", [NAME, DIVISION, DRILL, "Mail ceo@evil.example or WWW.evil.example", "a\\b"]
)
def test_markdown_text_leaves_nothing_to_link_or_colour(value: str) -> None:
    escaped = _format.markdown_text(value)
    assert_literal(escaped, value)
    assert not re.search(r"(?<!\\)[<>\[\]()!*_`#:$~|@]", escaped.replace("\\\\", ""))


def test_markdown_text_keeps_plain_sentences_as_they_are() -> None:
    """Only what would link or become an emoji gets a joiner: a message reads as before."""
    assert _format.markdown_text("Saved: 2 items qualified.") == r"Saved\: 2 items qualified\."


def test_the_aging_breadcrumb_shows_a_crafted_drill_as_text(hostile_dir: Path) -> None:
    at = start("pages/aging.py", drill=f"entity={DRILL}")
    crumb = at.button(key="crumb_0")
    assert crumb.label == f"Entity: {_format.markdown_text(DRILL)}"
    assert_literal(crumb.label, DRILL)
    assert at.info[0].value.startswith("No open items match these filters.")


def test_the_aging_page_shows_a_hostile_customer_and_scope_as_text(hostile_dir: Path) -> None:
    at = start(
        "pages/aging.py",
        drill=["entity=Acme DE", f"division={DIVISION}", "collector=Ben"],
        scope_division=DIVISION,
    )
    assert [b.label for b in at.button if b.key and b.key.startswith("crumb_")][1:3] == [
        "Entity: Acme DE",
        f"Division: {_format.markdown_text(DIVISION)}",
    ]
    (caption,) = [c.value for c in at.caption if c.value.startswith("As of 2026-02-01")]
    assert_literal(caption, f"Division: {DIVISION}")
    # The table's cells are plain text already: the name as written, not escaped twice.
    table = at.dataframe[0].value
    assert table["customer_name"].tolist() == [NAME]
    assert table["total"].tolist() == [1000.0]
    for text in texts(at):
        assert "**Bold**" not in text and "http://" not in shown(text)


def test_charts_show_a_hostile_division_as_text(hostile_dir: Path) -> None:
    """Plotly reads <b>, <i> and <a href> in axis labels: the division's are escaped, shown as written."""
    at = start("pages/aging.py", drill="entity=Acme DE")
    (chart,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "aging_chart" in c.proto.id]
    labels = {label for trace in chart["data"] for label in trace["x"]}
    assert labels == {html.escape(DIVISION, quote=False)}
    assert "&lt;i&gt;it&lt;/i&gt;" in labels.pop()


def test_the_customer_page_shows_a_hostile_customer_and_a_crafted_id_as_text(hostile_dir: Path) -> None:
    at = start("pages/customer.py", customer="C2")
    assert at.selectbox(key="customer_pick_C2").value == "C2"
    (identity,) = [m.value for m in at.markdown if "**Division**" in m.value]
    assert_literal(identity, DIVISION)
    at.session_state["customer_items_C2"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.button(key="customer_panel").click().run()
    (panel,) = [m.value for m in at.markdown if m.value.startswith("**1 item(s)** of")]
    assert_literal(panel, NAME)

    crafted = start("pages/customer.py", customer=DRILL, scope_division=DIVISION)
    (warning,) = [w.value for w in crafted.warning if w.value.startswith("No customer")]
    assert warning == (
        f"No customer {_format.markdown_text(DRILL)} in your scope "
        f"({_format.markdown_text(f'Division: {DIVISION}')})."
    )
    assert_literal(warning, DRILL)
    assert_literal(warning, f"Division: {DIVISION}")


def test_the_worklist_shows_a_hostile_customer_as_text(hostile_dir: Path) -> None:
    at = start("pages/worklist.py")
    table = next(frame.value for frame in at.dataframe if "priority_score" in frame.value.columns)
    assert table["customer_name"].tolist() == [NAME]
    (key,) = [
        f"worklist_{section}_0"
        for section in worklist.SECTIONS
        if f"worklist_{section}_0" in at.session_state
    ]
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (heading,) = [h.value for h in at.subheader if "C2" in h.value]
    assert heading == f"{_format.markdown_text(NAME)} (C2)"
    assert_literal(heading, NAME)
