-- One row per coaching note, oldest first; a list of collectors narrows them when not empty, a date
-- keeps the notes written on or before it.
select *
from coaching_notes
where (len($collectors::varchar[]) = 0 or list_contains($collectors::varchar[], collector))
    and ($until::date is null or note_date <= $until::date)
order by note_date, note_id
