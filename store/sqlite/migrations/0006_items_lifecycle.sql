-- 0006: items are updated and deleted, and the log records every change.
--
-- items.version counts the updates (1 when added); items.updated_at is the
-- time of the last one (unix microseconds, NULL until then).
ALTER TABLE items ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE items ADD COLUMN updated_at INTEGER;

-- The log that subscribers follow. Until now an item's event was at the
-- position of its ID; now an update or a delete comes between additions,
-- so the log has a table of its own. Each event holds the item as the
-- event left it (a deletion only its ID), so that a subscriber that
-- catches up from here sees what happened even after later changes; an
-- addition holds only the ID until the item's first change copies the
-- item as added into it (the items table holds it until then), so that
-- additions stay cheap. pos is the rowid: one writer appends, so
-- positions follow commits.
CREATE TABLE events (
    pos         INTEGER PRIMARY KEY,
    -- 1 added, 2 updated, 3 deleted (items.EventKind)
    kind        INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),
    item_id     INTEGER NOT NULL,
    version     INTEGER,
    name        TEXT,
    description TEXT,
    created_at  INTEGER,
    created_by  INTEGER,
    updated_at  INTEGER
) STRICT;

-- Follow(kind, after: ID) starts after the newest event of that item.
CREATE INDEX events_item ON events (item_id, kind, pos);

-- The items that exist get their addition at the position of their ID, so
-- that an ID a client received before is still a position to resume after.
INSERT INTO events (pos, kind, item_id) SELECT id, 1, id FROM items ORDER BY id;

-- Keyset pages in the orders of items(orderBy:): BINARY collation compares
-- the UTF-8 bytes, which is code-point order; UPDATED_AT orders by the last
-- change, the creation when never updated. Ties by ID.
CREATE INDEX items_name ON items (name, id);
CREATE INDEX items_changed ON items (coalesce(updated_at, created_at), id);

-- The index changes only when a name does (an update of the description
-- or the version leaves it alone). Rows above the watermark are not in
-- the index yet; indexTail adds them with their name as it is then.
DROP TRIGGER items_fts_update;
CREATE TRIGGER items_fts_update AFTER UPDATE OF name_folded ON items
WHEN old.id <= (SELECT up_to FROM search_indexed) BEGIN
    INSERT INTO items_fts (items_fts, rowid, name_folded) VALUES ('delete', old.id, old.name_folded);
    INSERT INTO items_fts (rowid, name_folded) VALUES (new.id, new.name_folded);
END;
