-- One row per item open at $as_of: documents whose balance period covers that date (open_balances),
-- and cash received on account (negative items).
with open_documents as (
    select
        document_id,
        customer_id,
        document_type,
        document_date,
        due_date,
        currency,
        open_amount,
        open_amount_functional,
    from open_balances
    where valid_from <= $as_of
        and (valid_to is null or valid_to > $as_of)
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
)

select * from open_documents
union all
select
    document_id,
    customer_id,
    document_type,
    document_date,
    due_date,
    currency,
    -- the document-currency share of what is open, as queries/balance_periods.sql has it
    case
        when amount_functional = 0 then amount
        else round(amount * open_amount_functional / amount_functional, 2)
    end::decimal(18, 2) as open_amount,
    open_amount_functional::decimal(18, 2) as open_amount_functional,
from unapplied_cash
where open_amount_functional <> 0
