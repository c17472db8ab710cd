-- Issue 14's write path (docs/adr/0005-write-path.md, decision 22): on
-- PostgreSQL this migration makes the per-statement reference checks of
-- migration 0008 count a range of the parent's key instead of looking up
-- every row. Nothing to do on SQLite (its foreign keys are its own); the
-- migration exists so both backends keep one numbering.
SELECT 1;
