-- One row per customer explicitly assigned a scenario: its latest assignment (a later row with a
-- null scenario gave the customer back to the rules, so it is not listed). PostgreSQL's words for
-- scenarios_assignments_current.sql (no qualify).
with latest as (
    select distinct on (customer_id)
        customer_id,
        scenario_id,
        user_name,
        recorded_at,
    from scenario_assignments
    order by customer_id, recorded_at desc
)

select
    customer_id,
    scenario_id,
    user_name,
    recorded_at,
from latest
where scenario_id is not null
order by customer_id
