-- One row: the histories replaced, the transactions that wrote, and the highest event and action
-- ids committed (0 when none): what a reader holding rows compares with (the marks, the data version).
select
    collections_state.replacements,
    collections_state.writes,
    (select coalesce(max(event_id), 0) from item_events) as event_id,
    (select coalesce(max(action_id), 0) from actions) as action_id,
from collections_state
