-- 0002: the log of events that subscribers follow (see docs/log.md).
--
-- A writer inserts an item and its event in one statement; the event has no
-- position yet. Positions are given after commit by the stamper (listen.go),
-- which runs under an advisory lock that writers never take, so that writes
-- of every process commit independently while every subscriber, on every
-- process, reads one order: events by position.
CREATE TABLE events (
    -- The order of insertion, not of delivery: two transactions may commit
    -- their events in the opposite order of their seq.
    seq     BIGINT GENERATED ALWAYS AS IDENTITY,
    kind    TEXT NOT NULL DEFAULT 'item_added' CHECK (kind IN ('item_added')),
    -- No foreign key: the check would cost every insertion a lookup and a
    -- row lock, for an item inserted by the same statement.
    item_id BIGINT NOT NULL,
    -- The position in the log: NULL until stamped, then 1, 2, 3, … without
    -- gaps in the order of the stamping rounds, each round's in seq order.
    pos     BIGINT
);

-- Readers read by position; the stamper finds the newest position here.
-- Unstamped events are not in it, which keeps insertions out of it.
CREATE UNIQUE INDEX events_pos ON events (pos) WHERE pos IS NOT NULL;

-- The stamper's work list: small, since events leave it once stamped.
CREATE INDEX events_unstamped ON events (seq) WHERE pos IS NULL;

-- itemAdded(after: ID) starts after the event of that item.
CREATE INDEX events_item_id ON events (item_id);

-- The items that exist already get one event each, at the position of
-- their ID, so that an ID a client received before this migration is still
-- a position to resume after.
INSERT INTO events (item_id, pos) SELECT id, id FROM items ORDER BY id;
