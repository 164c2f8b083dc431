-- Drop-ins and message templates, shared in a group (or kept by an account without one).
CREATE TABLE dropins (
    id          INTEGER PRIMARY KEY,
    scope       TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    content     TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    UNIQUE (scope, name)
);
CREATE TABLE templates (
    id          INTEGER PRIMARY KEY,
    scope       TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    message     TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    UNIQUE (scope, name)
);
ALTER TABLE job_messages ADD COLUMN dropins_enabled INTEGER NOT NULL DEFAULT 1;
