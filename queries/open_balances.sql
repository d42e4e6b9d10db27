-- One row per period during which a document's open amount stays the same non-zero amount, from
-- valid_from until valid_to (excluded; null while it lasts), with the document's columns.
select
    documents.document_id,
    documents.customer_id,
    documents.document_type,
    documents.document_date,
    -- an installment ages on its own due date
    coalesce(periods.installment_due_date, documents.due_date) as due_date,
    documents.currency,
    periods.valid_from,
    periods.valid_to,
    periods.open_amount,
    periods.open_amount_functional,
    periods.installment,
from balance_periods as periods
inner join document_rows as documents
    on documents.file_row_number = periods.document_row
