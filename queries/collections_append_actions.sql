-- Append the registered frame new_actions (the columns of actions, action_id numbered from 0) to
-- actions, the ids following on from $first_id.
insert into actions by name
select * replace (action_id + $first_id as action_id)
from new_actions
