-- The item events after an event id (0: all of them), oldest first.
select *
from item_events
where event_id > $after
order by event_date, event_id
