//! edge-cors inside a real Envoy (the release wasm on the V8 runtime), over
//! real HTTP, against an upstream the tests control. Every rule of
//! docs/contract.md "Requests" that a proxy can change is checked here end to end.

use edge_cors_suites as common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use common::policies::CONTRACT;
use common::*;

/// Credentials, with `*` methods and headers (which must then be echoed).
const CREDENTIALS: &str = r#"{
  "allow_origins": ["https://app.example.com", "http://localhost:3000"],
  "allow_methods": ["*"],
  "allow_headers": ["*"],
  "expose_headers": ["etag"],
  "max_age": 600,
  "allow_credentials": true,
  "allow_private_network": true
}"#;

const PUBLIC: &str = r#"{"allow_origins": ["*"], "allow_headers": ["*"], "expose_headers": ["etag"]}"#;

/// AWS CorsConfiguration spelling, plus a key a gateway injected.
const AWS: &str = r#"{
  "AllowOrigins": ["https://app.example.com"],
  "AllowMethods": ["GET", "PUT"],
  "AllowHeaders": ["X-Api-Key"],
  "ExposeHeaders": ["ETag"],
  "MaxAge": 300,
  "AllowCredentials": true,
  "_match_route_": ["injected by the gateway"]
}"#;

struct Rig {
    upstream: Upstream,
    envoy: Envoy,
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let upstream = Upstream::start();
        let envoy = Envoy::expect_running(
            &[
                Listener { name: "contract", config: CONTRACT },
                Listener { name: "credentials", config: CREDENTIALS },
                Listener { name: "public", config: PUBLIC },
                Listener { name: "aws", config: AWS },
            ],
            upstream.port,
        );
        Rig { upstream, envoy }
    })
}

const APP: &str = "https://app.example.com";
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

fn url(listener: &str, path: &str) -> String {
    rig().envoy.url(listener, path)
}

#[test]
fn allowed_preflight_is_answered_at_the_edge() {
    let path = format!("/api/{}", unique("preflight-ok"));
    let r = preflight(&url("contract", &path), APP, "POST", Some("content-type,authorization"));
    assert_eq!(r.status, 204, "{:?}", r.headers);
    assert_eq!(r.one("access-control-allow-origin"), Some(APP));
    assert_eq!(r.one("access-control-allow-methods"), Some("GET, POST"));
    assert_eq!(r.one("access-control-allow-headers"), Some("content-type, authorization"));
    assert_eq!(r.one("access-control-max-age"), Some("3600"));
    assert_eq!(r.one("access-control-allow-credentials"), None);
    assert_eq!(r.one("access-control-allow-private-network"), None);
    assert_eq!(r.one("access-control-expose-headers"), None, "expose headers belong on actual responses");
    assert_eq!(r.one("vary"), Some(PREFLIGHT_VARY));
    assert!(rig().upstream.seen(&path).is_empty(), "the upstream saw a preflight");

    // Without requested headers there is no Allow-Headers.
    let r = preflight(&url("contract", &path), APP, "GET", None);
    assert_eq!(r.status, 204);
    assert_eq!(r.one("access-control-allow-headers"), None);
    assert!(rig().upstream.seen(&path).is_empty());
}

#[test]
fn rejected_preflights_say_which_part_failed() {
    // docs/contract.md "Preflight details": the body names the first
    // method or header refused (only tokens are repeated).
    let cases = [
        ("origin not allowed", "https://evil.test", "GET", None),
        ("method \"DELETE\" not allowed", APP, "DELETE", None),
        ("header \"x-secret\" not allowed", APP, "POST", Some("content-type,x-secret, x-other")),
        ("header list is malformed", APP, "POST", Some("content-type, x y")),
    ];
    for (part, origin, method, headers) in cases {
        let path = format!("/api/{}", unique("preflight-no"));
        let r = preflight(&url("contract", &path), origin, method, headers);
        let case = format!("{origin} {method} {headers:?}");
        assert_eq!(r.status, 403, "{case}");
        assert!(r.cors_headers().is_empty(), "{case}: {:?}", r.headers);
        assert_eq!(r.one("vary"), Some(PREFLIGHT_VARY), "{case}");
        assert_eq!(r.body, format!("CORS preflight rejected: {part}\n"), "{case}");
        assert!(r.one("content-type").is_some_and(|c| c.starts_with("text/plain")), "{case}");
        assert!(rig().upstream.seen(&path).is_empty(), "{case}: the upstream saw a preflight");
    }
}

#[test]
fn options_without_request_method_is_forwarded() {
    let path = format!("/api/{}", unique("plain-options"));
    let r = send("OPTIONS", &url("contract", &path), &[("Origin", APP)]);
    assert_eq!(r.status, 200);
    assert_eq!(rig().upstream.seen(&path).len(), 1, "plain OPTIONS must reach the upstream");
    assert_eq!(r.one("access-control-allow-origin"), Some(APP));
    assert_eq!(r.one("vary"), Some("Origin"));
}

#[test]
fn simple_requests_by_origin() {
    // (origin, allowed)
    let cases = [(Some(APP), true), (Some("https://evil.test"), false), (Some("null"), false), (None, false)];
    for (origin, allowed) in cases {
        let path = format!("/api/{}", unique("simple"));
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        let r = get(&url("contract", &path), &headers);
        assert_eq!(r.status, 200, "{origin:?}");
        assert_eq!(r.body, format!("upstream saw {path}\n"));
        let seen = rig().upstream.seen(&path);
        assert_eq!(seen.len(), 1, "{origin:?}: forwarded once");
        let fwd_origin = seen[0].headers.iter().find(|(n, _)| n == "origin").map(|(_, v)| v.as_str());
        assert_eq!(fwd_origin, origin, "the request is forwarded untouched");
        if allowed {
            assert_eq!(r.one("access-control-allow-origin"), origin);
            assert_eq!(r.one("access-control-expose-headers"), Some("etag, x-request-id"));
            assert_eq!(r.one("access-control-allow-credentials"), None);
        } else {
            assert!(r.cors_headers().is_empty(), "{origin:?}: {:?}", r.headers);
        }
        assert_eq!(r.one("vary"), Some("Origin"), "{origin:?}");
    }
}

#[test]
fn wildcard_subdomains_and_bypass_attempts() {
    let cases = [
        ("https://a.example.com", true),
        ("https://deep.b.example.com", true),
        ("https://example.com", false),
        ("https://evilexample.com", false),
        ("https://example.com.evil.test", false),
        ("http://a.example.com", false),
        ("https://a.example.com:8443", false),
        ("https://a.example.com.", false),
        ("https://A.EXAMPLE.COM", false),
    ];
    for (origin, allowed) in cases {
        let r = get(&url("contract", "/api/wild"), &[("Origin", origin)]);
        let p = preflight(&url("contract", "/api/wild"), origin, "POST", Some("authorization"));
        if allowed {
            assert_eq!(r.one("access-control-allow-origin"), Some(origin), "{origin}");
            assert_eq!(p.status, 204, "{origin}");
            assert_eq!(p.one("access-control-allow-origin"), Some(origin), "{origin}");
        } else {
            assert!(r.cors_headers().is_empty(), "{origin}: {:?}", r.headers);
            assert_eq!(p.status, 403, "{origin}");
            assert_eq!(p.body, "CORS preflight rejected: origin not allowed\n", "{origin}");
        }
    }
}

#[test]
fn credentials_policy_echoes_origin_method_and_headers() {
    let path = format!("/api/{}", unique("creds"));
    let r = get(&url("credentials", &path), &[("Origin", APP), ("Cookie", "session=1")]);
    assert_eq!(r.one("access-control-allow-origin"), Some(APP));
    assert_eq!(r.one("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.one("access-control-expose-headers"), Some("etag"));
    assert_eq!(r.one("vary"), Some("Origin"));

    // `*` is literal to browsers under credentials: the method and header
    // names are named instead, Authorization included.
    let r = send(
        "OPTIONS",
        &url("credentials", &path),
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "PATCH"),
            ("Access-Control-Request-Headers", "authorization,x-trace"),
            ("Access-Control-Request-Private-Network", "true"),
        ],
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.one("access-control-allow-origin"), Some("http://localhost:3000"));
    assert_eq!(r.one("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.one("access-control-allow-methods"), Some("PATCH"));
    // Echoed in the normalised form (docs/contract.md "Preflight details").
    assert_eq!(r.one("access-control-allow-headers"), Some("authorization, x-trace"));
    assert_eq!(r.one("access-control-max-age"), Some("600"));
    assert_eq!(r.one("access-control-allow-private-network"), Some("true"));
    assert!(rig().upstream.seen(&path).len() == 1, "only the GET reached the upstream");

    // Not requested: no private-network answer.
    let r = preflight(&url("credentials", &path), APP, "PUT", None);
    assert_eq!(r.status, 204);
    assert_eq!(r.one("access-control-allow-private-network"), None);
}

#[test]
fn private_network_is_only_granted_when_configured() {
    let r = send(
        "OPTIONS",
        &url("contract", "/api/pna"),
        &[("Origin", APP), ("Access-Control-Request-Method", "GET"), ("Access-Control-Request-Private-Network", "true")],
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.one("access-control-allow-private-network"), None);
}

#[test]
fn error_statuses_from_upstream_and_envoy_get_cors_headers() {
    let cases = [
        ("/api/status/401", 401, "upstream says 401\n"),
        ("/api/status/403", 403, "upstream says 403\n"),
        ("/api/status/500", 500, "upstream says 500\n"),
        ("/dead/anything", 503, "no healthy upstream"),
        ("/no-route", 404, ""),
    ];
    for (path, status, body) in cases {
        let r = get(&url("contract", path), &[("Origin", APP)]);
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.body, body, "{path}");
        assert_eq!(r.one("access-control-allow-origin"), Some(APP), "{path}: {:?}", r.headers);
        assert_eq!(r.one("access-control-expose-headers"), Some("etag, x-request-id"), "{path}");
        assert_eq!(r.one("vary"), Some("Origin"), "{path}");
        // And never for a disallowed origin.
        let r = get(&url("contract", path), &[("Origin", "https://evil.test")]);
        assert_eq!(r.status, status, "{path}");
        assert!(r.cors_headers().is_empty(), "{path}: {:?}", r.headers);
    }
}

#[test]
fn upstream_cors_headers_are_replaced() {
    let r = get(&url("contract", "/api/upstream-cors"), &[("Origin", "https://a.example.com")]);
    assert_eq!(r.one("access-control-allow-origin"), Some("https://a.example.com"));
    assert_eq!(r.one("access-control-expose-headers"), Some("etag, x-request-id"));
    assert_eq!(r.one("access-control-allow-credentials"), None, "the upstream's credentials leaked");
    assert_eq!(r.one("access-control-allow-methods"), None, "the upstream's methods leaked");
    assert_eq!(r.one("vary"), Some("Accept-Encoding, Origin"));

    // A restrictive policy wins over the upstream's `*`.
    let r = get(&url("contract", "/api/upstream-cors"), &[("Origin", "https://evil.test")]);
    assert!(r.cors_headers().is_empty(), "{:?}", r.headers);
    let r = get(&url("contract", "/api/upstream-cors"), &[]);
    assert!(r.cors_headers().is_empty(), "{:?}", r.headers);
}

#[test]
fn vary_is_merged_never_duplicated() {
    let r = get(&url("contract", "/api/vary-origin"), &[("Origin", APP)]);
    assert_eq!(r.all("vary"), vec!["Accept-Encoding, origin"]);
    let r = get(&url("contract", "/api/vary-star"), &[("Origin", APP)]);
    assert_eq!(r.all("vary"), vec!["*"]);
    let r = get(&url("contract", "/api/plain"), &[("Origin", APP)]);
    assert_eq!(r.all("vary"), vec!["Origin"]);
}

#[test]
fn public_policy_answers_star_without_vary() {
    for origin in [Some("https://anyone.test"), Some("null"), None] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("Origin", *o)).collect();
        let r = get(&url("public", "/api/upstream-cors"), &headers);
        assert_eq!(r.one("access-control-allow-origin"), Some("*"), "{origin:?}");
        assert_eq!(r.one("access-control-expose-headers"), Some("etag"), "{origin:?}");
        assert_eq!(r.one("access-control-allow-credentials"), None, "{origin:?}");
        assert_eq!(r.all("vary"), vec!["Accept-Encoding"], "{origin:?}: nothing varies by origin");
    }
    let r = preflight(&url("public", "/api/x"), "https://anyone.test", "PUT", Some("authorization"));
    assert_eq!(r.status, 403, "PUT is not in the default methods");
    let r = preflight(&url("public", "/api/x"), "https://anyone.test", "POST", Some("authorization"));
    assert_eq!(r.status, 204);
    assert_eq!(r.one("access-control-allow-origin"), Some("*"));
    assert_eq!(r.one("access-control-allow-methods"), Some("GET, HEAD, POST"));
    assert_eq!(r.one("access-control-allow-headers"), Some("authorization"), "Authorization must be named");
}

#[test]
fn aws_spelling_configures_the_same_filter() {
    let r = preflight(&url("aws", "/api/aws"), APP, "PUT", Some("x-api-key"));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.one("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(r.one("access-control-allow-headers"), Some("x-api-key"));
    assert_eq!(r.one("access-control-max-age"), Some("300"));
    assert_eq!(r.one("access-control-allow-credentials"), Some("true"));
    let r = get(&url("aws", "/api/aws"), &[("Origin", APP)]);
    assert_eq!(r.one("access-control-expose-headers"), Some("etag"));
}

/// Sends raw bytes (for requests no HTTP library will form) and returns
/// the raw response head and body.
fn raw(listener: &str, request: &[u8]) -> String {
    let addr = url(listener, "").trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn hostile_headers_get_an_answer_and_the_filter_keeps_serving() {
    let huge = format!("https://{}.example.com", "a".repeat(30_000));
    let many = vec!["x-h"; 3000].join(",");
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("non-UTF-8 origin", b"GET /dead/h HTTP/1.1\r\nHost: x\r\nOrigin: https://\xff\xfe.example.com\r\nConnection: close\r\n\r\n".to_vec(), "503"),
        (
            "non-UTF-8 preflight",
            b"OPTIONS /api/h HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: P\xc3\x28ST\r\nConnection: close\r\n\r\n".to_vec(),
            "403",
        ),
        ("empty origin", b"GET /dead/h HTTP/1.1\r\nHost: x\r\nOrigin: \r\nConnection: close\r\n\r\n".to_vec(), "503"),
        (
            "two origins",
            b"GET /dead/h HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.test\r\nOrigin: https://app.example.com\r\nConnection: close\r\n\r\n".to_vec(),
            "503",
        ),
        (
            "empty request method",
            b"OPTIONS /api/h HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: \r\nConnection: close\r\n\r\n".to_vec(),
            "403",
        ),
    ];
    cases.push((
        "30 KB origin",
        format!("GET /dead/h HTTP/1.1\r\nHost: x\r\nOrigin: {huge}\r\nConnection: close\r\n\r\n").into_bytes(),
        "503",
    ));
    cases.push((
        "3000 requested headers",
        format!(
            "OPTIONS /api/h HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: {many}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
        "403",
    ));
    // Forwarded ones go to the dead cluster, so only Envoy and the filter
    // answer (the test upstream itself chokes on some of these bytes).
    for (name, request, status) in cases {
        let resp = raw("contract", &request);
        let head = resp.split("\r\n\r\n").next().unwrap_or("").to_ascii_lowercase();
        assert!(head.starts_with(&format!("http/1.1 {status}")), "{name}: {head}");
        if name == "two origins" {
            // Envoy hands the filter the first value; it is not allowed, so nothing is granted.
            assert!(!head.contains("access-control-allow-origin"), "{name}: {head}");
        }
        if name == "30 KB origin" {
            // A 30,000-byte label is not a DNS label: the wildcard must not match it.
            assert!(!head.contains("access-control-allow-origin"), "{name}: {head}");
        }
        let ok = get(&url("contract", "/api/after"), &[("Origin", APP)]);
        assert_eq!(ok.one("access-control-allow-origin"), Some(APP), "after {name}");
    }
    // The VM is the one we started with: never trapped, never reloaded.
    let stats = rig().envoy.stats();
    let vm_stats = if shell() == Shell::Wasm {
        &["wasm.edge_cors_contract.vm_reload: 0", "wasm.edge_cors_contract.vm_reload_failure: 0"][..]
    } else {
        &[]
    };
    for stat in vm_stats {
        assert!(stats.lines().any(|l| l == *stat), "expected {stat:?} in Envoy's stats:\n{stats}");
    }
    let log = rig().envoy.log();
    assert!(!log.contains("panic"), "the filter panicked:\n{log}");
}
