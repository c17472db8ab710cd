-- Append-only: the journal and every domain record refuse UPDATE and DELETE.
CREATE TRIGGER batches_no_update BEFORE UPDATE ON batches
BEGIN SELECT RAISE(ABORT, 'fundledger: batches is append-only (UPDATE refused)'); END;
CREATE TRIGGER batches_no_delete BEFORE DELETE ON batches
BEGIN SELECT RAISE(ABORT, 'fundledger: batches is append-only (DELETE refused)'); END;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'fundledger: journal is append-only (UPDATE refused)'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'fundledger: journal is append-only (DELETE refused)'); END;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN SELECT RAISE(ABORT, 'fundledger: postings is append-only (UPDATE refused)'); END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
BEGIN SELECT RAISE(ABORT, 'fundledger: postings is append-only (DELETE refused)'); END;
CREATE TRIGGER region_extensions_no_update BEFORE UPDATE ON region_extensions
BEGIN SELECT RAISE(ABORT, 'fundledger: region_extensions is append-only (UPDATE refused)'); END;
CREATE TRIGGER region_extensions_no_delete BEFORE DELETE ON region_extensions
BEGIN SELECT RAISE(ABORT, 'fundledger: region_extensions is append-only (DELETE refused)'); END;
CREATE TRIGGER indicator_lines_no_update BEFORE UPDATE ON indicator_lines
BEGIN SELECT RAISE(ABORT, 'fundledger: indicator_lines is append-only (UPDATE refused)'); END;
CREATE TRIGGER indicator_lines_no_delete BEFORE DELETE ON indicator_lines
BEGIN SELECT RAISE(ABORT, 'fundledger: indicator_lines is append-only (DELETE refused)'); END;
CREATE TRIGGER reductions_no_update BEFORE UPDATE ON reductions
BEGIN SELECT RAISE(ABORT, 'fundledger: reductions is append-only (UPDATE refused)'); END;
CREATE TRIGGER reductions_no_delete BEFORE DELETE ON reductions
BEGIN SELECT RAISE(ABORT, 'fundledger: reductions is append-only (DELETE refused)'); END;
CREATE TRIGGER vouchers_no_update BEFORE UPDATE ON vouchers
BEGIN SELECT RAISE(ABORT, 'fundledger: vouchers is append-only (UPDATE refused)'); END;
CREATE TRIGGER vouchers_no_delete BEFORE DELETE ON vouchers
BEGIN SELECT RAISE(ABORT, 'fundledger: vouchers is append-only (DELETE refused)'); END;
CREATE TRIGGER carries_no_update BEFORE UPDATE ON carries
BEGIN SELECT RAISE(ABORT, 'fundledger: carries is append-only (UPDATE refused)'); END;
CREATE TRIGGER carries_no_delete BEFORE DELETE ON carries
BEGIN SELECT RAISE(ABORT, 'fundledger: carries is append-only (DELETE refused)'); END;
CREATE TRIGGER recoveries_no_update BEFORE UPDATE ON recoveries
BEGIN SELECT RAISE(ABORT, 'fundledger: recoveries is append-only (UPDATE refused)'); END;
CREATE TRIGGER recoveries_no_delete BEFORE DELETE ON recoveries
BEGIN SELECT RAISE(ABORT, 'fundledger: recoveries is append-only (DELETE refused)'); END;
CREATE TRIGGER rollovers_no_update BEFORE UPDATE ON rollovers
BEGIN SELECT RAISE(ABORT, 'fundledger: rollovers is append-only (UPDATE refused)'); END;
CREATE TRIGGER rollovers_no_delete BEFORE DELETE ON rollovers
BEGIN SELECT RAISE(ABORT, 'fundledger: rollovers is append-only (DELETE refused)'); END;
CREATE TRIGGER closings_no_update BEFORE UPDATE ON closings
BEGIN SELECT RAISE(ABORT, 'fundledger: closings is append-only (UPDATE refused)'); END;
CREATE TRIGGER closings_no_delete BEFORE DELETE ON closings
BEGIN SELECT RAISE(ABORT, 'fundledger: closings is append-only (DELETE refused)'); END;
