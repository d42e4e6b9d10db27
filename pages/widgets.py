"""Pieces every page shares: the no-data message and the alerts summary."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import scenarios
from pages._session import Context


def no_data_message(ctx: Context) -> bool:
    """Say what to do when there is no data; True when the page should stop."""
    if ctx.manifest is None:
        st.info(
            "No data yet. Open the **Data** page to import your ERP exports or generate the demo company."
        )
        return True
    return False


def alerts_summary(alerts: pl.DataFrame) -> str:
    """'3 fell due unpaid · 1 promise broken ...' from the alerts frame."""
    counts = alerts.group_by("alert").len()
    parts = [
        f"{row['len']} {scenarios.ALERT_LABELS[row['alert']].lower()}"
        for row in counts.sort("alert").iter_rows(named=True)
    ]
    return " · ".join(parts)
