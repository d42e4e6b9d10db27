-- One row per item event or action concerning the documents $document_ids or the customers
-- $customer_ids, newest first: the story of an item (side panel) or of a customer (timeline).
with events as (
    select
        'qualification' as kind,
        event_id as id,
        event_date as date,
        recorded_at,
        customer_id,
        [document_id] as document_ids,
        event_type as type,
        outcome,
        promised_date,
        promised_amount,
        dispute_reason,
        disputed_amount,
        internal_owner,
        expected_resolution,
        null::varchar as contact_person,
        null::date as next_action_date,
        comment,
        user_name,
        original_author,
    from item_events
    where list_contains($document_ids::varchar[], document_id)
        or list_contains($customer_ids::varchar[], customer_id)
),

customer_actions as (
    select
        'action' as kind,
        action_id as id,
        action_date as date,
        recorded_at,
        customer_id,
        document_ids,
        action_type as type,
        outcome,
        null::date as promised_date,
        null::decimal(18, 2) as promised_amount,
        null::varchar as dispute_reason,
        null::decimal(18, 2) as disputed_amount,
        null::varchar as internal_owner,
        null::date as expected_resolution,
        contact_person,
        next_action_date,
        comment,
        user_name,
        original_author,
    from actions
    where list_has_any(document_ids, $document_ids::varchar[])
        or list_contains($customer_ids::varchar[], customer_id)
)

select * from events
union all by name
select * from customer_actions
order by date desc, recorded_at desc, kind desc, id desc
