-- One row: the highest event and action ids given so far (0 when there is none).
select
    (select coalesce(max(event_id), 0) from item_events) as event_id,
    (select coalesce(max(action_id), 0) from actions) as action_id,
