//! A real browser as the judge: headless Chromium loads a page from one
//! origin that calls Envoy + edge-cors on another, and the test checks what
//! JavaScript could observe (resolved or TypeError, status, body, readable
//! headers). Run just this part with `make browser`.

use edge_cors_suites as common;

use common::chromium::{case, check, load, requests, Case, Expect};
use common::*;
use serde_json::{json, Value};

/// Compares, prints one line per case, and returns the failures.
fn judge(page: &str, observed: &Value, cases: &[Case]) -> Vec<String> {
    assert_eq!(observed["origin"], json!(page), "the page ran on the wrong origin");
    chromium::judge(page, observed, cases, false)
}

/// Loads the page at `page_origin` with these cases and returns what it observed.
fn run_page(page_origin: &str, cases: &[Case]) -> Value {
    load(&format!("{page_origin}/"), &requests(cases), &[])
}

#[test]
fn chromium_enforces_what_edge_cors_sends() {
    let page_port = chromium::serve_page("crates/suites/tests/browser/page.html");
    let upstream = Upstream::start();
    let page = format!("http://127.0.0.1:{page_port}");
    let main = format!(
        r#"{{"allow_origins": ["{page}"], "allow_methods": ["GET", "POST"], "allow_headers": ["content-type", "authorization"],
            "expose_headers": ["etag", "x-request-id"], "max_age": 0}}"#
    );
    let credentials = format!(r#"{{"allow_origins": ["{page}"], "allow_credentials": true, "expose_headers": ["etag"], "max_age": 0}}"#);
    let star = format!(r#"{{"allow_origins": ["{page}"], "allow_methods": ["*"], "allow_headers": ["*"], "max_age": 0}}"#);
    let other = r#"{"allow_origins": ["https://other.example"], "allow_headers": ["*"], "max_age": 0}"#.to_string();
    let wild = format!(r#"{{"allow_origins": ["http://*.corp.test:{page_port}"], "allow_headers": ["x-trace"], "max_age": 0}}"#);
    let envoy = Envoy::expect_running(
        &[
            Listener { name: "main", config: &main },
            Listener { name: "credentials", config: &credentials },
            Listener { name: "star", config: &star },
            Listener { name: "other", config: &other },
            Listener { name: "wild", config: &wild },
        ],
        upstream.port,
    );
    // Envoy is called as http://localhost:<port>: another origin than the page's.
    let at = |listener: &str, path: &str| envoy.url(listener, path).replace("127.0.0.1", "localhost");
    let ok = |body: &'static str| Expect::Readable { status: 200, body };
    let json_post = json!({"content-type": "application/json", "authorization": "Bearer t0ken"});

    let cases = vec![
        case("simple GET allowed", at("main", "/api/simple"), ok("upstream saw /api/simple\n")),
        case("JSON POST with Authorization (preflighted) allowed", at("main", "/api/post"), ok("upstream saw /api/post\n"))
            .with("method", json!("POST"))
            .with("headers", json_post.clone())
            .with("body", json!("{\"a\":1}")),
        case("PUT outside allow_methods blocked", at("main", "/api/put"), Expect::Blocked).with("method", json!("PUT")),
        case("header outside allow_headers blocked", at("main", "/api/hdr"), Expect::Blocked).with("headers", json!({"x-secret": "1"})),
        case("credentials: include blocked without a credentials policy", at("main", "/api/cred"), Expect::Blocked)
            .with("credentials", json!("include")),
        case("credentials: include allowed under a credentials policy", at("credentials", "/api/cred"), ok("upstream saw /api/cred\n"))
            .with("credentials", json!("include"))
            .reads(&[("etag", true), ("x-request-id", false)]),
        case("exposed headers readable, others hidden", at("main", "/api/expose"), ok("upstream saw /api/expose\n")).reads(&[
            ("etag", true),
            ("x-request-id", true),
            ("x-internal", false),
            ("content-type", true),
        ]),
        case(
            "upstream 401 status and body readable",
            at("main", "/api/status/401"),
            Expect::Readable { status: 401, body: "upstream says 401\n" },
        ),
        case(
            "upstream 500 status and body readable",
            at("main", "/api/status/500"),
            Expect::Readable { status: 500, body: "upstream says 500\n" },
        ),
        case("Envoy's own 503 readable", at("main", "/dead/x"), Expect::Readable { status: 503, body: "no healthy upstream" }),
        case("Envoy's own 404 readable", at("main", "/no-route"), Expect::Readable { status: 404, body: "" }),
        case("other listener blocks a simple GET", at("other", "/api/simple"), Expect::Blocked),
        case("other listener blocks despite the upstream's ACAO *", at("other", "/api/upstream-cors"), Expect::Blocked),
        case("other listener blocks a preflighted POST", at("other", "/api/post"), Expect::Blocked)
            .with("method", json!("POST"))
            .with("headers", json_post.clone()),
        // Chromium also accepts Authorization under a literal `*` (other engines
        // follow Fetch and do not); crates/suites/tests/integration/envoy.rs checks that it is named.
        case("allow_headers [*] lets Authorization through", at("star", "/api/star"), ok("upstream saw /api/star\n"))
            .with("method", json!("DELETE"))
            .with("headers", json!({"authorization": "Bearer t0ken", "x-anything": "1"})),
        case("upstream's own CORS headers do not leak (credentials)", at("main", "/api/upstream-cors"), Expect::Blocked)
            .with("credentials", json!("include")),
    ];
    let mut failures = judge(&page, &run_page(&page, &cases), &cases);

    // Wildcard subdomains: the page itself served under matching and look-alike names.
    let wild_case =
        |name: &'static str, expect: Expect| vec![case(name, at("wild", "/api/wild"), expect).with("headers", json!({"x-trace": "1"}))];
    for (host, name, expect) in [
        ("app.corp.test", "wildcard subdomain allowed", ok("upstream saw /api/wild\n")),
        ("deep.app.corp.test", "deeper wildcard subdomain allowed", ok("upstream saw /api/wild\n")),
        ("evilcorp.test", "look-alike without the dot blocked", Expect::Blocked),
        ("corp.test.evil.test", "look-alike suffix blocked", Expect::Blocked),
    ] {
        let origin = format!("http://{host}:{page_port}");
        let cases = wild_case(name, expect);
        failures.extend(judge(&origin, &run_page(&origin, &cases), &cases));
    }

    // Three hardening rules (docs/contract.md), each on an Envoy of its own so
    // that a policy one engine refuses fails only its own cases.
    failures.extend(null_origin(page_port, &upstream));
    failures.extend(ipv4_mapped_origin(page_port, &upstream));
    failures.extend(port_wildcard(page_port, &upstream));
    envoy.stop();
    assert!(failures.is_empty(), "{} browser case(s) wrong:\n{}", failures.len(), failures.join("\n"));
}

/// A case name built at run time.
fn named(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// Envoy with these listeners, or a FAIL line with the filter's refusal.
fn start_envoy(page: &str, listeners: &[Listener<'_>], upstream: &Upstream, failures: &mut Vec<String>) -> Option<Envoy> {
    match Envoy::start(listeners, upstream.port) {
        Started::Running(envoy) => Some(envoy),
        Started::Exited { code, log } => {
            let line = log
                .lines()
                .find(|l| l.contains("invalid edge-cors configuration"))
                .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
                .unwrap_or("(empty log)");
            let names: Vec<&str> = listeners.iter().map(|l| l.name).collect();
            check(page, &format!("Envoy starts the listeners {names:?}"), false, &format!("it exited ({code:?}): {line}"), failures);
            None
        }
    }
}

/// The Origin header of the one request whose path contains `path`, as the
/// upstream received it (Envoy forwards it unchanged).
fn origin_seen(upstream: &Upstream, path: &str) -> Option<String> {
    let seen = upstream.seen(path);
    seen.last().and_then(|s| s.headers.iter().find(|(n, _)| n == "origin").map(|(_, v)| v.clone()))
}

/// Chromium puts a sandboxed iframe in a process of its own, and
/// --virtual-time-budget then stops waiting for that process's fetches (the
/// page is dumped still "pending"). Keeping the frame in the page's process
/// does not change its origin: it stays opaque and sends Origin: null.
const SANDBOXED_IFRAME_FLAGS: &[&str] = &["--disable-features=IsolateSandboxedIframes"];

/// `Origin: null` from a sandboxed document (an iframe with
/// sandbox="allow-scripts", and a page served with `Content-Security-Policy:
/// sandbox allow-scripts`). `["null"]` without credentials lets it read;
/// with `credentials: 'include'` Chromium blocks, for want of
/// Access-Control-Allow-Credentials. The policy that would send it, `["null"]`
/// with allow_credentials, cannot be loaded: any website can frame a
/// sandboxed document, so it would hand every site the user's credentialed
/// responses.
fn null_origin(page_port: u16, upstream: &Upstream) -> Vec<String> {
    let mut failures = vec![];
    let page = format!("http://127.0.0.1:{page_port}");
    let null = r#"{"allow_origins": ["null"], "max_age": 0}"#;
    let page_only = format!(r#"{{"allow_origins": ["{page}"], "max_age": 0}}"#);
    let Some(envoy) = start_envoy(
        "null",
        &[Listener { name: "null_origin", config: null }, Listener { name: "page_only", config: &page_only }],
        upstream,
        &mut failures,
    ) else {
        return failures;
    };
    let at = |listener: &str, path: &str| envoy.url(listener, path).replace("127.0.0.1", "localhost");
    for (kind, tag, url, wrap) in
        [("sandboxed iframe", "iframe", format!("{page}/"), true), ("CSP sandbox page", "csp", format!("{page}/sandboxed"), false)]
    {
        let extra: &[&str] = if wrap { SANDBOXED_IFRAME_FLAGS } else { &[] };
        let plain = format!("/api/null-{tag}-plain");
        let cases = vec![
            case(
                named(format!("{kind}: GET readable under allow_origins [null]")),
                at("null_origin", &plain),
                Expect::Readable { status: 200, body: named(format!("upstream saw {plain}\n")) },
            ),
            case(
                named(format!("{kind}: credentials: include blocked (no Access-Control-Allow-Credentials)")),
                at("null_origin", &format!("/api/null-{tag}-cred")),
                Expect::Blocked,
            )
            .with("credentials", json!("include")),
            case(
                named(format!("{kind}: a policy without null blocks it")),
                at("page_only", &format!("/api/null-{tag}-page-only")),
                Expect::Blocked,
            ),
        ];
        let spec = if wrap { json!({"sandbox": "iframe", "cases": requests(&cases)}) } else { requests(&cases) };
        failures.extend(judge("null", &load(&url, &spec, extra), &cases));
        let sent = origin_seen(upstream, &plain);
        check(
            "null",
            &format!("{kind}: Chromium sent Origin: {}", sent.as_deref().unwrap_or("(none)")),
            sent.as_deref() == Some("null"),
            "expected Origin: null",
            &mut failures,
        );
    }
    // Chromium's reason for the blocked credentialed read: the filter echoes
    // the null origin but never allows credentials for it.
    let r = get(&envoy.url("null_origin", "/api/null-native"), &[("Origin", "null")]);
    let (acao, acac) = (r.one("access-control-allow-origin"), r.one("access-control-allow-credentials"));
    check(
        "null",
        &format!(
            "the filter answers Origin: null with Access-Control-Allow-Origin: {} and no Access-Control-Allow-Credentials",
            acao.unwrap_or("(none)")
        ),
        acao == Some("null") && acac.is_none(),
        &format!("Access-Control-Allow-Credentials: {acac:?}"),
        &mut failures,
    );
    envoy.stop();

    // The policy that would let a sandboxed page read credentialed responses.
    let refused = r#"{"allow_origins": ["null"], "allow_credentials": true}"#;
    match edge_cors_engine::config::parse_config(refused.as_bytes()) {
        Err(e) => {
            let e = e.to_string();
            let short = e.trim_start_matches("invalid edge-cors configuration: ").split(": any website").next().unwrap_or(&e);
            check(
                "null",
                &format!("[null] + allow_credentials refused by parse_config: {short}"),
                e.contains("allow_origins[0] = \"null\""),
                &format!("the error does not name allow_origins[0]: {e}"),
                &mut failures,
            );
        }
        Ok(_) => check("null", "[null] + allow_credentials refused by parse_config", false, "parse_config accepted it", &mut failures),
    }
    match Envoy::start(&[Listener { name: "null_credentials", config: refused }], upstream.port) {
        Started::Exited { log, .. } => {
            let named_it = log.lines().any(|l| l.contains("invalid edge-cors configuration") && l.contains("allow_origins[0] = \"null\""));
            check(
                "null",
                "[null] + allow_credentials: Envoy refuses to start it",
                named_it,
                "Envoy exited without naming allow_origins[0]",
                &mut failures,
            );
        }
        Started::Running(bad) => {
            // What the browser would then allow: a sandboxed page reading a credentialed response.
            let cases = vec![case(
                "sandboxed iframe: credentialed GET under [null] + allow_credentials",
                bad.url("null_credentials", "/api/null-credentials").replace("127.0.0.1", "localhost"),
                Expect::Blocked,
            )
            .with("credentials", json!("include"))];
            let observed = load(&format!("{page}/"), &json!({"sandbox": "iframe", "cases": requests(&cases)}), SANDBOXED_IFRAME_FLAGS);
            bad.stop();
            let r = &observed["results"][0];
            check(
                "null",
                "[null] + allow_credentials: Envoy refuses to start it",
                false,
                &format!(
                    "Envoy started it; the sandboxed iframe's credentialed GET then gave resolved={} status={} body={:?}",
                    r["resolved"],
                    r["status"],
                    r["body"].as_str().unwrap_or("")
                ),
                &mut failures,
            );
        }
    }
    failures
}

/// A page on an IPv4-mapped IPv6 address: loaded as
/// http://[::ffff:127.0.0.1]:PORT/ (Chromium connects to 127.0.0.1, where
/// the page server listens), it has the WHATWG origin
/// http://[::ffff:7f00:1]:PORT. The policy spells it the dotted way; the
/// engine compares it as browsers serialise it.
fn ipv4_mapped_origin(page_port: u16, upstream: &Upstream) -> Vec<String> {
    let mut failures = vec![];
    let page = format!("http://[::ffff:7f00:1]:{page_port}");
    let other_port = if page_port == u16::MAX { page_port - 1 } else { page_port + 1 };
    let mapped = format!(r#"{{"allow_origins": ["http://[::ffff:127.0.0.1]:{page_port}"], "max_age": 0}}"#);
    let mapped_other_port = format!(r#"{{"allow_origins": ["http://[::ffff:127.0.0.1]:{other_port}"], "max_age": 0}}"#);
    let Some(envoy) = start_envoy(
        &page,
        &[Listener { name: "mapped", config: &mapped }, Listener { name: "mapped_other_port", config: &mapped_other_port }],
        upstream,
        &mut failures,
    ) else {
        return failures;
    };
    let at = |listener: &str, path: &str| envoy.url(listener, path).replace("127.0.0.1", "localhost");
    let cases = vec![
        case(
            "listed as http://[::ffff:127.0.0.1]:PORT: allowed",
            at("mapped", "/api/mapped"),
            Expect::Readable { status: 200, body: "upstream saw /api/mapped\n" },
        ),
        case("listed with another port: blocked", at("mapped_other_port", "/api/mapped-other-port"), Expect::Blocked),
    ];
    failures.extend(judge(&page, &load(&format!("http://[::ffff:127.0.0.1]:{page_port}/"), &requests(&cases), &[]), &cases));
    for path in ["/api/mapped", "/api/mapped-other-port"] {
        let sent = origin_seen(upstream, path);
        check(
            &page,
            &format!("{path}: Chromium sent Origin: {}", sent.as_deref().unwrap_or("(none)")),
            sent.as_deref() == Some(page.as_str()),
            &format!("expected Origin: {page}"),
            &mut failures,
        );
    }
    envoy.stop();
    failures
}

/// `http://localhost:*` with credentials: a page on localhost at a random
/// port reads a credentialed response (its cookie reaches the upstream); a
/// page on 127.0.0.1 is another host and is blocked.
fn port_wildcard(page_port: u16, upstream: &Upstream) -> Vec<String> {
    let mut failures = vec![];
    let any_port = r#"{"allow_origins": ["http://localhost:*"], "allow_credentials": true, "max_age": 0}"#;
    let localhost = format!("http://localhost:{page_port}");
    let Some(envoy) = start_envoy(&localhost, &[Listener { name: "any_port", config: any_port }], upstream, &mut failures) else {
        return failures;
    };
    let at = |path: &str| envoy.url("any_port", path).replace("127.0.0.1", "localhost");
    let cases = vec![case(
        "http://localhost:* reads a credentialed response",
        at("/api/any-port-localhost"),
        Expect::Readable { status: 200, body: "upstream saw /api/any-port-localhost\n" },
    )
    .with("credentials", json!("include"))
    .with("cookie", json!("edge_cors_sid=from-localhost; path=/"))];
    failures.extend(judge(&localhost, &run_page(&localhost, &cases), &cases));
    let seen = upstream.seen("/api/any-port-localhost");
    let header = |name: &str| seen.last().and_then(|s| s.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()));
    let (origin, cookie) = (header("origin"), header("cookie"));
    check(
        &localhost,
        &format!("Chromium sent Origin: {} and Cookie: {}", origin.as_deref().unwrap_or("(none)"), cookie.as_deref().unwrap_or("(none)")),
        origin.as_deref() == Some(localhost.as_str()) && cookie.as_deref().is_some_and(|c| c.contains("edge_cors_sid=from-localhost")),
        "expected the page's origin and its cookie",
        &mut failures,
    );

    let loopback = format!("http://127.0.0.1:{page_port}");
    let cases = vec![case("http://localhost:* blocks 127.0.0.1 (credentials: include)", at("/api/any-port-127"), Expect::Blocked)
        .with("credentials", json!("include"))];
    failures.extend(judge(&loopback, &run_page(&loopback, &cases), &cases));
    envoy.stop();
    failures
}

/// docs/contract.md "Cross-origin writes", in Chromium: a page on a foreign
/// origin submitting a form POST, and a `no-cors` fetch POST (both sent by
/// the browser without any preflight, with the user's cookies), reach
/// nothing upstream; the allowed origin's page still writes.
#[test]
fn chromium_cross_origin_writes_are_refused_at_the_edge() {
    let allowed_port = chromium::serve_page("crates/suites/tests/browser/page.html");
    let foreign_port = chromium::serve_page("crates/suites/tests/browser/page.html");
    let upstream = Upstream::start();
    let allowed = format!("http://127.0.0.1:{allowed_port}");
    let policy = format!(r#"{{"allow_origins": ["{allowed}"], "allow_methods": ["GET", "POST"], "block_cross_origin_writes": true}}"#);
    let envoy = Envoy::expect_running(&[Listener { name: "writes", config: &policy }], upstream.port);
    let at = |path: &str| envoy.url("writes", path).replace("127.0.0.1", "localhost");
    let writes = |tag: &str| {
        vec![
            case("form POST", at(&format!("/api/form-{tag}")), Expect::Blocked).with("form", json!(true)),
            case("no-cors fetch POST", at(&format!("/api/nocors-{tag}")), Expect::Blocked)
                .with("method", json!("POST"))
                .with("mode", json!("no-cors"))
                .with("headers", json!({"content-type": "text/plain"}))
                .with("body", json!("amount=100")),
        ]
    };
    let seen = |path: &str| upstream.seen(path).len();

    load(&format!("http://127.0.0.1:{foreign_port}/"), &requests(&writes("foreign")), &[]);
    assert_eq!(seen("/api/form-foreign"), 0, "a foreign page's form POST reached the upstream");
    assert_eq!(seen("/api/nocors-foreign"), 0, "a foreign page's no-cors POST reached the upstream");
    let stats = envoy.stats();
    assert_eq!(stat(&stats, "edge_cors.cross_origin_write_refused"), Some(2), "{stats}");

    let observed = load(&format!("{allowed}/"), &requests(&writes("allowed")), &[]);
    assert_eq!(seen("/api/form-allowed"), 1, "the allowed origin's form POST: {observed}");
    assert_eq!(seen("/api/nocors-allowed"), 1, "the allowed origin's no-cors POST: {observed}");
    let cors = vec![case(
        "CORS POST from the allowed page",
        at("/api/cors-allowed"),
        Expect::Readable { status: 200, body: "upstream saw /api/cors-allowed\n" },
    )
    .with("method", json!("POST"))
    .with("body", json!("x"))];
    let failures = judge(&allowed, &load(&format!("{allowed}/"), &requests(&cors), &[]), &cors);
    assert!(failures.is_empty(), "{failures:?}");
    envoy.stop();
}
