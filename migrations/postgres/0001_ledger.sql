-- fundledger schema, PostgreSQL. Money is BIGINT fen; dates are TEXT 'YYYY-MM-DD'.
-- The journal (batches, journal, postings) and every domain record are
-- append-only: triggers refuse UPDATE and DELETE. Corrections are new
-- transactions. `balances` and `projects` are the only mutable tables.

CREATE TABLE batches (
    batch_id     BIGINT PRIMARY KEY,
    command      TEXT    NOT NULL,
    file_name    TEXT,
    file_sha256  TEXT,
    recorded_at  TEXT    NOT NULL
);

CREATE TABLE journal (
    entry_no      BIGINT PRIMARY KEY,
    tx_id         TEXT    NOT NULL UNIQUE,
    tx_date       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    fiscal_year   BIGINT,
    doc_no        TEXT,
    voucher_no    TEXT,
    region_code   TEXT,
    project_code  TEXT,
    source_file   TEXT,
    source_line   BIGINT,
    details       TEXT,
    batch_id      BIGINT NOT NULL REFERENCES batches(batch_id),
    recorded_at   TEXT    NOT NULL,
    prev_hash     TEXT    NOT NULL,
    hash          TEXT    NOT NULL
);
CREATE INDEX journal_kind_year ON journal(kind, fiscal_year);

CREATE TABLE postings (
    entry_no    BIGINT NOT NULL REFERENCES journal(entry_no),
    seq         BIGINT NOT NULL,
    account     TEXT    NOT NULL,
    amount_fen  BIGINT NOT NULL,
    PRIMARY KEY (entry_no, seq)
);
CREATE INDEX postings_account ON postings(account);

-- Materialised account balances, maintained in the same transaction as the
-- postings; `verify` recomputes them from the postings.
CREATE TABLE balances (
    account      TEXT PRIMARY KEY,
    balance_fen  BIGINT NOT NULL
);

CREATE TABLE projects (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    aliases    TEXT NOT NULL,
    func_code  TEXT
);

CREATE TABLE region_extensions (
    code             TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    level            TEXT    NOT NULL,
    parent_code      TEXT,
    valid_from       BIGINT NOT NULL,
    valid_to         BIGINT,
    successor_codes  TEXT    NOT NULL,
    batch_id         BIGINT NOT NULL REFERENCES batches(batch_id),
    PRIMARY KEY (code, name, valid_from)
);

CREATE TABLE indicator_lines (
    doc_no         TEXT    NOT NULL,
    region_code    TEXT    NOT NULL,
    project_code   TEXT    NOT NULL,
    origin_year    BIGINT NOT NULL,
    doc_date       TEXT    NOT NULL,
    deadline_days  BIGINT NOT NULL,
    amount_fen     BIGINT NOT NULL,
    func_code      TEXT,
    remark         TEXT,
    entry_no       BIGINT NOT NULL UNIQUE REFERENCES journal(entry_no),
    PRIMARY KEY (doc_no, region_code, project_code)
);

CREATE TABLE reductions (
    doc_no          TEXT    NOT NULL,
    region_code     TEXT    NOT NULL,
    project_code    TEXT    NOT NULL,
    target_doc_no   TEXT    NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    doc_date        TEXT    NOT NULL,
    amount_fen      BIGINT NOT NULL,
    remark          TEXT,
    entry_no        BIGINT NOT NULL UNIQUE REFERENCES journal(entry_no),
    PRIMARY KEY (doc_no, region_code, project_code),
    FOREIGN KEY (target_doc_no, region_code, project_code)
        REFERENCES indicator_lines(doc_no, region_code, project_code)
);

CREATE TABLE vouchers (
    voucher_no           TEXT    PRIMARY KEY,
    paid_on              TEXT    NOT NULL,
    fiscal_year          BIGINT NOT NULL,
    region_code          TEXT    NOT NULL,
    project_code         TEXT    NOT NULL,
    doc_no               TEXT,
    amount_fen           BIGINT NOT NULL,
    original_voucher_no  TEXT REFERENCES vouchers(voucher_no),
    payee                TEXT,
    memo                 TEXT,
    entry_no             BIGINT NOT NULL UNIQUE REFERENCES journal(entry_no)
);
CREATE INDEX vouchers_paid ON vouchers(paid_on, voucher_no);

-- A line carried from fiscal year from_year into from_year + 1, possibly to a
-- successor region code.
CREATE TABLE carries (
    doc_no         TEXT    NOT NULL,
    from_region    TEXT    NOT NULL,
    project_code   TEXT    NOT NULL,
    from_year      BIGINT NOT NULL,
    to_region      TEXT    NOT NULL,
    origin_year    BIGINT NOT NULL,
    doc_date       TEXT    NOT NULL,
    deadline_days  BIGINT NOT NULL,
    carried_on     TEXT    NOT NULL,
    amount_fen     BIGINT NOT NULL,
    entry_no       BIGINT NOT NULL UNIQUE REFERENCES journal(entry_no),
    PRIMARY KEY (doc_no, from_region, project_code, from_year)
);

CREATE TABLE recoveries (
    doc_no        TEXT    NOT NULL,
    region_code   TEXT    NOT NULL,
    project_code  TEXT    NOT NULL,
    fiscal_year   BIGINT NOT NULL,
    origin_year   BIGINT NOT NULL,
    amount_fen    BIGINT NOT NULL,
    entry_no      BIGINT NOT NULL UNIQUE REFERENCES journal(entry_no),
    PRIMARY KEY (doc_no, region_code, project_code, fiscal_year)
);

CREATE TABLE rollovers (
    fiscal_year    BIGINT PRIMARY KEY,
    recover_after  BIGINT NOT NULL,
    batch_id       BIGINT NOT NULL REFERENCES batches(batch_id)
);

CREATE TABLE closings (
    through_date  TEXT    NOT NULL,
    batch_id      BIGINT NOT NULL REFERENCES batches(batch_id),
    PRIMARY KEY (through_date, batch_id)
);
