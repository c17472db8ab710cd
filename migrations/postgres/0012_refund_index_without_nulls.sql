-- Issue 14's write path (docs/adr/0005-write-path.md, decision 26): the
-- index that finds a refund's original (0003) held an entry for every
-- voucher, NULL for each of the nearly all that refund nothing, and every
-- import paid a B-tree insertion for each of those NULLs. Its lookups all
-- ask for one voucher number (`original_voucher_no = $1`) or for the
-- numbers that are there (`IS NOT NULL`), which a partial index without
-- the NULLs answers the same. Rebuilt from the refunds alone; no row
-- changes, the chain head and every seal stay.
DROP INDEX vouchers_original;
CREATE INDEX vouchers_original ON vouchers(original_voucher_no)
    WHERE original_voucher_no IS NOT NULL;
