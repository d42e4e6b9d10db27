-- One row per customer with documents or payments after $after and on or before $until: its sales
-- (every document dated in the period, all types), the cash it paid (applied or on account) and the
-- amounts written off.
with sales as (
    select
        customer_id,
        sum(amount_functional) as sales,
    from documents
    where document_date > $after
        and document_date <= $until
    group by customer_id
),

settled as (
    select
        customer_id,
        sum(amount) filter (where method = 'cash') as cash_collected,
        sum(amount) filter (where method = 'write_off') as written_off,
    from payments
    where payment_date > $after
        and payment_date <= $until
    group by customer_id
)

select
    customer_id,
    coalesce(sales.sales, 0)::decimal(18, 2) as sales,
    coalesce(settled.cash_collected, 0)::decimal(18, 2) as cash_collected,
    coalesce(settled.written_off, 0)::decimal(18, 2) as written_off,
from sales
full join settled using (customer_id)
order by customer_id
