-- One row per (snapshot date, customer) with the receivables balance in the stored snapshots of $dates:
-- the total, the part not yet due (current) and the part more than $over_days days past due.
select
    snapshot_date,
    customer_id,
    sum(open_amount_functional)::decimal(18, 2) as ar_total,
    coalesce(sum(open_amount_functional) filter (where due_date >= snapshot_date), 0)::decimal(18, 2) as ar_current,
    coalesce(
        sum(open_amount_functional) filter (where snapshot_date - due_date > $over_days), 0
    )::decimal(18, 2) as ar_over_days,
from open_item_snapshots
where list_contains($dates::date[], snapshot_date)
group by snapshot_date, customer_id
