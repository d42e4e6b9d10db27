-- One row per step of the current (latest) version of each scenario, in step order.
with current_versions as (
    select
        scenario_id,
        max(version) as version,
    from scenarios
    group by scenario_id
)

select
    steps.scenario_id,
    steps.version,
    steps.step,
    steps.offset_days,
    steps.action_type,
    steps.template,
    steps.min_amount,
    steps.automatic,
    steps.min_interval_days,
    coalesce(steps.attach_statement, false) as attach_statement,
from scenario_steps as steps
inner join current_versions using (scenario_id, version)
order by steps.scenario_id, steps.step
