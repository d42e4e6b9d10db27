-- One row per balance period of a document (store.balance_periods follows each document's open amount
-- over time) with the document-currency share of what is open, for display: computed once a period,
-- it is the same at every date the period covers.
select
    document_row,
    valid_from,
    valid_to,
    case
        when amount_functional = 0 then amount
        -- the open amount as a running sum types it, so that the product stays exact
        else round(amount * open_amount_functional::decimal(38, 2) / amount_functional, 2)
    end::decimal(18, 2) as open_amount,
    open_amount_functional,
from periods
