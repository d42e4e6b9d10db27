-- One row per version of the scenario $scenario_id, newest first, with its steps in one line.
-- PostgreSQL's words for scenarios_versions.sql (no printf).
with described as (
    select
        scenario_id,
        version,
        count(*) as steps,
        string_agg(
            case when offset_days >= 0 then '+' else '' end || offset_days || ' d ' || action_type,
            ', ' order by step
        ) as step_list,
    from scenario_steps
    where scenario_id = $scenario_id
    group by scenario_id, version
)

select
    scenarios.version,
    scenarios.name,
    scenarios.friendly_phase_end_days,
    scenarios.archived,
    coalesce(described.steps, 0) as steps,
    described.step_list,
    scenarios.user_name,
    scenarios.recorded_at,
from scenarios
left join described using (scenario_id, version)
where scenarios.scenario_id = $scenario_id
order by scenarios.version desc
