-- Every item event removed: only when a new company's history replaces the old one (demo creation).
delete from item_events
