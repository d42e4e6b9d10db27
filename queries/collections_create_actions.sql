-- Collection actions on a customer, append-only: one row per action, with the documents it concerns.
create table if not exists actions (
    action_id bigint primary key,
    submission_id varchar not null,
    customer_id varchar not null,
    action_type varchar not null,
    outcome varchar not null,
    contact_person varchar,
    comment varchar,
    next_action_date date,
    document_ids varchar[] not null,
    action_date date not null,
    user_name varchar not null,
    recorded_at timestamp not null,
    source varchar not null,
    -- who recorded the row in the tool its history was imported from (null: user_name did)
    original_author varchar,
)
