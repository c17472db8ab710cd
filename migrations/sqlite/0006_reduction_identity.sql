-- A reduction row is identified by (doc_no, region, project, adjusts_doc_no):
-- one adjusting document may cut the same region and project in two earlier
-- documents (湘财社指〔2020〕88号 cuts 430111/JS02 of both 10号 and 11号).
-- SQLite cannot change a primary key in place: rebuild the table, then put
-- back its append-only triggers (DROP TABLE fires no DELETE trigger).
CREATE TABLE reductions_by_target (
    doc_no          TEXT    NOT NULL,
    region_code     TEXT    NOT NULL,
    project_code    TEXT    NOT NULL,
    target_doc_no   TEXT    NOT NULL,
    fiscal_year     INTEGER NOT NULL,
    doc_date        TEXT    NOT NULL,
    amount_fen      INTEGER NOT NULL,
    remark          TEXT,
    entry_no        INTEGER NOT NULL UNIQUE REFERENCES journal(entry_no),
    PRIMARY KEY (doc_no, region_code, project_code, target_doc_no),
    FOREIGN KEY (target_doc_no, region_code, project_code)
        REFERENCES indicator_lines(doc_no, region_code, project_code)
);
INSERT INTO reductions_by_target
    (doc_no, region_code, project_code, target_doc_no, fiscal_year, doc_date, amount_fen, remark, entry_no)
    SELECT doc_no, region_code, project_code, target_doc_no, fiscal_year, doc_date, amount_fen, remark, entry_no
    FROM reductions;
DROP TABLE reductions;
ALTER TABLE reductions_by_target RENAME TO reductions;
CREATE TRIGGER reductions_no_update BEFORE UPDATE ON reductions
BEGIN SELECT RAISE(ABORT, 'fundledger: reductions is append-only (UPDATE refused)'); END;
CREATE TRIGGER reductions_no_delete BEFORE DELETE ON reductions
BEGIN SELECT RAISE(ABORT, 'fundledger: reductions is append-only (DELETE refused)'); END;
