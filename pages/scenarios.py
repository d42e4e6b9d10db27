"""Recovery scenarios: what the scenarios propose today (confirm, edit or skip each step, with its
reminder to download or send), the scenarios and their steps, who gets which scenario and why, the
alerts since the last run, and the settings of penalties, alerts and the sender of reminders."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import streamlit as st

from analytics import access, collections, contract, reminders, scenarios
from analytics import settings as app_settings
from pages import _cache, _format, _runs, _session, widgets

NEW = "(new scenario)"
CENT = Decimal("0.01")
ALL = "(all scenarios)"
BY_RULES = "(by the rules)"
NONE = "(none)"
SELECTED = "scenario_selected"
NONCE = "scenario_nonce"
LISTED = "scenario_listed"
SENT_OUTCOMES = "scenario_sent_outcomes_rows"
DELIVERY_SCHEMA = {
    name: pl.String
    for name in (
        "customer_id",
        "customer_name",
        "step_label",
        "action_type",
        "channel",
        "recipient",
        "status",
        "detail",
    )
}
CHANNEL_LABELS = {
    "eml": "E-mail sent from my mail client (.eml)",
    "pdf": "Letter printed (PDF)",
    "manual": "Done by hand (call, SMS, note...)",
}

ctx = widgets.page("Recovery scenarios", notices=True)

db = _cache.collections_db(ctx)
me = _session.user_name()
catalog = scenarios.scenarios(db)
names = {s.scenario_id: s.name for s in catalog}


def notice(text: str) -> None:
    _session.audit("write", text)
    st.session_state["collections_notice"] = text
    st.rerun()


def refused(error: scenarios.ScenarioRefused | collections.CollectionsRefused) -> None:
    st.error(
        "Refused, nothing was written:\n" + "\n".join(f"- {_format.markdown_text(m)}" for m in error.messages)
    )


def smtp() -> reminders.SmtpSettings | None:
    """The SMTP server of the data folder's settings ([mail] in settings.toml, the Settings page)."""
    try:
        return app_settings.smtp_of(ctx.store.root)
    except app_settings.SettingsInvalid as error:
        st.warning(f"Mail settings: {_format.markdown_text(error)}")
        return None


def customer_labels() -> dict[str, str]:
    """'Name (id)' of each customer in scope, for the tabs that pick one."""
    customers = _cache.customers_in_scope(ctx)
    return {
        customer_id: f"{name} ({customer_id})"
        for customer_id, name in customers.select("customer_id", "customer_name").iter_rows()
    }


SEND_ALL_BOX = "scenario_send_all_box"


def send_all(automatic: pl.DataFrame, items: pl.DataFrame) -> None:
    """ "Send all automatic steps due": how many, a preview of each message, then the outcome of each
    after sending (kept until the next send, since the steps sent leave the list)."""
    outcomes = st.session_state.get(SENT_OUTCOMES)
    if outcomes is not None:
        frame = pl.DataFrame(outcomes, schema=DELIVERY_SCHEMA)
        sent = frame.filter(pl.col("status").is_in(["sent", "written"])).height
        st.success(f"Sent {sent} of {frame.height} automatic step(s).")
        _format.dataframe(
            frame.select(
                "customer_name", "customer_id", "step_label", "channel", "recipient", "status", "detail"
            ),
            hide_index=True,
            width="stretch",
            key="scenario_sent_outcomes",
            column_config={
                "customer_name": st.column_config.TextColumn("Customer"),
                "customer_id": st.column_config.TextColumn("Id"),
                "step_label": st.column_config.TextColumn("Step"),
                "channel": st.column_config.TextColumn("Channel"),
                "recipient": st.column_config.TextColumn("To"),
                "status": st.column_config.TextColumn("Outcome"),
                "detail": st.column_config.TextColumn("Detail"),
            },
        )
    if automatic.is_empty():
        return
    # Each message is written only once the box is opened: rendering every due step's reminder
    # (hundreds on a large ledger) at each run of the tab would cost seconds.
    box = st.expander(
        f"Send all automatic steps due ({automatic.height:,})", key=SEND_ALL_BOX, on_change="rerun"
    )
    if not box.open:
        return
    server = smtp()
    with box:
        current = scenarios.settings(db)
        previews: list[dict[str, str]] = []
        texts: dict[str, str] = {}
        for row in automatic.iter_rows(named=True):
            proposal = scenarios.Proposal.from_row(row)
            preview = {
                "customer_id": proposal.customer_id,
                "customer_name": proposal.customer_name,
                "step_label": proposal.step_label,
                "goes_out": "",
                "subject": "",
            }
            try:
                message = scenarios.reminder(db, ctx.store, proposal, ctx.as_of, items=items, current=current)
            except (scenarios.ScenarioRefused, reminders.ReminderError) as error:
                preview["goes_out"] = f"not sent: {error}"
            else:
                preview["subject"] = message.subject
                texts[proposal.customer_id] = f"Subject: {message.subject}\n\n{message.text}"
                if proposal.action_type != "email":
                    preview["goes_out"] = "PDF letter to print"
                elif not message.recipient:
                    preview["goes_out"] = "not sent: no e-mail address"
                elif server is None:
                    preview["goes_out"] = "not sent: no mail server (Settings page)"
                else:
                    preview["goes_out"] = f"e-mail to {message.recipient}"
            previews.append(preview)
        _format.dataframe(
            pl.DataFrame(previews),
            hide_index=True,
            width="stretch",
            key="scenario_send_all_preview",
            column_config={
                "customer_id": st.column_config.TextColumn("Id"),
                "customer_name": st.column_config.TextColumn("Customer"),
                "step_label": st.column_config.TextColumn("Step"),
                "goes_out": st.column_config.TextColumn("Goes out as"),
                "subject": st.column_config.TextColumn("Subject"),
            },
        )
        if texts:
            shown = st.selectbox(
                "Preview the message to",
                list(texts),
                format_func=lambda c: next(p["customer_name"] for p in previews if p["customer_id"] == c),
                key="scenario_send_all_pick",
            )
            st.text(texts[shown])
        allowed = _session.can(access.CONFIGURE)
        if st.button(
            f"Send all automatic steps due ({automatic.height:,})",
            key="scenario_send_all",
            type="primary",
            disabled=not allowed,
            help=None if allowed else _session.refusal(access.CONFIGURE),
        ):
            _session.require(access.CONFIGURE)
            deliveries = scenarios.send_automatic(
                db,
                ctx.store,
                automatic,
                ctx.as_of,
                ctx.scope,
                user=me,
                smtp=server,
                items=items,
                current=current,
            )
            sent = deliveries.filter(pl.col("status").is_in(["sent", "written"])).height
            _session.audit(
                "write", f"sent {sent} of {deliveries.height} automatic recovery step(s) at {ctx.as_of}"
            )
            st.session_state[SENT_OUTCOMES] = deliveries.to_dicts()
            st.rerun()


# A key keeps the chosen tab when a confirmation appears above the tabs or goes away; only the open
# tab's content runs (a tab switch reruns the page).
today, editor, assignment, alerting, setting = st.tabs(
    ["Today", "Scenarios", "Assignment", "Alerts", "Settings"], key="scenario_tabs", on_change="rerun"
)


# --- today: the proposals ---------------------------------------------------------------------------
@st.fragment(key="scenario_today")
def steps_of_today() -> None:
    """The steps due today and the one selected: picking a step, filtering the list or editing the
    reminder reruns this tab alone."""
    _runs.record("scenario_today")
    items = _cache.items_for(ctx)
    found = _cache.scenario_positions(ctx)
    proposed = scenarios.proposals_from(found)
    counts = st.columns(5)
    counts[0].metric("Steps due", f"{proposed.filter(~pl.col('done')).height:,}")
    counts[1].metric("Done today", f"{proposed.filter(pl.col('done')).height:,}")
    counts[2].metric("Automatic", f"{proposed.filter(pl.col('automatic') & ~pl.col('done')).height:,}")
    counts[3].metric("Paused by a promise", f"{found.filter(pl.col('status') == 'paused').height:,}")
    counts[4].metric("Beyond the friendly phase", f"{found.filter(pl.col('beyond_friendly_phase')).height:,}")
    send_all(proposed.filter(pl.col("automatic") & ~pl.col("done")), items)
    shown_scenarios = sorted(set(proposed.get_column("scenario").to_list()))
    chosen = st.selectbox("Scenario", [ALL, *shown_scenarios], key="scenario_filter")
    shown = proposed if chosen == ALL else proposed.filter(pl.col("scenario") == chosen)
    if shown.is_empty():
        st.info("No step is due today.")
    else:
        table = shown.select(
            "customer_name",
            "customer_id",
            "scenario",
            "step_label",
            "due_date",
            "items",
            "amount",
            "automatic",
            "done",
            "beyond_friendly_phase",
        )
        nonce = st.session_state.get(NONCE, 0)
        picked = st.session_state.get(f"scenario_proposals_{nonce}")
        if picked and picked["selection"]["rows"]:
            # A step picked: open it, and draw the list afresh without the selection.
            listed = st.session_state.get(LISTED, [])
            row = picked["selection"]["rows"][0]
            if row < len(listed):
                st.session_state[SELECTED] = listed[row]
            nonce += 1
            st.session_state[NONCE] = nonce
        st.session_state[LISTED] = table.get_column("customer_id").to_list()
        _format.dataframe(
            _format.for_display(table),
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key=f"scenario_proposals_{nonce}",
            column_config={
                "customer_name": st.column_config.TextColumn("Customer"),
                "customer_id": st.column_config.TextColumn("Id"),
                "scenario": st.column_config.TextColumn("Scenario"),
                "step_label": st.column_config.TextColumn("Step"),
                "due_date": st.column_config.DateColumn("Due"),
                "items": st.column_config.NumberColumn("Items", format="%d"),
                "amount": _format.money_column(f"Amount ({ctx.currency})"),
                "automatic": st.column_config.CheckboxColumn("Automatic"),
                "done": st.column_config.CheckboxColumn("Done today"),
                "beyond_friendly_phase": st.column_config.CheckboxColumn(
                    "Past friendly phase", help="Past the end of the scenario's friendly phase"
                ),
            },
        )
        st.caption(
            "Select a step to see its reminder, edit it, send or download it, then confirm or skip it."
        )

    selected = proposed.filter(pl.col("customer_id") == st.session_state.get(SELECTED, ""))
    if not selected.is_empty():
        row = selected.row(0, named=True)
        proposal = scenarios.Proposal.from_row(row)
        key = f"{proposal.customer_id}_{proposal.scenario_id}_{proposal.offset_days}"
        st.subheader(
            f"{_format.markdown_text(proposal.customer_name)}: {_format.markdown_text(proposal.step_label)}"
        )
        position = found.filter(pl.col("customer_id") == proposal.customer_id).row(0, named=True)
        st.caption(
            f"{_format.markdown_text(proposal.scenario)} (version {proposal.scenario_version}) · "
            f"{_format.markdown_text(position['reason'])}"
        )
        if row["done"]:
            st.info(f"This step was already {_format.markdown_text(row['decision'])} today.")
        current = scenarios.settings(db)
        try:
            message = scenarios.reminder(db, ctx.store, proposal, ctx.as_of, items=items, current=current)
        except (scenarios.ScenarioRefused, reminders.ReminderError) as error:
            st.error(_format.markdown_text(error))
            st.stop()
        concerned = reminders.with_penalties(
            items.filter(pl.col("document_id").is_in(list(proposal.document_ids))).select(
                "document_id",
                "document_type",
                "due_date",
                "days_past_due",
                "currency",
                "open_amount",
                "open_amount_functional",
            ),
            ctx.as_of,
            current.penalties,
        )
        _format.dataframe(
            _format.for_display(concerned.drop("document_type", "days_late")),
            hide_index=True,
            width="stretch",
            key=f"scenario_items_{key}",
            column_config={
                "document_id": st.column_config.TextColumn("Document"),
                "due_date": st.column_config.DateColumn("Due"),
                "days_past_due": st.column_config.NumberColumn("Days past due", format="%d"),
                "currency": st.column_config.TextColumn("Currency"),
                "open_amount": _format.money_column("Open (document currency)"),
                "open_amount_functional": _format.money_column(f"Open ({ctx.currency})"),
                "interest": _format.money_column("Interest (document currency)"),
                "fee": _format.money_column("Fee (document currency)"),
            },
        )
        recipient = st.text_input(
            "Send to (e-mail)",
            value=message.recipient or "",
            key=f"reminder_to_{key}",
            placeholder="name@customer.com",
        )
        subject = st.text_input("Subject", value=message.subject, key=f"reminder_subject_{key}")
        text = st.text_area(
            "Text (edit as you see fit)", value=message.text, height=320, key=f"reminder_text_{key}"
        )
        edited = message.with_text(subject, text, recipient.strip() or None)
        server = smtp()
        attaching = scenarios.attaches_statement(db, proposal)
        if attaching:
            st.caption("The customer's statement of account (PDF) goes with the e-mail, as this step asks.")
        buttons = st.columns(3)
        if edited.recipient:
            buttons[0].download_button(
                "Download .eml",
                _session.audited_export(
                    lambda: reminders.eml_bytes(edited, sender_address=server.sender if server else None),
                    f"reminder {proposal.customer_id}-step{proposal.step}.eml",
                ),
                file_name=f"{proposal.customer_id}-step{proposal.step}.eml",
                mime="message/rfc822",
                key=f"reminder_eml_{key}",
                icon=":material/mail:",
            )
        else:
            buttons[0].caption("Give an e-mail address to download the .eml.")
        buttons[1].download_button(
            "Download PDF letter",
            _session.audited_export(
                lambda: reminders.pdf_letter(edited),
                f"reminder letter {proposal.customer_id}-step{proposal.step}.pdf",
            ),
            file_name=f"{proposal.customer_id}-step{proposal.step}.pdf",
            mime="application/pdf",
            key=f"reminder_pdf_{key}",
            icon=":material/picture_as_pdf:",
        )
        send = buttons[2].button(
            "Send by e-mail and confirm",
            key=f"reminder_send_{key}",
            disabled=server is None or not edited.recipient or row["done"],
            type="primary",
            help=None if server else "No SMTP server configured: see the Settings page",
        )
        remember = st.checkbox(
            "Remember this address for the customer's next reminders",
            value=True,
            key=f"reminder_remember_{key}",
            help="Saved when you confirm, send or skip, if it differs from the one on record",
        )
        columns = st.columns(3)
        default_channel = {"email": "eml", "letter": "pdf", "registered_letter": "pdf"}.get(
            proposal.action_type, "manual"
        )
        channel = columns[0].selectbox(
            "How it went out",
            list(CHANNEL_LABELS),
            index=list(CHANNEL_LABELS).index(default_channel),
            format_func=CHANNEL_LABELS.get,
            key=f"reminder_channel_{key}",
        )
        outcome = columns[1].selectbox(
            "Outcome",
            collections.ACTION_OUTCOMES,
            index=collections.ACTION_OUTCOMES.index("reached" if proposal.action_type == "call" else "other"),
            format_func=_format.label,
            key=f"reminder_outcome_{key}",
        )
        comment = columns[2].text_input("Comment", key=f"reminder_comment_{key}")
        actions = st.columns([1, 2, 1])
        confirmed = actions[0].button("Confirm", key=f"reminder_confirm_{key}", disabled=row["done"])
        reason = actions[1].text_input(
            "Why skip it",
            key=f"reminder_reason_{key}",
            label_visibility="collapsed",
            placeholder="Why skip it",
        )
        skipped = actions[2].button("Skip", key=f"reminder_skip_{key}", disabled=row["done"])
        if send or confirmed or skipped:
            _session.require(access.WRITE)
            try:
                if remember and edited.recipient and edited.recipient != message.recipient:
                    saved = scenarios.contact(db, proposal.customer_id)
                    scenarios.save_contact(
                        db,
                        proposal.customer_id,
                        user=me,
                        email=edited.recipient,
                        contact_name=saved["contact_name"],
                        postal_address=saved["postal_address"],
                    )
                if skipped:
                    scenarios.skip(
                        db, ctx.store, proposal, as_of=ctx.as_of, scope=ctx.scope, user=me, reason=reason
                    )
                    done = f"Skipped: {proposal.customer_name}, {proposal.step_label}."
                else:
                    if send:
                        reminders.send(
                            scenarios.reminder_email(
                                db,
                                ctx.store,
                                proposal,
                                edited,
                                ctx.as_of,
                                scope=ctx.scope,
                                items=items,
                                sender=server.sender,
                                attach_statement=attaching,
                            ),
                            server,
                        )
                    scenarios.confirm(
                        db,
                        ctx.store,
                        proposal,
                        as_of=ctx.as_of,
                        scope=ctx.scope,
                        user=me,
                        outcome=outcome,
                        comment=comment,
                        message=edited,
                        channel="smtp" if send else channel,
                    )
                    done = (
                        f"Sent to {edited.recipient} and confirmed: {proposal.customer_name}, {proposal.step_label}."
                        if send
                        else f"Confirmed: {proposal.customer_name}, {proposal.step_label}."
                    )
            except (scenarios.ScenarioRefused, collections.CollectionsRefused) as error:
                refused(error)
            except reminders.ReminderError as error:
                st.error(f"Not sent, nothing was written: {_format.markdown_text(error)}")
            else:
                st.session_state.pop(SELECTED, None)
                notice(done)

    with st.expander(f"Where every customer stands ({found.height})"):
        _format.dataframe(
            _format.for_display(
                found.with_columns(pl.col("status").replace_strict(scenarios.STATUS_LABELS)).select(
                    "customer_name",
                    "customer_id",
                    "scenario",
                    "status",
                    "step_label",
                    "due_date",
                    "open_amount",
                    "reason",
                )
            ).head(2000),
            hide_index=True,
            width="stretch",
            key="scenario_positions",
            column_config={
                "customer_name": st.column_config.TextColumn("Customer"),
                "customer_id": st.column_config.TextColumn("Id"),
                "scenario": st.column_config.TextColumn("Scenario"),
                "status": st.column_config.TextColumn("Status"),
                "step_label": st.column_config.TextColumn("Step"),
                "due_date": st.column_config.DateColumn("Date"),
                "open_amount": _format.money_column(f"Open ({ctx.currency})"),
                "reason": st.column_config.TextColumn("Why"),
            },
        )


if today.open:
    with today:
        steps_of_today()


# --- the scenarios and their steps -----------------------------------------------------------------
@st.fragment(key="scenario_editor")
def scenario_editor() -> None:
    """The scenarios and the one being edited: choosing or editing a scenario reruns this tab alone."""
    _runs.record("scenario_editor")
    assigned = scenarios.assignments(db, ctx.store, ctx.scope)
    per_scenario = assigned.group_by("scenario_id").agg(pl.len().alias("customers"))
    overview = pl.DataFrame(
        [
            {
                "scenario_id": s.scenario_id,
                "name": s.name,
                "steps": " · ".join(step.label for step in s.steps),
                "friendly_phase_end_days": s.friendly_phase_end_days,
                "version": s.version,
                "changed_by": s.user_name,
            }
            for s in catalog
        ],
        schema={
            "scenario_id": pl.String(),
            "name": pl.String(),
            "steps": pl.String(),
            "friendly_phase_end_days": pl.Int64(),
            "version": pl.Int64(),
            "changed_by": pl.String(),
        },
    ).join(per_scenario, on="scenario_id", how="left")
    _format.dataframe(
        overview.drop("scenario_id").with_columns(pl.col("customers").fill_null(0)),
        hide_index=True,
        width="stretch",
        key="scenario_overview",
        column_config={
            "name": st.column_config.TextColumn("Scenario"),
            "steps": st.column_config.TextColumn("Steps (days from the due date)"),
            "friendly_phase_end_days": st.column_config.NumberColumn(
                "Friendly phase ends (days)", format="%d"
            ),
            "version": st.column_config.NumberColumn("Version", format="%d"),
            "changed_by": st.column_config.TextColumn("Last changed by"),
            "customers": st.column_config.NumberColumn("Customers in scope", format="%d"),
        },
    )
    if "scenario_edit_next" in st.session_state:
        st.session_state["scenario_edit_choice"] = st.session_state.pop("scenario_edit_next")
    options = [*names, NEW]
    choice = st.selectbox(
        "Scenario to edit",
        options,
        format_func=lambda value: names.get(value, value),
        key="scenario_edit_choice",
    )
    if choice == NEW:
        edited_scenario = scenarios.Scenario(None, "", ())
    else:
        edited_scenario = next(s for s in catalog if s.scenario_id == choice)
    form_key = f"{edited_scenario.scenario_id or 'new'}_{edited_scenario.version}"
    columns = st.columns([2, 1])
    name = columns[0].text_input("Name", value=edited_scenario.name, key=f"scenario_name_{form_key}")
    friendly = columns[1].number_input(
        "Friendly phase ends (days after the due date)",
        min_value=1,
        max_value=scenarios.MAX_FRIENDLY_PHASE_DAYS,
        value=edited_scenario.friendly_phase_end_days,
        step=5,
        key=f"scenario_friendly_{form_key}",
    )
    description = st.text_input(
        "Description", value=edited_scenario.description, key=f"scenario_description_{form_key}"
    )
    # The editor shows the actions' labels; they are read back as codes.
    action_labels = {code: _format.label(code) for code in scenarios.ACTION_TYPES}
    action_codes = {text: code for code, text in action_labels.items()}
    template_labels = {name: _format.label(name) for name in reminders.template_names()}
    template_codes = {text: name for name, text in template_labels.items()}
    steps = st.data_editor(
        scenarios.steps_frame(edited_scenario.steps).with_columns(
            pl.col("action_type").replace_strict(action_labels, default=pl.col("action_type")),
            pl.col("template").replace_strict(template_labels, default=pl.col("template")),
        ),
        num_rows="dynamic",
        width="stretch",
        key=f"scenario_steps_{form_key}",
        column_config={
            "offset_days": st.column_config.NumberColumn(
                "Days from due date",
                min_value=scenarios.EARLIEST_OFFSET,
                max_value=scenarios.LATEST_OFFSET,
                step=1,
                required=True,
                help="Negative: before the due date of the customer's oldest unsettled item",
            ),
            "action_type": st.column_config.SelectboxColumn(
                "Action", options=list(action_labels.values()), required=True
            ),
            "template": st.column_config.SelectboxColumn(
                "Template", options=list(template_labels.values()), help="Empty: the action's usual template"
            ),
            "min_amount": st.column_config.NumberColumn(
                f"Minimum amount ({ctx.currency})", min_value=0.0, format="%.2f"
            ),
            "automatic": st.column_config.CheckboxColumn(
                "Automatic", help="Sent by the daily run without confirmation (e-mails and letters only)"
            ),
            "min_interval_days": st.column_config.NumberColumn(
                "Days since the previous reminder", min_value=0, step=1
            ),
            "attach_statement": st.column_config.CheckboxColumn(
                "Statement attached", help="E-mails only: the customer's statement of account (PDF) attached"
            ),
        },
    )
    st.caption(
        "Steps run in the order of their days. The friendly phase lasts at most "
        f"{scenarios.MAX_FRIENDLY_PHASE_DAYS} days; only an internal escalation or a litigation handover "
        "comes after it."
    )
    buttons = st.columns([1, 2, 1, 1])
    if buttons[0].button("Save", type="primary", key="scenario_save"):
        _session.require(access.CONFIGURE)
        try:
            saved = scenarios.save_scenario(
                db,
                scenarios.Scenario(
                    edited_scenario.scenario_id,
                    name,
                    scenarios.steps_from_frame(
                        steps.with_columns(
                            pl.col("action_type").replace_strict(action_codes, default=pl.col("action_type")),
                            pl.col("template").replace_strict(template_codes, default=pl.col("template")),
                        )
                    ),
                    friendly_phase_end_days=int(friendly),
                    description=description,
                ),
                user=me,
                base_version=edited_scenario.version or None,
            )
        except scenarios.ScenarioRefused as error:
            refused(error)
        else:
            st.session_state["scenario_edit_next"] = saved.scenario_id
            notice(f"Saved: {saved.name}, version {saved.version}, {len(saved.steps)} steps.")
    if edited_scenario.scenario_id is not None:
        copy_name = buttons[1].text_input(
            "Name of the copy",
            key=f"scenario_copy_name_{form_key}",
            label_visibility="collapsed",
            placeholder="Name of the copy",
        )
        if buttons[2].button("Copy", key="scenario_copy"):
            _session.require(access.CONFIGURE)
            try:
                copied = scenarios.copy_scenario(db, edited_scenario.scenario_id, copy_name, user=me)
            except scenarios.ScenarioRefused as error:
                refused(error)
            else:
                st.session_state["scenario_edit_next"] = copied.scenario_id
                notice(f"Copied {edited_scenario.name} as {copied.name}.")
        if buttons[3].button("Archive", key="scenario_archive"):
            _session.require(access.CONFIGURE)
            try:
                scenarios.archive_scenario(db, edited_scenario.scenario_id, user=me)
            except scenarios.ScenarioRefused as error:
                refused(error)
            else:
                st.session_state["scenario_edit_next"] = NEW
                notice(f"Archived: {edited_scenario.name} (its customers follow the rules again).")
        with st.expander("Versions"):
            _format.dataframe(
                scenarios.scenario_versions(db, edited_scenario.scenario_id),
                hide_index=True,
                width="stretch",
                key="scenario_versions",
            )


if editor.open:
    with editor:
        scenario_editor()


# --- assignment ------------------------------------------------------------------------------------
if assignment.open:
    with assignment:
        labels = customer_labels()
        assigned = scenarios.assignments(db, ctx.store, ctx.scope)
        current_rules = scenarios.rules(db)
        st.markdown(
            "A customer gets its **explicit** scenario, else the scenario of the **first rule** (in this order) "
            "that matches it, else the **default** scenario."
        )
        rule_frame = pl.DataFrame(
            [
                {
                    "priority": position,
                    "dimension": contract.DIMENSION_LABELS.get(r.dimension, r.dimension),
                    "value": r.value,
                    "scenario": names.get(r.scenario_id, r.scenario_id),
                }
                for position, r in enumerate(current_rules.rules, start=1)
            ],
            schema={
                "priority": pl.Int64(),
                "dimension": pl.String(),
                "value": pl.String(),
                "scenario": pl.String(),
            },
        )
        edited_rules = st.data_editor(
            rule_frame,
            num_rows="dynamic",
            width="stretch",
            key=f"scenario_rules_{current_rules.version}",
            column_config={
                "priority": st.column_config.NumberColumn(
                    "Priority",
                    min_value=1,
                    step=1,
                    help="Rules apply in this order (ties: in the order listed)",
                ),
                "dimension": st.column_config.SelectboxColumn(
                    "Customer dimension",
                    options=[contract.DIMENSION_LABELS[name] for name in contract.DIMENSIONS],
                    required=True,
                ),
                "value": st.column_config.TextColumn("Value", required=True),
                "scenario": st.column_config.SelectboxColumn(
                    "Scenario", options=list(names.values()), required=True
                ),
            },
        )
        ids_by_name = {v: k for k, v in names.items()}
        dimension_codes = {contract.DIMENSION_LABELS[name]: name for name in contract.DIMENSIONS}
        default_options = [*names, NONE]
        default = st.selectbox(
            "Default scenario",
            default_options,
            index=default_options.index(current_rules.default_scenario_id)
            if current_rules.default_scenario_id in names
            else len(default_options) - 1,
            format_func=lambda value: names.get(value, value),
            key=f"scenario_default_{current_rules.version}",
        )
        if st.button("Save the rules", key="scenario_rules_save"):
            _session.require(access.CONFIGURE)
            try:
                saved_rules = scenarios.save_rules(
                    db,
                    scenarios.Rules(
                        tuple(
                            scenarios.Rule(
                                dimension_codes.get(row["dimension"] or "", row["dimension"] or ""),
                                row["value"] or "",
                                ids_by_name.get(row["scenario"] or "", ""),
                            )
                            for row in edited_rules.with_row_index("row")
                            .sort(pl.col("priority").fill_null(len(edited_rules) + 1), "row")
                            .iter_rows(named=True)
                            if row["dimension"] or row["value"] or row["scenario"]
                        ),
                        None if default == NONE else default,
                    ),
                    user=me,
                    base_version=current_rules.version,
                )
            except scenarios.ScenarioRefused as error:
                refused(error)
            else:
                notice(f"Saved: {len(saved_rules.rules)} rules (version {saved_rules.version}).")

        st.markdown("**Explicit assignment**")
        columns = st.columns([2, 2, 1])
        customer_id = columns[0].selectbox(
            "Customer", list(labels), format_func=labels.get, key="scenario_assign_customer", index=None
        )
        target = columns[1].selectbox(
            "Scenario",
            [BY_RULES, *names],
            format_func=lambda value: names.get(value, value),
            key="scenario_assign_to",
        )
        columns[2].write("")
        if columns[2].button("Assign", key="scenario_assign", disabled=customer_id is None):
            _session.require(access.CONFIGURE)
            try:
                scenarios.assign(db, ctx.store, customer_id, None if target == BY_RULES else target, user=me)
            except scenarios.ScenarioRefused as error:
                refused(error)
            else:
                notice(f"{labels[customer_id]} now follows {names.get(target, 'the rules')}.")
        _format.dataframe(
            assigned.select(
                "customer_name", "customer_id", "scenario", "assignment", "assignment_reason"
            ).head(5000),
            hide_index=True,
            width="stretch",
            key="scenario_assignments",
            column_config={
                "customer_name": st.column_config.TextColumn("Customer"),
                "customer_id": st.column_config.TextColumn("Id"),
                "scenario": st.column_config.TextColumn("Scenario"),
                "assignment": st.column_config.TextColumn("By"),
                "assignment_reason": st.column_config.TextColumn("Why"),
            },
        )


# --- alerts ----------------------------------------------------------------------------------------
if alerting.open:
    with alerting:
        since = scenarios.previous_run(db, ctx.as_of, ctx.scope)
        raised = _cache.scenario_alerts(ctx)
        st.caption(
            f"Since the previous scheduled run ({since})"
            if since
            else "No scheduled run yet: items due and promises broken in the last "
            f"{scenarios.settings(db).first_run_lookback_days} days."
        )
        if raised.is_empty():
            st.info("No alert.")
        else:
            _format.dataframe(
                _format.for_display(
                    raised.with_columns(pl.col("alert").replace_strict(scenarios.ALERT_LABELS))
                ),
                hide_index=True,
                width="stretch",
                key="scenario_alerts",
                column_config={
                    "alert": st.column_config.TextColumn("Alert"),
                    "customer_name": st.column_config.TextColumn("Customer"),
                    "customer_id": st.column_config.TextColumn("Id"),
                    "collector": st.column_config.TextColumn("Collector"),
                    "document_id": st.column_config.TextColumn("Document"),
                    "amount": _format.money_column(f"Amount ({ctx.currency})"),
                    "date": st.column_config.DateColumn("Date"),
                    "detail": st.column_config.TextColumn("Detail"),
                },
            )


# --- settings ------------------------------------------------------------------------------------
if setting.open:
    with setting:
        labels = customer_labels()
        current = scenarios.settings(db)
        with st.form(f"scenario_settings_{current.version}"):
            st.markdown("**Late-payment penalties in reminders**")
            columns = st.columns(3)
            penalties = columns[0].toggle("Show penalties", value=current.penalties_enabled)
            rate = columns[1].number_input(
                "Interest (% a year)", min_value=0.0, value=float(current.annual_interest_rate), step=0.25
            )
            fee = columns[2].number_input(
                f"Fixed fee per overdue invoice ({ctx.currency})",
                min_value=0.0,
                value=float(current.fixed_fee),
            )
            st.markdown("**Alerts**")
            columns = st.columns(4)
            large = columns[0].number_input(
                f"Large overdue amount ({ctx.currency})",
                min_value=1.0,
                value=float(current.large_overdue_amount),
            )
            quiet_days = columns[1].number_input(
                "With no action for (days)", min_value=1, value=current.no_action_days, step=1
            )
            lookback = columns[2].number_input(
                "First run looks back (days)", min_value=1, value=current.first_run_lookback_days, step=1
            )
            credit = columns[3].toggle("Over credit limit", value=current.credit_limit_alerts)
            st.markdown("**Sender of reminders**")
            columns = st.columns(2)
            sender_name = columns[0].text_input("Name", value=current.sender_name)
            sender_email = columns[1].text_input("Reply-to e-mail", value=current.sender_email)
            sender_address = columns[0].text_area("Postal address", value=current.sender_address, height=80)
            payment = columns[1].text_area(
                "Payment details (e.g. IBAN)", value=current.payment_details, height=80
            )
            if st.form_submit_button("Save the settings"):
                _session.require(access.CONFIGURE)
                try:
                    scenarios.save_settings(
                        db,
                        scenarios.Settings(
                            penalties_enabled=penalties,
                            annual_interest_rate=Decimal(str(rate)).quantize(CENT),
                            fixed_fee=Decimal(str(fee)).quantize(CENT),
                            large_overdue_amount=Decimal(str(large)).quantize(CENT),
                            no_action_days=int(quiet_days),
                            first_run_lookback_days=int(lookback),
                            credit_limit_alerts=credit,
                            sender_name=sender_name,
                            sender_address=sender_address,
                            sender_email=sender_email,
                            payment_details=payment,
                        ),
                        user=me,
                    )
                except scenarios.ScenarioRefused as error:
                    refused(error)
                else:
                    notice("Settings saved.")
        st.markdown("**Where a customer's reminders go**")
        who = st.selectbox(
            "Customer", list(labels), format_func=labels.get, index=None, key="contact_customer"
        )
        if who is not None:
            saved_contact = scenarios.contact(db, who)
            columns = st.columns(3)
            contact_name = columns[0].text_input(
                "Contact person", value=saved_contact["contact_name"] or "", key=f"contact_name_{who}"
            )
            contact_email = columns[1].text_input(
                "E-mail", value=saved_contact["email"] or "", key=f"contact_email_{who}"
            )
            contact_address = columns[2].text_area(
                "Postal address",
                value=saved_contact["postal_address"] or "",
                height=80,
                key=f"contact_address_{who}",
            )
            if st.button("Save the contact", key="contact_save"):
                _session.require(access.WRITE)
                try:
                    scenarios.save_contact(
                        db,
                        who,
                        user=me,
                        email=contact_email,
                        contact_name=contact_name,
                        postal_address=contact_address,
                    )
                except scenarios.ScenarioRefused as error:
                    refused(error)
                else:
                    notice(f"Contact saved for {labels[who]}.")
        server = smtp()
        if server:
            st.success(f"E-mails go out through {_format.markdown_text(server.describe())}.")
        else:
            st.info(
                "No SMTP server configured: reminders can be downloaded (.eml, PDF) but not sent from here. "
                "Set the mail server on the Settings page ([mail] in DIR/settings.toml; the password in "
                "the environment variable AR_SMTP_PASSWORD)."
            )
        st.caption(
            "The daily run: `python -m analytics daily --data DIR` imports the inbox, sends the automatic "
            "steps and the scheduled reports; `python -m analytics scenarios run --data DIR --as-of DATE` "
            "prints the proposals and the alerts."
        )
