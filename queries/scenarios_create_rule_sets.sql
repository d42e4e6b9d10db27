-- The assignment rules, append-only: one row per version of the whole rule set (the current one is
-- the latest), with the default scenario of customers that no rule matches.
create table if not exists scenario_rule_sets (
    version integer primary key,
    default_scenario_id varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
)
