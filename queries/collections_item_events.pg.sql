-- One row per item event, oldest first; each filter list or date narrows the events when given
-- (an empty list or a null date does not). PostgreSQL's words for collections_item_events.sql.
select *
from item_events
where (cardinality($document_ids::varchar[]) = 0 or document_id = any($document_ids::varchar[]))
    and (cardinality($customer_ids::varchar[]) = 0 or customer_id = any($customer_ids::varchar[]))
    and ($since::date is null or event_date >= $since::date)
    and ($until::date is null or event_date <= $until::date)
order by event_date, event_id
