-- 0010: a placeholder that keeps the numbers without gaps on the items
-- branch, whose migration is 0011 (the tokens branch has 0010, other
-- branches the numbers between). The integrator deletes these files when
-- merging: two files of one number make Open fail at once ("out of
-- sequence"), so none can be missed.
SELECT 1;
