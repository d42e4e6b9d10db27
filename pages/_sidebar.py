"""The shared sidebar (who is signed in, the as-of date, the scope filters) and the notices above every page."""

from __future__ import annotations

import streamlit as st

from analytics import access, contract
from analytics.collections_db import CollectionsBusy, CollectionsUnreachable
from analytics.scope import Scope
from analytics.store import DataFolderUnwritable, Store
from pages._cache import _collections_db, _dimension_values
from pages._format import markdown_text
from pages._session import Context, default_as_of
from pages._sign_in import sign_out


def sidebar(current: Store, user: access.User = access.DEMO_USER) -> Context:
    """The shared sidebar: who is signed in, the as-of date and one filter per customer dimension
    (offering only the values within the user's rights), kept in the URL."""
    manifest = current.manifest()
    rights = user.rights()
    with st.sidebar:
        if user is not access.DEMO_USER:
            st.markdown(f"**{markdown_text(user.name)}** · {access.ROLE_LABELS[user.role]}")
            if not rights.is_everything:
                st.caption(f"Sees {markdown_text(user.describe_rights())}")
            # A callback, as st.logout's redirect would be dropped by a rerun started after it.
            st.button(
                "Sign out", key="sign_out", icon=":material/logout:", on_click=sign_out, args=(current, user)
            )
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
            values = _dimension_values(str(current.root), current.version(), rights)
            if user is access.DEMO_USER:
                st.selectbox(
                    "Working as",
                    ["credit manager", *values.get("collector", [])],
                    key="user_name",
                    bind="query-params",
                    help="Whose worklist to open, and the name recorded with what you save.",
                )
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
                        filters[dimension] = [value for value in chosen if value in options]
    try:
        scope = access.restrict(user, Scope.of(filters))
    except access.AccessDenied as denied:
        access.audit(current.root, user.username, "refused", str(denied), source="app")
        st.error(f"Refused: {markdown_text(denied)}.")
        scope = rights
    return Context(current, manifest, as_of or default_as_of(manifest), scope, user)


def instance_notice(current: Store) -> None:
    """Open this process's collections writer at the start of every run, so that the first app on a
    data folder holds it from its first page, and say once, at the top of every page, when another
    instance holds the folder: the figures (Parquet files) still show, what needs the collections
    database does not."""
    if not current.exists():
        return
    try:
        _collections_db(str(current.root))
    except CollectionsBusy as busy:
        st.warning(
            f"Read-only: {markdown_text(busy)}. The figures are shown; qualifications, actions and "
            "recovery steps are not. Close the other app or command that uses this data folder, then "
            "reload this page.",
            icon=":material/lock:",
        )
    except DataFolderUnwritable as unwritable:
        st.warning(
            f"Read-only: {markdown_text(unwritable)}. The figures are shown; qualifications, actions and "
            "recovery steps are not. Give this user the right to write the data folder, then reload "
            "this page.",
            icon=":material/lock:",
        )
    except CollectionsUnreachable as unreachable:
        st.warning(
            f"Read-only: {markdown_text(unreachable)}. The figures are shown; qualifications, actions "
            "and recovery steps are not. Start the PostgreSQL server, or correct AR_COLLECTIONS_URL, "
            "then reload this page.",
            icon=":material/cloud_off:",
        )
