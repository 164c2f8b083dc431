-- A job's message and files, its tracking, and its way to sending: when it was last tested
-- and authorized (a change of content voids both), where and when it was sent.
CREATE TABLE job_messages (
    job_id       TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    from_name    TEXT NOT NULL,
    from_address TEXT NOT NULL,
    reply_to     TEXT NOT NULL,
    html         TEXT,
    text         TEXT,
    charset      TEXT NOT NULL,
    updated_ms   BIGINT NOT NULL
);
CREATE TABLE job_attachments (
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_id   TEXT,
    data         BYTEA NOT NULL,
    PRIMARY KEY (job_id, name)
);
ALTER TABLE jobs ADD COLUMN tested_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN authorized_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN authorized_by TEXT;
ALTER TABLE jobs ADD COLUMN tracking_kind TEXT NOT NULL DEFAULT 'personal';
ALTER TABLE jobs ADD COLUMN track_opens BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN track_clicks BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN untracked TEXT NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN tracking_key TEXT;
ALTER TABLE jobs ADD COLUMN mailer_host TEXT;
ALTER TABLE jobs ADD COLUMN mailer_client TEXT;
ALTER TABLE jobs ADD COLUMN mailer_password TEXT;
ALTER TABLE jobs ADD COLUMN send_at_ms BIGINT;
ALTER TABLE jobs ADD COLUMN tests_sent BIGINT NOT NULL DEFAULT 0;
