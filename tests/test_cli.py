"""The command line as a user runs it: `python -m analytics ...` in a child process."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from conftest import DOCUMENTS_CSV, write

from analytics import contract
from analytics.store import Store


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_help_lists_the_commands(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "--help")
    assert result.returncode == 0
    for command in ("demo", "import", "snapshot"):
        assert command in result.stdout
    for command in ("demo", "import", "snapshot"):
        assert "--data" in run(cli_env, command, "--help").stdout


def test_import_then_snapshot(tmp_path: Path, ledger_files, cli_env: dict[str, str]) -> None:
    """At 2026-03-10 the ledger has I1 600.00 (due 02-09), I2 400.00 (due 03-07), P3 -50.00 on account
    (due 03-10, 0 days: not overdue) and I4 300.00 (due 03-31): 4 items, total 1,250.00, overdue 1,000.00."""
    data = tmp_path / "cli-data"
    result = run(
        cli_env,
        "import",
        "--data",
        str(data),
        "--customers",
        str(ledger_files.customers),
        "--documents",
        str(ledger_files.documents),
        "--payments",
        str(ledger_files.payments),
    )
    assert result.returncode == 0, result.stderr
    assert "Imported into" in result.stdout
    assert "3 customers, 5 documents, 6 payments" in result.stdout
    snapshot = run(cli_env, "snapshot", "--data", str(data), "--as-of", "2026-03-10")
    assert snapshot.returncode == 0, snapshot.stderr
    assert snapshot.stdout.strip() == (
        "Snapshot 2026-03-10: 4 open items, total 1,250.00 EUR, overdue 1,000.00 EUR."
    )
    assert (Store(data).current / "derived_snapshots" / "snapshot_date=2026-03-10").is_dir()


def test_bad_input_exits_2_with_the_file_row_and_column(tmp_path: Path, ledger_files, cli_env) -> None:
    bad = write(tmp_path, "documents.csv", DOCUMENTS_CSV + "I5,invoice,C9,2026-03-02,2026-04-01,EUR,10.00,\n")
    data = tmp_path / "cli-data"
    result = run(
        cli_env,
        "import",
        "--data",
        str(data),
        "--customers",
        str(ledger_files.customers),
        "--documents",
        str(bad),
    )
    assert result.returncode == 2
    assert "Import refused: 1 problem; nothing was written." in result.stderr
    assert "documents.csv, row 7, column customer_id: unknown customer 'C9'" in result.stderr
    assert not Store(data).exists()


def test_bad_arguments_exit_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = run(cli_env, "snapshot", "--data", str(tmp_path), "--as-of", "2026-02-30")
    assert result.returncode == 2
    assert "'2026-02-30' is not a date like 2026-01-31" in result.stderr
    empty = run(cli_env, "snapshot", "--data", str(tmp_path / "nothing"), "--as-of", "2026-02-28")
    assert empty.returncode == 2
    assert "no data yet" in empty.stderr


def test_missing_file_exits_2(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = run(cli_env, "import", "--data", str(tmp_path / "d"), "--documents", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert "nope.csv: file not found" in result.stderr


def test_demo_is_deterministic_for_a_seed(tmp_path: Path, cli_env: dict[str, str]) -> None:
    frames = []
    for name in ("a", "b"):
        result = run(
            cli_env,
            "demo",
            "--data",
            str(tmp_path / name),
            "--customers",
            "60",
            "--documents",
            "2000",
            "--seed",
            "3",
            "--as-of",
            "2026-06-30",
        )
        assert result.returncode == 0, result.stderr
        assert "Demo company written to" in result.stdout
        frames.append(Store(tmp_path / name).read(contract.DOCUMENTS))
    assert frames[0].height == 2000
    assert frames[0].equals(frames[1])
    assert frames[0]["document_date"].max() <= date(2026, 6, 30)
