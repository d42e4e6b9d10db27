-- Record one rule of a version of the rule set.
insert into scenario_rules (version, priority, dimension, value, scenario_id)
values ($version, $priority, $dimension, $value, $scenario_id)
