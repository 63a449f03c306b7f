-- 0009: an addition no longer writes to the log's table. Under load a
-- commit of additions wrote some nine pages to the WAL where the base of
-- the lifecycle work wrote under three, each a write (and a sync's worth
-- of work) of its own: the events table's and its index events_item's
-- were three of them. The position of an item's addition is now kept in
-- its row (items.added_pos, written by the insertion itself), and the
-- items never changed since they were added are their own additions: the
-- log is the events table and those rows, merged by position (see
-- Store.events). The events table keeps the changes, and the additions of
-- the items changed since (of which the first change makes a copy, as
-- before: see keepAdded in writer.go), which may be gone from the items
-- table.
ALTER TABLE items ADD COLUMN added_pos INTEGER;
UPDATE items SET added_pos = (SELECT e.pos FROM events e WHERE e.item_id = items.id AND e.kind = 1);

-- The additions that hold no copy: of the items as added, which now say
-- so themselves; or of items deleted by hand, which the log read as
-- nothing.
DELETE FROM events WHERE kind = 1 AND name IS NULL;
