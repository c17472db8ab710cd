-- Release 0.3 write path (docs/adr/0005-write-path.md): every index is paid
-- for on every voucher an import writes. Two served one query each:
--   postings_account (a text index over every posting) answered "balance of
--   pool:Y / appropriation:Y", which the write transaction now reads from the
--   materialised `balances` plus its own pending deltas;
--   journal_kind_year (an index over every journal row) answered "is fiscal
--   year Y budgeted", which a partial index over the few budget entries
--   answers as well.
-- No row changes: the chain head and every seal stay as they are.
DROP INDEX postings_account;
DROP INDEX journal_kind_year;
CREATE INDEX journal_budget_year ON journal(fiscal_year) WHERE kind = 'budget';
