-- 0001: users, their tokens, and items. The demo items are added in the same
-- transaction by the program (migrate.go), so that their folded names come
-- from items.FoldString like every other item's.

CREATE TABLE users (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT    NOT NULL UNIQUE,
    -- the highest role any of the user's tokens grants
    role TEXT    NOT NULL CHECK (role IN ('USER', 'ADMIN'))
) STRICT;

CREATE TABLE tokens (
    -- SHA-256 of the token; the token itself is never stored
    hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    -- the role this token grants
    role       TEXT    NOT NULL CHECK (role IN ('USER', 'ADMIN')),
    -- unix microseconds, UTC
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: an ID is never reused, even after the highest row is gone.
CREATE TABLE items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    -- items.FoldString(name), searched with instr()
    name_folded TEXT    NOT NULL,
    description TEXT,
    -- unix microseconds, UTC
    created_at  INTEGER NOT NULL,
    -- NULL for the demo items
    created_by  INTEGER REFERENCES users (id)
) STRICT;
