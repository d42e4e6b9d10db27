-- One row per earlier import of a file with checksum $checksum.
select
    file_name,
    user_name,
    recorded_at,
from imports
where checksum = $checksum
order by recorded_at
