-- One row per invoice settled after $after and on or before $until, from the payments known at $until:
-- settled on the date of its last payment when its payments add up to its amount, paid on the date of
-- its last cash payment (an invoice settled without cash, by credit note or write-off, is left out).
with settlements as (
    select
        document_id,
        sum(amount) as settled_amount,
        max(payment_date) as settled_on,
        max(payment_date) filter (where method = 'cash') as paid_on,
    from payments
    where document_id is not null
        and payment_date <= $until
    group by document_id
)

select
    documents.document_id,
    documents.customer_id,
    documents.document_date,
    documents.due_date,
    documents.amount_functional,
    settlements.settled_on,
    settlements.paid_on,
    settlements.paid_on - documents.document_date as days_to_pay,
    settlements.paid_on - documents.due_date as days_late,
from documents
inner join settlements using (document_id)
where documents.document_type = 'invoice'
    and documents.amount_functional > 0
    and settlements.settled_amount = documents.amount_functional
    and settlements.paid_on is not null
    and settlements.settled_on > $after
