-- One row per document settled (in part or in full) between $after (excluded) and $until (included),
-- with what settled it, split by how: cash paid, credit notes applied, written off.
select
    document_id,
    sum(amount) filter (where method = 'cash') as paid,
    sum(amount) filter (where method = 'credit_note') as credited,
    sum(amount) filter (where method = 'write_off') as written_off,
from payments
where payment_date > $after
    and payment_date <= $until
    and document_id is not null
group by document_id
