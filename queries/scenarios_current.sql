-- One row per scenario: its current (latest) version, archived ones included.
select
    scenario_id,
    version,
    name,
    description,
    friendly_phase_end_days,
    archived,
    user_name,
    recorded_at,
from scenarios
qualify row_number() over (partition by scenario_id order by version desc) = 1
order by lower(name), scenario_id
