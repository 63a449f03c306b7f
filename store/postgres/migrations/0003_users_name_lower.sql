-- 0003: a user is found by its name under ASCII case folding when no user
-- has exactly that name (items.FoldUserName). lower() under COLLATE "C"
-- folds ASCII only, whatever the database's locale, as SQLite's lower()
-- does. Not UNIQUE: names that differ only in case may have been stored
-- before new names had to be ASCII, and they keep working.
CREATE INDEX users_name_lower ON users (lower(name COLLATE "C"));
