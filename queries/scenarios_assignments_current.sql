-- One row per customer explicitly assigned a scenario: its latest assignment (a later row with a
-- null scenario gave the customer back to the rules, so it is not listed).
with latest as (
    select
        customer_id,
        scenario_id,
        user_name,
        recorded_at,
    from scenario_assignments
    qualify row_number() over (partition by customer_id order by recorded_at desc) = 1
)

select
    customer_id,
    scenario_id,
    user_name,
    recorded_at,
from latest
where scenario_id is not null
order by customer_id
