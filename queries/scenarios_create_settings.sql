-- The settings of scenarios and reminders (penalties, alert thresholds, the sender), append-only:
-- one row per version, as JSON; the current one is the latest.
create table if not exists scenario_settings (
    version integer primary key,
    settings varchar not null,
    user_name varchar not null,
    recorded_at timestamp not null,
)
