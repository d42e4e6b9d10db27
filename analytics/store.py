"""The analytic store: Parquet files under the data folder, written whole and swapped atomically.

Layout of a data folder:

    current -> generations/g-...      the live generation (a symbolic link, swapped with one rename)
    generations/g-.../
        manifest.json                 format version, functional currency, data date, month ends,
                                      row counts
        customers.parquet, documents.parquet, payments.parquet
        installments.parquet          the documents' installments (no rows: none)
        exchange_rates.parquet        the currencies' rates to the functional currency (no rows: none)
        balance_periods.parquet       each document's open amount over time, derived from documents and
                                      payments: one row per period during which it stays the same
                                      non-zero amount (open items at any date are a filter on it)
        cash_periods.parquet          cash on account over time: payments applied to no document, and
                                      payments dated before the document they are applied to (until
                                      that document's date); one row per period during which a
                                      payment's amount on account stays the same non-zero amount
        settlements.parquet           when each invoice was settled and last paid in cash, derived from
                                      documents and payments: one row per span of dates during which
                                      its payments to date add up to its amount (settled invoices known
                                      at any date are a filter on it)
        imported_snapshots/snapshot_date=YYYY-MM-DD/*.parquet   open items imported from an ERP
        derived_snapshots/snapshot_date=YYYY-MM-DD/*.parquet    open items derived at month ends
                                                                and at dates asked for (`snapshot`)
        imports.parquet               the record of imports

A writer builds a whole new generation beside the live one and only then points `current` at it,
so a reader (or a process killed mid-write) sees either the previous data or the new, never a mix.
Writers take turns (Store.lock); an import reads the stored rows it merges with under the same turn.
After a write, the generation it replaced is kept until the next write: a reader that began before a
write (an open connection, a page being drawn) finishes on the data it began with; one that holds a
connection across two writes finds its files gone and fails, naming a file of its generation.

`current` must be a symbolic link to a generation inside generations/. When it is anything else (a
file, a folder, a dangling link, a link elsewhere) the folder is damaged: readers and writers raise
DataFolderDamaged and change nothing, rather than taking the folder for empty and cleaning it up.

Every figure reads the stored files of the format it was written in (FORMAT, in the manifest): a
generation of an older format lacks some of them and is refused (DataFolderOutdated) until `snapshot`
rewrites it (Store.upgrade); nothing re-derives a missing file at a read.
"""

from __future__ import annotations

import calendar
import errno
import fcntl
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from pathlib import Path

import duckdb
import polars as pl

from analytics import contract

QUERIES = Path(__file__).resolve().parent.parent / "queries"
MONTH_END_HISTORY = 24
BALANCE_PERIODS = "balance_periods.parquet"
SETTLEMENTS = "settlements.parquet"
CASH_PERIODS = "cash_periods.parquet"
INSTALLMENTS = "installments.parquet"
EXCHANGE_RATES = "exchange_rates.parquet"
MONTH_END_BALANCES = "month_end_balances.parquet"
# The format of a generation: the stored files it holds. 1 (no version in the manifest): before cash
# periods, settlements and balances were all stored; 2: before installments; 3: every file of the
# layout above.
FORMAT = 3
# The stored balances' overdue part: AR more than this many days past due (kpis.OVER_DAYS).
BALANCE_OVER_DAYS = 90
DUCKDB_THREADS = 2
# Rows of the larger side of a join done in slices (see balance_periods).
JOIN_AT_ONCE = 2_000_000
DUCKDB_MEMORY_LIMIT = "4GB"

Progress = Callable[[float, str], None]


# What the operating system says when this user may not write a folder (or its file system is mounted
# read-only), as opposed to a full disk or a quota.
READ_ONLY_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS)


class DataFolderUnwritable(OSError):
    """The data folder could not be written (a full disk, a quota, no permission, a read-only file
    system): what was begun is removed and the live data is what it was. `outcome` says what became of
    the work asked for."""

    def __init__(
        self,
        root: Path,
        number: int | None,
        reason: str,
        outcome: str = "the previous data is unchanged",
    ) -> None:
        super().__init__(number, reason)
        self.root = root
        self.outcome = outcome

    @property
    def read_only(self) -> bool:
        return self.errno in READ_ONLY_ERRORS

    def __str__(self) -> str:
        if self.read_only:
            return f"{self.root} is read-only for this user: {self.strerror}; {self.outcome}"
        return f"cannot write to the data folder {self.root}: {self.strerror}; {self.outcome}"

    @classmethod
    def of(cls, root: Path, error: BaseException) -> DataFolderUnwritable | None:
        """The failure as this error, when it is the operating system's (Polars words it in its own
        error, with the system's error number); None for anything else."""
        if isinstance(error, DataFolderUnwritable):
            return error
        if isinstance(error, OSError):
            return cls(root, error.errno, error.strerror or str(error))
        found = re.search(r"\(os error (\d+)\)", str(error))
        if isinstance(error, pl.exceptions.PolarsError) and found:
            number = int(found.group(1))
            return cls(root, number, os.strerror(number))
        return None


class DataFolderDamaged(RuntimeError):
    """`current` is not a link to a generation of generations/: nothing is read or written (a writer
    would otherwise start from an empty store and remove the generations it does not know)."""

    def __init__(self, root: Path, problem: str) -> None:
        self.root = root
        generations = sorted((root / "generations").glob("g-*")) if (root / "generations").is_dir() else []
        newest = [g for g in generations if (g / "manifest.json").is_file()]
        repair = (
            f"point it at the newest generation (ln -sfn generations/{newest[-1].name} {root / 'current'})"
            if newest
            else f"move {root / 'current'} away"
        )
        super().__init__(
            f"the data folder {root} is damaged: {problem}; nothing was read or changed. "
            f"`current` must be a link to a generation in {root / 'generations'}: {repair}"
        )


class DataFolderOutdated(DataFolderDamaged):
    """The live generation was written in an older format (FORMAT): it lacks stored files every figure
    reads, so nothing is read until `snapshot` brings it up to date (Store.upgrade)."""

    def __init__(self, root: Path, found: int) -> None:
        self.root = root
        self.found = found
        RuntimeError.__init__(
            self,
            f"the data folder {root} is of an older format ({found}; this version reads {FORMAT}); "
            f"nothing was read or changed: run `python -m analytics snapshot` to bring it up to date "
            f"(python -m analytics snapshot --data {root} --as-of YYYY-MM-DD)",
        )


@contextmanager
def _writing(root: Path) -> Iterator[None]:
    """Word a failure to write the data folder as DataFolderUnwritable."""
    try:
        yield
    except (OSError, pl.exceptions.PolarsError) as error:
        failure = DataFolderUnwritable.of(root, error)
        if failure is None or failure is error:
            raise
        raise failure from error


def no_progress(fraction: float, message: str) -> None:
    """The default progress callback: report nothing."""


@cache
def query(name: str) -> str:
    """The SQL statement of queries/NAME.sql."""
    return (QUERIES / f"{name}.sql").read_text(encoding="utf-8")


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection sized for this machine."""
    con = duckdb.connect(config={"threads": DUCKDB_THREADS, "memory_limit": DUCKDB_MEMORY_LIMIT})
    return con


# --- month ends: the one calendar every figure uses (kpis, pages and the store re-use these) --------


def month_end(day: date, months: int = 0) -> date:
    """The last day of the month `months` months after (before, when negative) the month of `day`."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def previous_month_end(day: date) -> date:
    """The last month end strictly before the month of `day`."""
    return month_end(day, -1)


def month_ends_between(first: date, last: date) -> list[date]:
    """The month ends of the months of `first` to `last`, both included, oldest first."""
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [month_end(first, offset) for offset in range(max(count, 0))]


def month_ends_before(as_of: date, count: int = MONTH_END_HISTORY) -> list[date]:
    """The last `count` month ends on or before `as_of`, oldest first."""
    last = as_of if month_end(as_of) == as_of else previous_month_end(as_of)
    return [month_end(last, -offset) for offset in range(count - 1, -1, -1)]


@dataclass(frozen=True)
class ImportRecord:
    """One line of the record of imports, shown on the Data page."""

    source: str
    files: str
    checksum: str
    customers: int
    documents: int
    payments: int
    open_items: int
    imported_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


@dataclass(frozen=True)
class Manifest:
    generation: str
    functional_currency: str
    data_as_of: date | None
    month_ends: tuple[date, ...]
    snapshot_dates: tuple[date, ...]
    derived_dates: tuple[date, ...]
    customers: int
    documents: int
    payments: int
    format: int = FORMAT

    def to_json(self) -> str:
        payload = asdict(self)
        payload["data_as_of"] = self.data_as_of.isoformat() if self.data_as_of else None
        payload["month_ends"] = [d.isoformat() for d in self.month_ends]
        payload["snapshot_dates"] = [d.isoformat() for d in self.snapshot_dates]
        payload["derived_dates"] = [d.isoformat() for d in self.derived_dates]
        return json.dumps(payload, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        payload = json.loads(text)
        payload["format"] = _format_of(text)
        payload["data_as_of"] = date.fromisoformat(payload["data_as_of"]) if payload["data_as_of"] else None
        payload["month_ends"] = tuple(date.fromisoformat(d) for d in payload["month_ends"])
        payload["snapshot_dates"] = tuple(date.fromisoformat(d) for d in payload["snapshot_dates"])
        payload["derived_dates"] = tuple(date.fromisoformat(d) for d in payload["derived_dates"])
        return cls(**payload)


@lru_cache(maxsize=16)
def _format_of(text: str) -> int:
    """The format of a manifest.json's text (1 when it names none: written before formats were)."""
    return int(json.loads(text).get("format", 1))


@lru_cache(maxsize=16)
def _manifest_of(text: str) -> Manifest:
    """The manifest of a manifest.json's text, parsed once per text: the app reads it at every run
    (a new generation shows at once) and a Manifest is immutable, so it is shared."""
    return Manifest.from_json(text)


@dataclass(frozen=True)
class Tables:
    """A complete set of tables to write as a new generation (frames already valid per the contract)."""

    customers: pl.DataFrame
    documents: pl.DataFrame
    payments: pl.DataFrame
    # Imported open-item snapshots: they replace the stored ones of the same dates.
    snapshots: pl.DataFrame | None = None
    # False drops every stored snapshot (a new company); True carries the other dates over.
    keep_snapshots: bool = True
    # The documents' installments (contract.INSTALLMENTS); None: none.
    installments: pl.DataFrame | None = None
    # The currencies' exchange rates (contract.EXCHANGE_RATES); None: none.
    exchange_rates: pl.DataFrame | None = None


class Store:
    """A data folder: read the live generation, write a new one atomically."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    # --- reading -------------------------------------------------------------------------------

    @property
    def current(self) -> Path | None:
        """The live generation's folder; None when there is no data yet. Raises DataFolderDamaged when
        `current` is there but is not a link to a generation inside generations/, DataFolderOutdated
        when that generation is of an older format."""
        target = self._live()
        if target is not None:
            found = _format_of((target / "manifest.json").read_text(encoding="utf-8"))
            if found < FORMAT:
                raise DataFolderOutdated(self.root, found)
        return target

    def _live(self) -> Path | None:
        """The live generation's folder, whatever its format (Store.current checks it)."""
        link = self.root / "current"
        if not os.path.lexists(link):
            return None
        if not link.is_symlink():
            kind = "a folder" if link.is_dir() else "a file"
            raise DataFolderDamaged(self.root, f"{link} is {kind}, not a link to a generation")
        pointed = os.readlink(link)
        target = link.resolve()
        if target.parent != (self.root / "generations").resolve() or not target.name.startswith("g-"):
            raise DataFolderDamaged(
                self.root, f"{link} points to {pointed}, outside {self.root / 'generations'}"
            )
        if not (target / "manifest.json").is_file():
            missing = "which has no manifest.json" if target.is_dir() else "which does not exist"
            raise DataFolderDamaged(self.root, f"{link} points to {pointed}, {missing}")
        return target

    def exists(self) -> bool:
        return self.current is not None

    def manifest(self) -> Manifest | None:
        current = self.current
        if current is None:
            return None
        return _manifest_of((current / "manifest.json").read_text(encoding="utf-8"))

    def version(self) -> str:
        """A short key that changes whenever the data changes (for caches)."""
        current = self.current
        return current.name if current else "empty"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with views over the live generation: customers, documents,
        payments, the stored derivations (balance_periods, cash_periods, settlements, stored_balances),
        open_balances (queries/open_balances.sql), open_item_snapshots (all stored snapshots: imported
        and month ends)."""
        con = connect()
        current = self.current
        for table in (contract.CUSTOMERS, contract.DOCUMENTS, contract.PAYMENTS):
            path = current / f"{table.name}.parquet" if current else None
            if path is not None and path.is_file():
                con.read_parquet(str(path)).create_view(table.name)
            else:
                con.from_arrow(pl.DataFrame(schema=table.schema).to_arrow()).create_view(table.name)
        documents = current / "documents.parquet" if current else None
        if documents is not None and documents.is_file():
            # A period names its document by row number in documents.parquet of the same generation.
            con.read_parquet(str(documents), file_row_number=True).create_view("document_rows")
        else:
            empty = pl.DataFrame(schema={**contract.DOCUMENTS.schema, "file_row_number": pl.Int64()})
            con.from_arrow(empty.to_arrow()).create_view("document_rows")
        # Each stored derivation as it was written with the data: a generation of the current format
        # has every file (an older one was refused above); no data yet reads empty tables.
        for view, file in (
            ("balance_periods", BALANCE_PERIODS),
            ("cash_periods", CASH_PERIODS),
            ("settlements", SETTLEMENTS),
            ("stored_balances", MONTH_END_BALANCES),
        ):
            if current is not None:
                con.read_parquet(str(current / file)).create_view(view)
            else:
                con.from_arrow(_empty_derivations()[view]).create_view(view)
        con.sql(query("open_balances")).create_view("open_balances")
        if current is not None:
            con.read_parquet(str(current / INSTALLMENTS)).create_view("installments")
        else:
            con.from_arrow(_installments_frame(None).to_arrow()).create_view("installments")
        globs = [
            str(current / folder / "*" / "*.parquet")
            for folder in ("imported_snapshots", "derived_snapshots")
            if current and any((current / folder).glob("*/*.parquet"))
        ]
        if globs:
            con.read_parquet(globs, hive_partitioning=True, union_by_name=True).create_view(
                "open_item_snapshots"
            )
        else:
            empty = pl.DataFrame(schema={**contract.OPEN_ITEMS.schema, "installment": pl.Int32()})
            con.from_arrow(empty.to_arrow()).create_view("open_item_snapshots")
        return con

    def read(self, table: contract.Table) -> pl.DataFrame:
        """A whole stored table (an empty frame of the contract's schema when there is none)."""
        current = self.current
        path = current / f"{table.name}.parquet" if current else None
        if path is None or not path.is_file():
            return pl.DataFrame(schema=table.schema)
        return pl.read_parquet(path)

    def snapshots(self) -> pl.DataFrame:
        """The imported open-item snapshots."""
        current = self.current
        if current is None or not any((current / "imported_snapshots").glob("*/*.parquet")):
            return pl.DataFrame(schema=contract.OPEN_ITEMS.schema)
        frame = pl.read_parquet(current / "imported_snapshots", hive_partitioning=True)
        return frame.select(contract.OPEN_ITEMS.names).cast(contract.OPEN_ITEMS.schema)

    def imports(self) -> pl.DataFrame:
        """The record of imports, newest first."""
        current = self.current
        if current is None or not (current / "imports.parquet").is_file():
            return pl.DataFrame(schema=_IMPORTS_SCHEMA)
        return pl.read_parquet(current / "imports.parquet").sort("imported_at", descending=True)

    def open_items(self, as_of: date, con: duckdb.DuckDBPyConnection | None = None) -> pl.DataFrame:
        """The items open at `as_of`: the stored snapshot of that date where there is one (an imported
        snapshot takes precedence), otherwise derived from documents and payments."""
        manifest = self.manifest()
        if manifest is not None and as_of in manifest.derived_dates and as_of not in manifest.snapshot_dates:
            # A derived snapshot's file holds exactly these rows and columns: read straight into Polars.
            folder = self.current / "derived_snapshots" / f"snapshot_date={as_of.isoformat()}"
            files = sorted(folder.glob("*.parquet"))
            if files:
                return pl.read_parquet(files)
        con = con or self.connect()
        if manifest is not None and (as_of in manifest.snapshot_dates or as_of in manifest.derived_dates):
            return con.sql(query("snapshot_open_items"), params={"as_of": as_of}).pl()
        currency = manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY
        return con.sql(
            query("open_items_as_of"), params={"as_of": as_of, "functional_currency": currency}
        ).pl()

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time per data folder (other processes and other threads wait). A thread
        that holds it may take it again: an import reads the stored rows and writes under one turn."""
        held = _held_locks.__dict__.setdefault("roots", set())
        if self.root in held:
            yield
            return
        with _writing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / ".write.lock", "w")  # noqa: SIM115 (held across the yield)
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            held.add(self.root)
            try:
                yield
            finally:
                held.discard(self.root)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(
        self,
        tables: Tables,
        record: ImportRecord,
        *,
        functional_currency: str | None = None,
        progress: Progress = no_progress,
    ) -> Manifest:
        """Write `tables` as a new generation and make it live in one atomic step; raises
        DataFolderUnwritable, the live data unchanged, when the folder cannot be written."""
        with _writing(self.root), self.lock():
            return self._write_locked(tables, record, functional_currency, progress)

    def upgrade(self, progress: Progress = no_progress) -> bool:
        """Bring a data folder of an older format up to date: rewrite its live generation from its
        customers, documents, payments and imported snapshots, so that it holds every stored file of
        FORMAT (the derived snapshots of the dates asked for are derived again). True when it did;
        False when the folder is empty or already up to date."""
        with _writing(self.root), self.lock():
            live = self._live()
            if live is None or _format_of((live / "manifest.json").read_text(encoding="utf-8")) >= FORMAT:
                return False
            previous = Manifest.from_json((live / "manifest.json").read_text(encoding="utf-8"))
            tables = Tables(
                *(pl.read_parquet(live / f"{t.name}.parquet") for t in _LEDGER), keep_snapshots=True
            )
            if (live / INSTALLMENTS).is_file():
                tables = replace(tables, installments=pl.read_parquet(live / INSTALLMENTS))
            if (live / EXCHANGE_RATES).is_file():
                tables = replace(tables, exchange_rates=pl.read_parquet(live / EXCHANGE_RATES))
            self._write_locked(tables, None, previous.functional_currency, progress)
            return True

    def _write_locked(
        self, tables: Tables, record: ImportRecord | None, functional_currency: str | None, progress: Progress
    ) -> Manifest:
        # Read whatever the format: a writer replaces the live generation whole (Store.upgrade).
        previous_dir = self._live()
        previous = (
            Manifest.from_json((previous_dir / "manifest.json").read_text(encoding="utf-8"))
            if previous_dir
            else None
        )
        currency = functional_currency or (
            previous.functional_currency if previous else contract.DEFAULT_FUNCTIONAL_CURRENCY
        )
        generations = self.root / "generations"
        generations.mkdir(parents=True, exist_ok=True)
        name = f"g-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        staging = generations / f".staging-{name}"
        final = generations / name
        staging.mkdir()
        try:
            progress(0.05, "Writing customers, documents and payments")
            customers, documents, payments = (
                frame.select(table.names).cast(table.schema)
                for table, frame in (
                    (contract.CUSTOMERS, tables.customers),
                    (contract.DOCUMENTS, tables.documents),
                    (contract.PAYMENTS, tables.payments),
                )
            )
            customers.write_parquet(staging / "customers.parquet")
            documents.write_parquet(staging / "documents.parquet")
            payments.write_parquet(staging / "payments.parquet")
            installments = _installments_frame(tables.installments)
            installments.write_parquet(staging / INSTALLMENTS)
            _contract_frame(contract.EXCHANGE_RATES, tables.exchange_rates).sort(
                "currency", "rate_date"
            ).write_parquet(staging / EXCHANGE_RATES)

            progress(0.25, "Following the open amount of every document")
            applied = applied_payments(documents, payments)
            settlements(documents, applied).write_parquet(staging / SETTLEMENTS)
            periods = balance_periods(documents, payments, applied)
            periods = installment_periods(documents, installments, periods)
            cash = cash_periods(documents, payments, applied)
            del applied
            periods.write_parquet(staging / BALANCE_PERIODS)
            cash.write_parquet(staging / CASH_PERIODS)

            progress(0.3, "Writing open-item snapshots")
            snapshot_dates = self._write_snapshots(
                staging, tables.snapshots, previous_dir if tables.keep_snapshots else None
            )

            data_as_of = _data_as_of(tables)
            month_ends = month_ends_before(data_as_of) if data_as_of else []
            asked = (
                set(previous.derived_dates) - set(previous.month_ends)
                if previous and tables.keep_snapshots
                else set()
            )
            derived = sorted((set(month_ends) | asked) - snapshot_dates)
            progress(0.4, f"Building {len(derived)} snapshots of open items")
            balances = _write_derived(staging, derived, currency, documents, periods, cash)
            del periods, cash
            _write_balances(staging, [*balances, _snapshot_balances(staging, ("imported_snapshots",))])

            progress(0.9, "Recording the import")
            history = (
                pl.read_parquet(previous_dir / "imports.parquet")
                if previous_dir and (previous_dir / "imports.parquet").is_file()
                else pl.DataFrame(schema=_IMPORTS_SCHEMA)
            )
            # An upgrade (no record) rewrites the same data: the record of imports is unchanged.
            entries = [pl.DataFrame([asdict(record)], schema=_IMPORTS_SCHEMA)] if record else []
            pl.concat([history, *entries]).sort("imported_at").write_parquet(staging / "imports.parquet")

            manifest = Manifest(
                generation=name,
                functional_currency=currency,
                data_as_of=data_as_of,
                month_ends=tuple(month_ends),
                snapshot_dates=tuple(sorted(snapshot_dates)),
                derived_dates=tuple(derived),
                customers=tables.customers.height,
                documents=tables.documents.height,
                payments=tables.payments.height,
            )
            (staging / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
            _fsync_tree(staging)
            staging.rename(final)
            # The rename reaches the disk before the link that names it (a power cut, not just a kill).
            _fsync_dir(generations)
            self._point_current_at(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if os.path.realpath(self.root / "current") != str(final.resolve()):
                shutil.rmtree(final, ignore_errors=True)
            raise
        self._remove_old_generations(keep={final.name, previous_dir.name if previous_dir else ""})
        progress(1.0, "Done")
        return manifest

    def add_snapshot(self, as_of: date, progress: Progress = no_progress) -> Manifest:
        """Materialise the open items of `as_of` in the store (a new generation sharing every other
        file with the live one), so that later reads of that date are a partition scan."""
        with _writing(self.root), self.lock():
            previous = self.manifest()
            previous_dir = self.current
            if previous is None or previous_dir is None:
                raise ValueError(f"no data in {self.root}: run an import or the demo first")
            if as_of in previous.snapshot_dates or as_of in previous.derived_dates:
                return previous
            generations = self.root / "generations"
            name = f"g-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            staging = generations / f".staging-{name}"
            try:
                progress(0.1, "Linking the live data")
                shutil.copytree(previous_dir, staging, copy_function=_link_or_copy)
                (staging / "manifest.json").unlink()
                progress(0.3, f"Deriving the open items of {as_of.isoformat()}")
                documents = pl.read_parquet(staging / "documents.parquet")
                periods = pl.read_parquet(staging / BALANCE_PERIODS)
                cash = pl.read_parquet(staging / CASH_PERIODS)
                added = _write_derived(
                    staging, [as_of], previous.functional_currency, documents, periods, cash
                )
                _write_balances(staging, [pl.read_parquet(staging / MONTH_END_BALANCES), *added])
                manifest = replace(
                    previous, generation=name, derived_dates=tuple(sorted({*previous.derived_dates, as_of}))
                )
                (staging / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
                _fsync_tree(staging)
                final = generations / name
                staging.rename(final)
                _fsync_dir(generations)
                self._point_current_at(final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self._remove_old_generations(keep={final.name, previous_dir.name})
            progress(1.0, "Done")
            return manifest

    def _write_snapshots(
        self, staging: Path, snapshots: pl.DataFrame | None, previous_dir: Path | None
    ) -> set[date]:
        target = staging / "imported_snapshots"
        kept: set[date] = set()
        new_dates: set[date] = set()
        if snapshots is not None and snapshots.height:
            new_dates = set(snapshots.get_column("snapshot_date").unique().to_list())
            for (snapshot_date,), part in snapshots.partition_by("snapshot_date", as_dict=True).items():
                folder = target / f"snapshot_date={snapshot_date.isoformat()}"
                folder.mkdir(parents=True)
                # With the columns of a derived snapshot: an imported one has no installments.
                columns = {k: v for k, v in contract.OPEN_ITEMS.schema.items() if k != "snapshot_date"}
                part.drop("snapshot_date").cast(columns).with_columns(
                    pl.lit(None, pl.Int32).alias("installment")
                ).write_parquet(folder / "data_0.parquet")
        if previous_dir is not None and (previous_dir / "imported_snapshots").is_dir():
            for folder in sorted((previous_dir / "imported_snapshots").iterdir()):
                snapshot_date = date.fromisoformat(folder.name.split("=", 1)[1])
                if snapshot_date in new_dates:
                    continue
                kept.add(snapshot_date)
                shutil.copytree(folder, target / folder.name, copy_function=_link_or_copy)
        return kept | new_dates

    def _point_current_at(self, generation: Path) -> None:
        link = self.root / "current"
        # A writer killed between the two steps below left its temporary link: the lock is held, so
        # every such link is a remain.
        for remain in self.root.glob(".current-*"):
            remain.unlink(missing_ok=True)
        temporary = self.root / f".current-{uuid.uuid4().hex[:8]}"
        os.symlink(Path("generations") / generation.name, temporary)
        try:
            os.replace(temporary, link)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
        try:
            _fsync_dir(self.root)
        except OSError:
            # The new data is live (the rename is done); only its durability across a power cut is
            # in doubt, so this must not be reported as a write that left the previous data.
            pass

    def _remove_old_generations(self, keep: set[str]) -> None:
        live = self.current
        if live is None or live.name not in keep:
            # Never clean up around a `current` this writer did not just set: the folder is not as it
            # wrote it.
            raise DataFolderDamaged(self.root, f"{self.root / 'current'} is not the generation just written")
        for folder in (self.root / "generations").iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)


# The data folders whose write lock this thread holds (Store.lock).
_held_locks = threading.local()
_LEDGER = (contract.CUSTOMERS, contract.DOCUMENTS, contract.PAYMENTS)


def _installments_frame(frame: pl.DataFrame | None) -> pl.DataFrame:
    """Installments as stored: the contract's columns and types (no rows when there are none)."""
    return _contract_frame(contract.INSTALLMENTS, frame)


def _contract_frame(table: contract.Table, frame: pl.DataFrame | None) -> pl.DataFrame:
    """An optional table as stored: the contract's columns and types (no rows when there are none)."""
    if frame is None:
        return pl.DataFrame(schema=table.schema)
    return frame.select(table.names).cast(table.schema)


@cache
def _empty_derivations() -> dict[str, object]:
    """The stored derivations of no data, as Arrow tables of their schemas (Store.connect on an empty
    folder): derived once from empty tables, so that their schemas are the writer's own."""
    documents = pl.DataFrame(schema=contract.DOCUMENTS.schema)
    payments = pl.DataFrame(schema=contract.PAYMENTS.schema)
    applied = applied_payments(documents, payments)
    return {
        "balance_periods": installment_periods(
            documents, None, balance_periods(documents, payments, applied)
        ).to_arrow(),
        "cash_periods": cash_periods(documents, payments, applied).to_arrow(),
        "settlements": settlements(documents, applied).to_arrow(),
        "stored_balances": customer_balances(pl.DataFrame(schema=_BALANCE_INPUT)).to_arrow(),
    }


_IMPORTS_SCHEMA = {
    "source": pl.String(),
    "files": pl.String(),
    "checksum": pl.String(),
    "customers": pl.Int64(),
    "documents": pl.Int64(),
    "payments": pl.Int64(),
    "open_items": pl.Int64(),
    "imported_at": pl.Datetime("us"),
}


def applied_payments(documents: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """The payment rows applied to a document of `documents`, sorted by `key` (the document's row and
    the payment's day packed in one integer, see _movement_key), with `amount` in integer cents,
    `cash` (paid in cash) and `payment_row` (the row in `payments`). What balance_periods, cash_periods
    and settlements follow."""
    rows = documents.select("document_id").with_row_index("document_row")
    # Joined a slice of payments at a time: as fast as at once, with a fraction of the memory.
    return pl.concat(
        [
            payments.slice(at, JOIN_AT_ONCE)
            .lazy()
            .with_row_index("payment_row", offset=at)
            .filter(pl.col("document_id").is_not_null())
            .join(rows.lazy(), on="document_id", how="inner")
            .select(
                _movement_key(pl.col("document_row"), pl.col("payment_date")),
                contract.cents(pl.col("amount")),
                (pl.col("method") == "cash").fill_null(False).alias("cash"),
                "payment_row",
            )
            .collect()
            for at in range(0, max(payments.height, 1), JOIN_AT_ONCE)
        ]
    ).sort("key")


def balance_periods(
    documents: pl.DataFrame, payments: pl.DataFrame, applied: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Each document's open amount over time: one row per period during which it stays the same
    non-zero amount, from the document's date or the payment that changed it (`valid_from`) until the
    next change (`valid_to`, excluded; null while it lasts). A document is open at a date if one of its
    periods covers that date. `document_row` is the document's row in `documents`; `open_amount` is
    the document-currency share of what is open (queries/balance_periods.sql). `applied`:
    applied_payments(documents, payments), when the caller has it already."""
    # Movements of a document's balance, keyed by (document row, day) packed in one integer so that
    # ordering them is a merge of two sorted columns; amounts in integer cents.
    issued = documents.select(
        _movement_key(pl.int_range(pl.len(), dtype=pl.Int64), pl.col("document_date")),
        contract.cents(pl.col("amount_functional")).alias("change"),
    )
    if applied is None:
        applied = applied_payments(documents, payments)
    settled = applied.select("key", (-pl.col("amount")).alias("change"))
    movements = issued.merge_sorted(settled, key="key")
    del issued, settled
    # The balance after each movement: a running sum over all rows less the sum before the document's
    # first row; a day's movements change it once, so only the day's last movement is kept.
    key = pl.col("key")
    document = key // _DAYS
    running = pl.col("change").cast(pl.Int128).cum_sum()
    before = pl.when((document != document.shift(1)).fill_null(True)).then(running - pl.col("change"))
    daily = movements.select(key, (running - before.forward_fill()).alias("balance")).filter(
        (key != key.shift(-1)).fill_null(True)
    )
    del movements
    document_row = (key // _DAYS).cast(pl.UInt32)
    moved_on = (key % _DAYS - _DAYS // 2).cast(pl.Int32).cast(pl.Date)
    same_document = document == document.shift(-1)
    periods = daily.select(
        document_row.alias("document_row"),
        moved_on.alias("valid_from"),
        pl.when(same_document).then(moved_on.shift(-1)).alias("valid_to"),
        pl.col("balance"),
    ).filter(pl.col("balance") != 0)
    del daily
    # A payment before the document's date changes nothing until the document exists.
    issued_on = documents.get_column("document_date").gather(periods.get_column("document_row"))
    periods = periods.with_columns(
        pl.max_horizontal(pl.col("valid_from"), issued_on).alias("valid_from")
    ).filter(pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col("valid_from")))
    del issued_on
    con = connect()
    try:
        parts = []
        for offset in range(0, max(periods.height, 1), _PERIODS_AT_ONCE):
            part = periods.slice(offset, _PERIODS_AT_ONCE)
            amounts = documents.select("amount", "amount_functional").gather(part.get_column("document_row"))
            part = part.with_columns(
                *amounts.get_columns(),
                contract.money(pl.col("balance")).alias("open_amount_functional"),
            ).drop("balance")
            con.register("periods", part.to_arrow())
            parts.append(con.sql(query("balance_periods")).pl())
            con.unregister("periods")
        return pl.concat(parts)
    finally:
        con.close()


def installment_periods(
    documents: pl.DataFrame, installments: pl.DataFrame | None, periods: pl.DataFrame
) -> pl.DataFrame:
    """balance_periods with each period of a document that has installments split into one row per
    installment still open (DESIGN.md, "Installments"): what has been paid on the document (its amount
    less its open amount) settles its installments in due-date order, the earliest first; the last
    installment takes what is left, so that the installments' open amounts always add up to the
    document's (an overpayment, a reversal). Adds `installment` (1, 2, ... in due-date order, then in
    the file's order; null: no installments) and `installment_due_date`; `open_amount` is each
    installment's document-currency share, as queries/balance_periods.sql computes it."""
    numbered = {"installment": pl.Int32(), "installment_due_date": pl.Date()}
    if installments is None or installments.is_empty():
        return periods.with_columns(pl.lit(None, kind).alias(name) for name, kind in numbered.items())
    rows = documents.select(
        "document_id", "amount", contract.cents(pl.col("amount_functional")).alias("document_amount")
    ).with_row_index("document_row")
    parts = (
        installments.with_row_index("_order")
        .join(rows, on="document_id", how="inner")
        .sort("document_row", "due_date", "_order")
        .select(
            pl.col("document_row").cast(periods.schema["document_row"]),
            (pl.int_range(pl.len()).over("document_row") + 1).cast(pl.Int32).alias("installment"),
            pl.col("due_date").alias("installment_due_date"),
            contract.cents(pl.col("amount_functional")).alias("_part"),
            "document_amount",
        )
        .with_columns(
            pl.col("_part").cum_sum().over("document_row").alias("_through"),
            (pl.col("installment") == pl.col("installment").max().over("document_row")).alias("_last"),
        )
    )
    split_rows = pl.col("document_row").is_in(parts.get_column("document_row").unique().implode())
    # A credit note's installments are negative: settled on their absolute values.
    sign = pl.when(pl.col("document_amount") < 0).then(-1).otherwise(1)
    paid = pl.col("document_amount") - pl.col("_balance")
    earlier = sign * (sign * (pl.col("_through") - paid)).clip(0, sign * pl.col("_part"))
    split = (
        periods.filter(split_rows)
        .with_row_index("_period")
        .with_columns(contract.cents(pl.col("open_amount_functional")).alias("_balance"))
        .join(parts, on="document_row", how="inner")
        .with_columns(pl.when(~pl.col("_last")).then(earlier).alias("_open"))
        .with_columns(pl.col("_open").fill_null(pl.col("_balance") - pl.col("_open").sum().over("_period")))
        .filter(pl.col("_open") != 0)
        .sort("_period", "installment")
    )
    amounts = documents.select("amount", "amount_functional").gather(split.get_column("document_row"))
    con = connect()
    try:
        con.register(
            "periods",
            split.select(
                "document_row",
                "valid_from",
                "valid_to",
                contract.money(pl.col("_open")).alias("open_amount_functional"),
            )
            .hstack(amounts)
            .to_arrow(),
        )
        shares = con.sql(query("balance_periods")).pl()
    finally:
        con.close()
    split = shares.select(periods.columns).hstack(split.select(*numbered))
    return pl.concat(
        [
            periods.filter(~split_rows).with_columns(
                pl.lit(None, kind).alias(name) for name, kind in numbered.items()
            ),
            split,
        ]
    )


def cash_periods(
    documents: pl.DataFrame, payments: pl.DataFrame, applied: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Cash on account over time (DESIGN.md, "Open amount"): a payment row applied to no document is
    on account from its date on; one applied to a document dated after it (paid in advance) is on
    account from its date until the document's date, when it starts reducing the document
    (balance_periods counts it from then). One row per period during which a payment's amount on
    account stays the same non-zero amount: the item `document_id` (the payment_id) of `customer_id`,
    dated and due on the payment's first date on account, `open_amount_functional` (minus the amount)
    from `valid_from` until `valid_to` (excluded; null while it lasts). `applied`:
    applied_payments(documents, payments), when the caller has it already."""
    if applied is None:
        applied = applied_payments(documents, payments)
    key = applied.get_column("key")
    issued_on = documents.get_column("document_date").gather(key // _DAYS)
    early = _day(key) < issued_on
    advance = payments.select("payment_id", "customer_id", "payment_date", "amount")[
        applied.get_column("payment_row").filter(early)
    ].with_columns(issued_on.filter(early).alias("issued_on"))
    unapplied = payments.filter(pl.col("document_id").is_null())
    cents = contract.cents(pl.col("amount"))
    movements = pl.concat(
        [
            unapplied.select("payment_id", "customer_id", pl.col("payment_date").alias("day"), -cents),
            advance.select("payment_id", "customer_id", pl.col("payment_date").alias("day"), -cents),
            advance.select("payment_id", "customer_id", pl.col("issued_on").alias("day"), cents),
        ]
    )
    daily = (
        movements.group_by("payment_id", "day")
        .agg(pl.col("customer_id").first(), pl.col("amount").sum())
        .sort("payment_id", "day")
    )
    by_payment = {"partition_by": "payment_id"}
    return (
        daily.select(
            pl.col("payment_id").alias("document_id"),
            pl.col("customer_id").first().over(**by_payment),
            pl.col("day").min().over(**by_payment).alias("first_day"),
            pl.col("day").alias("valid_from"),
            pl.col("day").shift(-1).over(**by_payment).alias("valid_to"),
            pl.col("amount").cum_sum().over(**by_payment).alias("balance"),
        )
        .filter(pl.col("balance") != 0)
        .select(
            "document_id",
            "customer_id",
            pl.col("first_day").alias("document_date"),
            pl.col("first_day").alias("due_date"),
            "valid_from",
            "valid_to",
            contract.money(pl.col("balance")).alias("open_amount_functional"),
        )
    )


def settlements(documents: pl.DataFrame, applied: pl.DataFrame) -> pl.DataFrame:
    """When each invoice (of a positive functional amount) was settled, as known at any date: one row
    per day with payments to the invoice after which its payments to date add up to its amount and
    include cash: `settled_on` that day, `paid_on` the day of its last cash payment by then, and
    `valid_to` the invoice's next day with payments (null: none), with the invoice's columns.
    `applied`: applied_payments(documents, payments).

    Known at a date `until`, an invoice is settled, on settled_on and paid on paid_on, exactly when one
    of its rows has settled_on <= until < valid_to: the rows tests/oracle/settled_invoices.sql gives from
    the payments up to `until` (a test holds them to it)."""
    key = pl.col("key")
    document = key // _DAYS
    first_of_document = (document != document.shift(1)).fill_null(True)
    # Paid to date: a running sum over all rows less the sum before the document's first row.
    running = pl.col("amount").cast(pl.Int128).cum_sum()
    before = pl.when(first_of_document).then(running - pl.col("amount")).forward_fill()
    # The last cash payment so far, if it is the same document's.
    last_cash = pl.when(pl.col("cash")).then(key).forward_fill()
    days = (
        applied.select(
            key,
            (running - before).alias("paid"),
            pl.when(last_cash // _DAYS == document).then(last_cash).alias("cash_key"),
        )
        # A day's payments count together: its last row holds the day's figures.
        .filter((key != key.shift(-1)).fill_null(True))
        .with_columns(
            pl.when(document == document.shift(-1)).then(key.shift(-1)).alias("next_key"),
            document.cast(pl.UInt32).alias("document_row"),
        )
    )
    invoices = documents.select(
        ((pl.col("document_type") == "invoice") & (pl.col("amount_functional") > 0)).alias("invoice"),
        contract.cents(pl.col("amount_functional")).alias("invoice_amount"),
    )
    days = days.filter(pl.col("cash_key").is_not_null())
    days = days.hstack(invoices.gather(days.get_column("document_row")))
    settled = days.filter(pl.col("invoice"), pl.col("paid") == pl.col("invoice_amount"))
    columns = documents.select("document_id", "customer_id", "document_date", "due_date", "amount_functional")
    return columns.gather(settled.get_column("document_row")).with_columns(
        _day(settled.get_column("key")).alias("settled_on"),
        _day(settled.get_column("cash_key")).alias("paid_on"),
        _day(settled.get_column("next_key")).alias("valid_to"),
    )


def _day(key: pl.Series) -> pl.Series:
    """The day a movement's key holds."""
    return (key % _DAYS - _DAYS // 2).cast(pl.Int32).cast(pl.Date)


# A movement's key: document row * _DAYS + its day, counted from the middle of the range of dates.
_DAYS = 2**32
_PERIODS_AT_ONCE = 2_000_000


def _movement_key(document_row: pl.Expr, day: pl.Expr) -> pl.Expr:
    return (document_row.cast(pl.Int64) * _DAYS + day.cast(pl.Int32).cast(pl.Int64) + _DAYS // 2).alias("key")


def _write_derived(
    staging: Path,
    dates: list[date],
    currency: str,
    documents: pl.DataFrame,
    periods: pl.DataFrame,
    cash_periods: pl.DataFrame,
) -> list[pl.DataFrame]:
    """Materialise the open items of each of `dates` under derived_snapshots/: the documents whose
    balance period covers the date, and the payments whose cash period on account covers it, as
    queries/open_items_as_of.sql has them at one date, gathered from the periods in memory rather than
    joined again for every date (a test holds them to the definition, tests/oracle/).
    Returns the customers' balances of each date (customer_balances)."""
    if not dates:
        return []
    columns = documents.select("document_id", "customer_id", "document_type", "document_date", "currency")
    due_dates = documents.get_column("due_date")
    balances: list[pl.DataFrame] = []
    cash = cash_periods.sort("document_id").select(
        "document_id",
        "customer_id",
        pl.lit(contract.UNAPPLIED_CASH).alias("document_type"),
        "document_date",
        "due_date",
        pl.lit(currency).alias("currency"),
        pl.col("open_amount_functional").alias("open_amount"),
        "open_amount_functional",
        pl.lit(None, pl.Int32).alias("installment"),
        "valid_from",
        "valid_to",
    )
    # Each snapshot is written sorted by document_id (cash on account merged in by its payment_id), so
    # that readers who sort the items (aging.aged_items) find them in order: documents by their rank.
    rank = columns.get_column("document_id").rank("ordinal")
    for snapshot_date in dates:
        open_now = periods.filter(
            pl.col("valid_from") <= snapshot_date,
            pl.col("valid_to").is_null() | (pl.col("valid_to") > snapshot_date),
        )
        # Sorted by document (its rank), then installment (in due-date order within it).
        order = rank.gather(open_now.get_column("document_row"))
        if open_now.get_column("installment").null_count() < open_now.height:
            open_now = open_now.with_columns(_rank=order).sort("_rank", "installment", nulls_last=True)
        else:
            open_now = open_now[order.arg_sort()]
        rows = open_now.get_column("document_row")
        # An installment ages on its own due date.
        due = open_now.get_column("installment_due_date").fill_null(due_dates.gather(rows))
        items = columns.gather(rows).select(
            "document_id",
            "customer_id",
            "document_type",
            "document_date",
            due.alias("due_date"),
            "currency",
            open_now.get_column("open_amount"),
            open_now.get_column("open_amount_functional"),
            open_now.get_column("installment"),
        )
        on_account = cash.filter(
            pl.col("valid_from") <= snapshot_date,
            pl.col("valid_to").is_null() | (pl.col("valid_to") > snapshot_date),
        ).drop("valid_from", "valid_to")
        items = items.merge_sorted(on_account, key="document_id")
        if items.height:
            folder = staging / "derived_snapshots" / f"snapshot_date={snapshot_date.isoformat()}"
            folder.mkdir(parents=True)
            items.write_parquet(folder / "data_0.parquet")
            balances.append(customer_balances(items.with_columns(snapshot_date=pl.lit(snapshot_date))))
    return balances


def customer_balances(items: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per (snapshot_date, customer_id) of open items with a snapshot_date column: ar_total,
    ar_current (not yet due) and ar_over_days (more than BALANCE_OVER_DAYS days past due), Decimal:
    the rows tests/oracle/month_end_balances.sql sums from the same items (a test holds them to it)."""
    cents = contract.cents(pl.col("open_amount_functional").cast(contract.MONEY))
    overdue_days = (pl.col("snapshot_date") - pl.col("due_date")).dt.total_days()
    sums = (
        items.lazy()
        .group_by("snapshot_date", "customer_id")
        .agg(
            ar_total=cents.sum(),
            ar_current=cents.filter(pl.col("due_date") >= pl.col("snapshot_date")).sum(),
            ar_over_days=cents.filter(overdue_days > BALANCE_OVER_DAYS).sum(),
        )
        .collect()
    )
    money = ["ar_total", "ar_current", "ar_over_days"]
    return sums.with_columns(contract.money(pl.col(name)) for name in money).select(
        pl.col("snapshot_date").cast(pl.Date), "customer_id", *money
    )


def _snapshot_balances(staging: Path, folders: tuple[str, ...]) -> pl.DataFrame:
    """customer_balances of the snapshots stored under `folders` of `staging`."""
    files = [path for folder in folders for path in sorted((staging / folder).glob("*/*.parquet"))]
    if not files:
        return customer_balances(pl.DataFrame(schema=_BALANCE_INPUT))
    scans = [
        pl.scan_parquet(path)
        .select("customer_id", "due_date", "open_amount_functional")
        .with_columns(snapshot_date=pl.lit(date.fromisoformat(path.parent.name.split("=", 1)[1])))
        for path in files
    ]
    return customer_balances(pl.concat(scans))


_BALANCE_INPUT = {
    "snapshot_date": pl.Date(),
    "customer_id": pl.String(),
    "due_date": pl.Date(),
    "open_amount_functional": contract.MONEY,
}


def _write_balances(staging: Path, parts: list[pl.DataFrame]) -> None:
    """Write the customers' month-end (and snapshot) balances, sorted, replacing any file there (a hard
    link to the live generation's is replaced, never written through)."""
    frame = pl.concat(parts).sort("snapshot_date", "customer_id")
    target = staging / MONTH_END_BALANCES
    partial = staging / f".{MONTH_END_BALANCES}.partial"
    frame.write_parquet(partial)
    partial.replace(target)


def _data_as_of(tables: Tables) -> date | None:
    """The latest date the data speaks of: the last document, payment or snapshot."""
    candidates = [
        tables.documents.get_column("document_date").max(),
        tables.payments.get_column("payment_date").max(),
    ]
    if tables.snapshots is not None and tables.snapshots.height:
        candidates.append(tables.snapshots.get_column("snapshot_date").max())
    dates = [d for d in candidates if d is not None]
    return max(dates) if dates else None


def _link_or_copy(source: str, destination: str) -> None:
    # Hard links make carrying unchanged snapshots into a new generation free; files are never
    # modified in place, so sharing them between generations is safe.
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for path in sorted({p.parent for p in folder.rglob("*")} | {folder}):
        _fsync_dir(path)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
