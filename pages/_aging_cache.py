"""What the aging page reads from the data folder once per data version and shares between sessions:
the settlements between two dates behind the roll rates (a DuckDB scan of every payment)."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from analytics import aging
from analytics.store import Store


@st.cache_resource(ttl=900, max_entries=16, show_spinner=False)
def _settlements(root: str, version: str, after: date, until: date) -> pl.DataFrame:
    return aging.settlements_between(Store(root), after, until)


def settlements_between(store: Store, after: date, until: date) -> pl.DataFrame:
    """aging.settlements_between, keyed on the data version (an import is seen at once). The frame is
    shared: callers must not modify it."""
    return _settlements(str(store.root), store.version(), after, until)
