-- A suppression belongs to a scope: a group ('g:' and the group's id at the Hub), an
-- account without a group ('u:' and its id), or the whole installation ('all': hard
-- bounces and complaints, which the admin login manages and which apply to every group).
-- Entries made before had no scope: they go to the installation's list, so that nobody
-- suppressed before is mailed now.
CREATE TABLE suppressions_scoped (
    scope    TEXT NOT NULL,
    addr_key TEXT NOT NULL,
    reason   TEXT NOT NULL,
    job_id   TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    PRIMARY KEY (scope, addr_key)
);
INSERT INTO suppressions_scoped (scope, addr_key, reason, job_id, at_ms)
SELECT 'all', addr_key, reason, job_id, at_ms FROM suppressions;
DROP TABLE suppressions;
ALTER TABLE suppressions_scoped RENAME TO suppressions;
CREATE INDEX suppressions_by_time ON suppressions (scope, at_ms);

-- The scope a sent job's unsubscribes, bounces and complaints go to: its owner's group
-- when it was handed over (jobs sent before have none: theirs go to 'all').
CREATE TABLE sent_job_scopes (
    job_id TEXT PRIMARY KEY,
    scope  TEXT NOT NULL
);
