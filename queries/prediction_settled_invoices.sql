-- One row per invoice settled in cash, as the settled_invoices view defines it (analytics.kpis
-- settled_invoices_view, known from the payments up to its date): what payment predictions learn from.
select
    document_id,
    customer_id,
    document_date,
    due_date,
    amount_functional,
    paid_on,
from settled_invoices
order by document_id
