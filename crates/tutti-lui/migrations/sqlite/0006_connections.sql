-- Database connections an administrator defines, for recipients taken from a query.
CREATE TABLE db_connections (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    url        TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
