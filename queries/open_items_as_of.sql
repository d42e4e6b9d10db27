-- One row per item open at $as_of, derived from documents and payments:
-- documents not fully settled by that date, and cash received on account (negative items).
with issued as (
    select *
    from documents
    where document_date <= $as_of
),

settled as (
    select
        document_id,
        sum(amount) as settled_amount,
    from payments
    where payment_date <= $as_of and document_id is not null
    group by document_id
),

open_documents as (
    select
        issued.document_id,
        issued.customer_id,
        issued.document_type,
        issued.document_date,
        issued.due_date,
        issued.currency,
        issued.amount,
        issued.amount_functional,
        issued.amount_functional - coalesce(settled.settled_amount, 0) as open_amount_functional,
    from issued
    left join settled using (document_id)
),

unapplied_cash as (
    select
        payment_id as document_id,
        any_value(customer_id) as customer_id,
        'unapplied_cash' as document_type,
        min(payment_date) as document_date,
        min(payment_date) as due_date,
        $functional_currency as currency,
        -sum(amount) as amount,
        -sum(amount) as amount_functional,
        -sum(amount) as open_amount_functional,
    from payments
    where document_id is null and payment_date <= $as_of
    group by payment_id
),

open_items as (
    select * from open_documents
    union all
    select * from unapplied_cash
)

select
    document_id,
    customer_id,
    document_type,
    document_date,
    due_date,
    currency,
    -- the document-currency share of what is still open, for display
    case
        when amount_functional = 0 then amount
        else round(amount * open_amount_functional / amount_functional, 2)
    end::decimal(18, 2) as open_amount,
    open_amount_functional::decimal(18, 2) as open_amount_functional,
from open_items
where open_amount_functional <> 0
