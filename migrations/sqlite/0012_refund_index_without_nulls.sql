-- Issue 14's write path (docs/adr/0005-write-path.md, decision 26): on
-- PostgreSQL this migration leaves the NULLs out of the refund lookup
-- index. On SQLite the same partial index measured no faster (ADR 0005,
-- "SQLite postings clustered on their key, and a partial
-- vouchers_original"), so its index stays as it is; the migration exists
-- so both backends keep one numbering.
SELECT 1;
