-- One row per scenario: its current (latest) version, archived ones included. PostgreSQL's words for
-- scenarios_current.sql (no qualify).
with latest as (
    select distinct on (scenario_id)
        scenario_id,
        version,
        name,
        description,
        friendly_phase_end_days,
        archived,
        user_name,
        recorded_at,
    from scenarios
    order by scenario_id, version desc
)

select *
from latest
order by lower(name), scenario_id
