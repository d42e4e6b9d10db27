-- Coaching notes of a team lead on a collector, append-only: one row per note, with its objectives
-- for the next period (a metric, a comparison, a target and a due date each; analytics.coaching
-- measures them).
create table if not exists coaching_notes (
    note_id bigint primary key,
    collector varchar not null,
    note_date date not null,
    period varchar,
    comment varchar,
    objectives struct(
        metric varchar,
        comparison varchar,
        target decimal(18, 2),
        due_date date,
        text varchar
    )[] not null,
    user_name varchar not null,
    recorded_at timestamp not null,
    source varchar not null,
)
