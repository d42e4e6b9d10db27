-- One row per customer with invoices settled in the 12 months to $as_of (from the settled_invoices view):
-- count, amount and amount-weighted days to pay and days late over the last 6 months, the 6 months
-- before them, and the whole 12 months.
with windows as (
    select
        *,
        settled_on > $as_of::date - interval 6 month as recent,
    from settled_invoices
    where settled_on > $as_of::date - interval 12 month
        and settled_on <= $as_of
)

select
    customer_id,
    count(*) filter (where recent) as invoices_6m,
    sum(amount_functional) filter (where recent) as amount_6m,
    sum(amount_functional * days_to_pay) filter (where recent) as weighted_days_to_pay_6m,
    sum(amount_functional * days_late) filter (where recent) as weighted_days_late_6m,
    sum(amount_functional) filter (where not recent) as amount_previous_6m,
    sum(amount_functional * days_late) filter (where not recent) as weighted_days_late_previous_6m,
    count(*) as invoices_12m,
    sum(amount_functional) as amount_12m,
    sum(amount_functional * days_to_pay) as weighted_days_to_pay_12m,
    sum(amount_functional * days_late) as weighted_days_late_12m,
from windows
group by customer_id
