"""This session's data folder, the sidebar's choices (`Context`) and what its user may do: every
page starts from `context()`; permissions are checked and writes and exports audited here."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from analytics import access, clock, contract
from analytics.scope import Scope
from analytics.store import Manifest, Store
from pages._format import markdown_text

PROJECT = Path(__file__).resolve().parent.parent


DATA_DIR_VARIABLE = "AR_DATA_DIR"


def data_dir() -> Path:
    """The data folder: $AR_DATA_DIR, else data/ beside app.py."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or PROJECT / "data")


def store() -> Store:
    return Store(data_dir())


@dataclass(frozen=True)
class Context:
    """What the sidebar chose, for every page. `scope` is already within the user's rights."""

    store: Store
    manifest: Manifest | None
    as_of: date
    scope: Scope
    user: access.User = access.DEMO_USER

    @property
    def currency(self) -> str:
        return self.manifest.functional_currency if self.manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY


def current_user() -> access.User:
    ctx = st.session_state.get("context")
    return ctx.user if ctx is not None else access.DEMO_USER


def can(permission: str) -> bool:
    return current_user().can(permission)


def refusal(permission: str) -> str:
    """Why a control is disabled: 'Your role (viewer) may not import data.'"""
    user = current_user()
    return (
        f"Your role ({access.ROLE_LABELS[user.role].lower()}) may not {access.PERMISSION_LABELS[permission]}."
    )


def require(permission: str) -> None:
    """Stop with a clear message when the user's role does not allow this (checked again on submit)."""
    user = current_user()
    try:
        access.require(user, permission)
    except access.AccessDenied as denied:
        ctx = st.session_state["context"]
        access.audit(ctx.store.root, user.username, "refused", str(denied), source="app")
        st.error(f"Refused: {markdown_text(denied)}.")
        st.stop()


def audit(event: str, detail: str) -> None:
    """Record an export, import or write of this session's user in the audit trail."""
    ctx = st.session_state.get("context")
    if ctx is not None:
        access.audit(ctx.store.root, ctx.user.username, event, detail, source="app")


def audited_export(render: Callable[[], bytes], detail: str) -> Callable[[], bytes]:
    """A download button's data: rendered when the user downloads it, and recorded then in the audit
    trail (with the user and data folder of the page that offered it)."""
    ctx = st.session_state.get("context")
    root, username = (ctx.store.root, ctx.user.username) if ctx is not None else (None, None)

    def data() -> bytes:
        content = render()
        if root is not None:
            access.audit(root, username, "export", detail, source="app")
        return content

    return data


def default_as_of(manifest: Manifest | None) -> date:
    """Today, or the data's last date when the data ends earlier (an old extract stays readable)."""
    today = clock.today()
    if manifest is None or manifest.data_as_of is None:
        return today
    return min(today, manifest.data_as_of)


def context() -> Context:
    """The sidebar's choices, as stored by app.py for this rerun."""
    if "context" not in st.session_state:
        # On a fresh server, a first request that lands on a page's URL runs that page alone (Streamlit's
        # legacy mode for a pages/ folder, which only the first st.navigation call ends): end that mode
        # and run the app itself, which lays out the sidebar and navigation, then this page.
        PagesManager.uses_pages_directory = False
        st.rerun()
    return st.session_state["context"]


def user_name() -> str:
    """Who records events: the signed-in user's name; in demo mode the name chosen in the sidebar."""
    user = current_user()
    if user is not access.DEMO_USER:
        return user.name
    return st.session_state.get("user_name") or "credit manager"


def own_collector() -> str | None:
    """The collector whose worklist opens first: the signed-in collector, else the one the demo
    sidebar works as."""
    user = current_user()
    if user is not access.DEMO_USER:
        return user.collector
    return st.session_state.get("user_name")
