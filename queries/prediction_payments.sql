-- One row per (document, day) of payments applied to a document on or before $as_of: the day's total,
-- what partial payments so far are measured with.
select
    document_id,
    payment_date,
    sum(amount) as amount,
from payments
where document_id is not null
    and payment_date <= $as_of
group by document_id, payment_date
order by document_id, payment_date
