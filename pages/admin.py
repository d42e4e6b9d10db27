"""Users and audit: who may sign in with which rights, and the audit trail (administrators only)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import access
from pages import widgets

ctx = widgets.context()
st.title("Users and audit")
widgets.require(access.ADMINISTER)

users = widgets.users(ctx.store).all()
st.subheader(f"Users ({len(users)})")
st.caption(
    "Managed from the command line: `python -m analytics users add|remove|list|set-role|set-password "
    f"--data {ctx.store.root}`. A change applies at the user's next click."
)
st.dataframe(
    pl.DataFrame(
        [
            {
                "username": user.username,
                "name": user.display_name,
                "role": access.ROLE_LABELS[user.role],
                "sees": user.describe_rights(),
                "signs_in_with": "password" if user.password_hash else "identity provider",
            }
            for user in sorted(users, key=lambda u: u.username.casefold())
        ],
        schema={
            "username": pl.String,
            "name": pl.String,
            "role": pl.String,
            "sees": pl.String,
            "signs_in_with": pl.String,
        },
    ),
    hide_index=True,
    width="stretch",
    column_config={
        "username": st.column_config.TextColumn("User"),
        "name": st.column_config.TextColumn("Name"),
        "role": st.column_config.TextColumn("Role"),
        "sees": st.column_config.TextColumn("Sees"),
        "signs_in_with": st.column_config.TextColumn("Signs in with"),
    },
    key="admin_users",
)

st.subheader("Audit trail")
trail = access.audit_trail(ctx.store.root)
filters = st.columns(3)
who = filters[0].multiselect("User", sorted(set(trail.get_column("user").to_list())), key="audit_user")
what = filters[1].multiselect(
    "Event", sorted(set(trail.get_column("event").to_list())), key="audit_event", placeholder="All"
)
search = filters[2].text_input("Detail contains", key="audit_search")
if who:
    trail = trail.filter(pl.col("user").is_in(who))
if what:
    trail = trail.filter(pl.col("event").is_in(what))
if search:
    trail = trail.filter(pl.col("detail").str.contains(search, literal=True))
failures = trail.filter(pl.col("event") == access.AUDIT_EVENTS["sign_in_failed"]).height
st.caption(f"{trail.height:,} entries, newest first · {failures:,} failed sign-ins · times in UTC")
st.dataframe(
    trail.head(5000),
    hide_index=True,
    width="stretch",
    column_config={
        "at": st.column_config.TextColumn("When (UTC)"),
        "user": st.column_config.TextColumn("User"),
        "event": st.column_config.TextColumn("Event"),
        "detail": st.column_config.TextColumn("Detail"),
        "source": st.column_config.TextColumn("From"),
    },
    key="admin_audit",
)
