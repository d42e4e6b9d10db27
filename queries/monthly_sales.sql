-- One row per (customer, month end) with the sales of the month: every document dated in it, all types.
select
    customer_id,
    last_day(document_date) as period,
    sum(amount_functional)::decimal(18, 2) as sales,
from documents
where document_date between $from and $until
group by customer_id, period
