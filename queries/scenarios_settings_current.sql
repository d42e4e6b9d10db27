-- The current (latest) settings of scenarios and reminders, as JSON (no row before the first save).
select
    version,
    settings,
    user_name,
    recorded_at,
from scenario_settings
order by version desc
limit 1
