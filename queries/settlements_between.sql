-- One row per document of $documents with what settled it between $after (excluded) and $until
-- (included), split by how: cash paid, credit notes applied, written off.
select
    document_id,
    sum(amount) filter (where method = 'cash') as paid,
    sum(amount) filter (where method = 'credit_note') as credited,
    sum(amount) filter (where method = 'write_off') as written_off,
from payments
where payment_date > $after
    and payment_date <= $until
    and document_id is not null
    and list_contains($documents, document_id)
group by document_id
