-- Forget the decisions on scenario steps (with the history they belong to, when a new company's
-- history replaces the previous one).
delete from scenario_step_log
