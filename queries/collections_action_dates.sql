-- The customer and date of each action from $since to $until (what a count of actions per month
-- needs, without the rest of each row).
select customer_id, action_date
from actions
where action_date >= $since::date and action_date <= $until::date
order by action_date, action_id
