-- The promises to pay recorded from $since (when given) to $until whose promised date is on or after
-- $promised_from and before $promised_before, oldest first (the columns of item_events).
select *
from item_events
where event_type = 'promise_to_pay'
    and ($since::date is null or event_date >= $since::date)
    and event_date <= $until::date
    and promised_date >= $promised_from::date
    and promised_date < $promised_before::date
order by event_date, event_id
