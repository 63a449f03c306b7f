-- 0007: the number of items, kept by triggers in the transaction of each
-- insertion and deletion, so that the count of all items (totalCount
-- without a search) reads one row instead of the whole table: 0.3 ms at
-- 10,000 items, 30 ms at a million, for every first page after a write.
CREATE TABLE items_count (n INTEGER NOT NULL) STRICT;
INSERT INTO items_count (n) SELECT count(*) FROM items;

CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN
    UPDATE items_count SET n = n + 1;
END;
CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN
    UPDATE items_count SET n = n - 1;
END;
