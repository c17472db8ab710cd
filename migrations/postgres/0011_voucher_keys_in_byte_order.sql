-- Issue 14's write path (docs/adr/0005-write-path.md, decision 24): the
-- text keys every imported voucher adds to an index (journal.tx_id,
-- vouchers.voucher_no, vouchers (paid_on, voucher_no),
-- vouchers.original_voucher_no) are compared in byte order ("C"), as on
-- SQLite, instead of in the database's collation. An index insertion
-- compares its key with a dozen others; under a language collation each
-- comparison goes through the locale's rules (strcoll or ICU), under "C"
-- it is one memcmp. Nothing the ledger stores or reports depends on a
-- language's order: these keys are codes and ISO dates, reports sort on
-- the client or say COLLATE "C" already, and equality is the same in
-- every deterministic collation. Only the indexes on these columns are
-- rebuilt (the type stays TEXT: no row is rewritten, the chain head and
-- every seal stay); about 3 s for a ledger of 1M vouchers.
ALTER TABLE journal ALTER COLUMN tx_id TYPE TEXT COLLATE "C";
ALTER TABLE vouchers
    ALTER COLUMN voucher_no TYPE TEXT COLLATE "C",
    ALTER COLUMN paid_on TYPE TEXT COLLATE "C",
    ALTER COLUMN original_voucher_no TYPE TEXT COLLATE "C";
