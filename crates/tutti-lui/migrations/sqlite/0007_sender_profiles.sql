-- Sender profiles shared in a group: who a message comes from and where replies go.
CREATE TABLE sender_profiles (
    id           INTEGER PRIMARY KEY,
    scope        TEXT NOT NULL,
    name         TEXT NOT NULL,
    from_name    TEXT NOT NULL,
    from_address TEXT NOT NULL,
    reply_to     TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_ms   INTEGER NOT NULL,
    UNIQUE (scope, name)
);
