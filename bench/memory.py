#!/usr/bin/env python3
"""Memory and configure time as the tenant list grows (`make bench-memory`).

For policies of 10, 1,000 and 10,000 exact origins (plus 30 wildcard patterns):

- the module's linear memory after on_configure and after 2,000 requests, and
  the configure time (first, on a fresh VM, and again, as on an update), on
  V8 through the project's own host (crates/suites/tests/hosts/host.js on Node);
- what each Envoy worker's VM adds: Envoy's /memory (allocated bytes) with the
  policy under --concurrency 1 and 2, after both workers served requests; the
  difference between the two is one more worker's VM and its copy of the
  policy.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WASM = os.path.join(ROOT, "target/wasm32-wasip1/release/edge_cors.wasm")
ENVOY = os.path.join(ROOT, ".venv/bin/envoy")
CLI = os.path.join(ROOT, "target/release/edge-cors")
SIZES = [10, 1000, 10000]


def policy(n):
    exact = [f"https://tenant{i}.customers.example" for i in range(n)]
    wild = [f"https://*.region{i}.saas.example" for i in range(30)]
    return {"allow_origins": exact + wild, "allow_headers": ["authorization", "content-type"], "expose_headers": ["etag"], "allow_credentials": True, "max_age": 600}


def node_host(config):
    """Linear memory and configure time on V8 via crates/suites/tests/hosts/host.js."""
    profile = {
        "name": "envoy", "config": config, "metrics": "ok", "time": "ok", "header_count": "real", "authority_in_pairs": True,
        "host_header": False, "local_reply_callback": True, "serve_after_failed_configure": False,
    }
    scenario = {
        "name": "preflight", "method": "OPTIONS", "path": "/api/x", "authority": "api.example.test",
        "headers": [["origin", "https://tenant7.customers.example"], ["access-control-request-method", "GET"]],
        "response": {"status": 200, "headers": []},
    }
    actual = dict(scenario, name="get", method="GET", headers=[["origin", "https://a.region3.saas.example"]])
    job = {"wasm": WASM, "profiles": [], "scenarios": [], "bench": {"profile": profile, "scenarios": [scenario, actual], "iterations": 1000}}
    out = subprocess.run(["node", os.path.join(ROOT, "crates/suites/tests/hosts/host.js")], input=json.dumps(job), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["bench"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envoy_memory(policy_file, concurrency):
    """Envoy's allocated bytes with the policy, after requests on every worker."""
    work = tempfile.mkdtemp(prefix="edge-cors-mem-")
    port, admin = free_port(), free_port()
    bootstrap = subprocess.run(
        [CLI, "render", "--target", "envoy-bootstrap", policy_file, "--upstream", "127.0.0.1:9", "--port", str(port), "--admin-port", str(admin), "--module", WASM],
        capture_output=True, text=True, check=True,
    ).stdout
    cfg = os.path.join(work, "envoy.yaml")
    open(cfg, "w").write(bootstrap)
    proc = subprocess.Popen([ENVOY, "-c", cfg, "--concurrency", str(concurrency), "--disable-hot-restart", "--log-level", "error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    sys.exit("envoy did not start")
                time.sleep(0.1)
        # Preflights on fresh connections, so every worker's VM runs.
        for i in range(200):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/x", method="OPTIONS",
                                         headers={"Origin": f"https://tenant{i % 7}.customers.example", "Access-Control-Request-Method": "GET", "Connection": "close"})
            try:
                urllib.request.urlopen(req, timeout=5).read()
            except OSError:
                pass
        mem = json.load(urllib.request.urlopen(f"http://127.0.0.1:{admin}/memory", timeout=5))
        # /memory counts Envoy's allocator only; V8 maps wasm memory itself,
        # which the process's resident set shows.
        rss = next(int(l.split()[1]) * 1024 for l in open(f"/proc/{proc.pid}/status") if l.startswith("VmRSS:"))
        return int(mem["allocated"]), rss
    finally:
        proc.terminate()
        proc.wait()


def mib(n):
    return f"{n / 1048576:.2f}"


def main():
    for f, what in [(WASM, "make wasm"), (ENVOY, "make setup"), (CLI, "make cli")]:
        if not os.path.exists(f):
            sys.exit(f"{f} missing: run `{what}`")
    rows = []
    work = tempfile.mkdtemp(prefix="edge-cors-mem-")
    for n in SIZES:
        p = policy(n)
        path = os.path.join(work, f"policy-{n}.json")
        open(path, "w").write(json.dumps(p))
        b = node_host(json.dumps(p))
        one, rss_one = envoy_memory(path, 1)
        two, rss_two = envoy_memory(path, 2)
        rows.append((n, b, one, two, rss_one, rss_two))
        print(f"  {n} origins: done", file=sys.stderr, flush=True)
    lines = [
        "| exact origins (+30 patterns) | policy JSON | linear memory after configure | after 2,000 requests | configure, fresh VM | configure again | Envoy allocated, 1 worker | 2 workers | per worker | Envoy RSS, 1 worker | 2 workers | per worker |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, b, one, two, rss_one, rss_two in rows:
        size = len(json.dumps(policy(n)))
        lines.append(
            f"| {n:,} | {size / 1024:.0f} KiB | {mib(b['memory_after_configure'])} MiB | {mib(b['memory_after_requests'])} MiB "
            f"| {b['configure_ms']:.1f} ms | {b['configure_again_ms']:.1f} ms | {mib(one)} MiB | {mib(two)} MiB | {mib(two - one)} MiB "
            f"| {mib(rss_one)} MiB | {mib(rss_two)} MiB | {mib(rss_two - rss_one)} MiB |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
