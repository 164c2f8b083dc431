-- Jobs, their ids and who else may work on them.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    owner_id    INTEGER NOT NULL,
    owner_name  TEXT NOT NULL,
    group_name  TEXT,
    folder      TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    archived    INTEGER NOT NULL DEFAULT 0,
    copied_from TEXT,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX jobs_by_owner ON jobs (owner_id, archived, created_ms);

CREATE TABLE job_grants (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    account_id INTEGER NOT NULL,
    user_name  TEXT NOT NULL,
    can_edit   INTEGER NOT NULL,
    can_send   INTEGER NOT NULL,
    PRIMARY KEY (job_id, account_id)
);
CREATE INDEX job_grants_by_account ON job_grants (account_id);

-- The letters used per day (and prefix) for job ids YYMMDD + letter.
CREATE TABLE job_id_days (
    day  TEXT PRIMARY KEY,
    used INTEGER NOT NULL
);
