//! Live reconfiguration through Envoy's file-based LDS, under load.
//!
//! Envoy takes its listener from `lds/lds.yaml` (`dynamic_resources.lds_config`
//! with a `path_config_source` and a `watched_directory`). While client
//! threads keep requests going over keep-alive connections, the test
//! replaces that file (write, then rename: Envoy reacts to the move):
//! 1. with a new valid policy: the update is accepted and the new policy
//!    serves, without a restart;
//! 2. with an invalid policy: Envoy rejects the update, the filter's error
//!    line is in the log, and the last good policy keeps serving;
//! 3. with the first policy again: accepted, as after any rejected update.
//!
//! Every response is checked against the policy expected at that moment
//! (either one while an update settles); a transport error or a response no
//! policy would give is a failed request. The target is zero.
//!
//! `make test` runs one 20-second cycle; `EDGE_CORS_RELOAD_SECONDS=300`
//! (`make reload`) repeats the cycle for longer.

use edge_cors_suites as common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// The first policy: app.example.com, GET and POST.
const POLICY_A: &str = r#"{"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "POST"], "expose_headers": ["etag"]}"#;
/// The second: also new.example.com, and PUT.
const POLICY_B: &str = r#"{"allow_origins": ["https://app.example.com", "https://new.example.com"], "allow_methods": ["GET", "POST", "PUT"], "expose_headers": ["etag"]}"#;
/// Refused by the filter's configure step: `*` with credentials.
const INVALID: &str = r#"{"allow_origins": ["*"], "allow_credentials": true}"#;
const INVALID_LINE: &str = "invalid edge-cors configuration: allow_origins[0] = \"*\": allows every origin while allow_credentials is true";

const APP: &str = "https://app.example.com";
const NEW: &str = "https://new.example.com";
const CLIENTS: usize = 4;
const PHASE: Duration = Duration::from_secs(6);

fn lds(port: u16, policy: &str) -> String {
    lds_yaml("reload", port, policy)
}

fn bootstrap(dir: &Path, upstream_port: u16, listener_port: u16) -> String {
    let lds_dir = dir.join("lds");
    fs::create_dir_all(&lds_dir).unwrap();
    fs::write(lds_dir.join("lds.yaml"), lds(listener_port, POLICY_A)).unwrap();
    lds_bootstrap(&lds_dir, &clusters_yaml(upstream_port))
}

fn counter(stats: &str, name: &str) -> u64 {
    let prefix = format!("{name}: ");
    stats.lines().find_map(|l| l.strip_prefix(prefix.as_str()).and_then(|v| v.trim().parse().ok())).unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Version {
    A,
    B,
}

/// What the clients should see now. `settled`: the update has been applied
/// (or rejected) and a grace second has passed, so only `expect` may answer.
struct Expectation {
    expect: Version,
    settled: bool,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    failed: u64,
    /// Answers that named a policy, by whether the moment was settled and
    /// whether the answer was the expected one.
    stale_after_settling: u64,
    /// Answers from the previous policy while an update settled (allowed).
    previous_while_settling: u64,
    errors: Vec<String>,
}

/// One request of a rotating mix; returns which policy the answer shows
/// (None when both would answer alike), or why it is wrong.
fn exchange(agent: &ureq::Agent, base: &str, kind: usize) -> Result<Option<Version>, String> {
    let (method, path, headers): (&str, &str, Vec<(&str, &str)>) = match kind {
        0 => ("GET", "/api/reload", vec![("Origin", APP)]),
        1 => ("OPTIONS", "/api/reload", vec![("Origin", APP), ("Access-Control-Request-Method", "PUT")]),
        2 => ("GET", "/api/reload", vec![("Origin", NEW)]),
        3 => ("GET", "/api/reload", vec![]),
        4 => ("GET", "/api/status/500", vec![("Origin", APP)]),
        _ => ("GET", "/api/reload", vec![("Origin", "https://evil.test")]),
    };
    let mut b = ureq::http::Request::builder().method(method).uri(format!("{base}{path}"));
    for (k, v) in &headers {
        b = b.header(*k, *v);
    }
    let mut resp = agent.run(b.body(()).unwrap()).map_err(|e| format!("{method} {path} {headers:?}: {e}"))?;
    let status = resp.status().as_u16();
    let h = |n: &str| resp.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let cors: Vec<String> = resp.headers().keys().map(|k| k.as_str().to_string()).filter(|k| k.starts_with("access-control-")).collect();
    let (acao, acam, vary) = (h("access-control-allow-origin"), h("access-control-allow-methods"), h("vary"));
    let mut body = String::new();
    let _ = resp.body_mut().as_reader().read_to_string(&mut body);
    let got = format!("{method} {path} {headers:?}: {status} {cors:?} acao={acao:?} vary={vary:?} body={body:?}");
    let ok_actual = |origin: &str| acao.as_deref() == Some(origin) && vary.as_deref() == Some("Origin");
    let bare = cors.is_empty() && vary.as_deref() == Some("Origin");
    match kind {
        0 if status == 200 && ok_actual(APP) => Ok(None),
        1 if status == 204 && acao.as_deref() == Some(APP) && acam.as_deref() == Some("GET, POST, PUT") => Ok(Some(Version::B)),
        1 if status == 403 && cors.is_empty() && body == "CORS preflight rejected: method \"PUT\" not allowed\n" => Ok(Some(Version::A)),
        2 if status == 200 && ok_actual(NEW) => Ok(Some(Version::B)),
        2 if status == 200 && bare => Ok(Some(Version::A)),
        3 | 5 if status == 200 && bare => Ok(None),
        4 if status == 500 && ok_actual(APP) => Ok(None),
        _ => Err(got),
    }
}

fn client(base: String, stop: Arc<AtomicBool>, now: Arc<Mutex<Expectation>>, tally: Arc<Mutex<Tally>>, first: usize) {
    // One keep-alive connection per client, reused: updates must drain it cleanly.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    let mut kind = first;
    while !stop.load(Ordering::Relaxed) {
        let (expect, settled) = {
            let e = now.lock().unwrap();
            (e.expect, e.settled)
        };
        let result = exchange(&agent, &base, kind % 6);
        kind += 1;
        let mut t = tally.lock().unwrap();
        t.requests += 1;
        match result {
            Ok(Some(v)) if settled && v != expect => {
                t.stale_after_settling += 1;
                if t.errors.len() < 10 {
                    t.errors.push(format!("policy {v:?} answered after {expect:?} settled"));
                }
            }
            Ok(Some(v)) if !settled && v != expect => t.previous_while_settling += 1,
            Ok(_) => {}
            Err(e) => {
                t.failed += 1;
                if t.errors.len() < 10 {
                    t.errors.push(e);
                }
            }
        }
    }
}

/// "in 3-12 ms": how long Envoy took from the file move to its counter.
fn span(times: &[Duration]) -> String {
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let min = times.iter().map(ms).fold(f64::INFINITY, f64::min);
    let max = times.iter().map(ms).fold(0.0, f64::max);
    format!("in {min:.0}-{max:.0} ms")
}

#[test]
fn policies_swap_under_load_without_failed_requests() {
    let seconds: u64 = std::env::var("EDGE_CORS_RELOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let cycles = (seconds.saturating_sub(2) / (3 * PHASE.as_secs())).max(1);
    let upstream = Upstream::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let envoy = match Envoy::start_bootstrap(
        |dir| bootstrap(dir, upstream.port, port),
        1,
        // On an update, old connections are told to close on their next
        // response at once, rather than gradually over Envoy's default 600 s.
        &["--drain-strategy", "immediate", "--drain-time-s", "2"],
    ) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
    };
    let base = envoy.url("reload", "");
    let pid = envoy.pid();

    let stop = Arc::new(AtomicBool::new(false));
    let now = Arc::new(Mutex::new(Expectation { expect: Version::A, settled: true }));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (base, stop, now, tally) = (base.clone(), stop.clone(), now.clone(), tally.clone());
            thread::spawn(move || client(base, stop, now, tally, i))
        })
        .collect();
    let started = Instant::now();
    thread::sleep(Duration::from_secs(2));

    let set = |expect: Version, settled: bool| *now.lock().unwrap() = Expectation { expect, settled };
    let wait_for = |stat: &str, above: u64| -> Duration {
        let t = Instant::now();
        while counter(&envoy.stats(), stat) <= above {
            assert!(t.elapsed() < Duration::from_secs(10), "Envoy did not count {stat} within 10 s:\n{}", envoy.log());
            thread::sleep(Duration::from_millis(20));
        }
        t.elapsed()
    };
    let mut applied = Vec::new();
    let mut rejected = Vec::new();
    for _ in 0..cycles {
        for (policy, version, valid) in [(POLICY_B, Version::B, true), (INVALID, Version::B, false), (POLICY_A, Version::A, true)] {
            let phase = Instant::now();
            let stats = envoy.stats();
            let (ok, refused) =
                (counter(&stats, "listener_manager.lds.update_success"), counter(&stats, "listener_manager.lds.update_rejected"));
            if valid {
                // Either policy may answer until the update is applied and old connections drained.
                set(version, false);
                publish_lds(&envoy.dir.join("lds"), &lds(port, policy));
                applied.push(wait_for("listener_manager.lds.update_success", ok));
                thread::sleep(Duration::from_secs(1));
            } else {
                publish_lds(&envoy.dir.join("lds"), &lds(port, policy));
                rejected.push(wait_for("listener_manager.lds.update_rejected", refused));
            }
            set(version, true);
            // The new (or kept) policy answers a fresh connection too.
            let r = preflight(&format!("{base}/api/reload"), APP, "PUT", None);
            assert_eq!(r.status, if version == Version::B { 204 } else { 403 }, "a fresh connection after the swap: {:?}", r.headers);
            thread::sleep(PHASE.saturating_sub(phase.elapsed()));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let t = tally.lock().unwrap();
    let log = envoy.log();
    let stats = envoy.stats();
    println!(
        "reload under load: {:.0} s, {} clients, {} requests, {} failed, {} stale after settling \
         ({} answered by the previous policy while an update settled); \
         {} valid updates applied ({}), {} invalid ones rejected ({}); Envoy pid {} throughout",
        started.elapsed().as_secs_f64(),
        CLIENTS,
        t.requests,
        t.failed,
        t.stale_after_settling,
        t.previous_while_settling,
        applied.len(),
        span(&applied),
        rejected.len(),
        span(&rejected),
        pid
    );
    assert!(t.failed == 0 && t.stale_after_settling == 0, "failed requests during the swaps:\n{}", t.errors.join("\n"));
    assert!(t.requests > 100, "too little load: {} requests", t.requests);
    assert!(log.contains(INVALID_LINE), "the filter's error line is not in Envoy's log:\n{log}");
    assert_eq!(counter(&stats, "listener_manager.lds.update_rejected"), cycles, "{stats}");
    // Envoy itself never restarted, and the module's VM never failed.
    assert_eq!(envoy.pid(), pid);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists(), "Envoy is gone");
    assert!(!log.contains("panic"), "{log}");
    envoy.stop();
}
