-- One row per action, oldest first; each filter list or date narrows the actions when given
-- (an empty list or a null date does not); a document filter keeps the actions concerning any of them.
select *
from actions
where (len($customer_ids::varchar[]) = 0 or list_contains($customer_ids::varchar[], customer_id))
    and (len($document_ids::varchar[]) = 0 or list_has_any(document_ids, $document_ids::varchar[]))
    and ($since::date is null or action_date >= $since::date)
    and ($until::date is null or action_date <= $until::date)
order by action_date, action_id
