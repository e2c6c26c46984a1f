//! Host profiles: the release module on Node's V8 (the engine Envoy uses),
//! driven by a small proxy-wasm host (crates/suites/tests/hosts/host.js) that behaves like
//! each proxy-wasm host of docs/deployment.md ("Deploy"): metrics unimplemented or
//! stubbed, time unimplemented, a header count of 0, `:authority` missing
//! from the pairs list, our own local reply routed back through the
//! response callback, an empty configuration, gateway-injected `_` keys.
//!
//! Every scenario is also sent through a real Envoy with the same policy in
//! this test, and each profile must produce exactly Envoy's status, CORS
//! headers, `Vary` and (for our own replies) body. No profile may trap, and
//! the module may call only the host functions edge-cors needs: the host
//! traps on any other.
//!
//! Why Node and not the wasmtime crate: V8 is the engine Envoy runs the
//! module on, Node 20 with `node:wasi` is already on the machine, and it
//! adds nothing to compile. This harness tests portability hazards; the
//! real-Envoy tests (tests/envoy*.rs) remain the reference.

use edge_cors_suites as common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

/// The contract's policy plus a per-host rule, so that losing `:authority`
/// changes the answer.
const POLICY: &str = r#"{
  "allow_origins": ["https://app.example.com", "https://*.example.com"],
  "allow_methods": ["GET", "POST"],
  "allow_headers": ["content-type", "authorization"],
  "expose_headers": ["etag", "x-request-id"],
  "max_age": 3600,
  "rules": [
    {"name": "tenants", "match": {"hosts": ["*.tenant.test"]},
     "allow_origins": ["https://*.tenant.test"], "allow_methods": ["GET", "PUT"]}
  ]
}"#;

/// What Higress injects into a plugin configuration.
fn injected_policy() -> String {
    let mut v: Value = serde_json::from_str(POLICY).unwrap();
    let o = v.as_object_mut().unwrap();
    // Honoured as a rule (docs/contract.md), on a host no scenario uses, so
    // the answers stay Envoy's for POLICY.
    o.insert("_rules_".into(), json!([{"_match_domain_": ["injected.example.test"], "allow_origins": ["*"]}]));
    o.insert("_match_route_".into(), json!(["route-a"]));
    o.insert("_match_domain_".into(), json!(["api.example.test"]));
    v.to_string()
}

/// The host functions edge-cors itself calls. Anything else the module
/// imports (std's WASI functions; live origins' calls, tested on their
/// own below) must never be called here.
const USED: [&str; 10] = [
    "env.proxy_log",
    "env.proxy_set_property",
    "env.proxy_get_buffer_bytes",
    "env.proxy_get_header_map_pairs",
    "env.proxy_get_header_map_value",
    "env.proxy_replace_header_map_value",
    "env.proxy_remove_header_map_value",
    "env.proxy_send_local_response",
    "env.proxy_define_metric",
    "env.proxy_increment_metric",
];

const APP: &str = "https://app.example.com";
const API: &str = "api.example.test";

/// Headers the test upstream (crates/suites/src) sends on every answer.
fn upstream_headers() -> Vec<(&'static str, &'static str)> {
    vec![("etag", "\"v1\""), ("x-request-id", "req-1"), ("x-internal", "hidden"), ("content-type", "text/plain")]
}

struct Scenario {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    authority: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    /// What the upstream (or the host itself) answers when the request is forwarded.
    status: u16,
    response: Vec<(&'static str, &'static str)>,
}

fn scenarios() -> Vec<Scenario> {
    let preflight = |origin: &'static str, method: &'static str, headers: Option<&'static str>| {
        let mut h = vec![("origin", origin), ("access-control-request-method", method)];
        if let Some(rh) = headers {
            h.push(("access-control-request-headers", rh));
        }
        h
    };
    vec![
        Scenario {
            name: "preflight allowed",
            method: "OPTIONS",
            path: "/api/p",
            authority: API,
            headers: preflight(APP, "POST", Some("content-type,authorization")),
            status: 200,
            response: upstream_headers(),
        },
        Scenario {
            name: "preflight rejected",
            method: "OPTIONS",
            path: "/api/p",
            authority: API,
            headers: preflight("https://evil.test", "GET", None),
            status: 200,
            response: upstream_headers(),
        },
        Scenario {
            name: "actual request allowed",
            method: "GET",
            path: "/api/a",
            authority: API,
            headers: vec![("origin", "https://shop.example.com")],
            status: 200,
            response: upstream_headers(),
        },
        Scenario {
            name: "other origin, upstream's CORS removed",
            method: "GET",
            path: "/api/upstream-cors",
            authority: API,
            headers: vec![("origin", "https://evil.test")],
            status: 200,
            response: {
                let mut h = vec![
                    ("access-control-allow-origin", "*"),
                    ("access-control-allow-credentials", "true"),
                    ("access-control-allow-methods", "GET, PUT, DELETE"),
                    ("access-control-expose-headers", "x-secret"),
                    ("vary", "Accept-Encoding"),
                ];
                h.extend(upstream_headers());
                h
            },
        },
        Scenario {
            name: "upstream error 500",
            method: "GET",
            path: "/api/status/500",
            authority: API,
            headers: vec![("origin", APP)],
            status: 500,
            response: upstream_headers(),
        },
        Scenario {
            name: "host's own 404",
            method: "GET",
            path: "/no-route",
            authority: API,
            headers: vec![("origin", APP)],
            status: 404,
            response: vec![],
        },
        Scenario {
            name: "tenant preflight (rule by :authority)",
            method: "OPTIONS",
            path: "/api/t",
            authority: "a.tenant.test",
            headers: preflight("https://shop.tenant.test", "PUT", None),
            status: 200,
            response: upstream_headers(),
        },
        Scenario {
            name: "tenant request (rule by :authority)",
            method: "GET",
            path: "/api/t",
            authority: "a.tenant.test",
            headers: vec![("origin", "https://shop.tenant.test")],
            status: 200,
            response: upstream_headers(),
        },
    ]
}

fn scenario_json(s: &Scenario) -> Value {
    json!({
        "name": s.name, "method": s.method, "path": s.path, "authority": s.authority,
        "headers": s.headers, "response": {"status": s.status, "headers": s.response},
    })
}

/// What a browser's CORS check sees: status, `access-control-*` and `Vary`
/// (sorted, names lower-cased), and the body of the filter's own replies.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Answer {
    status: u16,
    cors: Vec<(String, String)>,
    body: Option<String>,
}

fn cors_of<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = headers
        .into_iter()
        .map(|(n, val)| (n.to_ascii_lowercase(), val.to_string()))
        .filter(|(n, _)| n.starts_with("access-control-") || n == "vary")
        .collect();
    v.sort();
    v
}

/// The same scenarios through a real Envoy with the release module.
fn envoy_answers(scenarios: &[Scenario]) -> Vec<Answer> {
    let upstream = Upstream::start();
    let envoy = Envoy::expect_running(&[Listener { name: "hosts", config: POLICY }], upstream.port);
    let base = envoy.url("hosts", "");
    let answers = scenarios
        .iter()
        .map(|s| {
            let mut headers: Vec<(&str, &str)> = vec![("Host", s.authority)];
            headers.extend(s.headers.iter().copied());
            let r = send_raw(&base, s.method, s.path, &headers);
            let own_reply = s.method == "OPTIONS";
            Answer {
                status: r.status,
                cors: cors_of(r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
                body: own_reply.then(|| r.body.clone()),
            }
        })
        .collect();
    envoy.stop();
    answers
}

fn profile(name: &str, config: &str, overrides: Value) -> Value {
    let mut p = json!({
        "name": name,
        "config": config,
        "metrics": "ok",
        "time": "ok",
        "header_count": "real",
        "authority_in_pairs": true,
        "host_header": false,
        "local_reply_callback": true,
        "serve_after_failed_configure": false,
        "timers": "ok",
        "shared_data": "ok",
    });
    for (k, v) in overrides.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

/// One profile per host of HOSTS.md, plus the single hazards on their own.
fn profiles() -> Vec<Value> {
    vec![
        // Envoy, Istio, Envoy Gateway: the reference behaviour.
        profile("envoy", POLICY, json!({})),
        // Kong (ngx_wasm_module): metrics work in current releases; nginx keeps
        // an HTTP/1.1 Host header; our local reply comes back through the
        // response callback.
        profile("kong", POLICY, json!({"host_header": true})),
        // APISIX (wasm-nginx-module): metrics stubbed (Ok, no id), time
        // unimplemented, header count 0, `:authority` readable by name but
        // missing from the pairs list.
        profile(
            "apisix",
            POLICY,
            json!({"metrics": "stub", "time": "unimplemented", "header_count": "zero",
                   "authority_in_pairs": false, "host_header": true, "local_reply_callback": false,
                   "timers": "unimplemented", "shared_data": "unimplemented"}),
        ),
        // Service Extensions: no custom metrics, properties, timers or shared
        // data (Unimplemented).
        profile(
            "service-extensions",
            POLICY,
            json!({"metrics": "unimplemented", "set_property_status": 12, "timers": "unimplemented", "shared_data": "unimplemented"}),
        ),
        // HTTP/2 through nginx: no Host header and no `:authority` in the
        // list; only asking by name finds the tenant rule.
        profile("authority-by-name-only", POLICY, json!({"authority_in_pairs": false, "host_header": false, "metrics": "stub"})),
        // A host whose metrics define fine and fail later.
        profile("metrics-increment-fails", POLICY, json!({"metrics": "increment-fails"})),
        // Higress: `_rules_`, `_match_route_`, `_match_domain_` injected.
        profile("higress-injected-keys", &injected_policy(), json!({})),
        // An empty configuration (Istio without pluginConfig, Envoy Gateway's
        // ""), on a host that serves anyway (APISIX configures lazily).
        profile("empty-configuration", "", json!({"metrics": "stub", "serve_after_failed_configure": true})),
    ]
}

/// 10,000 exact tenant origins and 300 wildcard patterns (as the engine benchmark).
fn large_policy() -> String {
    let exact = (0..10_000).map(|i| format!("\"https://tenant{i}.customers.example\""));
    let wild = (0..300).map(|i| format!("\"https://*.region{i}.saas.example\""));
    let origins: Vec<String> = exact.chain(wild).collect();
    format!(
        r#"{{"allow_origins": [{}], "allow_headers": ["authorization", "content-type"], "expose_headers": ["etag"], "allow_credentials": true, "max_age": 600}}"#,
        origins.join(", ")
    )
}

fn run_node(job: &Value) -> Value {
    let script = repo().join("crates/suites/tests/hosts/host.js");
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (Node 20 with node:wasi is needed): {e}"));
    child.stdin.take().unwrap().write_all(job.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the node host failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad output from the node host: {e}"))
}

fn answer_of(result: &Value) -> Answer {
    let headers: Vec<(&str, &str)> =
        result["headers"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap())).collect();
    Answer {
        status: result["status"].as_u64().unwrap() as u16,
        cors: cors_of(headers),
        body: result["local"].as_bool().unwrap().then(|| result["body"].as_str().unwrap().to_string()),
    }
}

#[test]
fn every_host_profile_answers_like_envoy_and_never_traps() {
    let wasm = wasm_path();
    let scenarios = scenarios();
    let bench_scenarios = json!([
        {"name": "preflight, last exact origin", "method": "OPTIONS", "path": "/api/p", "authority": API,
         "headers": [["origin", "https://tenant9999.customers.example"], ["access-control-request-method", "PUT"],
                     ["access-control-request-headers", "authorization,content-type"]],
         "response": {"status": 200, "headers": []}},
        {"name": "request, wildcard origin", "method": "GET", "path": "/api/a", "authority": API,
         "headers": [["origin", "https://a.b.region299.saas.example"]],
         "response": {"status": 200, "headers": [["vary", "Accept-Encoding"], ["access-control-allow-origin", "*"]]}},
    ]);
    let job = json!({
        "wasm": wasm,
        "scenarios": scenarios.iter().map(scenario_json).collect::<Vec<_>>(),
        "profiles": profiles(),
        "bench": {"profile": profile("service-extensions", &large_policy(), json!({"metrics": "unimplemented"})),
                  "scenarios": bench_scenarios, "iterations": 1000},
    });
    let out = run_node(&job);
    let envoy = envoy_answers(&scenarios);

    // Nothing the module imports may go unanswered, and nothing it calls may
    // be outside what edge-cors needs.
    let mut failures = Vec::new();
    println!("\nhost profiles on V8 (node {}), release module, against real Envoy:", node_version());
    for p in out["profiles"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let mut problems = Vec::new();
        if let Some(trap) = p["trap"].as_str() {
            problems.push(format!("trapped in {trap}"));
        }
        for (import, n) in p["calls"].as_object().unwrap() {
            if !USED.contains(&import.as_str()) {
                problems.push(format!("called {import} ({n} times), which edge-cors must not need"));
            }
        }
        let logs: Vec<(u64, &str)> =
            p["logs"].as_array().unwrap().iter().map(|l| (l[0].as_u64().unwrap(), l[1].as_str().unwrap())).collect();
        let metric_warnings = logs.iter().filter(|(_, m)| m.contains("does not support metrics")).count();
        if logs.iter().any(|(_, m)| m.contains("panic")) {
            problems.push("logged a panic".into());
        }
        let profile = profiles().into_iter().find(|q| q["name"] == name).unwrap();
        let metrics = profile["metrics"].as_str().unwrap();
        let want_warnings = usize::from(metrics == "unimplemented" || metrics == "increment-fails");
        if name == "empty-configuration" {
            // Refused like Envoy refuses it, with the reason, and afterwards
            // requests pass untouched: no trap, no CORS change.
            if p["configured"].as_bool().unwrap() {
                problems.push("an empty configuration was accepted".into());
            }
            if !logs.iter().any(|(level, m)| *level == 4 && m.contains("no CORS policy given")) {
                problems.push(format!("no error naming the empty configuration: {logs:?}"));
            }
            for s in &scenarios {
                let r = &p["results"][s.name];
                let got = answer_of(r);
                let untouched = Answer { status: s.status, cors: cors_of(s.response.iter().copied()), body: None };
                if got != untouched {
                    problems.push(format!("{}: changed a response without a policy: {got:?}", s.name));
                }
            }
        } else {
            if !p["configured"].as_bool().unwrap() {
                problems.push(format!("configuration refused: {logs:?}"));
            }
            if metric_warnings != want_warnings {
                problems.push(format!("{metric_warnings} metrics warnings, expected {want_warnings}"));
            }
            if metrics == "ok" && p["metrics"]["increments"].as_u64().unwrap() == 0 {
                problems.push("metrics work on this host but nothing was counted".into());
            }
            for (s, want) in scenarios.iter().zip(&envoy) {
                let r = &p["results"][s.name];
                if r.is_null() {
                    problems.push(format!("{}: not run", s.name));
                    continue;
                }
                let got = answer_of(r);
                if &got != want {
                    problems.push(format!("{}: got {got:?}, Envoy answered {want:?}", s.name));
                }
            }
        }
        let verdict = if problems.is_empty() { "ok  " } else { "FAIL" };
        println!(
            "  {verdict} {name:<26} configured={:<5} metrics={metrics:<15} host calls: {}",
            p["configured"],
            calls_summary(&p["calls"])
        );
        for pr in &problems {
            println!("         {pr}");
        }
        if !problems.is_empty() {
            failures.push(name.to_string());
        }
    }
    println!("  scenarios (each compared with Envoy's answer):");
    for (s, a) in scenarios.iter().zip(&envoy) {
        println!("    {:<42} Envoy {} {}", s.name, a.status, a.cors.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(" "));
    }

    let b = &out["bench"];
    assert!(b["configured"].as_bool().unwrap() && b["trap"].is_null(), "large policy: {b}");
    let mib = |v: &Value| v.as_f64().unwrap() / 1048576.0;
    println!("\n10,000 origins + 300 patterns (Service Extensions profile, V8 via node):");
    println!(
        "  linear memory: {:.2} MiB after configure, {:.2} MiB after {} requests (Service Extensions allows 16 MiB)",
        mib(&b["memory_after_configure"]),
        mib(&b["memory_after_requests"]),
        b["request_headers"]["count"]
    );
    println!(
        "  on_configure (parses and indexes the policy; the heaviest callback): {:.1} ms on a fresh VM, {:.1} ms once the code is compiled",
        b["configure_ms"].as_f64().unwrap(),
        b["configure_again_ms"].as_f64().unwrap()
    );
    for (label, key, first) in [
        ("on_request_headers (preflight, 204)", "request_headers", "first_request_headers_us"),
        ("on_response_headers (actual request)", "response_headers", "first_response_headers_us"),
    ] {
        let s = &b[key];
        println!(
            "  {label}: median {:.1} µs, p99 {:.1} µs, max {:.1} µs over {} calls; first call {:.1} µs (budget 1 ms)",
            s["median_us"].as_f64().unwrap(),
            s["p99_us"].as_f64().unwrap(),
            s["max_us"].as_f64().unwrap(),
            s["count"],
            b[first].as_f64().unwrap()
        );
    }
    assert!(b["memory_after_requests"].as_f64().unwrap() < 16.0 * 1048576.0, "over Service Extensions' 16 MiB");
    // The median, not the tail: on a shared 2-core machine the tail is the
    // scheduler's and the JS host's garbage collector's, not the module's.
    for key in ["request_headers", "response_headers"] {
        let median = b[key]["median_us"].as_f64().unwrap();
        assert!(median < 1000.0, "{key}: median {median} µs is over the 1 ms budget");
    }
    assert!(failures.is_empty(), "host profiles failed: {failures:?}");
}

/// docs/contract.md "Live origins": a policy with `allow_origins_from` is
/// refused at configure time, with the reason, on a host that cannot fetch
/// (no timers or no shared data); elsewhere it loads, asks for a tick and
/// creates its lease, and fetches nothing before the first tick.
#[test]
fn origin_sources_are_refused_where_the_host_cannot_fetch() {
    let live = r#"{"allow_origins": ["https://app.example.com"],
        "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins"}}"#;
    let profiles: Vec<Value> = profiles()
        .into_iter()
        .filter(|p| p["name"] != "empty-configuration")
        .map(|mut p| {
            p["config"] = json!(live);
            p
        })
        .chain([
            profile("timers-only", live, json!({"shared_data": "unimplemented"})),
            profile("shared-data-only", live, json!({"timers": "unimplemented"})),
        ])
        .collect();
    let out = run_node(&json!({"wasm": wasm_path(), "scenarios": [], "profiles": profiles}));
    let mut failures = Vec::new();
    println!("\na policy with allow_origins_from, per host profile:");
    for (p, profile) in out["profiles"].as_array().unwrap().iter().zip(&profiles) {
        let name = p["name"].as_str().unwrap();
        let can_fetch = profile["timers"] == "ok" && profile["shared_data"] == "ok";
        let logs: Vec<&str> = p["logs"].as_array().unwrap().iter().filter_map(|l| l[1].as_str()).collect();
        let refusal = logs.iter().find(|m| m.contains("this host cannot fetch origins"));
        let mut problems = Vec::new();
        if let Some(trap) = p["trap"].as_str() {
            problems.push(format!("trapped in {trap}"));
        }
        if p["configured"].as_bool() != Some(can_fetch) {
            problems.push(format!("configured={}, expected {can_fetch}: {logs:?}", p["configured"]));
        }
        match (can_fetch, refusal) {
            (true, Some(r)) => problems.push(format!("refused on a host that can fetch: {r}")),
            (false, None) => problems.push(format!("no line saying why: {logs:?}")),
            (false, Some(r)) if !r.starts_with("invalid edge-cors configuration: allow_origins_from (rule default)") => {
                problems.push(format!("the line does not name the field: {r}"))
            }
            (false, Some(r)) => {
                let missing = if profile["timers"] != "ok" { "it has no timers" } else { "it has no shared data" };
                if !r.contains(missing) {
                    problems.push(format!("the line does not say {missing:?}: {r}"));
                }
            }
            _ => {}
        }
        if can_fetch && p["tick_period"].as_u64() != Some(1000) {
            problems.push(format!("asked for a tick of {} ms", p["tick_period"]));
        }
        if p["calls"].get("env.proxy_http_call").is_some() {
            problems.push("fetched during configure".into());
        }
        let verdict = if problems.is_empty() { "ok  " } else { "FAIL" };
        println!("  {verdict} {name:<26} configured={:<5} {}", p["configured"], refusal.copied().unwrap_or(""));
        for pr in &problems {
            println!("         {pr}");
        }
        if !problems.is_empty() {
            failures.push(name.to_string());
        }
    }
    assert!(failures.is_empty(), "profiles failed: {failures:?}");
}

fn calls_summary(calls: &Value) -> String {
    let mut names: Vec<String> = calls.as_object().unwrap().keys().map(|k| k.trim_start_matches("env.proxy_").to_string()).collect();
    names.sort();
    names.join(", ")
}

fn node_version() -> String {
    Command::new("node").arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
}
