-- One row per promise given in the lists (run over the Parquet store): what cash and credit notes
-- settled on its document from the day it was recorded to the end of its window, and the first day it
-- counted as settled: the promised amount reached, or the document settled in full by cash and credit.
with promises as (
    select
        unnest($event_ids::bigint[]) as event_id,
        unnest($document_ids::varchar[]) as document_id,
        unnest($recorded_on::date[]) as recorded_on,
        unnest($window_ends::date[]) as window_end,
        unnest($promised_amounts::decimal(18, 2)[]) as promised_amount,
),

daily_settlements as (
    select
        payments.document_id,
        payments.payment_date,
        sum(payments.amount) as amount,
    from payments
    semi join promises on promises.document_id = payments.document_id
    where payments.method in ('cash', 'credit_note')
    group by payments.document_id, payments.payment_date
),

balances as (
    select
        daily_settlements.document_id,
        daily_settlements.payment_date,
        daily_settlements.amount,
        documents.amount_functional - sum(daily_settlements.amount) over (
            partition by daily_settlements.document_id order by daily_settlements.payment_date
            rows between unbounded preceding and current row
        ) as balance_after,
    from daily_settlements
    inner join documents using (document_id)
),

in_window as (
    select
        promises.event_id,
        promises.promised_amount,
        balances.payment_date,
        balances.balance_after,
        sum(balances.amount) over (
            partition by promises.event_id order by balances.payment_date
            rows between unbounded preceding and current row
        ) as paid_so_far,
    from promises
    inner join balances
        on balances.document_id = promises.document_id
        and balances.payment_date between promises.recorded_on and promises.window_end
)

select
    promises.event_id,
    coalesce(max(in_window.paid_so_far), 0)::decimal(18, 2) as settled_amount,
    min(in_window.payment_date) filter (
        where in_window.paid_so_far >= in_window.promised_amount or in_window.balance_after <= 0
    ) as settled_on,
from promises
left join in_window using (event_id)
group by promises.event_id
order by promises.event_id
