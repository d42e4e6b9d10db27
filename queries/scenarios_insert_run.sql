-- Record a run of the scenario engine for a scope.
insert into scenario_runs (scope_key, run_date, proposals, sent, alerts, user_name, recorded_at)
values ($scope_key, $run_date, $proposals, $sent, $alerts, $user_name, $recorded_at)
