-- 0003: the trigram index is no longer written by a trigger at each insert
-- but in steps by the writer (index.go), each step one flush of the index
-- for all the items added since the last: at each commit, the flushes and
-- the merges they called for cost a sixth of addItem's throughput and all
-- of its slowest answers. items_fts holds the items up to
-- search_indexed.up_to; a search reads the index up to there and scans the
-- items above it, so that it stays exact.
DROP TRIGGER items_fts_insert;
DROP TRIGGER items_fts_delete;
DROP TRIGGER items_fts_update;

CREATE TABLE search_indexed (
    -- every item with an ID up to this one is in items_fts
    up_to INTEGER NOT NULL
) STRICT;
INSERT INTO search_indexed (up_to) SELECT coalesce(max(id), 0) FROM items;

-- Items are never deleted or changed by the store; should one be, by hand,
-- its index entry goes with it.
CREATE TRIGGER items_fts_delete AFTER DELETE ON items
WHEN old.id <= (SELECT up_to FROM search_indexed) BEGIN
    INSERT INTO items_fts (items_fts, rowid, name_folded) VALUES ('delete', old.id, old.name_folded);
END;

CREATE TRIGGER items_fts_update AFTER UPDATE ON items
WHEN old.id <= (SELECT up_to FROM search_indexed) BEGIN
    INSERT INTO items_fts (items_fts, rowid, name_folded) VALUES ('delete', old.id, old.name_folded);
    INSERT INTO items_fts (rowid, name_folded) VALUES (new.id, new.name_folded);
END;
