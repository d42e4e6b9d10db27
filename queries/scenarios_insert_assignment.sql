-- Record an explicit assignment of a scenario to a customer (null: back to the rules).
insert into scenario_assignments (customer_id, scenario_id, user_name, recorded_at)
values ($customer_id, $scenario_id, $user_name, $recorded_at)
