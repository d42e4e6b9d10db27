"""The command line as a user runs it: `python -m analytics ...` in a child process."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
from conftest import DOCUMENTS_CSV, write

from analytics import contract
from analytics.collections import CollectionsDB
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
    data = imported_ledger(tmp_path, ledger_files, cli_env)
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


def imported_ledger(tmp_path: Path, ledger_files, cli_env: dict[str, str]) -> Path:
    """A data folder holding the ledger, imported through the command line."""
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
    return data


def test_report_dso(tmp_path: Path, ledger_files, cli_env: dict[str, str]) -> None:
    """The ledger's series (worked out in tests/test_kpis.py): March 2026 AR 950.00, current 0, sales
    300.00, countback 62.88, standard 31.67, BPDSO 0, ADD 31.67, CEI 26.92."""
    data = imported_ledger(tmp_path, ledger_files, cli_env)
    result = run(cli_env, "report", "dso", "--data", str(data), "--from", "2026-01", "--to", "2026-03")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "period,ar_total,ar_current,sales,dso_countback,dso_standard,bpdso,add,cei"
    assert lines[3] == "2026-03-31,950.00,0.00,300.00,62.88,31.67,0.0,31.67,26.92"
    by_entity = run(
        cli_env,
        "report",
        "dso",
        "--data",
        str(data),
        "--from",
        "2026-03",
        "--to",
        "2026-03",
        "--by",
        "entity",
    )
    assert by_entity.stdout.splitlines()[0].startswith("entity,period,ar_total")
    bad = run(cli_env, "report", "dso", "--data", str(data), "--from", "2026-13", "--to", "2026-03")
    assert bad.returncode == 2 and "'2026-13' is not a month like 2026-01" in bad.stderr


def test_report_forecast(tmp_path: Path, ledger_files, cli_env: dict[str, str]) -> None:
    data = imported_ledger(tmp_path, ledger_files, cli_env)
    result = run(cli_env, "report", "forecast", "--data", str(data), "--as-of", "2026-03-31")
    assert result.returncode == 0, result.stderr
    rows = [line.split(",") for line in result.stdout.strip().splitlines()]
    assert rows[0][:5] == ["row", "week", "week_start", "week_end", "expected"]
    assert [row[0] for row in rows[1:]] == ["overdue backlog", *[f"week {n}" for n in range(1, 14)], "later"]
    assert rows[2][2:4] == ["2026-04-01", "2026-04-07"]


def test_actions_import_then_export(tmp_path: Path, ledger_files, cli_env: dict[str, str]) -> None:
    data = imported_ledger(tmp_path, ledger_files, cli_env)
    history = write(
        tmp_path,
        "history.csv",
        "kind,date,customer_id,document_ids,type,outcome,contact_person,next_action_date,comment,user_name\n"
        "action,2026-03-20,C1,I1;I2,call,promise_obtained,Mrs Dupont,2026-03-27,Will pay next week,Anna\n",
    )
    result = run(cli_env, "actions", "import", "--data", str(data), "--file", str(history))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 qualifications and 1 action imported from history.csv"
    again = run(cli_env, "actions", "import", "--data", str(data), "--file", str(history))
    assert again.returncode == 2
    exported = run(cli_env, "actions", "export", "--data", str(data))
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.strip().splitlines()
    assert len(lines) == 2
    # Recorded by the importing user ('import' without users); Anna, the file's author, is the original one.
    assert "Will pay next week" in lines[1] and "I1;I2" in lines[1] and ",import,Anna," in lines[1]


def test_a_formula_like_comment_round_trips_through_a_csv_export(
    tmp_path: Path, ledger_files, cli_env: dict[str, str]
) -> None:
    """The CSV export escapes a comment starting like a formula with an apostrophe; importing that
    export takes the escape off: the comment is stored as first written."""
    data = imported_ledger(tmp_path, ledger_files, cli_env)
    comment = '=HYPERLINK("http://x","click")'
    history = write(
        tmp_path,
        "history.csv",
        "kind,date,customer_id,document_ids,type,outcome,comment\n"
        f'action,2026-03-20,C1,I1,call,reached,"{comment.replace(chr(34), chr(34) * 2)}"\n',
    )
    assert run(cli_env, "actions", "import", "--data", str(data), "--file", str(history)).returncode == 0
    exported = tmp_path / "exported.csv"
    result = run(cli_env, "actions", "export", "--data", str(data), "--output", str(exported))
    assert result.returncode == 0, result.stderr
    assert pl.read_csv(exported, infer_schema=False).get_column("comment").to_list() == [f"'{comment}"]
    again = run(cli_env, "actions", "import", "--data", str(data), "--file", str(exported))
    assert again.returncode == 0, again.stderr
    with CollectionsDB.for_store(Store(data)) as db:
        assert db.actions().get_column("comment").to_list() == [comment, comment]


def test_scenarios_run_prints_the_proposals(tmp_path: Path, ledger_files, cli_env: dict[str, str]) -> None:
    """At 2026-03-31 Alpha SARL's oldest item I1 is 50 days past due: the default scenario (Standard
    B2B) proposes its +45 days registered letter for 2 items; the run is recorded, so a second run
    reports its alerts since this one."""
    data = imported_ledger(tmp_path, ledger_files, cli_env)
    result = run(cli_env, "scenarios", "run", "--data", str(data), "--as-of", "2026-03-31")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Recovery scenarios at 2026-03-31 (all customers)")
    lines = [line for line in result.stdout.splitlines() if "C1 " in line]
    assert len(lines) == 1
    assert "Standard B2B" in lines[0] and "registered letter" in lines[0] and "2 item(s)" in lines[0]
    again = run(cli_env, "scenarios", "run", "--data", str(data), "--as-of", "2026-04-01")
    assert again.returncode == 0, again.stderr
    assert "alerts since 2026-03-31" in again.stdout.splitlines()[0]


def test_a_past_as_of_date_gives_the_same_report_whatever_today_is(
    tmp_path: Path, ledger_files, cli_env: dict[str, str]
) -> None:
    """The design's rule: `report aging --as-of 2026-03-10` and `report dso` for January to March 2026
    are byte for byte the same on 2026-03-15, on 2031-07-01 and on the machine's own date."""
    data = imported_ledger(tmp_path, ledger_files, cli_env)
    reports = {
        "aging": ["report", "aging", "--data", str(data), "--as-of", "2026-03-10", "--by", "document"],
        "aging json": ["report", "aging", "--data", str(data), "--as-of", "2026-03-10", "--format", "json"],
        "dso": [
            "report",
            "dso",
            "--data",
            str(data),
            "--from",
            "2026-01",
            "--to",
            "2026-03",
            "--by",
            "entity",
        ],
    }
    for name, command in reports.items():
        outputs = []
        for today in ("2026-03-15", "2031-07-01", ""):
            result = run({**cli_env, "AR_TODAY": today}, *command)
            assert result.returncode == 0, (name, today, result.stderr)
            outputs.append(result.stdout)
        assert outputs[0] != "", name
        assert outputs[1] == outputs[0], name
        assert outputs[2] == outputs[0], name


def test_today_is_ar_today_where_the_code_asks_for_it(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """AR_TODAY is the day the demo's data ends at without --as-of (its 26 months end in May 2024), and
    the day after which `actions import` refuses dates as in the future; a value that is not a date is
    refused naming the variable."""
    data = tmp_path / "demo"
    env = {**cli_env, "AR_TODAY": "2024-05-31"}
    result = run(env, "demo", "--data", str(data), "--customers", "20", "--documents", "600")
    assert result.returncode == 0, result.stderr
    as_of = Store(data).manifest().data_as_of
    assert date(2024, 5, 1) <= as_of <= date(2024, 5, 31), as_of
    customer = Store(data).read(contract.DOCUMENTS)["customer_id"][0]
    actions = write(
        tmp_path, "actions.csv", f"kind,date,customer_id,type\naction,2024-06-03,{customer},call\n"
    )
    refused = run(env, "actions", "import", "--data", str(data), "--file", str(actions))
    assert refused.returncode == 2, refused.stderr
    assert "2024-06-03 is in the future (today is 2024-05-31)" in refused.stderr
    bad = run({**cli_env, "AR_TODAY": "2024-13-01"}, "demo", "--data", str(tmp_path / "bad"))
    assert bad.returncode == 2
    assert bad.stderr == "error: AR_TODAY='2024-13-01' is not a date like 2026-01-31\n"
