-- Insert one coaching note with its objectives.
insert into coaching_notes (
    note_id,
    collector,
    note_date,
    period,
    comment,
    objectives,
    user_name,
    recorded_at,
    source,
)
values (
    $note_id,
    $collector,
    $note_date,
    $period,
    $comment,
    $objectives,
    $user_name,
    $recorded_at,
    $source,
)
