"""Exports of a table as CSV, JSON or XLSX: figures stay numbers, and text that a spreadsheet would
read as a formula (starting with =, +, - or @) is escaped with a leading apostrophe in CSV; XLSX cells
are typed, so text is written as text cells, never as formulas, and as written. `unescape_formulas`
takes the apostrophe off again when our own CSV export is read back. Text from the
data shown inside Markdown (a page's caption, header, message) is escaped the same way: markdown_text."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import xlsxwriter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "json", "xlsx")


def escape_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells starting like a formula get a leading apostrophe, so a customer named '=HYPERLINK(...)'
    is shown as text and never evaluated."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.any_horizontal([pl.col(name).str.starts_with(start) for start in FORMULA_STARTS]))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )


def unescape_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """The text cells of a file escape_formulas wrote, as they were: the apostrophe it puts before a
    formula start, and only that, is taken off."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    escaped = [f"'{start}" for start in FORMULA_STARTS]
    return frame.with_columns(
        pl.when(pl.any_horizontal([pl.col(name).str.starts_with(start) for start in escaped]))
        .then(pl.col(name).str.slice(1))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )


# Every ASCII punctuation character: CommonMark shows a backslash-escaped one as itself, so no value
# can open a link, an image, emphasis, HTML, a heading, Streamlit's :color[] or $math$.
_MARKDOWN_SPECIAL = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def markdown_text(value: object) -> str:
    """`value` as text to put inside Markdown: shown as written, never as a link, an image or HTML.
    Line breaks become spaces (a value is one line of the sentence it is put in)."""
    text = "" if value is None else str(value)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def to_csv(frame: pl.DataFrame) -> bytes:
    return escape_formulas(frame).write_csv().encode("utf-8")


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def to_json(frame: pl.DataFrame) -> bytes:
    """A list of objects; amounts as JSON numbers (exact to the cent below 10^13), dates as ISO text."""
    rows = [{key: _json_value(value) for key, value in row.items()} for row in frame.iter_rows(named=True)]
    return (json.dumps(rows, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def to_xlsx(frame: pl.DataFrame, sheet: str = "Aging", about: Sequence[tuple[str, str]] = ()) -> bytes:
    """An Excel workbook with one sheet; Decimal amounts become numbers with thousands separators and
    2 decimals; text is a text cell as written (a value like '=HYPERLINK(...)' is text, not a formula,
    and is not escaped). `about`: rows of (what, value) above the table, in bold, a blank row after
    them: the as-of date, the scope, the filters, the buckets, so that a file mailed on says what it
    is."""
    buffer = io.BytesIO()
    money = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Decimal)]
    numeric = frame.with_columns(pl.col(money).cast(pl.Float64))
    # Without these options the writer makes formulas, links and numbers of text that looks like them.
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    name = sheet[:31]
    with workbook:
        numeric.write_excel(
            workbook,
            worksheet=name,
            position=(len(about) + 1, 0) if about else (0, 0),
            column_formats={column: "#,##0.00" for column in money},
            autofit=True,
        )
        if about:
            worksheet = workbook.get_worksheet_by_name(name)
            bold = workbook.add_format({"bold": True})
            for row, (what, value) in enumerate(about):
                worksheet.write_string(row, 0, what, bold)
                worksheet.write_string(row, 1, value)
    return buffer.getvalue()


def render(frame: pl.DataFrame, output_format: str) -> bytes:
    if output_format == "csv":
        return to_csv(frame)
    if output_format == "json":
        return to_json(frame)
    if output_format == "xlsx":
        return to_xlsx(frame)
    raise ValueError(f"unknown format {output_format!r}; choose one of: {', '.join(FORMATS)}")
