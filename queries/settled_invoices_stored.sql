-- One row per invoice settled after $after and on or before $until, from the payments known at $until,
-- read from the settlements stored with the data (store.settlements): the rows of tests/oracle/settled_invoices.sql.
select
    document_id,
    customer_id,
    document_date,
    due_date,
    amount_functional,
    settled_on,
    paid_on,
    paid_on - document_date as days_to_pay,
    paid_on - due_date as days_late,
from settlements
where settled_on > $after
    and settled_on <= $until
    and (valid_to is null or valid_to > $until)
