-- The files of events imported into the collections database, one row per import.
create table if not exists imports (
    file_name varchar not null,
    checksum varchar not null,
    item_events integer not null,
    actions integer not null,
    user_name varchar not null,
    recorded_at timestamp not null,
)
