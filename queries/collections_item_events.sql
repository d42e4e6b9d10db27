-- One row per item event, oldest first; each filter list or date narrows the events when given
-- (an empty list or a null date does not).
select *
from item_events
where (len($document_ids::varchar[]) = 0 or list_contains($document_ids::varchar[], document_id))
    and (len($customer_ids::varchar[]) = 0 or list_contains($customer_ids::varchar[], customer_id))
    and ($since::date is null or event_date >= $since::date)
    and ($until::date is null or event_date <= $until::date)
order by event_date, event_id
