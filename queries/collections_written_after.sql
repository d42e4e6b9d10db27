-- What the writes after a known point changed: one row per document named by an item event with an
-- id above $event_id or an action with an id above $action_id, and per customer of such an action
-- (document_id null for an action's customer row).
with new_events as (
    select
        document_id,
        customer_id,
    from item_events
    where event_id > $event_id
),

new_actions as (
    select
        customer_id,
        document_ids,
    from actions
    where action_id > $action_id
)

select distinct
    document_id,
    null::varchar as customer_id,
from new_events
union
select distinct
    unnest(document_ids) as document_id,
    null::varchar as customer_id,
from new_actions
union
select distinct
    null::varchar as document_id,
    customer_id,
from new_actions
