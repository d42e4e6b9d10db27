-- Record one import of a file of events.
insert into imports (file_name, checksum, item_events, actions, user_name, recorded_at)
values ($file_name, $checksum, $item_events, $actions, $user_name, $recorded_at)
