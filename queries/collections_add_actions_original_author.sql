-- Schema 4: the original author of an imported action (a file of schema 3 has no such column).
alter table actions add column if not exists original_author varchar
