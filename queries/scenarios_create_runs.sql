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
)
