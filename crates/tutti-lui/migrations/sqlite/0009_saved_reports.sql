-- Comparisons of several jobs a user keeps under a name.
CREATE TABLE saved_reports (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    jobs        TEXT NOT NULL,
    people_only INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    UNIQUE (owner_id, name)
);
