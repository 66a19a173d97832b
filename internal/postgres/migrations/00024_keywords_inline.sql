-- +goose Up
-- A keyword search reads the tsvector of every candidate it scores (the
-- positions of the query's terms). Stored EXTENDED, a chunk's tsvector
-- (about 1.5 kB, which pglz does not shrink) is moved out of line into
-- TOAST whenever the row passes 2 kB, so each candidate cost a TOAST index
-- lookup and a second read. MAIN keeps it in the row: TOAST moves the
-- chunk's text out first, which only the final hits read. This applies to
-- rows written from now on; `VACUUM FULL chunks` (an exclusive lock for a
-- table rewrite) moves the existing ones, or re-ingest does over time.
ALTER TABLE chunks ALTER COLUMN keywords SET STORAGE MAIN;

-- +goose Down
ALTER TABLE chunks ALTER COLUMN keywords SET STORAGE EXTENDED;
