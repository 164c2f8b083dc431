-- What a job's test send was made of (a digest of its message, drop-ins, files, recipient
-- list and tracking): authorizing and sending check that the job is still that.
ALTER TABLE jobs ADD COLUMN tested_digest TEXT NOT NULL DEFAULT '';
