-- Qualification events on open items, append-only: one row per event per document.
create table if not exists item_events (
    event_id bigint primary key,
    submission_id varchar not null,
    document_id varchar not null,
    customer_id varchar not null,
    event_type varchar not null,
    event_date date not null,
    promised_date date,
    promised_amount decimal(18, 2),
    dispute_reason varchar,
    disputed_amount decimal(18, 2),
    internal_owner varchar,
    expected_resolution date,
    outcome varchar,
    comment varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
    source varchar not null,
    -- who recorded the row in the tool its history was imported from (null: user_name did)
    original_author varchar,
)
