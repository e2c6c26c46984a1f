#!/usr/bin/env python3
"""`make run POLICY=file`: Envoy with edge-cors running your policy.

  make run POLICY=my-policy.json            # JSON or YAML, checked like `edge-cors check`
  make run POLICY=my-policy.yaml UPSTREAM=127.0.0.1:3000 PORT=8000 ADMIN_PORT=8001 PLAYGROUND_PORT=8081
  make run POLICY=live.json ORIGINS=127.0.0.1:8081   # allow_origins_from: your origin service
  make run                                  # the demo: --config envoy/envoy.yaml

The Envoy configuration is `edge-cors render --target envoy-bootstrap`
(written to target/run/envoy.yaml). Without UPSTREAM, Envoy forwards to the
demo upstream `make run` uses (envoy/envoy.yaml's stand-in: 200 with `etag`,
`x-request-id` and `x-internal` headers, `/status/N` answers N), served here
on a free loopback port. Prints curl commands that fit the policy (its first
allowed origin, a preflight with its methods and headers, a refused origin),
then runs Envoy until Ctrl-C.

A policy with `allow_origins_from` (at the top level or in a rule) fetches
its live origins from an Envoy cluster: each cluster it names is rendered
(`--cluster NAME=HOST:PORT`) to the reference origin service
(envoy/origin_service.py), started here on a free loopback port with a
fresh target/run/tenants.sqlite, or to ORIGINS=host:port (--origins), your
own service. The printed lines then show a made-up tenant's preflight
refused, the command that adds it, and the same preflight allowed once the
filter has fetched the list again.

Either way it also serves the playground (envoy/playground.html) on
http://localhost:PLAYGROUND_PORT, a second origin: buttons that call the API
from a browser and show what JavaScript saw.

  --config FILE   run this Envoy configuration instead of rendering a policy
                  (`make run` without POLICY: envoy/envoy.yaml, the demo; its
                  ports 10000, 9901 and 10001 become --port, --admin-port and
                  --demo-port, and 10002 the port of the tenants' origin
                  service (envoy/origin_service.py), which it starts on a free
                  loopback port with a fresh target/run/tenants.sqlite)
  --check-ports   only check that PORT, ADMIN_PORT and PLAYGROUND_PORT are
                  free (make runs this first, so a busy port is the first
                  thing said)
  --print-only    check, render and print the curl commands; start nothing
                  (the playground's port is not checked)
  --origins HOST:PORT   with POLICY: the origin service for every cluster the
                  policy's allow_origins_from names (default: the reference
                  service, started here)
  --tenants-db FILE     with POLICY: the reference service's database
                  (default target/run/tenants.sqlite, emptied at start)
"""

import argparse
import ctypes
import html
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import origin_service  # envoy/origin_service.py, beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The debug build `make test` has made already (`make run` builds it if not).
CLI = os.path.join(ROOT, "target/debug/edge-cors")
ENVOY = os.path.join(ROOT, ".venv/bin/envoy")
WASM = os.path.join(ROOT, "target/wasm32-wasip1/release/edge_cors.wasm")
OUT_DIR = os.path.join(ROOT, "target/run")
PLAYGROUND = os.path.join(ROOT, "envoy/playground.html")
# The demo's origin service: envoy/envoy.yaml's cluster tenant_origins (port
# 10002 there) and its policy's allow_origins_from path; the database is
# origin_service.py's default, so its add/remove/list need no --db.
TENANTS_DB = origin_service.DEFAULT_DB
TENANTS_PATH = "/cors/origins"
TENANTS_PORT = 10002
REFUSED = "https://not-allowed.example"
# Made-up tenants for the live-origins example: the first one the policy's
# static list does not already allow.
TENANTS = ("https://shop.acme.example", "https://shop.tenant-demo.example")
SAFELISTED = ("GET", "HEAD", "POST")
PR_SET_PDEATHSIG = 1


def port_free(host, port):
    """Whether Envoy could bind host:port (SO_REUSEADDR, like Envoy, so
    connections in TIME_WAIT do not count)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def check_ports(port, admin_port, playground_port=0, demo=False):
    """Stops with a message naming the port and its variable."""
    ports = [("PORT", port), ("ADMIN_PORT", admin_port)] + ([("PLAYGROUND_PORT", playground_port)] if playground_port else [])
    for i, (var, p) in enumerate(ports):
        for other, q in ports[:i]:
            if p == q:
                fail(f"{other} and {var} are both {p}: set {var}=... to another port")
    # The listener binds 0.0.0.0, the admin and the playground 127.0.0.1.
    for host, (var, p) in zip(("0.0.0.0", "127.0.0.1", "127.0.0.1"), ports):
        if not port_free(host, p):
            fail(f"port {p} is in use: set {var}=... to a free port (make run {'' if demo else 'POLICY=... '}{var}=...)")


def fail(msg, code=1):
    print(msg, file=sys.stderr)
    sys.exit(code)


class DemoUpstream(BaseHTTPRequestHandler):
    """envoy/envoy.yaml's demo upstream: `/status/N` answers N,
    `/upstream-cors` sends its own CORS headers, anything else 200 with
    `etag`, `x-request-id` and `x-internal`."""

    protocol_version = "HTTP/1.1"

    def answer(self):
        path = self.path.split("?")[0]
        status, headers = 200, [("etag", '"v1"'), ("x-request-id", "demo-1"), ("x-internal", "not exposed")]
        body = '{"hello": "world"}\n'
        m = re.search(r"/status/(\d{3})$", path)
        if m:
            status, headers = int(m.group(1)), []
            body = json.dumps({"error": f"upstream says {status}"}) + "\n"
        elif path.endswith("/upstream-cors"):
            headers = [("access-control-allow-origin", "*"), ("access-control-allow-methods", "GET, PUT, DELETE"),
                       ("vary", "Accept-Encoding")]
            body = '{"hello": "from an upstream that sets its own CORS headers"}\n'
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        data = body.encode()
        self.send_response(status)
        for k, v in headers + [("content-type", "application/json"), ("content-length", str(len(data)))]:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = answer

    def log_message(self, *args):
        pass


def start_demo_upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), DemoUpstream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_playground(port, api, base, policy_html):
    """envoy/playground.html on 127.0.0.1:port, for http://localhost:port
    (the page's origin) and http://127.0.0.1:port (the origin its
    refused-origin button calls from)."""
    config = json.dumps({"api": api, "base": base, "refusedFrom": f"http://127.0.0.1:{port}", "policy": policy_html})
    with open(PLAYGROUND) as f:
        page = re.sub(r"/\*CONFIG\*/.*?/\*END\*/", lambda _: config.replace("</", "<\\/"), f.read(), count=1).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            if urlsplit(self.path).path != "/":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("cache-control", "no-store")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Page)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def reset_tenants(db):
    """An empty tenants' database: the first preflight from a tenant is then
    always refused, and a tenant added in an earlier session cannot make the
    printed examples lie."""
    for stale in (db, db + "-journal"):
        if os.path.exists(stale):
            os.remove(stale)
    origin_service.connect(db).close()


def serve_origins(db, paths):
    """envoy/origin_service.py's server on a free loopback port, in this
    process like the playground, so it ends with run.py. Quiet: Envoy asks
    every refresh."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), origin_service.handler(db, paths, quiet=True))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_origin_service():
    """The demo's origin service (envoy/envoy.yaml's tenant_origins)."""
    reset_tenants(TENANTS_DB)
    return serve_origins(TENANTS_DB, TENANTS_PATH)


def live_sources(policy):
    """(rule index or None for the top level, its policy object, its
    allow_origins_from) for every policy of the file that has one."""
    out = []
    if isinstance(policy.get("allow_origins_from"), dict):
        out.append((None, policy, policy["allow_origins_from"]))
    for i, rule in enumerate(policy.get("rules") or []):
        if isinstance(rule, dict) and isinstance(rule.get("allow_origins_from"), dict):
            out.append((i, rule, rule["allow_origins_from"]))
    return out


def request_target(index, obj, base_path):
    """(path, Host or None) of a request the policy at `index` answers, or
    None when only a route name selects it (the rendered route has none)."""
    if index is None:
        return base_path, None
    match = obj.get("match") or {}
    if match.get("routes"):
        return None
    prefix = match.get("path_prefix")
    path = prefix + ("hello" if prefix.endswith("/") else "/hello") if prefix else base_path
    host = None
    if match.get("hosts"):
        host = match["hosts"][0]
        host = "app." + host[2:] if host.startswith("*.") else host
        host = host[:-2] if host.endswith(":*") else host
    return path, host


def tenant_flip(a, policy, base_path):
    """The live-origins example: a made-up tenant origin, a method and a
    request that a policy with allow_origins_from allows only once its origin
    service lists that origin. `edge-cors explain` (the filter's own engine)
    picks it: its verdict is "not decided" exactly then."""
    for index, obj, source in live_sources(policy):
        target = request_target(index, obj, base_path)
        if not target:
            continue
        path, host = target
        method = pick_method(obj)
        for origin in TENANTS:
            cmd = [a.cli, "explain", a.policy, "--origin", origin, "--method", method, "--path", path] + (["--host", host] if host else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode == 1 and any(l.startswith("not decided:") for l in out.stdout.splitlines()):
                return {"index": index, "obj": obj, "source": source, "path": path, "host": host, "method": method, "origin": origin}
    return None


def shell(cmd):
    return " ".join(shlex.quote(c) for c in cmd)


def allows(origins, origin):
    """Whether a top-level allow_origins lets `origin` (http://host:port) in,
    for the note run.py prints (exact entries, host:* and scheme wildcards)."""
    host = origin.rsplit(":", 1)[0]
    return any(canonical_origin(o) in (origin, f"{host}:*", "http://*", "*") for o in origins)


def embedded_policy(bootstrap):
    """The policy JSON of the rendered bootstrap (the StringValue's block)."""
    lines = bootstrap.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*value: \|\s*$", line):
            indent = len(line) - len(line.lstrip())
            block = []
            for l in lines[i + 1:]:
                if l.strip() and len(l) - len(l.lstrip()) <= indent:
                    break
                block.append(l)
            return json.loads("\n".join(block))
    raise ValueError("no policy block in the rendered bootstrap")


def canonical_origin(o):
    scheme, _, rest = o.partition("://")
    scheme, rest = scheme.lower(), rest.rstrip("/").lower()
    default = {"https": ":443", "http": ":80"}.get(scheme)
    if default and rest.endswith(default):
        rest = rest[: -len(default)]
    return f"{scheme}://{rest}"


def allowed_origin(origins):
    """The first exact origin the policy allows, else a made-up one that a
    wildcard entry allows."""
    for o in origins:
        if "*" not in o and o != "null":
            return canonical_origin(o)
    for o in origins:
        scheme, _, rest = o.partition("://")
        if rest.startswith("*.") and ":*" not in rest:
            return canonical_origin(f"{scheme}://app.{rest[2:]}")
        if rest.startswith("*.") and rest.endswith(":*"):
            return canonical_origin(f"{scheme}://app.{rest[2:-2]}:8443")
        if rest.endswith(":*"):
            return canonical_origin(f"{scheme}://{rest[:-2]}:3000")
        if rest == "*":
            return f"{scheme}://app.example"
        if o == "*":
            return "https://app.example"
    return "null" if "null" in origins else None


def pick_method(policy):
    """The policy's first non-safelisted method (a preflight is then needed),
    else POST when allowed, else its first."""
    methods = [m.upper() for m in policy.get("allow_methods") or [] if m != "*"]
    if "*" in (policy.get("allow_methods") or []):
        return "PUT"
    return next((m for m in methods if m not in SAFELISTED), "POST" if "POST" in methods or not methods else methods[0])


def curl_lines(policy, port, demo):
    """(comment, curl command) pairs that fit the policy."""
    base = f"localhost:{port}"
    path = "/api/hello" if demo else "/"
    origins = policy.get("allow_origins") or []
    origin = allowed_origin(origins)
    method = pick_method(policy)
    headers = [h.lower() for h in policy.get("allow_headers") or [] if h != "*"]
    if not headers and "*" in (policy.get("allow_headers") or []) and not policy.get("allow_credentials"):
        headers = ["x-custom-header"]
    report = policy.get("mode") == "report"
    out = []
    if origin:
        pre = ["curl", "-si", "-X", "OPTIONS", f"{base}{path}", "-H", f"Origin: {origin}",
               "-H", f"Access-Control-Request-Method: {method}"]
        if headers:
            pre += ["-H", f"Access-Control-Request-Headers: {','.join(headers)}"]
        out.append((f"a preflight from {origin} for {method}"
                    + (f" with {', '.join(headers)}" if headers else "")
                    + (": report mode forwards it to the upstream" if report
                       else f": {policy.get('preflight_status', 204)} with Access-Control-Allow-Origin and -Methods"), pre))
        out.append((f"the actual request: the upstream's answer with Access-Control-Allow-Origin: {origin}",
                    ["curl", "-si", f"{base}{path}", "-H", f"Origin: {origin}"]))
        if demo:
            out.append(("an upstream error keeps its CORS headers",
                        ["curl", "-si", f"{base}/api/status/401", "-H", f"Origin: {origin}"]))
    if any(o in ("*", "https://*") for o in origins):
        out.append(("every https origin is allowed: no refused-origin example", None))
    else:
        out.append(("a refused origin: " + ("report mode forwards it (and logs the refusal)" if report
                    else "403, no Access-Control-Allow-Origin"),
                    ["curl", "-si", "-X", "OPTIONS", f"{base}{path}", "-H", f"Origin: {REFUSED}",
                     "-H", f"Access-Control-Request-Method: {method}"]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", help="the policy file (JSON or YAML)")
    ap.add_argument("--upstream", default="", help="HOST:PORT (default: the demo upstream)")
    ap.add_argument("--port", type=int, default=10000)
    ap.add_argument("--admin-port", type=int, default=9901)
    ap.add_argument("--cli", default=CLI)
    ap.add_argument("--envoy", default=ENVOY)
    ap.add_argument("--module", default=WASM)
    ap.add_argument("--config", help="an Envoy configuration to run as it is (the demo: envoy/envoy.yaml)")
    ap.add_argument("--shell", choices=["wasm", "module"], default="wasm",
                    help="with --config: run its edge-cors filter as the wasm module (default) or the Envoy dynamic module (make envoy-module)")
    ap.add_argument("--demo-port", type=int, default=10001, help="with --config: the port of its demo upstream listener")
    ap.add_argument("--playground-port", type=int, default=8080, help="the playground page (0: none)")
    ap.add_argument("--check-ports", action="store_true")
    ap.add_argument("--print-only", action="store_true")
    ap.add_argument("--origins", default="", help="HOST:PORT of your origin service (allow_origins_from); default: the reference one")
    ap.add_argument("--tenants-db", default=TENANTS_DB, help="the reference origin service's database (emptied at start)")
    a = ap.parse_args()

    check_ports(a.port, a.admin_port, 0 if a.print_only else a.playground_port, demo=bool(a.config))
    if a.check_ports:
        return
    if a.config:
        run_config(a)
        return
    if not a.policy:
        fail("no policy: make run POLICY=path/to/policy.json", 2)
    for path, what in ((a.cli, "the edge-cors command line (cargo build --features cli)"), (a.module, "the release module (make wasm)")):
        if not os.path.exists(path):
            fail(f"{path} is missing: build {what}", 2)

    if a.origins and not re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}", a.origins):
        fail(f"ORIGINS={a.origins}: write HOST:PORT, where your origin service listens (e.g. 127.0.0.1:8081)", 2)

    # The clusters the policy's allow_origins_from name, read from the
    # policy as edge-cors reads it (JSON, YAML, templates...).
    first = subprocess.run([a.cli, "render", "--target", "envoy", a.policy, "--module", a.module], capture_output=True, text=True)
    if first.returncode != 0:
        sys.stderr.write(first.stderr)
        sys.exit(first.returncode)
    sources = live_sources(embedded_policy(first.stdout))
    clusters = {}  # cluster name -> the paths its sources fetch
    for _, _, source in sources:
        clusters.setdefault(source["cluster"], []).append(source["path"])

    demo = None if a.upstream else start_demo_upstream()
    upstream = a.upstream or f"127.0.0.1:{demo.server_address[1]}"
    services = {}  # cluster -> the reference service started for it
    if clusters and not a.origins and not a.print_only:
        reset_tenants(a.tenants_db)
        services = {c: serve_origins(a.tenants_db, paths) for c, paths in clusters.items()}
    # In --print-only nothing is started: the address only has to render.
    addr = {c: a.origins or (f"127.0.0.1:{services[c].server_address[1]}" if c in services else f"127.0.0.1:{TENANTS_PORT}")
            for c in clusters}
    render = subprocess.run(
        [a.cli, "render", "--target", "envoy-bootstrap", a.policy, "--upstream", upstream, "--port", str(a.port),
         "--admin-port", str(a.admin_port), "--module", a.module] + [f"--cluster={c}={addr[c]}" for c in clusters],
        capture_output=True, text=True)
    if render.returncode != 0:
        sys.stderr.write(render.stderr)
        sys.exit(render.returncode)
    policy = embedded_policy(render.stdout)

    where = "the demo upstream" if demo else upstream
    print(f"==> Envoy with edge-cors on http://localhost:{a.port} (admin :{a.admin_port}), policy {a.policy}, "
          f"in front of {where}; Ctrl-C stops it. Try:")
    for comment, cmd in curl_lines(policy, a.port, demo is not None):
        print(f"  # {comment}")
        if cmd:
            print("  " + shell(cmd))
    if clusters:
        print_live_origins(a, policy, clusters, services, "/api/hello" if demo else "/")
    elif a.origins:
        print(f"  note: ORIGINS={a.origins} is not used: the policy has no allow_origins_from")
    playground = None
    if a.playground_port:
        origin = f"http://localhost:{a.playground_port}"
        note = "" if allows(policy.get("allow_origins") or [], origin) or policy.get("rules") else \
            f": your policy does not list {origin}, so every call it makes shows a TypeError; add it to allow_origins to see the others"
        print(f"  # the playground: buttons that call this API from a page on a second origin{note}")
        print(f"  {origin}")
        if not a.print_only:
            playground = start_playground(a.playground_port, f"http://localhost:{a.port}", "/api/" if demo else "/",
                                          f"Policy: <code>{html.escape(a.policy)}</code> (make run POLICY=)")
    if a.upstream:
        host, _, p = upstream.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(p)), timeout=1).close()
        except (OSError, ValueError):
            print(f"  note: nothing answers on {upstream} yet: Envoy answers 503 until it does")
    if a.print_only:
        return

    os.makedirs(OUT_DIR, exist_ok=True)
    config = os.path.join(OUT_DIR, "envoy.yaml")
    with open(config, "w") as f:
        f.write(render.stdout)
    cmd = [a.envoy, "-c", config, "--disable-hot-restart", "--log-level", "warn", "--component-log-level", "wasm:info"]
    sys.stdout.flush()
    if not demo and not playground and not services:
        os.execv(a.envoy, cmd)
    run_envoy(cmd)


def print_live_origins(a, policy, clusters, services, base_path):
    """Where the live origins come from, and the tenant flip: a made-up
    tenant refused, the command that lists it, the same preflight allowed."""
    db = os.path.relpath(a.tenants_db, ROOT)
    db = db if not db.startswith("..") else os.path.abspath(a.tenants_db)
    more = [] if os.path.abspath(a.tenants_db) == os.path.abspath(TENANTS_DB) else ["--db", db]
    for c, paths in clusters.items():
        if a.origins:
            where = f"your origin service on {a.origins}"
        elif c in services:
            where = f"envoy/origin_service.py on http://127.0.0.1:{services[c].server_address[1]}{paths[0]}"
        else:
            where = "envoy/origin_service.py on a free loopback port"
        print(f"  # live origins (allow_origins_from, cluster {c}): {where}"
              + ("" if a.origins else f", from {db}, empty at start: python3 envoy/origin_service.py add|remove|list"
                                    + "".join(" " + shlex.quote(m) for m in more)))
    if a.origins:
        host, _, p = a.origins.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(p)), timeout=1).close()
        except (OSError, ValueError):
            print(f"  note: nothing answers on {a.origins} yet: until it does, only allow_origins applies")
    flip = tenant_flip(a, policy, base_path)
    if not flip:
        print("  # no made-up tenant preflight fits this policy: `edge-cors explain` found none that only the origin service decides")
        return
    origin, source = flip["origin"], flip["source"]
    within = int(source.get("refresh_seconds", 30)) + 1
    status = flip["obj"].get("preflight_status", 204)
    rule = "" if flip["index"] is None else f" (rule {flip['obj'].get('name', flip['index'])!r})"
    pre = ["curl", "-si", "-X", "OPTIONS", f"localhost:{a.port}{flip['path']}"] + (["-H", f"Host: {flip['host']}"] if flip["host"] else []) \
        + ["-H", f"Origin: {origin}", "-H", f"Access-Control-Request-Method: {flip['method']}"]
    listed = "your origin service does not list it" if a.origins else "not a tenant yet"
    print(f"  # a preflight from a made-up tenant{rule}: 403 while {listed}")
    print("  " + shell(pre))
    if a.origins:
        print(f"  # add {origin} to the list your service answers GET {source['path']} with: then the same preflight: {status} within {within} s")
        return
    print("  " + shell(["python3", "envoy/origin_service.py", "add", origin] + more)
          + f"      # then the same preflight: {status} within {within} s")
    print("  " + shell(["python3", "envoy/origin_service.py", "remove", origin] + more) + "   # and 403 again")


def run_config(a):
    """`make run` without POLICY: the configuration as it is (its ports
    replaced by the ones asked for and the origin service's), the tenants'
    origin service and the playground."""
    with open(a.config) as f:
        text = f.read()
    if a.playground_port:
        print("  # the playground: buttons that call this API from a page on a second origin")
        print(f"  http://localhost:{a.playground_port}")
    tenants = os.path.relpath(TENANTS_DB, ROOT)
    print(f"  # the tenants' origins (allow_origins_from), from {tenants}, empty at start: "
          "python3 envoy/origin_service.py add|remove|list")
    if a.print_only:
        return
    origins = start_origin_service()
    print(f"  http://127.0.0.1:{origins.server_address[1]}{TENANTS_PATH}")
    if a.shell == "module":
        text = as_dynamic_module(text)
    # One pass, so that a port given for one (--demo-port 10002) is not
    # replaced again as another's default.
    ports = {10000: a.port, 9901: a.admin_port, 10001: a.demo_port, TENANTS_PORT: origins.server_address[1]}
    text = re.sub(r"\bport_value: (\d+)\b", lambda m: f"port_value: {ports.get(int(m.group(1)), m.group(1))}", text)
    # Always a copy: the origin service's port is known only now.
    os.makedirs(OUT_DIR, exist_ok=True)
    config = os.path.join(OUT_DIR, "demo.yaml")
    with open(config, "w") as f:
        f.write(text)
    if a.playground_port:
        start_playground(a.playground_port, f"http://localhost:{a.port}", "/playground/",
                         "Policy: the demo's <code>playground</code> rule (envoy/envoy.yaml): "
                         "<code>/playground/</code> allows <code>http://localhost:*</code> with credentials, "
                         "GET, POST and PUT, <code>authorization</code>, and exposes <code>etag</code> and <code>x-request-id</code>.")
    sys.stdout.flush()
    # The module's path in the demo is relative to the repository.
    run_envoy([a.envoy, "-c", config, "--disable-hot-restart", "--log-level", "warn", "--component-log-level", "wasm:info,dynamic_modules:info"], cwd=ROOT)


WASM_FILTER = re.compile(
    r"- name: envoy\.filters\.http\.wasm\n(?P<i> *)typed_config:\n.*?\n(?P=i)    configuration:\n",
    re.S,
)


def as_dynamic_module(text):
    """The demo's edge-cors filter as the Envoy dynamic module: the same
    policy, in the filter the module answers to (docs/deployment.md)."""
    def module(m):
        i = m.group("i")
        return (
            f"- name: edge-cors\n{i}typed_config:\n"
            f"{i}  \"@type\": type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter\n"
            f"{i}  dynamic_module_config:\n{i}    name: edge_cors\n"
            f"{i}    module: {{ local: {{ filename: target/release/libedge_cors.so }} }}\n"
            f"{i}  filter_name: edge-cors\n{i}  filter_config:\n"
        )
    out, n = WASM_FILTER.subn(module, text)
    if n != 1:
        sys.exit("--shell module: the configuration has no single edge-cors wasm filter to replace")
    if not os.path.exists(os.path.join(ROOT, "target/release/libedge_cors.so")):
        sys.exit("target/release/libedge_cors.so missing: run `make envoy-module`")
    return out


def run_envoy(cmd, cwd=None):
    """Runs Envoy until it exits. Envoy stops with this script: on Ctrl-C or
    a TERM (handled even when started in the background, where INT is
    ignored), and when it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    envoy = subprocess.Popen(cmd, cwd=cwd, preexec_fn=lambda: libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM))

    stopped = []

    def stop(signum, _frame):
        stopped.append(128 + signum)
        envoy.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = envoy.wait()
    # Stopped on purpose (Ctrl-C, TERM): a normal end, so make reports no error.
    sys.exit(0 if stopped else code)


if __name__ == "__main__":
    main()
