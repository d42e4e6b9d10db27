"""The app when the PostgreSQL server of AR_COLLECTIONS_URL cannot be reached (a closed port): a
notice at the top of every page names the database and says what to do, the figures still show, what
needs the collections database gives way with a line saying why; no traceback, and the next run tries
the server again."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.store import Store
from pages._format import markdown_text

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
NEEDS = "This part needs the collections database, whose server cannot be reached (see above)."


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def url(ledger_store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    address = f"postgresql://ar:secret@127.0.0.1:{closed_port()}/collections"
    monkeypatch.setenv("AR_COLLECTIONS_URL", address)
    monkeypatch.setenv("AR_DATA_DIR", str(ledger_store.root))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    return address


def notice(port: str) -> str:
    said = (
        f"the collections database postgresql://ar@127.0.0.1:{port}/collections (AR_COLLECTIONS_URL) "
        f'cannot be reached: connection failed: connection to server at "127.0.0.1", port {port} '
        "failed: Connection refused"
    )
    return (
        f"Read-only: {markdown_text(said)}. The figures are shown; qualifications, actions and recovery "
        "steps are not. Start the PostgreSQL server, or correct AR_COLLECTIONS_URL, then reload this page."
    )


def test_pages_say_the_server_cannot_be_reached(url: str) -> None:
    """The overview, the customer page and the worklist each say once at the top that the server
    cannot be reached (without the URL's password); the customer's figures show, its items give way;
    the worklist shows no figures."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning][1:] == [notice(port)]  # after the demo mode banner
    assert "secret" not in at.warning[1].value
    assert any(m.label == "Receivables (EUR)" for m in at.metric)

    at.query_params["customer"] = "C1"
    at.switch_page("pages/customer.py").run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning][1:] == [notice(port)]  # after the demo mode banner
    assert {m.label: m.value for m in at.metric}["Open (EUR)"] == "950.00"
    assert [i.value for i in at.info if i.value == NEEDS] == [NEEDS]

    at.switch_page("pages/worklist.py").run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning][1:] == [notice(port)]  # after the demo mode banner
    assert [i.value for i in at.info] == [NEEDS]
    assert not at.metric


def test_a_command_says_the_server_cannot_be_reached(url: str, ledger_store: Store, cli_env: dict) -> None:
    """`actions export` with the server down: one line naming the database and the reason, no
    traceback, a failure status, nothing on standard output."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    result = subprocess.run(
        [sys.executable, "-m", "analytics", "actions", "export", "--data", str(ledger_store.root)],
        env={**cli_env, "AR_COLLECTIONS_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: the collections database postgresql://ar@127.0.0.1:{port}/collections (AR_COLLECTIONS_URL) "
        f'cannot be reached: connection failed: connection to server at "127.0.0.1", port {port} '
        "failed: Connection refused"
    )
    assert "Traceback" not in result.stderr
