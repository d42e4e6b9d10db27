"""A record of script runs, for tests: with AR_RUN_LOG set to a file, the app and each fragment append
one line per run ('SESSION PART'), so that a browser test can count what a click reran. Unset (as
in production), recording is one environment lookup."""

from __future__ import annotations

import os

from streamlit.runtime.scriptrunner import get_script_run_ctx

RUN_LOG_VARIABLE = "AR_RUN_LOG"


def record(part: str) -> None:
    """Note one run of `part` ('app' for a full run, a fragment's name for its own run)."""
    path = os.environ.get(RUN_LOG_VARIABLE)
    if not path:
        return
    run = get_script_run_ctx()
    session = run.session_id if run is not None else "-"
    with open(path, "a", encoding="utf-8") as log:
        log.write(f"{session} {part}\n")
