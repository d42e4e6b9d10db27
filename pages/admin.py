"""Users and audit: who may sign in with which rights, and the audit trail (administrators only)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from analytics import access
from pages import _cache, _format, _session, _sign_in

ctx = _session.context()
st.title("Users and audit")
_session.require(access.ADMINISTER)

users = _sign_in.users(ctx.store).all()
st.subheader(f"Users ({len(users)})")
st.caption(
    "Managed here or from the command line (`python -m analytics users add|remove|list|set-role|"
    "set-password`). A change applies at the user's next click."
)
if notice := st.session_state.pop("admin_notice", None):
    st.success(_format.markdown_text(notice))
_format.dataframe(
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
# Read from the newest line backwards, only as far as asked (the trail and its rotated files).
newest = st.selectbox(
    "Read the newest",
    (1_000, 5_000, 50_000, None),
    index=1,
    format_func=lambda n: "all entries (slow on a long trail)" if n is None else f"{n:,} entries",
    key="audit_newest",
)
trail = access.audit_trail(ctx.store.root, limit=newest)
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
st.caption(
    f"{trail.height:,} entries, newest first · {failures:,} failed sign-ins · times in UTC"
    + ("" if newest is None else f" · among the newest {newest:,} entries read")
)
_format.dataframe(
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


# --- managing users ----------------------------------------------------------------------------------
def done(message: str) -> None:
    _session.audit("users", message)
    st.session_state["admin_notice"] = message
    st.rerun()


def rights_fields(prefix: str, user: access.User | None = None) -> dict[str, object]:
    """The role-dependent rights of a user: their collector name, their team, limits by entity and
    division."""
    collectors = _cache.dimension_values_of(ctx, "collector")
    role = st.selectbox(
        "Role",
        access.ROLES,
        index=access.ROLES.index(user.role) if user else access.ROLES.index(access.VIEWER),
        format_func=access.ROLE_LABELS.get,
        key=f"{prefix}_role",
    )
    columns = st.columns(3)
    collector = columns[0].selectbox(
        "Collector (role collector)",
        collectors,
        index=collectors.index(user.collector) if user and user.collector in collectors else None,
        key=f"{prefix}_collector",
        disabled=role != access.COLLECTOR,
    )
    team = columns[1].multiselect(
        "Team (role team lead)",
        collectors,
        default=[name for name in (user.team if user else ()) if name in collectors],
        key=f"{prefix}_team",
        disabled=role != access.TEAM_LEAD,
    )
    limits: dict[str, list[str]] = {}
    with columns[2]:
        for dimension in ("entity", "division"):
            options = _cache.dimension_values_of(ctx, dimension)
            current = dict(user.limits).get(dimension, ()) if user else ()
            chosen = st.multiselect(
                f"Limited to {dimension}",
                options,
                default=[value for value in current if value in options],
                key=f"{prefix}_limit_{dimension}",
                placeholder="No limit",
            )
            if chosen:
                limits[dimension] = chosen
    return {
        "role": role,
        "collector": collector if role == access.COLLECTOR else None,
        "team": team if role == access.TEAM_LEAD else [],
        "limits": limits,
    }


add_tab, change_tab, remove_tab = st.tabs(["Add a user", "Change a user", "Remove a user"], key="admin_tabs")
with add_tab:
    columns = st.columns(2)
    username = columns[0].text_input(
        "User name (the e-mail address for a company account)", key="add_username"
    )
    display_name = columns[1].text_input("Display name", key="add_display_name")
    fields = rights_fields("add")
    company = st.checkbox("Signs in with the company account only (no password)", key="add_company")
    columns = st.columns(2)
    password = columns[0].text_input("Password", type="password", key="add_password", disabled=company)
    again = columns[1].text_input(
        "Password again", type="password", key="add_password_again", disabled=company
    )
    if st.button("Add the user", type="primary", key="add_user"):
        _session.require(access.ADMINISTER)
        if not company and password != again:
            st.error("The two passwords differ.")
        else:
            try:
                added = _sign_in.users(ctx.store).add(
                    username,
                    str(fields["role"]),
                    password=None if company else password,
                    display_name=display_name,
                    collector=fields["collector"],  # type: ignore[arg-type]
                    team=fields["team"],  # type: ignore[arg-type]
                    limits=fields["limits"],  # type: ignore[arg-type]
                )
            except access.AccessError as error:
                st.error(_format.markdown_text(error))
            else:
                done(f"Added {added.username} as {added.role} ({added.describe_rights()}).")

names = [user.username for user in sorted(users, key=lambda u: u.username.casefold())]
with change_tab:
    chosen = st.selectbox("User", names, index=None, key="change_user", placeholder="Choose a user")
    if chosen:
        user = _sign_in.users(ctx.store).get(chosen)
        display_name = st.text_input("Display name", value=user.display_name, key=f"change_name_{chosen}")
        fields = rights_fields(f"change_{chosen}", user)
        new_password = st.text_input(
            "New password (blank: unchanged)", type="password", key=f"change_password_{chosen}"
        )
        if st.button("Save the changes", type="primary", key="change_save"):
            _session.require(access.ADMINISTER)
            try:
                changed = _sign_in.users(ctx.store).update(
                    chosen,
                    role=fields["role"],
                    display_name=display_name,
                    collector=fields["collector"] or "",
                    team=fields["team"],
                    limits=fields["limits"],
                )
                if new_password:
                    _sign_in.users(ctx.store).set_password(chosen, new_password)
            except access.AccessError as error:
                st.error(_format.markdown_text(error))
            else:
                done(
                    f"{changed.username}: {changed.role} ({changed.describe_rights()})"
                    + (", password changed." if new_password else ".")
                )

with remove_tab:
    gone = st.selectbox("User", names, index=None, key="remove_user", placeholder="Choose a user")
    confirmed = st.checkbox("Remove this user", key="remove_confirm", disabled=not gone)
    if st.button("Remove", key="remove_button", disabled=not (gone and confirmed)):
        _session.require(access.ADMINISTER)
        if gone == ctx.user.username:
            st.error("You cannot remove yourself: another administrator can.")
        else:
            try:
                _sign_in.users(ctx.store).remove(gone)
            except access.AccessError as error:
                st.error(_format.markdown_text(error))
            else:
                done(f"Removed {gone}.")
