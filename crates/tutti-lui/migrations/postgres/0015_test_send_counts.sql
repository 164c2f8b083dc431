-- Test sends are capped per account and day (lui.ini TestSendMaxPerDay): the addresses
-- each account's test sends went to, per day (days since 1970-01-01, UTC).
CREATE TABLE test_send_counts (
    account_id BIGINT NOT NULL,
    day        BIGINT NOT NULL,
    addresses  BIGINT NOT NULL,
    PRIMARY KEY (account_id, day)
);
