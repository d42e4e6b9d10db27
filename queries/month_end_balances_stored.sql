-- One row per (snapshot date, customer) with the receivables balance at each of $dates, read from the balances
-- stored with the data (store.customer_balances): the rows tests/oracle/month_end_balances.sql sums from the snapshots.
select
    snapshot_date,
    customer_id,
    ar_total,
    ar_current,
    ar_over_days,
from stored_balances
where list_contains($dates::date[], snapshot_date)
