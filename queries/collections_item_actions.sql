-- One row per document named by an action on or before $as_of: the date of its latest action and
-- the next action date that action set. A non-empty $document_ids narrows it to those documents.
with concerned as (
    select
        action_id,
        action_date,
        next_action_date,
        unnest(document_ids) as document_id,
    from actions
    where action_date <= $as_of
)

select
    document_id,
    action_date as last_action_date,
    next_action_date,
from concerned
where len($document_ids::varchar[]) = 0 or list_contains($document_ids::varchar[], document_id)
qualify row_number() over (partition by document_id order by action_date desc, action_id desc) = 1
order by document_id
