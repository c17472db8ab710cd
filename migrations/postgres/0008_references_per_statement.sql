-- Issue 14's write path (docs/adr/0005-write-path.md, decision 19): the
-- three references every imported voucher makes (journal.batch_id,
-- postings.entry_no, vouchers.entry_no) are checked once per statement
-- over all its rows, not once per row. A foreign key checks each row on
-- its own (a query, an executor start and a row lock per reference): at
-- 200k vouchers that was 35-40 % of an import's time on the server. The
-- check is the same: a row whose reference names no existing parent is
-- refused, with the error (23503) and message a foreign key gives, at the
-- end of the statement, as a foreign key does. Deleting or re-keying a
-- parent, the other half of a foreign key, is refused by the append-only
-- triggers (0002). No row changes: the chain head and every seal stay.
CREATE FUNCTION fundledger_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    -- TG_ARGV: the constraint's name, the referencing column, the
    -- referenced table and column (in the trigger's own schema).
    EXECUTE format(
        'SELECT n.%1$I::text FROM new_rows n WHERE n.%1$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %2$I.%3$I p WHERE p.%4$I = n.%1$I) LIMIT 1',
        TG_ARGV[1], TG_TABLE_SCHEMA, TG_ARGV[2], TG_ARGV[3])
        INTO missing;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = format('insert or update on table "%s" violates foreign key constraint "%s"',
                             TG_TABLE_NAME, TG_ARGV[0]),
            DETAIL = format('Key (%s)=(%s) is not present in table "%s".',
                            TG_ARGV[1], missing, TG_ARGV[2]);
    END IF;
    RETURN NULL;
END;
$$;

ALTER TABLE journal DROP CONSTRAINT journal_batch_id_fkey;
CREATE TRIGGER journal_batch_id_fkey_insert AFTER INSERT ON journal
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fundledger_references_exist('journal_batch_id_fkey', 'batch_id', 'batches', 'batch_id');
CREATE TRIGGER journal_batch_id_fkey_update AFTER UPDATE ON journal
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fundledger_references_exist('journal_batch_id_fkey', 'batch_id', 'batches', 'batch_id');

ALTER TABLE postings DROP CONSTRAINT postings_entry_no_fkey;
CREATE TRIGGER postings_entry_no_fkey_insert AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fundledger_references_exist('postings_entry_no_fkey', 'entry_no', 'journal', 'entry_no');
CREATE TRIGGER postings_entry_no_fkey_update AFTER UPDATE ON postings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fundledger_references_exist('postings_entry_no_fkey', 'entry_no', 'journal', 'entry_no');

ALTER TABLE vouchers DROP CONSTRAINT vouchers_entry_no_fkey;
CREATE TRIGGER vouchers_entry_no_fkey_insert AFTER INSERT ON vouchers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fundledger_references_exist('vouchers_entry_no_fkey', 'entry_no', 'journal', 'entry_no');
CREATE TRIGGER vouchers_entry_no_fkey_update AFTER UPDATE ON vouchers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION fundledger_references_exist('vouchers_entry_no_fkey', 'entry_no', 'journal', 'entry_no');
