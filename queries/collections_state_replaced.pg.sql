-- A history replaced whole (ids numbered from 1 again): readers holding rows must read them all again.
update collections_state set replacements = replacements + 1
