-- One row per customer reminded before $as_of: the date of its latest action of the types that
-- count as a reminder ($action_types), for the minimum interval between two reminders.
-- PostgreSQL's words for scenarios_last_reminders.sql.
select
    customer_id,
    max(action_date) as last_reminder_date,
from actions
where action_date < $as_of::date
    and action_type = any($action_types::varchar[])
group by customer_id
order by customer_id
