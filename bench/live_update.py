#!/usr/bin/env python3
"""Latency while live origins change (`make bench-live`).

One Envoy (2 workers) runs edge-cors with a policy whose allowed origins come
from an origin service (allow_origins_from, refresh_seconds 1) answering
10,000 origins (about 350 KB). wrk sends GETs with an allowed Origin to a
direct_response upstream through edge-cors, in rounds of two phases:

  steady    the service answers 304 (nothing changes): the baseline
  updating  every answer is a new list of 10,000 origins: each refresh, one
            worker fetches it and every worker checks and applies it

Reported per phase: the median over rounds of requests/s, p50 and p99 latency
(wrk --latency), failed requests (non-2xx and socket errors) and the updates
applied during the phase; then the ratios updating/steady. The machine is
shared: compare the phases of one run, not runs with each other.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import free_port, listener, wasm_filter  # noqa: E402  (bench/run.py's Envoy config helpers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENVOY = os.path.join(ROOT, ".venv/bin/envoy")
WASM = os.path.join(ROOT, "target/wasm32-wasip1/release/edge_cors.wasm")
ORIGIN = "https://tenant4242.customers.example"


class Origins:
    """The origin service's state: a version that bumps on every request
    while `changing`, and the body for it."""

    def __init__(self, count):
        self.count, self.version, self.changing, self.lock = count, 0, False, threading.Lock()
        self.body = self.render()

    def render(self):
        names = [f"https://tenant{i}.customers.example" for i in range(self.count)]
        names.append(f"https://v{self.version}.customers.example")
        return json.dumps({"origins": names}).encode()

    def answer(self, if_none_match):
        with self.lock:
            if self.changing:
                self.version += 1
                self.body = self.render()
            etag = f'"v{self.version}"'
            return (304, etag, b"") if if_none_match == etag else (200, etag, self.body)


def serve_origins(origins):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, etag, body = origins.answer(self.headers.get("if-none-match"))
            self.send_response(status)
            self.send_header("etag", etag)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def static_cluster(name, port):
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }


def envoy_config(port, upstream_port, origins_port, admin_port):
    """The benchmark's listeners (bench/run.py's helpers): edge-cors with a
    live-origin policy, and the direct_response upstream."""
    policy = json.dumps({
        "allow_origins": ["https://app.example.com"],
        "allow_credentials": True,
        "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins", "refresh_seconds": 1},
    })
    upstream_route = {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}
    listeners = [listener("edge", [wasm_filter("edge_cors", WASM, policy)]), listener("upstream", [], route=upstream_route)]
    for l, p in zip(listeners, (port, upstream_port)):
        l["address"]["socket_address"]["port_value"] = p
    return json.dumps({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": listeners,
            "clusters": [static_cluster("upstream", upstream_port), static_cluster("tenant_origins", origins_port)],
        },
    })


def stat(admin_port, name):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/stats?filter={name}").read().decode()
    except OSError:  # Envoy still starting
        return 0
    m = re.search(rf"{re.escape(name)}: (\d+)", text)
    return int(m.group(1)) if m else 0


def millis(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port, seconds, connections):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.headers["Origin"] = "{ORIGIN}"\n')
    script.close()
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, f"http://127.0.0.1:{port}/api"],
        capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    failed = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    failed += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": millis(lat["50"]),
            "p99": millis(lat["99"]), "failed": failed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--origins", type=int, default=10_000)
    args = ap.parse_args()

    origins = Origins(args.origins)
    origins_port = serve_origins(origins)
    port, upstream_port, admin_port = free_port(), free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="edge-cors-live-")
    config = os.path.join(workdir, "envoy.json")
    with open(config, "w") as f:
        f.write(envoy_config(port, upstream_port, origins_port, admin_port))
    envoy = subprocess.Popen([ENVOY, "-c", config, "--concurrency", "2", "--disable-hot-restart", "--log-level", "warn"],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "envoy.log"), "w"))
    try:
        applied = lambda: stat(admin_port, "wasmcustom.edge_cors.origins_source.default.updates_applied")
        deadline = time.time() + 30
        while applied() < 1:
            if time.time() > deadline or envoy.poll() is not None:
                sys.exit(f"edge-cors did not apply the origins; see {workdir}/envoy.log")
            time.sleep(0.2)
        print(f"==> {args.origins:,} origins ({len(origins.body):,} bytes), Envoy 2 workers, wrk -t2 -c{args.connections}, "
              f"{args.rounds} rounds x 2 phases x {args.seconds} s")
        results = {"steady": [], "updating": []}
        for r in range(args.rounds):
            for phase in ("steady", "updating"):
                origins.changing = phase == "updating"
                time.sleep(1.5)  # let the previous phase's last update settle
                before = applied()
                res = run_wrk(port, args.seconds, args.connections)
                res["updates"] = applied() - before
                results[phase].append(res)
                print(f"  round {r + 1} {phase:<9} {res['rps']:>9.0f} req/s  p50 {res['p50']:6.2f} ms  p99 {res['p99']:6.2f} ms"
                      f"  failed {res['failed']}  updates applied {res['updates']}")
        med = {p: {k: statistics.median(x[k] for x in rs) for k in ("rps", "p50", "p99", "failed", "updates")}
               for p, rs in results.items()}
        print("\nmedians       req/s     p50 ms   p99 ms   failed  updates")
        for p in ("steady", "updating"):
            m = med[p]
            print(f"  {p:<9} {m['rps']:>9.0f}  {m['p50']:8.2f} {m['p99']:8.2f}  {m['failed']:6.0f}  {m['updates']:7.0f}")
        print(f"updating/steady: req/s {med['updating']['rps'] / med['steady']['rps']:.2f}, "
              f"p50 {med['updating']['p50'] / med['steady']['p50']:.2f}, p99 {med['updating']['p99'] / med['steady']['p99']:.2f}")
        total_failed = sum(x["failed"] for rs in results.values() for x in rs)
        if total_failed:
            sys.exit(f"FAIL: {total_failed} requests failed")
    finally:
        envoy.terminate()
        envoy.wait()


if __name__ == "__main__":
    main()
