-- Per-recipient lookups for reports and downloads.
CREATE INDEX tracking_events_by_recipient ON tracking_events (job_id, recipient, kind);
CREATE INDEX delivery_events_by_recipient ON delivery_events (job_id, recipient);
