-- One row per document with an event on or before $as_of: its latest event (which sets the item's
-- state), and the details of its latest promise to pay and of its latest dispute. A non-empty
-- $document_ids narrows it to those documents (each document's row depends on its events alone).
with events as (
    select *
    from item_events
    where event_date <= $as_of
        and (len($document_ids::varchar[]) = 0 or list_contains($document_ids::varchar[], document_id))
),

latest_event as (
    select
        document_id,
        customer_id,
        event_type as last_event_type,
        event_date as state_since,
    from events
    qualify row_number() over (partition by document_id order by event_date desc, event_id desc) = 1
),

latest_promise as (
    select
        document_id,
        event_id as promise_event_id,
        event_date as promise_recorded_on,
        promised_date,
        promised_amount,
    from events
    where event_type = 'promise_to_pay'
    qualify row_number() over (partition by document_id order by event_date desc, event_id desc) = 1
),

latest_dispute as (
    select
        document_id,
        event_date as dispute_opened_on,
        dispute_reason,
        disputed_amount,
        internal_owner,
        expected_resolution,
    from events
    where event_type = 'disputed'
    qualify row_number() over (partition by document_id order by event_date desc, event_id desc) = 1
)

select
    latest_event.document_id,
    latest_event.customer_id,
    latest_event.last_event_type,
    latest_event.state_since,
    latest_promise.promise_event_id,
    latest_promise.promise_recorded_on,
    latest_promise.promised_date,
    latest_promise.promised_amount,
    latest_dispute.dispute_opened_on,
    latest_dispute.dispute_reason,
    latest_dispute.disputed_amount,
    latest_dispute.internal_owner,
    latest_dispute.expected_resolution,
from latest_event
left join latest_promise using (document_id)
left join latest_dispute using (document_id)
order by latest_event.document_id
