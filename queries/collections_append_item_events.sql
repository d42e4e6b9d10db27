-- Append the registered frame new_item_events (the columns of item_events, event_id numbered from 0)
-- to item_events, the ids following on from $first_id.
insert into item_events by name
select * replace (event_id + $first_id as event_id)
from new_item_events
