-- The definition of the items open at each date of $dates (DESIGN.md, "Open amount"), worked out from
-- documents and payments alone: what the stored periods and snapshots are tested against.
-- One row per (snapshot date, item open at that date), for every date of $dates at once:
-- a document's balance changes only on its issue date and its payment dates, so the balance after
-- each change holds until the next change; each snapshot date picks the balance in force then.
with snapshot_dates as (
    select unnest($dates::date[]) as snapshot_date
),

movements as (
    select
        document_id,
        document_date as moved_on,
        amount_functional as change,
    from documents
    union all
    select
        document_id,
        payment_date as moved_on,
        -amount as change,
    from payments
    where document_id is not null
),

daily as (
    select
        document_id,
        moved_on,
        sum(change) as change,
    from movements
    group by document_id, moved_on
),

balances as (
    select
        document_id,
        moved_on as valid_from,
        lead(moved_on) over (partition by document_id order by moved_on) as valid_to,
        sum(change) over (
            partition by document_id order by moved_on rows between unbounded preceding and current row
        ) as open_amount_functional,
    from daily
),

open_documents as (
    select
        snapshot_dates.snapshot_date,
        documents.document_id,
        documents.customer_id,
        documents.document_type,
        documents.document_date,
        documents.due_date,
        documents.currency,
        case
            when documents.amount_functional = 0 then documents.amount
            else round(documents.amount * balances.open_amount_functional / documents.amount_functional, 2)
        end::decimal(18, 2) as open_amount,
        balances.open_amount_functional::decimal(18, 2) as open_amount_functional,
    from balances
    inner join snapshot_dates
        on snapshot_dates.snapshot_date >= balances.valid_from
        and (balances.valid_to is null or snapshot_dates.snapshot_date < balances.valid_to)
    inner join documents using (document_id)
    where balances.open_amount_functional <> 0
        and documents.document_date <= snapshot_dates.snapshot_date
),

cash_rows as (
    -- on account: a payment applied to no document, or to one dated after the payment (paid in
    -- advance) until that document's date; a payment for a document not in the ledger counts nowhere
    select
        payments.payment_id,
        payments.customer_id,
        payments.payment_date,
        payments.amount,
        case when payments.document_id is not null then documents.document_date end as until,
    from payments
    left join documents using (document_id)
    where payments.document_id is null or documents.document_date > payments.payment_date
),

first_dates as (
    select payment_id, min(payment_date) as first_date, any_value(customer_id) as customer_id,
    from cash_rows
    group by payment_id
),

cash_at_dates as (
    select
        snapshot_dates.snapshot_date,
        cash_rows.payment_id,
        sum(cash_rows.amount) as amount,
    from cash_rows
    inner join snapshot_dates
        on snapshot_dates.snapshot_date >= cash_rows.payment_date
        and (cash_rows.until is null or snapshot_dates.snapshot_date < cash_rows.until)
    group by snapshot_dates.snapshot_date, cash_rows.payment_id
),

unapplied_cash as (
    select
        cash_at_dates.snapshot_date,
        cash_at_dates.payment_id as document_id,
        first_dates.customer_id,
        'unapplied_cash' as document_type,
        first_dates.first_date as document_date,
        first_dates.first_date as due_date,
        $functional_currency as currency,
        (-cash_at_dates.amount)::decimal(18, 2) as open_amount,
        (-cash_at_dates.amount)::decimal(18, 2) as open_amount_functional,
    from cash_at_dates
    inner join first_dates using (payment_id)
    where cash_at_dates.amount <> 0
)

select * from open_documents
union all
select * from unapplied_cash
