-- Record a version of the settings of scenarios and reminders.
insert into scenario_settings (version, settings, user_name, recorded_at)
values ($version, $settings, $user_name, $recorded_at)
