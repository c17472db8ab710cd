-- Issue 14's write path (docs/adr/0005-write-path.md, decision 22): the
-- statement-level reference checks of migration 0008 looked every new
-- row's key up in its parent's index, one descent per row (a tenth of a
-- 1M-voucher import's time on the server). The keys they check are dense:
-- entry numbers and batch numbers count up from 1 without gaps. So the
-- check first counts the parent's keys between the lowest and the highest
-- key the new rows name, one range of its index: if the parent holds
-- hi - lo + 1 of them, it holds every integer in between, and so every key
-- referenced. Only when it does not (a gap, which a sound ledger never
-- has) is each row looked up, as before, to name the one missing.
--
-- That count proves presence only for a unique integer parent key; each
-- trigger below names a primary key (batches.batch_id, journal.entry_no),
-- and the triggers are the ones migration 0008 made, unchanged.
CREATE OR REPLACE FUNCTION fundledger_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    -- TG_ARGV: the constraint's name, the referencing column, the
    -- referenced table and column (in the trigger's own schema).
    EXECUTE format(
        'SELECT CASE WHEN r.lo IS NULL '
        '  OR (SELECT count(*) FROM %2$I.%3$I p WHERE p.%4$I BETWEEN r.lo AND r.hi) = r.hi - r.lo + 1 '
        'THEN NULL ELSE (SELECT n.%1$I::text FROM new_rows n WHERE n.%1$I IS NOT NULL '
        '  AND NOT EXISTS (SELECT 1 FROM %2$I.%3$I p WHERE p.%4$I = n.%1$I) LIMIT 1) END '
        'FROM (SELECT min(n.%1$I) AS lo, max(n.%1$I) AS hi FROM new_rows n) r',
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
