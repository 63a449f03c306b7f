-- 0013: items.created_by is checked by the insertion itself, not by a
-- foreign key. The key locked the user's row (FOR KEY SHARE) for every
-- insertion, and the insertions of one user that run at once (every
-- addItem of a busy token) shared that lock through a new MultiXact each
-- time: writes to the multixact log and WAL that made concurrent insertions
-- queue on the same row. Users are never deleted, so an insertion that
-- finds the user when it runs names a user that exists for good (see
-- addItemSQL).
DO $$
DECLARE
    fk name;
BEGIN
    FOR fk IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'items'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE items DROP CONSTRAINT %I', fk);
    END LOOP;
END
$$;
