//! Soak: Envoy + edge-cors under a sustained mixed load (`make soak`).
//!
//! wrk (script `crates/suites/tests/soak/mix.lua`) cycles through allowed and disallowed
//! actual requests, allowed and rejected preflights, requests without
//! Origin, upstream errors (500, 401), an upstream that sets its own CORS
//! headers, Envoy's own 503 and 404; it checks every response's status and
//! CORS headers. Meanwhile Envoy's admin `/memory` and the process's RSS are
//! sampled. The run fails on any mismatch, any socket error, a VM failure, or
//! memory that keeps growing after warm-up; it prints the figures.
//!
//! The upstream is a second listener of the same Envoy answering with
//! `direct_response` (no test process in the hot path).
//!
//! `SOAK_SECONDS` sets the duration (default 300). Ignored by plain `cargo test`.

use edge_cors_suites as common;

use std::fs;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

const POLICY: &str = r#"{
  "allow_origins": ["https://app.example.com", "https://*.example.com"],
  "allow_methods": ["GET", "POST"],
  "allow_headers": ["content-type", "authorization"],
  "expose_headers": ["etag"],
  "max_age": 600
}"#;

fn bootstrap(origin_port: u16) -> String {
    // The edge listener is the harness's own (edge-cors first, /api/ and /dead/ routes).
    let edge = Listener { name: "soak", config: POLICY }.yaml().build();
    let edge = edge.trim_start_matches('\n');
    let clusters = clusters_yaml(origin_port);
    format!(
        r#"admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
static_resources:
  listeners:
{edge}  - name: origin
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {origin_port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: origin
          route_config:
            virtual_hosts:
            - name: origin
              domains: ["*"]
              routes:
              - match: {{ prefix: "/api/status/500" }}
                direct_response: {{ status: 500, body: {{ inline_string: "upstream says 500\n" }} }}
              - match: {{ prefix: "/api/status/401" }}
                direct_response: {{ status: 401, body: {{ inline_string: "upstream says 401\n" }} }}
              - match: {{ prefix: "/api/upstream-cors" }}
                direct_response: {{ status: 200, body: {{ inline_string: "upstream with its own CORS\n" }} }}
                response_headers_to_add:
                - header: {{ key: access-control-allow-origin, value: "*" }}
                - header: {{ key: access-control-allow-credentials, value: "true" }}
                - header: {{ key: vary, value: Accept-Encoding }}
              - match: {{ prefix: "/" }}
                direct_response: {{ status: 200, body: {{ inline_string: "ok\n" }} }}
                response_headers_to_add:
                - header: {{ key: etag, value: "\"v1\"" }}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
{clusters}"#
    )
}

/// One memory reading: Envoy's allocator (admin /memory) and the process's RSS.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    allocated: u64,
    heap: u64,
    rss: u64,
}

fn sample(envoy: &Envoy, start: Instant) -> Sample {
    let m = get(&format!("http://{}/memory", envoy.admin), &[]);
    let v: serde_json::Value = serde_json::from_str(&m.body).unwrap_or_default();
    let n = |k: &str| v.get(k).and_then(|x| x.as_str()).and_then(|s| s.parse().ok()).unwrap_or(0);
    let status = fs::read_to_string(format!("/proc/{}/status", envoy.pid())).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    Sample { at: start.elapsed().as_secs_f64(), allocated: n("allocated"), heap: n("heap_size"), rss }
}

/// Least-squares slope in bytes per minute.
fn slope(points: &[(f64, u64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + *y as f64));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (*y as f64 - my), b + (x - mx) * (x - mx)));
    if den == 0.0 {
        0.0
    } else {
        num / den * 60.0
    }
}

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / 1_048_576.0)
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let k = format!("{key}=");
    line.split(' ').find_map(|p| p.strip_prefix(k.as_str())).unwrap_or("")
}

#[test]
#[ignore = "minutes long: run by `make soak` (SOAK_SECONDS)"]
fn soak_mixed_load_with_flat_memory() {
    let seconds: u64 = std::env::var("SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let origin_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let envoy = match Envoy::start_bootstrap(|_| bootstrap(origin_port), 2, &[]) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
    };
    let base = envoy.url("soak", "");
    // A first pass by hand, so a broken rig fails fast and clearly.
    let r = get(&format!("{base}/api/upstream-cors"), &[("Origin", "https://app.example.com")]);
    assert_eq!((r.status, r.one("access-control-allow-origin")), (200, Some("https://app.example.com")), "{:?}", r.headers);
    assert_eq!(r.one("access-control-allow-credentials"), None);

    let script = repo().join("crates/suites/tests/soak/mix.lua");
    let threads = "4";
    println!("==> soak: {seconds} s of mixed load ({threads} connections) against Envoy + edge-cors at {base}");
    let start = Instant::now();
    let wrk = thread::spawn({
        let base = base.clone();
        move || {
            Command::new("wrk")
                .args(["-t", threads, "-c", threads, "-d", &format!("{seconds}s"), "--timeout", "5s", "-s"])
                .arg(&script)
                .arg(&base)
                .output()
                .expect("wrk (make soak installs it)")
        }
    });
    let mut samples = vec![sample(&envoy, start)];
    while !wrk.is_finished() {
        thread::sleep(Duration::from_secs(5));
        samples.push(sample(&envoy, start));
    }
    let out = wrk.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "wrk failed:\n{stdout}\n{stderr}");
    let result = stdout.lines().find(|l| l.starts_with("SOAK_RESULT")).unwrap_or_else(|| panic!("no result from wrk:\n{stdout}\n{stderr}"));
    let num = |k: &str| field(result, k).parse::<u64>().unwrap_or_else(|_| panic!("{k} in {result}"));
    let (requests, checked, mismatches) = (num("requests"), num("checked"), num("mismatches"));
    let socket_errors = num("connect") + num("read") + num("write") + num("timeout");
    let duration = num("duration_us") as f64 / 1e6;

    // Memory after warm-up: a fifth of the run, between 10 s and 60 s.
    let warm = (seconds as f64 / 5.0).clamp(10.0, 60.0);
    let after: Vec<Sample> = samples.iter().copied().filter(|s| s.at >= warm).collect();
    assert!(after.len() >= 2, "too few memory samples after warm-up: {samples:?}");
    let (first, last) = (after[0], after[after.len() - 1]);
    let peak = |f: fn(&Sample) -> u64| after.iter().map(f).max().unwrap_or(0);
    let alloc_slope = slope(&after.iter().map(|s| (s.at, s.allocated)).collect::<Vec<_>>());
    let rss_slope = slope(&after.iter().map(|s| (s.at, s.rss)).collect::<Vec<_>>());

    let stats = envoy.stats();
    let wasm_stats: Vec<&str> = stats.lines().filter(|l| l.starts_with("wasm.") || l.starts_with("wasmcustom.")).collect();
    println!(
        "requests     {requests} in {duration:.0} s ({:.0}/s), {checked} responses checked, {mismatches} wrong",
        requests as f64 / duration
    );
    println!("socket errs  connect {} read {} write {} timeout {}", num("connect"), num("read"), num("write"), num("timeout"));
    println!("latency      p50 {} µs, p99 {} µs, max {} µs", num("p50_us"), num("p99_us"), num("max_us"));
    println!(
        "memory       Envoy allocated {} at {:.0} s (warm) -> {} at {:.0} s, peak {}, slope {:+.1} KiB/min",
        mib(first.allocated),
        first.at,
        mib(last.allocated),
        last.at,
        mib(peak(|s| s.allocated)),
        alloc_slope / 1024.0
    );
    println!("             heap {} -> {}", mib(first.heap), mib(last.heap));
    println!(
        "             RSS {} -> {}, peak {}, slope {:+.1} KiB/min ({} samples, warm-up {warm:.0} s)",
        mib(first.rss),
        mib(last.rss),
        mib(peak(|s| s.rss)),
        rss_slope / 1024.0,
        samples.len()
    );
    println!("wasm stats   {}", wasm_stats.join(", "));
    if mismatches > 0 {
        println!("first wrong  {}", field(result, "first_error"));
    }

    assert_eq!(mismatches, 0, "wrong responses; first: {}", result.split("first_error=").nth(1).unwrap_or(""));
    assert_eq!(checked, requests, "every response is checked");
    assert_eq!(socket_errors, 0, "socket errors: {result}");
    assert!(requests as f64 / duration > 100.0, "too little load: {result}");
    for stat in ["wasm.edge_cors_soak.vm_reload: 0", "wasm.edge_cors_soak.vm_reload_failure: 0"] {
        assert!(stats.lines().any(|l| l == stat), "expected {stat:?}:\n{stats}");
    }
    // Flat after warm-up: no more than 5% (or 1 MiB of allocator, 4 MiB of
    // RSS) above the first post-warm-up reading, at the peak and at the end.
    let flat = |name: &str, base: u64, peak: u64, slack: u64| {
        let limit = base + (base / 20).max(slack);
        assert!(peak <= limit, "{name} grew after warm-up: {} -> peak {} (limit {})", mib(base), mib(peak), mib(limit));
    };
    flat("Envoy's allocated memory", first.allocated, peak(|s| s.allocated), 1 << 20);
    flat("Envoy's RSS", first.rss, peak(|s| s.rss), 4 << 20);
    let log = envoy.log();
    assert!(!log.contains("panic"), "{log}");
    envoy.stop();
}
