//! Per-host and per-path rules, metrics and report mode, through a real Envoy.

use edge_cors_suites as common;

use common::*;

const RULES: &str = r#"{
  "allow_origins": ["https://app.example.com"],
  "rules": [
    {"name": "legacy", "match": {"path_prefix": "/api/legacy/"}, "cors": "off"},
    {"name": "tenants", "match": {"hosts": ["*.tenant.test"]},
     "allow_origins": ["https://*.tenant.test"], "allow_methods": ["GET", "PUT"]},
    {"name": "payments", "match": {"hosts": ["pay.example.com"], "path_prefix": "/api/v1/"},
     "allow_origins": ["https://checkout.example.com"], "allow_credentials": true}
  ]
}"#;

fn preflight_raw(base: &str, host: &str, path: &str, origin: &str, method: &str) -> Resp {
    send_raw(base, "OPTIONS", path, &[("Host", host), ("Origin", origin), ("Access-Control-Request-Method", method)])
}

#[test]
fn rules_pick_the_policy_by_host_and_path() {
    let upstream = Upstream::start();
    let envoy = Envoy::expect_running(&[Listener { name: "rules", config: RULES }], upstream.port);
    let base = envoy.url("rules", "");

    // Host wildcard rule: its own origins and methods.
    let r = preflight_raw(&base, "a.tenant.test", "/api/x", "https://shop.tenant.test", "PUT");
    assert_eq!(r.status, 204, "{:?}", r.headers);
    assert_eq!(r.one("access-control-allow-origin"), Some("https://shop.tenant.test"));
    assert_eq!(r.one("access-control-allow-methods"), Some("GET, PUT"));
    let r = preflight_raw(&base, "A.Tenant.Test", "/api/x", "https://app.example.com", "GET");
    assert_eq!((r.status, r.body.as_str()), (403, "CORS preflight rejected: origin not allowed\n"), "the rule replaces the default");
    // docs/contract.md "Rules": no port in the entry, no port in the
    // request (as Envoy's virtual hosts match by default): the default policy.
    let r = preflight_raw(&base, "a.tenant.test:8443", "/api/x", "https://app.example.com", "GET");
    assert_eq!(r.status, 204, "a host with a port falls to the default policy");

    // Default policy for any other host.
    let r = preflight_raw(&base, "tenant.test", "/api/x", "https://shop.tenant.test", "GET");
    assert_eq!(r.status, 403);
    let r = preflight_raw(&base, "api.example.com", "/api/x", "https://app.example.com", "GET");
    assert_eq!(r.status, 204);

    // Host and path together.
    let r = send_raw(&base, "GET", "/api/v1/charge", &[("Host", "pay.example.com"), ("Origin", "https://checkout.example.com")]);
    assert_eq!(r.one("access-control-allow-origin"), Some("https://checkout.example.com"));
    assert_eq!(r.one("access-control-allow-credentials"), Some("true"));
    let r = send_raw(&base, "GET", "/api/v2/charge", &[("Host", "pay.example.com"), ("Origin", "https://checkout.example.com")]);
    assert!(r.cors_headers().is_empty(), "v2 is the default policy: {:?}", r.headers);

    // "cors": "off": untouched both ways; the upstream's own CORS headers pass, preflights reach it.
    let r = send_raw(&base, "GET", "/api/legacy/upstream-cors", &[("Host", "x"), ("Origin", "https://evil.test")]);
    assert_eq!(r.one("access-control-allow-origin"), Some("*"));
    assert_eq!(r.one("vary"), Some("Accept-Encoding"));
    let r = preflight_raw(&base, "x", "/api/legacy/pre", "https://evil.test", "DELETE");
    assert_eq!(r.status, 200, "forwarded to the upstream");
    assert_eq!(upstream.seen("/api/legacy/pre").len(), 1);
    envoy.stop();
}

#[test]
fn metrics_count_each_outcome() {
    let upstream = Upstream::start();
    let config = r#"{"allow_origins": ["https://app.example.com"], "allow_headers": ["x-ok"]}"#;
    let envoy = Envoy::expect_running(&[Listener { name: "metrics", config }], upstream.port);
    let url = |p: &str| envoy.url("metrics", p);
    let app = "https://app.example.com";
    for _ in 0..2 {
        assert_eq!(preflight(&url("/api/m"), app, "POST", Some("x-ok")).status, 204);
    }
    assert_eq!(preflight(&url("/api/m"), "https://evil.test", "GET", None).status, 403);
    assert_eq!(preflight(&url("/api/m"), app, "DELETE", None).status, 403);
    for _ in 0..3 {
        assert_eq!(preflight(&url("/api/m"), app, "GET", Some("x-bad")).status, 403);
    }
    for _ in 0..4 {
        get(&url("/api/m"), &[("Origin", app)]);
    }
    for _ in 0..5 {
        get(&url("/api/m"), &[("Origin", "https://evil.test")]);
    }
    get(&url("/api/m"), &[]);
    for _ in 0..6 {
        get(&url("/api/upstream-cors"), &[("Origin", app)]);
    }
    let stats = envoy.stats();
    let want = [
        ("edge_cors.preflight_allowed", 2),
        ("edge_cors.preflight_rejected_origin", 1),
        ("edge_cors.preflight_rejected_method", 1),
        ("edge_cors.preflight_rejected_header", 3),
        ("edge_cors.request_allowed", 4 + 6),
        ("edge_cors.request_rejected_origin", 5),
        ("edge_cors.upstream_cors_headers_replaced", 6),
    ];
    for (name, n) in want {
        assert_eq!(
            stat(&stats, name),
            Some(n),
            "{name} in:\n{}",
            stats.lines().filter(|l| l.contains("edge_cors")).collect::<Vec<_>>().join("\n")
        );
    }
    envoy.stop();
}

#[test]
fn report_mode_changes_nothing_and_counts_differences() {
    let upstream = Upstream::start();
    let config = r#"{"mode": "report", "allow_origins": ["https://app.example.com"], "expose_headers": ["etag"],
      "rules": [{"name": "admin", "match": {"path_prefix": "/api/admin/"}, "allow_origins": ["https://admin.example.com"]}]}"#;
    let envoy = Envoy::expect_running(&[Listener { name: "report", config }], upstream.port);
    let url = |p: &str| envoy.url("report", p);

    // The upstream's answer passes untouched: its `*`, its credentials, its Vary.
    let r = get(&url("/api/upstream-cors"), &[("Origin", "https://app.example.com")]);
    assert_eq!(r.one("access-control-allow-origin"), Some("*"));
    assert_eq!(r.one("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.one("vary"), Some("Accept-Encoding"));
    // Preflights are not answered: the upstream gets them.
    let r = preflight(&url("/api/admin/pre"), "https://evil.test", "DELETE", None);
    assert_eq!(r.status, 200);
    assert_eq!(upstream.seen("/api/admin/pre").len(), 1);
    // A response that already matches the policy reports nothing.
    get(&url("/api/plain"), &[("Origin", "https://evil.test")]);

    let stats = envoy.stats();
    // default rule: allow-origin different (* vs the origin), expose-headers
    // different (x-secret vs etag), credentials and methods extra.
    assert_eq!(stat(&stats, "edge_cors.report.default.different"), Some(2), "{stats}");
    assert_eq!(stat(&stats, "edge_cors.report.default.extra"), Some(2));
    // missing: Vary: Origin, on both answers (docs/contract.md "Report mode").
    assert_eq!(stat(&stats, "edge_cors.report.default.missing"), Some(2));
    // admin rule: the upstream sent nothing for a refused preflight: in agreement.
    assert_eq!(stat(&stats, "edge_cors.report.admin.extra"), Some(0));
    assert_eq!(stat(&stats, "edge_cors.preflight_allowed"), Some(0), "report mode answers nothing");
    let log = envoy.log();
    let line = log.lines().find(|l| l.contains("edge-cors report:")).unwrap_or_else(|| panic!("no report line in:\n{log}"));
    assert!(line.contains("rule \"default\""), "{line}");
    assert!(line.contains("different access-control-allow-origin (edge-cors: \"https://app.example.com\", upstream: \"*\")"), "{line}");
    assert!(line.contains("extra access-control-allow-credentials"), "{line}");
    envoy.stop();
}

#[test]
fn rejections_are_explained_at_debug_level() {
    let upstream = Upstream::start();
    let envoy = Envoy::expect_running(&[Listener { name: "rules", config: RULES }], upstream.port);
    let base = envoy.url("rules", "");
    // Envoy's loggers start at info: raise the shell's.
    send("POST", &format!("http://{}/logging?{}=debug", envoy.admin, logger()), &[]);
    preflight_raw(&base, "a.tenant.test", "/api/x", "https://shop.tenant.test", "DELETE");
    send_raw(&base, "GET", "/api/x", &[("Host", "api.example.com"), ("Origin", "https://evil.test")]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = envoy.log();
    assert!(
        log.contains("edge-cors: preflight from \"https://shop.tenant.test\" rejected by rule \"tenants\": method \"DELETE\" not allowed"),
        "{log}"
    );
    assert!(log.contains("edge-cors: origin \"https://evil.test\" not allowed by rule \"default\""), "{log}");
    envoy.stop();
}
