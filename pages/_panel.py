"""The side panel: qualify selected items and log an action, with their history, and the confirmation of a save."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import polars as pl
import streamlit as st
from streamlit.delta_generator_singletons import get_dg_singleton_instance

from analytics import access, collections, submissions
from pages import _format, _runs
from pages._cache import collections_db, items_for, warm_after_save
from pages._format import for_display, label, markdown_text, money, money_column
from pages._session import Context, audit, can, current_user, refusal, user_name

PANEL_ITEMS = "panel_items"


PANEL_OPEN = "panel_open"


NO_QUALIFICATION = "(no qualification)"


NO_ACTION = "(no action)"


# What the open panel shows above its fields (its items and their history), read when it opens: the
# reruns that filling the panel makes (a choice that shows other fields) draw it again from here, not
# from a scan of the day's items and a query of the collections history each time.
PANEL_VIEW = "panel_view"


def open_panel(document_ids: list[str]) -> None:
    """Ask for the side panel on these items (opened by show_panel on this run)."""
    st.session_state[PANEL_ITEMS] = list(document_ids)
    st.session_state[PANEL_OPEN] = True
    st.session_state.pop(PANEL_VIEW, None)


def _panel_view(ctx: Context, document_ids: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The panel's open items and their history, read once per opening (and again when the data
    version or the items change)."""
    marker = (tuple(document_ids), ctx.store.version(), ctx.as_of, ctx.scope)
    view = st.session_state.get(PANEL_VIEW)
    if view is None or view[0] != marker:
        items = items_for(ctx).filter(pl.col("document_id").is_in(document_ids))
        story = collections.history(collections_db(ctx), document_ids=document_ids)
        view = (marker, items, story)
        st.session_state[PANEL_VIEW] = view
    return view[1], view[2]


def panel_button(
    ctx: Context, document_ids: list[str], key: str, rerun: str | list[str] | None = None
) -> None:
    """The button that opens the side panel on the selected items, and the panel itself. `rerun`: the
    fragment(s) that show what a save changes, rerun alone after it (the whole page when None). The
    page's fragment that calls this draws the panel, so that opening it reruns that fragment only."""
    # A document listed once per installment, or in two of a page's lists, is qualified once.
    document_ids = list(dict.fromkeys(document_ids))
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
    get_dg_singleton_instance().event_dg._dialog(title=PANEL_TITLE, width="large").close()


def _panel_submission(ctx: Context, items: pl.DataFrame):
    """What the side panel's fields (in session state) ask to record on `items` (the open ones of the
    panel's items): (Submission, qualification kind)."""
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
        action = submissions.Action(
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
            submissions.Qualification(document_id=document_id, event_type=kind, comment=comment, **fields)
            # One per document, whose installments are rows of their own.
            for document_id in items.get_column("document_id").unique(maintain_order=True).to_list()
        )
    return submissions.Submission(qualifications, action), kind


PANEL_REFUSED = "panel_refused"


def _save_panel(ctx: Context, rerun: str | list[str] | None) -> None:
    """The Save button's callback: record the panel's submission, close the panel and rerun what shows
    it (`rerun`, else the page); refused, the panel reruns alone and says why."""
    document_ids = st.session_state.get(PANEL_ITEMS, [])
    items, _ = _panel_view(ctx, document_ids)
    submission, kind = _panel_submission(ctx, items)
    user = current_user()
    try:
        access.require(user, access.WRITE)
    except access.AccessDenied as denied:
        access.audit(ctx.store.root, user.username, "refused", str(denied), source="app")
        st.session_state[PANEL_REFUSED] = f"Refused: {markdown_text(denied)}."
        return
    try:
        submissions.submit(
            collections_db(ctx),
            submission,
            store=ctx.store,
            as_of=ctx.as_of,
            scope=ctx.scope,
            user=user_name(),
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
    warm_after_save(ctx)
    _close_panel(rerun)


def _close_panel(rerun: str | list[str] | None) -> None:
    """Close the side panel and rerun what shows it (`rerun`, else the page)."""
    st.session_state[PANEL_OPEN] = False
    st.session_state.pop(PANEL_VIEW, None)
    # A fragment's rerun keeps the values of widgets it did not draw: the next panel starts blank.
    for key in PANEL_FIELDS:
        st.session_state.pop(key, None)
    if rerun:
        st.session_state[PANEL_CLOSING] = True
    st.rerun(rerun or "app")


@st.dialog(PANEL_TITLE, width="large")
def _panel(ctx: Context, rerun: str | list[str] | None = None) -> None:
    _runs.record("panel")
    document_ids = st.session_state.get(PANEL_ITEMS, [])
    items, story = _panel_view(ctx, document_ids)
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
    _format.dataframe(
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
    with st.expander(f"History ({story.height})", expanded=False):
        if story.is_empty():
            st.caption("Nothing recorded on these items yet.")
        else:
            _format.dataframe(
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
