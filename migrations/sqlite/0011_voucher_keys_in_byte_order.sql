-- Issue 14's write path (docs/adr/0005-write-path.md, decision 24): on
-- PostgreSQL this migration makes the text keys every voucher indexes
-- compare in byte order. SQLite's columns compare in byte order already
-- (BINARY); the migration exists so both backends keep one numbering.
SELECT 1;
