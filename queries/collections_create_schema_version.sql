-- The versions of the collections database's schema applied to this file, one row each.
create table if not exists schema_version (
    version integer not null,
    applied_at timestamp not null,
)
