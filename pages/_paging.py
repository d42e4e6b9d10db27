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
    made on one page is not read against another."""

    rows: pl.DataFrame
    key: str


def paged(frame: pl.DataFrame, key: str, rows: int = PAGE_ROWS) -> Paged:
    """The page of `frame` chosen in the page number keyed `key` (none shown when it fits one page)."""
    if frame.height <= rows:
        return Paged(frame, "")
    pages = math.ceil(frame.height / rows)
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1, key=key)
    start = (int(page) - 1) * rows
    st.caption(f"Rows {start + 1:,} to {min(start + rows, frame.height):,} of {frame.height:,}.")
    return Paged(frame.slice(start, rows), f"_p{int(page)}")
