"""Who is signed in: the users file, demo mode, the sign-in form, the company account (st.login),
signing out and the page shown while access is refused to everyone."""

from __future__ import annotations

import logging

import streamlit as st

from analytics import access, export
from analytics.store import Store
from pages._format import markdown_text

_LOG = logging.getLogger(__name__)

SIGNED_IN = "signed_in_user"


def users(current: Store) -> access.Users:
    return access.Users(current.root)


def demo_mode(current: Store) -> bool:
    """No users file: anyone who reaches the app is a credit manager (shown in a banner)."""
    return not users(current).exists()


def _identity_provider() -> bool:
    """True when the secrets have an [auth] section (OpenID Connect through st.login)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file, or one that cannot be read
        return False


REFUSED_ACCOUNT = "refused_company_account"


def _company_account() -> str | None:
    """The e-mail address of the company account signed in through st.login ("" when the provider
    gave none), or None when no company account is signed in."""
    if not _identity_provider() or not st.user.get("is_logged_in"):
        return None
    return str(st.user.get("email") or "")


def _company_account_verified() -> bool | None:
    """The provider's email_verified claim (None when it gives none)."""
    verified = st.user.get("email_verified")
    return None if verified is None else verified is True or str(verified).lower() == "true"


def signed_in_user(current: Store) -> access.User | None:
    """The user of this session: the demo user in demo mode, else the signed-in user read again from
    the users file (a removed user is signed out, a changed role applies at once), else None.

    A company account is matched on its e-mail address. One that is no user is refused once per
    session (one audit line, however many reruns), and the sign-in page says so."""
    if demo_mode(current):
        return access.DEMO_USER
    email = _company_account()
    if email is not None and st.session_state.get(REFUSED_ACCOUNT, (None,))[0] != email:
        try:
            user = access.identity_provider_user(current.root, email, _company_account_verified())
        except access.SignInRefused as refused:
            st.session_state[REFUSED_ACCOUNT] = (email, str(refused))
        else:
            if st.session_state.get(SIGNED_IN) != user.username:
                access.audit(current.root, user.username, "sign_in", "identity provider", source="app")
                st.session_state[SIGNED_IN] = user.username
            return user
    username = st.session_state.get(SIGNED_IN)
    if not username:
        return None
    user = users(current).get(username)
    if user is None:
        st.session_state.pop(SIGNED_IN, None)
    return user


def sign_in_page(current: Store) -> None:
    """The sign-in form, and the identity provider's button when one is configured (or, while a
    company account without access is signed in, why it is refused and how to sign it out)."""
    st.title("Sign in")
    st.caption("Receivables: aging balance and DSO")
    if _identity_provider():
        refused = st.session_state.get(REFUSED_ACCOUNT)
        if refused is not None and refused[0] == _company_account():
            # The provider's e-mail address stays whole (no joiner in it), so that the command can be copied.
            st.error(export.markdown_text(refused[1]))
            st.button("Sign out of the company account", on_click=st.logout, icon=":material/logout:")
        elif st.button("Sign in with your company account", type="primary", icon=":material/login:"):
            st.login()
        st.divider()
    with st.form("sign_in"):
        username = st.text_input("User name", key="sign_in_username")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            user = access.sign_in(current.root, username, password)
        except access.SignInRefused as refused:
            st.error(markdown_text(refused))
            return
        except access.DataFileRefused as refused:
            _log_refusal(refused)
            st.error(markdown_text(refused.public()))
            return
        st.session_state[SIGNED_IN] = user.username
        st.rerun()


def _log_refusal(refused: access.DataFileRefused) -> None:
    # The detail (the data folder's path, the user entry) is for the server log, not the page.
    _LOG.error("access refused to everyone: %s", refused)


def refused_page(refused: access.DataFileRefused) -> None:
    """What everyone sees while a file access relies on is unusable: a message without the data
    folder's path or any user name, the detail in the server log."""
    _log_refusal(refused)
    st.title("Sign in")
    st.error(markdown_text(refused.public()))


def sign_out(current: Store, user: access.User) -> None:
    """End the session (a button's callback: the run that follows shows the sign-in page). A company
    account is signed out of st.login too, and of the provider when it publishes an end-session
    endpoint, which reloads the app."""
    access.audit(current.root, user.username, "sign_out", "", source="app")
    st.session_state.pop(SIGNED_IN, None)
    if _company_account() is not None:
        st.logout()


def demo_banner() -> None:
    st.warning(
        "**Demo mode**: there is no users file, so anyone who opens this app sees every customer and can "
        "write. Add an administrator (`python -m analytics users add NAME --role admin --data DIR`) to "
        "require signing in.",
        icon=":material/science:",
    )
