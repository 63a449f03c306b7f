-- 0011: the start of a subscription that names an item (Follow) looks up
-- the item's oldest event of a kind, which index events_item (migration
-- 0006) found among all of them: each update wrote an entry to it, in the
-- run of its item, so that a commit of 32 updates wrote some 32 pages of
-- it, scattered over an index that grew with every update. Updates
-- slowed as it grew, from some 9,000 a second to 4,000 within a minute of
-- load (bench/run, scenario update, one round after another). The oldest
-- event of each item and kind is all that lookup needs: first_events
-- keeps it, written once per item and kind, and the events table is
-- appended to and read by position only.
CREATE TABLE first_events (
    item_id INTEGER NOT NULL,
    kind    INTEGER NOT NULL,
    pos     INTEGER NOT NULL,
    PRIMARY KEY (item_id, kind)
) STRICT, WITHOUT ROWID;

INSERT INTO first_events (item_id, kind, pos)
SELECT item_id, kind, min(pos) FROM events GROUP BY item_id, kind;

DROP INDEX events_item;

-- The one writer appends events in position order: the first of an item
-- and kind to come is its oldest. Later ones find its row, and write
-- nothing.
CREATE TRIGGER events_first AFTER INSERT ON events BEGIN
    INSERT OR IGNORE INTO first_events (item_id, kind, pos) VALUES (new.item_id, new.kind, new.pos);
END;
