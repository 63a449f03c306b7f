-- 0010: the indexes of the orders NAME and UPDATED_AT (migration 0006)
-- are written in steps, as the trigram index is (migration 0003): at each
-- commit of additions, each wrote two pages or so to the WAL, of the some
-- seven that such a commit still wrote. They become tables that the
-- writer fills, for every item above search_indexed.up_to, in the
-- transaction that adds those to the trigram index (indexTail in
-- index.go), and that triggers keep exact for the items up to there,
-- whoever changes them. A page in those orders reads the table up to the
-- watermark and the items above it, a few at most (a step runs at least
-- every 50 ms under load), and merges the two (see pageSQL in pages.go).
-- The items' BINARY collation compares UTF-8 bytes: code-point order.
CREATE TABLE items_by_name (
    name TEXT    NOT NULL,
    id   INTEGER NOT NULL,
    PRIMARY KEY (name, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE items_by_changed (
    -- coalesce(updated_at, created_at): the last change, else the creation
    changed INTEGER NOT NULL,
    id      INTEGER NOT NULL,
    PRIMARY KEY (changed, id)
) STRICT, WITHOUT ROWID;

INSERT INTO items_by_name (name, id)
SELECT name, id FROM items WHERE id <= (SELECT up_to FROM search_indexed);
INSERT INTO items_by_changed (changed, id)
SELECT coalesce(updated_at, created_at), id FROM items WHERE id <= (SELECT up_to FROM search_indexed);

DROP INDEX items_name;
DROP INDEX items_changed;

CREATE TRIGGER items_order_delete AFTER DELETE ON items
WHEN old.id <= (SELECT up_to FROM search_indexed) BEGIN
    DELETE FROM items_by_name WHERE name = old.name AND id = old.id;
    DELETE FROM items_by_changed WHERE changed = coalesce(old.updated_at, old.created_at) AND id = old.id;
END;

CREATE TRIGGER items_by_name_update AFTER UPDATE OF name ON items
WHEN old.id <= (SELECT up_to FROM search_indexed) BEGIN
    DELETE FROM items_by_name WHERE name = old.name AND id = old.id;
    INSERT INTO items_by_name (name, id) VALUES (new.name, new.id);
END;

CREATE TRIGGER items_by_changed_update AFTER UPDATE OF updated_at, created_at ON items
WHEN old.id <= (SELECT up_to FROM search_indexed) BEGIN
    DELETE FROM items_by_changed WHERE changed = coalesce(old.updated_at, old.created_at) AND id = old.id;
    INSERT INTO items_by_changed (changed, id) VALUES (coalesce(new.updated_at, new.created_at), new.id);
END;
