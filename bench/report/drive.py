#!/usr/bin/env python3
"""Helpers of bench/report/run.sh (Python 3 stdlib only). Each subcommand but sql prints
one JSON line on standard output.

  drive.py setup URL PORT
      First use of a fresh installation with all components: the Hub's admin password,
      the global settings (the Mailer at 127.0.0.1:PORT, tracking http://127.0.0.1:PORT),
      events transferred every second, group Sales and user anna.
  drive.py job URL [--timeout S]
      Logs anna in to the User Interface, makes a job, uploads a 3-row CSV, saves a message
      with one tracked link, tests, authorizes and sends it, and waits until its progress
      says "completed" (the relay-less Mailer writes into its outbox). Prints the job id.
  drive.py sql sqlite|postgres JOB RECIPIENTS EVENTS NOW_MS
      Prints the SQL script that replaces the job's sent recipients, delivery and tracking
      events with RECIPIENTS recipients (each one 'sent' delivery event) and EVENTS
      tracking events, then rebuilds the job's report aggregates with the statements of
      migration 0010_report_aggregates.sql restricted to the job. Deterministic: both
      databases get the same rows (see EVENT MIX below).
  drive.py time URL JOB N
      Logs anna in and times GET /lui/api/jobs/JOB/report?people_only=true and =false:
      one warm-up each, then N requests each (alternating), on a fresh loopback connection
      each. Prints milliseconds (median, max, all) and the figures of the last answers.
"""

import json
import os
import statistics
import sys
import time

CLIENT = ("lui@shop.example", "distribute-pw")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tutti_api import USER, Session, first_use  # noqa: E402


def setup(url, port):
    hub = first_use(url)
    hub.expect(200, "PUT", "/settings/global", {
        "mailer": {"host": f"127.0.0.1:{port}", "client_address": CLIENT[0],
                   "client_password": CLIENT[1]},
        "tracking": {"scheme": "http", "host": "127.0.0.1", "port": int(port)},
    })
    components = hub.expect(200, "GET", "/settings/components")
    components["event_transfer_seconds"] = 1
    hub.expect(200, "PUT", "/settings/components", components)
    hub.expect(201, "POST", "/groups", {"name": "Sales"})
    hub.expect(201, "POST", "/accounts", USER)
    print(json.dumps({"ok": True}))


CSV = b"email,name\nann@example.org,Ann\nbob@example.org,Bob\ncy@example.org,Cy\n"
MESSAGE = {
    "subject": "Sale for &NAME;", "from_name": "Shop", "from_address": "news@shop.example",
    "html": '<p>Hello &NAME;</p><p><a href="https://shop.example/sale">Sale</a></p>',
    "text": "Hello &NAME;\n",
}


def wait_for(what, timeout, poll):
    deadline = time.monotonic() + timeout
    while True:
        done, last = poll()
        if done:
            return last
        if time.monotonic() > deadline:
            sys.exit(f"{what} did not happen within {timeout} s: {str(last)[:2000]}")
        time.sleep(0.1)


def job(url, timeout):
    lui = Session(url, "/lui")
    lui.login(USER)
    job_id = lui.expect(201, "POST", "/jobs", {"title": "bench report"})["id"]
    lui.expect(202, "POST", f"/jobs/{job_id}/recipients?file_name=three.csv", CSV,
               headers={"Content-Type": "text/csv"})

    def imported():
        lst = lui.expect(200, "GET", f"/jobs/{job_id}/recipients")
        return lst.get("state") != "importing", lst
    lst = wait_for("the import", timeout, imported)
    if lst.get("state") != "ready" or lst.get("accepted") != 3:
        sys.exit(f"the import ended: {lst}")
    view = lui.expect(200, "PUT", f"/jobs/{job_id}/message", MESSAGE)
    if view.get("problems"):
        sys.exit(f"the message has problems: {view['problems']}")
    lui.expect(200, "POST", f"/jobs/{job_id}/test", {"addresses": ["me@shop.example"]})
    lui.expect(200, "POST", f"/jobs/{job_id}/authorize", {})
    lui.expect(200, "POST", f"/jobs/{job_id}/send", {})

    def completed():
        p = lui.expect(200, "GET", f"/jobs/{job_id}/progress")
        return p.get("state") == "completed", p
    p = wait_for("the job's completion", timeout, completed)
    print(json.dumps({"job": job_id, "progress": p}))


# EVENT MIX. x is a multiplicative hash of the event number i (deterministic, the same in
# SQLite and PostgreSQL: every intermediate fits a 64-bit integer for i < 2^31).
#   kind:      x % 100 < 59 open, < 99 click, else unsubscribe (59% / 40% / 1%)
#   link:      clicks (x >> 12) % 10, else NULL
#   recipient: 70% of events (x >> 8) % RECIPIENTS, 30% (x >> 8) % (RECIPIENTS / 5): every
#              recipient may react, the first fifth more often (several events each)
#   machine:   (x >> 20) % 5 = 0 'proxy' (20%), else '' (a person)
#   at_ms:     NOW_MS + (x >> 3) % 48 h
HASH = "((n.i * 2654435761) % 4294967296)"


def sql(flavour, job_id, recipients, events, now_ms):
    q = f"'{job_id}'"
    if flavour == "sqlite":
        series = lambda hi: f"(SELECT value AS i FROM generate_series(0, {hi})) AS n"
    else:
        series = lambda hi: f"generate_series(0::bigint, {hi}::bigint) AS n(i)"
    r = int(recipients)
    hot = max(1, r // 5)
    x = HASH
    out = []
    if flavour == "sqlite":
        out.append("PRAGMA cache_size = -1000000; PRAGMA synchronous = OFF;")
    out.append("BEGIN;")
    out.append(f"CREATE TEMP TABLE bench_list AS SELECT min(list_id) AS list_id FROM sent_recipients WHERE job_id = {q};")
    for t in ("sent_recipients", "tracking_events", "delivery_events", "report_counts", "report_reactors", "report_uniques"):
        out.append(f"DELETE FROM {t} WHERE job_id = {q};")
    out.append(
        f"INSERT INTO sent_recipients (job_id, number, list_id, seq, addr_key) "
        f"SELECT {q}, n.i, (SELECT list_id FROM bench_list), n.i + 1, 'user' || n.i || '@example.org' "
        f"FROM {series(r - 1)};")
    out.append(
        f"INSERT INTO delivery_events (source, seq, job_id, recipient, kind, reply, at_ms) "
        f"SELECT 'bench-mailer', n.i, {q}, n.i, 'sent', '250 2.0.0 Ok: queued', {now_ms} + n.i / 20 "
        f"FROM {series(r - 1)};")
    out.append(
        f"INSERT INTO tracking_events (source, seq, job_id, kind, link, recipient, at_ms, agent, machine) "
        f"SELECT 'bench-trk', n.i, {q}, "
        f"CASE WHEN {x} % 100 < 59 THEN 'open' WHEN {x} % 100 < 99 THEN 'click' ELSE 'unsubscribe' END, "
        f"CASE WHEN {x} % 100 >= 59 AND {x} % 100 < 99 THEN ({x} >> 12) % 10 END, "
        f"CASE WHEN n.i % 10 < 7 THEN ({x} >> 8) % {r} ELSE ({x} >> 8) % {hot} END, "
        f"{now_ms} + ({x} >> 3) % 172800000, "
        f"'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', "
        f"CASE WHEN ({x} >> 20) % 5 = 0 THEN 'proxy' ELSE '' END "
        f"FROM {series(int(events) - 1)};")
    # Migration 0010_report_aggregates.sql, restricted to the job.
    people = "max(CASE WHEN machine = '' THEN 1 ELSE 0 END)"
    out += [
        "INSERT INTO report_counts (job_id, kind, link, hour, machine, n) "
        "SELECT job_id, kind, COALESCE(link, -1), at_ms / 3600000, CASE WHEN machine = '' THEN 0 ELSE 1 END, count(*) "
        f"FROM tracking_events WHERE job_id = {q} "
        "GROUP BY job_id, kind, COALESCE(link, -1), at_ms / 3600000, CASE WHEN machine = '' THEN 0 ELSE 1 END;",
        "INSERT INTO report_reactors (job_id, kind, link, recipient, people) "
        f"SELECT job_id, kind, -1, recipient, {people} "
        f"FROM tracking_events WHERE job_id = {q} AND recipient IS NOT NULL GROUP BY job_id, kind, recipient;",
        "INSERT INTO report_reactors (job_id, kind, link, recipient, people) "
        f"SELECT job_id, 'read', -1, recipient, {people} "
        f"FROM tracking_events WHERE job_id = {q} AND recipient IS NOT NULL AND kind IN ('open', 'click') GROUP BY job_id, recipient;",
        "INSERT INTO report_reactors (job_id, kind, link, recipient, people) "
        f"SELECT job_id, 'link', link, recipient, {people} "
        f"FROM tracking_events WHERE job_id = {q} AND recipient IS NOT NULL AND kind = 'click' AND link IS NOT NULL "
        "GROUP BY job_id, link, recipient;",
        "INSERT INTO report_reactors (job_id, kind, link, recipient, people) "
        f"SELECT DISTINCT job_id, 'delivery:' || kind, -1, recipient, 1 FROM delivery_events WHERE job_id = {q};",
        "INSERT INTO report_uniques (job_id, kind, link, people, n) "
        f"SELECT job_id, kind, link, 0, count(*) FROM report_reactors WHERE job_id = {q} GROUP BY job_id, kind, link;",
        "INSERT INTO report_uniques (job_id, kind, link, people, n) "
        f"SELECT job_id, kind, link, 1, count(*) FROM report_reactors WHERE job_id = {q} AND people = 1 GROUP BY job_id, kind, link;",
        "DROP TABLE bench_list;",
        "COMMIT;",
    ]
    if flavour == "sqlite":
        out.append("PRAGMA wal_checkpoint(TRUNCATE);")
    print("\n".join(out))


def ms(xs):
    return {"median": statistics.median(xs), "max": max(xs), "all": [round(v, 2) for v in xs]}


def time_report(url, job_id, n):
    lui = Session(url, "/lui")
    lui.login(USER)
    times = {True: [], False: []}
    last = {}
    for people in (True, False):   # warm-up
        lui.expect(200, "GET", f"/jobs/{job_id}/report?people_only={str(people).lower()}")
    for _ in range(n):
        for people in (True, False):
            t0 = time.perf_counter()
            status, answer = lui.request("GET", f"/jobs/{job_id}/report?people_only={str(people).lower()}")
            times[people].append(1000 * (time.perf_counter() - t0))
            if status != 200:
                sys.exit(f"the report answered {status}: {str(answer)[:2000]}")
            last[people] = answer
    brief = lambda r: {k: r.get(k) for k in ("recipients", "sent", "delivered", "opens", "clicks", "unsubscribes")} | {
        "hours": len(r.get("hours", [])), "links": len(r.get("links", []))}
    print(json.dumps({"people": ms(times[True]), "all": ms(times[False]),
                      "figures_people": brief(last[True]), "figures_all": brief(last[False])}))


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "setup":
        setup(a[1], a[2])
    elif a[0] == "job":
        timeout = float(a[a.index("--timeout") + 1]) if "--timeout" in a else 120
        job(a[1], timeout)
    elif a[0] == "sql":
        sql(*a[1:6])
    elif a[0] == "time":
        time_report(a[1], a[2], int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
