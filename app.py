"""The app: sign-in, navigation and the shared sidebar. Run with `streamlit run app.py`.

On a data folder with no data and no users, the demo company is generated first (unless AR_NO_DEMO
is set), so that a first start shows a living portfolio. Once the data folder has a users file,
everyone signs in and sees the pages and customers their role allows.
"""

from __future__ import annotations

import os

import streamlit as st

from analytics import access, demo
from analytics.export import markdown_text
from analytics.store import DataFolderDamaged
from pages import _cache, _runs, _session, _shell, _sidebar, _sign_in

st.set_page_config(page_title="Receivables", page_icon=":material/account_balance:", layout="wide")
_runs.record("app")
_shell.navigation_in_sidebar()


def ensure_data(current) -> None:
    """Generate the demo company on a first start (demo mode only), showing progress."""
    if current.exists() or os.environ.get("AR_NO_DEMO") or not _sign_in.demo_mode(current):
        return
    with st.status("Generating the demo company (first start)...", expanded=True) as status:
        bar = st.progress(0.0, text="Starting")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

        manifest = demo.create(current, progress=progress, collections_db=_cache.collections_db_of(current))
        status.update(
            label=f"Demo company ready: {manifest.customers:,} customers, {manifest.documents:,} documents",
            state="complete",
            expanded=False,
        )


current = _session.store()
try:
    current.exists()
except DataFolderDamaged as damaged:
    # Nothing is shown or generated over a folder whose live link is broken (a demo would replace it).
    st.error(markdown_text(damaged))
    st.stop()
ensure_data(current)
_shell.warm(current)
try:
    user = _sign_in.signed_in_user(current)
except access.DataFileRefused as refused:  # a users file that breaks a rule lets nobody in
    _sign_in.refused_page(refused)
    st.stop()

receivables = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/aging.py", title="Aging balance", icon=":material/stacked_bar_chart:"),
    st.Page("pages/dso.py", title="DSO and KPIs", icon=":material/trending_up:"),
]
collections = [
    st.Page("pages/worklist.py", title="Worklist", icon=":material/checklist:"),
    st.Page("pages/customer.py", title="Customer", icon=":material/person:"),
    st.Page("pages/disputes.py", title="Disputes and promises", icon=":material/gavel:"),
    st.Page("pages/scenarios.py", title="Recovery scenarios", icon=":material/route:"),
    st.Page("pages/collectors.py", title="Collectors", icon=":material/groups:"),
]
data = [st.Page("pages/data.py", title="Data", icon=":material/database:")]
if user is None or user.can(access.CONFIGURE):
    data.append(st.Page("pages/settings.py", title="Settings", icon=":material/settings:"))
if user is None or user.can(access.ADMINISTER):
    data.append(st.Page("pages/admin.py", title="Users and audit", icon=":material/admin_panel_settings:"))
pages = {"Receivables": receivables, "Collections": collections, "Data": data}

if user is None:
    # Resolve the page the address asks for without running it, so that it opens once signed in.
    st.session_state.pop("context", None)
    st.navigation(pages, position="hidden")
    _sign_in.sign_in_page(current)
    st.stop()
if user is access.DEMO_USER:
    _sign_in.demo_banner()
_sidebar.instance_notice(current)
try:
    st.session_state["context"] = _sidebar.sidebar(current, user)
    st.navigation(pages).run()
except access.DataFileRefused as refused:  # e.g. the audit trail replaced by a link while signed in
    _sign_in.refused_page(refused)
