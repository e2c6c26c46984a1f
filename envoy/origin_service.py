#!/usr/bin/env python3
"""The reference origin service for a policy's `allow_origins_from`: the
tenants' origins, kept in a SQLite file, served the way edge-cors fetches them.

The contract (reimplement it on your own database in a few lines):

  request  GET <path> (default /cors/origins), with `If-None-Match: <ETag>`
           once the edge has had an answer; sent by Envoy to the cluster that
           `allow_origins_from.cluster` names, every `refresh_seconds`
  200      content-type: application/json, body {"origins": ["https://shop.acme.example",
           "https://*.tenants.example"]} (an empty list is valid) and an ETag header
  304      when If-None-Match equals the current ETag: no body, nothing changed

The edge allows the union of the policy's static `allow_origins` and this list.
The source is trusted like the configuration, yet the edge checks every entry
with the same rules as `allow_origins`, and more: an entry is a tenant's site,
never "*", "null" or "https://*". An answer with a bad entry adds nothing, but
its removals still apply (the edge keeps the entries of its set that the answer
still lists). `add` refuses what the edge would refuse whatever the policy says
(scheme, port, shape, site); what depends on the policy (plain http:// with
credentials) or on the Public Suffix List (https://*.github.io) only the edge
knows: `edge-cors check` tells.

  python3 envoy/origin_service.py serve --db FILE --port N [--host 127.0.0.1] [--path /cors/origins] [--quiet]
  python3 envoy/origin_service.py add ORIGIN [ORIGIN...] [--db FILE]
  python3 envoy/origin_service.py remove ORIGIN [ORIGIN...] [--db FILE]
  python3 envoy/origin_service.py list [--db FILE]

--db defaults to target/run/tenants.sqlite in the repository (what `make run` serves).
"""

import argparse
import hashlib
import json
import os
import re
import signal
import sqlite3
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DB = os.path.join(ROOT, "target/run/tenants.sqlite")
# scheme://host[:port], no path, no user: what a browser sends in Origin. The
# host may start with `*.` and the port may be `*`, as in allow_origins.
ORIGIN = re.compile(r"^([a-z][a-z0-9+.-]*)://((\*\.)?[a-z0-9_.-]+|\[[0-9a-f:.]+\])(:(\d{1,5}|\*))?$", re.I)
# Exact origins only (no wildcard host) for these app schemes, as at the edge.
APP_SCHEMES = {"chrome-extension", "moz-extension", "safari-web-extension", "capacitor", "ionic", "tauri"}


def problem(origin):
    """Why the edge would refuse this entry whatever the policy, or None."""
    if origin.lower() in ("*", "null") or re.fullmatch(r"https?://\*", origin, re.I):
        return "is not a site: the edge never takes \"*\", \"null\" or a scheme wildcard from this service"
    m = ORIGIN.match(origin)
    if not m:
        return "is not an origin: write scheme://host[:port] with no path, such as https://shop.acme.example or https://*.tenants.example"
    scheme, host, port = m.group(1).lower(), m.group(2), m.group(5)
    if scheme not in ("http", "https") and scheme not in APP_SCHEMES:
        return f"has the scheme {scheme}: the edge takes http, https and the app schemes {', '.join(sorted(APP_SCHEMES))}"
    if scheme in APP_SCHEMES and (host.startswith("*.") or port == "*"):
        return "is an app origin with a wildcard: app origins are exact"
    if port and port != "*" and not 1 <= int(port) <= 65535:
        return f"has the port {port}: a port is 1 to 65535 (or * for any)"
    if host.startswith("*.") and host.count(".") < 2:
        return "is a wildcard over a top-level domain: name the registrable domain, such as https://*.example.com"
    return None


def counted(n):
    return f"{n} origin{'' if n == 1 else 's'}"


def connect(db):
    """A connection with the table in place. The file's directory is created
    too, so the first `add` or `serve` on a fresh checkout just works."""
    os.makedirs(os.path.dirname(os.path.abspath(db)), exist_ok=True)
    # timeout: wait for a concurrent `add` to finish rather than fail.
    conn = sqlite3.connect(db, timeout=5)
    conn.execute("CREATE TABLE IF NOT EXISTS origins (origin TEXT PRIMARY KEY, added_at TEXT)")
    return conn


def origins(db):
    conn = connect(db)
    try:
        return [row[0] for row in conn.execute("SELECT origin FROM origins ORDER BY origin")]
    finally:
        conn.close()


def answer(db):
    """(body, ETag, count) of the current list. The ETag is a hash of the body, so it
    changes exactly when the list does, with no version column to maintain."""
    listed = origins(db)
    body = (json.dumps({"origins": listed}) + "\n").encode()
    return body, '"%s"' % hashlib.sha256(body).hexdigest()[:16], len(listed)


def handler(db, path, quiet):
    """The request handler; `path` is one path or several (a policy whose
    sources name the same cluster with different paths)."""
    paths = (path,) if isinstance(path, str) else tuple(path)

    class Origins(BaseHTTPRequestHandler):
        # HTTP/1.1 so Envoy can keep its connection to the service open.
        protocol_version = "HTTP/1.1"

        def send(self, status, headers, body=b"", count=None):
            self.send_response(status)
            if status != 304:  # a 304 has no body, hence no length
                headers = headers + [("content-length", str(len(body)))]
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            if not quiet:
                when = time.strftime("%Y-%m-%d %H:%M:%S")
                n = "" if count is None else f" ({counted(count)})"
                print(f"{when} {self.command} {self.path} {status}{n}", file=sys.stderr, flush=True)

        def do_GET(self):
            if urlsplit(self.path).path not in paths:
                return self.send(404, [("content-type", "text/plain")], f"not found: the origins are at {', '.join(paths)}\n".encode())
            try:
                body, etag, count = answer(db)
            except sqlite3.Error as e:
                # A 5xx is not an update: the edge keeps what it has.
                return self.send(500, [("content-type", "text/plain")], f"database error: {e}\n".encode())
            # The edge sends one tag; a list or W/ (curl, caches) is honoured too.
            tags = [t.strip().removeprefix("W/") for t in self.headers.get("if-none-match", "").split(",")]
            if etag in tags or "*" in tags:
                return self.send(304, [("etag", etag)], count=count)
            self.send(200, [("content-type", "application/json"), ("etag", etag), ("cache-control", "no-cache")], body, count)

        do_HEAD = do_GET

        def not_allowed(self):
            self.send(405, [("content-type", "text/plain"), ("allow", "GET, HEAD")], b"only GET and HEAD\n")

        do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = not_allowed

        def log_message(self, *args):
            pass  # one line per request is printed by send()

    return Origins


def serve(a):
    connect(a.db).close()  # a bad --db fails now, not on the first request
    try:
        server = ThreadingHTTPServer((a.host, a.port), handler(a.db, a.path, a.quiet))
    except OSError as e:
        sys.exit(f"cannot listen on {a.host}:{a.port}: {e.strerror}")
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"origin service on http://{host}:{port}{a.path} (db {a.db})", flush=True)
    # As PID 1 in a container, TERM would otherwise be ignored.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def add(a):
    bad = [(o, problem(o)) for o in a.origins if problem(o)]
    for o, why in bad:
        print(f"{o!r} {why}", file=sys.stderr)
    if bad:
        sys.exit(2)  # nothing is added when one is wrong, like the edge
    conn = connect(a.db)
    with conn:
        for o in a.origins:
            new = conn.execute("INSERT OR IGNORE INTO origins VALUES (?, datetime('now'))", (o,)).rowcount
            total = conn.execute("SELECT count(*) FROM origins").fetchone()[0]
            print(f"{'added' if new else 'already there:'} {o} ({counted(total)} now)")
    conn.close()


def remove(a):
    conn = connect(a.db)
    missing = False
    with conn:
        for o in a.origins:
            gone = conn.execute("DELETE FROM origins WHERE origin = ?", (o,)).rowcount
            total = conn.execute("SELECT count(*) FROM origins").fetchone()[0]
            if gone:
                print(f"removed {o} ({counted(total)} now)")
            else:
                missing = True
                print(f"{o} is not in {a.db}: nothing removed ({counted(total)})", file=sys.stderr)
    conn.close()
    sys.exit(1 if missing else 0)


def list_origins(a):
    conn = connect(a.db)
    rows = conn.execute("SELECT origin, added_at FROM origins ORDER BY origin").fetchall()
    conn.close()
    for origin, added in rows:
        print(f"{origin}  (added {added} UTC)")
    print(f"{counted(len(rows))} in {a.db}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", default=DEFAULT_DB, help="the SQLite file (default: %(default)s)")
    s = sub.add_parser("serve", parents=[db], help="answer GET <path> with the origins")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True, help="0: a free port (the start line shows it)")
    s.add_argument("--path", default="/cors/origins")
    s.add_argument("--quiet", action="store_true", help="no line per request on stderr")
    s.set_defaults(run=serve)
    for name, run, what in (("add", add, "add origins"), ("remove", remove, "remove origins")):
        p = sub.add_parser(name, parents=[db], help=what)
        p.add_argument("origins", nargs="+", metavar="ORIGIN")
        p.set_defaults(run=run)
    sub.add_parser("list", parents=[db], help="show the origins").set_defaults(run=list_origins)
    a = ap.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
