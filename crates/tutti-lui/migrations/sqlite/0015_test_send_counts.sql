-- Test sends are capped per account and day (lui.ini TestSendMaxPerDay): the addresses
-- each account's test sends went to, per day (days since 1970-01-01, UTC).
CREATE TABLE test_send_counts (
    account_id INTEGER NOT NULL,
    day        INTEGER NOT NULL,
    addresses  INTEGER NOT NULL,
    PRIMARY KEY (account_id, day)
);
