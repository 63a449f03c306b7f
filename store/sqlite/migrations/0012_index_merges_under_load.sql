-- 0012: FTS5 merges a level of the trigram index that reaches
-- crisismerge segments (16 by default) at once, within the step that adds
-- the segment (migration 0002). The writer merges when idle, but a
-- sustained stream of additions never leaves it idle: a level filled up
-- every few seconds, and each such step held every AddItem for up to
-- 340 ms (measured at 9,000 additions a second, some 500,000 items in).
-- The steps under load now merge a little each (index.go); this leaves
-- them room to, and keeps the crisis for a writer that falls far behind.
INSERT INTO items_fts (items_fts, rank) VALUES ('crisismerge', 64);
