#!/usr/bin/env python3
"""Helpers of bench/import/run.sh (Python 3 stdlib only). Each subcommand but gen prints
one JSON line on standard output.

  drive.py gen FILE N
      Writes a CSV (header email,name,city) of N data rows: unique addresses
      user{k}@example{k%1000}.org; every row i with i % 100 == 37 (i >= 100) an exact copy
      of an earlier unique row (1%); every row with i % 1000 == 999 an invalid address
      broken{i} without @ (0.1%). Prints the expected counts as JSON.
  drive.py setup URL
      First use of a fresh installation's Hub (admin password, group Sales, user anna).
  drive.py tutti URL PID FILE [--timeout S] [--poll S]
      Logs anna in to the User Interface, makes a job, uploads FILE as its recipients
      (streamed from disk) and polls the list until it is "ready" or "failed". Times the
      start of the upload to the end of the import; reads the tutti process's RSS before,
      its peak RSS during the import (VmHWM, reset through clear_refs before the upload
      when the kernel allows it, and the largest VmRSS seen while polling) and its CPU time.
  drive.py anchor DB FILE
      The sqlite3 shell: a fresh DB, PRAGMA journal_mode=WAL, synchronous=FULL, a table with
      a UNIQUE email column, `.import --csv --skip 1 FILE r`. Times the process end to end;
      its peak RSS and CPU time come from wait4; the errors it prints per duplicate row go
      to DB.stderr and are counted.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse

CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Roma", "Wien", "Praha", "Lisboa"]


def unique_line(k):
    return f"user{k}@example{k % 1000}.org,Ann{k % 977} Martin-{k % 4049},{CITIES[k % len(CITIES)]}\n"


def gen(path, n):
    unique = duplicates = invalid = 0
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write("email,name,city\n")
        buf = []
        for i in range(n):
            if i % 1000 == 999:
                buf.append(f"broken{i},Bad {i},{CITIES[i % len(CITIES)]}\n")
                invalid += 1
            elif i % 100 == 37 and i >= 100:
                buf.append(unique_line((i * 7919) % unique))
                duplicates += 1
            else:
                buf.append(unique_line(unique))
                unique += 1
            if len(buf) == 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    os.replace(tmp, path)
    print(json.dumps({"rows": n, "unique": unique, "duplicates": duplicates, "invalid": invalid,
                      "bytes": os.path.getsize(path)}))


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tutti_api import USER, Session, first_use  # noqa: E402

def setup(url):
    hub = first_use(url)
    hub.expect(201, "POST", "/groups", {"name": "Sales"})
    hub.expect(201, "POST", "/accounts", USER)
    print(json.dumps({"ok": True}))


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0, same user or root)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def tutti(url, pid, path, timeout, poll):
    lui = Session(url, "/lui")
    lui.login(USER)
    job = lui.expect(201, "POST", "/jobs", {"title": "bench import"})
    job_id = job["id"]
    size = os.path.getsize(path)
    hwm_before = proc_status(pid, "VmHWM")
    rss_before = proc_status(pid, "VmRSS")
    peak_reset = reset_peak(pid)
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        status, answer = lui.request(
            "POST", f"/jobs/{job_id}/recipients?file_name={urllib.parse.quote(os.path.basename(path))}",
            f, headers={"Content-Type": "text/csv"}, length=size)
    upload = time.perf_counter() - t0
    if status != 202:
        sys.exit(f"the upload answered {status}: {str(answer)[:2000]}")
    rss_max = proc_status(pid, "VmRSS")
    deadline = t0 + timeout
    polls = 0
    while True:
        lst = lui.expect(200, "GET", f"/jobs/{job_id}/recipients")
        polls += 1
        rss_max = max(rss_max, proc_status(pid, "VmRSS"))
        if lst.get("state") != "importing":
            break
        if time.perf_counter() > deadline:
            lst["timed_out"] = True
            break
        # Short imports are polled more often so that the poll adds little to the time.
        time.sleep(min(poll, max(0.01, (time.perf_counter() - t0) / 100)))
    seconds = time.perf_counter() - t0
    out = {
        "job": job_id,
        "state": lst.get("state"),
        "failure": lst.get("failure"),
        "read_rows": lst.get("read_rows"),
        "accepted": lst.get("accepted"),
        "rejected": lst.get("rejected"),
        "duplicates": lst.get("duplicates"),
        "seconds": seconds,
        "upload_seconds": upload,
        "bytes": size,
        "polls": polls,
        "tutti_cpu_seconds": cpu_seconds(pid) - cpu0,
        "rss_before_kb": rss_before,
        "hwm_before_kb": hwm_before,
        "peak_reset": peak_reset,
        # With the reset, VmHWM is the peak of the import alone; without, of the process.
        "rss_kb": max(proc_status(pid, "VmHWM"), rss_max) if peak_reset else proc_status(pid, "VmHWM"),
        "rss_polled_max_kb": rss_max,
        "rss_after_kb": proc_status(pid, "VmRSS"),
        "timed_out": lst.get("timed_out", False),
    }
    print(json.dumps(out))


ANCHOR_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"


def anchor(db, path):
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(db + suffix)
        except FileNotFoundError:
            pass
    script = (
        f"{ANCHOR_PRAGMAS}\n"
        "CREATE TABLE r(email TEXT UNIQUE, name TEXT, city TEXT);\n"
        f".import --csv --skip 1 '{path}' r\n"
    )
    with open(db + ".stderr", "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(["sqlite3", db], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=err)
        p.stdin.write(script.encode())
        p.stdin.close()
        _, status, ru = os.wait4(p.pid, 0)
        seconds = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    errors = unique_errors = 0
    first_other = None
    with open(db + ".stderr", "rb") as f:
        for line in f:
            errors += 1
            if b"UNIQUE constraint failed" in line:
                unique_errors += 1
            elif first_other is None:
                first_other = line.decode(errors="replace").strip()
    count = subprocess.run(["sqlite3", db, "SELECT count(*) FROM r; PRAGMA journal_mode;"],
                           capture_output=True, text=True, check=True).stdout.split()
    print(json.dumps({
        "seconds": seconds,
        "exit": p.returncode,
        "rows_in_table": int(count[0]),
        "journal_mode": count[1],
        "unique_errors": unique_errors,
        "other_errors": errors - unique_errors,
        "first_other_error": first_other,
        "rss_kb": ru.ru_maxrss,
        "cpu_seconds": ru.ru_utime + ru.ru_stime,
        "pragmas": ANCHOR_PRAGMAS,
    }))


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "gen":
        gen(a[1], int(a[2]))
    elif a[0] == "setup":
        setup(a[1])
    elif a[0] == "tutti":
        opts = {"--timeout": "3600", "--poll": "0.2"}
        pos = []
        it = iter(a[1:])
        for x in it:
            if x in opts:
                opts[x] = next(it)
            else:
                pos.append(x)
        url, pid, path = pos
        tutti(url, int(pid), path, float(opts["--timeout"]), float(opts["--poll"]))
    elif a[0] == "anchor":
        anchor(a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
