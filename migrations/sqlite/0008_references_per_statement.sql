-- Issue 14's write path (docs/adr/0005-write-path.md, decision 19): on
-- PostgreSQL this migration checks the references every imported voucher
-- makes once per statement instead of once per row. Nothing to do on
-- SQLite, whose foreign keys cost an index probe per row (no query, no row
-- lock); the migration exists so both backends keep one numbering.
SELECT 1;
