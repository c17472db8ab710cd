-- Seal format 2 (release 0.2): seals also cover the project catalog, and
-- verify looks up every control row by its batch to refuse rows filed under
-- a batch that has no seal. These indexes serve those lookups. Existing
-- format-1 seals stay as they are and stay verifiable; `fundledger init`
-- appends one "seal format 2" batch after migrating, so the catalog is
-- covered from then on (docs/adr/0003-every-stored-fact-sealed.md).
CREATE INDEX closings_batch ON closings(batch_id);
CREATE INDEX rollovers_batch ON rollovers(batch_id);
CREATE INDEX region_extensions_batch ON region_extensions(batch_id);
