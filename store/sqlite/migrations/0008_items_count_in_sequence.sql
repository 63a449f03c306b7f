-- 0008: the number of items moves from the table items_count to a row of
-- sqlite_sequence, under a name that no table has ('items count'), kept by
-- the same triggers. Every insertion into items rewrites its row of
-- sqlite_sequence (AUTOINCREMENT), so that page is in every commit of
-- additions already, whereas items_count was a page of its own: one more
-- page written to the WAL, and synced, at every commit (one of some
-- thirteen of a commit of additions under load, measured). SQLite reads
-- sqlite_sequence only by the names of the AUTOINCREMENT tables and lets
-- programs write it (https://sqlite.org/autoinc.html).
INSERT INTO sqlite_sequence (name, seq) SELECT 'items count', n FROM items_count;

DROP TRIGGER items_count_insert;
DROP TRIGGER items_count_delete;
DROP TABLE items_count;

CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN
    UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'items count';
END;
CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN
    UPDATE sqlite_sequence SET seq = seq - 1 WHERE name = 'items count';
END;
