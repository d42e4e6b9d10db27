-- One row per decision on a scenario step, oldest first; filters narrow it when given (an empty
-- list or a null date does not).
select *
from scenario_step_log
where (len($customer_ids::varchar[]) = 0 or list_contains($customer_ids::varchar[], customer_id))
    and ($until::date is null or log_date <= $until::date)
order by log_date, recorded_at
