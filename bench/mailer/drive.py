#!/usr/bin/env python3
"""Helpers of bench/mailer/run.sh (Python 3 stdlib only). Each subcommand prints one JSON
line on standard output.

  drive.py job URL ROOT PID JOB N [--from ADDR] [--chunk ROWS] [--timeout S] [--poll S]
      Defines the benchmark job (merge fields, a conditional block, 10 tracked links, HTML
      and text) at the Mailer at URL, uploads N recipients in chunks, submits, and polls
      the progress every 100 ms (--poll) until "completed". Times submit → completed; reads the
      peak RSS (VmHWM) and CPU time of the tutti process PID.
  drive.py avg-size DIR
      The average size in bytes of the .eml files in DIR (a relay-less Mailer's outbox).
  drive.py source-overhead FROM TO
      The bytes smtp-source adds around its -l payload (its From/To/Date/Message-Id
      header), measured by letting it send one message to a counting SMTP listener.
  drive.py anchor PORT SESSIONS COUNT LENGTH FROM TO
      Runs smtp-source -d against 127.0.0.1:PORT and times it end to end.
"""

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

CLIENT = "bench@shop.example"
PASSWORD = "bench-pw"
FIELDS = ["EMAIL", "FIRSTNAME", "LASTNAME", "CITY", "CUSTNO", "TIER"]
CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Roma", "Wien", "Praha", "Lisboa"]
DOMAINS = ["example.org", "example.net", "example.com", "mail.example"]
PRODUCTS = [
    ("Linen shirt", "49.90"), ("Wool scarf", "29.00"), ("Leather belt", "39.50"),
    ("Canvas tote", "19.90"), ("Rain jacket", "119.00"), ("Desert boots", "139.00"),
    ("Cotton socks (5 pairs)", "24.90"), ("Denim jeans", "89.00"), ("Knit beanie", "22.00"),
    ("Travel backpack", "159.00"),
]


def row(i):
    """Recipient i: its values in the order of FIELDS."""
    first = "" if i % 17 == 0 else f"Ann{i % 977}"
    return [
        f"r{i}@{DOMAINS[i % len(DOMAINS)]}",
        first,
        f"Martin-{i % 4049}",
        CITIES[i % len(CITIES)],
        str(100000 + i),
        "gold" if i % 3 == 0 else "",
    ]


def html_body():
    items = "\n".join(
        f'<tr><td style="padding:8px;border-bottom:1px solid #eee">'
        f'<a href="https://shop.example/p{k + 1}?u=&CUSTNO;" style="color:#0a58ca">{name}</a>'
        f"<br><span style=\"color:#666\">Hand-picked for customers in &CITY;; free returns "
        f"within 30 days.</span></td><td style=\"padding:8px;text-align:right\">EUR {price}"
        f"</td></tr>"
        for k, (name, price) in enumerate(PRODUCTS)
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>November picks</title></head>
<body style="font-family:Arial,sans-serif;margin:0;padding:0;background:#f6f6f6">
<table width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table width="600" cellpadding="0" cellspacing="0" style="background:#ffffff">
<tr><td style="padding:24px"><h1 style="font-size:22px">Hello &FIRSTNAME; &LASTNAME;,</h1>
<p>Here are this month's picks for you, chosen from what customers in &CITY; liked most.
Your customer number is &CUSTNO;.</p>
.BB &TIER = "gold"
<p style="background:#fff3cd;padding:12px">As a gold member you get 20% off everything
until Sunday with the code GOLD-&CUSTNO;, and delivery is on us.</p>
.ELSE
<p style="background:#e7f1ff;padding:12px">Become a gold member: 20% off four times a year
and free delivery on every order. It takes a minute.</p>
.EB
</td></tr>
<tr><td style="padding:0 24px"><table width="100%" cellpadding="0" cellspacing="0">
{items}
</table></td></tr>
<tr><td style="padding:24px;color:#999;font-size:12px">You get this message because you
are a customer of Shop (&EMAIL;). Shop, 1 Main Street, 75001 Paris.</td></tr>
</table></td></tr></table>
</body></html>
"""


def text_body():
    items = "\n".join(
        f"- {name}, EUR {price}: https://shop.example/p{k + 1}?u=&CUSTNO;"
        for k, (name, price) in enumerate(PRODUCTS)
    )
    return f"""Hello &FIRSTNAME; &LASTNAME;,

Here are this month's picks for you, chosen from what customers in &CITY; liked most.
.BB &TIER = "gold"
As a gold member you get 20% off everything until Sunday with the code GOLD-&CUSTNO;.
.ELSE
Become a gold member: 20% off four times a year and free delivery on every order.
.EB

{items}

You get this message because you are a customer of Shop (&EMAIL;).
"""


def definition(sender):
    import base64
    return {
        "message": {
            "subject": "&FIRSTNAME;, your November picks",
            "from_name": "Shop",
            "from_address": sender,
            "html": html_body(),
            "text": text_body(),
            "charset": "UTF-8",
        },
        "fields": FIELDS,
        "address_column": 0,
        "name_column": 2,
        "tracking": {
            "base_url": "https://t.shop.example/trk",
            "key": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
            "kind": "personal",
            "opens": True,
            "clicks": True,
        },
    }


def secret(root):
    with open(os.path.join(root, "mailer/mailer.ini"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("ClusterSecret="):
                return line.split("=", 1)[1].strip()
    sys.exit(f"no ClusterSecret in {root}/mailer/mailer.ini")


class Api:
    def __init__(self, url, root):
        self.url = url.rstrip("/") + "/mailer/api"
        self.headers = {
            "Authorization": "Bearer " + secret(root),
            "tutti-client": CLIENT,
            "tutti-client-password": PASSWORD,
        }

    def call(self, method, path, body=None, content_type="application/json"):
        headers = dict(self.headers)
        if body is not None:
            headers["content-type"] = content_type
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            sys.exit(f"{method} {path}: {e.code} {e.read()[:2000].decode(errors='replace')}")


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


def job(url, root, pid, job_id, n, sender, chunk, timeout, poll):
    api = Api(url, root)
    status, answer = api.call("PUT", f"/jobs/{job_id}", json.dumps(definition(sender)).encode())
    if status != 201:
        sys.exit(f"defining the job answered {status}: {answer}")
    t0 = time.perf_counter()
    for first in range(0, n, chunk):
        body = "".join(
            json.dumps(row(i), separators=(",", ":")) + "\n" for i in range(first, min(n, first + chunk))
        ).encode()
        api.call("POST", f"/jobs/{job_id}/recipients?first={first}", body, "application/x-ndjson")
    upload = time.perf_counter() - t0
    rss_after_upload = proc_status(pid, "VmHWM")
    cpu0 = cpu_seconds(pid)
    t1 = time.perf_counter()
    api.call("POST", f"/jobs/{job_id}/submit", json.dumps({"recipients": n}).encode())
    deadline = t1 + timeout
    while True:
        _, p = api.call("GET", f"/jobs/{job_id}")
        if p.get("state") == "completed":
            break
        if time.perf_counter() > deadline:
            p["timed_out"] = True
            break
        time.sleep(poll)
    seconds = time.perf_counter() - t1
    out = {
        "job": job_id,
        "recipients": n,
        "state": p.get("state"),
        "sent": p.get("sent"),
        "failed": p.get("failed"),
        "deferred": p.get("deferred"),
        "waiting": p.get("waiting"),
        "seconds": seconds,
        "upload_seconds": upload,
        "tutti_cpu_seconds": cpu_seconds(pid) - cpu0,
        "rss_kb": proc_status(pid, "VmHWM"),
        "rss_after_upload_kb": rss_after_upload,
        "timed_out": p.get("timed_out", False),
    }
    print(json.dumps(out))


def avg_size(directory):
    sizes = [os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory) if f.endswith(".eml")]
    if not sizes:
        sys.exit(f"no .eml files in {directory}")
    crlf = b"\r\n" in open(os.path.join(directory, os.listdir(directory)[0]), "rb").read(4096)
    print(json.dumps({"messages": len(sizes), "avg_bytes": sum(sizes) / len(sizes),
                      "min": min(sizes), "max": max(sizes), "crlf": crlf}))


def source_overhead(sender, to):
    """One message of -l 1000 from smtp-source into a listener that counts the DATA bytes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    sizes = []

    def serve():
        c, _ = srv.accept()
        f = c.makefile("rb")
        c.sendall(b"220 count\r\n")
        while True:
            line = f.readline()
            if not line:
                break
            cmd = line[:4].upper()
            if cmd == b"DATA":
                c.sendall(b"354 go\r\n")
                n = 0
                while (line := f.readline()) not in (b".\r\n", b""):
                    n += len(line)
                sizes.append(n)
                c.sendall(b"250 ok\r\n")
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"250 ok\r\n")
        c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    subprocess.run(["smtp-source", "-m", "1", "-l", "1000", "-f", sender, "-t", to,
                    f"127.0.0.1:{port}"], check=True, timeout=30)
    t.join(30)
    if not sizes:
        sys.exit("smtp-source sent nothing to the counting listener")
    print(json.dumps({"overhead": sizes[0] - 1000}))


def anchor(port, sessions, count, length, sender, to):
    t0 = time.perf_counter()
    subprocess.run(["smtp-source", "-d", "-s", str(sessions), "-m", str(count), "-l", str(length),
                    "-f", sender, "-t", to, f"127.0.0.1:{port}"], check=True)
    seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"messages": count, "seconds": seconds, "rss_kb": ru.ru_maxrss,
                      "cpu_seconds": ru.ru_utime + ru.ru_stime}))


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "job":
        opts = {"--from": "news@shop.example", "--chunk": "10000", "--timeout": "3600",
                "--poll": "0.1"}
        pos = []
        it = iter(a[1:])
        for x in it:
            if x in opts:
                opts[x] = next(it)
            else:
                pos.append(x)
        url, root, pid, job_id, n = pos
        job(url, root, int(pid), job_id, int(n), opts["--from"], int(opts["--chunk"]),
            float(opts["--timeout"]), float(opts["--poll"]))
    elif a[0] == "avg-size":
        avg_size(a[1])
    elif a[0] == "source-overhead":
        source_overhead(a[1], a[2])
    elif a[0] == "anchor":
        anchor(int(a[1]), int(a[2]), int(a[3]), int(a[4]), a[5], a[6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
