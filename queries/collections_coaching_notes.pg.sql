-- One row per coaching note, oldest first; a list of collectors narrows them when not empty, a date
-- keeps the notes written on or before it. PostgreSQL's words for collections_coaching_notes.sql.
select *
from coaching_notes
where (cardinality($collectors::varchar[]) = 0 or collector = any($collectors::varchar[]))
    and ($until::date is null or note_date <= $until::date)
order by note_date, note_id
