"""Hostile values wherever a user's text reaches a query or a page: scope filters, --where and --by of
the command line, drill keys, action comments; names shown on pages; uploaded file names. A value
matches nothing or is stored as written, a name is refused with the list of allowed ones, the data is
unchanged, and text from the data is shown as text, never as HTML, a link or an image.

The ledger is conftest.py's: at 2026-03-10 Acme FR has 1,250.00 open, Acme DE nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import CUSTOMERS_CSV, DOCUMENTS_CSV, ROOT, write
from streamlit.testing.v1 import AppTest

from analytics import aging, contract, export, ingest, submissions
from analytics.collections import CollectionsDB, history
from analytics.scope import Scope, customers_in_scope
from analytics.store import Store
from analytics.submissions import Action, Submission
from pages import _format

AS_OF = date(2026, 3, 10)
HOSTILE = [
    "'; drop table documents; --",
    '") or 1=1 --',
    "' or '1'='1",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![img](http://x)",
]


def stored(store: Store) -> tuple:
    """The data as every page reads it: the live generation and each table."""
    return (
        store.version(),
        store.read(contract.CUSTOMERS).to_dicts(),
        store.read(contract.DOCUMENTS).to_dicts(),
        store.read(contract.PAYMENTS).to_dicts(),
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_a_scope_value_matches_nothing(ledger_store: Store, value: str) -> None:
    before = stored(ledger_store)
    scope = Scope.of({"entity": [value], "collector": ["Anna"]})
    assert customers_in_scope(ledger_store.connect(), scope).height == 0
    assert aging.aged_items(ledger_store, AS_OF, scope).height == 0
    # The same value beside a real one adds nothing: Acme FR's figures stand.
    both = Scope.of({"entity": ["Acme FR", value]})
    assert aging.aged_items(ledger_store, AS_OF, both).get_column("open_amount_functional").sum() == 1250
    assert stored(ledger_store) == before


@pytest.mark.parametrize("name", HOSTILE[:3])
def test_a_scope_dimension_name_is_refused_with_the_allowed_ones(name: str) -> None:
    with pytest.raises(ValueError) as refused:
        Scope.of({name: ["x"]})
    assert str(refused.value) == (
        f"unknown dimension(s) in scope: {name!r}; choose among: {', '.join(contract.DIMENSIONS)}"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_a_drill_key_matches_nothing(ledger_store: Store, value: str) -> None:
    """The aging drill filters items by the key of each step taken: a hostile key is a value like any
    other, which no item has."""
    items = aging.aged_items(ledger_store, AS_OF)
    for level in ("entity", aging.CUSTOMER, aging.DOCUMENT):
        request = aging.AgingQuery(AS_OF, by=aging.DOCUMENT, drill=((level, value),))
        assert aging.select_items(items, request).height == 0
        assert aging.aging(items, request).total == 0
    request = aging.AgingQuery(AS_OF, by=aging.CUSTOMER, drill=(("entity", "Acme FR"),))
    assert aging.aging(items, request).total == 1250


def test_a_drill_level_is_refused_with_the_allowed_ones() -> None:
    for level in HOSTILE[:3]:
        with pytest.raises(ValueError) as refused:
            aging.AgingQuery(AS_OF, drill=((level, "x"),))
        allowed = ", ".join((*contract.DIMENSIONS, aging.CUSTOMER, aging.DOCUMENT))
        assert str(refused.value) == f"unknown dimension {level!r}; choose one of: {allowed}"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_command_line_where_and_by(ledger_store: Store, cli_env: dict[str, str]) -> None:
    """--where with a hostile value gives a report with no rows; a hostile DIM in --where or --by is
    refused (exit status 2) naming the allowed dimensions; the data is unchanged."""
    before = stored(ledger_store)
    data = ["--data", str(ledger_store.root)]
    for value in (HOSTILE[0], HOSTILE[1], HOSTILE[5]):
        report = run(cli_env, "report", "aging", *data, "--as-of", "2026-03-10", "--where", f"entity={value}")
        assert report.returncode == 0, report.stderr
        (row,) = pl.read_csv(report.stdout.encode(), infer_schema=False).to_dicts()
        assert (row["scope"], row["total"]) == (f"Entity: {value}", "0.00")
        dso = run(
            cli_env,
            "report",
            "dso",
            *data,
            "--from",
            "2026-01",
            "--to",
            "2026-03",
            "--where",
            f"region={value}",
        )
        assert dso.returncode == 0, dso.stderr
        months = pl.read_csv(dso.stdout.encode(), infer_schema=False)
        assert months.get_column("period").to_list() == ["2026-01-31", "2026-02-28", "2026-03-31"]
        assert set(months.get_column("ar_total")) | set(months.get_column("sales")) == {"0.00"}
    allowed = ", ".join(contract.DIMENSIONS)
    for name in HOSTILE[:2]:
        where = run(cli_env, "report", "aging", *data, "--as-of", "2026-03-10", "--where", f"{name}=x")
        assert where.returncode == 2
        dimension = name.partition("=")[0]  # DIM=VALUE is split at its first "="
        assert where.stderr.strip() == f"error: unknown dimension {dimension!r}; choose one of: {allowed}"
        by = run(cli_env, "report", "aging", *data, "--as-of", "2026-03-10", "--by", name)
        assert by.returncode == 2
        assert "argument --by: invalid choice" in by.stderr
        assert "Traceback" not in by.stderr + where.stderr
    assert stored(ledger_store) == before


def test_a_comment_is_stored_as_written(ledger_store: Store) -> None:
    """Hostile comments and contact names are recorded verbatim, and nothing else changes."""
    before = stored(ledger_store)
    with CollectionsDB.for_store(ledger_store) as db:
        for comment in HOSTILE:
            submissions.submit(
                db,
                Submission(action=Action("C1", "call", "reached", comment=comment, contact_person=comment)),
                store=ledger_store,
                as_of=AS_OF,
                scope=Scope(),
                user="'; drop table actions; --",
            )
        story = history(db, customer_id="C1")
    assert sorted(story.get_column("comment").to_list()) == sorted(HOSTILE)
    assert set(story.get_column("user_name").to_list()) == {"'; drop table actions; --"}
    assert stored(ledger_store) == before


# --- shown as text -----------------------------------------------------------------------------


def unescaped(markdown: str) -> str:
    """The text CommonMark shows for `markdown` made of text and backslash escapes only."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


@pytest.mark.parametrize("value", [*HOSTILE, "**bold** _it_ `code` # h", ":red[x] $x^2$ ~~s~~", "a\\b | c"])
def test_markdown_text_shows_the_value_as_written(value: str) -> None:
    escaped = export.markdown_text(value)
    assert unescaped(escaped) == value
    # Every markup character is escaped: none can open a tag, a link, an image or emphasis.
    assert not re.search(r"(?<!\\)[<>\[\]()!*_`#:$~|]", escaped.replace("\\\\", ""))


def test_markdown_text_of_several_lines_is_one_line() -> None:
    assert export.markdown_text("Alpha\n# Title\r\n> quote") == r"Alpha \# Title \> quote"


@pytest.fixture
def hostile_store(tmp_path: Path) -> Store:
    """The ledger with C1 named <b>x</b>, in division ![img](http://x)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    customers = CUSTOMERS_CSV.replace("C1,Alpha SARL,Acme FR,North", "C1,<b>x</b>,Acme FR,![img](http://x)")
    store = Store(tmp_path / "data")
    ingest.import_files(
        store,
        ingest.Sources(
            customers=write(folder, "customers.csv", customers),
            documents=write(folder, "documents.csv", DOCUMENTS_CSV),
        ),
    )
    return store


def test_the_customer_page_shows_a_hostile_name_and_division_as_text(
    hostile_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AR_DATA_DIR", str(hostile_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["customer"] = "C1"
    at.run()
    at.switch_page("pages/customer.py").run()
    assert not at.exception, [e.value for e in at.exception]
    (identity,) = [m.value for m in at.markdown if "**Division**" in m.value]
    assert "**Division** " + _format.markdown_text("![img](http://x)") in identity
    assert "**Division** ![img](http://x)" in unescaped(identity).replace(_format.WORD_JOINER, "")
    everything = (
        [m.value for m in at.markdown] + [c.value for c in at.caption] + [h.value for h in at.subheader]
    )
    assert not any("![img](" in text or "<b>x</b>" in text for text in everything)
    assert at.selectbox(key="customer_pick_C1").value == "C1"


def test_the_dso_page_names_a_hostile_focus_as_text(
    hostile_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By division, focused on ![img](http://x): the page says what it is narrowed to, as text."""
    monkeypatch.setenv("AR_DATA_DIR", str(hostile_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/dso.py").run()
    at.selectbox(key="dso_by").set_value("division").run()
    at.query_params["focus"] = "![img](http://x)"  # as a click on that division's line sets it
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    narrowed = [m.value for m in at.markdown if m.value.startswith("Narrowed to")]
    assert narrowed == [f"Narrowed to **Division {_format.markdown_text('![img](http://x)')}**."]


# --- uploaded file names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "saved"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path.csv", "path.csv"),
        ("..\\x.csv", "x.csv"),
        ("C:\\Users\\me\\documents.xlsx", "documents.xlsx"),
        ("a\x00b.csv", "a_b.csv"),
        ("..", "upload"),
        (".", "upload"),
        ("", "upload"),
        (".hidden.csv", "hidden.csv"),
        ("x" * 5000 + ".csv", "x" * 100 + ".csv"),
    ],
)
def test_an_uploaded_file_name_is_reduced_to_a_harmless_last_part(name: str, saved: str) -> None:
    assert ingest.upload_file_name(name) == saved


# A name with a NUL byte is refused by Streamlit's uploader itself; upload_file_name is tested with one.
@pytest.mark.parametrize("name", ["../../escaped.csv", "/tmp/escaped.csv", "..\\escaped.csv"])
def test_an_upload_cannot_write_outside_the_upload_area(
    ledger_store: Store, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The Data page saves an upload under DATA/uploads/<id>/documents/ whatever its name says; the
    import lands under the harmless name and nothing appears beside the data folder."""
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    outside = sorted(ledger_store.root.parent.rglob("*"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/data.py").run()
    new_invoice = DOCUMENTS_CSV.splitlines()[0] + "\nI5,invoice,C2,2026-03-02,2026-04-01,EUR,250.00,\n"
    at.file_uploader(key="upload_documents").upload(name, new_invoice.encode(), "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="import_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == ["Imported 1 document."]
    files = ledger_store.imports().get_column("files").to_list()
    assert files[0] == f"documents: {ingest.upload_file_name(name)}"
    assert not Path("/tmp/escaped.csv").exists()
    added = [p for p in sorted(ledger_store.root.parent.rglob("*")) if p not in outside]
    assert all(p.is_relative_to(ledger_store.root) for p in added)
    assert [p for p in (ledger_store.root / "uploads").rglob("*") if p.is_file()] == []
    assert pl.Series(files).str.contains("escaped").any()
