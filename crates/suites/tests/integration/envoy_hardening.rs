//! The hardening rules of docs/contract.md through a real Envoy: rules that
//! route like Envoy's virtual hosts (port, trailing dot, route names),
//! gateway-injected rules, the new origin forms, preflight details,
//! `timing_allow_origin`, `preflight_status`, and what report mode counts.

use edge_cors_suites as common;

use std::sync::OnceLock;

use common::*;

/// Rules by host, by Envoy route name, and Higress's `_rules_`.
const ROUTED: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "_rules_": [{"_match_route_": ["higress-route"], "allow_origins": ["https://higress.example.com"]}],
    "rules": [
        {"name": "pay-host", "match": {"hosts": ["pay.example.com"]},
         "allow_origins": ["https://checkout.example.com"], "allow_credentials": true},
        {"name": "named", "match": {"routes": ["named-route"]}, "allow_origins": ["https://named.example.com"]}
    ]
}"#;

/// Envoy's own routing beside the rules: a virtual host for
/// pay.example.com (exact, as Envoy matches domains by default), named
/// routes, and one route without a name.
const ROUTED_HOSTS: &str = r#"
            - name: pay
              domains: ["pay.example.com"]
              routes:
              - name: pay-route
                match: { prefix: "/api/" }
                route: { cluster: upstream }
            - name: all
              domains: ["*"]
              routes:
              - name: named-route
                match: { prefix: "/api/named/" }
                route: { cluster: upstream }
              - name: higress-route
                match: { prefix: "/api/higress/" }
                route: { cluster: upstream }
              - match: { prefix: "/api/" }
                route: { cluster: upstream }"#;

/// The new origin forms and options.
const FORMS: &str = r#"{
    "allow_origins": ["https://app.example.com", "http://localhost:*", "http://[::ffff:127.0.0.1]:8080",
                      "capacitor://localhost", "chrome-extension://abcdefghijklmnopabcdefghijklmnop", "null",
                      "https://*.example.org:*"],
    "allow_methods": ["GET", "PUT"],
    "allow_headers": ["*"],
    "allow_private_network": true,
    "timing_allow_origin": true,
    "preflight_status": 200
}"#;

/// Rules beside a route table that ignores the port and a route matching
/// its prefix ignoring case: the policy says so, and agrees.
const MIRRORED: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "ignore_port_in_host_matching": true,
    "rules": [
        {"name": "pay-host", "match": {"hosts": ["pay.example.com"]},
         "allow_origins": ["https://checkout.example.com"], "allow_credentials": true},
        {"name": "admin", "match": {"path_prefix": "/api/admin/", "case_sensitive": false}, "cors": "off"},
        {"name": "v1", "match": {"path_separated_prefix": "/api/v1"}, "cors": "off"}
    ]
}"#;

const MIRRORED_HOSTS: &str = r#"
            - name: pay
              domains: ["pay.example.com"]
              routes:
              - match: { prefix: "/api/" }
                route: { cluster: upstream }
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/api/admin/", case_sensitive: false }
                route: { cluster: upstream }
              - match: { path_separated_prefix: "/api/v1" }
                route: { cluster: upstream }
              - match: { prefix: "/api/" }
                route: { cluster: upstream }"#;

/// A debug policy: its decisions in `x-edge-cors`.
const DEBUGGED: &str = r#"{"allow_origins": ["https://app.example.com"], "allow_headers": ["x-a"], "debug": true,
    "rules": [{"name": "quiet", "match": {"path_prefix": "/api/quiet/"}, "allow_origins": ["https://app.example.com"]}]}"#;

/// Cross-origin writes refused at the edge.
const WRITES: &str = r#"{"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "POST"],
    "block_cross_origin_writes": true}"#;

/// Report mode with a rule, to count per rule.
const REPORT: &str = r#"{
    "mode": "report",
    "allow_origins": ["https://app.example.com"],
    "rules": [{"name": "legacy", "match": {"path_prefix": "/api/legacy/"}, "allow_origins": ["https://app.example.com"]}]
}"#;

struct Rig {
    _upstream: Upstream,
    envoy: Envoy,
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let upstream = Upstream::start();
        let listeners = [
            Listener { name: "routed", config: ROUTED }.yaml().virtual_hosts(ROUTED_HOSTS).build(),
            Listener { name: "forms", config: FORMS }.yaml().build(),
            Listener { name: "report", config: REPORT }.yaml().build(),
            // Envoy's option sits on the route configuration.
            Listener { name: "mirrored", config: MIRRORED }
                .yaml()
                .virtual_hosts(MIRRORED_HOSTS)
                .build()
                .replace("          route_config:\n", "          route_config:\n            ignore_port_in_host_matching: true\n"),
            Listener { name: "debugged", config: DEBUGGED }.yaml().build(),
            Listener { name: "writes", config: WRITES }.yaml().build(),
        ];
        let port = upstream.port;
        let envoy = match Envoy::start_bootstrap(|_| bootstrap_yaml(&listeners, port), listeners.len(), &[]) {
            Started::Running(e) => e,
            Started::Exited { code, log } => panic!("Envoy exited ({code:?}):\n{log}"),
        };
        Rig { _upstream: upstream, envoy }
    })
}

fn base(listener: &str) -> String {
    rig().envoy.url(listener, "")
}

/// A GET with exactly this Host and Origin; returns (ACAO, ACAC).
fn acao(host: &str, path: &str, origin: &str) -> (Option<String>, Option<String>) {
    let r = send_raw(&base("routed"), "GET", path, &[("Host", host), ("Origin", origin)]);
    assert_eq!(r.status, 200, "{host} {path}: {:?} {}", r.headers, r.body);
    (r.one("access-control-allow-origin").map(str::to_string), r.one("access-control-allow-credentials").map(str::to_string))
}

/// docs/contract.md "Rules": `hosts` match the authority as Envoy routes
/// it. Envoy sends `pay.example.com:8443` and `pay.example.com.` to the
/// catch-all virtual host, and the pay rule (with credentials) must not
/// apply there either.
#[test]
fn host_rules_follow_envoys_virtual_hosts() {
    let checkout = "https://checkout.example.com";
    let app = "https://app.example.com";
    let cases: [(&str, &str, Option<&str>, Option<&str>); 6] = [
        ("pay.example.com", checkout, Some(checkout), Some("true")),
        ("PAY.example.com", checkout, Some(checkout), Some("true")),
        ("pay.example.com:8443", checkout, None, None),
        ("pay.example.com:8443", app, Some(app), None),
        ("pay.example.com.", checkout, None, None),
        ("pay.example.com.", app, Some(app), None),
    ];
    for (host, origin, want_acao, want_acac) in cases {
        let path = format!("/api/{}", unique("host"));
        let (got_acao, got_acac) = acao(host, &path, origin);
        assert_eq!((got_acao.as_deref(), got_acac.as_deref()), (want_acao, want_acac), "Host: {host}, Origin: {origin}");
    }
}

/// docs/contract.md "Rules": with Envoy's `ignore_port_in_host_matching`,
/// `pay.example.com:8443` goes to pay's virtual host, and with
/// `"ignore_port_in_host_matching": true` the pay rule applies there too (a
/// foreign origin gets no CORS on pay's responses); a route matching its
/// prefix ignoring case has its rule with `match.case_sensitive: false`; a
/// `path_separated_prefix` route has its rule with the same key (whole
/// segments: `/api/v10` is not under `/api/v1`).
#[test]
fn rules_mirror_envoys_route_options() {
    let checkout = "https://checkout.example.com";
    let app = "https://app.example.com";
    let send = |host: &str, path: &str, origin: &str| {
        let r = send_raw(&base("mirrored"), "GET", path, &[("Host", host), ("Origin", origin)]);
        assert_eq!(r.status, 200, "{host} {path}: {:?} {}", r.headers, r.body);
        (r.one("access-control-allow-origin").map(str::to_string), r.one("access-control-allow-credentials").map(str::to_string))
    };
    // (Host, path, Origin, the ACAO and ACAC wanted)
    type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
    let cases: [Case; 9] = [
        ("pay.example.com", "/api/x", checkout, Some(checkout), Some("true")),
        ("pay.example.com:8443", "/api/x", checkout, Some(checkout), Some("true")),
        ("pay.example.com:8443", "/api/x", app, None, None),
        ("other.example.com", "/api/x", app, Some(app), None),
        ("other.example.com", "/api/ADMIN/x", app, None, None),
        ("other.example.com", "/api/Admin/x", app, None, None),
        // path_separated_prefix "/api/v1": whole segments, the query aside.
        ("other.example.com", "/api/v1/", app, None, None),
        ("other.example.com", "/api/v1?", app, None, None),
        ("other.example.com", "/api/v10", app, Some(app), None),
    ];
    for (host, path, origin, want_acao, want_acac) in cases {
        let path = format!("{path}{}", unique("m"));
        let got = send(host, &path, origin);
        assert_eq!((got.0.as_deref(), got.1.as_deref()), (want_acao, want_acac), "Host: {host}, {path}, Origin: {origin}");
    }
}

/// docs/contract.md "Observability": a detail is cut at 64 bytes of the
/// request's value in `x-edge-cors` (and the access-log record), and only
/// the filter writes `x-edge-cors`: an upstream's own is removed, also
/// under a rule without `debug`.
#[test]
fn the_debug_header_is_bounded_and_never_forged() {
    let long = format!("x-{}", "b".repeat(40_000));
    let r = send_raw(
        &base("debugged"),
        "OPTIONS",
        "/api/x",
        &[
            ("Host", "api.example.com"),
            ("Origin", "https://app.example.com"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", &long),
        ],
    );
    assert_eq!(r.status, 403, "{:?}", r.headers);
    let debug = r.one("x-edge-cors").unwrap_or_else(|| panic!("no x-edge-cors: {:?}", r.headers));
    let want = format!("detail=x-{}...", "b".repeat(62));
    assert!(debug.ends_with(&want), "{} bytes: {debug:.300}", debug.len());
    assert!(debug.len() < 200, "{} bytes", debug.len());
    assert!(r.body.len() < 200, "the reply body is cut too: {} bytes", r.body.len());
    for path in ["/api/forged-debug", "/api/quiet/forged-debug"] {
        let r = send_raw(&base("debugged"), "GET", path, &[("Host", "api.example.com"), ("Origin", "https://evil.example")]);
        let values = r.all("x-edge-cors");
        assert!(values.iter().all(|v| !v.contains("decision=allowed")), "{path}: the upstream's own x-edge-cors passed: {values:?}");
    }
    let r =
        send_raw(&base("debugged"), "GET", "/api/quiet/forged-debug", &[("Host", "api.example.com"), ("Origin", "https://evil.example")]);
    assert!(r.all("x-edge-cors").is_empty(), "{:?}", r.headers);
}

/// docs/contract.md "Rules": `routes` match Envoy's route name
/// (`xds.route_name`); Higress's `_rules_` with `_match_route_` are honoured;
/// a request on a route without a name matches no route rule, which is
/// counted and logged once.
#[test]
fn route_rules_follow_envoys_route_names() {
    let named = "https://named.example.com";
    let higress = "https://higress.example.com";
    let before = stat(&rig().envoy.stats(), "edge_cors.route_name_unavailable").unwrap_or(0);
    let cases: [(&str, &str, Option<&str>); 5] = [
        ("/api/named/x", named, Some(named)),
        ("/api/named/x", "https://app.example.com", None),
        ("/api/higress/x", higress, Some(higress)),
        ("/api/other/x", named, None),
        ("/api/other/y", "https://app.example.com", Some("https://app.example.com")),
    ];
    for (path, origin, want) in cases {
        let (got, _) = acao("api.example.com", path, origin);
        assert_eq!(got.as_deref(), want, "{path} from {origin}");
    }
    // The two /api/other/ requests ran on the unnamed route.
    let after = stat(&rig().envoy.stats(), "edge_cors.route_name_unavailable").unwrap_or(0);
    assert_eq!(after - before, 2, "unnamed-route requests counted");
    let warnings = rig().envoy.log().matches("the host gave no route name").count();
    assert_eq!(warnings, 1, "one warning per worker VM:\n{}", rig().envoy.log());
}

/// docs/contract.md "Origins": port wildcards, IPv4-mapped IPv6 in the
/// WHATWG form, app schemes and `null` (without credentials).
#[test]
fn new_origin_forms_as_browsers_send_them() {
    let cases: [(&str, bool); 12] = [
        ("http://localhost", true),
        ("http://localhost:5173", true),
        ("https://localhost:5173", false),
        ("http://[::ffff:7f00:1]:8080", true),
        ("http://[::ffff:127.0.0.1]:8080", false),
        ("capacitor://localhost", true),
        ("chrome-extension://abcdefghijklmnopabcdefghijklmnop", true),
        ("ionic://localhost", false),
        ("null", true),
        ("https://a.example.org:8443", true),
        ("https://-a.example.org", true),
        ("https://example.org:8443", false),
    ];
    for (origin, allowed) in cases {
        let path = format!("/api/{}", unique("forms"));
        let r = get(&rig().envoy.url("forms", &path), &[("Origin", origin)]);
        let want = allowed.then_some(origin);
        assert_eq!(r.one("access-control-allow-origin"), want, "{origin}");
        // timing_allow_origin: the same value, only where CORS allows.
        assert_eq!(r.one("timing-allow-origin"), want, "{origin}: timing-allow-origin");
    }
    // The upstream's own Timing-Allow-Origin is replaced, or removed.
    let r = get(&rig().envoy.url("forms", "/api/x/timing"), &[("Origin", "https://evil.test")]);
    assert_eq!(r.all("timing-allow-origin"), Vec::<&str>::new(), "{:?}", r.headers);
    let r = get(&rig().envoy.url("forms", "/api/x/timing"), &[("Origin", "http://localhost:3000")]);
    assert_eq!(r.all("timing-allow-origin"), vec!["http://localhost:3000"], "{:?}", r.headers);
}

/// docs/contract.md "Preflight details" and `preflight_status`.
#[test]
fn preflight_details() {
    let url = rig().envoy.url("forms", "/api/pf");
    let r = send(
        "OPTIONS",
        &url,
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "x-a,, x-b ,"),
            ("Access-Control-Request-Private-Network", "true"),
        ],
    );
    assert_eq!(r.status, 200, "preflight_status 200: {:?}", r.headers);
    assert_eq!(r.one("access-control-allow-headers"), Some("x-a, x-b"));
    assert_eq!(r.one("access-control-allow-private-network"), Some("true"));
    let vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";
    assert_eq!(r.one("vary"), Some(vary));
    let r = preflight(&url, "http://localhost:3000", "DELETE", None);
    assert_eq!(r.status, 403);
    assert_eq!(r.body, "CORS preflight rejected: method \"DELETE\" not allowed\n");
    assert_eq!(r.one("vary"), Some(vary), "the refusal depends on the same headers");
    // A merged Vary has no empty member.
    let r = get(&rig().envoy.url("routed", "/api/x/vary-trailing-comma"), &[("Origin", "https://app.example.com")]);
    assert_eq!(r.all("vary"), vec!["Accept, Origin"]);
}

/// docs/contract.md "Report mode": a non-2xx answer to a preflight
/// edge-cors would allow, and a missing `Vary: Origin`, are differences.
#[test]
fn report_mode_counts_what_changes_the_browsers_outcome() {
    let stats = || rig().envoy.stats();
    let count = |rule: &str, kind: &str| stat(&stats(), &format!("edge_cors.report.{rule}.{kind}")).unwrap_or(0);
    let (d0, m0) = (count("legacy", "different"), count("legacy", "missing"));
    // The upstream fails the preflight (404); edge-cors would answer 204.
    let r = preflight(&rig().envoy.url("report", "/api/legacy/status/404"), "https://app.example.com", "GET", None);
    assert_eq!(r.status, 404, "report mode forwards the preflight");
    assert_eq!(count("legacy", "different") - d0, 1, "the status is a difference");
    let log = rig().envoy.log();
    assert!(log.contains("different :status (edge-cors: \"204\", upstream: \"404\")"), "no report line for the status:\n{log}");
    // The upstream answers without Vary: Origin (and without CORS headers).
    let m1 = count("legacy", "missing");
    get(&rig().envoy.url("report", "/api/legacy/plain"), &[("Origin", "https://app.example.com")]);
    let m2 = count("legacy", "missing");
    // Missing: access-control-allow-origin and vary.
    assert_eq!(m2 - m1, 2, "missing ACAO and Vary: Origin");
    assert!(rig().envoy.log().contains("missing vary (edge-cors: \"Origin\", upstream: none)"), "{}", rig().envoy.log());
    // An upstream that varies on Origin is not reported for it.
    let m3 = count("legacy", "missing");
    get(&rig().envoy.url("report", "/api/legacy/vary-origin"), &[("Origin", "https://evil.test")]);
    assert_eq!(count("legacy", "missing") - m3, 0);
    assert!(m0 <= m1);
}

/// docs/contract.md "Cross-origin writes": a form POST from another site is
/// answered 403 by the filter and never reaches the upstream; the allowed
/// origin, the API's own pages and clients without Origin get through.
#[test]
fn cross_site_writes_never_reach_the_upstream() {
    let rig = rig();
    let post = |path: &str, headers: &[(&str, &str)]| {
        let mut all = vec![("Host", "api.example.com"), ("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        send_raw(&base("writes"), "POST", path, &all)
    };
    let form = format!("/api/form-{}", unique("w"));
    let r = post(&form, &[("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(r.status, 403, "{:?} {}", r.headers, r.body);
    assert!(r.body.contains("cross-origin write refused"), "{}", r.body);
    assert!(r.one("access-control-allow-origin").is_none());
    let plain = format!("/api/plain-{}", unique("w"));
    assert_eq!(post(&plain, &[("Origin", "https://evil.example")]).status, 403, "no Sec-Fetch-Site: Origin against Host");
    assert!(rig._upstream.seen(&form).is_empty() && rig._upstream.seen(&plain).is_empty(), "a refused write reached the upstream");
    for (name, headers) in [
        ("allowed", vec![("Origin", "https://app.example.com"), ("Sec-Fetch-Site", "cross-site")]),
        ("same-origin", vec![("Origin", "https://api.example.com"), ("Sec-Fetch-Site", "same-origin")]),
        ("own host", vec![("Origin", "https://api.example.com")]),
        ("no origin", vec![]),
    ] {
        let path = format!("/api/{}-{}", name.replace(' ', "-"), unique("w"));
        let r = post(&path, &headers);
        assert_eq!(r.status, 200, "{name}: {:?} {}", r.headers, r.body);
        assert_eq!(rig._upstream.seen(&path).len(), 1, "{name}");
    }
    let r = send_raw(
        &base("writes"),
        "GET",
        "/api/read",
        &[("Host", "api.example.com"), ("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(r.status, 200, "a GET is never a write");
    let stats = rig.envoy.stats();
    assert!(stat(&stats, "edge_cors.cross_origin_write_refused") >= Some(2), "{stats}");
}
