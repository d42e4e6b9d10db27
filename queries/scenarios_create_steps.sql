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
)
