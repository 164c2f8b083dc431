-- Recipient lists: an upload or query makes one, private to its job or saved under a name
-- for reuse. Rows are numbered in file order; `addr_key` is the normalized address that
-- de-duplicates a list.
CREATE TABLE recipient_lists (
    id            INTEGER PRIMARY KEY,
    name          TEXT,
    owner_id      INTEGER NOT NULL,
    group_name    TEXT,
    columns       TEXT NOT NULL,
    email_column  INTEGER NOT NULL,
    name_column   INTEGER,
    source        TEXT NOT NULL,
    read_rows     INTEGER NOT NULL DEFAULT 0,
    accepted      INTEGER NOT NULL DEFAULT 0,
    rejected      INTEGER NOT NULL DEFAULT 0,
    duplicates    INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL,
    failure       TEXT,
    created_ms    INTEGER NOT NULL
);
CREATE TABLE recipients (
    list_id  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    addr_key TEXT NOT NULL,
    fields   TEXT NOT NULL,
    PRIMARY KEY (list_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX recipients_by_key ON recipients (list_id, addr_key);
CREATE TABLE recipient_rejects (
    list_id INTEGER NOT NULL,
    line    INTEGER NOT NULL,
    reason  TEXT NOT NULL,
    raw     TEXT NOT NULL,
    PRIMARY KEY (list_id, line)
) WITHOUT ROWID;
ALTER TABLE jobs ADD COLUMN recipient_list_id INTEGER;
