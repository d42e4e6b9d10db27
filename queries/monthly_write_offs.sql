-- One row per (customer, month end) with the amounts written off in the month.
select
    customer_id,
    last_day(payment_date) as period,
    sum(amount)::decimal(18, 2) as written_off,
from payments
where method = 'write_off'
    and payment_date between $from and $until
group by customer_id, period
