"""Import of a user's ERP exports: read CSV / XLSX / Parquet, map columns, validate, write all or nothing.

Every value is read as text first, then parsed by the contract's column kinds, so that a bad value is
reported with its file, row and column instead of failing the whole read. Row numbers are those a
spreadsheet shows: the header is row 1, the first record row 2 (Parquet files have no header: row 1).

Broken files are refused, never half read: a header naming a column twice, or (XLSX) columns with
values under no name (a title row or merged cells above the header); text longer than
contract.MAX_TEXT_LENGTH or holding control characters; amounts beyond contract.MAX_AMOUNT; dates
outside contract.FIRST_DATE..LAST_DATE. An XLSX formula cell reads as its formula (=...): text where a
name belongs, refused where an amount or a date belongs, as in a CSV file.

What a file may cost is bounded before it is read whole (`Limits`, each overridable by an AR_IMPORT_*
environment variable that the refusal names): its size on disk; its rows (a CSV file's lines, counted
while its encoding is checked; a Parquet file's footer); a CSV line or an XLSX / Parquet text cell; and
what a compressed file (XLSX, Parquet) expands to, from its zip directory or Parquet footer, so that a
small file that decompresses to gigabytes is refused before any of it is decompressed.

An import mapping is a TOML file:

    functional_currency = "USD"

    [format]                       # for every file; a table may override any of these
    encoding = "utf-8"             # or "latin-1"
    separator = ","                # or ";"; guessed from the header when omitted
    date_format = "%m/%d/%Y"       # strftime codes; default ISO %Y-%m-%d
    decimal_separator = "."        # "," for decimal commas
    thousands_separator = ""       # e.g. "." or " "

    [documents]
    columns = { document_id = "invoiceNumber", amount = "InvoiceAmount" }   # canonical = source
    constants = { document_type = "invoice", currency = "USD" }

    [payments]
    derive_from = "documents"      # one payment per row of the documents file with a settlement date
    columns = { payment_date = "SettledDate", amount = "InvoiceAmount" }

    [installments]                 # an invoice's due dates when paid in parts (30/60/90 terms)
    columns = { document_id = "InvoiceNo", due_date = "EcheanceDate", amount_functional = "Montant" }

    [exchange_rates]               # functional units per unit of a currency, from a date on
    columns = { rate_date = "Datum", currency = "Waehrung", rate = "Kurs" }

A document's installments (optional `installments` file) add up to its amount_functional, or the
import is refused on the first of them; installments given again replace all of a document's stored
ones, and a document imported again with another amount must come with its installments.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import time
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pyarrow.parquet as pq

from analytics import contract
from analytics.store import ImportRecord, Manifest, Progress, Store, Tables, no_progress

MAX_LISTED_PROBLEMS = 50
ROW = "__row"
# A table's rows: in memory, or a file not read yet (scan_raw).
Frame = pl.DataFrame | pl.LazyFrame
SUPPORTED_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet")
ENCODINGS = ("utf-8", "latin-1")
DERIVABLE = {"customers": "documents", "payments": "documents"}
MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """What one imported file may cost. The defaults take the 10M-document benchmark (a 730 MB documents
    CSV, 10.1M payments in 600 MB) with room to spare, and refuse what would take the process down."""

    file_bytes: int = 2 * GIB  # on disk
    rows: int = 20_000_000
    record_bytes: int = 1 * MIB  # a CSV line; an XLSX or Parquet text cell
    decoded_bytes: int = 4 * GIB  # an XLSX file's XML; a Parquet file's values, as the import holds them
    expansion: int = 200  # decoded / on disk, beyond EXPANSION_FLOOR

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Limits:
        """The defaults, each replaced by its AR_IMPORT_MAX_* variable when set."""
        environ = os.environ if environ is None else environ
        values = {}
        for name, variable in LIMIT_VARIABLES.items():
            text = environ.get(variable, "").strip().replace("_", "")
            if not text:
                continue
            if not text.isdigit() or int(text) == 0:
                raise ImportRefused(
                    [
                        Problem(
                            "import", None, None, f"{variable} must be a positive whole number, not {text!r}"
                        )
                    ]
                )
            values[name] = int(text)
        return cls(**values)


LIMIT_VARIABLES = {
    "file_bytes": "AR_IMPORT_MAX_FILE_BYTES",
    "rows": "AR_IMPORT_MAX_ROWS",
    "record_bytes": "AR_IMPORT_MAX_RECORD_BYTES",
    "decoded_bytes": "AR_IMPORT_MAX_DECODED_BYTES",
    "expansion": "AR_IMPORT_MAX_EXPANSION",
}
# A compressed file decoding to less than this is never refused for its expansion.
EXPANSION_FLOOR = 64 * MIB
# The memory a value takes as text in a column (a string view), before its characters.
_VALUE_BYTES = 16


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as possible."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class ImportRefused(Exception):
    """The input was refused; nothing was written."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems[:MAX_LISTED_PROBLEMS]
        self.total = total if total is not None else len(problems)
        super().__init__(self.report())

    def report(self) -> str:
        lines = [str(problem) for problem in self.problems]
        if self.total > len(self.problems):
            lines.append(f"... and {self.total - len(self.problems)} more problems ({self.total} in all)")
        header = f"Import refused: {self.total} problem{'s' if self.total != 1 else ''}; nothing was written."
        return "\n".join([header, *lines])

    def table(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "file": [p.file for p in self.problems],
                "row": [p.row for p in self.problems],
                "column": [p.column for p in self.problems],
                "problem": [p.message for p in self.problems],
            },
            schema={"file": pl.String, "row": pl.Int64, "column": pl.String, "problem": pl.String},
        )


@dataclass(frozen=True)
class FileFormat:
    encoding: str = "utf-8"
    separator: str | None = None
    date_format: str = "%Y-%m-%d"
    decimal_separator: str = "."
    thousands_separator: str = ""

    def merged(self, overrides: dict) -> FileFormat:
        values = {**self.__dict__, **overrides}
        return FileFormat(**values)


@dataclass(frozen=True)
class TableMapping:
    columns: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    derive_from: str | None = None
    format: FileFormat = field(default_factory=FileFormat)


@dataclass(frozen=True)
class Mapping:
    functional_currency: str | None = None
    tables: dict[str, TableMapping] = field(default_factory=dict)
    format: FileFormat = field(default_factory=FileFormat)

    def for_table(self, name: str) -> TableMapping:
        return self.tables.get(name, TableMapping(format=self.format))


@dataclass(frozen=True)
class Sources:
    """The files of one import; any may be omitted when the store already holds that table."""

    customers: Path | None = None
    documents: Path | None = None
    payments: Path | None = None
    open_items: Path | None = None
    installments: Path | None = None
    exchange_rates: Path | None = None

    def given(self) -> dict[str, Path]:
        named = {
            "customers": self.customers,
            "documents": self.documents,
            "payments": self.payments,
            "open_items": self.open_items,
            "installments": self.installments,
            "exchange_rates": self.exchange_rates,
        }
        return {name: Path(path) for name, path in named.items() if path is not None}


@dataclass(frozen=True)
class ImportResult:
    manifest: Manifest
    rows: dict[str, int]

    def summary(self) -> str:
        """'3 customers, 1 document, 6 payments'."""
        singular = {
            "customers": "customer",
            "documents": "document",
            "payments": "payment",
            "open_items": "open item",
            "installments": "installment",
            "exchange_rates": "exchange rate",
        }
        return ", ".join(
            f"{count:,} {singular[name] if count == 1 else name.replace('_', ' ')}"
            for name, count in self.rows.items()
        )


_FORMAT_KEYS = set(FileFormat.__dataclass_fields__)
_TABLE_KEYS = {"columns", "constants", "derive_from", *_FORMAT_KEYS}


def load_mapping(path: str | Path) -> Mapping:
    """Read and check an import mapping file; a wrong key is reported with the file's name."""
    path = Path(path)
    name = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportRefused([Problem(name, None, None, "mapping file not found")]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ImportRefused([Problem(name, None, None, f"not a valid TOML file: {error}")]) from None
    return parse_mapping(raw, name)


def parse_mapping(raw: dict, name: str = "mapping") -> Mapping:
    problems: list[Problem] = []
    currency = raw.get("functional_currency")
    if currency is not None and str(currency).upper() not in contract.CURRENCIES:
        problems.append(
            Problem(name, None, "functional_currency", f"{currency!r} is not an ISO 4217 currency")
        )
    base = FileFormat()
    format_raw = raw.get("format", {})
    unknown = set(format_raw) - _FORMAT_KEYS
    if unknown:
        problems.append(
            Problem(name, None, None, f"unknown key(s) in [format]: {', '.join(sorted(unknown))}")
        )
    else:
        base = base.merged(format_raw)
    tables: dict[str, TableMapping] = {}
    for key, value in raw.items():
        if key in ("functional_currency", "format"):
            continue
        if key not in contract.TABLES:
            problems.append(
                Problem(name, None, None, f"unknown section [{key}]; use {', '.join(contract.TABLES)}")
            )
            continue
        table = contract.TABLES[key]
        unknown = set(value) - _TABLE_KEYS
        if unknown:
            problems.append(
                Problem(name, None, None, f"unknown key(s) in [{key}]: {', '.join(sorted(unknown))}")
            )
            continue
        columns = {str(k): str(v) for k, v in value.get("columns", {}).items()}
        constants = {str(k): str(v) for k, v in value.get("constants", {}).items()}
        for canonical in (*columns, *constants):
            if canonical not in table.names:
                problems.append(
                    Problem(
                        name,
                        None,
                        canonical,
                        f"[{key}] maps to unknown column {canonical!r}; {key} has: {', '.join(table.names)}",
                    )
                )
        derive_from = value.get("derive_from")
        if derive_from is not None and DERIVABLE.get(key) != derive_from:
            problems.append(Problem(name, None, None, f"[{key}] cannot be derived from {derive_from!r}"))
        overrides = {k: v for k, v in value.items() if k in _FORMAT_KEYS}
        tables[key] = TableMapping(columns, constants, derive_from, base.merged(overrides))
    for table_format in [base, *(t.format for t in tables.values())]:
        if table_format.encoding.lower().replace("_", "-") not in ENCODINGS + (
            "utf8",
            "latin1",
            "iso-8859-1",
        ):
            problems.append(
                Problem(name, None, "encoding", f"unsupported encoding {table_format.encoding!r}")
            )
    if problems:
        raise ImportRefused(problems)
    return Mapping(str(currency).upper() if currency else None, tables, base)


# --- reading ---------------------------------------------------------------------------------------


# Files uploaded on the Data page wait for their import in DATA/uploads/<one folder a session>/; the
# page removes its folder when the import ends, and these older than UPLOAD_MAX_AGE (abandoned: the page
# writes its files again on every run, so a folder in use is never that old) at the start of a session.
UPLOADS = "uploads"
UPLOAD_MAX_AGE_SECONDS = 6 * 3600


def remove_stale_uploads(root: Path, *, now: float | None = None) -> list[str]:
    """Remove the upload folders under `root`/uploads whose newest file is older than UPLOAD_MAX_AGE_SECONDS;
    returns their names. A folder that cannot be removed is left for the next time."""
    uploads = Path(root) / UPLOADS
    if not uploads.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for folder in sorted(uploads.iterdir()):
        try:
            newest = max([folder.lstat().st_mtime, *(path.lstat().st_mtime for path in folder.rglob("*"))])
            if now - newest <= UPLOAD_MAX_AGE_SECONDS:
                continue
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
            else:
                folder.unlink()
        except OSError:  # removed meanwhile by another session, or not ours to remove
            continue
        removed.append(folder.name)
    return removed


def upload_file_name(name: str) -> str:
    """The name to save an uploaded file under: its last part only (whatever the separators), with
    harmless characters, never hidden, '.' or '..', at most 120 characters with its type kept."""
    base = re.split(r"[/\\]", name)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".") or "upload"
    stem, dot, suffix = base.rpartition(".")
    if dot and stem and len(suffix) <= 10:
        return f"{stem[:100]}.{suffix}"
    return base[:120]


def check_limits(path: Path, limits: Limits | None = None) -> Limits:
    """Refuse a file whose reading would cost more than `limits` allow (by default those of the
    environment), from what can be known without decompressing it: its size, an XLSX file's zip
    directory and the longest text of its first sheet, a Parquet file's footer. A CSV file's rows and
    lines are counted as it is read (_CsvMeasure). Returns the limits applied."""
    limits = limits or Limits.from_environment()
    name = path.name
    size = path.stat().st_size
    if size > limits.file_bytes:
        raise ImportRefused(
            [
                Problem(
                    name,
                    None,
                    None,
                    f"the file is {_bytes(size)}; an import takes files up to {_bytes(limits.file_bytes)} "
                    f"({LIMIT_VARIABLES['file_bytes']})",
                )
            ]
        )
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        _check_xlsx_limits(path, size, limits)
    elif suffix == ".parquet":
        _check_parquet_limits(path, size, limits)
    return limits


def _bytes(count: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count:,} bytes"


def _check_decoded(name: str, what: str, decoded: int, size: int, limits: Limits) -> None:
    """Refuse a file whose decoded size (`what` says of what) is beyond the limit, or beyond its
    allowed expansion over its size on disk."""
    if decoded > limits.decoded_bytes:
        message = (
            f"{what} take about {_bytes(decoded)} decoded; an import takes up to "
            f"{_bytes(limits.decoded_bytes)} ({LIMIT_VARIABLES['decoded_bytes']})"
        )
    elif decoded > EXPANSION_FLOOR and decoded > limits.expansion * size:
        message = (
            f"{what} take about {_bytes(decoded)} decoded, {decoded // size:,} times the file's "
            f"{_bytes(size)}: a compressed file may expand at most {limits.expansion:,} times "
            f"({LIMIT_VARIABLES['expansion']})"
        )
    else:
        return
    raise ImportRefused([Problem(name, None, None, message)])


def _check_parquet_limits(path: Path, size: int, limits: Limits) -> None:
    """Rows, decoded size and the longest text (from the column statistics, when written) of a
    Parquet file, from its footer alone."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception:  # noqa: BLE001 - not a Parquet file: the reader says so when it reads it
        return
    name = path.name
    if metadata.num_rows > limits.rows:
        raise ImportRefused(
            [
                Problem(
                    name,
                    None,
                    None,
                    f"the file has {metadata.num_rows:,} rows; an import takes up to {limits.rows:,} rows "
                    f"a file ({LIMIT_VARIABLES['rows']})",
                )
            ]
        )
    decoded = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for position in range(row_group.num_columns):
            chunk = row_group.column(position)
            longest = 0
            statistics = chunk.statistics
            if chunk.physical_type == "BYTE_ARRAY" and statistics is not None and statistics.has_min_max:
                longest = max(len(statistics.min or ""), len(statistics.max or ""))
            if longest > limits.record_bytes:
                raise ImportRefused(
                    [
                        Problem(
                            name,
                            None,
                            chunk.path_in_schema,
                            f"holds a text of {_bytes(longest)}; a cell is limited to "
                            f"{_bytes(limits.record_bytes)} ({LIMIT_VARIABLES['record_bytes']})",
                        )
                    ]
                )
            # As text each value takes a view, and its characters beyond the 12 a view holds itself.
            held = chunk.num_values * (_VALUE_BYTES + (longest if longest > 12 else 0))
            decoded += max(chunk.total_uncompressed_size, held)
    _check_decoded(
        name, f"its {metadata.num_rows:,} rows of {metadata.num_columns} columns", decoded, size, limits
    )


def _first_sheet(archive: zipfile.ZipFile) -> tuple[str, str]:
    """The name of a workbook's first sheet and its member in the archive."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    first = workbook.find(f"{_SHEET}sheets/{_SHEET}sheet")
    relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next(
        r.get("Target", "") for r in relations if first is not None and r.get("Id") == first.get(_RELATION)
    )
    member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return (first.get("name", "") if first is not None else ""), member


def _check_xlsx_limits(path: Path, size: int, limits: Limits) -> None:
    """The sizes its zip directory gives, then the longest text of the first sheet and of the shared
    strings, measured streaming (the XML of a text holds no '<'), before the sheet is read."""
    name = path.name
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return  # not a workbook: the reader says so when it reads it
    with archive:
        members = archive.infolist()
        _check_decoded(name, f"its {len(members)} parts", sum(m.file_size for m in members), size, limits)
        try:
            sheet_name, sheet = _first_sheet(archive)
        except (KeyError, StopIteration, ElementTree.ParseError):
            return
        present = set(archive.namelist())
        for member in ("xl/sharedStrings.xml", sheet):
            if member not in present:
                continue
            with archive.open(member) as handle:
                runs = _LongRun(b"<", limits.record_bytes)
                previous = b""
                while block := handle.read(_BLOCK):
                    start = runs.feed(block)
                    if start is not None:
                        before = (previous + block)[: max(len(previous) + start, 0)]
                        raise ImportRefused([_long_cell(name, sheet_name, member, before, limits)])
                    previous = block


def _long_cell(name: str, sheet_name: str, member: str, before: bytes, limits: Limits) -> Problem:
    """The problem of an XLSX text longer than the limit: its cell when its XML names it."""
    message = (
        f"a cell of sheet {sheet_name!r} holds more than {_bytes(limits.record_bytes)} of text; a cell is "
        f"limited to {_bytes(limits.record_bytes)} ({LIMIT_VARIABLES['record_bytes']})"
    )
    if member.endswith("sharedStrings.xml"):
        return Problem(name, None, None, message)
    opening = before.rfind(b"<c ")
    found = re.match(rb'<c r="([A-Z]+)(\d+)"', before[opening:]) if opening >= 0 else None
    if found is None:
        return Problem(name, None, None, message)
    return Problem(name, int(found.group(2)), found.group(1).decode(), message)


class _LongRun:
    """The first run of more than `limit` bytes without `separator` in a stream fed block by block.
    Looks at windows of limit // 2 bytes: a run longer than the limit holds one whole, so that a block
    of short runs costs a few searches, not one per run."""

    def __init__(self, separator: bytes, limit: int) -> None:
        self.separator = separator
        self.limit = limit
        self.window = max(limit // 2, 1)
        self.open = 0  # bytes of the run the previous blocks ended in

    def feed(self, block: bytes) -> int | None:
        """Where in `block` the first long run starts (negative: in an earlier block), or None."""
        first = block.find(self.separator)
        if first < 0:
            self.open += len(block)
            return len(block) - self.open if self.open > self.limit else None
        if self.open + first > self.limit:
            return -self.open
        last = block.rfind(self.separator)
        start = first + 1
        while start + self.window <= last:
            if block.find(self.separator, start, start + self.window) >= 0:
                start += self.window
                continue
            begin = block.rfind(self.separator, 0, start) + 1
            end = block.find(self.separator, start + self.window)
            if end - begin > self.limit:
                return begin
            start = end + 1
        self.open = len(block) - last - 1
        return None


class _CsvMeasure:
    """The rows and the longest line of a CSV file, counted block by block as it is read: raises
    ImportRefused past the limits, naming the row."""

    def __init__(self, name: str, limits: Limits) -> None:
        self.name = name
        self.limits = limits
        self.lines = 0
        self.runs = _LongRun(b"\n", limits.record_bytes)

    def feed(self, block: bytes) -> None:
        start = self.runs.feed(block)
        if start is not None:
            row = self.lines + (block.count(b"\n", 0, start) if start > 0 else 0) + 1
            raise ImportRefused(
                [
                    Problem(
                        self.name,
                        row,
                        None,
                        f"the line is longer than {_bytes(self.limits.record_bytes)}; a record is limited to "
                        f"{_bytes(self.limits.record_bytes)} ({LIMIT_VARIABLES['record_bytes']})",
                    )
                ]
            )
        self.lines += block.count(b"\n")
        # The header is a line; the last record may end without a line break.
        if self.lines > self.limits.rows + 1:
            raise ImportRefused(
                [
                    Problem(
                        self.name,
                        None,
                        None,
                        f"the file has more than {self.limits.rows:,} rows; an import takes up to "
                        f"{self.limits.rows:,} rows a file ({LIMIT_VARIABLES['rows']})",
                    )
                ]
            )


def read_raw(path: Path, file_format: FileFormat) -> pl.DataFrame:
    """The file as text columns plus its row numbers; raises ImportRefused on an unreadable file."""
    frame = scan_raw(path, file_format)
    try:
        return frame.collect()
    except Exception as error:  # noqa: BLE001 - any reader failure is the file's fault; say so
        raise _unreadable(path, file_format, error) from None


def scan_raw(path: Path, file_format: FileFormat) -> pl.LazyFrame:
    """read_raw, lazily: the checks that need no more than the header and the first row are made at
    once; a CSV file's rows are read (streaming, never held as text all at once) when the frame is
    collected. A collect that fails on the file is worded by `reading_failure`."""
    name = path.name
    if not path.is_file():
        raise ImportRefused([Problem(name, None, None, "file not found")])
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ImportRefused([Problem(name, None, None, "unsupported file type; use CSV, XLSX or Parquet")])
    if path.stat().st_size == 0:
        raise ImportRefused([Problem(name, None, None, "the file is empty")])
    limits = check_limits(path)
    try:
        if suffix in (".csv", ".txt"):
            frame, header = _scan_csv(path, file_format, limits)
            first_row = 2
        elif suffix == ".xlsx":
            frame, header, first_row = _read_xlsx(path)
        else:
            frame, header = _read_parquet(path)
            first_row = 1
        problems = _header_problems(name, header)
        if problems:
            raise ImportRefused(problems)
        columns = frame.collect_schema().names()
        # No first row may also be a first record the reader cannot end (an unclosed quote): read on.
        has_rows = frame.head(1).collect().height > 0 or frame.collect().height > 0
    except ImportRefused:
        raise
    except Exception as error:  # noqa: BLE001 - any reader failure is the file's fault; say so
        raise _unreadable(path, file_format, error) from None
    if not has_rows:
        raise ImportRefused([Problem(name, None, None, "the file has a header but no rows")])
    frame = frame.rename({c: c.strip() for c in columns})
    return frame.with_row_index(ROW, offset=first_row).with_columns(pl.col(ROW).cast(pl.Int64))


def reading_failure(path: Path, file_format: FileFormat) -> ImportRefused | None:
    """Why the file cannot be read whole, when collecting a frame of scan_raw failed: the refusal
    read_raw gives, or None when the file reads well (the failure was not the file's)."""
    try:
        read_raw(path, file_format)
    except ImportRefused as refused:
        return refused
    return None


def _unreadable(path: Path, file_format: FileFormat, error: Exception) -> ImportRefused:
    """The refusal of a file its reader failed on: where the reader's words are not a user's (a CSV
    row with too many values, an unclosed quote), the file is read again to find the row."""
    name = path.name
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        located = _csv_structure_problem(path, file_format)
        if located is not None:
            return ImportRefused([located])
    if isinstance(error, OSError) and error.errno is not None:
        return ImportRefused([Problem(name, None, None, f"cannot be read: {error.strerror or error}")])
    kind = {".xlsx": "an XLSX workbook", ".parquet": "a Parquet file"}.get(suffix, "CSV")
    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    # The reader names the file by its full path (an upload's is the data folder's): name it as the user does.
    reason = reason.replace(str(path.resolve()), name).replace(str(path), name)
    return ImportRefused([Problem(name, None, None, f"cannot be read as {kind}: {reason}")])


def _csv_structure_problem(path: Path, file_format: FileFormat) -> Problem | None:
    """The first record of a CSV file that does not fit its header: more values than columns, or a
    quote that is not closed. None when the standard reader finds no such record."""
    latin = file_format.encoding.lower().replace("_", "-") in ("latin-1", "latin1", "iso-8859-1")
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    separator = file_format.separator or _guess_separator(head.removeprefix(b"\xef\xbb\xbf"))
    row = 1
    try:
        with open(path, encoding="latin-1" if latin else "utf-8-sig", errors="replace", newline="") as text:
            reader = csv.reader(text, delimiter=separator, strict=True)
            header = next(reader, [])
            for row, record in enumerate(reader, start=2):  # noqa: B007 - row is read after the loop
                if len(record) > len(header):
                    return Problem(
                        path.name,
                        row,
                        None,
                        f"the row has {len(record)} values but the header has {len(header)} columns "
                        f"(a {separator!r} inside a value that is not quoted?)",
                    )
            row += 1
    except csv.Error as error:
        return Problem(
            path.name,
            row + 1,
            None,
            f'cannot be read as CSV from this row on ({error}): a quote (") is not closed, '
            "or a value holds a quote without being quoted",
        )
    return None


def read_header(path: Path, file_format: FileFormat) -> list[str]:
    """The column names of a file, without reading its rows (for the mapping form)."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx" and path.is_file():
        check_limits(path)  # the header of a workbook is read with its whole first sheet
    try:
        if suffix == ".parquet":
            return list(pl.read_parquet_schema(path))
        if suffix == ".xlsx":
            return _read_xlsx(path)[1]
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
        head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        encoding = "latin-1" if file_format.encoding.lower().startswith(("latin", "iso")) else "utf-8"
        line = head.split(b"\n", 1)[0].decode(encoding, errors="replace").rstrip("\r")
        separator = file_format.separator or _guess_separator(head)
        return pl.read_csv(line.encode("utf-8"), separator=separator, infer_schema=False, n_rows=0).columns
    except ImportRefused:
        raise
    except Exception as error:  # noqa: BLE001 - any reader failure is the file's fault; say so
        raise _unreadable(path, file_format, error) from None


def _header_problems(name: str, columns: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for column in columns:
        key = column.strip().lower()
        if key and key in seen:
            problems.append(
                Problem(name, 1, column, f"the column {column.strip()!r} appears twice in the header")
            )
        seen.add(key)
    return problems


def _csv_header(name: str, data: bytes, separator: str) -> list[str]:
    """The column names of a CSV file's first line, as written (the reader renames duplicates)."""
    line = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    if "\r" in line:
        raise ImportRefused(
            [
                Problem(
                    name,
                    1,
                    None,
                    "lines end with a carriage return alone (an old Mac format); save the file as CSV "
                    "with Windows or Unix line endings",
                )
            ]
        )
    try:
        return next(csv.reader([line], delimiter=separator), [])
    except csv.Error:  # a line the reader will not take either (it says why when it reads it)
        return line.split(separator)


def _read_xlsx(path: Path) -> tuple[pl.LazyFrame, list[str], int]:
    """The first sheet of a workbook as text, its header and the sheet row of its first record. The
    header is the first row of the sheet's used range; a formula cell reads as its formula (=...), so
    that a formula where an amount or a date belongs is refused as it would be in a CSV file."""
    sheet = pl.read_excel(path, has_header=False, infer_schema_length=0)
    origin_row, origin_column, formulas = _xlsx_formulas(path)
    if sheet.height == 0:
        raise ImportRefused([Problem(path.name, None, None, "the first sheet is empty")])
    if formulas:
        sheet = sheet.with_row_index("__position")
        replaced = []
        for index, name in enumerate(sheet.columns[1:]):
            cells = {r - origin_row: text for (r, c), text in formulas.items() if c - origin_column == index}
            if cells:
                positions = pl.DataFrame(
                    {"__position": list(cells), "__formula": list(cells.values())},
                    schema={"__position": pl.UInt32, "__formula": pl.String},
                )
                column = sheet.join(positions, on="__position", how="left").sort("__position")
                replaced.append(
                    pl.Series(name, column.get_column("__formula")).fill_null(sheet.get_column(name))
                )
        sheet = sheet.drop("__position").with_columns(replaced)
    header = ["" if value is None else str(value).strip() for value in sheet.row(0)]
    records = sheet.slice(1)
    unnamed = [
        _column_letter(origin_column + index)
        for index, column in enumerate(records.columns)
        if not header[index] and records.get_column(column).is_not_null().any()
    ]
    if unnamed:
        raise ImportRefused(
            [
                Problem(
                    path.name,
                    origin_row,
                    unnamed[0] if len(unnamed) == 1 else None,
                    f"column{'s' if len(unnamed) > 1 else ''} {', '.join(unnamed)} "
                    f"{'have' if len(unnamed) > 1 else 'has'} values but no name in the header row; the first row "
                    "must hold the column names: a title or merged cells above them are not supported",
                )
            ]
        )
    named = [(column, header[index]) for index, column in enumerate(records.columns) if header[index]]
    problems = _header_problems(path.name, [name for _, name in named])
    if problems:
        raise ImportRefused([replace(p, row=origin_row) for p in problems])
    frame = records.select(pl.col(column).alias(name) for column, name in named)
    return frame.lazy(), [name for _, name in named], origin_row + 1


_SHEET = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_RELATION = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _xlsx_formulas(path: Path) -> tuple[int, int, dict[tuple[int, int], str]]:
    """The first row and column (1-based) of the first sheet's used range, and its formula cells:
    (row, column) -> '=formula'. The sheet's XML is only parsed when it holds a formula."""
    with zipfile.ZipFile(path) as archive:
        member = _first_sheet(archive)[1]
        origin, has_formulas = (1, 1), False
        with archive.open(member) as handle:
            tail = b""
            while block := handle.read(1 << 20):
                chunk = tail + block
                if origin == (1, 1) and (
                    found := re.search(rb'<(?:\w+:)?dimension ref="([A-Z]+)(\d+)', chunk)
                ):
                    origin = (int(found.group(2)), _column_number(found.group(1).decode()))
                if _FORMULA_TAG.search(chunk):
                    has_formulas = True
                    break
                tail = chunk[-64:]
        formulas: dict[tuple[int, int], str] = {}
        if has_formulas:
            with archive.open(member) as handle:
                for _, element in ElementTree.iterparse(handle):
                    if element.tag == f"{_SHEET}c":
                        formula = element.find(f"{_SHEET}f")
                        reference = re.match(r"([A-Z]+)(\d+)", element.get("r", ""))
                        if formula is not None and reference:
                            position = (int(reference.group(2)), _column_number(reference.group(1)))
                            formulas[position] = "=" + (formula.text or "(shared formula)")
                        element.clear()
    return origin[0], origin[1], formulas


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _column_letter(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _read_parquet(path: Path) -> tuple[pl.LazyFrame, list[str]]:
    """A Parquet file's columns as text; its names as written (the reader refuses duplicates)."""
    names = pq.read_schema(path).names
    problems = _header_problems(path.name, names)
    if problems:
        raise ImportRefused([replace(p, row=None) for p in problems])
    frame = pl.read_parquet(path)
    for name, dtype in frame.schema.items():
        if dtype.is_nested() or dtype == pl.Binary or dtype == pl.Object:
            raise ImportRefused(
                [Problem(path.name, None, name, f"holds {dtype}, not text, numbers or dates")]
            )
    return frame.lazy().with_columns(pl.all().cast(pl.String)), names


def _scan_csv(path: Path, file_format: FileFormat, limits: Limits) -> tuple[pl.LazyFrame, list[str]]:
    encoding = file_format.encoding.lower().replace("_", "-")
    if encoding in ("latin-1", "latin1", "iso-8859-1"):
        measure = _CsvMeasure(path.name, limits)
        with open(path, "rb") as handle:
            while block := handle.read(_BLOCK):
                measure.feed(block)
        data = path.read_bytes().decode("latin-1").encode("utf-8")
        if not data.strip():
            raise ImportRefused([Problem(path.name, None, None, "the file is empty")])
        separator = file_format.separator or _guess_separator(data)
        frame = pl.read_csv(data, separator=separator, infer_schema=False, truncate_ragged_lines=False)
        return frame.lazy(), _csv_header(path.name, data, separator)
    header, blank = _check_utf8(path, _CsvMeasure(path.name, limits))
    if blank:
        raise ImportRefused([Problem(path.name, None, None, "the file is empty")])
    separator = file_format.separator or _guess_separator(header)
    # The reader skips a byte order mark itself.
    frame = pl.scan_csv(path, separator=separator, infer_schema=False, truncate_ragged_lines=False)
    return frame, _csv_header(path.name, header, separator)


_WHITE_SPACE = b" \t\n\r\x0b\x0c"
_BLOCK = 1 << 24


def _check_utf8(path: Path, measure: _CsvMeasure | None = None) -> tuple[bytes, bool]:
    """The first line of a UTF-8 file (after any byte order mark) and whether the file holds nothing
    but white space; raises ImportRefused with the line of the first byte that is not UTF-8. Reads the
    file block by block: an ASCII block needs no decoding."""
    header: list[bytes] = []
    header_done = False
    blank = True
    lines = 0
    carry = b""
    with open(path, "rb") as handle:
        block = handle.read(_BLOCK)
        if block.startswith(b"\xef\xbb\xbf"):
            block = block[3:]
        while True:
            at_end = len(block) == 0
            chunk = carry + block
            carry = b""
            if not chunk:
                break
            if (nul := chunk.find(b"\x00")) >= 0:
                line = lines + chunk.count(b"\n", 0, nul) + 1
                raise ImportRefused(
                    [
                        Problem(
                            path.name,
                            line,
                            None,
                            "holds binary data (a NUL byte), not CSV text; export the table as CSV (UTF-8)",
                        )
                    ]
                )
            if not chunk.isascii():
                try:
                    chunk.decode("utf-8")
                except UnicodeDecodeError as error:
                    if at_end or error.reason != "unexpected end of data":
                        line = lines + chunk.count(b"\n", 0, error.start) + 1
                        raise ImportRefused(
                            [
                                Problem(
                                    path.name,
                                    line,
                                    None,
                                    "is not valid UTF-8; if the file is Latin-1, "
                                    'set encoding = "latin-1" in the mapping',
                                )
                            ]
                        ) from None
                    # A character cut by the end of the block: decode it with the next block.
                    chunk, carry = chunk[: error.start], chunk[error.start :]
            if measure is not None:
                measure.feed(chunk)
            if blank and chunk.translate(None, _WHITE_SPACE):
                blank = False
            if not header_done:
                end = chunk.find(b"\n")
                header.append(chunk if end < 0 else chunk[:end])
                header_done = end >= 0
            lines += chunk.count(b"\n")
            if at_end:
                break
            block = handle.read(_BLOCK)
    return b"".join(header), blank


def _guess_separator(data: bytes) -> str:
    header = data.split(b"\n", 1)[0]
    return ";" if header.count(b";") > header.count(b",") else ","


# --- mapping and parsing ---------------------------------------------------------------------------


def apply_mapping(raw: Frame, table: contract.Table, mapping: TableMapping, name: str) -> Frame:
    """Rename the user's columns to canonical names; unmapped canonical columns match by name,
    ignoring case. Raises ImportRefused for unknown mapped columns and missing required ones.
    `raw` may be lazy (scan_raw): only its column names are looked at."""
    problems: list[Problem] = []
    raw_columns = raw.collect_schema().names()
    by_lower = {c.lower(): c for c in raw_columns if c != ROW}
    selected: list[pl.Expr] = [pl.col(ROW)]
    for column in table.columns:
        if column.name in mapping.constants:
            selected.append(pl.lit(mapping.constants[column.name], dtype=pl.String).alias(column.name))
        elif column.name in mapping.columns:
            source = mapping.columns[column.name]
            if source in raw_columns:
                selected.append(pl.col(source).alias(column.name))
            elif source.lower() in by_lower:
                selected.append(pl.col(by_lower[source.lower()]).alias(column.name))
            else:
                problems.append(
                    Problem(
                        name,
                        1,
                        source,
                        f"the mapping names column {source!r} for {column.name}, but the file has no such column "
                        f"(it has: {', '.join(c for c in raw_columns if c != ROW)})",
                    )
                )
        elif column.name in by_lower:
            selected.append(pl.col(by_lower[column.name]).alias(column.name))
        elif column.required:
            problems.append(Problem(name, 1, column.name, "required column is missing"))
        else:
            selected.append(pl.lit(None, dtype=pl.String).alias(column.name))
    if problems:
        raise ImportRefused(problems)
    return raw.select(selected)


_ISO_TIME_SUFFIX = r"[ T]00:00(:00(\.0+)?)?$"
# Working column names of parse_columns: a column's parsed value, an amount's cleaned text, the rows
# failing a check.
_PARSED = "__parsed_"
_CLEANED = "__cleaned_"
_CHECK = "__check_"


def parse_columns(
    frame: Frame, table: contract.Table, file_format: FileFormat, name: str
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Parse text columns into the contract's types. Returns the typed frame and frames of problems
    (columns: row, column, message) for values that could not be parsed or are missing.

    One streaming pass over `frame` (which may be lazy: a file not read yet) parses every column and
    marks the rows each check fails; only when some check fails are the failing rows read again, to
    word their problems."""
    text = {c.name: pl.col(c.name).str.strip_chars().replace("", None) for c in table.columns}
    parsed: dict[str, pl.Expr] = {}
    for column in table.columns:
        value = pl.col(column.name)
        if column.kind == "text":
            expression = value
            if column.allowed:
                expression = value.str.to_lowercase().str.replace_all(r"[ \-]+", "_")
            if column.default is not None:
                expression = expression.fill_null(pl.lit(column.default))
            if column.name == "currency":
                expression = value.str.to_uppercase()
        elif column.kind == "date":
            cleaned = value.str.replace(_ISO_TIME_SUFFIX, "")
            expression = cleaned.str.to_date(file_format.date_format, strict=False)
        elif column.kind == "money":
            expression = _money(pl.col(_CLEANED + column.name))
        elif column.kind == "rate":
            expression = _rate(pl.col(_CLEANED + column.name))
        else:
            expression = value.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
        parsed[column.name] = expression
    # The text (stripped, empty as null) under the column's name, the parsed value beside it.
    checked = (
        frame.lazy()
        .with_columns(text.values())
        # An amount's cleaned text is a column of its own: _money reads it twice.
        .with_columns(
            _money_text(pl.col(c.name), file_format).alias(_CLEANED + c.name)
            for c in table.columns
            if c.kind in ("money", "rate")
        )
        .with_columns(expression.alias(_PARSED + column_name) for column_name, expression in parsed.items())
    )
    # (column, failing rows, message), in the order their problems are listed
    checks: list[tuple[str, pl.Expr, pl.Expr]] = []
    for column in table.columns:
        raw_value = pl.col(column.name)
        typed_value = pl.col(_PARSED + column.name)
        if column.kind != "text":
            expected = {
                "date": f"a date like {_example_date(file_format.date_format)}",
                "money": "an amount with at most 2 decimals"
                + (
                    f" (decimal separator {file_format.decimal_separator!r})"
                    if file_format.decimal_separator != "."
                    else ""
                ),
                "integer": "a whole number",
                "rate": f"a positive rate with at most {contract.RATE_DECIMALS} decimals",
            }[column.kind]
            # A well-formed amount too large for the wide type is null too: told apart below.
            unparsed = (
                ~pl.col(_CLEANED + column.name).str.contains(_MONEY_PATTERN)
                if column.kind == "money"
                else typed_value.is_null()
            )
            checks.append(
                (
                    column.name,
                    raw_value.is_not_null() & unparsed,
                    pl.format("{} is not {}", _quoted(raw_value), pl.lit(expected)),
                )
            )
        if column.kind == "text":
            checks.append(
                (
                    column.name,
                    raw_value.str.len_chars() > contract.MAX_TEXT_LENGTH,
                    pl.format(
                        "{}... is {} characters long; text values are limited to {} characters",
                        _quoted(raw_value),
                        raw_value.str.len_chars(),
                        pl.lit(contract.MAX_TEXT_LENGTH),
                    ),
                )
            )
            checks.append(
                (
                    column.name,
                    raw_value.str.contains(_CONTROL_CHARACTER),
                    pl.format(
                        "{} holds a control character or a line break, which text values cannot hold",
                        _quoted(raw_value.str.replace_all(_CONTROL_CHARACTER, "?")),
                    ),
                )
            )
        if column.kind == "money":
            checks.append(
                (
                    column.name,
                    pl.col(_CLEANED + column.name).str.contains(_MONEY_PATTERN)
                    & (typed_value.is_null() | (typed_value.abs() > contract.MAX_AMOUNT)),
                    pl.format(
                        "{} is too large: amounts are limited to {} either way",
                        _quoted(raw_value),
                        pl.lit(f"{contract.MAX_AMOUNT:,}"),
                    ),
                )
            )
        if column.kind == "date":
            checks.append(
                (
                    column.name,
                    (typed_value < contract.FIRST_DATE) | (typed_value > contract.LAST_DATE),
                    pl.format(
                        "{} is outside the dates an import accepts ({} to {})",
                        _quoted(raw_value),
                        pl.lit(contract.FIRST_DATE.isoformat()),
                        pl.lit(contract.LAST_DATE.isoformat()),
                    ),
                )
            )
        if column.required:
            checks.append((column.name, raw_value.is_null(), pl.lit("required value is empty")))
        if column.allowed:
            checks.append(
                (
                    column.name,
                    typed_value.is_not_null() & ~typed_value.is_in(list(column.allowed)),
                    pl.format("{} is not one of: {}", _quoted(raw_value), pl.lit(", ".join(column.allowed))),
                )
            )
    flags = [f"{_CHECK}{position}" for position in range(len(checks))]
    result = checked.select(
        pl.col(ROW),
        *(
            _within_contract(column, pl.col(_PARSED + column.name)).alias(column.name)
            for column in table.columns
        ),
        *(failing.alias(flag) for (_, failing, _), flag in zip(checks, flags, strict=True)),
    ).collect()
    failed = [position for position, flag in enumerate(flags) if result.get_column(flag).any()]
    typed = result.select(ROW, *table.names)
    del result
    problem_frames: list[pl.DataFrame] = []
    if failed:
        rows = checked.filter(pl.any_horizontal(checks[position][1] for position in failed)).collect()
        for position in failed:
            column_name, failing, message = checks[position]
            problem_frames.append(
                rows.filter(failing).select(
                    pl.col(ROW).alias("row"), pl.lit(column_name).alias("column"), message.alias("message")
                )
            )
    return typed, problem_frames


def _within_contract(column: contract.Column, parsed: pl.Expr) -> pl.Expr:
    """A parsed value as stored, null where it is beyond the contract's limits (its problem is listed),
    so that the rules across columns are not told about it again."""
    if column.kind == "money":
        return parsed.cast(contract.MONEY, strict=False)
    if column.kind == "date":
        return pl.when(parsed.is_between(contract.FIRST_DATE, contract.LAST_DATE)).then(parsed)
    return parsed


def _quoted(expression: pl.Expr) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), expression.str.slice(0, 60), pl.lit("'"))


def _example_date(date_format: str) -> str:
    from datetime import date

    return date(2026, 1, 31).strftime(date_format)


def _money_text(value: pl.Expr, file_format: FileFormat) -> pl.Expr:
    """An amount's text without spaces and thousands separators, with a decimal point."""
    cleaned = value.str.replace_all("[\u00a0\u202f ]", "")
    if file_format.thousands_separator:
        cleaned = cleaned.str.replace_all(re.escape(file_format.thousands_separator), "")
    if file_format.decimal_separator != ".":
        cleaned = cleaned.str.replace(re.escape(file_format.decimal_separator), ".", literal=False)
    return cleaned


def _rate(cleaned: pl.Expr) -> pl.Expr:
    """The exchange rate of a _money_text, or null when it is not a number with at most
    RATE_DECIMALS decimals that the stored type holds (more decimals would be truncated by the cast)."""
    valid = cleaned.str.contains(_RATE_PATTERN)
    return pl.when(valid).then(cleaned.str.strip_prefix("+").cast(contract.RATE, strict=False))


def _money(cleaned: pl.Expr) -> pl.Expr:
    """The amount of a _money_text, or null when it is not an amount with at most 2 decimals. Wider
    than the stored type, so that a too large amount is told apart (null only beyond 36 digits)."""
    # More than two decimals would be silently truncated by the cast: accept only trailing zeros.
    valid = cleaned.str.contains(_MONEY_PATTERN)
    wide = cleaned.str.strip_prefix("+").str.replace(r"^(-?)0+(\d)", "$1$2")
    return pl.when(valid).then(wide.cast(_WIDE_MONEY, strict=False))


_MONEY_PATTERN = r"^[+-]?(\d+(\.\d{0,2}0*)?|\.\d{1,2}0*)$"
_RATE_PATTERN = (
    rf"^\+?(\d{{1,10}}(\.\d{{0,{contract.RATE_DECIMALS}}}0*)?|\.\d{{1,{contract.RATE_DECIMALS}}}0*)$"
)
_WIDE_MONEY = pl.Decimal(38, 2)
# C0 controls and DEL (white space around a value is stripped before this check).
_CONTROL_CHARACTER = r"[\x00-\x1f\x7f]"


# --- rules across rows and tables ------------------------------------------------------------------


def _problems_where(frame: pl.DataFrame, condition: pl.Expr, column: str, message: pl.Expr) -> pl.DataFrame:
    return frame.filter(condition).select(
        pl.col(ROW).alias("row"), pl.lit(column).alias("column"), message.alias("message")
    )


def _no_problems() -> pl.DataFrame:
    return pl.DataFrame(schema={"row": pl.Int64, "column": pl.String, "message": pl.String})


def _duplicates(frame: pl.DataFrame, keys: list[str], label: str) -> pl.DataFrame:
    if frame.select(keys).n_unique() == frame.height:
        return _no_problems()  # the usual case, told much faster than where each duplicate is
    marked = frame.with_columns(
        pl.col(ROW).min().over(keys).alias("__first"),
    )
    return _problems_where(
        marked,
        (pl.col(ROW) != pl.col("__first")) & pl.all_horizontal(pl.col(k).is_not_null() for k in keys),
        keys[-1],
        pl.format(
            "duplicate {} {} (first at row {})", pl.lit(label), _quoted(pl.col(keys[-1])), pl.col("__first")
        ),
    )


def _row_rules(name: str, frame: pl.DataFrame, functional_currency: str) -> list[pl.DataFrame]:
    found: list[pl.DataFrame] = []
    if "currency" in frame.columns:
        found.append(
            _problems_where(
                frame,
                pl.col("currency").is_not_null() & ~pl.col("currency").is_in(sorted(contract.CURRENCIES)),
                "currency",
                pl.format("{} is not an ISO 4217 currency code", _quoted(pl.col("currency"))),
            )
        )
    if name == "customers":
        found.append(_duplicates(frame, ["customer_id"], "customer_id"))
    if name == "documents":
        found.append(_duplicates(frame, ["document_id"], "document_id"))
    if name == "open_items":
        found.append(_duplicates(frame, ["snapshot_date", "document_id"], "document_id in this snapshot"))
    if name == "exchange_rates":
        found.extend(_rate_problems(frame, functional_currency))
    if name in ("documents", "open_items"):
        found.append(
            _problems_where(
                frame,
                pl.col("due_date") < pl.col("document_date"),
                "due_date",
                pl.format(
                    "due date {} is before the document date {}", pl.col("due_date"), pl.col("document_date")
                ),
            )
        )
        amount = "amount" if name == "documents" else "open_amount"
        found.append(
            _problems_where(
                frame,
                (pl.col("document_type") == "credit_note") & (pl.col(amount) > 0),
                amount,
                pl.format("credit note with a positive amount {}", pl.col(amount)),
            )
        )
        functional = "amount_functional" if name == "documents" else "open_amount_functional"
        # One amount in two currencies: a rate converts it, it never turns a debit into a credit.
        found.append(
            _problems_where(
                frame,
                pl.col(amount).is_not_null()
                & pl.col(functional).is_not_null()
                & (pl.col(amount).sign() != pl.col(functional).sign()),
                functional,
                pl.format(
                    "{} {} and {} {} differ in sign",
                    pl.lit(amount),
                    pl.col(amount),
                    pl.lit(functional),
                    pl.col(functional),
                ),
            )
        )
        found.append(
            _problems_where(
                frame,
                pl.col(functional).is_null()
                & pl.col("currency").is_not_null()
                & (pl.col("currency") != functional_currency)
                & pl.col(amount).is_not_null(),
                functional,
                pl.format(
                    "{} is required when the currency ({}) is not the functional currency ({})",
                    pl.lit(functional),
                    pl.col("currency"),
                    pl.lit(functional_currency),
                ),
            )
        )
    return found


def _rate_problems(frame: pl.DataFrame, functional_currency: str) -> list[pl.DataFrame]:
    """A rate is above zero, given once per currency and date, and not for the functional currency
    (whose rate is 1 by definition)."""
    return [
        _duplicates(frame, ["rate_date", "currency"], "rate on the same date for"),
        _problems_where(
            frame,
            pl.col("rate") <= 0,
            "rate",
            pl.format("rate {} of {} is not above 0", _rate_text(pl.col("rate")), pl.col("currency")),
        ),
        _problems_where(
            frame,
            pl.col("currency") == functional_currency,
            "currency",
            pl.format("{} is the functional currency: its rate is 1 and is not imported", pl.col("currency")),
        ),
    ]


def _rate_text(rate: pl.Expr) -> pl.Expr:
    """A rate as written without its stored trailing zeros (0.9200000000 -> 0.92, 0E-10 -> 0)."""
    text = rate.cast(pl.String)
    return (
        pl.when(text.str.contains(r"\."))
        .then(text.str.strip_chars_end("0").str.strip_chars_end("."))
        .otherwise(text)
    )


def _fill_functional(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    if name == "documents":
        return frame.with_columns(pl.col("amount_functional").fill_null(pl.col("amount")))
    if name == "open_items":
        return frame.with_columns(pl.col("open_amount_functional").fill_null(pl.col("open_amount")))
    return frame


# --- the import ------------------------------------------------------------------------------------


def import_files(
    store: Store,
    sources: Sources,
    mapping: Mapping | None = None,
    *,
    functional_currency: str | None = None,
    progress: Progress = no_progress,
) -> ImportResult:
    """Validate the given files against the contract and the stored data, then write them as a new
    generation of the store (replacing rows by key), or raise ImportRefused and write nothing."""
    mapping = mapping or Mapping()
    given = sources.given()
    derived = {name: m.derive_from for name, m in mapping.tables.items() if m.derive_from}
    if not given:
        raise ImportRefused([Problem("import", None, None, "no file given")])
    manifest = store.manifest()
    currency = (
        functional_currency
        or mapping.functional_currency
        or (manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY)
    ).upper()
    if currency not in contract.CURRENCIES:
        raise ImportRefused([Problem("import", None, None, f"{currency!r} is not an ISO 4217 currency code")])

    progress(0.02, "Reading files")
    raw: dict[str, tuple[Frame, str]] = {}
    files: dict[str, tuple[Path, FileFormat]] = {}
    for name, path in given.items():
        files[name] = (path, mapping.for_table(name).format)
        raw[name] = (scan_raw(*files[name]), path.name)
    for name, source in derived.items():
        if name in given:
            raise ImportRefused(
                [
                    Problem(
                        "mapping",
                        None,
                        None,
                        f"[{name}] is derived from {source}, but a {name} file was given too",
                    )
                ]
            )
        if source not in raw:
            raise ImportRefused(
                [Problem("mapping", None, None, f"[{name}] is derived from {source}: give that file")]
            )
        raw[name] = raw[source]
        files[name] = files[source]

    progress(0.15, "Checking values")
    typed: dict[str, pl.DataFrame] = {}
    problems: dict[str, list[pl.DataFrame]] = {}
    mapping_problems: list[Problem] = []
    for name in ("customers", "documents", "payments", "open_items", "installments", "exchange_rates"):
        if name not in raw:
            continue
        frame, file_name = raw[name]
        table = contract.TABLES[name]
        table_mapping = mapping.for_table(name)
        if table_mapping.derive_from:
            table_mapping = _inherit(table_mapping, mapping.for_table(table_mapping.derive_from), table)
        try:
            mapped = apply_mapping(frame, table, table_mapping, file_name)
        except ImportRefused as refused:
            mapping_problems.extend(refused.problems)
            continue
        if table_mapping.derive_from:
            mapped = _derive(name, mapped)
        try:
            parsed, found = parse_columns(mapped, table, table_mapping.format, file_name)
        except Exception:
            # The rows are read here: a file that turns out unreadable is refused as read_raw has it.
            refused = reading_failure(*files[name])
            if refused is None:
                raise
            raise refused from None
        found.extend(_row_rules(name, parsed, currency))
        typed[name] = _fill_functional(name, parsed)
        problems[name] = found
    if mapping_problems:
        raise ImportRefused(mapping_problems)

    # The stored rows merged with are those the write replaces: another import waits for this one
    # rather than both merging with the same data and the later one dropping the other's rows.
    with store.lock():
        progress(0.35, "Checking references against the stored data")
        stored = {
            "customers": store.read(contract.CUSTOMERS),
            "documents": store.read(contract.DOCUMENTS),
            "payments": store.read(contract.PAYMENTS),
            "installments": store.read(contract.INSTALLMENTS),
            "exchange_rates": store.read(contract.EXCHANGE_RATES),
        }
        merged = {
            "customers": _merge(stored["customers"], typed.get("customers"), ["customer_id"]),
            "documents": _merge(stored["documents"], typed.get("documents"), ["document_id"]),
            "payments": _merge(stored["payments"], typed.get("payments"), ["payment_id"]),
            # A document's installments given again replace all of its stored ones.
            "installments": _merge(stored["installments"], typed.get("installments"), ["document_id"]),
            # A currency's rate of a date given again replaces the stored one.
            "exchange_rates": _merge(
                stored["exchange_rates"], typed.get("exchange_rates"), ["rate_date", "currency"]
            ),
        }
        for name in ("documents", "payments", "open_items"):
            if name in typed:
                problems[name].append(
                    _unknown(
                        typed[name],
                        merged["customers"],
                        "customer_id",
                        pl.format("unknown customer {}", _quoted(pl.col("customer_id"))),
                    )
                )
        if "payments" in typed:
            problems["payments"].append(
                _unknown(
                    typed["payments"],
                    merged["documents"],
                    "document_id",
                    pl.format("payment for an unknown document {}", _quoted(pl.col("document_id"))),
                )
            )
        if "installments" in typed:
            problems["installments"].extend(_installment_problems(typed["installments"], merged["documents"]))
        if "documents" in typed:
            problems["documents"].append(
                _installments_no_longer_adding_up(typed["documents"], merged["installments"], typed)
            )
        _refuse_if_any(problems, raw)

        progress(0.45, "Writing")
        tables = Tables(
            customers=merged["customers"],
            documents=merged["documents"],
            payments=merged["payments"],
            snapshots=_snapshots(typed.get("open_items")),
            installments=merged["installments"],
            exchange_rates=merged["exchange_rates"],
        )
        record = ImportRecord(
            source="import",
            files=", ".join(f"{name}: {path.name}" for name, path in given.items()),
            checksum=_checksum(given.values()),
            customers=typed["customers"].height if "customers" in typed else 0,
            documents=typed["documents"].height if "documents" in typed else 0,
            payments=typed["payments"].height if "payments" in typed else 0,
            open_items=typed["open_items"].height if "open_items" in typed else 0,
        )

        rows = {name: frame.height for name, frame in typed.items()}
        # Only `tables` is needed from here on: let the rest go before the store's work.
        del typed, merged, stored, problems

        def writing(fraction: float, message: str) -> None:
            progress(0.45 + 0.55 * fraction, message)

        manifest = store.write(tables, record, functional_currency=currency, progress=writing)
    return ImportResult(manifest, rows)


def _inherit(derived: TableMapping, source: TableMapping, table: contract.Table) -> TableMapping:
    """A derived table takes the source's mapping for the columns both have (customer_id, document_id),
    its amount for a payment's amount, and its customer_id for a customer's name, unless it maps its own."""
    columns = {k: v for k, v in source.columns.items() if k in table.names}
    constants = {k: v for k, v in source.constants.items() if k in table.names}
    if table.name == "payments":
        amount = source.columns.get("amount_functional") or source.columns.get("amount")
        if amount:
            columns["amount"] = amount
        columns["payment_id"] = source.columns.get("document_id", "document_id")
        columns.setdefault("document_id", "document_id")
    if table.name == "customers" and "customer_id" in source.columns:
        columns["customer_name"] = source.columns["customer_id"]
    columns.update(derived.columns)
    constants.update(derived.constants)
    for name in constants:
        columns.pop(name, None)
    return TableMapping(columns, constants, derived.derive_from, derived.format)


def _derive(name: str, mapped: Frame) -> Frame:
    """A table derived from another file's rows: customers are its distinct customers; payments are
    one full settlement per row that has a payment date."""
    if name == "customers":
        return (
            mapped.filter(pl.col("customer_id").is_not_null()).unique("customer_id", keep="first").sort(ROW)
        )
    return mapped.filter(
        pl.col("payment_date").is_not_null() & (pl.col("payment_date").str.strip_chars() != "")
    )


def _installment_problems(installments: pl.DataFrame, documents: pl.DataFrame) -> list[pl.DataFrame]:
    """What is wrong with the rows of an installments file, against the documents they will go with:
    an unknown document; a due date before the document's date; an amount of the other sign than the
    document's; and, on the first row of a document's installments, installments that do not add up
    to its amount_functional (DESIGN.md, "Installments")."""
    found = [
        _unknown(
            installments,
            documents,
            "document_id",
            pl.format("installment of an unknown document {}", _quoted(pl.col("document_id"))),
        )
    ]
    joined = installments.join(
        documents.select(
            "document_id",
            pl.col("document_date"),
            pl.col("amount_functional").alias("document_amount"),
        ),
        on="document_id",
        how="inner",
    )
    found.append(
        _problems_where(
            joined,
            pl.col("due_date") < pl.col("document_date"),
            "due_date",
            pl.format(
                "due date {} of an installment of {} is before the document date {}",
                pl.col("due_date"),
                _quoted(pl.col("document_id")),
                pl.col("document_date"),
            ),
        )
    )
    found.append(
        _problems_where(
            joined,
            (pl.col("amount_functional").sign() * pl.col("document_amount").sign()) < 0,
            "amount_functional",
            pl.format(
                "installment amount_functional {} and the amount_functional {} of {} differ in sign",
                pl.col("amount_functional"),
                pl.col("document_amount"),
                _quoted(pl.col("document_id")),
            ),
        )
    )
    sums = joined.group_by("document_id").agg(
        pl.col(ROW).min(),
        pl.col("amount_functional").sum().cast(contract.MONEY).alias("installments_total"),
        pl.col("document_amount").first(),
    )
    found.append(
        _problems_where(
            sums,
            pl.col("installments_total") != pl.col("document_amount"),
            "amount_functional",
            pl.format(
                "the installments of {} add up to {}, not its amount_functional {}",
                _quoted(pl.col("document_id")),
                pl.col("installments_total"),
                pl.col("document_amount"),
            ),
        )
    )
    return found


def _installments_no_longer_adding_up(
    documents: pl.DataFrame, installments: pl.DataFrame, typed: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """Rows of a documents file whose new amount_functional its stored installments (not given again
    in this import) no longer add up to."""
    if installments.is_empty():
        return _no_problems()
    given_again = typed["installments"].select("document_id") if "installments" in typed else None
    stored = (
        installments if given_again is None else installments.join(given_again, on="document_id", how="anti")
    )
    sums = stored.group_by("document_id").agg(
        pl.col("amount_functional").sum().cast(contract.MONEY).alias("installments_total")
    )
    joined = documents.join(sums, on="document_id", how="inner")
    return _problems_where(
        joined,
        pl.col("installments_total") != pl.col("amount_functional"),
        "amount_functional",
        pl.format(
            "amount_functional {} of {} is not what its stored installments add up to ({}): "
            "give its installments again",
            pl.col("amount_functional"),
            _quoted(pl.col("document_id")),
            pl.col("installments_total"),
        ),
    )


def _unknown(frame: pl.DataFrame, known: pl.DataFrame, key: str, message: pl.Expr) -> pl.DataFrame:
    """Problems of the rows of `frame` whose `key` is given but is none of `known`'s."""
    # An anti join is much faster than is_in against millions of keys, and lazy it takes less memory.
    unknown = (
        frame.lazy()
        .select(ROW, key)
        .filter(pl.col(key).is_not_null())
        .join(known.lazy().select(key), on=key, how="anti")
        .collect()
    )
    return _problems_where(unknown, pl.lit(True), key, message)


def _merge(stored: pl.DataFrame, new: pl.DataFrame | None, keys: list[str]) -> pl.DataFrame:
    """Stored rows whose key is not in the new rows, then the new rows: a re-import replaces by key."""
    if new is None:
        return stored
    new = new.drop(ROW)
    kept = stored.join(new.select(keys).unique(), on=keys, how="anti") if stored.height else stored
    return pl.concat([kept, new.select(stored.columns).cast(stored.schema)])


def _snapshots(frame: pl.DataFrame | None) -> pl.DataFrame | None:
    if frame is None:
        return None
    return frame.drop(ROW).select(contract.OPEN_ITEMS.names).cast(contract.OPEN_ITEMS.schema)


def _refuse_if_any(problems: dict[str, list[pl.DataFrame]], raw: dict[str, tuple[Frame, str]]) -> None:
    listed: list[Problem] = []
    total = 0
    for name, frames in problems.items():
        file_name = raw[name][1]
        for frame in frames:
            total += frame.height
            for row in frame.sort("row").head(MAX_LISTED_PROBLEMS).iter_rows(named=True):
                listed.append(Problem(file_name, row["row"], row["column"], row["message"]))
    if total:
        listed.sort(key=lambda p: (p.file, p.row or 0))
        raise ImportRefused(listed, total)


def _checksum(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
