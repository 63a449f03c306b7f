-- 0001: users, their tokens, items, and the trigram index that serves
-- searches. The demo items are added by the program in the same transaction
-- (migrate.go), so that their folded names come from items.FoldString.

-- An extension belongs to the database, not to a schema: install it once,
-- in public, so that stores in other schemas of the same database share it
-- and dropping one of those schemas never drops it.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

CREATE TABLE users (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- The highest role any of the user's tokens grants.
    role TEXT NOT NULL CHECK (role IN ('USER', 'ADMIN'))
);

CREATE TABLE tokens (
    -- SHA-256 of the token; the token itself is never stored.
    hash       BYTEA PRIMARY KEY CHECK (octet_length(hash) = 32),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    role       TEXT NOT NULL CHECK (role IN ('USER', 'ADMIN')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX tokens_user_id ON tokens (user_id);

CREATE TABLE items (
    -- An identity never hands out a value twice, even after a rollback or
    -- a deletion. Its sequence must keep the default CACHE 1: AddItem relies
    -- on IDs being drawn in the order the insertions take their lock.
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    -- items.FoldString(name), computed by the program: searches compare it
    -- with the folded query.
    name_folded TEXT NOT NULL,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    -- NULL for the demo items.
    created_by  BIGINT REFERENCES users (id)
);

-- The operator class lives where pg_trgm was installed, which need not be
-- on the search_path: name it by that schema. fastupdate is off: items come
-- one at a time, and a pending list of them would be read in full by every
-- search until a vacuum merged it (and it makes the planner shun the index).
DO $$
DECLARE
    ext_schema name;
BEGIN
    SELECT n.nspname INTO STRICT ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX items_name_folded_trgm ON items USING gin (name_folded %I.gin_trgm_ops) WITH (fastupdate = off)', ext_schema);
END
$$;
