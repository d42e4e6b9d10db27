"""The scheduled reports that the daily run sends by e-mail, per `[reports]` of settings.toml."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from analytics import settings
from analytics.daily import DailyResult
from analytics.store import Store


def send_due(
    store: Store, current: settings.Settings, as_of: date, result: DailyResult, environ: Mapping[str, str]
) -> None:
    """Send the reports due at `as_of` that were not sent yet; each outcome in `result.reports`."""
