-- Record one step of a version of a scenario.
insert into scenario_steps (
    scenario_id,
    version,
    step,
    offset_days,
    action_type,
    template,
    min_amount,
    automatic,
    min_interval_days,
    attach_statement,
)
values (
    $scenario_id,
    $version,
    $step,
    $offset_days,
    $action_type,
    $template,
    $min_amount,
    $automatic,
    $min_interval_days,
    $attach_statement,
)
