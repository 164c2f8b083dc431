-- Report figures kept as events arrive, so a report counts short index ranges and a few
-- hundred rows whatever the job's size: event counts by kind, link, hour and machine flag;
-- and one row per recipient and reaction (open, click, read = opened or clicked, a link's
-- click, unsubscribe, each delivery result), marked when a person (not a machine) showed it.
CREATE TABLE report_counts (
    job_id  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    link    INTEGER NOT NULL,
    hour    INTEGER NOT NULL,
    machine INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (job_id, kind, link, hour, machine)
) WITHOUT ROWID;
CREATE TABLE report_reactors (
    job_id    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    link      INTEGER NOT NULL,
    recipient INTEGER NOT NULL,
    people    INTEGER NOT NULL,
    PRIMARY KEY (job_id, kind, link, recipient)
) WITHOUT ROWID;
INSERT INTO report_counts (job_id, kind, link, hour, machine, n)
    SELECT job_id, kind, COALESCE(link, -1), at_ms / 3600000, CASE WHEN machine = '' THEN 0 ELSE 1 END, count(*)
    FROM tracking_events GROUP BY job_id, kind, COALESCE(link, -1), at_ms / 3600000, CASE WHEN machine = '' THEN 0 ELSE 1 END;
INSERT INTO report_reactors (job_id, kind, link, recipient, people)
    SELECT job_id, kind, -1, recipient, max(CASE WHEN machine = '' THEN 1 ELSE 0 END)
    FROM tracking_events WHERE recipient IS NOT NULL GROUP BY job_id, kind, recipient;
INSERT INTO report_reactors (job_id, kind, link, recipient, people)
    SELECT job_id, 'read', -1, recipient, max(CASE WHEN machine = '' THEN 1 ELSE 0 END)
    FROM tracking_events WHERE recipient IS NOT NULL AND kind IN ('open', 'click') GROUP BY job_id, recipient;
INSERT INTO report_reactors (job_id, kind, link, recipient, people)
    SELECT job_id, 'link', link, recipient, max(CASE WHEN machine = '' THEN 1 ELSE 0 END)
    FROM tracking_events WHERE recipient IS NOT NULL AND kind = 'click' AND link IS NOT NULL GROUP BY job_id, link, recipient;
INSERT INTO report_reactors (job_id, kind, link, recipient, people)
    SELECT DISTINCT job_id, 'delivery:' || kind, -1, recipient, 1 FROM delivery_events;
