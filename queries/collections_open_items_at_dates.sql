-- One row per (date of $dates, document open at that date) with its open amount: what an imported
-- file of events is checked against, each row at its own date. A document's balance changes only on
-- its issue date and its payment dates, so each date picks the balance in force then.
with check_dates as (
    select unnest($dates::date[]) as check_date
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
)

select
    check_dates.check_date,
    documents.document_id,
    documents.customer_id,
    balances.open_amount_functional::decimal(18, 2) as open_amount_functional,
from balances
inner join check_dates
    on check_dates.check_date >= balances.valid_from
    and (balances.valid_to is null or check_dates.check_date < balances.valid_to)
inner join documents using (document_id)
where balances.open_amount_functional <> 0
    and documents.document_date <= check_dates.check_date
