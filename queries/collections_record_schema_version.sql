-- Record that the schema of version $version is applied.
insert into schema_version (version, applied_at)
values ($version, $applied_at)
