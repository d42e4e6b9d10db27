-- One row per item open at $as_of: documents whose balance period covers that date (open_balances),
-- and cash on account whose period covers it (cash_periods: payments applied to no document, and
-- payments made before the document they are applied to, until that document's date).
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
from open_balances
where valid_from <= $as_of
    and (valid_to is null or valid_to > $as_of)
union all
select
    document_id,
    customer_id,
    'unapplied_cash' as document_type,
    document_date,
    due_date,
    $functional_currency as currency,
    open_amount_functional as open_amount,
    open_amount_functional,
    null::integer as installment,
from cash_periods
where valid_from <= $as_of
    and (valid_to is null or valid_to > $as_of)
