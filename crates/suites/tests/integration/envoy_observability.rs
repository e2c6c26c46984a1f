//! Every decision visible where operators look, through a real Envoy:
//! the access log (`%FILTER_STATE(wasm.edge_cors:PLAIN)%`), the response-code
//! details of the filter's own replies, per-rule counters, and the opt-in
//! `x-edge-cors` header (docs/operating.md; docs/contract.md "Observability").

use edge_cors_suites as common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const POLICY: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["content-type"],
    "rules": [
        {"name": "legacy", "match": {"path_prefix": "/api/legacy/"}, "cors": "off"},
        {"name": "tenants", "match": {"path_prefix": "/api/tenants/"}, "debug": true,
         "allow_origins": ["https://*.tenant.test"], "allow_methods": ["GET", "PUT"]}
    ]
}"#;

const REPORT: &str = r#"{"mode": "report", "allow_origins": ["https://app.example.com"]}"#;

/// Path, status, details and the record, one line per request.
/// The record's filter-state key is the shell's (`wasm.edge_cors` or `edge_cors`).
fn format() -> String {
    format!("%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %FILTER_STATE({}:PLAIN)%\n", record_key())
}

struct Rig {
    _upstream: Upstream,
    envoy: Envoy,
    logs: PathBuf,
}

/// The tests share one Envoy, whose counters add up every listener's
/// requests: a test that measures a counter's change holds this, and so does
/// every test that sends requests, so none lands inside another's window.
fn counters_to_myself() -> std::sync::MutexGuard<'static, ()> {
    static COUNTERS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    COUNTERS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let upstream = Upstream::start();
        // A fresh directory per run: a line left by an earlier run must not
        // stand in for this run's request.
        let logs = std::env::temp_dir().join(format!("edge-cors-access-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs).unwrap();
        let listeners = [
            Listener { name: "logged", config: POLICY }.yaml().access_log(&logs.join("logged.log"), &format()).build(),
            Listener { name: "report", config: REPORT }.yaml().access_log(&logs.join("report.log"), &format()).build(),
        ];
        let port = upstream.port;
        // Envoy writes file logs every 10 s by default; the test reads them at once.
        let envoy =
            match Envoy::start_bootstrap(|_| bootstrap_yaml(&listeners, port), listeners.len(), &["--file-flush-interval-msec", "50"]) {
                Started::Running(e) => e,
                Started::Exited { code, log } => panic!("Envoy exited ({code:?}):\n{log}"),
            };
        Rig { _upstream: upstream, envoy, logs }
    })
}

/// The access-log line of the request to `path` (unique per request):
/// (status, details, record). Envoy flushes the file log every second.
fn logged(listener: &str, path: &str) -> (String, String, String) {
    let file = rig().logs.join(format!("{listener}.log"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.split(' ').next() == Some(path)) {
            let mut parts = line.splitn(4, ' ');
            let (_, status, details, record) = (parts.next(), parts.next(), parts.next(), parts.next());
            return (status.unwrap_or("").into(), details.unwrap_or("").into(), record.unwrap_or("").into());
        }
        assert!(Instant::now() < deadline, "no access-log line for {path} in {}:\n{text}", file.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

const APP: &str = "https://app.example.com";

/// One request per decision kind; the exact record and details for each.
#[test]
fn every_decision_is_in_the_access_log() {
    let _counters = counters_to_myself();
    let url = |path: &str| rig().envoy.url("logged", path);
    type Send = fn(&str) -> Resp;
    let cases: [(&str, Send, &str, &str, &str); 10] = [
        (
            "/api/pf-ok",
            |u| preflight(u, APP, "POST", Some("content-type")),
            "204",
            "edge_cors_preflight_allowed",
            "rule=default decision=preflight_allowed reason=none origin=https://app.example.com",
        ),
        (
            "/api/pf-origin",
            |u| preflight(u, "https://evil.test", "GET", None),
            "403",
            "edge_cors_preflight_rejected_origin",
            "rule=default decision=preflight_rejected reason=origin origin=https://evil.test",
        ),
        (
            "/api/pf-method",
            |u| preflight(u, APP, "DELETE", None),
            "403",
            "edge_cors_preflight_rejected_method",
            "rule=default decision=preflight_rejected reason=method origin=https://app.example.com detail=DELETE",
        ),
        (
            "/api/pf-header",
            |u| preflight(u, APP, "POST", Some("content-type, x-tenant")),
            "403",
            "edge_cors_preflight_rejected_header",
            "rule=default decision=preflight_rejected reason=header origin=https://app.example.com detail=x-tenant",
        ),
        (
            "/api/get-ok",
            |u| get(u, &[("Origin", APP)]),
            "200",
            "via_upstream",
            "rule=default decision=allowed reason=none origin=https://app.example.com",
        ),
        (
            "/api/get-evil",
            |u| get(u, &[("Origin", "https://evil.test")]),
            "200",
            "via_upstream",
            "rule=default decision=rejected reason=origin origin=https://evil.test",
        ),
        ("/api/get-plain", |u| get(u, &[]), "200", "via_upstream", "rule=default decision=not_cors reason=none"),
        (
            "/api/legacy/get",
            |u| get(u, &[("Origin", APP)]),
            "200",
            "via_upstream",
            "rule=legacy decision=off reason=none origin=https://app.example.com",
        ),
        (
            "/api/tenants/get",
            |u| get(u, &[("Origin", "https://a.tenant.test")]),
            "200",
            "via_upstream",
            "rule=tenants decision=allowed reason=none origin=https://a.tenant.test",
        ),
        // A value with a space and a quote: escaped, still one field.
        (
            "/api/get-odd",
            |u| get(u, &[("Origin", "https://a b\"c")]),
            "200",
            "via_upstream",
            "rule=default decision=rejected reason=origin origin=https://a%20b%22c",
        ),
    ];
    for (path, send, status, details, record) in cases {
        let r = send(&url(path));
        assert_eq!(r.status.to_string(), status, "{path}");
        assert_eq!(logged("logged", path), (status.to_string(), details.to_string(), record.to_string()), "{path}");
    }
    // Report mode: nothing changes, and the log says so.
    let r = preflight(&rig().envoy.url("report", "/api/report-pf"), APP, "GET", None);
    assert_eq!(r.status, 200, "report mode forwards the preflight");
    assert_eq!(logged("report", "/api/report-pf").2, "rule=default decision=report reason=none origin=https://app.example.com");
}

/// Each rule's decisions are counted apart (`edge_cors.rule.<name>.*`), and
/// the totals still count everything.
#[test]
fn per_rule_counters() {
    let _counters = counters_to_myself();
    let url = |path: &str| rig().envoy.url("logged", &format!("{path}/{}", unique("c")));
    let before = rig().envoy.stats();
    let n = |stats: &str, name: &str| stat(stats, name).unwrap_or(0);
    for _ in 0..3 {
        preflight(&url("/api/tenants"), "https://a.tenant.test", "PUT", None);
    }
    for _ in 0..2 {
        preflight(&url("/api/tenants"), "https://evil.test", "PUT", None);
    }
    get(&url("/api/tenants"), &[("Origin", "https://evil.test")]);
    preflight(&url("/api/other"), APP, "DELETE", None);
    let after = rig().envoy.stats();
    let delta = |name: &str| n(&after, name) - n(&before, name);
    assert_eq!(delta("edge_cors.rule.tenants.preflight_allowed"), 3);
    assert_eq!(delta("edge_cors.rule.tenants.preflight_rejected_origin"), 2);
    assert_eq!(delta("edge_cors.rule.tenants.request_rejected_origin"), 1);
    assert_eq!(delta("edge_cors.rule.default.preflight_rejected_method"), 1);
    assert_eq!(delta("edge_cors.rule.tenants.preflight_rejected_method"), 0);
    assert_eq!(delta("edge_cors.preflight_allowed"), 3, "totals");
    assert_eq!(delta("edge_cors.preflight_rejected_origin"), 2);
    assert_eq!(delta("edge_cors.preflight_rejected_method"), 1);
    assert!(stat(&after, "edge_cors.rule.legacy.preflight_allowed").is_some(), "every rule has its counters");
}

/// `"debug": true` (the tenants rule) shows the record in `x-edge-cors`;
/// the default policy, without it, never does.
#[test]
fn debug_header_only_where_enabled() {
    let _counters = counters_to_myself();
    let url = |path: &str| rig().envoy.url("logged", path);
    let r = preflight(&url("/api/tenants/dbg"), "https://a.tenant.test", "DELETE", None);
    assert_eq!(
        r.one("x-edge-cors"),
        Some("rule=tenants decision=preflight_rejected reason=method origin=https://a.tenant.test detail=DELETE")
    );
    let r = get(&url("/api/tenants/dbg"), &[("Origin", "https://a.tenant.test")]);
    assert_eq!(r.one("x-edge-cors"), Some("rule=tenants decision=allowed reason=none origin=https://a.tenant.test"));
    let r = get(&url("/api/tenants/dbg"), &[]);
    assert_eq!(r.one("x-edge-cors"), Some("rule=tenants decision=not_cors reason=none"));
    for r in [preflight(&url("/api/x"), "https://evil.test", "GET", None), get(&url("/api/x"), &[("Origin", APP)])] {
        assert_eq!(r.one("x-edge-cors"), None, "{:?}", r.headers);
    }
}
