-- 0002: a trigram index of the folded names, so that a search of three or
-- more characters reads the index instead of every name.
--
-- The index holds name_folded (items.FoldString(name)) as it is:
-- case_sensitive 1, since the program folds, and in Go, which SQLite does
-- differently. It is an external-content table: the text stays in items
-- alone, and the triggers keep the index in step with every change to
-- items, whoever makes it, in the same transaction. detail=full keeps the
-- position of each trigram, so that a phrase of trigrams matches the exact
-- substring; columnsize=0 leaves out the token counts, which only ranking
-- needs.

CREATE VIRTUAL TABLE items_fts USING fts5 (
    name_folded,
    content = 'items',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1',
    detail = full,
    columnsize = 0
);

CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, name_folded) VALUES (new.id, new.name_folded);
END;

-- Items are never changed nor removed by the program; these keep the index
-- exact when somebody does it by hand.
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, name_folded) VALUES ('delete', old.id, old.name_folded);
END;

CREATE TRIGGER items_fts_update AFTER UPDATE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, name_folded) VALUES ('delete', old.id, old.name_folded);
    INSERT INTO items_fts (rowid, name_folded) VALUES (new.id, new.name_folded);
END;

-- Index the items of a database made before this migration.
INSERT INTO items_fts (items_fts) VALUES ('rebuild');

-- Each commit adds a segment to the index, which FTS5 merges in the
-- background of later commits: by default in bursts, which at a million
-- items make one commit in thirty take some fifty milliseconds more, for
-- every AddItem that waits on it. The program merges instead when no item
-- waits (see mergeIndex in writer.go); FTS5 still merges a level that
-- reaches 16 segments (crisismerge) at once.
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 0);
