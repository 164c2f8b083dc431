-- Report figures kept as events arrive, so a report reads a few hundred rows whatever the
-- job's size: event counts by kind, link, hour and machine flag; one row per recipient and
-- reaction (open, click, read = opened or clicked, a link's click, unsubscribe, each
-- delivery result), marked when a person (not a machine) showed it; and how many
-- recipients showed each reaction (all, and people), counted up as those rows appear.
CREATE TABLE report_counts (
    job_id  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    link    BIGINT NOT NULL,
    hour    BIGINT NOT NULL,
    machine BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (job_id, kind, link, hour, machine)
);
CREATE TABLE report_reactors (
    job_id    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    link      BIGINT NOT NULL,
    recipient BIGINT NOT NULL,
    people    BIGINT NOT NULL,
    PRIMARY KEY (job_id, kind, link, recipient)
);
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
CREATE TABLE report_uniques (
    job_id TEXT NOT NULL,
    kind   TEXT NOT NULL,
    link   BIGINT NOT NULL,
    people BIGINT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (job_id, kind, link, people)
);
INSERT INTO report_uniques (job_id, kind, link, people, n)
    SELECT job_id, kind, link, 0, count(*) FROM report_reactors GROUP BY job_id, kind, link;
INSERT INTO report_uniques (job_id, kind, link, people, n)
    SELECT job_id, kind, link, 1, count(*) FROM report_reactors WHERE people = 1 GROUP BY job_id, kind, link;
