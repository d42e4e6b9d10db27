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
    return st.session_state["context"]


def money(value: Decimal | float | int | None, currency: str = "") -> str:
    """1234567.891 -> '1,234,567.89 EUR'."""
    if value is None:
        return "-"
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}".strip()
