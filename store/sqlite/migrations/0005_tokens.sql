-- 0005: tokens get an ID (shown in `itemsapi token list`, carried in the
-- prefix of new tokens), an optional expiry, the time of their last use,
-- a revocation time, and a mark for the one BOOTSTRAP_ADMIN_TOKEN made.
-- Existing tokens keep their hash, so they keep working, with no expiry;
-- their IDs follow their creation order.
--
-- users.role is no longer read: a user's role is computed when it is read,
-- from its unrevoked, unexpired tokens, so that an expiry needs no write.
-- The column stays (SQLite cannot drop a column under a CHECK) and is
-- still written, with the highest role ever granted.
CREATE TABLE tokens_v5 (
    -- AUTOINCREMENT: an ID is never reused
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SHA-256 of the token; the token itself is never stored
    hash         BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id      INTEGER NOT NULL REFERENCES users (id),
    -- the role this token grants
    role         TEXT    NOT NULL CHECK (role IN ('USER', 'ADMIN')),
    -- unix microseconds, UTC, as every time below
    created_at   INTEGER NOT NULL,
    -- NULL: never expires
    expires_at   INTEGER,
    -- written at most once a minute per token
    last_used_at INTEGER,
    -- the first revocation; never cleared
    revoked_at   INTEGER,
    -- 1 for a token that BOOTSTRAP_ADMIN_TOKEN made
    bootstrap    INTEGER NOT NULL DEFAULT 0 CHECK (bootstrap IN (0, 1))
) STRICT;

INSERT INTO tokens_v5 (hash, user_id, role, created_at)
SELECT hash, user_id, role, created_at FROM tokens ORDER BY created_at, hash;

DROP TABLE tokens;
ALTER TABLE tokens_v5 RENAME TO tokens;

-- A user's tokens, in ID order (token list --user, revocations).
CREATE INDEX tokens_user_id ON tokens (user_id, id);
-- The usable ADMIN tokens, for roles and the last-admin rule (expiry is
-- checked on the few rows this finds).
CREATE INDEX tokens_admin ON tokens (user_id) WHERE role = 'ADMIN' AND revoked_at IS NULL;

-- One row: increased by every revocation in its transaction, by whatever
-- process makes it. A server compares it, one row read, with the value
-- its token cache was filled at.
-- (IF NOT EXISTS: tests replay migrations over a newer schema.)
CREATE TABLE IF NOT EXISTS token_revision (
    revision INTEGER NOT NULL
) STRICT;
INSERT INTO token_revision (revision) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM token_revision);
