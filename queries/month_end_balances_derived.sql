-- One row per (date of $dates, customer) with the receivables balance of the items open then, as
-- open_items_as_of.sql has them at one date (the documents' balance periods and the cash periods), summed
-- per customer without building every item: the same figures tests/oracle/month_end_balances.sql sums from a snapshot.
with snapshot_dates as (
    select unnest($dates::date[]) as snapshot_date
),

open_documents as (
    select
        snapshot_dates.snapshot_date,
        open_balances.customer_id,
        open_balances.due_date,
        open_balances.open_amount_functional,
    from open_balances
    inner join snapshot_dates
        on open_balances.valid_from <= snapshot_dates.snapshot_date
        and (open_balances.valid_to is null or open_balances.valid_to > snapshot_dates.snapshot_date)
),

cash_on_account as (
    select
        snapshot_dates.snapshot_date,
        cash_periods.customer_id,
        cash_periods.due_date,
        cash_periods.open_amount_functional,
    from cash_periods
    inner join snapshot_dates
        on cash_periods.valid_from <= snapshot_dates.snapshot_date
        and (cash_periods.valid_to is null or cash_periods.valid_to > snapshot_dates.snapshot_date)
),

open_items as (
    select * from open_documents
    union all
    select * from cash_on_account
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
