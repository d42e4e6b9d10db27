"""Tables sent to the browser a page at a time: a grid of more than a page's rows gets a page number
above it and a caption saying which rows it shows, so that a page never sends more than a few
thousand rows however long the list (the browser draws what it is sent; the rest stays on the server)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
import streamlit as st

PAGE_ROWS = 1_000


@dataclass(frozen=True)
class Paged:
    """`rows`: the page's rows of the table; `key`: a suffix for the grid's key, so that a selection
    made on one page is not read against another; `number`: the page shown (1 when there is one)."""

    rows: pl.DataFrame
    key: str
    number: int = 1


def paged(frame: pl.DataFrame, key: str, rows: int = PAGE_ROWS, note: str = "") -> Paged:
    """The page of `frame` chosen in the pagination keyed `key` (none shown when it fits one page),
    with a caption saying which rows it shows (`note` follows it, e.g. how they are ordered). The
    widget's key carries the page count: a shorter list (a narrower view) starts again at its first page."""
    if frame.height <= rows:
        return Paged(frame, "")
    pages = math.ceil(frame.height / rows)
    page = st.pagination(pages, key=f"{key}_{pages}")
    start = (page - 1) * rows
    st.caption(f"Rows {start + 1:,} to {min(start + rows, frame.height):,} of {frame.height:,}{note}.")
    return Paged(frame.slice(start, rows), f"_p{page}", page)
