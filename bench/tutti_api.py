"""What the benchmarks share: a cookie session against a Tutti component's JSON API, and the
Hub's first use (the default administrator password changed)."""

import http.client
import json
import sys
import urllib.parse


class Session:
    """A cookie session against one component's JSON API (/hub/api or /lui/api)."""

    def __init__(self, url, prefix):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.prefix = prefix + "/api"
        self.cookies = {}
        self.csrf = ""

    def request(self, method, path, body=None, headers=None, length=None, timeout=600):
        h = {"Host": f"{self.host}:{self.port}"}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method != "GET" and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if length is not None:
            h["Content-Length"] = str(length)
        h.update(headers or {})
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            c.request(method, self.prefix + path, body=body, headers=h)
            r = c.getresponse()
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    name, _, rest = v.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            data = r.read()
        finally:
            c.close()
        try:
            answer = json.loads(data) if data else None
        except ValueError:
            answer = data.decode(errors="replace")
        return r.status, answer

    def expect(self, want, method, path, body=None, **kw):
        status, answer = self.request(method, path, body, **kw)
        if status != want:
            sys.exit(f"{method} {self.prefix}{path}: {status} (wanted {want}): {str(answer)[:2000]}")
        return answer

    def login(self, body):
        answer = self.expect(200, "POST", "/session", body)
        self.csrf = answer["csrf_token"]
        return answer


ADMIN_PW = "bench-admin-pw"
USER = {"user_name": "anna", "group_name": "Sales", "password": "anna-password"}



def first_use(url):
    """Changes the default administrator password; returns a Hub session logged in with the new one."""
    hub = Session(url, "/hub")
    hub.login({"password": "admin"})
    hub.expect(204, "POST", "/admin/password", {"old_password": "admin", "new_password": ADMIN_PW})
    hub = Session(url, "/hub")
    hub.login({"password": ADMIN_PW})
    return hub
