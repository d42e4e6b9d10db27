-- One row per (date of $dates, customer) with the receivables balance derived from documents and payments,
-- the same figures as month_end_balances.sql gives over open_items_at_dates.sql, without building every item:
-- a document settled for good before a date is skipped at once, and only documents and payments up to
-- $until (the latest of $dates) are read, so that old dates cost little on a long ledger.
with snapshot_dates as (
    select unnest($dates::date[]) as snapshot_date
),

known_payments as (
    select *
    from payments
    where payment_date <= $until
),

settlements as (
    select
        document_id,
        sum(amount) as settled_amount,
        max(payment_date) as last_paid_on,
    from known_payments
    where document_id is not null
    group by document_id
),

spans as (
    -- a document can be open from its date until the payment that settles it for good
    select
        documents.document_id,
        documents.customer_id,
        documents.document_date,
        documents.due_date,
        documents.amount_functional,
        case
            when coalesce(settlements.settled_amount, 0) = documents.amount_functional
                then greatest(coalesce(settlements.last_paid_on, documents.document_date), documents.document_date)
        end as closed_on,
    from documents
    left join settlements using (document_id)
    where documents.document_date <= $until
),

candidates as (
    select
        snapshot_dates.snapshot_date,
        spans.document_id,
        spans.customer_id,
        spans.due_date,
        spans.amount_functional,
    from spans
    inner join snapshot_dates
        on spans.document_date <= snapshot_dates.snapshot_date
        and (spans.closed_on is null or snapshot_dates.snapshot_date < spans.closed_on)
),

paid_by_then as (
    select
        candidates.snapshot_date,
        candidates.document_id,
        sum(known_payments.amount) as paid,
    from candidates
    inner join known_payments
        on known_payments.document_id = candidates.document_id
        and known_payments.payment_date <= candidates.snapshot_date
    group by candidates.snapshot_date, candidates.document_id
),

open_documents as (
    select
        candidates.snapshot_date,
        candidates.customer_id,
        candidates.due_date,
        candidates.amount_functional - coalesce(paid_by_then.paid, 0) as open_amount_functional,
    from candidates
    left join paid_by_then using (snapshot_date, document_id)
),

cash_on_account as (
    -- as open_items_at_dates.sql has it (the stored month ends come from it): one open item per payment,
    -- due on its first date
    select
        any_value(customer_id) as customer_id,
        min(payment_date) as payment_date,
        -sum(amount) as open_amount_functional,
    from payments
    where document_id is null
    group by payment_id
),

open_items as (
    select * from open_documents
    union all
    select
        snapshot_dates.snapshot_date,
        cash_on_account.customer_id,
        cash_on_account.payment_date as due_date,
        cash_on_account.open_amount_functional,
    from cash_on_account
    inner join snapshot_dates on snapshot_dates.snapshot_date >= cash_on_account.payment_date
)

select
    snapshot_date,
    customer_id,
    sum(open_amount_functional)::decimal(18, 2) as ar_total,
    coalesce(sum(open_amount_functional) filter (where due_date >= snapshot_date), 0)::decimal(18, 2) as ar_current,
    coalesce(
        sum(open_amount_functional) filter (where snapshot_date - due_date > $over_days), 0
    )::decimal(18, 2) as ar_over_days,
from open_items
where open_amount_functional <> 0
group by snapshot_date, customer_id
