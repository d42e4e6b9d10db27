-- One row per decision on a scenario step, oldest first; filters narrow it when given (an empty
-- list or a null date does not). PostgreSQL's words for scenarios_step_log.sql.
select *
from scenario_step_log
where (cardinality($customer_ids::varchar[]) = 0 or customer_id = any($customer_ids::varchar[]))
    and ($until::date is null or log_date <= $until::date)
order by log_date, recorded_at
