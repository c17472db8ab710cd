-- A refund is checked against its original voucher and against the refunds
-- already made of it (`WHERE original_voucher_no = ?`). Without this index
-- each check scanned every voucher: 5,000 refunds among 100,000 vouchers took
-- 36 s instead of 4 s, and the cost grew with the square of the file.
CREATE INDEX vouchers_original ON vouchers(original_voucher_no);
