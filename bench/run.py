#!/usr/bin/env python3
"""edge-cors throughput benchmark (`make bench`).

One Envoy (--concurrency 1, pinned to core 0 when taskset exists) with four
listeners side by side, all routed to the same direct_response upstream
listener in the same Envoy:

  none    no CORS filter at all
  native  Envoy's envoy.filters.http.cors with the equivalent policy
  edge    edge-cors (release wasm, V8)
  empty   an empty proxy-wasm filter (the SDK's boilerplate only, as users
          write one): the wasm floor; edge-cors itself no longer uses the
          SDK's dispatcher (crates/wasm/src/abi.rs)
  floor   crates/wasm/examples/abi_floor.rs: the host calls edge-cors makes for each
          scenario with fixed answers and no policy engine, behind the same
          exports (crates/wasm/src/abi.rs): the ABI's price for the work itself

wrk (pinned to core 1) drives each variant in turn for each scenario,
rotating the order every round. Reported: the median requests/s per
variant, and the medians of the per-round ratios edge/native and edge/empty,
plus non-2xx counts (all scenarios expect 2xx). A second table gives Envoy's
CPU time per request (user + system, from /proc, over each cell): steadier
than throughput on a shared machine, where a few per cent hide in the noise.
It includes the direct_response upstream, the same for every variant.

--transport h2 puts the same variants behind TLS listeners offering ALPN h2
only (a throwaway self-signed certificate made by openssl for the run) and
drives them with h2load (-t1, --connections clients, --streams streams each);
the upstream hop stays plaintext HTTP/1.1. --concurrency N runs N Envoy
workers; with N > 1 nothing is pinned and the load generator shares the
cores with Envoy.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EDGE_WASM = os.path.join(ROOT, "target/wasm32-wasip1/release/edge_cors.wasm")
EMPTY_WASM = os.path.join(ROOT, "target/wasm32-wasip1/release/examples/empty_filter.wasm")
FLOOR_WASM = os.path.join(ROOT, "target/wasm32-wasip1/release/examples/abi_floor.wasm")
MODULE_SO = os.path.join(ROOT, "target/release/libedge_cors.so")
MODULE_FLOOR_SO = os.path.join(ROOT, "target/envoy-module/examples/libmodule_floor.so")

POLICY = {
    "allow_origins": ["https://app.example.com", "https://*.example.com"],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["content-type", "authorization"],
    "expose_headers": ["etag", "x-request-id"],
    "max_age": 3600,
}

# The same policy for Envoy's native filter.
NATIVE_POLICY = {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
    "allow_origin_string_match": [
        {"exact": "https://app.example.com"},
        {"safe_regex": {"regex": r"https://([a-z0-9-]+\.)+example\.com"}},
    ],
    "allow_methods": "GET, POST",
    "allow_headers": "content-type, authorization",
    "expose_headers": "etag, x-request-id",
    "max_age": "3600",
}

SCENARIOS = {
    "simple GET, allowed origin": ("GET", {"Origin": "https://app.example.com"}),
    "preflight, allowed": (
        "OPTIONS",
        {
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    ),
    "GET without Origin": ("GET", {}),
    "GET, disallowed origin": ("GET", {"Origin": "https://evil.test"}),
}

# edge: the wasm module; module: the Envoy dynamic module; floor and mfloor:
# each ABI's floor (the same calls, fixed answers).
VARIANTS = ["none", "native", "edge", "module", "empty", "floor", "mfloor"]


def tenants(n):
    """--tenants N: N exact origins, the requests' origin listed last (the
    native filter scans its list; edge-cors hashes)."""
    origins = [f"https://tenant{i}.example.net" for i in range(n)]
    POLICY["allow_origins"] = origins
    NATIVE_POLICY["allow_origin_string_match"] = [{"exact": o} for o in origins]
    last = origins[-1]
    for name in list(SCENARIOS):
        method, headers = SCENARIOS.pop(name)
        if "allowed" in name and "disallowed" not in name:
            headers = dict(headers, Origin=last)
            SCENARIOS[name.replace("allowed origin", f"origin {n:,} of {n:,}").replace("allowed", f"origin {n:,} of {n:,}")] = (method, headers)


def module_filter(name, path, config):
    return {
        "name": "edge-cors",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
            "dynamic_module_config": {"name": name, "module": {"local": {"filename": path}}},
            "filter_name": "edge-cors",
            "filter_config": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config},
        },
    }


def wasm_filter(name, path, config):
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": name,
                "root_id": name,
                "vm_config": {"vm_id": name, "runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": path}}},
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": config},
            },
        },
    }


ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


def listener(name, filters, vhost_extra=None, route=None, tls=None):
    vhost = {"name": name, "domains": ["*"], "routes": [route or {"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]}
    vhost.update(vhost_extra or {})
    chain = {
        "filters": [
            {
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": name,
                    "route_config": {"virtual_hosts": [vhost]},
                    "http_filters": filters + [ROUTER],
                },
            }
        ]
    }
    if tls:
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "common_tls_context": {
                    "alpn_protocols": ["h2"],
                    "tls_certificates": [{"certificate_chain": {"filename": tls[0]}, "private_key": {"filename": tls[1]}}],
                },
            },
        }
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
        "filter_chains": [chain],
    }


def envoy_config(upstream_port, compare, edge, empty, tls=None):
    upstream_route = {
        "match": {"prefix": "/"},
        "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}},
        "response_headers_to_add": [{"header": {"key": "etag", "value": '"v1"'}}],
    }
    cors = {"name": "envoy.filters.http.cors", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}}
    listeners = [
        listener("upstream", [], route=upstream_route),
        listener("none", [], tls=tls),
        listener("native", [cors], {"typed_per_filter_config": {"envoy.filters.http.cors": NATIVE_POLICY}}, tls=tls),
        listener("edge", [wasm_filter("edge_cors", edge, json.dumps(POLICY))], tls=tls),
        listener("empty", [wasm_filter("empty", empty, "")], tls=tls),
        listener("floor", [wasm_filter("abi_floor", FLOOR_WASM, "")], tls=tls),
        listener("module", [module_filter("edge_cors", MODULE_SO, json.dumps(POLICY))], tls=tls),
        listener("mfloor", [module_filter("module_floor", MODULE_FLOOR_SO, "")], tls=tls),
    ]
    if compare:
        listeners.append(listener("other", [wasm_filter("edge_cors_other", compare, json.dumps(POLICY))], tls=tls))
    listeners[0]["address"]["socket_address"]["port_value"] = upstream_port
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {
            "listeners": listeners,
            "clusters": [
                {
                    "name": "upstream",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "load_assignment": {
                        "cluster_name": "upstream",
                        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": upstream_port}}}}]}],
                    },
                }
            ],
        },
    }


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Envoy workers (--concurrency). With one, Envoy is pinned to core 0 and the
# load generator to core 1; with more, nothing is pinned (a 2-core machine has
# no core to spare for the load generator, which then shares them with Envoy).
CONCURRENCY = 1


def pin(core):
    if CONCURRENCY > 1:
        return []
    return ["taskset", "-c", str(core)] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []


def make_cert(workdir):
    """A throwaway self-signed certificate for 127.0.0.1, made for this run."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
         "-subj", "/CN=edge-cors bench", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True,
        capture_output=True,
    )
    return cert, key


def start_envoy(envoy, workdir, compare, edge, empty, tls=None):
    cfg = os.path.join(workdir, "envoy.json")
    with open(cfg, "w") as f:
        json.dump(envoy_config(free_port(), compare, edge, empty, tls), f)
    admin_file = os.path.join(workdir, "admin.txt")
    log = open(os.path.join(workdir, "envoy.log"), "w")
    proc = subprocess.Popen(
        pin(0) + [envoy, "-c", cfg, "--concurrency", str(CONCURRENCY), "--disable-hot-restart", "--log-level", "error", "--admin-address-path", admin_file],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"envoy exited; see {workdir}/envoy.log")
        try:
            admin = open(admin_file).read().strip()
            data = json.load(urllib.request.urlopen(f"http://{admin}/listeners?format=json", timeout=2))
            ports = {l["name"]: l["local_address"]["socket_address"]["port_value"] for l in data["listener_statuses"]}
            if len(ports) == len(VARIANTS) + 1 and all(ports.values()):
                return proc, ports
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("envoy did not start")


def lua_script(workdir, name, method, headers):
    path = os.path.join(workdir, re.sub(r"\W+", "_", name) + ".lua")
    lines = [f'wrk.method = "{method}"'] + [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def cpu_seconds(pid):
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def run_wrk(port, script, seconds, connections):
    out = subprocess.run(
        pin(1) + ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, f"http://127.0.0.1:{port}/bench"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, int(m.group(1)) if m else 0, errs.group(1) if errs else "", total


def h2load_args(method, headers):
    args = ["-H", f":method: {method}"] if method != "GET" else []
    for k, v in headers.items():
        args += ["-H", f"{k.lower()}: {v}"]
    return args


def run_h2load(port, hargs, seconds, connections, streams):
    """h2load over TLS: (req/s, non-2xx, errors, requests done), like run_wrk."""
    out = subprocess.run(
        pin(1) + ["h2load", "-t1", f"-c{connections}", f"-m{streams}", "-D", str(seconds)] + hargs + [f"https://127.0.0.1:{port}/bench"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if not re.search(r"Application protocol: h2\b", out):
        sys.exit(f"h2load did not negotiate h2:\n{out}")
    rps = float(re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out).group(1))
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    done, failed, errored, timeout = int(req.group(3)), int(req.group(5)), int(req.group(6)), int(req.group(7))
    non2xx = sum(int(codes.group(i)) for i in (2, 3, 4))
    errs = f"{failed} failed, {errored} errored, {timeout} timeout" if failed or errored or timeout else ""
    return rps, non2xx, errs, done


def check_answers(ports, transport):
    """One request per scenario and variant, so a broken listener cannot pass as fast."""
    for name, (method, headers) in SCENARIOS.items():
        for v in VARIANTS:
            if transport == "h2":
                acao = h2_answer(ports[v], method, headers)
            else:
                req = urllib.request.Request(f"http://127.0.0.1:{ports[v]}/bench", method=method, headers=headers)
                with urllib.request.urlopen(req, timeout=5) as r:
                    acao = r.headers.get("access-control-allow-origin")
            origin = headers.get("Origin")
            allowed = origin is not None and "evil" not in origin
            # The floors answer the default policy's origin, whatever the policy.
            checked = ("native", "edge", "module") + (("floor", "mfloor") if origin == "https://app.example.com" else ())
            if v in checked and allowed and acao != origin:
                sys.exit(f"{v} / {name}: expected access-control-allow-origin {origin}, got {acao!r}")


def h2_answer(port, method, headers):
    """One h2 request with nghttp (nghttp2-client, like h2load): its access-control-allow-origin; exits unless 2xx."""
    out = subprocess.run(
        ["nghttp", "-nv", "-H", f":method: {method}"] + [a for k, v in headers.items() for a in ("-H", f"{k.lower()}: {v}")]
        + [f"https://127.0.0.1:{port}/bench"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    # nghttp -v prints each received header as "[  0.003] recv (stream_id=13) name: value"
    got = dict(re.findall(r"recv \(stream_id=\d+\) (:?[\w-]+): (.*)$", out, re.M))
    if "The negotiated protocol: h2" not in out or not got.get(":status", "").startswith("2"):
        sys.exit(f"h2 {method} on port {port}: expected 2xx, got {got.get(':status')!r}\n{out}")
    return got.get("access-control-allow-origin")


def envoy_version(envoy):
    out = subprocess.run([envoy, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"/(\d+\.\d+\.\d+)/", out)
    return m.group(1) if m else out.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envoy", default=os.path.join(ROOT, ".venv/bin/envoy"))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 5)))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 3)))
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--out", default=os.path.join(ROOT, "target/bench/results.md"))
    ap.add_argument("--compare", metavar="WASM", help="another edge-cors build to run beside this one (variant 'other'), for A/B tests of an optimisation")
    ap.add_argument("--edge", metavar="WASM", default=EDGE_WASM, help="the edge-cors module (default: the release build)")
    ap.add_argument("--empty", metavar="WASM", default=EMPTY_WASM, help="the empty-filter module (default: crates/wasm/examples/empty_filter.rs)")
    ap.add_argument("--only", metavar="TEXT", help="run only the scenarios whose name contains TEXT")
    ap.add_argument("--transport", choices=["h1", "h2"], default="h1", help="h1: plaintext HTTP/1.1 with wrk (default); h2: TLS with ALPN h2, h2load")
    ap.add_argument("--streams", type=int, default=10, help="h2: concurrent streams per connection (h2load -m; default 10)")
    ap.add_argument("--concurrency", type=int, default=1, help="Envoy workers (default 1; above 1 nothing is pinned)")
    ap.add_argument("--tenants", type=int, metavar="N", help="the tenants scenario: N exact origins, the request's origin last (GET and preflight only)")
    ap.add_argument("--warmup", type=int, default=1, metavar="SECONDS", help="warm-up per scenario and variant before timing (default 1; 0 skips it)")
    args = ap.parse_args()
    global CONCURRENCY
    CONCURRENCY = max(1, args.concurrency)
    tool = "h2load" if args.transport == "h2" else "wrk"
    if not shutil.which(tool) or (args.transport == "h2" and not (shutil.which("nghttp") and shutil.which("openssl"))):
        sys.exit(f"{tool} missing: run `make {tool}`")
    if args.tenants:
        tenants(args.tenants)
    if args.only:
        for n in [n for n in SCENARIOS if args.only not in n]:
            del SCENARIOS[n]
        if not SCENARIOS:
            sys.exit(f"no scenario name contains {args.only!r}")
    if args.compare:
        VARIANTS.append("other")
    for f in (args.edge, args.empty, FLOOR_WASM, MODULE_SO, MODULE_FLOOR_SO, args.compare):
        if f and not os.path.exists(f):
            sys.exit(f"{f} missing: run `make bench`")
    workdir = tempfile.mkdtemp(prefix="edge-cors-bench-")
    tls = make_cert(workdir) if args.transport == "h2" else None
    proc, ports = start_envoy(args.envoy, workdir, args.compare, args.edge, args.empty, tls)
    try:
        check_answers(ports, args.transport)
        if args.transport == "h2":
            hargs = {n: h2load_args(m, h) for n, (m, h) in SCENARIOS.items()}

            def load(port, n, seconds):
                return run_h2load(port, hargs[n], seconds, args.connections, args.streams)
        else:
            scripts = {n: lua_script(workdir, n, m, h) for n, (m, h) in SCENARIOS.items()}

            def load(port, n, seconds):
                return run_wrk(port, scripts[n], seconds, args.connections)
        # warm-up: V8 tiers up hot functions, Envoy fills its pools
        for n in SCENARIOS if args.warmup > 0 else ():
            for v in VARIANTS:
                load(ports[v], n, args.warmup)
        rps = {(n, v): [] for n in SCENARIOS for v in VARIANTS}
        cpu_us = {(n, v): [] for n in SCENARIOS for v in VARIANTS}
        non2xx = {(n, v): 0 for n in SCENARIOS for v in VARIANTS}
        sock = set()
        total = args.rounds * len(SCENARIOS) * len(VARIANTS)
        done = 0
        for r in range(args.rounds):
            order = VARIANTS[r % len(VARIANTS):] + VARIANTS[: r % len(VARIANTS)]
            for n in SCENARIOS:
                for v in order:
                    before = cpu_seconds(proc.pid)
                    x, bad, errs, requests = load(ports[v], n, args.seconds)
                    cpu_us[(n, v)].append((cpu_seconds(proc.pid) - before) * 1e6 / max(requests, 1))
                    rps[(n, v)].append(x)
                    non2xx[(n, v)] += bad
                    if errs:
                        sock.add(f"{n}/{v}: {errs}")
                    done += 1
                    print(f"  [{done}/{total}] round {r + 1} {n:28} {v:7} {x:10.0f} req/s", file=sys.stderr, flush=True)
    finally:
        proc.terminate()
        proc.wait()

    if CONCURRENCY > 1:
        placement = f" (nothing pinned: the workers and {tool} share the {os.cpu_count()} cores)"
    else:
        placement = f" pinned to core 0, {tool} on core 1" if pin(0) else ""
    if args.transport == "h2":
        driver = f"HTTP/2 over TLS (ALPN h2, self-signed certificate; upstream hop plaintext HTTP/1.1): h2load -t1 -c{args.connections} -m{args.streams}"
    else:
        driver = f"wrk -t1 -c{args.connections}"
    lines = [
        f"Envoy {envoy_version(args.envoy)}, "
        f"--concurrency {CONCURRENCY}{placement}; "
        f"{driver}, {args.rounds} rounds x {args.seconds} s per cell, order rotated each round.",
        "",
        "| scenario | none | native CORS | wasm | module | empty wasm | wasm floor | module floor | wasm/native | module/native | module/wasm | wasm/floor | module/mfloor | mfloor/native | non-2xx |"
        + (" other build | edge/other |" if args.compare else ""),
        "|---|" + "---:|" * 14 + ("---:|---:|" if args.compare else ""),
    ]
    for n in SCENARIOS:
        med = {v: statistics.median(rps[(n, v)]) for v in VARIANTS}
        def ratio(a, b):
            return statistics.median(x / y for x, y in zip(rps[(n, a)], rps[(n, b)]))

        bad = sum(non2xx[(n, v)] for v in VARIANTS)
        row = (
            f"| {n} | {med['none']:.0f} | {med['native']:.0f} | {med['edge']:.0f} | {med['module']:.0f} | {med['empty']:.0f} | {med['floor']:.0f} | {med['mfloor']:.0f} "
            f"| {ratio('edge', 'native'):.3f} | {ratio('module', 'native'):.3f} | {ratio('module', 'edge'):.3f} | {ratio('edge', 'floor'):.3f} "
            f"| {ratio('module', 'mfloor'):.3f} | {ratio('mfloor', 'native'):.3f} | {bad} |"
        )
        if args.compare:
            row += f" {med['other']:.0f} | {ratio('edge', 'other'):.3f} |"
        lines.append(row)
    cols = [v for v in VARIANTS if v != "none"]
    lines += [
        "",
        "CPU time per request, microseconds (Envoy process, median over rounds); cost ratios below 1.000 mean edge-cors is cheaper:",
        "",
        "| scenario | " + " | ".join(cols) + " | wasm/floor | wasm/empty | module/mfloor | module/native | mfloor/native |" + (" edge/other |" if args.compare else ""),
        "|---|" + "---:|" * (len(cols) + 5 + bool(args.compare)),
    ]
    for n in SCENARIOS:
        med = {v: statistics.median(cpu_us[(n, v)]) for v in VARIANTS}
        def cost(a, b):
            return statistics.median(x / y for x, y in zip(cpu_us[(n, a)], cpu_us[(n, b)]))
        row = (
            f"| {n} | " + " | ".join(f"{med[v]:.1f}" for v in cols)
            + f" | {cost('edge', 'floor'):.3f} | {cost('edge', 'empty'):.3f} | {cost('module', 'mfloor'):.3f} | {cost('module', 'native'):.3f} | {cost('mfloor', 'native'):.3f} |"
        )
        if args.compare:
            row += f" {cost('edge', 'other'):.3f} |"
        lines.append(row)
    if sock:
        lines += ["", ("h2load errors: " if args.transport == "h2" else "Socket errors: ") + "; ".join(sorted(sock))]
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    print(f"\n(written to {os.path.relpath(args.out, ROOT)})", file=sys.stderr)
    if any(non2xx.values()):
        sys.exit("non-2xx responses where 2xx was expected")


if __name__ == "__main__":
    main()
