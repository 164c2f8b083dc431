-- Address keys fold the case of the local part as well (Ann@x and ann@x are one person):
-- the keys made before are lower-cased here, as the code now makes them.
--
-- Suppressions: one per lower-cased key, the earliest kept.
CREATE TABLE suppressions_folded (
    addr_key TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    job_id   TEXT NOT NULL,
    at_ms    INTEGER NOT NULL
);
CREATE INDEX suppressions_by_folded_key ON suppressions (lower(addr_key));
INSERT INTO suppressions_folded (addr_key, reason, job_id, at_ms)
SELECT lower(s.addr_key), s.reason, s.job_id, s.at_ms FROM suppressions s
WHERE NOT EXISTS (
    SELECT 1 FROM suppressions t
    WHERE lower(t.addr_key) = lower(s.addr_key)
      AND (t.at_ms < s.at_ms OR (t.at_ms = s.at_ms AND t.addr_key < s.addr_key))
);
DROP TABLE suppressions;
ALTER TABLE suppressions_folded RENAME TO suppressions;

UPDATE sent_recipients SET addr_key = lower(addr_key) WHERE addr_key <> lower(addr_key);

-- A list may hold the same address in two spellings, imported as two recipients. The first
-- of them takes the lower-cased key unless a row already has it; the others keep theirs
-- (sending compares lower-cased keys with the suppression list, so they are covered too).
CREATE INDEX recipients_by_folded_key ON recipients (list_id, lower(addr_key));
UPDATE recipients SET addr_key = lower(addr_key)
WHERE addr_key <> lower(addr_key)
  AND NOT EXISTS (
    SELECT 1 FROM recipients o
    WHERE o.list_id = recipients.list_id
      AND lower(o.addr_key) = lower(recipients.addr_key)
      AND (o.seq < recipients.seq OR o.addr_key = lower(recipients.addr_key))
  );
DROP INDEX recipients_by_folded_key;
