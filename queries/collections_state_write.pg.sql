-- The first statement of every writing transaction: count it, and hold the row's lock to the commit,
-- so that the writers of every process commit one after the other and ids follow the commit order.
update collections_state set writes = writes + 1
