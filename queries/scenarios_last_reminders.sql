-- One row per customer reminded before $as_of: the date of its latest action of the types that
-- count as a reminder ($action_types), for the minimum interval between two reminders.
select
    customer_id,
    max(action_date) as last_reminder_date,
from actions
where action_date < $as_of
    and list_contains($action_types::varchar[], action_type)
group by customer_id
order by customer_id
