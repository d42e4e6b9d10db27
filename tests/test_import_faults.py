"""Faults while an import writes the data folder: a folder the importing user may not write, and a full
disk. Both give one clear message (the command line: on standard error, exit status 1; the Data page:
an error box), remove what was begun, and leave the previous data live and readable.

Tests run as root, whom permissions do not stop: the import runs in a child process as the user nobody
(when not root, the folders are made read-only instead). A full disk is a child process whose file
size limit (RLIMIT_FSIZE) is smaller than the first Parquet file it writes: the write fails with
EFBIG, "File too large", as it would with ENOSPC on a full disk.

A folder the user may only read also makes a report refuse before it prints anything (its audit line
cannot be recorded), and the commands and the app that open the collections database name the folder
read-only rather than blaming another instance. A child that loads modules lazily (the app) cannot
become nobody, who may not read this Python's standard library: it runs as root without its
capabilities (setpriv), which the permission bits then bind like any user.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import CUSTOMERS_CSV, DOCUMENTS_CSV, PAYMENTS_CSV, ROOT, write

from analytics import aging, contract, export, ingest
from analytics.collections import CollectionsDB
from analytics.store import Store

NOBODY = 65534
# Smaller than any Parquet file of the ledger, larger than the uploaded CSV file the page writes.
FILE_SIZE_LIMIT = 1024
AS_OF = date(2026, 3, 10)
NEW_INVOICE_CSV = DOCUMENTS_CSV.splitlines()[0] + "\nI5,invoice,C2,2026-03-02,2026-04-01,EUR,250.00,\n"


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another user can read (pytest's own temporary folders are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="ar-faults-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def store(shared_folder: Path) -> Store:
    """The hand-worked ledger in a data folder under shared_folder, and a new invoice to import."""
    exports = shared_folder / "exports"
    exports.mkdir(mode=0o755)
    ingest.import_files(
        Store(shared_folder / "data"),
        ingest.Sources(
            customers=write(exports, "customers.csv", CUSTOMERS_CSV),
            documents=write(exports, "documents.csv", DOCUMENTS_CSV),
            payments=write(exports, "payments.csv", PAYMENTS_CSV),
        ),
    )
    write(exports, "new_documents.csv", NEW_INVOICE_CSV)
    # The app opens the collections database at start: it is there before, as in use.
    CollectionsDB.for_store(Store(shared_folder / "data")).close()
    for path in shared_folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return Store(shared_folder / "data")


def state(store: Store) -> tuple:
    """What a reader sees: the live generation, every file of the folder, the stored documents and the
    aging at 2026-03-10 (total 1,250.00, of which 1,000.00 overdue)."""
    items = aging.aged_items(store, AS_OF)
    report = aging.report(items, AS_OF, "entity", contract.DEFAULT_BUCKETS)
    # The analytic store's files: not the collections database (the app writes it on its own), nor the
    # Data page's upload area, left empty (its folder may remain).
    files = sorted(
        str(p.relative_to(store.root))
        for p in store.root.rglob("*")
        if p.name != "uploads" and not p.name.startswith("collections.duckdb")
    )
    return store.version(), files, store.read(contract.DOCUMENTS).to_dicts(), report.to_dicts()


def unwritable(store: Store) -> dict[str, str]:
    """The environment of a child unable to write the data folder: it becomes nobody when root."""
    if os.geteuid() != 0:
        for folder in (store.root, store.root / "generations"):
            folder.chmod(0o555)
        return {}
    return {"AR_TEST_BECOME": str(NOBODY)}


# The start of every child's script: load the modules it needs, then become the user asked for.
BECOME = """
import os, sys
{imports}
if "AR_TEST_BECOME" in os.environ:
    user = int(os.environ["AR_TEST_BECOME"])
    os.setgroups([])
    os.setgid(user)
    os.setuid(user)
"""
CLI_SCRIPT = BECOME.format(imports="from analytics import cli") + "sys.exit(cli.main(sys.argv[1:]))\n"


def with_small_files() -> None:
    """In the child: writing past FILE_SIZE_LIMIT bytes fails with EFBIG instead of a signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def child_env(store: Store) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(store.root.parent),
        "AR_DATA_DIR": str(store.root),
        "AR_NO_DEMO": "1",
    }


def import_new_invoice(
    store: Store, env: dict[str, str] | None = None, **child: object
) -> subprocess.CompletedProcess[str]:
    """`python -m analytics import --data DIR --documents new_documents.csv` in a child process."""
    documents = store.root.parent / "exports" / "new_documents.csv"
    arguments = ["import", "--data", str(store.root), "--documents", str(documents)]
    return subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, *arguments],
        env={**child_env(store), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        **child,
    )


def read_only_data_folder(store: Store) -> list[str]:
    """The data folder made read-only, and the command prefix that keeps a child from overriding that:
    root without its capabilities, bound by the permissions like any user (the app cannot load its
    modules as nobody, who may not read this Python's standard library in root's home)."""
    for folder in (store.root, store.root / "generations"):
        folder.chmod(0o555)
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]


def restore_permissions(store: Store) -> None:
    for folder in (store.root, store.root / "generations"):
        folder.chmod(0o755)


def unwritable_message(store: Store, fault: str, reason: str) -> str:
    """What a writer says: a folder this user may not write is named read-only, a full disk is not."""
    if fault == "unwritable":
        return f"{store.root} is read-only for this user: {reason}; the previous data is unchanged"
    return f"cannot write to the data folder {store.root}: {reason}; the previous data is unchanged"


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("unwritable", "Permission denied"), ("full", "File too large")],
    ids=["unwritable folder", "full disk"],
)
def test_the_command_line_says_the_folder_cannot_be_written(store: Store, fault: str, reason: str) -> None:
    before = state(store)
    try:
        if fault == "unwritable":
            result = import_new_invoice(store, unwritable(store))
        else:
            result = import_new_invoice(store, preexec_fn=with_small_files)
    finally:
        restore_permissions(store)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == f"error: {unwritable_message(store, fault, reason)}"
    assert "Traceback" not in result.stderr
    assert state(Store(store.root)) == before
    # Nothing is wedged: the same import, able to write, lands.
    landed = import_new_invoice(store)
    assert landed.returncode == 0, landed.stderr
    assert Store(store.root).manifest().documents == 6


APP_SCRIPT = """
import json, sys
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

# As conftest's navigation_app fixture: keep AppTest from running the page without app.py.
original_init = PagesManager.__init__
def init(self, *args, **kwargs):
    PagesManager.uses_pages_directory = False
    original_init(self, *args, **kwargs)
PagesManager.__init__ = init

at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
at.switch_page("pages/data.py").run()
with open(sys.argv[2], "rb") as handle:
    at.file_uploader(key="upload_documents").upload("new_documents.csv", handle.read(), "text/csv")
at.run()
clicked = [b for b in at.button if b.key == "import_button"]
if clicked:
    clicked[0].click().run()
print(json.dumps({
    "errors": [e.value for e in at.error],
    "exceptions": [e.value for e in at.exception],
    "success": [s.value for s in at.success],
    "documents": {m.label: m.value for m in at.metric}.get("Documents"),
}))
"""


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("unwritable", "Permission denied"), ("full", "File too large")],
    ids=["unwritable folder", "full disk"],
)
def test_the_data_page_says_the_folder_cannot_be_written(store: Store, fault: str, reason: str) -> None:
    """The Data page in a child process under the fault: the upload (unwritable folder) or the import
    (full disk) fails with the message in an error box, no exception; the page still shows the five
    stored documents."""
    before = state(store)
    prefix, child = [], {}
    if fault == "unwritable":
        prefix = read_only_data_folder(store)
    else:
        child = {"preexec_fn": with_small_files}
    documents = store.root.parent / "exports" / "new_documents.csv"
    try:
        result = subprocess.run(
            [*prefix, sys.executable, "-c", APP_SCRIPT, str(ROOT / "app.py"), str(documents)],
            env=child_env(store),
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
            **child,
        )
    finally:
        restore_permissions(store)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout.strip().splitlines()[-1])
    assert page == {
        "errors": [export.markdown_text(unwritable_message(store, fault, reason))],
        "exceptions": [],
        "success": [],
        "documents": "5",
    }
    assert state(Store(store.root)) == before
    assert [p for p in (store.root / "uploads").rglob("*") if p.is_file()] == []


def run_cli_as_reader(store: Store, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m analytics ARGUMENTS` in a child process that may read the data folder, not write it."""
    return subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, *arguments],
        env={**child_env(store), **unwritable(store)},
        capture_output=True,
        text=True,
        timeout=120,
    )


ACTIONS_CSV = "customer_id,document_id,event_type,date,user_name,note\nC1,I1,action,2026-03-05,ann,called\n"


@pytest.mark.parametrize(
    "command",
    [
        ["report", "aging", "--as-of", "2026-03-10"],
        ["report", "dso", "--from", "2026-01", "--to", "2026-03"],
    ],
    ids=["report aging", "report dso"],
)
def test_a_report_that_cannot_be_audited_is_not_made(store: Store, command: list[str]) -> None:
    """Every export is recorded in the audit trail: on a folder this user may not write, the report
    is refused before anything is printed, and says why (it used to print, then fail)."""
    (store.root / "audit.jsonl").write_text("")
    before = state(store)
    try:
        result = run_cli_as_reader(store, *command, "--data", str(store.root))
    finally:
        restore_permissions(store)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {store.root} is read-only for this user: Permission denied; nothing was exported, as "
        f"every export is recorded in {store.root / 'audit.jsonl'}\n"
    )
    assert state(Store(store.root)) == before
    assert (store.root / "audit.jsonl").read_text() == ""


@pytest.mark.parametrize(
    "command",
    [
        ["actions", "export"],
        ["actions", "import", "--file", "ACTIONS"],
        ["demo", "--customers", "5", "--documents", "40"],
    ],
    ids=["actions export", "actions import", "demo"],
)
def test_a_read_only_folder_is_named_so_not_another_instance(store: Store, command: list[str]) -> None:
    """The collections database cannot be opened by a user who may not write the folder: the message
    says so, rather than blaming another instance of the app."""
    actions = write(store.root.parent / "exports", "actions.csv", ACTIONS_CSV)
    command = [str(actions) if part == "ACTIONS" else part for part in command]
    before = state(store)
    try:
        result = run_cli_as_reader(store, *command, "--data", str(store.root))
    finally:
        restore_permissions(store)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"error: {store.root} is read-only for this user: Permission denied; collections.duckdb cannot be opened"
    )
    assert "another instance" not in result.stderr
    assert state(Store(store.root)) == before


NOTICE_SCRIPT = """
import json, sys
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
print(json.dumps({"warnings": [w.value for w in at.warning], "exceptions": [e.value for e in at.exception]}))
"""


def test_the_app_says_a_read_only_folder_is_read_only(store: Store) -> None:
    """The app on a folder this user may not write: the notice at the top of the page says so (it
    used to blame another instance), and the figures still show without an exception."""
    prefix = read_only_data_folder(store)
    database = store.root / "collections.duckdb"
    database.chmod(0o444)
    try:
        result = subprocess.run(
            [*prefix, sys.executable, "-c", NOTICE_SCRIPT, str(ROOT / "app.py")],
            env=child_env(store),
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )
    finally:
        restore_permissions(store)
        database.chmod(0o644)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout.strip().splitlines()[-1])
    said = f"{store.root} is read-only for this user: Permission denied; collections.duckdb cannot be opened"
    assert page["exceptions"] == []
    # After the demo mode banner: the notice.
    assert page["warnings"][1:] == [
        f"Read-only: {export.markdown_text(said)}. The figures are shown; qualifications, actions and "
        "recovery steps are not. Give this user the right to write the data folder, then reload "
        "this page."
    ]
