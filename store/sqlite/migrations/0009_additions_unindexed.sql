-- 0009: an addition no longer writes to the index events_item. Under load
-- a commit of additions wrote some nine pages to the WAL where the base of
-- the lifecycle work wrote under three, each a write (and a sync's worth
-- of work) of its own; the index's pages were about two of them, for a
-- lookup that only a subscription's start and an item's first change
-- make. The position of an item's addition is now kept in its row
-- (items.added_pos, written by the insertion itself), and the index holds
-- the changes, and the additions that a change has copied the item into
-- (name set: see keepAdded in writer.go), which are those of the items
-- that may be gone from the items table.
ALTER TABLE items ADD COLUMN added_pos INTEGER;
UPDATE items SET added_pos = (SELECT e.pos FROM events e WHERE e.item_id = items.id AND e.kind = 1);

DROP INDEX events_item;
-- The query must spell the condition as it is written here for SQLite to
-- use the index.
CREATE INDEX events_item ON events (item_id, kind, pos) WHERE kind <> 1 OR name IS NOT NULL;
