"""What day it is for the whole project: `today()`, the one place the code asks for the date.

AR_TODAY=YYYY-MM-DD sets it (a replay of a past day, a test of "a past as-of date gives the same
figures whatever today is"); unset, it is the machine's date.
"""

from __future__ import annotations

import os
from datetime import date

VARIABLE = "AR_TODAY"


def today() -> date:
    """$AR_TODAY when set, else the machine's date; ValueError naming the variable when it is not a date."""
    given = os.environ.get(VARIABLE, "").strip()
    if not given:
        return date.today()
    try:
        return date.fromisoformat(given)
    except ValueError:
        raise ValueError(f"{VARIABLE}={given!r} is not a date like 2026-01-31") from None
