"""How text and numbers read on a page: Markdown-safe text, chart-safe text, money and compact
money, the grid's money columns, and tables whose headers and code cells read as labels
(analytics.labels)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import polars as pl
import streamlit as st

from analytics import export, labels

# Streamlit's Markdown also turns text into links and pictures after the escapes are read: a bare
# http:// or www. address and an e-mail address become links, a :shortcode: an emoji. A word joiner
# (U+2060, invisible) after the ':' or '@', or between 'www' and '.', breaks each of them.
_STILL_MARKUP = re.compile(r"(?<=\\[:@])(?=\S)|(?i:(?<=www)(?=\\\.))")


WORD_JOINER = "\u2060"


def markdown_text(value: object) -> str:
    """`value` (a name, an id from the URL, a scope, a message quoting the user) as text inside any
    Markdown a page shows (st.markdown, a caption, a message, a header, a label): every Markdown and
    Streamlit markup character escaped, and nothing made a link or an emoji. Not for st.dataframe
    cells or st.text, which are plain text already."""
    return _STILL_MARKUP.sub(WORD_JOINER, export.markdown_text(value))


def chart_text(value: object) -> str:
    """`value` as text in a Plotly chart (an axis label, a legend, a hover text): Plotly reads <b>, <i>,
    <br> and <a href> in them, so a customer named '<a href=...>' would be a link; escaped, it shows
    as written."""
    return html.escape("" if value is None else str(value), quote=False)


def compact_money(value: Decimal | float | int | None, currency: str = "") -> str:
    """7002789.45 -> '7.00M EUR' for headline figures (the exact figure goes in their tooltip)."""
    if value is None:
        return "-"
    number = float(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= threshold:
            return f"{number / threshold:,.2f}{suffix} {currency}".strip()
    return f"{number:,.2f} {currency}".strip()


def money(value: Decimal | float | int | None, currency: str = "") -> str:
    """1234567.891 -> '1,234,567.89 EUR'."""
    if value is None:
        return "-"
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}".strip()


def money_column(label: str, help: str | None = None) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%,.2f", help=help)


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimal money as floats for the grid only (figures are computed and exported as decimals)."""
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))


def label(value: str | None) -> str:
    """promise_to_pay -> 'Promise to pay' (analytics.labels)."""
    return labels.value(value)


def dataframe(data: object, *, column_config: dict[str, object] | None = None, **kwargs: object) -> object:
    """st.dataframe of a Polars frame as a person reads it: every header a label (the page's own
    column configuration first, analytics.labels for the others), code cells labelled, empty text
    cells empty, money as floats for the grid. Returns what st.dataframe returns (the selection)."""
    if isinstance(data, pl.DataFrame):
        config: dict[str, object] = {name: labels.column(name) for name in data.columns}
        config.update(column_config or {})
        return st.dataframe(labels.display(for_display(data)), column_config=config, **kwargs)
    return st.dataframe(data, column_config=column_config, **kwargs)
