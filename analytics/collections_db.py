"""The collections database itself: where it lives and how it is read and written, behind one small
interface with two back ends.

    Embedded   `<data>/collections.duckdb` (the default): one process opens the file; its ids and the
               data version are counted in that process, which is the only writer.
    PostgreSQL when `AR_COLLECTIONS_URL=postgresql://USER@HOST:PORT/DB` is set: any number of processes.
               Every writing transaction starts by updating the one row of `collections_state` (its
               row lock is the writer lock of all processes, held to the commit), so that ids are
               given in commit order: a reader that holds the rows up to an id and reads the ones
               after it never misses a row committed late by another process. The data version and
               the marks (histories replaced, last ids) are read from the database.

The interface (`Backend`): `read(name, params)` runs queries/NAME.sql to a Polars frame; `writing()`
is one transaction (`Transaction`: read, execute, insert rows, the last ids) committed whole or rolled
back; `marks()` and `data_version()`; the schema is applied by `migrate`, one path for both, from one
schema file per back end (queries/collections_schema.sql, collections_schema.pg.sql).

SQL: queries/NAME.sql is written once for both engines where both accept it; PostgreSQL reads
queries/NAME.pg.sql where one exists. For PostgreSQL the `$name` parameters become psycopg's
`%(name)s`, comments go, and the trailing commas of the project's SQL style (before `from` or a closing bracket,
which PostgreSQL refuses) are dropped when a file is loaded.
"""

from __future__ import annotations

import errno
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import polars as pl

from analytics.store import DUCKDB_THREADS, QUERIES, DataFolderUnwritable, query

URL_VARIABLE = "AR_COLLECTIONS_URL"
MEMORY_LIMIT = "1GB"
# Seconds to wait for the PostgreSQL server to answer a new connection.
CONNECT_TIMEOUT = 5
# Submissions up to this many rows a table are inserted row by row (embedded back end).
_ROW_BY_ROW = 50
_DENIED = re.compile("Permission denied|Read-only file system")


class CollectionsBusy(RuntimeError):
    """The collections database file is held by another process (DuckDB allows one): another
    instance of the app on the same data folder, or a command writing it. `pid` is that process's id
    when DuckDB names it."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.path = path
        self.pid = pid
        holder = f" (process {pid})" if pid else ""
        super().__init__(
            f"another instance of the app, or a command, holds the data folder {path.parent}{holder}: "
            f"one process at a time can open its collections database, {path.name} (with PostgreSQL, "
            f"{URL_VARIABLE}, any number can)"
        )


class CollectionsUnreachable(RuntimeError):
    """The PostgreSQL server of AR_COLLECTIONS_URL does not answer or refuses the connection. `where`
    is the URL without its password; the message gives the driver's first line (its reason)."""

    def __init__(self, where: str, error: BaseException) -> None:
        self.where = where
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        super().__init__(
            f"the collections database {where} ({URL_VARIABLE}) cannot be reached: {reason}"
        )


class Conflict(Exception):
    """A write refused by the database's keys: another session or process wrote the same key first.
    Nothing of the transaction was written."""


def redacted(url: str) -> str:
    """The URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Transaction:
    """One writing transaction of a back end (see Backend.writing)."""

    def read(self, name: str, **params: object) -> pl.DataFrame:
        raise NotImplementedError

    def execute(self, name: str, params: dict[str, object] | None = None) -> None:
        raise NotImplementedError

    def insert(self, rows: pl.DataFrame, key: str, first_id: int, one: str, many: str) -> None:
        """Insert rows (their `key` numbered from 0) with ids from `first_id`: queries/collections_insert_ONE
        row by row, or collections_append_MANY over the frame where the engine takes a frame."""
        raise NotImplementedError

    def last_ids(self) -> tuple[int, int]:
        """The highest event and action ids committed so far (0 when none); no other writer can
        commit meanwhile."""
        raise NotImplementedError

    def replaced(self) -> None:
        """Record that the history was replaced (ids numbered from 1 again)."""
        raise NotImplementedError


class Backend:
    """What CollectionsDB needs of a database."""

    kind = ""
    where = ""  # the file or the server, for messages

    def read(self, name: str, params: dict[str, object]) -> pl.DataFrame:
        raise NotImplementedError

    @contextmanager
    def writing(self, *, migrating: bool = False) -> Iterator[Transaction]:
        """One transaction, committed at the end of the block or rolled back whole; writers of every
        process take their turn. `migrating`: the schema's own (its tables may not exist yet)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def marks(self) -> tuple[int, int, int]:
        raise NotImplementedError

    def data_version(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def migrate(backend: Backend, version: int, applied_at: datetime) -> None:
    """Bring the database to schema `version` in one transaction: the back end's schema file creates
    what is missing (tables of a new database, those and the columns an older one lacks), then the
    version is recorded. A database of a newer version is refused."""
    schema = "collections_schema.pg" if backend.kind == "postgresql" else "collections_schema"
    with backend.writing(migrating=True) as tx:
        tx.execute(schema)
        found = tx.read("collections_schema_version").item(0, 0)
        if found is None or found < version:
            tx.execute("collections_record_schema_version", {"version": version, "applied_at": applied_at})
        elif found > version:
            raise RuntimeError(
                f"{backend.where} was written by a newer version of the dashboard (schema {found}, "
                f"this one knows {version}); upgrade before opening it"
            )


# --- embedded: DuckDB ------------------------------------------------------------------------------


class _DuckTransaction(Transaction):
    def __init__(self, backend: DuckDBBackend) -> None:
        self.backend, self.cur = backend, backend._writer
        self.next_ids: tuple[int, int] | None = None
        self.was_replaced = False

    def read(self, name: str, **params: object) -> pl.DataFrame:
        return self.cur.sql(query(name), params=params or None).pl()

    def execute(self, name: str, params: dict[str, object] | None = None) -> None:
        self.cur.execute(query(name), params)

    def insert(self, rows: pl.DataFrame, key: str, first_id: int, one: str, many: str) -> None:
        # A few rows one by one with bound values (cheaper than handing over a frame), many at once.
        if rows.height <= _ROW_BY_ROW:
            for row in rows.iter_rows(named=True):
                self.cur.execute(query(f"collections_insert_{one}"), {**row, key: row[key] + first_id})
        else:
            self.cur.register(f"new_{many}", rows)
            self.cur.execute(query(f"collections_append_{many}"), {"first_id": first_id})
            self.cur.unregister(f"new_{many}")
        event, action = self.next_ids or (self.backend._next_event_id, self.backend._next_action_id)
        if key == "event_id":
            event = first_id + rows.height
        else:
            action = first_id + rows.height
        self.next_ids = (event, action)

    def last_ids(self) -> tuple[int, int]:
        return self.backend._next_event_id - 1, self.backend._next_action_id - 1

    def replaced(self) -> None:
        self.was_replaced = True


class DuckDBBackend(Backend):
    """`<data>/collections.duckdb`: one connection, one writer cursor behind a lock, a cursor per read."""

    kind = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._con = duckdb.connect(
                str(path), config={"threads": DUCKDB_THREADS, "memory_limit": MEMORY_LIMIT}
            )
        except duckdb.IOException as error:
            denied = _DENIED.search(str(error))
            if denied:
                # DuckDB's words for a folder this user may not write: permissions, not another process.
                number = errno.EROFS if denied.group(0) == "Read-only file system" else errno.EACCES
                raise DataFolderUnwritable(
                    path.parent, number, denied.group(0), f"{path.name} cannot be opened"
                ) from None
            holder = re.search(r"\(PID (\d+)\)", str(error))
            raise CollectionsBusy(path, int(holder.group(1)) if holder else None) from None
        # The one writer: used only with the lock held.
        self._writer = self._con.cursor()
        self._next_event_id = self._next_action_id = 1
        # Writes committed by this process (the only writer) and histories replaced, for the marks.
        self._writes = 0
        self._replacements = 0

    def start(self) -> None:
        """Read the last ids once the schema exists (this process gives every id after them)."""
        last = self._con.sql(query("collections_last_ids")).fetchall()[0]
        self._next_event_id, self._next_action_id = last[0] + 1, last[1] + 1
        self._writes = 0  # the schema's migration is not data

    def read(self, name: str, params: dict[str, object]) -> pl.DataFrame:
        with self._lock:
            cur = self._con.cursor()
        try:
            return cur.sql(query(name), params=params or None).pl()
        finally:
            cur.close()

    @contextmanager
    def writing(self, *, migrating: bool = False) -> Iterator[Transaction]:
        with self._lock:
            tx = _DuckTransaction(self)
            tx.cur.begin()
            try:
                yield tx
                tx.cur.commit()
            except duckdb.ConstraintException as error:
                tx.cur.rollback()
                raise Conflict(str(error)) from error
            except BaseException:
                tx.cur.rollback()
                raise
            if tx.was_replaced:
                self._next_event_id = self._next_action_id = 1
                self._replacements += 1
            if tx.next_ids is not None:
                self._next_event_id, self._next_action_id = tx.next_ids
            self._writes += 1

    def marks(self) -> tuple[int, int, int]:
        with self._lock:
            return self._replacements, self._next_event_id - 1, self._next_action_id - 1

    def data_version(self) -> str:
        with self._lock:
            return f"{self._next_event_id - 1}-{self._next_action_id - 1}-{self._writes}"

    def close(self) -> None:
        with self._lock:
            self._writer.close()
            self._con.close()


# --- PostgreSQL ------------------------------------------------------------------------------------

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")
# A trailing comma before `from`, a closing bracket or the end of the statement.
_TRAILING_COMMA = re.compile(r",(\s*)(from\b|\)|\Z)", re.IGNORECASE)


@cache
def pg_query(name: str) -> str:
    """queries/NAME.pg.sql when it exists, else queries/NAME.sql, in psycopg's terms."""
    special = QUERIES / f"{name}.pg.sql"
    text = special.read_text(encoding="utf-8") if special.exists() else query(name)
    text = _TRAILING_COMMA.sub(r"\1\2", _COMMENT.sub("", text).replace("%", "%%"))
    return _PARAMETER.sub(r"%(\1)s", text)


def _polars_type(column: object) -> pl.DataType | None:
    """The Polars type of a result column (psycopg's description), None where Polars should infer it."""
    from psycopg.postgres import types

    info = types.get(column.type_code)
    name = "" if info is None else info.name if info.oid == column.type_code else f"_{info.name}"
    simple = {
        "int2": pl.Int16(),
        "int4": pl.Int32(),
        "int8": pl.Int64(),
        "text": pl.String(),
        "varchar": pl.String(),
        "bpchar": pl.String(),
        "bool": pl.Boolean(),
        "date": pl.Date(),
        "timestamp": pl.Datetime("us"),
        "float8": pl.Float64(),
        "float4": pl.Float32(),
        "_text": pl.List(pl.String()),
        "_varchar": pl.List(pl.String()),
        "_int8": pl.List(pl.Int64()),
    }
    if name in simple:
        return simple[name]
    if name == "numeric" and column.precision is not None and column.scale is not None:
        return pl.Decimal(column.precision, column.scale)
    return None


def _json_value(value: object) -> object:
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(f"not JSON: {value!r}")


class _PgTransaction(Transaction):
    def __init__(self, conn: object) -> None:
        self.conn = conn

    def read(self, name: str, **params: object) -> pl.DataFrame:
        return _frame(self.conn.execute(pg_query(name), _pg_params(params) or None))

    def execute(self, name: str, params: dict[str, object] | None = None) -> None:
        self.conn.execute(pg_query(name), _pg_params(params) if params else None)

    def insert(self, rows: pl.DataFrame, key: str, first_id: int, one: str, many: str) -> None:
        if not rows.height:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                pg_query(f"collections_insert_{one}"),
                [_pg_params({**row, key: row[key] + first_id}) for row in rows.iter_rows(named=True)],
            )

    def last_ids(self) -> tuple[int, int]:
        row = self.conn.execute(pg_query("collections_last_ids")).fetchone()
        return int(row[0]), int(row[1])

    def replaced(self) -> None:
        self.execute("collections_state_replaced")


def _pg_params(params: dict[str, object]) -> dict[str, object]:
    """Parameters as psycopg takes them: a list of records (a note's objectives) as JSON."""
    from psycopg.types.json import Jsonb

    def adapted(value: object) -> object:
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return Jsonb(value, dumps=lambda v: json.dumps(v, default=_json_value))
        return value

    return {k: adapted(v) for k, v in params.items()}


def _frame(cur: object) -> pl.DataFrame:
    """The rows of an executed cursor as a Polars frame typed from the columns' PostgreSQL types."""
    columns = cur.description or []
    rows = cur.fetchall()
    schema = {c.name: _polars_type(c) for c in columns}
    if not rows:
        return pl.DataFrame(schema={n: t or pl.Null() for n, t in schema.items()})
    data = {c.name: [row[i] for row in rows] for i, c in enumerate(columns)}
    return pl.DataFrame(
        [pl.Series(name, values, dtype=schema[name], strict=False) for name, values in data.items()]
    )


class PostgresBackend(Backend):
    """The collections data in PostgreSQL: a pool of connections (psycopg 3), each call on one."""

    kind = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg
        import psycopg_pool
        from psycopg_pool import ConnectionPool

        self.url = url
        self.where = redacted(url)

        def configure(conn: psycopg.Connection) -> None:
            # Timestamps are stored naive in UTC, as in the embedded file.
            conn.execute("set time zone 'UTC'")
            conn.commit()

        # One connection first, with a bound on the wait: the pool would retry a refused connection
        # for its whole timeout and then name only itself; psycopg's own words say what is wrong.
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
        except psycopg.Error as error:
            raise CollectionsUnreachable(self.where, error) from None
        self._pool = ConnectionPool(
            url, min_size=1, max_size=8, configure=configure, open=False, name="collections", timeout=30
        )
        try:
            self._pool.open(wait=True, timeout=10)
        except psycopg_pool.PoolTimeout as error:
            self._pool.close()
            raise CollectionsUnreachable(self.where, error) from None
        self._errors = psycopg.errors

    def start(self) -> None:
        """Nothing to count in the process: the database holds the marks."""

    def read(self, name: str, params: dict[str, object]) -> pl.DataFrame:
        with self._pool.connection() as conn:
            return _frame(conn.execute(pg_query(name), _pg_params(params) or None))

    @contextmanager
    def writing(self, *, migrating: bool = False) -> Iterator[Transaction]:
        with self._pool.connection() as conn:
            try:
                with conn.transaction():
                    if not migrating:  # the schema file takes a lock of its own
                        # The writer lock of every process (a row lock, held to the commit).
                        conn.execute(pg_query("collections_state_write"))
                    yield _PgTransaction(conn)
            except self._errors.IntegrityError as error:
                raise Conflict(str(error)) from error

    def marks(self) -> tuple[int, int, int]:
        replaced, _, event, action = self._state()
        return replaced, event, action

    def data_version(self) -> str:
        replaced, writes, event, action = self._state()
        return f"{event}-{action}-{writes}-{replaced}"

    def _state(self) -> tuple[int, int, int, int]:
        with self._pool.connection() as conn:
            row = conn.execute(pg_query("collections_state")).fetchone()
        return tuple(int(v) for v in row)

    def close(self) -> None:
        self._pool.close()


def open_backend(path: Path, url: str | None) -> Backend:
    """The back end of a collections database: PostgreSQL at `url` when given, else the file `path`."""
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"{URL_VARIABLE}: {redacted(url)!r} is not a postgresql:// URL")
        return PostgresBackend(url)
    return DuckDBBackend(path)
