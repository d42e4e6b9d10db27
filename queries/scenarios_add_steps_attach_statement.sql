-- Whether a step's e-mail carries the customer's statement of account (a file without the column:
-- no step attaches it).
alter table scenario_steps add column if not exists attach_statement boolean default false
