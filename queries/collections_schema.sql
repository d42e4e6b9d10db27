-- The schema of the collections database (embedded DuckDB file), applied by one migration on opening
-- (analytics.collections_db.migrate): every table created when missing, then the columns an older
-- file lacks added. PostgreSQL's is collections_schema.pg.sql: the same tables.

-- The versions of the collections database's schema applied to this file, one row each.
create table if not exists schema_version (
    version integer not null,
    applied_at timestamp not null,
);

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
);

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
);

-- The files of events imported into the collections database, one row per import.
create table if not exists imports (
    file_name varchar not null,
    checksum varchar not null,
    item_events integer not null,
    actions integer not null,
    user_name varchar not null,
    recorded_at timestamp not null,
);

-- Coaching notes of a team lead on a collector, append-only: one row per note, with its objectives
-- for the next period (a metric, a comparison, a target and a due date each; analytics.coaching
-- measures them).
create table if not exists coaching_notes (
    note_id bigint primary key,
    collector varchar not null,
    note_date date not null,
    period varchar,
    comment varchar,
    objectives struct(
        metric varchar,
        comparison varchar,
        target decimal(18, 2),
        due_date date,
        text varchar
    )[] not null,
    user_name varchar not null,
    recorded_at timestamp not null,
    source varchar not null,
);

-- Recovery scenarios, append-only: one row per version of a scenario (an edit writes a new version;
-- the current one is the latest). An archived version retires the scenario.
create table if not exists scenarios (
    scenario_id varchar not null,
    version integer not null,
    name varchar not null,
    description varchar,
    friendly_phase_end_days integer not null,
    archived boolean not null,
    user_name varchar not null,
    recorded_at timestamp not null,
    primary key (scenario_id, version),
);

-- The steps of each version of a scenario, in order: offset in days from the due date of the
-- customer's oldest unsettled non-disputed item (negative: before it).
create table if not exists scenario_steps (
    scenario_id varchar not null,
    version integer not null,
    step integer not null,
    offset_days integer not null,
    action_type varchar not null,
    template varchar not null,
    min_amount decimal(18, 2) not null,
    automatic boolean not null,
    min_interval_days integer not null,
    primary key (scenario_id, version, step),
);

-- The assignment rules, append-only: one row per version of the whole rule set (the current one is
-- the latest), with the default scenario of customers that no rule matches.
create table if not exists scenario_rule_sets (
    version integer primary key,
    default_scenario_id varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
);

-- The rules of each version of the rule set, in priority order: customers whose dimension has the
-- value get the scenario.
create table if not exists scenario_rules (
    version integer not null,
    priority integer not null,
    dimension varchar not null,
    value varchar not null,
    scenario_id varchar not null,
    primary key (version, priority),
);

-- Explicit assignments of a scenario to a customer, append-only: the latest row of a customer holds;
-- a null scenario_id gives the customer back to the rules.
create table if not exists scenario_assignments (
    customer_id varchar not null,
    scenario_id varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
);

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
);

-- The runs of the scenario engine (the scheduled daily run), one row each: the alerts of a run are
-- what happened since the previous run of the same scope.
create table if not exists scenario_runs (
    scope_key varchar not null,
    run_date date not null,
    proposals integer not null,
    sent integer not null,
    alerts integer not null,
    user_name varchar not null,
    recorded_at timestamp not null,
);

-- The settings of scenarios and reminders (penalties, alert thresholds, the sender), append-only:
-- one row per version, as JSON; the current one is the latest.
create table if not exists scenario_settings (
    version integer primary key,
    settings varchar not null,
    user_name varchar not null,
    recorded_at timestamp not null,
);

-- Where reminders go, append-only: the latest row of a customer holds its contact.
create table if not exists customer_contacts (
    customer_id varchar not null,
    contact_name varchar,
    email varchar,
    postal_address varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
);

-- Schema 4: the original author of an imported qualification (a file of schema 3 has no such column).
alter table item_events add column if not exists original_author varchar;

-- Schema 4: the original author of an imported action (a file of schema 3 has no such column).
alter table actions add column if not exists original_author varchar;

-- Whether a step's e-mail carries the customer's statement of account (a file without the column:
-- no step attaches it).
alter table scenario_steps add column if not exists attach_statement boolean default false;
