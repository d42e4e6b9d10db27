-- One row: the highest coaching note id given so far (0 when there is none).
select coalesce(max(note_id), 0) as note_id,
from coaching_notes
