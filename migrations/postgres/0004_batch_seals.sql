-- Batch seals: a second hash chain, one link per committed batch, covering
-- what the journal chain does not: the batch record itself (command, file,
-- SHA-256, time) and the control rows a command writes without a journal
-- entry (closings, rollovers, region_extensions), plus the journal head at
-- that batch. `content` is the sealed text; `hash` = SHA-256(prev_hash,
-- content). `verify` recomputes the content from the rows and the chain.
CREATE TABLE seals (
    batch_id   BIGINT PRIMARY KEY REFERENCES batches(batch_id),
    content    TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    hash       TEXT   NOT NULL
);
CREATE TRIGGER seals_append_only BEFORE UPDATE OR DELETE ON seals
    FOR EACH ROW EXECUTE FUNCTION fundledger_append_only();
CREATE TRIGGER seals_no_truncate BEFORE TRUNCATE ON seals
    FOR EACH STATEMENT EXECUTE FUNCTION fundledger_append_only();
