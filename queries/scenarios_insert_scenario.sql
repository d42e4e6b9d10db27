-- Record a version of a scenario (its steps follow in the same transaction).
insert into scenarios (
    scenario_id,
    version,
    name,
    description,
    friendly_phase_end_days,
    archived,
    user_name,
    recorded_at,
)
values (
    $scenario_id,
    $version,
    $name,
    $description,
    $friendly_phase_end_days,
    $archived,
    $user_name,
    $recorded_at,
)
