-- One row per (customer, month end) with the invoices settled in the month (from the settled_invoices view):
-- how many, their amount, and the amount-weighted sums of days to pay and days late.
select
    customer_id,
    last_day(settled_on) as period,
    count(*) as settled_invoices,
    sum(amount_functional)::decimal(18, 2) as settled_amount,
    sum(amount_functional * days_to_pay)::decimal(28, 2) as weighted_days_to_pay,
    sum(amount_functional * days_late)::decimal(28, 2) as weighted_days_late,
from settled_invoices
group by customer_id, period
