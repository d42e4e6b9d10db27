-- One row per (document, payment date) with the cash received on it after $after and on or before $until.
select
    document_id,
    payment_date,
    sum(amount)::decimal(18, 2) as cash_received,
from payments
where method = 'cash'
    and document_id is not null
    and payment_date > $after
    and payment_date <= $until
group by document_id, payment_date
