-- What the collector decided on each proposed scenario step, append-only: confirmed (done, with the
-- action logged: action_id) or skipped (with the note logged); what was sent and how.
create table if not exists scenario_step_log (
    log_id varchar primary key,
    customer_id varchar not null,
    scenario_id varchar not null,
    scenario_version integer not null,
    step integer not null,
    offset_days integer not null,
    action_type varchar not null,
    decision varchar not null,
    channel varchar not null,
    action_id bigint,
    document_ids varchar[] not null,
    log_date date not null,
    recipient varchar,
    subject varchar,
    content varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
)
