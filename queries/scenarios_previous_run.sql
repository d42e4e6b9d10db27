-- One row: the date of the latest run of the scope $scope_key before $as_of (null when none).
select max(run_date) as previous_run,
from scenario_runs
where scope_key = $scope_key
    and run_date < $as_of
