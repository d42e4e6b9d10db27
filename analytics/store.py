"""The analytic store: Parquet files under the data folder, written whole and swapped atomically.

Layout of a data folder:

    current -> generations/g-...      the live generation (a symbolic link, swapped with one rename)
    generations/g-.../
        manifest.json                 functional currency, data date, month ends, row counts
        customers.parquet, documents.parquet, payments.parquet
        imported_snapshots/snapshot_date=YYYY-MM-DD/*.parquet   open items imported from an ERP
        derived_snapshots/snapshot_date=YYYY-MM-DD/*.parquet    open items derived at month ends
                                                                and at dates asked for (`snapshot`)
        imports.parquet               the record of imports

A writer builds a whole new generation beside the live one and only then points `current` at it,
so a reader (or a process killed mid-write) sees either the previous data or the new, never a mix.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from analytics import contract

QUERIES = Path(__file__).resolve().parent.parent / "queries"
MONTH_END_HISTORY = 24
DUCKDB_THREADS = 2
DUCKDB_MEMORY_LIMIT = "4GB"

Progress = Callable[[float, str], None]


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


def month_ends_before(as_of: date, count: int = MONTH_END_HISTORY) -> list[date]:
    """The last `count` month ends on or before `as_of`, oldest first."""
    ends = []
    year, month = as_of.year, as_of.month
    end = _month_end(year, month)
    if end > as_of:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    while len(ends) < count:
        ends.append(_month_end(year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return sorted(ends)


def _month_end(year: int, month: int) -> date:
    next_first = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return date.fromordinal(next_first.toordinal() - 1)


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
        payload["data_as_of"] = date.fromisoformat(payload["data_as_of"]) if payload["data_as_of"] else None
        payload["month_ends"] = tuple(date.fromisoformat(d) for d in payload["month_ends"])
        payload["snapshot_dates"] = tuple(date.fromisoformat(d) for d in payload["snapshot_dates"])
        payload["derived_dates"] = tuple(date.fromisoformat(d) for d in payload["derived_dates"])
        return cls(**payload)


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


class Store:
    """A data folder: read the live generation, write a new one atomically."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    # --- reading -------------------------------------------------------------------------------

    @property
    def current(self) -> Path | None:
        link = self.root / "current"
        if not link.is_symlink() and not link.is_dir():
            return None
        target = link.resolve()
        return target if (target / "manifest.json").is_file() else None

    def exists(self) -> bool:
        return self.current is not None

    def manifest(self) -> Manifest | None:
        current = self.current
        if current is None:
            return None
        return Manifest.from_json((current / "manifest.json").read_text(encoding="utf-8"))

    def version(self) -> str:
        """A short key that changes whenever the data changes (for caches)."""
        current = self.current
        return current.name if current else "empty"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with views over the live generation: customers, documents,
        payments, open_item_snapshots (all stored snapshots: imported and month ends)."""
        con = connect()
        current = self.current
        for table in (contract.CUSTOMERS, contract.DOCUMENTS, contract.PAYMENTS):
            path = current / f"{table.name}.parquet" if current else None
            if path is not None and path.is_file():
                con.read_parquet(str(path)).create_view(table.name)
            else:
                con.from_arrow(pl.DataFrame(schema=table.schema).to_arrow()).create_view(table.name)
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
            empty = pl.DataFrame(schema=contract.OPEN_ITEMS.schema)
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
        """One writer at a time per data folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".write.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(
        self,
        tables: Tables,
        record: ImportRecord,
        *,
        functional_currency: str | None = None,
        progress: Progress = no_progress,
    ) -> Manifest:
        """Write `tables` as a new generation and make it live in one atomic step."""
        with self.lock():
            return self._write_locked(tables, record, functional_currency, progress)

    def _write_locked(
        self, tables: Tables, record: ImportRecord, functional_currency: str | None, progress: Progress
    ) -> Manifest:
        previous = self.manifest()
        previous_dir = self.current
        currency = functional_currency or (
            previous.functional_currency if previous else contract.DEFAULT_FUNCTIONAL_CURRENCY
        )
        generations = self.root / "generations"
        generations.mkdir(parents=True, exist_ok=True)
        name = f"g-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        staging = generations / f".staging-{name}"
        staging.mkdir()
        try:
            progress(0.05, "Writing customers, documents and payments")
            for table, frame in (
                (contract.CUSTOMERS, tables.customers),
                (contract.DOCUMENTS, tables.documents),
                (contract.PAYMENTS, tables.payments),
            ):
                frame.select(table.names).cast(table.schema).write_parquet(staging / f"{table.name}.parquet")

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
            self._write_derived(staging, derived, currency)

            progress(0.9, "Recording the import")
            history = self.imports()
            entry = pl.DataFrame([asdict(record)], schema=_IMPORTS_SCHEMA)
            pl.concat([history, entry]).sort("imported_at").write_parquet(staging / "imports.parquet")

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
            final = generations / name
            staging.rename(final)
            self._point_current_at(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._remove_old_generations(keep={final.name, previous_dir.name if previous_dir else ""})
        progress(1.0, "Done")
        return manifest

    def add_snapshot(self, as_of: date, progress: Progress = no_progress) -> Manifest:
        """Materialise the open items of `as_of` in the store (a new generation sharing every other
        file with the live one), so that later reads of that date are a partition scan."""
        with self.lock():
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
                part = staging / "derived_snapshots"
                self._write_derived(staging, [as_of], previous.functional_currency, append=part.is_dir())
                manifest = replace(
                    previous, generation=name, derived_dates=tuple(sorted({*previous.derived_dates, as_of}))
                )
                (staging / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
                _fsync_tree(staging)
                final = generations / name
                staging.rename(final)
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
                part.drop("snapshot_date").cast(
                    {k: v for k, v in contract.OPEN_ITEMS.schema.items() if k != "snapshot_date"}
                ).write_parquet(folder / "data_0.parquet")
        if previous_dir is not None and (previous_dir / "imported_snapshots").is_dir():
            for folder in sorted((previous_dir / "imported_snapshots").iterdir()):
                snapshot_date = date.fromisoformat(folder.name.split("=", 1)[1])
                if snapshot_date in new_dates:
                    continue
                kept.add(snapshot_date)
                shutil.copytree(folder, target / folder.name, copy_function=_link_or_copy)
        return kept | new_dates

    def _write_derived(
        self, staging: Path, dates: list[date], currency: str, *, append: bool = False
    ) -> None:
        if not dates:
            return
        con = connect()
        con.read_parquet(str(staging / "documents.parquet")).create_view("documents")
        con.read_parquet(str(staging / "payments.parquet")).create_view("payments")
        relation = con.sql(
            query("open_items_at_dates"), params={"dates": dates, "functional_currency": currency}
        )
        target = staging / "derived_snapshots"
        if append:
            relation.write_parquet(str(target), partition_by=["snapshot_date"], append=True)
        else:
            relation.write_parquet(str(target), partition_by=["snapshot_date"], overwrite=True)
        con.close()

    def _point_current_at(self, generation: Path) -> None:
        link = self.root / "current"
        temporary = self.root / f".current-{uuid.uuid4().hex[:8]}"
        os.symlink(Path("generations") / generation.name, temporary)
        os.replace(temporary, link)
        _fsync_dir(self.root)

    def _remove_old_generations(self, keep: set[str]) -> None:
        for folder in (self.root / "generations").iterdir():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)


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
