-- Events imported from the Tracker and the Mailers, exactly once: each source's cursor is
-- stored in the same transaction as its events. Who each sent message went to, and the
-- addresses no job sends to any more.
CREATE TABLE event_cursors (
    source TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL
);
CREATE TABLE tracking_events (
    source    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    job_id    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    link      INTEGER,
    recipient INTEGER,
    at_ms     INTEGER NOT NULL,
    agent     TEXT NOT NULL,
    machine   TEXT NOT NULL,
    PRIMARY KEY (source, seq)
);
CREATE INDEX tracking_events_by_job ON tracking_events (job_id, kind);
CREATE TABLE delivery_events (
    source    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    job_id    TEXT NOT NULL,
    recipient INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    reply     TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    PRIMARY KEY (source, seq)
);
CREATE INDEX delivery_events_by_job ON delivery_events (job_id, kind);
CREATE TABLE sent_recipients (
    job_id   TEXT NOT NULL,
    number   INTEGER NOT NULL,
    list_id  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    addr_key TEXT NOT NULL,
    PRIMARY KEY (job_id, number)
);
CREATE TABLE suppressions (
    addr_key TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    job_id   TEXT NOT NULL,
    at_ms    INTEGER NOT NULL
);
ALTER TABLE jobs ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;
