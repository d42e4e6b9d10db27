-- The definition of the items open at each date of $dates (DESIGN.md, "Open amount"), worked out from
-- documents and payments alone: what the stored periods and snapshots are tested against.
-- One row per (snapshot date, item open at that date), for every date of $dates at once:
-- a document's balance changes only on its issue date and its payment dates, so the balance after
-- each change holds until the next change; each snapshot date picks the balance in force then.
-- A document with installments is one item per installment still open: what is paid on the document
-- settles them in due-date order, the earliest first, and the last takes what is left.
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

document_balances as (
    select
        snapshot_dates.snapshot_date,
        documents.document_id,
        documents.customer_id,
        documents.document_type,
        documents.document_date,
        documents.due_date,
        documents.currency,
        documents.amount,
        documents.amount_functional,
        balances.open_amount_functional,
    from balances
    inner join snapshot_dates
        on snapshot_dates.snapshot_date >= balances.valid_from
        and (balances.valid_to is null or snapshot_dates.snapshot_date < balances.valid_to)
    inner join documents using (document_id)
    where balances.open_amount_functional <> 0
        and documents.document_date <= snapshot_dates.snapshot_date
),

installment_parts as (
    select
        document_id,
        due_date,
        amount_functional as part,
        row_number() over (partition by document_id order by due_date) as installment,
        count(*) over (partition by document_id) as parts,
        sum(amount_functional) over (
            partition by document_id order by due_date rows between unbounded preceding and current row
        ) as through,
    from installments
),

installment_balances as (
    select
        document_balances.* exclude (due_date, open_amount_functional),
        installment_parts.due_date,
        installment_parts.installment,
        case
            when installment_parts.installment < installment_parts.parts then
                -- paid so far settles the earlier installments first (signs: as the document's)
                (case when document_balances.amount_functional < 0 then -1 else 1 end) * greatest(
                    0,
                    least(
                        (case when document_balances.amount_functional < 0 then -1 else 1 end) * (
                            installment_parts.through
                            - (document_balances.amount_functional - document_balances.open_amount_functional)
                        ),
                        abs(installment_parts.part)
                    )
                )
        end as earlier_open,
        document_balances.open_amount_functional as balance,
    from document_balances
    inner join installment_parts using (document_id)
),

installment_items as (
    select
        * exclude (earlier_open, balance),
        coalesce(
            earlier_open,
            balance - coalesce(sum(earlier_open) over (partition by snapshot_date, document_id), 0)
        ) as open_amount_functional,
    from installment_balances
),

open_items_of_documents as (
    select
        * exclude (open_amount_functional),
        null::integer as installment,
        open_amount_functional,
    from document_balances
    where document_id not in (select document_id from installments)
    union all by name
    select * from installment_items
),

open_documents as (
    select
        snapshot_date,
        document_id,
        customer_id,
        document_type,
        document_date,
        due_date,
        currency,
        case
            when amount_functional = 0 then amount
            else round(amount * open_amount_functional / amount_functional, 2)
        end::decimal(18, 2) as open_amount,
        open_amount_functional::decimal(18, 2) as open_amount_functional,
        installment,
    from open_items_of_documents
    where open_amount_functional <> 0
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
        null::integer as installment,
    from cash_at_dates
    inner join first_dates using (payment_id)
    where cash_at_dates.amount <> 0
)

select * from open_documents
union all
select * from unapplied_cash
