"""The data folder is safe from the command line's own outputs and from a broken `current` link.

`--output` inside the data folder (the live link, the users file, the collections database, a
generation's manifest; named directly, through `..` or through a link) is refused with exit status 2
before anything is read or written: the folder is byte for byte what it was, and the next import
still starts from the stored data. An `--output` that is a folder is refused the same way, and a
write that fails leaves no `.partial` file behind.

A `current` that is not a link to a generation inside generations/ (a file, a folder, a dangling link,
a link elsewhere) makes every writer refuse, naming the problem, and readers say so without a
traceback; no generation is removed.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import DOCUMENTS_CSV, write

from analytics import contract, ingest
from analytics.collections import CollectionsDB
from analytics.store import DataFolderDamaged, ImportRecord, Store, Tables

NEW_INVOICE_CSV = DOCUMENTS_CSV.splitlines()[0] + "\nI5,invoice,C2,2026-03-02,2026-04-01,EUR,250.00,\n"


def run(env: dict[str, str], *args: str, **child: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **child,
    )


@pytest.fixture
def data(ledger_store: Store, cli_env: dict[str, str]) -> Path:
    """The hand-worked ledger's data folder with its collections database, a users file and an audit
    trail, as a working folder has them."""
    CollectionsDB.for_store(ledger_store).close()
    added = subprocess.run(
        [sys.executable, "-m", "analytics", "users", "add", "ada", "--role", "admin"]
        + ["--data", str(ledger_store.root), "--password-stdin"],
        input="a long enough password\n",
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    return ledger_store.root


def fingerprint(folder: Path) -> dict[str, str]:
    """Every entry of the folder: a link's target, a file's SHA-256 (a folder: 'folder')."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            entries[name] = "-> " + os.readlink(path)
        elif path.is_dir():
            entries[name] = "folder"
        else:
            entries[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


def aging_csv(env: dict[str, str], data: Path) -> str:
    result = run(env, "report", "aging", "--data", str(data), "--as-of", "2026-03-10", "--user", "ada")
    assert result.returncode == 0, result.stderr
    return result.stdout


# Outputs inside the data folder, as a user might type them: (what the test creates first, --output).
INSIDE = {
    "the live link": "DATA/current",
    "the users file": "DATA/users.json",
    "the collections database": "DATA/collections.duckdb",
    "the audit trail through ..": "DATA/../data/audit.jsonl",
    "a generation's manifest through the link": "DATA/current/manifest.json",
    "a new file in the data folder": "DATA/aging.csv",
    "the data folder itself": "DATA",
    "a link to the live link": "LINK_TO_CURRENT",
    "a file under a link to the data folder": "LINK_TO_DATA/report.csv",
}


def output_path(spelled: str, data: Path) -> str:
    outside = data.parent / "reports"
    outside.mkdir(exist_ok=True)
    if spelled == "LINK_TO_CURRENT":
        (outside / "latest.csv").symlink_to(data / "current")
        return str(outside / "latest.csv")
    if spelled.startswith("LINK_TO_DATA"):
        (outside / "data-link").symlink_to(data)
        return str(outside / "data-link" / "report.csv")
    return spelled.replace("DATA", str(data))


@pytest.mark.parametrize("spelled", INSIDE.values(), ids=INSIDE.keys())
def test_report_output_inside_the_data_folder_is_refused(
    data: Path, cli_env: dict[str, str], spelled: str
) -> None:
    output = output_path(spelled, data)
    figures = aging_csv(cli_env, data)
    before = fingerprint(data)
    result = run(
        cli_env,
        "report",
        "aging",
        "--data",
        str(data),
        "--as-of",
        "2026-03-10",
        "--by",
        "customer",
        "--output",
        output,
        "--user",
        "ada",
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: --output {output} is inside the data folder {data}")
    assert result.stderr.rstrip().endswith("write the report elsewhere; nothing was written")
    assert fingerprint(data) == before
    assert aging_csv(cli_env, data) == figures


REFUSED_COMMANDS = {
    "report dso": ["report", "dso", "--from", "2026-01", "--to", "2026-03"],
    "report forecast": ["report", "forecast", "--as-of", "2026-03-10"],
    "actions export": ["actions", "export"],
}


@pytest.mark.parametrize("command", REFUSED_COMMANDS.values(), ids=REFUSED_COMMANDS.keys())
def test_every_command_with_an_output_refuses_the_live_link(
    data: Path, cli_env: dict[str, str], command: list[str]
) -> None:
    before = fingerprint(data)
    output = data / "current"
    result = run(cli_env, *command, "--data", str(data), "--output", str(output), "--user", "ada")
    assert result.returncode == 2, result.stderr
    assert f"error: --output {output} is inside the data folder {data} (it leads to " in result.stderr
    assert fingerprint(data) == before


def test_after_a_refused_output_the_next_import_keeps_the_stored_data(
    data: Path, cli_env: dict[str, str]
) -> None:
    """The destruction the refusal prevents: a report over `current`, then an import of one new
    invoice, used to leave only that invoice (and remove the earlier generations)."""
    aging = ["report", "aging", "--data", str(data), "--as-of", "2026-03-10", "--user", "ada"]
    assert run(cli_env, *aging, "--output", str(data / "current")).returncode == 2
    documents = write(data.parent, "new_documents.csv", NEW_INVOICE_CSV)
    result = run(cli_env, "import", "--data", str(data), "--documents", str(documents), "--user", "ada")
    assert result.returncode == 0, result.stderr
    stored = Store(data).read(contract.DOCUMENTS).get_column("document_id").sort().to_list()
    assert stored == ["CN1", "I1", "I2", "I3", "I4", "I5"]


def test_an_output_that_is_a_folder_is_refused_before_anything_is_written(
    data: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    trail = (data / "audit.jsonl").read_bytes()
    result = run(
        cli_env, "report", "aging", "--data", str(data), "--as-of", "2026-03-10", "--output", str(folder)
    )
    result_user = run(
        cli_env,
        "report",
        "aging",
        "--data",
        str(data),
        "--as-of",
        "2026-03-10",
        "--output",
        str(folder),
        "--user",
        "ada",
    )
    for refused in (result, result_user):
        assert refused.returncode == 2, refused.stderr
        assert (
            refused.stderr == f"error: --output {folder} is a folder: give a file name; nothing was written\n"
        )
    assert list(folder.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    assert (data / "audit.jsonl").read_bytes() == trail


def test_an_output_in_a_missing_folder_is_refused(
    data: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "nowhere" / "aging.csv"
    result = run(
        cli_env, "report", "aging", "--data", str(data), "--as-of", "2026-03-10", "--output", str(output)
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"error: --output {output}: there is no folder {tmp_path / 'nowhere'}; nothing was written\n"
    )


def small_files() -> None:
    """In the child: writing past 64 KiB fails with EFBIG ("File too large") instead of a signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))


def test_a_failed_write_of_the_output_leaves_no_partial_file(
    demo_data_dir: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The demo company's aging by document (6,000 documents: far more than 64 KiB of CSV) written by a
    process that may not write files past 64 KiB: the write fails with its reason, the earlier report
    at --output is what it was and no .partial file stays."""
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data, symlinks=True)
    reports = tmp_path / "reports"
    reports.mkdir()
    output = write(reports, "aging.csv", "the earlier report")
    aging = ["report", "aging", "--data", str(data), "--as-of", "2026-11-20", "--by", "document"]
    result = run(cli_env, *aging, "--output", str(output), preexec_fn=small_files)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: [Errno 27] File too large"), result.stderr
    assert sorted(p.name for p in reports.iterdir()) == ["aging.csv"]
    assert output.read_text() == "the earlier report"


# --- a broken `current` --------------------------------------------------------------------------------


def damage(data: Path, kind: str) -> str:
    """Replace the live link by `kind`; returns what the message says about it."""
    link = data / "current"
    generation = link.resolve()
    link.unlink()
    if kind == "a file":
        link.write_text("not a link")
        return f"{link} is a file, not a link to a generation"
    if kind == "a folder":
        link.mkdir()
        (link / "manifest.json").write_text((generation / "manifest.json").read_text())
        return f"{link} is a folder, not a link to a generation"
    if kind == "a dangling link":
        link.symlink_to(Path("generations") / "g-gone")
        return f"{link} points to generations/g-gone, which does not exist"
    # A copy of the live generation outside generations/.
    elsewhere = data.parent / "elsewhere"
    shutil.copytree(generation, elsewhere)
    link.symlink_to(elsewhere)
    return f"{link} points to {elsewhere}, outside {data / 'generations'}"


DAMAGE = ["a file", "a folder", "a dangling link", "a link elsewhere"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_broken_current_makes_the_writers_refuse_and_removes_nothing(
    data: Path, cli_env: dict[str, str], kind: str
) -> None:
    documents = write(data.parent, "new_documents.csv", NEW_INVOICE_CSV)
    said = damage(data, kind)
    before = fingerprint(data)
    commands = {
        "import": ["import", "--documents", str(documents)],
        "snapshot": ["snapshot", "--as-of", "2026-03-10"],
        "demo": ["demo", "--customers", "5", "--documents", "40", "--no-history"],
        "report aging": ["report", "aging", "--as-of", "2026-03-10"],
    }
    for name, command in commands.items():
        result = run(cli_env, *command, "--data", str(data), "--user", "ada")
        assert result.returncode == 1, (name, result.stderr)
        # The demo shows its progress generating the company before it comes to the folder.
        message = result.stderr.splitlines()[-1]
        assert message.startswith(f"error: the data folder {data} is damaged: {said}; "), name
        assert "nothing was read or changed" in message
        assert "Traceback" not in result.stderr
        assert fingerprint(data) == before, name


def test_the_message_says_how_to_repair_the_link(data: Path, cli_env: dict[str, str]) -> None:
    newest = (data / "current").resolve().name
    damage(data, "a file")
    result = run(cli_env, "snapshot", "--data", str(data), "--as-of", "2026-03-10", "--user", "ada")
    assert result.stderr.rstrip().endswith(
        f"`current` must be a link to a generation in {data / 'generations'}: point it at the newest "
        f"generation (ln -sfn generations/{newest} {data / 'current'})"
    )


@pytest.mark.parametrize("kind", DAMAGE)
def test_the_store_refuses_to_write_or_clean_up_around_a_broken_current(
    ledger_store: Store, kind: str
) -> None:
    generations = sorted(p.name for p in (ledger_store.root / "generations").iterdir())
    damage(ledger_store.root, kind)
    empty = Tables(
        *(pl.DataFrame(schema=t.schema) for t in (contract.CUSTOMERS, contract.DOCUMENTS, contract.PAYMENTS))
    )
    record = ImportRecord("test", "", "", 0, 0, 0, 0)
    with pytest.raises(DataFolderDamaged, match="is damaged"):
        ledger_store.write(empty, record)
    with pytest.raises(DataFolderDamaged, match="is damaged"):
        ledger_store.add_snapshot(date(2026, 3, 10))
    with pytest.raises(DataFolderDamaged, match="is damaged"):
        ledger_store._remove_old_generations(keep=set())
    with pytest.raises(DataFolderDamaged, match="is damaged"):
        documents = write(ledger_store.root.parent, "new_documents.csv", NEW_INVOICE_CSV)
        ingest.import_files(ledger_store, ingest.Sources(documents=documents))
    assert sorted(p.name for p in (ledger_store.root / "generations").iterdir()) == generations
