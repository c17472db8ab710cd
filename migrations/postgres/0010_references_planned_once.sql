-- Issue 14's write path (docs/adr/0005-write-path.md, decision 23): the
-- reference checks of migrations 0008/0009 built their query as text and
-- ran it with EXECUTE, so the server parsed and planned it at every
-- statement that fired them, three times per flush of an import (12,500
-- times per 1M vouchers: 4.2 s of the server's time, half of it planning).
-- The three references every import makes are now checked by static
-- queries, which PL/pgSQL prepares once per trigger and session and runs
-- with a cached plan (2.2 s). The check is the one 0009 makes: count the
-- parent's keys between the lowest and highest key the new rows name; only
-- on a gap look each row up, to name the missing key. Any other trigger on
-- this function (none today) still runs 0009's query, built as text.
--
-- A static query finds its tables by the search path, where 0009 named the
-- trigger's own schema: the function pins the path to the ledger's schema
-- (the one this migration runs in), then pg_temp, so a session's temporary
-- table named "journal" can never stand in for the ledger's.
DO $migration$
BEGIN
EXECUTE format($create$
CREATE OR REPLACE FUNCTION fundledger_references_exist() RETURNS trigger LANGUAGE plpgsql
SET search_path = %I, pg_temp AS $$
DECLARE
    lo bigint;
    hi bigint;
    present bigint;
    missing text;
BEGIN
    -- TG_ARGV: the constraint's name, the referencing column, the
    -- referenced table and column.
    IF TG_ARGV[1] = 'entry_no' AND TG_ARGV[2] = 'journal' AND TG_ARGV[3] = 'entry_no'
       AND TG_TABLE_NAME IN ('postings', 'vouchers') THEN
        SELECT min(n.entry_no), max(n.entry_no) INTO lo, hi FROM new_rows n;
        IF lo IS NOT NULL THEN
            SELECT count(*) INTO present FROM journal p WHERE p.entry_no BETWEEN lo AND hi;
            IF present <> hi - lo + 1 THEN
                SELECT n.entry_no::text INTO missing FROM new_rows n
                 WHERE n.entry_no IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM journal p WHERE p.entry_no = n.entry_no)
                 LIMIT 1;
            END IF;
        END IF;
    ELSIF TG_ARGV[1] = 'batch_id' AND TG_ARGV[2] = 'batches' AND TG_ARGV[3] = 'batch_id'
       AND TG_TABLE_NAME = 'journal' THEN
        SELECT min(n.batch_id), max(n.batch_id) INTO lo, hi FROM new_rows n;
        IF lo IS NOT NULL THEN
            SELECT count(*) INTO present FROM batches p WHERE p.batch_id BETWEEN lo AND hi;
            IF present <> hi - lo + 1 THEN
                SELECT n.batch_id::text INTO missing FROM new_rows n
                 WHERE n.batch_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM batches p WHERE p.batch_id = n.batch_id)
                 LIMIT 1;
            END IF;
        END IF;
    ELSE
        EXECUTE format(
            'SELECT CASE WHEN r.lo IS NULL '
            '  OR (SELECT count(*) FROM %%2$I.%%3$I p WHERE p.%%4$I BETWEEN r.lo AND r.hi) = r.hi - r.lo + 1 '
            'THEN NULL ELSE (SELECT n.%%1$I::text FROM new_rows n WHERE n.%%1$I IS NOT NULL '
            '  AND NOT EXISTS (SELECT 1 FROM %%2$I.%%3$I p WHERE p.%%4$I = n.%%1$I) LIMIT 1) END '
            'FROM (SELECT min(n.%%1$I) AS lo, max(n.%%1$I) AS hi FROM new_rows n) r',
            TG_ARGV[1], TG_TABLE_SCHEMA, TG_ARGV[2], TG_ARGV[3])
            INTO missing;
    END IF;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = format('insert or update on table "%%s" violates foreign key constraint "%%s"',
                             TG_TABLE_NAME, TG_ARGV[0]),
            DETAIL = format('Key (%%s)=(%%s) is not present in table "%%s".',
                            TG_ARGV[1], missing, TG_ARGV[2]);
    END IF;
    RETURN NULL;
END;
$$
$create$, current_schema());
END;
$migration$;
