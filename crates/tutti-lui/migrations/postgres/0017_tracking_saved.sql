-- When the job's tracking choices were saved (0: never): until then the job page does not
-- show its Tracking step as done.
ALTER TABLE jobs ADD COLUMN tracking_saved_ms BIGINT NOT NULL DEFAULT 0;
