-- The current (latest) rule set: one row per rule in priority order, with the set's version and
-- default scenario on every row; one row with null rule fields when the set has no rule.
with current_set as (
    select
        version,
        default_scenario_id,
        user_name,
        recorded_at,
    from scenario_rule_sets
    order by version desc
    limit 1
)

select
    current_set.version,
    current_set.default_scenario_id,
    current_set.user_name,
    current_set.recorded_at,
    rules.priority,
    rules.dimension,
    rules.value,
    rules.scenario_id,
from current_set
left join scenario_rules as rules using (version)
order by rules.priority
