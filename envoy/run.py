#!/usr/bin/env python3
"""`make run POLICY=file`: Envoy with edge-cors running your policy.

  make run POLICY=my-policy.json            # JSON or YAML, checked like `edge-cors check`
  make run POLICY=my-policy.yaml UPSTREAM=127.0.0.1:3000 PORT=8000 ADMIN_PORT=8001 PLAYGROUND_PORT=8081
  make run                                  # the demo: --config envoy/envoy.yaml

The Envoy configuration is `edge-cors render --target envoy-bootstrap`
(written to target/run/envoy.yaml). Without UPSTREAM, Envoy forwards to the
demo upstream `make run` uses (envoy/envoy.yaml's stand-in: 200 with `etag`,
`x-request-id` and `x-internal` headers, `/status/N` answers N), served here
on a free loopback port. Prints curl commands that fit the policy (its first
allowed origin, a preflight with its methods and headers, a refused origin),
then runs Envoy until Ctrl-C.

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
CLI = os.path.join(ROOT, "target/release/edge-cors")
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


def start_origin_service():
    """envoy/origin_service.py's server on a free loopback port, in this
    process like the playground, so it ends with run.py. The database starts
    empty on every run: the demo's first preflight from a tenant is then
    always refused, and a tenant added in an earlier session cannot make the
    printed examples lie. Quiet: Envoy asks every 2 s."""
    for stale in (TENANTS_DB, TENANTS_DB + "-journal"):
        if os.path.exists(stale):
            os.remove(stale)
    origin_service.connect(TENANTS_DB).close()
    server = ThreadingHTTPServer(("127.0.0.1", 0), origin_service.handler(TENANTS_DB, TENANTS_PATH, quiet=True))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


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


def curl_lines(policy, port, demo):
    """(comment, curl command) pairs that fit the policy."""
    base = f"localhost:{port}"
    path = "/api/hello" if demo else "/"
    origins = policy.get("allow_origins") or []
    origin = allowed_origin(origins)
    methods = [m.upper() for m in policy.get("allow_methods") or [] if m != "*"]
    if "*" in (policy.get("allow_methods") or []):
        method = "PUT"
    else:
        method = next((m for m in methods if m not in SAFELISTED), "POST" if "POST" in methods or not methods else methods[0])
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
    ap.add_argument("--demo-port", type=int, default=10001, help="with --config: the port of its demo upstream listener")
    ap.add_argument("--playground-port", type=int, default=8080, help="the playground page (0: none)")
    ap.add_argument("--check-ports", action="store_true")
    ap.add_argument("--print-only", action="store_true")
    a = ap.parse_args()

    check_ports(a.port, a.admin_port, 0 if a.print_only else a.playground_port, demo=bool(a.config))
    if a.check_ports:
        return
    if a.config:
        run_config(a)
        return
    if not a.policy:
        fail("no policy: make run POLICY=path/to/policy.json", 2)
    for path, what in ((a.cli, "the edge-cors command line (make cli)"), (a.module, "the release module (make wasm)")):
        if not os.path.exists(path):
            fail(f"{path} is missing: build {what}", 2)

    demo = None if a.upstream else start_demo_upstream()
    upstream = a.upstream or f"127.0.0.1:{demo.server_address[1]}"
    render = subprocess.run(
        [a.cli, "render", "--target", "envoy-bootstrap", a.policy, "--upstream", upstream, "--port", str(a.port),
         "--admin-port", str(a.admin_port), "--module", a.module],
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
            print("  " + " ".join(shlex.quote(c) for c in cmd))
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
    if not demo and not playground:
        os.execv(a.envoy, cmd)
    run_envoy(cmd)


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
    run_envoy([a.envoy, "-c", config, "--disable-hot-restart", "--log-level", "warn", "--component-log-level", "wasm:info"], cwd=ROOT)


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
    sys.exit(stopped[0] if stopped else code)


if __name__ == "__main__":
    main()
