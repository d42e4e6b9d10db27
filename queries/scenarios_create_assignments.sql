-- Explicit assignments of a scenario to a customer, append-only: the latest row of a customer holds;
-- a null scenario_id gives the customer back to the rules.
create table if not exists scenario_assignments (
    customer_id varchar not null,
    scenario_id varchar,
    user_name varchar not null,
    recorded_at timestamp not null,
)
