-- Record a version of the assignment rule set (its rules follow in the same transaction).
insert into scenario_rule_sets (version, default_scenario_id, user_name, recorded_at)
values ($version, $default_scenario_id, $user_name, $recorded_at)
