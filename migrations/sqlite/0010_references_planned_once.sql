-- Issue 14's write path (docs/adr/0005-write-path.md, decision 23): on
-- PostgreSQL this migration makes the per-statement reference checks of
-- migrations 0008/0009 static queries, planned once per session. Nothing
-- to do on SQLite (its foreign keys are its own); the migration exists so
-- both backends keep one numbering.
SELECT 1;
