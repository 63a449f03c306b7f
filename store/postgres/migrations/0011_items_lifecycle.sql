-- 0011: items are updated and deleted, and the log records every change.
--
-- items.version counts the updates (1 when added); items.updated_at is the
-- time of the last one (NULL until then).
ALTER TABLE items
    ADD COLUMN version    INTEGER NOT NULL DEFAULT 1,
    ADD COLUMN updated_at TIMESTAMPTZ;

-- Events of the three kinds. Each holds the item as the event left it (a
-- deletion only its ID), so that a subscriber catching up from here sees
-- what happened even after later changes and deletions; an addition holds
-- the ID alone until the item's first change copies the item as added into
-- it, so that insertions stay small.
ALTER TABLE events DROP CONSTRAINT events_kind_check;
ALTER TABLE events ADD CONSTRAINT events_kind_check
    CHECK (kind IN ('item_added', 'item_updated', 'item_deleted'));
ALTER TABLE events
    ADD COLUMN version     INTEGER,
    ADD COLUMN name        TEXT,
    ADD COLUMN description TEXT,
    ADD COLUMN created_at  TIMESTAMPTZ,
    ADD COLUMN created_by  BIGINT,
    ADD COLUMN updated_at  TIMESTAMPTZ;
UPDATE events e
SET version = 1, name = i.name, description = i.description, created_at = i.created_at, created_by = i.created_by
FROM items i WHERE i.id = e.item_id;

-- Follow(kind, after: ID) starts after the newest event of that kind of
-- that item: for one item, events are inserted under its row lock, so in
-- seq order.
CREATE INDEX events_item_kind ON events (item_id, kind, seq);
DROP INDEX events_item_id; -- events_item_kind serves its look-ups too

-- Keyset pages in the orders of items(orderBy:): NAME in code-point order
-- (COLLATE "C" compares the UTF-8 bytes), UPDATED_AT by the last change,
-- the creation when never updated. Ties by ID.
CREATE INDEX items_name_c ON items ((name COLLATE "C"), id);
CREATE INDEX items_changed ON items ((coalesce(updated_at, created_at)), id);
