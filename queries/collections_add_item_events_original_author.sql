-- Schema 4: the original author of an imported qualification (a file of schema 3 has no such column).
alter table item_events add column if not exists original_author varchar
