-- 0005: a placeholder that keeps the numbers without gaps on the items
-- branch. The tokens branch's 0005_tokens.sql takes this number: the
-- integrator deletes this file when merging (two files numbered 0005 make
-- Open fail at once, "out of sequence", so it cannot be missed).
SELECT 1;
