-- One row per customer of $customer_ids with an action on or before $as_of: its latest action, as
-- collections_customer_actions.sql gives it for every customer (a few customers after a save).
select
    customer_id,
    action_date as last_action_date,
    action_type as last_action_type,
    outcome as last_outcome,
    user_name as last_user_name,
    document_ids as last_document_ids,
    next_action_date,
from actions
where action_date <= $as_of
    and list_contains($customer_ids::varchar[], customer_id)
qualify row_number() over (partition by customer_id order by action_date desc, action_id desc) = 1
order by customer_id
