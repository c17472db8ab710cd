-- Batch seals: a second hash chain, one link per committed batch, covering
-- what the journal chain does not: the batch record itself (command, file,
-- SHA-256, time) and the control rows a command writes without a journal
-- entry (closings, rollovers, region_extensions), plus the journal head at
-- that batch. `content` is the sealed text; `hash` = SHA-256(prev_hash,
-- content). `verify` recomputes the content from the rows and the chain.
CREATE TABLE seals (
    batch_id   INTEGER PRIMARY KEY REFERENCES batches(batch_id),
    content    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE TRIGGER seals_no_update BEFORE UPDATE ON seals
BEGIN SELECT RAISE(ABORT, 'fundledger: seals is append-only (UPDATE refused)'); END;
CREATE TRIGGER seals_no_delete BEFORE DELETE ON seals
BEGIN SELECT RAISE(ABORT, 'fundledger: seals is append-only (DELETE refused)'); END;
