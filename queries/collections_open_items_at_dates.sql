-- One row per (date of $dates, document open at that date) with its open amount: what an imported
-- file of events is checked against, each row at its own date. The documents' stored balance periods
-- (open_balances) say which amount is open on each date.
with check_dates as (
    select unnest($dates::date[]) as check_date
)

select
    check_dates.check_date,
    open_balances.document_id,
    open_balances.customer_id,
    open_balances.open_amount_functional,
from open_balances
inner join check_dates
    on open_balances.valid_from <= check_dates.check_date
    and (open_balances.valid_to is null or open_balances.valid_to > check_dates.check_date)
