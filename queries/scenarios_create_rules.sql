-- The rules of each version of the rule set, in priority order: customers whose dimension has the
-- value get the scenario.
create table if not exists scenario_rules (
    version integer not null,
    priority integer not null,
    dimension varchar not null,
    value varchar not null,
    scenario_id varchar not null,
    primary key (version, priority),
)
