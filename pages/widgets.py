"""Shared Streamlit pieces: the data folder, the sidebar (as-of date and scope), number formats.

Every page calls `context()` to get what the sidebar chose; pages stay short and alike.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import streamlit as st

from analytics import access, clock, contract, export
from analytics.scope import Scope
from analytics.scope import customers_in_scope as _customers_in_scope
from analytics.store import DataFolderUnwritable, Manifest, Store
from pages import _runs

PROJECT = Path(__file__).resolve().parent.parent
DATA_DIR_VARIABLE = "AR_DATA_DIR"
_LOG = logging.getLogger(__name__)


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


# A resource, not data: the sidebar reads it at every run, and a copy of a few thousand values out of
# the cache each time is what it would cost (callers must not modify the lists).
@st.cache_resource(ttl=600, max_entries=16, show_spinner=False)
def _dimension_values(root: str, version: str, rights: Scope) -> dict[str, list[str]]:
    """The values each customer dimension takes among the customers a user may see."""
    customers = _customers_in_scope(Store(root).connect(), rights)
    return {
        dimension: customers.get_column(dimension).drop_nulls().unique().sort().to_list()
        for dimension in contract.DIMENSIONS
    }


# --- text in Markdown ----------------------------------------------------------------------------

# Streamlit's Markdown also turns text into links and pictures after the escapes are read: a bare
# http:// or www. address and an e-mail address become links, a :shortcode: an emoji. A word joiner
# (U+2060, invisible) after the ':' or '@', or between 'www' and '.', breaks each of them.
_STILL_MARKUP = re.compile(r"(?<=\\[:@])(?=\S)|(?i:(?<=www)(?=\\\.))")
WORD_JOINER = "\u2060"


def markdown_text(value: object) -> str:
    """`value` (a name, an id from the URL, a scope, a message quoting the user) as text inside any
    Markdown a page shows (st.markdown, a caption, a message, a header, a label): every Markdown and
    Streamlit markup character escaped, and nothing made a link or an emoji. Not for st.dataframe
    cells or st.text, which are plain text already."""
    return _STILL_MARKUP.sub(WORD_JOINER, export.markdown_text(value))


def chart_text(value: object) -> str:
    """`value` as text in a Plotly chart (an axis label, a legend, a hover text): Plotly reads <b>, <i>,
    <br> and <a href> in them, so a customer named '<a href=...>' would be a link; escaped, it shows
    as written."""
    return html.escape("" if value is None else str(value), quote=False)


# --- who is signed in --------------------------------------------------------------------------------

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


def context() -> Context:
    """The sidebar's choices, as stored by app.py for this rerun."""
    if "context" not in st.session_state:
        # On a fresh server, a first request that lands on a page's URL runs that page alone (Streamlit's
        # legacy mode for a pages/ folder, which only the first st.navigation call ends): end that mode
        # and run the app itself, which lays out the sidebar and navigation, then this page.
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
        st.rerun()
    return st.session_state["context"]


def compact_money(value: Decimal | float | int | None, currency: str = "") -> str:
    """7002789.45 -> '7.00M EUR' for headline figures (the exact figure goes in their tooltip)."""
    if value is None:
        return "-"
    number = float(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= threshold:
            return f"{number / threshold:,.2f}{suffix} {currency}".strip()
    return f"{number:,.2f} {currency}".strip()


def money(value: Decimal | float | int | None, currency: str = "") -> str:
    """1234567.891 -> '1,234,567.89 EUR'."""
    if value is None:
        return "-"
    text = f"{Decimal(value):,.2f}"
    return f"{text} {currency}".strip()


@st.cache_resource(ttl=900, max_entries=12, show_spinner=False)
def aged_items(root: str, version: str, as_of: date, scope: Scope):
    """The aged open items of a date and scope, shared by every session (Polars frames are not copied:
    callers must not modify them). Keyed on the data version, so an import is seen at once."""
    from analytics import aging

    return aging.aged_items(Store(root), as_of, scope)


def items_for(ctx: Context, as_of: date | None = None):
    return aged_items(str(ctx.store.root), ctx.store.version(), as_of or ctx.as_of, ctx.scope)


def money_column(label: str, help: str | None = None) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%,.2f", help=help)


def for_display(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimal money as floats for the grid only (figures are computed and exported as decimals)."""
    return frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))


def no_data_message(ctx: Context) -> bool:
    """Say what to do when there is no data; True when the page should stop."""
    if ctx.manifest is None:
        st.info(
            "No data yet. Open the **Data** page to import your ERP exports or generate the demo company."
        )
        return True
    return False


@st.cache_data(ttl=900, max_entries=32, show_spinner=False)
def _trend(root: str, version: str, month_ends: tuple[date, ...], boundaries: tuple[int, ...], scope: Scope):
    from analytics import aging

    return aging.trend(Store(root), list(month_ends), boundaries, scope)


def cached_trend(ctx: Context, month_ends: tuple[date, ...], boundaries: tuple[int, ...]):
    return _trend(str(ctx.store.root), ctx.store.version(), month_ends, boundaries, ctx.scope)


@st.cache_data(ttl=900, max_entries=32, show_spinner=False)
def _series(root: str, version: str, start: date, end: date, by: str | None, scope: Scope):
    from analytics import kpis

    return kpis.month_end_series(Store(root), start, end, by=by, scope=scope, as_of=end)


def cached_series(ctx: Context, months: int, by: str | None = None):
    """The month-end KPI series of the `months` months up to the as-of date (its last full month end
    when the as-of date is not one)."""
    from analytics import kpis

    start = kpis.month_end(ctx.as_of, -(months - 1)).replace(day=1)
    return _series(str(ctx.store.root), ctx.store.version(), start, ctx.as_of, by, ctx.scope)


# A resource, as the aged items it starts from: its items (a row per open item) are shared, not pickled
# into the cache and out again at each hit (callers must not modify them).
@st.cache_resource(ttl=900, max_entries=16, show_spinner=False)
def _forecast(root: str, version: str, as_of: date, scope: Scope):
    from analytics import forecast

    return forecast.cash_forecast(Store(root), as_of, scope, items=aged_items(root, version, as_of, scope))


@st.cache_data(ttl=3600, max_entries=16, show_spinner="Back-testing the forecast on past month ends...")
def _forecast_accuracy(root: str, version: str, as_of: date, scope: Scope):
    from analytics import forecast

    return forecast.accuracy(forecast.backtest(Store(root), as_of, scope=scope))


def cached_forecast(ctx: Context):
    """The 13-week cash forecast at the as-of date."""
    return _forecast(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


def cached_forecast_accuracy(ctx: Context):
    """The forecast's back-tested error per week horizon (six past month ends rebuilt and compared)."""
    return _forecast_accuracy(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _payers(root: str, version: str, as_of: date, scope: Scope):
    from analytics import kpis

    return kpis.payer_behaviour(Store(root), as_of, scope)


def cached_payers(ctx: Context):
    """Each customer's payment behaviour and rating at the as-of date."""
    return _payers(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


# --- collections: the database, who is working, the side panel -------------------------------------

PANEL_ITEMS = "panel_items"
PANEL_OPEN = "panel_open"
NO_QUALIFICATION = "(no qualification)"
NO_ACTION = "(no action)"


@st.cache_resource(show_spinner=False)
def _collections_db(root: str):
    from analytics.collections import CollectionsDB

    return CollectionsDB.for_store(Store(root))


def collections_db(ctx: Context):
    """The app's one writer of <data>/collections.duckdb (shared by every session of this process).
    Stops the page when another process holds the file (instance_notice says so at the top)."""
    from analytics.collections import CollectionsBusy

    try:
        return _collections_db(str(ctx.store.root))
    except CollectionsBusy:
        st.info("This part needs the collections database, which another instance holds (see above).")
        st.stop()
    except DataFolderUnwritable:
        st.info("This part needs the collections database, which this user may not open (see above).")
        st.stop()


def collections_available(ctx: Context) -> bool:
    """False when another process holds the collections database (the page then shows its figures
    without what needs it)."""
    from analytics.collections import CollectionsBusy

    try:
        _collections_db(str(ctx.store.root))
    except (CollectionsBusy, DataFolderUnwritable):
        return False
    return True


def instance_notice(current: Store) -> None:
    """Open this process's collections writer at the start of every run, so that the first app on a
    data folder holds it from its first page, and say once, at the top of every page, when another
    instance holds the folder: the figures (Parquet files) still show, what needs the collections
    database does not."""
    from analytics.collections import CollectionsBusy

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


def label(value: str | None) -> str:
    """promise_to_pay -> 'Promise to pay'."""
    return "-" if value is None else value.replace("_", " ").capitalize()


def open_panel(document_ids: list[str]) -> None:
    """Ask for the side panel on these items (opened by show_panel on this run)."""
    st.session_state[PANEL_ITEMS] = list(document_ids)
    st.session_state[PANEL_OPEN] = True


def panel_button(
    ctx: Context, document_ids: list[str], key: str, rerun: str | list[str] | None = None
) -> None:
    """The button that opens the side panel on the selected items, and the panel itself. `rerun`: the
    fragment(s) that show what a save changes, rerun alone after it (the whole page when None). The
    page's fragment that calls this draws the panel, so that opening it reruns that fragment only."""
    count = len(document_ids)
    if st.button(
        f"Qualify or log an action ({count} item{'s' if count != 1 else ''})"
        if count
        else "Select items to qualify",
        key=key,
        disabled=not count,
        type="primary" if count else "secondary",
        icon=":material/edit_note:",
    ):
        open_panel(document_ids)
    if st.session_state.get(PANEL_OPEN):
        _panel(ctx, rerun)
    elif st.session_state.pop(PANEL_CLOSING, False):
        _close_panel_dialog()


PANEL_TITLE = "Qualify items and log an action"
# The keys of the panel's widgets.
PANEL_FIELDS = (
    "panel_kind",
    "panel_promised_date",
    "panel_promised_amount",
    "panel_reason",
    "panel_disputed_amount",
    "panel_owner",
    "panel_expected_resolution",
    "panel_resolution",
    "panel_comment",
    "panel_action",
    "panel_outcome",
    "panel_contact",
    "panel_next",
)
# Set when a save or Cancel closes the panel and only fragments rerun: they must close its dialog.
PANEL_CLOSING = "panel_closing"


def _close_panel_dialog() -> None:
    """Close the side panel's dialog during a fragment's rerun. A dialog lives in the app's event
    container, outside the fragment that opened it, so that rerunning the fragment without it leaves it
    open (a full rerun would close it); st.dialog has no public close, so the same dialog block (same
    title and width, hence the same element id and place) is sent again, closed."""
    from streamlit.delta_generator_singletons import get_dg_singleton_instance

    get_dg_singleton_instance().event_dg._dialog(title=PANEL_TITLE, width="large").close()


def _panel_submission(ctx: Context, items: pl.DataFrame):
    """What the side panel's fields (in session state) ask to record on `items` (the open ones of the
    panel's items): (Submission, qualification kind)."""
    from analytics import collections

    state = st.session_state
    document_ids = state.get(PANEL_ITEMS, [])
    kind = state.get("panel_kind", NO_QUALIFICATION)
    comment = state.get("panel_comment") or ""

    def amount(key: str) -> Decimal | None:
        value = state.get(key)
        return None if value is None else Decimal(str(round(value, 2)))

    fields: dict[str, object] = {}
    if kind == "promise_to_pay":
        fields["promised_date"] = state.get("panel_promised_date")
        fields["promised_amount"] = amount("panel_promised_amount")
    elif kind == "disputed":
        fields["dispute_reason"] = state.get("panel_reason")
        fields["disputed_amount"] = amount("panel_disputed_amount")
        fields["internal_owner"] = state.get("panel_owner") or None
        fields["expected_resolution"] = state.get("panel_expected_resolution")
    elif kind == "dispute_resolved":
        fields["outcome"] = state.get("panel_resolution")
    action = None
    action_type = state.get("panel_action", NO_ACTION)
    customers = items.get_column("customer_id").unique().to_list()
    if action_type != NO_ACTION and customers:
        action = collections.Action(
            customer_id=customers[0],
            action_type=action_type,
            outcome=state.get("panel_outcome"),
            comment=comment,
            contact_person=state.get("panel_contact") or None,
            next_action_date=state.get("panel_next"),
            document_ids=tuple(document_ids),
        )
    qualifications = ()
    if kind != NO_QUALIFICATION:
        qualifications = tuple(
            collections.Qualification(document_id=document_id, event_type=kind, comment=comment, **fields)
            for document_id in items.get_column("document_id").to_list()
        )
    return collections.Submission(qualifications, action), kind


PANEL_REFUSED = "panel_refused"


def _save_panel(ctx: Context, rerun: str | list[str] | None) -> None:
    """The Save button's callback: record the panel's submission, close the panel and rerun what shows
    it (`rerun`, else the page); refused, the panel reruns alone and says why."""
    from analytics import collections

    document_ids = st.session_state.get(PANEL_ITEMS, [])
    items = items_for(ctx).filter(pl.col("document_id").is_in(document_ids))
    submission, kind = _panel_submission(ctx, items)
    user = current_user()
    try:
        access.require(user, access.WRITE)
    except access.AccessDenied as denied:
        access.audit(ctx.store.root, user.username, "refused", str(denied), source="app")
        st.session_state[PANEL_REFUSED] = f"Refused: {markdown_text(denied)}."
        return
    try:
        collections_db(ctx).submit(
            submission, store=ctx.store, as_of=ctx.as_of, scope=ctx.scope, user=user_name()
        )
    except collections.CollectionsRefused as refused:
        st.session_state[PANEL_REFUSED] = "Refused, nothing was written:\n" + "\n".join(
            f"- {markdown_text(message)}" for message in refused.messages
        )
        return
    st.session_state[PANEL_OPEN] = False
    qualifications, action = submission.qualifications, submission.action
    audit(
        "write",
        f"{len(qualifications)} qualification(s) {kind if qualifications else ''}"
        f"{', ' + action.action_type + ' on ' + action.customer_id if action else ''} "
        f"({', '.join(document_ids[:5])}{' ...' if len(document_ids) > 5 else ''})",
    )
    done = []
    if qualifications:
        done.append(
            f"{len(qualifications)} item{'s' if len(qualifications) != 1 else ''} qualified as {label(kind).lower()}"
        )
    if action:
        done.append(f"{label(action.action_type).lower()} logged")
    st.session_state["collections_notice"] = "Saved: " + " and ".join(done) + "."
    _close_panel(rerun)


def _close_panel(rerun: str | list[str] | None) -> None:
    """Close the side panel and rerun what shows it (`rerun`, else the page)."""
    st.session_state[PANEL_OPEN] = False
    # A fragment's rerun keeps the values of widgets it did not draw: the next panel starts blank.
    for key in PANEL_FIELDS:
        st.session_state.pop(key, None)
    if rerun:
        st.session_state[PANEL_CLOSING] = True
    st.rerun(rerun or "app")


@st.dialog(PANEL_TITLE, width="large")
def _panel(ctx: Context, rerun: str | list[str] | None = None) -> None:
    from analytics import collections

    _runs.record("panel")
    db = collections_db(ctx)
    document_ids = st.session_state.get(PANEL_ITEMS, [])
    items = items_for(ctx).filter(pl.col("document_id").is_in(document_ids))
    if items.is_empty():
        st.warning("These items are not open at this date (or not in your scope).")
        st.button("Close", key="panel_close_empty", on_click=_close_panel, args=(rerun,))
        return
    customers = items.get_column("customer_id").unique().to_list()
    st.markdown(
        f"**{items.height} item(s)** of "
        + ", ".join(markdown_text(name) for name in sorted(set(items.get_column("customer_name").to_list())))
        + f" · open {money(items.get_column('open_amount_functional').sum(), ctx.currency)} · as of {ctx.as_of}"
    )
    st.dataframe(
        for_display(
            items.select(
                "document_id", "document_type", "due_date", "days_past_due", "open_amount_functional"
            )
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "document_id": st.column_config.TextColumn("Document"),
            "document_type": st.column_config.TextColumn("Type"),
            "due_date": st.column_config.DateColumn("Due"),
            "days_past_due": st.column_config.NumberColumn("Days past due", format="%d"),
            "open_amount_functional": money_column(f"Open ({ctx.currency})"),
        },
        key="panel_items_table",
    )
    story = collections.history(db, document_ids=document_ids)
    with st.expander(f"History ({story.height})", expanded=False):
        if story.is_empty():
            st.caption("Nothing recorded on these items yet.")
        else:
            st.dataframe(
                story.select("date", "type", "details", "comment", "user_name"),
                hide_index=True,
                width="stretch",
                key="panel_history",
            )

    st.markdown("**Qualification**")
    kind = st.selectbox(
        "Qualify the items as",
        [NO_QUALIFICATION, *collections.QUALIFICATIONS],
        format_func=lambda value: value if value == NO_QUALIFICATION else label(value),
        key="panel_kind",
    )
    columns = st.columns(3)
    if kind == "promise_to_pay":
        columns[0].date_input(
            "Promised date",
            value=ctx.as_of + timedelta(days=7),
            min_value=ctx.as_of,
            key="panel_promised_date",
        )
        columns[1].number_input(
            "Promised amount (blank: the whole open amount)",
            min_value=0.0,
            value=None,
            step=100.0,
            key="panel_promised_amount",
        )
    elif kind == "disputed":
        columns[0].selectbox("Reason", collections.DISPUTE_REASONS, format_func=label, key="panel_reason")
        columns[1].number_input(
            "Disputed amount (blank: the whole open amount)",
            min_value=0.0,
            value=None,
            step=100.0,
            key="panel_disputed_amount",
        )
        columns[2].text_input("Internal owner", key="panel_owner")
        columns[0].date_input(
            "Expected resolution", value=ctx.as_of + timedelta(days=14), key="panel_expected_resolution"
        )
    elif kind == "dispute_resolved":
        columns[0].selectbox(
            "Outcome", collections.RESOLUTION_OUTCOMES, format_func=label, key="panel_resolution"
        )
    st.text_area("Comment", key="panel_comment", height=80)

    st.markdown("**Action**")
    action_type = st.selectbox(
        "Log an action",
        [NO_ACTION, *collections.ACTION_TYPES],
        format_func=lambda value: value if value == NO_ACTION else label(value),
        key="panel_action",
        disabled=len(customers) != 1,
        help=None
        if len(customers) == 1
        else "An action concerns one customer: select items of one customer.",
    )
    if action_type != NO_ACTION:
        columns = st.columns(3)
        columns[0].selectbox("Outcome", collections.ACTION_OUTCOMES, format_func=label, key="panel_outcome")
        columns[1].text_input("Contact person", key="panel_contact")
        columns[2].date_input(
            "Next action", value=ctx.as_of + timedelta(days=7), min_value=ctx.as_of, key="panel_next"
        )
    submission, _ = _panel_submission(ctx, items)

    buttons = st.columns([1, 1, 4])
    writable = can(access.WRITE)
    # Saved in the button's callback, so that the run after it is that of what shows the save
    # (`rerun`), not the panel's and then the page's.
    buttons[0].button(
        "Save",
        type="primary",
        key="panel_save",
        disabled=not (submission.qualifications or submission.action) or not writable,
        help=None if writable else refusal(access.WRITE),
        on_click=_save_panel,
        args=(ctx, rerun),
    )
    buttons[1].button("Cancel", key="panel_cancel", on_click=_close_panel, args=(rerun,))
    if refused := st.session_state.pop(PANEL_REFUSED, None):
        st.error(refused)


def collections_notice() -> None:
    """The confirmation of the last save of the side panel, once."""
    if notice := st.session_state.pop("collections_notice", None):
        st.success(markdown_text(notice))


# A resource, as the aged items it holds: one live worklist per data version, date and scope, shared by
# every session and brought up to date by each read (a save reads its few documents alone).
@st.cache_resource(ttl=900, max_entries=12, show_spinner=False)
def _live_worklist(root: str, version: str, as_of: date, scope: Scope):
    from analytics import worklist

    return worklist.LiveWorklist(Store(root), as_of, scope, aged_items(root, version, as_of, scope))


def live_worklist(ctx: Context):
    """The live worklist of the sidebar's date and scope (analytics.worklist.LiveWorklist)."""
    return _live_worklist(str(ctx.store.root), ctx.store.version(), ctx.as_of, ctx.scope)


def item_states(ctx: Context):
    """Each open item's collections state at the as-of date (promise, dispute...), as the collections
    database has it now: a save's items are read again, not every item (callers must not modify it)."""
    return live_worklist(ctx).refresh(collections_db(ctx)).states


def dimension_values_of(ctx: Context, dimension: str) -> list[str]:
    """The values a customer dimension takes among the customers the user may see."""
    return _dimension_values(str(ctx.store.root), ctx.store.version(), ctx.user.rights()).get(dimension, [])


@st.cache_data(ttl=900, max_entries=16, show_spinner=False)
def _customers(root: str, version: str, scope: Scope) -> pl.DataFrame:
    return _customers_in_scope(Store(root).connect(), scope).sort("customer_name", "customer_id")


def customers_in_scope(ctx: Context) -> pl.DataFrame:
    """The customers the sidebar's scope covers, by name."""
    return _customers(str(ctx.store.root), ctx.store.version(), ctx.scope)


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _dispute_summary(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    from analytics import collections

    # The aged items and their states are cached for every page: the summary does not redo them.
    items = aged_items(root, version, as_of, scope)
    states = _live_worklist(root, version, as_of, scope).refresh(_collections_db(root)).states
    return collections.dispute_summary(
        _collections_db(root), Store(root), as_of, scope, items=items, states=states
    )


def cached_dispute_summary(ctx: Context):
    db = collections_db(ctx)
    return _dispute_summary(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


def collections_db_of(current: Store):
    """The app's collections database of a data folder (before the sidebar's context exists)."""
    return _collections_db(str(current.root))


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _scenario_day(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    from analytics import scenarios

    store = Store(root)
    db = _collections_db(root)
    items = aged_items(root, version, as_of, scope)
    return (
        scenarios.proposals(db, store, as_of, scope, items=items),
        scenarios.alerts(db, store, as_of, scope, items=items),
    )


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _positions(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    from analytics import scenarios

    items = aged_items(root, version, as_of, scope)
    # The item states are kept up to date for every page that shows them (the live worklist's).
    states = _live_worklist(root, version, as_of, scope).refresh(_collections_db(root)).states
    return scenarios.positions(_collections_db(root), Store(root), as_of, scope, items=items, states=states)


def scenario_positions(ctx: Context) -> pl.DataFrame:
    """Where each customer in scope stands in its recovery scenario at the as-of date, refreshed on
    each write to the collections database (events, actions, scenarios, rules, settings)."""
    db = collections_db(ctx)
    return _positions(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


def scenario_day(ctx: Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The recovery steps due at the as-of date and the alerts since the previous run, refreshed on
    each save."""
    db = collections_db(ctx)
    return _scenario_day(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def _scenario_alerts(root: str, version: str, collections_version: str, as_of: date, scope: Scope):
    from analytics import scenarios

    items = aged_items(root, version, as_of, scope)
    return scenarios.alerts(_collections_db(root), Store(root), as_of, scope, items=items)


def scenario_alerts(ctx: Context) -> pl.DataFrame:
    """The alerts since the previous run alone, refreshed on each save: for a page that shows them
    without the steps due (working out every customer's step is the costly part of scenario_day)."""
    db = collections_db(ctx)
    return _scenario_alerts(str(ctx.store.root), ctx.store.version(), db.data_version(), ctx.as_of, ctx.scope)


def alerts_summary(alerts: pl.DataFrame) -> str:
    """'3 fell due unpaid · 1 promise broken ...' from the alerts frame."""
    from analytics import scenarios

    counts = alerts.group_by("alert").len()
    parts = [
        f"{row['len']} {scenarios.ALERT_LABELS[row['alert']].lower()}"
        for row in counts.sort("alert").iter_rows(named=True)
    ]
    return " · ".join(parts)
