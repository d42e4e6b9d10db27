"""The daily run (`python -m analytics daily`), the one command a scheduler starts: it imports what was
dropped in the inbox, sends the recovery scenarios' automatic steps due, sends the scheduled reports
due, and records what it did (the audit trail, DIR/daily/last_run.json, and standard output).

Each part runs whatever happened to the one before: a refused import, a mail server down or a
collections database held by the app is reported in the summary (and the exit status), and the
others go on. Nothing is sent twice: a step sent is logged as done for the day (analytics.scenarios),
a report sent is recorded in DIR/daily/sent.jsonl; what could not be sent is tried again at the next
run.

The inbox (`[inbox] folder` of settings.toml, DIR/inbox by default) takes ERP exports whose names
start with their table: `customers*`, `documents*`, `payments*`, `open_items*` (CSV, XLSX or
Parquet). Files whose name starts with `.` or ends with `.partial` are left alone (an exporter writes
under such a name, then renames). The files of a run are imported together, through the same import
as `python -m analytics import` (with the `[inbox] mapping`); if several files have the same table,
the first of each table by name go together, then the second, and so on. Each import's files are
then moved to inbox/done/ or inbox/refused/, prefixed with the run's date, with the validation report
beside them (`NAME.report.txt`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from analytics import access, collections, collections_db, ingest, scenarios, settings
from analytics.store import Store

KINDS = ("customers", "documents", "payments", "open_items")
FOLDER = "daily"
LAST_RUN = "last_run.json"
SENT_LOG = "sent.jsonl"
# A delivery whose detail starts so failed at the mail server (reminders.send): tried again next run.
SERVER_FAILURE = "sending to "


@dataclass
class DailyResult:
    """What one daily run did. `imports`: one dict per import (files, status imported/refused,
    detail, moved_to); `deliveries`: the scenarios' RunResult.deliveries as dicts; `reports`: one dict
    per scheduled report (report, recipient, status sent/not_sent/already_sent, detail); `problems`:
    the parts that failed, in a sentence each."""

    as_of: date
    started_at: str
    inbox: str
    imports: list[dict[str, object]] = field(default_factory=list)
    deliveries: list[dict[str, object]] = field(default_factory=list)
    reports: list[dict[str, object]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def _count(self, rows: list[dict[str, object]], status: str) -> int:
        return sum(1 for row in rows if row["status"] == status)

    @property
    def sent(self) -> list[dict[str, object]]:
        return [row for row in self.deliveries if row["status"] in ("sent", "written")]

    @property
    def not_sent(self) -> list[dict[str, object]]:
        """Steps the mail server refused (tried again at the next run)."""
        return [
            row
            for row in self.deliveries
            if row["status"] == "not_sent" and str(row["detail"]).startswith(SERVER_FAILURE)
        ]

    @property
    def skipped(self) -> list[dict[str, object]]:
        """Steps not sent for a reason of the customer's (no address) or of the settings."""
        return [row for row in self.deliveries if row["status"] == "not_sent" and row not in self.not_sent]

    def headline(self) -> str:
        """One line: what the run did (the audit trail's detail, the overview's sentence)."""
        parts = [
            f"daily run {self.as_of.isoformat()}: imported {self._count(self.imports, 'imported')} "
            f"file set(s), refused {self._count(self.imports, 'refused')}",
            f"recovery steps sent {len(self.sent)}, skipped {len(self.skipped)}, not sent {len(self.not_sent)}",
            f"reports sent {self._count(self.reports, 'sent')}, not sent {self._count(self.reports, 'not_sent')}",
        ]
        line = "; ".join(parts)
        return line + (f"; {len(self.problems)} problem(s)" if self.problems else "; no problem")

    def summary(self) -> str:
        """The run summary printed on standard output: each import, step and report with its outcome."""
        lines = [f"Daily run at {self.as_of.isoformat()} (started {self.started_at})", ""]
        lines.append(f"Inbox {self.inbox}: {len(self.imports)} import(s)")
        for row in self.imports:
            lines.append(f"  {row['status']:<9} {', '.join(row['files'])}: {row['detail']}")
            if row.get("moved_to"):
                lines.append(f"            moved to {row['moved_to']}")
        lines.append("")
        lines.append(
            f"Recovery steps: {len(self.sent)} sent, {len(self.skipped)} skipped, {len(self.not_sent)} not sent"
        )
        for label, rows in (("sent", self.sent), ("skipped", self.skipped), ("not sent", self.not_sent)):
            for row in rows:
                lines.append(
                    f"  {label:<9} {row['customer_id']:<10} {str(row['customer_name'])[:28]:<28} "
                    f"{str(row['step_label'])[:24]:<24} {row['recipient'] or '':<28} {row['detail']}"
                )
        lines.append("")
        lines.append(f"Reports: {self._count(self.reports, 'sent')} sent")
        for row in self.reports:
            lines.append(f"  {row['status']:<12} {row['report']:<18} {row['recipient']:<28} {row['detail']}")
        lines.append("")
        if self.problems:
            lines.append(f"Problems ({len(self.problems)}):")
            lines.extend(f"  - {problem}" for problem in self.problems)
        else:
            lines.append("No problem.")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["headline"] = self.headline()
        # Plain JSON values (the deliveries hold dates): what the app answers is what is recorded.
        return json.loads(json.dumps(data, default=str))

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> DailyResult:
        """The run of a to_json record (the app's answer to a command that handed it the run)."""
        return cls(
            as_of=date.fromisoformat(str(data["as_of"])),
            started_at=str(data["started_at"]),
            inbox=str(data["inbox"]),
            imports=list(data.get("imports") or []),
            deliveries=list(data.get("deliveries") or []),
            reports=list(data.get("reports") or []),
            problems=list(data.get("problems") or []),
        )


# --- the inbox --------------------------------------------------------------------------------------


def kind_of(path: Path) -> str | None:
    """The table a dropped file holds, from the start of its name (open-items or open_items)."""
    name = path.name.lower().replace("-", "_")
    return next((kind for kind in sorted(KINDS, key=len, reverse=True) if name.startswith(kind)), None)


def waiting_files(folder: Path) -> list[Path]:
    """The files waiting in the inbox, by name (not those being written: .NAME or NAME.partial)."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".partial")
    )


def _batches(files: list[Path]) -> tuple[list[dict[str, Path]], list[Path]]:
    by_kind: dict[str, list[Path]] = {}
    unknown: list[Path] = []
    for path in files:
        kind = kind_of(path)
        if kind is None:
            unknown.append(path)
        else:
            by_kind.setdefault(kind, []).append(path)
    depth = max((len(paths) for paths in by_kind.values()), default=0)
    batches = [{kind: paths[i] for kind, paths in by_kind.items() if i < len(paths)} for i in range(depth)]
    return batches, unknown


def _move(paths: list[Path], folder: Path, as_of: date, report: str) -> Path:
    """Move the files into `folder` as AS_OF-NAME (a number added when taken), each with its report."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        target = folder / f"{as_of.isoformat()}-{path.name}"
        number = 1
        while target.exists():
            number += 1
            target = folder / f"{as_of.isoformat()}-{number}-{path.name}"
        report_path = target.with_name(target.name + ".report.txt")
        partial = report_path.with_name(f".{report_path.name}.partial")
        partial.write_text(report + "\n", encoding="utf-8")
        partial.replace(report_path)
        path.replace(target)
    return folder


def import_inbox(store: Store, current: settings.Settings, as_of: date, result: DailyResult) -> None:
    folder = current.inbox_folder(store.root)
    files = waiting_files(folder)
    if not files:
        return
    mapping = None
    mapping_path = current.mapping_path(store.root)
    if mapping_path is not None:
        try:
            mapping = ingest.load_mapping(mapping_path)
        except ingest.ImportRefused as refused:
            result.problems.append(
                f"inbox: the mapping {mapping_path} is refused, the files stay in the inbox: "
                + refused.report().replace("\n", " ")
            )
            return
    batches, unknown = _batches(files)
    if unknown:
        report = (
            "Import refused: the file's name must start with its table: "
            + ", ".join(f"{kind}*" for kind in KINDS)
            + "; nothing was written."
        )
        moved = _move(unknown, folder / "refused", as_of, report)
        result.imports.append(
            {
                "files": [p.name for p in unknown],
                "status": "refused",
                "detail": report,
                "moved_to": str(moved),
            }
        )
        result.problems.append(f"inbox: {len(unknown)} file(s) of unknown table refused")
    for batch in batches:
        names = [path.name for path in batch.values()]
        sources = ingest.Sources(**batch)
        try:
            imported = ingest.import_files(store, sources, mapping)
        except ingest.ImportRefused as refused:
            report = refused.report()
            moved = _move(list(batch.values()), folder / "refused", as_of, report)
            result.imports.append(
                {
                    "files": names,
                    "status": "refused",
                    "detail": report.splitlines()[0],
                    "moved_to": str(moved),
                }
            )
            result.problems.append(f"inbox: the import of {', '.join(names)} was refused (see {moved})")
        else:
            report = f"Imported: {imported.summary()}. Data as of {imported.manifest.data_as_of}."
            moved = _move(list(batch.values()), folder / "done", as_of, report)
            result.imports.append(
                {"files": names, "status": "imported", "detail": report, "moved_to": str(moved)}
            )


# --- the recovery steps -------------------------------------------------------------------------------


def send_steps(
    store: Store,
    current: settings.Settings,
    as_of: date,
    result: DailyResult,
    user: str,
    environ,
    db: collections.CollectionsDB | None = None,
) -> None:
    if not store.exists():
        result.problems.append("recovery steps: no data yet")
        return
    server = settings.smtp(current, environ)
    try:
        if db is not None:
            ran = scenarios.run(store, db, as_of, send=True, smtp=server, user=user)
        else:
            with collections.CollectionsDB.for_store(store) as own:
                ran = scenarios.run(store, own, as_of, send=True, smtp=server, user=user)
    except (collections_db.CollectionsBusy, collections_db.CollectionsUnreachable) as busy:
        result.problems.append(f"recovery steps: not sent, {busy}")
        return
    result.deliveries = ran.deliveries.to_dicts()
    if server is None and any(row["action_type"] == "email" for row in result.deliveries):
        result.problems.append(
            "recovery steps: no mail server in settings.toml ([mail] host): e-mails not sent"
        )
    if result.not_sent:
        result.problems.append(
            f"recovery steps: the mail server refused {len(result.not_sent)} step(s), tried again at the next "
            f"run: {result.not_sent[0]['detail']}"
        )


# --- the record of the run ----------------------------------------------------------------------------


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    partial.replace(path)


def last_run(root: str | os.PathLike[str]) -> dict[str, object] | None:
    """The record of the latest daily run of the data folder (DailyResult.to_json), or None."""
    path = Path(root) / FOLDER / LAST_RUN
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def sent_reports(root: str | os.PathLike[str]) -> set[tuple[str, str, str]]:
    """(report, recipient, date) of every scheduled report sent from the data folder."""
    path = Path(root) / FOLDER / SENT_LOG
    if not path.exists():
        return set()
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash: the report is sent again rather than never
        found.add((entry["report"], entry["recipient"], entry["as_of"]))
    return found


def record_sent_report(root: str | os.PathLike[str], report: str, recipient: str, as_of: date) -> None:
    path = Path(root) / FOLDER / SENT_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {
            "report": report,
            "recipient": recipient,
            "as_of": as_of.isoformat(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# Sends the scheduled reports due (analytics.scheduled.send_due, by default), with the collections
# database of the run (None: it opens its own).
ReportSender = Callable[
    [Store, settings.Settings, date, DailyResult, Mapping[str, str], "collections.CollectionsDB | None"], None
]


def run(
    store: Store,
    as_of: date,
    *,
    user: str = "scheduler",
    environ: Mapping[str, str] | None = None,
    send_reports: ReportSender | None = None,
    db: collections.CollectionsDB | None = None,
) -> DailyResult:
    """The daily run at `as_of`: inbox, recovery steps, scheduled reports; each part's failure is in
    `problems` and does not stop the others. Records the run (audit trail, DIR/daily/last_run.json).
    `db`: the collections database to use (the app's own, shared by its sessions), left open; without
    it the run opens the folder's for the parts that need it."""
    environ = os.environ if environ is None else environ
    started = datetime.now(UTC).isoformat(timespec="seconds")
    result = DailyResult(as_of=as_of, started_at=started, inbox="")
    try:
        current = settings.load(store.root)
    except settings.SettingsInvalid as invalid:
        result.problems.append(f"settings: {invalid}; the defaults are used")
        current = settings.Settings()
    result.inbox = str(current.inbox_folder(store.root))
    parts: list[tuple[str, Callable[[], None]]] = [
        ("inbox", lambda: import_inbox(store, current, as_of, result)),
        ("recovery steps", lambda: send_steps(store, current, as_of, result, user, environ, db)),
    ]
    if send_reports is None:
        from analytics import scheduled  # the PDF and XLSX libraries, only when reports are sent

        send_reports = scheduled.send_due
    parts.append(("reports", lambda: send_reports(store, current, as_of, result, environ, db)))
    for name, part in parts:
        try:
            part()
        except (OSError, ValueError, RuntimeError, pl.exceptions.PolarsError) as error:
            # One part failing (a full disk, a damaged file) is reported; the next parts still run.
            result.problems.append(f"{name}: {type(error).__name__}: {error}")
    _write_json(store.root / FOLDER / LAST_RUN, result.to_json())
    access.audit(store.root, user, "daily", result.headline(), source="daily run")
    return result


def run_here_or_in_app(
    store: Store, as_of: date, *, user: str = "scheduler", environ: Mapping[str, str] | None = None
) -> DailyResult:
    """The daily run of a command (`python -m analytics daily`): done here, or, when another process
    holds the collections database, handed to the app announced in DIR/.app.json (analytics.app_link),
    which does it with its own. When the app does not take it, the run is done here without what needs
    the collections database, and the summary says why (a problem: exit status 1)."""
    from analytics import app_link

    environ = os.environ if environ is None else environ
    db = None
    # No file, no holder: it is created by the part that needs it (not in a folder without data).
    if (store.root / collections.FILE_NAME).exists():
        try:
            db = collections.CollectionsDB.for_store(store)
        except collections_db.CollectionsBusy as busy:
            try:
                return DailyResult.from_json(app_link.ask_daily(store.root, as_of, user, environ))
            except app_link.AppUnreachable as unreachable:
                handed = f"{busy}; the run could not be handed to the app: {unreachable}"
                if unreachable.maybe_running:
                    result = DailyResult(
                        as_of=as_of,
                        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                        inbox="",
                        problems=[f"{handed}; nothing was done here"],
                    )
                    return result
            result = run(store, as_of, user=user, environ=environ)
            result.problems.insert(0, handed)
            return result
        except OSError:
            db = None  # (a folder this user may not write): the parts that need it say so
    try:
        return run(store, as_of, user=user, environ=environ, db=db)
    finally:
        if db is not None:
            db.close()
