"""Shared Streamlit pieces: the data folder, the sidebar (as-of date and scope), number formats.

Every page calls `context()` to get what the sidebar chose; pages stay short and alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import streamlit as st

from analytics import contract
from analytics.scope import Scope, dimension_values
from analytics.store import Manifest, Store

PROJECT = Path(__file__).resolve().parent.parent
DATA_DIR_VARIABLE = "AR_DATA_DIR"


def data_dir() -> Path:
    """The data folder: $AR_DATA_DIR, else data/ beside app.py."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or PROJECT / "data")


def store() -> Store:
    return Store(data_dir())


@dataclass(frozen=True)
class Context:
    """What the sidebar chose, for every page."""

    store: Store
    manifest: Manifest | None
    as_of: date
    scope: Scope

    @property
    def currency(self) -> str:
        return self.manifest.functional_currency if self.manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def _dimension_values(root: str, version: str) -> dict[str, list[str]]:
    return dimension_values(Store(root).connect())


def default_as_of(manifest: Manifest | None) -> date:
    """Today, or the data's last date when the data ends earlier (an old extract stays readable)."""
    today = date.today()
    if manifest is None or manifest.data_as_of is None:
        return today
    return min(today, manifest.data_as_of)


def sidebar(current: Store) -> Context:
    """The shared sidebar: the as-of date and one filter per customer dimension, kept in the URL."""
    manifest = current.manifest()
    with st.sidebar:
        as_of = st.date_input(
            "As of",
            value=default_as_of(manifest),
            key="as_of",
            bind="query-params",
            format="YYYY-MM-DD",
            help="Balances, ages and figures are computed as they stood at the end of this day.",
        )
        filters: dict[str, list[str]] = {}
        if manifest is not None:
            values = _dimension_values(str(current.root), current.version())
            with st.expander("Scope", expanded=True):
                for dimension in contract.DIMENSIONS:
                    options = values.get(dimension, [])
                    if not options:
                        continue
                    chosen = st.multiselect(
                        contract.DIMENSION_LABELS[dimension],
                        options,
                        key=f"scope_{dimension}",
                        bind="query-params",
                        placeholder="All",
                    )
                    if chosen:
                        filters[dimension] = chosen
    return Context(current, manifest, as_of or default_as_of(manifest), Scope.of(filters))


def context() -> Context:
    """The sidebar's choices, as stored by app.py for this rerun."""
    if "context" not in st.session_state:
        # On a fresh server, a first request that lands on a page's URL runs that page alone (Streamlit's
        # legacy mode for a pages/ folder, which only the first st.navigation call ends): end that mode
        # and run the app itself, which lays out the sidebar and navigation, then this page.
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()
    return st.session_state["context"]


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


@st.cache_resource(ttl=900, max_entries=12, show_spinner=False)
def aged_items(root: str, version: str, as_of: date, scope: Scope):
    """The aged open items of a date and scope, shared by every session (Polars frames are not copied:
    callers must not modify them). Keyed on the data version, so an import is seen at once."""
    from analytics import aging

    return aging.aged_items(Store(root), as_of, scope)


def items_for(ctx: Context, as_of: date | None = None):
    return aged_items(str(ctx.store.root), ctx.store.version(), as_of or ctx.as_of, ctx.scope)


def money_column(label: str, help: str | None = None) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%,.2f", help=help)


def for_display(frame):
    """Decimal money as floats for the grid only (figures are computed and exported as decimals)."""
    import polars as pl

    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))


def no_data_message(ctx: Context) -> bool:
    """Say what to do when there is no data; True when the page should stop."""
    if ctx.manifest is None:
        st.info(
            "No data yet. Open the **Data** page to import your ERP exports or generate the demo company."
        )
        return True
    return False


@st.cache_data(ttl=900, max_entries=32, show_spinner=False)
def _trend(root: str, version: str, month_ends: tuple[date, ...], boundaries: tuple[int, ...], scope: Scope):
    from analytics import aging

    return aging.trend(Store(root), list(month_ends), boundaries, scope)


def cached_trend(ctx: Context, month_ends: tuple[date, ...], boundaries: tuple[int, ...]):
    return _trend(str(ctx.store.root), ctx.store.version(), month_ends, boundaries, ctx.scope)
