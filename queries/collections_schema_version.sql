-- One row: the latest schema version applied to this file (null for a new file).
select max(version) as version,
from schema_version
