-- Append-only: the journal and every domain record refuse UPDATE and DELETE.
CREATE FUNCTION fundledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'fundledger: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END;
$$;
CREATE TRIGGER batches_append_only BEFORE UPDATE OR DELETE ON batches
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER batches_no_truncate BEFORE TRUNCATE ON batches
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER region_extensions_append_only BEFORE UPDATE OR DELETE ON region_extensions
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER region_extensions_no_truncate BEFORE TRUNCATE ON region_extensions
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER indicator_lines_append_only BEFORE UPDATE OR DELETE ON indicator_lines
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER indicator_lines_no_truncate BEFORE TRUNCATE ON indicator_lines
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER reductions_append_only BEFORE UPDATE OR DELETE ON reductions
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER reductions_no_truncate BEFORE TRUNCATE ON reductions
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER vouchers_append_only BEFORE UPDATE OR DELETE ON vouchers
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER vouchers_no_truncate BEFORE TRUNCATE ON vouchers
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER carries_append_only BEFORE UPDATE OR DELETE ON carries
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER carries_no_truncate BEFORE TRUNCATE ON carries
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER recoveries_append_only BEFORE UPDATE OR DELETE ON recoveries
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER recoveries_no_truncate BEFORE TRUNCATE ON recoveries
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER rollovers_append_only BEFORE UPDATE OR DELETE ON rollovers
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER rollovers_no_truncate BEFORE TRUNCATE ON rollovers
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER closings_append_only BEFORE UPDATE OR DELETE ON closings
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER closings_no_truncate BEFORE TRUNCATE ON closings
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
