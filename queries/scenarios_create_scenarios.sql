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
)
