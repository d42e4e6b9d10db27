-- The actions after an action id (0: all of them), oldest first.
select *
from actions
where action_id > $after
order by action_date, action_id
