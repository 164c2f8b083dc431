-- The list a job sent to before its current one: after an upload that failed, the job can
-- go back to it.
ALTER TABLE jobs ADD COLUMN previous_list_id BIGINT;
