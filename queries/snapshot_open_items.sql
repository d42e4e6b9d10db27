-- One row per item of the stored snapshot of $as_of (imported from an ERP, or a materialised month end).
select
    document_id,
    customer_id,
    document_type,
    document_date,
    due_date,
    currency,
    open_amount,
    open_amount_functional,
    installment,
from open_item_snapshots
where snapshot_date = $as_of
