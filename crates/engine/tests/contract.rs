//! docs/contract.md "Requests" and "Preflight details", tested natively against the public
//! engine API: `Policy::decide` for the request path, `Policy::rewrite_response`
//! for the response path (into `HeaderList`, the engine's in-memory header
//! map with a proxy's semantics), and `response::merge_vary`.
//!
//! Every test is named after the rule it checks and is a table of cases; a
//! failing case prints its row name. Response headers are compared exactly
//! (order aside), so a missing, extra, duplicated or wrongly cased header
//! fails the test.
//!
//! Expected values are written out from the contract, not taken from the
//! engine's constants, so a change to those constants is caught too.

// Case tables are slices of tuples; naming each tuple type would not help.
#![allow(clippy::type_complexity)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use edge_cors_engine::response::merge_vary;
use edge_cors_engine::{Decision, Forward, HeaderList, Policy, PreflightReply, Rejection, Request, Stamp};

// ---------------------------------------------------------------------------
// Header names (lower-case, as the contract's design decision says) and values.

const ACAO: &str = "access-control-allow-origin";
const ACAC: &str = "access-control-allow-credentials";
const ACAM: &str = "access-control-allow-methods";
const ACAH: &str = "access-control-allow-headers";
const ACEH: &str = "access-control-expose-headers";
const ACMA: &str = "access-control-max-age";
const ACAPN: &str = "access-control-allow-private-network";
const VARY: &str = "vary";

/// The `Vary` every preflight answer carries, allowed or rejected.
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
/// The same under a policy with `allow_private_network` (docs/contract.md
/// "Preflight details": the answer then depends on that request header too).
const PREFLIGHT_VARY_PNA: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

const APP: &str = "https://app.example.com";

// ---------------------------------------------------------------------------
// Policies used by the tables.

/// Exact origin plus a subdomain pattern, listed methods and headers, expose, max_age.
const STRICT: &str = r#"{
    "allow_origins": ["https://app.example.com", "https://*.example.org"],
    "allow_methods": ["PUT", "DELETE"],
    "allow_headers": ["content-type", "x-token"],
    "expose_headers": ["etag", "x-request-id"],
    "max_age": 600
}"#;
/// Credentials with `*` methods and headers (which browsers then read literally).
const CREDS: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["*"],
    "allow_headers": ["*"],
    "expose_headers": ["etag"],
    "allow_credentials": true,
    "max_age": 3600
}"#;
/// Credentials with listed methods and headers.
const CREDS_LIST: &str = r#"{
    "allow_origins": ["https://app.example.com"],
    "allow_methods": ["PUT"],
    "allow_headers": ["x-token"],
    "allow_credentials": true
}"#;
/// Public: `*` without credentials.
const PUBLIC: &str = r#"{"allow_origins": ["*"]}"#;
/// Public with every list a wildcard and max_age 0.
const PUBLIC_STARS: &str = r#"{
    "allow_origins": ["*"],
    "allow_methods": ["*"],
    "allow_headers": ["*"],
    "expose_headers": ["*"],
    "max_age": 0
}"#;
/// Only `allow_origins`: methods default to GET, HEAD, POST; no headers; nothing else.
const DEFAULTS: &str = r#"{"allow_origins": ["https://app.example.com"]}"#;
/// Only PUT listed, to see safelisted methods pass anyway.
const ONLY_PUT: &str = r#"{"allow_origins": ["https://app.example.com"], "allow_methods": ["PUT"]}"#;
/// `allow_headers: ["*"]` without credentials.
const STAR_HEADERS: &str = r#"{"allow_origins": ["https://app.example.com"], "allow_headers": ["*"]}"#;
/// Private network access configured.
const PNA: &str = r#"{"allow_origins": ["https://app.example.com"], "allow_private_network": true}"#;
/// The literal `null` origin allowed.
const NULL_OK: &str = r#"{"allow_origins": ["null", "https://app.example.com"]}"#;

const ALL_POLICIES: &[&str] = &[STRICT, CREDS, CREDS_LIST, PUBLIC, PUBLIC_STARS, DEFAULTS, ONLY_PUT, STAR_HEADERS, PNA, NULL_OK];
const PUBLIC_POLICIES: &[&str] = &[PUBLIC, PUBLIC_STARS];

fn policy(json: &str) -> Policy {
    Policy::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("test policy refused: {e}\n{json}"))
}

// ---------------------------------------------------------------------------
// Headers of the response path.

/// A response's headers in order, as `HeaderList` holds them.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn pairs(list: &[(&str, &str)]) -> Pairs {
    list.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
}

fn concat(a: &[(&str, &str)], b: &[(&str, &str)]) -> Pairs {
    let mut out = pairs(a);
    out.extend(pairs(b));
    out
}

/// Lossy and shortened, for assertion messages.
fn show_bytes(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > 100 {
        format!("{}...({} bytes)", s.chars().take(100).collect::<String>(), b.len())
    } else {
        s.into_owned()
    }
}

fn show(p: &Pairs) -> String {
    let mut lines: Vec<String> = p.iter().map(|(n, v)| format!("  {}: {}", show_bytes(n), show_bytes(v))).collect();
    lines.sort();
    lines.join("\n")
}

fn sorted(p: &Pairs) -> Pairs {
    let mut p = p.clone();
    p.sort();
    p
}

/// The final headers must be exactly `want` (order aside, names compared exactly).
fn assert_headers(case: &str, got: &Pairs, want: &Pairs) {
    assert!(sorted(got) == sorted(want), "{case}: response headers differ\n got:\n{}\n want:\n{}", show(got), show(want));
}

fn values_of<'p>(p: &'p Pairs, name: &str) -> Vec<&'p [u8]> {
    p.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice()).collect()
}

fn is_cors_name(n: &[u8]) -> bool {
    n.len() >= 15 && n[..15].eq_ignore_ascii_case(b"access-control-")
}

/// No `Access-Control-*` header twice, and every one lower-case.
fn assert_cors_headers_unique(case: &str, p: &Pairs) {
    for (i, (n, _)) in p.iter().enumerate() {
        if is_cors_name(n) {
            assert!(!p[i + 1..].iter().any(|(m, _)| m.eq_ignore_ascii_case(n)), "{case}: {} appears twice\n{}", show_bytes(n), show(p));
            assert!(n.iter().all(|b| !b.is_ascii_uppercase()), "{case}: {} is not lower-case", show_bytes(n));
        }
    }
}

/// What the filter does with a response: rewrite `upstream` under the stamp.
fn respond(p: &Policy, forward: Forward, origin: Option<&[u8]>, upstream: &Pairs) -> Pairs {
    let mut sink = HeaderList { headers: upstream.clone() };
    p.rewrite_response(Stamp { forward, origin }, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), &mut sink);
    sink.headers
}

/// Decides a request that must be forwarded, then rewrites `upstream`.
fn forward(case: &str, p: &Policy, req: &Request<'_>, upstream: &Pairs) -> (Forward, Pairs) {
    let f = match p.decide(req) {
        Decision::Forward(f) => f,
        Decision::Preflight(r) => panic!("{case}: answered locally instead of forwarded: {r:?}"),
    };
    (f, respond(p, f, req.origin, upstream))
}

fn actual<'a>(method: &'a [u8], origin: Option<&'a [u8]>) -> Request<'a> {
    Request { method, origin, ..Request::default() }
}

// ---------------------------------------------------------------------------
// Preflights.

/// A preflight reply, owned so it can leave a `catch_unwind`.
struct Reply {
    status: u32,
    headers: Pairs,
    body: String,
    rejected: Option<Rejection>,
    /// The `Vary` the contract asks for under the policy that answered.
    vary: &'static str,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?} body {:?}\n{}", self.status, self.rejected, self.body, show(&self.headers))
    }
}

fn own(r: &PreflightReply<'_>) -> Reply {
    Reply {
        status: r.status,
        headers: r.headers.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect(),
        body: r.body.to_string(),
        rejected: r.rejected,
        vary: PREFLIGHT_VARY,
    }
}

fn preflight_req<'a>(origin: &'a [u8], method: &'a [u8], headers: Option<&'a [u8]>, pna: Option<&'a [u8]>) -> Request<'a> {
    Request {
        method: b"OPTIONS",
        origin: Some(origin),
        request_method: Some(method),
        request_headers: headers,
        request_private_network: pna,
        ..Request::default()
    }
}

fn preflight(case: &str, p: &Policy, origin: &[u8], method: &[u8], headers: Option<&[u8]>, pna: Option<&[u8]>) -> Reply {
    match p.decide(&preflight_req(origin, method, headers, pna)) {
        Decision::Preflight(r) => Reply { vary: if p.allows_private_network() { PREFLIGHT_VARY_PNA } else { PREFLIGHT_VARY }, ..own(&r) },
        Decision::Forward(f) => {
            panic!("{case}: preflight forwarded ({f:?}); a preflight must never reach the upstream")
        }
    }
}

fn header(r: &Reply, name: &str) -> Option<String> {
    let v = values_of(&r.headers, name);
    assert!(v.len() <= 1, "{name} appears {} times in {r:?}", v.len());
    v.first().map(|v| String::from_utf8_lossy(v).into_owned())
}

/// An allowed preflight: 204, no body, exactly `want` plus the preflight `Vary`.
fn assert_allowed(case: &str, r: &Reply, want: &[(&str, &str)]) {
    assert_eq!(r.status, 204, "{case}: status ({r:?})");
    assert_eq!(r.rejected, None, "{case}: rejected ({r:?})");
    assert_eq!(r.body, "", "{case}: body");
    assert_headers(case, &r.headers, &concat(want, &[(VARY, r.vary)]));
    assert_cors_headers_unique(case, &r.headers);
}

/// A rejected preflight: 403, no `Access-Control-*`, the preflight `Vary`, and
/// a plain-text body naming the rejected part (and no other).
fn assert_rejected(case: &str, r: &Reply, why: Rejection) {
    assert_eq!(r.status, 403, "{case}: status ({r:?})");
    assert_eq!(r.rejected, Some(why), "{case}: which part was rejected ({r:?})");
    let cors: Vec<_> = r.headers.iter().filter(|(n, _)| is_cors_name(n)).collect();
    assert!(cors.is_empty(), "{case}: rejected preflight carries CORS headers\n{}", show(&r.headers));
    assert_eq!(values_of(&r.headers, VARY), vec![r.vary.as_bytes()], "{case}: vary");
    let ct = values_of(&r.headers, "content-type");
    assert_eq!(ct.len(), 1, "{case}: one content-type\n{}", show(&r.headers));
    assert!(ct[0].starts_with(b"text/plain"), "{case}: content-type {}", show_bytes(ct[0]));
    assert_eq!(r.headers.len(), 2, "{case}: only vary and content-type\n{}", show(&r.headers));
    let body = r.body.to_ascii_lowercase();
    let (named, others) = match why {
        Rejection::Origin => ("origin", ["method", "header"]),
        Rejection::Method => ("method", ["origin", "header"]),
        Rejection::Header => ("header", ["origin", "method"]),
    };
    assert!(!body.trim().is_empty() && body.len() < 200, "{case}: short body, got {:?}", r.body);
    assert!(body.contains(named), "{case}: body {:?} does not name the {named}", r.body);
    for other in others {
        assert!(!body.contains(other), "{case}: body {:?} names the {other} too", r.body);
    }
}

struct Allowed {
    name: &'static str,
    policy: &'static str,
    origin: &'static [u8],
    method: &'static [u8],
    headers: Option<&'static [u8]>,
    pna: Option<&'static [u8]>,
    /// Every header of the reply except `Vary`, which is checked as well.
    want: &'static [(&'static str, &'static str)],
}

fn run_allowed(cases: &[Allowed]) {
    for c in cases {
        let p = policy(c.policy);
        let r = preflight(c.name, &p, c.origin, c.method, c.headers, c.pna);
        assert_allowed(c.name, &r, c.want);
    }
}

struct Rejected {
    name: &'static str,
    policy: &'static str,
    origin: &'static [u8],
    method: &'static [u8],
    headers: Option<&'static [u8]>,
    pna: Option<&'static [u8]>,
}

fn run_rejected(why: Rejection, cases: &[Rejected]) {
    for c in cases {
        let p = policy(c.policy);
        let r = preflight(c.name, &p, c.origin, c.method, c.headers, c.pna);
        assert_rejected(c.name, &r, why);
    }
}

/// Rule: an allowed preflight is 204 with Allow-Origin, -Allow-Methods,
/// -Allow-Headers (when requested), -Max-Age (when configured),
/// -Allow-Credentials (when configured), -Allow-Private-Network (when requested
/// and configured) and the three-name `Vary`, and nothing else.
#[test]
fn preflight_allowed_has_every_header() {
    run_allowed(&[
        Allowed {
            name: "exact origin, listed method and header",
            policy: STRICT,
            origin: b"https://app.example.com",
            method: b"PUT",
            headers: Some(b"x-token"),
            pna: None,
            want: &[(ACAO, APP), (ACAM, "PUT, DELETE"), (ACAH, "content-type, x-token"), (ACMA, "600")],
        },
        Allowed {
            name: "subdomain pattern, two labels deep, header names in any case",
            policy: STRICT,
            origin: b"https://a.b.example.org",
            method: b"DELETE",
            headers: Some(b"Content-Type, X-Token"),
            pna: None,
            want: &[(ACAO, "https://a.b.example.org"), (ACAM, "PUT, DELETE"), (ACAH, "content-type, x-token"), (ACMA, "600")],
        },
        Allowed {
            name: "credentials configured: allow-credentials true",
            policy: CREDS_LIST,
            origin: b"https://app.example.com",
            method: b"PUT",
            headers: Some(b"x-token"),
            pna: None,
            want: &[(ACAO, APP), (ACAC, "true"), (ACAM, "PUT"), (ACAH, "x-token")],
        },
        Allowed {
            name: "credentials with * lists: requested names, max-age",
            policy: CREDS,
            origin: b"https://app.example.com",
            method: b"PATCH",
            headers: Some(b"authorization, x-custom"),
            pna: None,
            want: &[(ACAO, APP), (ACAC, "true"), (ACAM, "PATCH"), (ACAH, "authorization, x-custom"), (ACMA, "3600")],
        },
        Allowed {
            name: "public policy answers *",
            policy: PUBLIC,
            origin: b"https://anyone.test",
            method: b"GET",
            headers: None,
            pna: None,
            want: &[(ACAO, "*"), (ACAM, "GET, HEAD, POST")],
        },
        Allowed {
            name: "public policy answers * to Origin: null",
            policy: PUBLIC,
            origin: b"null",
            method: b"POST",
            headers: None,
            pna: None,
            want: &[(ACAO, "*"), (ACAM, "GET, HEAD, POST")],
        },
        Allowed {
            name: "public with * lists and max_age 0",
            policy: PUBLIC_STARS,
            origin: b"https://anyone.test",
            method: b"PATCH",
            headers: Some(b"authorization"),
            pna: None,
            want: &[(ACAO, "*"), (ACAM, "*"), (ACAH, "authorization"), (ACMA, "0")],
        },
        Allowed {
            name: "literal null entry echoes null",
            policy: NULL_OK,
            origin: b"null",
            method: b"GET",
            headers: None,
            pna: None,
            want: &[(ACAO, "null"), (ACAM, "GET, HEAD, POST")],
        },
        Allowed {
            name: "private network requested and configured",
            policy: PNA,
            origin: b"https://app.example.com",
            method: b"GET",
            headers: None,
            pna: Some(b"true"),
            want: &[(ACAO, APP), (ACAM, "GET, HEAD, POST"), (ACAPN, "true")],
        },
    ]);
}

/// Rule: `-Allow-Headers` only when headers were requested (an absent, empty
/// or all-empty-elements request list is no request).
#[test]
fn preflight_allow_headers_only_when_headers_requested() {
    let base: &[(&str, &str)] = &[(ACAO, APP), (ACAM, "PUT, DELETE"), (ACMA, "600")];
    let with: &[(&str, &str)] = &[(ACAO, APP), (ACAM, "PUT, DELETE"), (ACAH, "content-type, x-token"), (ACMA, "600")];
    let cases: &[(&str, Option<&[u8]>, &[(&str, &str)])] = &[
        ("no Access-Control-Request-Headers", None, base),
        ("empty value", Some(b""), base),
        ("only whitespace", Some(b" \t "), base),
        ("only commas", Some(b" , ,,"), base),
        ("one header", Some(b"content-type"), with),
        ("header among empty elements", Some(b", x-token ,"), with),
    ];
    let p = policy(STRICT);
    for (name, headers, want) in cases {
        let r = preflight(name, &p, APP.as_bytes(), b"PUT", *headers, None);
        assert_allowed(name, &r, want);
    }
}

/// Rule: `-Max-Age` when configured (0 included), absent otherwise.
#[test]
fn preflight_max_age_present_only_when_configured() {
    let cases: &[(&str, &str, &[u8], Option<&str>)] = &[
        ("max_age 600", STRICT, b"PUT", Some("600")),
        ("max_age 3600 with credentials", CREDS, b"PUT", Some("3600")),
        ("max_age 0 is still sent", PUBLIC_STARS, b"PUT", Some("0")),
        ("max_age absent", DEFAULTS, b"GET", None),
        ("max_age absent, public", PUBLIC, b"GET", None),
    ];
    for (name, json, method, want) in cases {
        let r = preflight(name, &policy(json), APP.as_bytes(), method, None, None);
        assert_eq!(r.status, 204, "{name}: {r:?}");
        assert_eq!(header(&r, ACMA).as_deref(), *want, "{name}");
    }
}

/// Rule: `-Allow-Credentials: true` when configured, on preflights and on
/// responses to actual requests; absent otherwise.
#[test]
fn credentials_header_only_when_configured() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("credentials true, * lists", CREDS, Some("true")),
        ("credentials true, listed", CREDS_LIST, Some("true")),
        ("credentials absent", STRICT, None),
        ("credentials absent, defaults", DEFAULTS, None),
        ("public", PUBLIC, None),
    ];
    for (name, json, want) in cases {
        let p = policy(json);
        let r = preflight(name, &p, APP.as_bytes(), b"GET", None, None);
        assert_eq!(r.status, 204, "{name}: {r:?}");
        assert_eq!(header(&r, ACAC).as_deref(), *want, "{name}: preflight");
        let (_, got) = forward(name, &p, &actual(b"GET", Some(APP.as_bytes())), &pairs(&[(":status", "200")]));
        let got: Vec<&[u8]> = values_of(&got, ACAC);
        assert_eq!(got, want.iter().map(|w| w.as_bytes()).collect::<Vec<_>>(), "{name}: actual response");
    }
}

/// Rule: a rejected origin gives 403, no `Access-Control-*` headers, the
/// preflight `Vary` and a body naming the origin. The origin is checked
/// before method and headers.
#[test]
fn preflight_rejected_origin_is_403_without_cors_headers() {
    let r = |name, policy, origin| Rejected { name, policy, origin, method: b"PUT", headers: None, pna: None };
    run_rejected(
        Rejection::Origin,
        &[
            r("unknown origin", STRICT, b"https://evil.test"),
            r("pattern base itself", STRICT, b"https://example.org"),
            r("pattern lookalike", STRICT, b"https://evilexample.org"),
            r("suffix attack", STRICT, b"https://app.example.com.evil.test"),
            r("other scheme", STRICT, b"http://app.example.com"),
            r("other port", STRICT, b"https://app.example.com:8443"),
            r("pattern with other port", STRICT, b"https://a.example.org:8443"),
            r("trailing slash", STRICT, b"https://app.example.com/"),
            r("null not matched by patterns", STRICT, b"null"),
            r("empty origin", STRICT, b""),
            r("null not allowed with credentials", CREDS, b"null"),
            r("unknown origin with credentials", CREDS, b"https://evil.test"),
            r("default policy, unknown origin", DEFAULTS, b"https://evil.test"),
            Rejected {
                name: "origin is checked before method and headers",
                policy: STRICT,
                origin: b"https://evil.test",
                method: b"BREW",
                headers: Some(b"x-evil"),
                pna: None,
            },
            Rejected {
                name: "private network requested and configured, origin refused",
                policy: PNA,
                origin: b"https://evil.test",
                method: b"GET",
                headers: None,
                pna: Some(b"true"),
            },
        ],
    );
}

/// Rule: a rejected method gives 403, no `Access-Control-*`, the preflight
/// `Vary`, a body naming the method. Methods are case-sensitive.
#[test]
fn preflight_rejected_method_is_403_without_cors_headers() {
    let r = |name, policy, method| Rejected { name, policy, origin: APP.as_bytes(), method, headers: None, pna: None };
    run_rejected(
        Rejection::Method,
        &[
            r("not listed", STRICT, b"PATCH"),
            r("listed method in other case", STRICT, b"put"),
            r("not listed, credentials", CREDS_LIST, b"DELETE"),
            r("not in the defaults", DEFAULTS, b"PUT"),
            r("empty method", STRICT, b""),
            r("two methods", STRICT, b"PUT, DELETE"),
            r("method with a space", STRICT, b"PUT "),
            r("not a token, even under *", PUBLIC_STARS, b"GE T"),
            r("not a token, with credentials and *", CREDS, b"GET\tPUT"),
            Rejected {
                name: "method is checked before headers",
                policy: STRICT,
                origin: APP.as_bytes(),
                method: b"PATCH",
                headers: Some(b"x-evil"),
                pna: None,
            },
        ],
    );
}

/// Rule: a rejected header gives 403, no `Access-Control-*`, the preflight
/// `Vary`, a body naming the header. Every requested header must be allowed.
#[test]
fn preflight_rejected_header_is_403_without_cors_headers() {
    let r = |name, policy, headers| Rejected { name, policy, origin: APP.as_bytes(), method: b"GET", headers: Some(headers), pna: None };
    run_rejected(
        Rejection::Header,
        &[
            r("not listed", STRICT, b"authorization"),
            r("one of two not listed", STRICT, b"x-token, x-other"),
            r("listed then unlisted, no space", STRICT, b"content-type,x-other"),
            r("no headers configured", DEFAULTS, b"x-token"),
            r("no headers configured, public", PUBLIC, b"x-token"),
            r("not listed, credentials", CREDS_LIST, b"authorization"),
            r("not a token", STRICT, b"x-token, x token"),
            r("not a token, under *", STAR_HEADERS, b"x-a, (x-b)"),
            r("not a token, with credentials and *", CREDS, b"x-a;x-b"),
        ],
    );
}

/// Rule: every preflight answer, allowed or rejected, carries
/// `Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers` once.
#[test]
fn preflight_vary_lists_origin_method_and_headers() {
    let requests: &[(&str, &[u8], &[u8], Option<&[u8]>)] = &[
        ("allowed", APP.as_bytes(), b"GET", None),
        ("allowed with headers", APP.as_bytes(), b"PUT", Some(b"x-token")),
        ("origin refused", b"https://evil.test", b"GET", None),
        ("method refused", APP.as_bytes(), b"BREW", None),
        ("header refused", APP.as_bytes(), b"GET", Some(b"x-evil")),
    ];
    for json in ALL_POLICIES {
        let p = policy(json);
        for (name, origin, method, headers) in requests {
            let case = format!("{name} under {json}");
            let r = preflight(&case, &p, origin, method, *headers, None);
            assert_eq!(values_of(&r.headers, VARY), vec![r.vary.as_bytes()], "{case}: {r:?}");
        }
    }
}

/// Rule: a preflight (OPTIONS + Origin + Access-Control-Request-Method) is
/// always answered by the filter, whatever its values; it never reaches the upstream.
#[test]
fn preflight_is_always_answered_locally() {
    let requests: &[(&str, &[u8], &[u8], Option<&[u8]>, Option<&[u8]>)] = &[
        ("allowed", APP.as_bytes(), b"GET", None, None),
        ("refused origin", b"https://evil.test", b"GET", None, None),
        ("refused method", APP.as_bytes(), b"BREW", None, None),
        ("refused header", APP.as_bytes(), b"GET", Some(b"x-evil"), None),
        ("empty origin", b"", b"GET", None, None),
        ("empty method", APP.as_bytes(), b"", None, None),
        ("non-UTF-8 everything", b"\xff\xfe", b"\xc0", Some(b"\x80"), Some(b"\xff")),
        ("private network", APP.as_bytes(), b"GET", None, Some(b"true")),
    ];
    for json in ALL_POLICIES {
        let p = policy(json);
        for (name, origin, method, headers, pna) in requests {
            let case = format!("{name} under {json}");
            let r = preflight(&case, &p, origin, method, *headers, *pna);
            assert!(r.status == 204 || r.status == 403, "{case}: status {}", r.status);
        }
    }
}

/// Rule: `allow_headers: ["*"]` also lets `Authorization` through (the Fetch
/// standard's `*` never covers it), so the answer names the requested headers,
/// with or without credentials.
#[test]
fn allow_headers_star_lets_authorization_through() {
    let cases: &[(&str, &str, &[u8], &[&str])] = &[
        ("authorization alone", STAR_HEADERS, b"authorization", &["authorization"]),
        ("Authorization in request case", STAR_HEADERS, b"Authorization", &["authorization"]),
        ("authorization among others", STAR_HEADERS, b"x-a, authorization, x-b", &["x-a", "authorization", "x-b"]),
        ("public with *", PUBLIC_STARS, b"authorization", &["authorization"]),
        ("credentials with *", CREDS, b"authorization, x-custom", &["authorization", "x-custom"]),
    ];
    for (name, json, requested, want) in cases {
        let r = preflight(name, &policy(json), APP.as_bytes(), b"GET", Some(requested), None);
        assert_eq!(r.status, 204, "{name}: {r:?}");
        let acah = header(&r, ACAH).unwrap_or_else(|| panic!("{name}: no {ACAH}: {r:?}"));
        let got: Vec<String> = acah.split(',').map(|s| s.trim().to_ascii_lowercase()).collect();
        assert!(!got.iter().any(|g| g == "*"), "{name}: answered {acah:?}; * never covers authorization");
        assert_eq!(got, *want, "{name}: {ACAH}: {acah:?}");
    }
}

/// Rule: with credentials, `*` is literal to browsers, so `["*"]` methods and
/// headers are answered with the requested method and header names, and no
/// credentialed answer carries a `*`.
#[test]
fn credentials_with_star_methods_echoes_method() {
    let cases: &[(&str, &[u8], Option<&[u8]>)] = &[
        ("PATCH", b"PATCH", None),
        ("DELETE", b"DELETE", None),
        ("safelisted GET", b"GET", None),
        ("extension method", b"PURGE", None),
        ("lower-case extension method kept as sent", b"patch", None),
        ("method and headers", b"PUT", Some(b"x-custom, content-type")),
    ];
    let p = policy(CREDS);
    for (name, method, headers) in cases {
        let r = preflight(name, &p, APP.as_bytes(), method, *headers, None);
        assert_eq!(r.status, 204, "{name}: {r:?}");
        assert_eq!(header(&r, ACAM).as_deref(), Some(std::str::from_utf8(method).unwrap()), "{name}");
        assert_eq!(header(&r, ACAH).as_deref(), headers.map(|h| std::str::from_utf8(h).unwrap()), "{name}");
        assert_eq!(header(&r, ACAC).as_deref(), Some("true"), "{name}");
        for (n, v) in &r.headers {
            assert!(!(is_cors_name(n) && v.as_slice() == b"*"), "{name}: {} is * with credentials", show_bytes(n));
        }
    }
}

/// Rule (Fetch: CORS-safelisted methods): GET, HEAD and POST never need to be
/// listed, so they always pass the method check; other methods must be listed.
#[test]
fn safelisted_methods_always_pass_the_method_check() {
    let cases: &[(&str, &str, &[u8], Option<&str>)] = &[
        ("GET with only PUT listed", ONLY_PUT, b"GET", Some("PUT")),
        ("HEAD with only PUT listed", ONLY_PUT, b"HEAD", Some("PUT")),
        ("POST with only PUT listed", ONLY_PUT, b"POST", Some("PUT")),
        ("PUT listed", ONLY_PUT, b"PUT", Some("PUT")),
        ("DELETE not listed", ONLY_PUT, b"DELETE", None),
        ("GET with credentials and only PUT", CREDS_LIST, b"GET", Some("PUT")),
        ("HEAD under STRICT", STRICT, b"HEAD", Some("PUT, DELETE")),
        ("POST under STRICT", STRICT, b"POST", Some("PUT, DELETE")),
    ];
    for (name, json, method, want) in cases {
        let r = preflight(name, &policy(json), APP.as_bytes(), method, None, None);
        match want {
            Some(m) => {
                assert_eq!(r.status, 204, "{name}: {r:?}");
                assert_eq!(header(&r, ACAM).as_deref(), Some(*m), "{name}");
            }
            None => assert_rejected(name, &r, Rejection::Method),
        }
    }
}

/// Rule (section 1 default, seen from requests): `allow_methods` absent means
/// GET, HEAD, POST: those are answered with that list, any other is refused.
#[test]
fn allow_methods_absent_means_get_head_post() {
    let p = policy(DEFAULTS);
    for m in ["GET", "HEAD", "POST"] {
        let r = preflight(m, &p, APP.as_bytes(), m.as_bytes(), None, None);
        assert_allowed(m, &r, &[(ACAO, APP), (ACAM, "GET, HEAD, POST")]);
    }
    for m in ["PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "get"] {
        let r = preflight(m, &p, APP.as_bytes(), m.as_bytes(), None, None);
        assert_rejected(m, &r, Rejection::Method);
    }
}

/// Rule: `-Allow-Private-Network: true` only when requested
/// (`Access-Control-Request-Private-Network: true`) and configured.
#[test]
fn private_network_only_when_requested_and_configured() {
    let cases: &[(&str, &str, Option<&[u8]>, bool)] = &[
        ("requested and configured", PNA, Some(b"true"), true),
        ("not requested, configured", PNA, None, false),
        ("requested false, configured", PNA, Some(b"false"), false),
        ("requested empty, configured", PNA, Some(b""), false),
        ("requested, not configured", DEFAULTS, Some(b"true"), false),
        ("requested, public, not configured", PUBLIC, Some(b"true"), false),
        ("not requested, not configured", DEFAULTS, None, false),
    ];
    for (name, json, pna, want) in cases {
        let r = preflight(name, &policy(json), APP.as_bytes(), b"GET", None, *pna);
        assert_eq!(r.status, 204, "{name}: {r:?}");
        let got = header(&r, ACAPN);
        assert_eq!(got.as_deref(), want.then_some("true"), "{name}: {r:?}");
    }
}

// ---------------------------------------------------------------------------
// Forwarded requests.

/// Rule: OPTIONS without `Access-Control-Request-Method` is not a preflight:
/// it is forwarded and its response treated like any actual request's.
#[test]
fn options_without_request_method_is_forwarded() {
    struct Case {
        name: &'static str,
        policy: &'static str,
        req: Request<'static>,
        forward: Forward,
        add: &'static [(&'static str, &'static str)],
    }
    let options = |origin: Option<&'static [u8]>| Request { method: b"OPTIONS", origin, ..Request::default() };
    let strict_stamp: &[(&str, &str)] = &[(ACAO, APP), (ACEH, "etag, x-request-id"), (VARY, "Origin")];
    let cases = [
        Case { name: "allowed origin", policy: STRICT, req: options(Some(APP.as_bytes())), forward: Forward::Allowed, add: strict_stamp },
        Case {
            name: "request headers but no request method",
            policy: STRICT,
            req: Request { request_headers: Some(b"x-token"), ..options(Some(APP.as_bytes())) },
            forward: Forward::Allowed,
            add: strict_stamp,
        },
        Case {
            name: "private network but no request method",
            policy: PNA,
            req: Request { request_private_network: Some(b"true"), ..options(Some(APP.as_bytes())) },
            forward: Forward::Allowed,
            add: &[(ACAO, APP), (VARY, "Origin")],
        },
        Case {
            name: "disallowed origin",
            policy: STRICT,
            req: options(Some(b"https://evil.test")),
            forward: Forward::Denied,
            add: &[(VARY, "Origin")],
        },
        Case {
            name: "public policy",
            policy: PUBLIC,
            req: options(Some(b"https://anyone.test")),
            forward: Forward::Allowed,
            add: &[(ACAO, "*")],
        },
        Case {
            name: "request method but no Origin",
            policy: STRICT,
            req: Request { request_method: Some(b"PUT"), ..options(None) },
            forward: Forward::NoOrigin,
            add: &[(VARY, "Origin")],
        },
        Case {
            name: "request method on a GET is not a preflight either",
            policy: STRICT,
            req: Request { method: b"GET", request_method: Some(b"PUT"), ..options(Some(APP.as_bytes())) },
            forward: Forward::Allowed,
            add: strict_stamp,
        },
    ];
    let upstream: &[(&str, &str)] = &[(":status", "200"), ("allow", "GET, PUT, OPTIONS"), ("content-length", "0")];
    for c in &cases {
        let p = policy(c.policy);
        let (f, got) = forward(c.name, &p, &c.req, &pairs(upstream));
        assert_eq!(f, c.forward, "{}", c.name);
        assert_headers(c.name, &got, &concat(upstream, c.add));
    }
}

/// Rule: no `Origin`: forwarded untouched (never a preflight, whatever the
/// method and other headers).
#[test]
fn no_origin_is_forwarded() {
    let requests: &[(&str, Request<'static>)] = &[
        ("GET", actual(b"GET", None)),
        ("DELETE", actual(b"DELETE", None)),
        ("OPTIONS", actual(b"OPTIONS", None)),
        (
            "OPTIONS with every Access-Control-Request-* header",
            Request {
                method: b"OPTIONS",
                origin: None,
                request_method: Some(b"PUT"),
                request_headers: Some(b"x-token"),
                request_private_network: Some(b"true"),
                ..Request::default()
            },
        ),
    ];
    for json in ALL_POLICIES {
        let p = policy(json);
        for (name, req) in requests {
            match p.decide(req) {
                Decision::Forward(f) => {
                    if !PUBLIC_POLICIES.contains(json) {
                        assert_eq!(f, Forward::NoOrigin, "{name} under {json}");
                    }
                }
                Decision::Preflight(r) => panic!("{name} under {json}: answered locally: {r:?}"),
            }
        }
    }
}

/// Rule: a response to a request without `Origin` gets `Vary: Origin` whenever
/// the answer depends on the origin, i.e. unless the policy is public (`*`
/// without credentials). Design decision: a public policy's responses all get
/// `Access-Control-Allow-Origin: *` and no `Vary: Origin`.
#[test]
fn no_origin_gets_vary_unless_public() {
    struct Case {
        name: &'static str,
        policy: &'static str,
        upstream: &'static [(&'static str, &'static str)],
        want: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            name: "strict",
            policy: STRICT,
            upstream: &[(":status", "200"), ("content-type", "text/html")],
            want: &[(":status", "200"), ("content-type", "text/html"), (VARY, "Origin")],
        },
        Case { name: "credentials", policy: CREDS, upstream: &[(":status", "200")], want: &[(":status", "200"), (VARY, "Origin")] },
        Case { name: "defaults", policy: DEFAULTS, upstream: &[(":status", "404")], want: &[(":status", "404"), (VARY, "Origin")] },
        Case {
            name: "literal null allowed",
            policy: NULL_OK,
            upstream: &[(":status", "200")],
            want: &[(":status", "200"), (VARY, "Origin")],
        },
        Case {
            name: "strict, upstream Vary merged",
            policy: STRICT,
            upstream: &[(":status", "200"), ("vary", "Accept-Encoding")],
            want: &[(":status", "200"), (VARY, "Accept-Encoding, Origin")],
        },
        Case {
            name: "strict, upstream CORS headers removed",
            policy: STRICT,
            upstream: &[(":status", "200"), ("access-control-allow-origin", "https://cached.example")],
            want: &[(":status", "200"), (VARY, "Origin")],
        },
        Case {
            name: "public: *, no Vary",
            policy: PUBLIC,
            upstream: &[(":status", "200"), ("content-type", "text/html")],
            want: &[(":status", "200"), ("content-type", "text/html"), (ACAO, "*")],
        },
        Case {
            name: "public: upstream Vary left alone",
            policy: PUBLIC,
            upstream: &[(":status", "200"), ("vary", "Accept-Encoding")],
            want: &[(":status", "200"), ("vary", "Accept-Encoding"), (ACAO, "*")],
        },
        Case {
            name: "public with expose *",
            policy: PUBLIC_STARS,
            upstream: &[(":status", "503")],
            want: &[(":status", "503"), (ACAO, "*"), (ACEH, "*")],
        },
    ];
    for c in &cases {
        let p = policy(c.policy);
        let (_, got) = forward(c.name, &p, &actual(b"GET", None), &pairs(c.upstream));
        assert_headers(c.name, &got, &pairs(c.want));
        let varies = values_of(&got, VARY).iter().any(|v| v.windows(6).any(|w| w.eq_ignore_ascii_case(b"origin")));
        assert_eq!(varies, !PUBLIC_POLICIES.contains(&c.policy), "{}: Vary: Origin", c.name);
    }
}

/// Responses as different producers send them: the upstream, Envoy's local
/// replies, and auth filters placed after this one.
const PRODUCERS: &[(&str, &[(&str, &str)])] = &[
    ("upstream 200", &[(":status", "200"), ("content-type", "application/json"), ("etag", "\"v1\"")]),
    ("upstream 500", &[(":status", "500"), ("content-type", "text/html")]),
    ("envoy 503 no healthy upstream", &[(":status", "503"), ("content-length", "19"), ("content-type", "text/plain")]),
    ("envoy 404 no route", &[(":status", "404")]),
    ("envoy 413 payload too large", &[(":status", "413"), ("content-type", "text/plain"), ("connection", "close")]),
    ("envoy 429 rate limited", &[(":status", "429"), ("x-envoy-ratelimited", "true")]),
    ("auth filter 401", &[(":status", "401"), ("www-authenticate", "Bearer realm=\"api\"")]),
    ("auth filter 403", &[(":status", "403"), ("content-type", "text/plain")]),
    ("no headers at all", &[]),
];

/// Rule: the response to an actual request from an allowed origin, whatever
/// its status and producer, gets `-Allow-Origin` (the origin, or `*` when
/// public), `-Allow-Credentials: true` when configured, `-Expose-Headers`
/// when configured, and `Vary: Origin` unless public; nothing else.
#[test]
fn allowed_origin_response_is_stamped_whatever_produced_it() {
    struct Case {
        name: &'static str,
        policy: &'static str,
        method: &'static [u8],
        origin: &'static [u8],
        add: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            name: "exact origin, expose configured",
            policy: STRICT,
            method: b"GET",
            origin: b"https://app.example.com",
            add: &[(ACAO, APP), (ACEH, "etag, x-request-id"), (VARY, "Origin")],
        },
        Case {
            name: "subdomain pattern",
            policy: STRICT,
            method: b"POST",
            origin: b"https://api.eu.example.org",
            add: &[(ACAO, "https://api.eu.example.org"), (ACEH, "etag, x-request-id"), (VARY, "Origin")],
        },
        Case {
            name: "credentials",
            policy: CREDS,
            method: b"DELETE",
            origin: b"https://app.example.com",
            add: &[(ACAO, APP), (ACAC, "true"), (ACEH, "etag"), (VARY, "Origin")],
        },
        Case {
            name: "defaults: no expose, no credentials",
            policy: DEFAULTS,
            method: b"PUT",
            origin: b"https://app.example.com",
            add: &[(ACAO, APP), (VARY, "Origin")],
        },
        Case { name: "literal null", policy: NULL_OK, method: b"GET", origin: b"null", add: &[(ACAO, "null"), (VARY, "Origin")] },
        Case { name: "public: *, no Vary", policy: PUBLIC, method: b"GET", origin: b"https://anyone.test", add: &[(ACAO, "*")] },
        Case { name: "public, Origin: null", policy: PUBLIC, method: b"POST", origin: b"null", add: &[(ACAO, "*")] },
        Case {
            name: "public with expose *",
            policy: PUBLIC_STARS,
            method: b"PATCH",
            origin: b"https://anyone.test",
            add: &[(ACAO, "*"), (ACEH, "*")],
        },
    ];
    for c in &cases {
        let p = policy(c.policy);
        for (producer, upstream) in PRODUCERS {
            let case = format!("{} / {producer}", c.name);
            let (f, got) = forward(&case, &p, &actual(c.method, Some(c.origin)), &pairs(upstream));
            assert_eq!(f, Forward::Allowed, "{case}");
            assert_headers(&case, &got, &concat(upstream, c.add));
            assert_cors_headers_unique(&case, &got);
        }
    }
}

/// Rule: an actual request from a disallowed origin is forwarded and its
/// response carries no `Access-Control-*` header, even when the upstream set
/// some (`Access-Control-Allow-Origin: *` included). Non-public policies still
/// add `Vary: Origin`.
#[test]
fn disallowed_origin_response_has_no_cors_headers() {
    let cases: &[(&str, &str, &[u8])] = &[
        ("unknown origin", STRICT, b"https://evil.test"),
        ("pattern base itself", STRICT, b"https://example.org"),
        ("suffix attack", STRICT, b"https://app.example.com.evil.test"),
        ("other scheme", STRICT, b"http://app.example.com"),
        ("explicit default port", STRICT, b"https://app.example.com:443"),
        ("upper case", STRICT, b"https://APP.example.com"),
        ("trailing slash", STRICT, b"https://app.example.com/"),
        ("null", STRICT, b"null"),
        ("empty", STRICT, b""),
        ("non-UTF-8", STRICT, b"https://\xffapp.example.com"),
        ("unknown origin, credentials", CREDS, b"https://evil.test"),
        ("null, credentials", CREDS, b"null"),
        ("unknown origin, defaults", DEFAULTS, b"https://evil.test"),
        ("unknown origin, null allowed", NULL_OK, b"https://evil.test"),
    ];
    let upstreams: &[(&str, &[(&str, &str)], &[(&str, &str)])] = &[
        (
            "upstream says Access-Control-Allow-Origin: *",
            &[(":status", "200"), ("content-type", "application/json"), ("Access-Control-Allow-Origin", "*")],
            &[(":status", "200"), ("content-type", "application/json"), (VARY, "Origin")],
        ),
        (
            "upstream sets a full CORS answer",
            &[
                (":status", "200"),
                ("access-control-allow-origin", "https://evil.test"),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-secret"),
                ("access-control-allow-methods", "*"),
                ("access-control-max-age", "86400"),
                ("vary", "Accept-Encoding"),
            ],
            &[(":status", "200"), (VARY, "Accept-Encoding, Origin")],
        ),
        ("envoy 503 local reply", &[(":status", "503")], &[(":status", "503"), (VARY, "Origin")]),
    ];
    for (name, json, origin) in cases {
        let p = policy(json);
        for (uname, upstream, want) in upstreams {
            for method in [&b"GET"[..], b"POST", b"OPTIONS"] {
                let case = format!("{name} / {uname} / {}", show_bytes(method));
                let (f, got) = forward(&case, &p, &actual(method, Some(origin)), &pairs(upstream));
                assert_eq!(f, Forward::Denied, "{case}");
                assert_headers(&case, &got, &pairs(want));
            }
        }
    }
}

/// Rule: the filter owns CORS: upstream `Access-Control-*` headers (any case,
/// any number) are removed and replaced, so a response never carries two or
/// conflicting values.
#[test]
fn upstream_cors_headers_are_replaced() {
    struct Case {
        name: &'static str,
        policy: &'static str,
        origin: &'static [u8],
        upstream: &'static [(&'static str, &'static str)],
        want: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            name: "upstream * replaced by the origin",
            policy: STRICT,
            origin: b"https://app.example.com",
            upstream: &[(":status", "200"), ("access-control-allow-origin", "*")],
            want: &[(":status", "200"), (ACAO, APP), (ACEH, "etag, x-request-id"), (VARY, "Origin")],
        },
        // docs/contract.md "Observability": only the filter writes x-edge-cors.
        Case {
            name: "an upstream's own x-edge-cors removed (it could claim any decision)",
            policy: STRICT,
            origin: b"https://app.example.com",
            upstream: &[(":status", "200"), ("X-Edge-Cors", "rule=default decision=allowed reason=origin")],
            want: &[(":status", "200"), (ACAO, APP), (ACEH, "etag, x-request-id"), (VARY, "Origin")],
        },
        Case {
            name: "two upstream origins, mixed case, replaced by one",
            policy: STRICT,
            origin: b"https://app.example.com",
            upstream: &[
                (":status", "200"),
                ("Access-Control-Allow-Origin", "https://other.test"),
                ("access-control-allow-origin", "https://app.example.com"),
            ],
            want: &[(":status", "200"), (ACAO, APP), (ACEH, "etag, x-request-id"), (VARY, "Origin")],
        },
        Case {
            name: "upstream credentials and expose replaced, preflight-only headers dropped",
            policy: CREDS,
            origin: b"https://app.example.com",
            upstream: &[
                (":status", "200"),
                ("access-control-allow-credentials", "false"),
                ("access-control-expose-headers", "x-secret"),
                ("ACCESS-CONTROL-EXPOSE-HEADERS", "x-other"),
                ("access-control-allow-methods", "GET"),
                ("access-control-allow-headers", "*"),
                ("access-control-max-age", "9999"),
                ("access-control-allow-private-network", "true"),
                ("etag", "\"v2\""),
            ],
            want: &[(":status", "200"), ("etag", "\"v2\""), (ACAO, APP), (ACAC, "true"), (ACEH, "etag"), (VARY, "Origin")],
        },
        Case {
            name: "upstream credentials removed when not configured",
            policy: STRICT,
            origin: b"https://app.example.com",
            upstream: &[(":status", "200"), ("access-control-allow-credentials", "true")],
            want: &[(":status", "200"), (ACAO, APP), (ACEH, "etag, x-request-id"), (VARY, "Origin")],
        },
        Case {
            name: "public replaces an upstream echo by *",
            policy: PUBLIC,
            origin: b"https://anyone.test",
            upstream: &[
                (":status", "200"),
                ("access-control-allow-origin", "https://anyone.test"),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-secret"),
            ],
            want: &[(":status", "200"), (ACAO, "*")],
        },
    ];
    for c in &cases {
        let p = policy(c.policy);
        let (f, got) = forward(c.name, &p, &actual(b"GET", Some(c.origin)), &pairs(c.upstream));
        assert_eq!(f, Forward::Allowed, "{}", c.name);
        assert_headers(c.name, &got, &pairs(c.want));
        assert_cors_headers_unique(c.name, &got);
    }
}

/// Rule: an existing `Vary` is merged, never overwritten or duplicated: its
/// entries are kept, `Origin` is added once when missing, and several `Vary`
/// headers become one when the filter has to add to them.
#[test]
fn vary_is_merged_not_duplicated() {
    struct Case {
        name: &'static str,
        policy: &'static str,
        origin: Option<&'static [u8]>,
        vary: &'static [(&'static str, &'static str)],
        want: &'static [(&'static str, &'static str)],
    }
    let app = Some(APP.as_bytes());
    let evil: Option<&'static [u8]> = Some(b"https://evil.test");
    let cases = [
        Case { name: "none", policy: STRICT, origin: app, vary: &[], want: &[(VARY, "Origin")] },
        Case {
            name: "one other entry",
            policy: STRICT,
            origin: app,
            vary: &[("vary", "Accept-Encoding")],
            want: &[(VARY, "Accept-Encoding, Origin")],
        },
        Case {
            name: "capitalised header name",
            policy: STRICT,
            origin: app,
            vary: &[("Vary", "Accept")],
            want: &[(VARY, "Accept, Origin")],
        },
        Case { name: "already Origin", policy: STRICT, origin: app, vary: &[("vary", "Origin")], want: &[("vary", "Origin")] },
        Case {
            name: "already origin, other case, in a list",
            policy: STRICT,
            origin: app,
            vary: &[("vary", "accept-encoding, ORIGIN")],
            want: &[("vary", "accept-encoding, ORIGIN")],
        },
        Case { name: "Vary: *", policy: STRICT, origin: app, vary: &[("vary", "*")], want: &[("vary", "*")] },
        Case {
            name: "look-alike entry is not Origin",
            policy: STRICT,
            origin: app,
            vary: &[("vary", "Origin-Agent-Cluster")],
            want: &[(VARY, "Origin-Agent-Cluster, Origin")],
        },
        Case {
            name: "two Vary headers folded into one",
            policy: STRICT,
            origin: app,
            vary: &[("vary", "Accept"), ("vary", "Accept-Encoding")],
            want: &[(VARY, "Accept, Accept-Encoding, Origin")],
        },
        Case {
            name: "two Vary headers, one with Origin: left alone",
            policy: STRICT,
            origin: app,
            vary: &[("vary", "Accept"), ("vary", "Origin")],
            want: &[("vary", "Accept"), ("vary", "Origin")],
        },
        Case {
            name: "whitespace trimmed",
            policy: STRICT,
            origin: app,
            vary: &[("vary", "  Accept \t")],
            want: &[(VARY, "Accept, Origin")],
        },
        Case { name: "empty Vary", policy: STRICT, origin: app, vary: &[("vary", "")], want: &[(VARY, "Origin")] },
        Case { name: "denied origin", policy: STRICT, origin: evil, vary: &[("vary", "Accept")], want: &[(VARY, "Accept, Origin")] },
        Case { name: "no origin", policy: CREDS, origin: None, vary: &[("vary", "Accept")], want: &[(VARY, "Accept, Origin")] },
        Case {
            name: "public: existing Vary kept as it is",
            policy: PUBLIC,
            origin: app,
            vary: &[("vary", "Accept-Encoding")],
            want: &[("vary", "Accept-Encoding")],
        },
        Case { name: "public: none added", policy: PUBLIC, origin: app, vary: &[], want: &[] },
    ];
    for c in &cases {
        let p = policy(c.policy);
        let upstream = concat(&[(":status", "200")], c.vary);
        let (_, got) = forward(c.name, &p, &actual(b"GET", c.origin), &upstream);
        let got_vary: Pairs = got.iter().filter(|(n, _)| n.eq_ignore_ascii_case(b"vary")).cloned().collect();
        assert_headers(c.name, &got_vary, &pairs(c.want));
        let origins = got_vary
            .iter()
            .flat_map(|(_, v)| v.split(|&b| b == b',').map(|e| e.trim_ascii().to_ascii_lowercase()).collect::<Vec<_>>())
            .filter(|e| e == b"origin")
            .count();
        assert!(origins <= 1, "{}: Origin listed {origins} times", c.name);
    }

    // The same rule on `merge_vary` itself.
    let direct: &[(&str, &[&[u8]], Option<&str>)] = &[
        ("none", &[], Some("Origin")),
        ("one entry", &[b"Accept"], Some("Accept, Origin")),
        ("several headers", &[b"Accept", b"Accept-Encoding"], Some("Accept, Accept-Encoding, Origin")),
        // docs/contract.md "Preflight details": merged values never get
        // empty members, so list values are rewritten as one clean list.
        ("list value normalised", &[b"Accept,Accept-Language"], Some("Accept, Accept-Language, Origin")),
        ("trailing comma dropped", &[b"Accept,"], Some("Accept, Origin")),
        ("empty members dropped", &[b", Accept,, ,Accept-Language ,"], Some("Accept, Accept-Language, Origin")),
        ("only commas", &[b",,"], Some("Origin")),
        ("already there", &[b"Origin"], None),
        ("already there, lower case, in a list", &[b"accept, origin"], None),
        ("already there in a second header", &[b"Accept", b"origin"], None),
        ("star", &[b"*"], None),
        ("star in a list", &[b"Accept, *"], None),
        ("look-alike", &[b"XOrigin"], Some("XOrigin, Origin")),
        ("blank values skipped", &[b"", b"  ", b"Accept"], Some("Accept, Origin")),
    ];
    for (name, existing, want) in direct {
        let got = merge_vary(existing, "Origin");
        assert_eq!(got.as_deref(), want.map(str::as_bytes), "merge_vary {name}: got {:?}", got.as_deref().map(show_bytes));
    }
}

// ---------------------------------------------------------------------------
// Hostile input.

fn big_list(n: usize, f: impl Fn(usize) -> String) -> Vec<u8> {
    (0..n).map(f).collect::<Vec<_>>().join(",").into_bytes()
}

/// Header values an answer may carry: no CR, LF, NUL or other control byte.
fn assert_field_values_safe(case: &str, p: &Pairs) {
    for (n, v) in p {
        assert!(
            v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f)),
            "{case}: {} carries control bytes: {:?}",
            show_bytes(n),
            show_bytes(v)
        );
    }
}

enum Want {
    Reject(Rejection),
    /// Allowed, with this Allow-Origin, Allow-Methods (when given), exactly
    /// these Allow-Headers elements (lower-cased; None: header absent).
    Allow {
        acao: &'static str,
        acam: Option<String>,
        acah: Option<Vec<String>>,
    },
}

struct Hostile {
    name: &'static str,
    policy: &'static str,
    origin: Vec<u8>,
    method: Vec<u8>,
    headers: Option<Vec<u8>>,
    pna: Option<Vec<u8>>,
    want: Want,
}

fn hostile_preflights() -> Vec<Hostile> {
    let h = |name, policy, origin: &[u8], method: &[u8], headers: Option<Vec<u8>>, want| Hostile {
        name,
        policy,
        origin: origin.to_vec(),
        method: method.to_vec(),
        headers,
        pna: None,
        want,
    };
    let strict_headers = || Some(vec!["content-type".to_string(), "x-token".to_string()]);
    let strict_allow = |acah| Want::Allow { acao: APP, acam: Some("PUT, DELETE".into()), acah };
    let huge_origin = |n: usize| {
        let mut o = b"https://".to_vec();
        o.extend(b"a.".repeat(n));
        o.extend(b"example.org");
        o
    };
    let many_distinct = big_list(10_000, |i| format!("x-h{i}"));
    let many_distinct_names: Vec<String> = (0..10_000).map(|i| format!("x-h{i}")).collect();
    let mut many_then_bad = big_list(10_000, |_| "x-token".into());
    many_then_bad.extend(b",x-evil");
    let mut star_then_bad = many_distinct.clone();
    star_then_bad.extend(b",x\x01y");
    vec![
        h("non-UTF-8 origin", STRICT, b"https://\xff\xfe.example.org", b"PUT", None, Want::Reject(Rejection::Origin)),
        h(
            "non-UTF-8 origin under public is still *",
            PUBLIC,
            b"https://\xff\xfe.example.org",
            b"GET",
            None,
            Want::Allow { acao: "*", acam: Some("GET, HEAD, POST".into()), acah: None },
        ),
        h(
            "origin with CRLF injection",
            STRICT,
            b"https://app.example.com\r\nset-cookie: a=b",
            b"PUT",
            None,
            Want::Reject(Rejection::Origin),
        ),
        h("origin with NUL", STRICT, b"https://app.example.com\0", b"PUT", None, Want::Reject(Rejection::Origin)),
        h(
            "repeated Origin joined by the proxy",
            STRICT,
            b"https://app.example.com, https://app.example.com",
            b"PUT",
            None,
            Want::Reject(Rejection::Origin),
        ),
        h("repeated request method joined by the proxy", STRICT, APP.as_bytes(), b"PUT, PUT", None, Want::Reject(Rejection::Method)),
        h("origin with trailing space", STRICT, b"https://app.example.com ", b"PUT", None, Want::Reject(Rejection::Origin)),
        h("non-ASCII host (not punycode)", STRICT, "https://bücher.example.org".as_bytes(), b"PUT", None, Want::Reject(Rejection::Origin)),
        h("1 MB origin under a pattern", STRICT, &huge_origin(500_000), b"PUT", None, Want::Reject(Rejection::Origin)),
        h("1 MB origin under public", PUBLIC, &huge_origin(500_000), b"GET", None, Want::Allow { acao: "*", acam: None, acah: None }),
        h(
            "64 KiB label under a pattern",
            STRICT,
            format!("https://{}.example.org", "a".repeat(65_536)).as_bytes(),
            b"PUT",
            None,
            Want::Reject(Rejection::Origin),
        ),
        h("origin with a huge port", STRICT, b"https://a.example.org:99999999999999999999", b"PUT", None, Want::Reject(Rejection::Origin)),
        h("origin with empty labels", STRICT, b"https://a..example.org", b"PUT", None, Want::Reject(Rejection::Origin)),
        h("non-UTF-8 method", STRICT, APP.as_bytes(), b"PU\xffT", None, Want::Reject(Rejection::Method)),
        h("non-ASCII method", STRICT, APP.as_bytes(), "PÜT".as_bytes(), None, Want::Reject(Rejection::Method)),
        h("method with CRLF injection", STRICT, APP.as_bytes(), b"PUT\r\nx-evil: 1", None, Want::Reject(Rejection::Method)),
        h("method with NUL", CREDS, APP.as_bytes(), b"PUT\0", None, Want::Reject(Rejection::Method)),
        h("100 KiB method, not listed", STRICT, APP.as_bytes(), &b"P".repeat(100_000), None, Want::Reject(Rejection::Method)),
        h(
            "100 KiB method under * with credentials is named back",
            CREDS,
            APP.as_bytes(),
            &b"P".repeat(100_000),
            None,
            Want::Allow { acao: APP, acam: Some("P".repeat(100_000)), acah: None },
        ),
        h("non-UTF-8 header name", STRICT, APP.as_bytes(), b"PUT", Some(b"x-token, x-\xff".to_vec()), Want::Reject(Rejection::Header)),
        h(
            "non-ASCII header name under *",
            STAR_HEADERS,
            APP.as_bytes(),
            b"GET",
            Some("x-tökén".as_bytes().to_vec()),
            Want::Reject(Rejection::Header),
        ),
        h(
            "header list with CRLF injection",
            STAR_HEADERS,
            APP.as_bytes(),
            b"GET",
            Some(b"x-token\r\nset-cookie: a=b".to_vec()),
            Want::Reject(Rejection::Header),
        ),
        h("header list with NUL", CREDS, APP.as_bytes(), b"GET", Some(b"x-a\0".to_vec()), Want::Reject(Rejection::Header)),
        h(
            "10,000 allowed names",
            STRICT,
            APP.as_bytes(),
            b"PUT",
            Some(big_list(10_000, |_| "x-token".into())),
            strict_allow(strict_headers()),
        ),
        h(
            "10,000 allowed names then one not allowed",
            STRICT,
            APP.as_bytes(),
            b"PUT",
            Some(many_then_bad),
            Want::Reject(Rejection::Header),
        ),
        h(
            "10,000 distinct names under *",
            STAR_HEADERS,
            APP.as_bytes(),
            b"GET",
            Some(many_distinct),
            Want::Allow { acao: APP, acam: None, acah: Some(many_distinct_names) },
        ),
        h(
            "10,000 names under * then a control byte",
            STAR_HEADERS,
            APP.as_bytes(),
            b"GET",
            Some(star_then_bad),
            Want::Reject(Rejection::Header),
        ),
        h("100,000 empty elements", STRICT, APP.as_bytes(), b"PUT", Some(b" ,\t,".repeat(100_000)), strict_allow(None)),
        h(
            "1 MB single header name",
            STAR_HEADERS,
            APP.as_bytes(),
            b"GET",
            Some(b"x".repeat(1 << 20)),
            Want::Allow { acao: APP, acam: None, acah: Some(vec!["x".repeat(1 << 20)]) },
        ),
        Hostile {
            name: "non-UTF-8 private network value",
            pna: Some(b"\xfftrue".to_vec()),
            ..h("", PNA, APP.as_bytes(), b"GET", None, Want::Allow { acao: APP, acam: None, acah: None })
        },
        Hostile {
            name: "huge private network value",
            pna: Some(b"true".repeat(100_000)),
            ..h("", PNA, APP.as_bytes(), b"GET", None, Want::Allow { acao: APP, acam: None, acah: None })
        },
        Hostile {
            name: "everything hostile: the origin is refused first",
            pna: Some(b"\x00".to_vec()),
            ..h("", STRICT, b"\xff", b"\xff", Some(b"\xff".to_vec()), Want::Reject(Rejection::Origin))
        },
    ]
}

/// Rule: hostile preflights (huge, repeated, non-ASCII, non-UTF-8 or
/// malformed values) get a correct answer or a rejection, never a panic, and
/// never echo bytes that are not a valid header value.
#[test]
fn hostile_preflights_get_a_correct_answer_or_a_rejection() {
    for c in hostile_preflights() {
        let p = policy(c.policy);
        let r = catch_unwind(AssertUnwindSafe(|| preflight(c.name, &p, &c.origin, &c.method, c.headers.as_deref(), c.pna.as_deref())))
            .unwrap_or_else(|_| panic!("{}: the engine panicked", c.name));
        assert_field_values_safe(c.name, &r.headers);
        match &c.want {
            Want::Reject(why) => assert_rejected(c.name, &r, *why),
            Want::Allow { acao, acam, acah } => {
                assert_eq!(r.status, 204, "{}: {:?} {:?}", c.name, r.status, r.rejected);
                assert_cors_headers_unique(c.name, &r.headers);
                assert_eq!(header(&r, ACAO).as_deref(), Some(*acao), "{}", c.name);
                assert_eq!(header(&r, ACAPN), None, "{}: private network not requested as `true`", c.name);
                assert_eq!(values_of(&r.headers, VARY), vec![r.vary.as_bytes()], "{}", c.name);
                if let Some(m) = acam {
                    assert!(header(&r, ACAM).as_deref() == Some(m.as_str()), "{}: {ACAM}", c.name);
                }
                let got = header(&r, ACAH)
                    .map(|v| v.split(',').map(|e| e.trim().to_ascii_lowercase()).filter(|e| !e.is_empty()).collect::<Vec<_>>());
                assert!(
                    got == *acah,
                    "{}: {ACAH} has {:?} elements, want {:?}",
                    c.name,
                    got.as_ref().map(Vec::len),
                    acah.as_ref().map(Vec::len)
                );
            }
        }
    }
}

struct HostileResponse {
    name: &'static str,
    policy: &'static str,
    method: Vec<u8>,
    origin: Option<Vec<u8>>,
    upstream: Pairs,
    forward: Forward,
    want: Pairs,
}

fn hostile_responses() -> Vec<HostileResponse> {
    let status = || pairs(&[(":status", "200")]);
    let with = |extra: &[(&[u8], &[u8])]| {
        let mut p = status();
        p.extend(extra.iter().map(|(n, v)| (n.to_vec(), v.to_vec())));
        p
    };
    let strict_stamp = |vary: &[u8]| with(&[(ACAO.as_bytes(), APP.as_bytes()), (ACEH.as_bytes(), b"etag, x-request-id"), (b"vary", vary)]);
    let huge_origin = {
        let mut o = b"https://".to_vec();
        o.extend(b"a.".repeat(500_000));
        o.extend(b"example.org");
        o
    };
    let mut many_cors = status();
    for i in 0..1_000 {
        many_cors.push((format!("access-control-x-{i}").into_bytes(), b"*".to_vec()));
        many_cors.push((b"access-control-allow-origin".to_vec(), format!("https://o{i}.test").into_bytes()));
    }
    let mut many_vary = status();
    for i in 0..1_000 {
        many_vary.push((b"vary".to_vec(), format!("x-v{i}").into_bytes()));
    }
    let mut many_vary_want = (0..1_000).map(|i| format!("x-v{i}")).collect::<Vec<_>>().join(", ");
    many_vary_want.push_str(", Origin");
    let huge_vary = b"x".repeat(100_000);
    let mut huge_vary_want = huge_vary.clone();
    huge_vary_want.extend(b", Origin");
    let app = || Some(APP.as_bytes().to_vec());
    let r = |name, policy, method: &[u8], origin: Option<Vec<u8>>, upstream, forward, want| HostileResponse {
        name,
        policy,
        method: method.to_vec(),
        origin,
        upstream,
        forward,
        want,
    };
    vec![
        r(
            "non-UTF-8 origin",
            STRICT,
            b"GET",
            Some(b"https://\xff.example.org".to_vec()),
            with(&[(b"access-control-allow-origin", b"*")]),
            Forward::Denied,
            with(&[(b"vary", b"Origin")]),
        ),
        r(
            "origin with CRLF injection",
            STRICT,
            b"GET",
            Some(b"https://app.example.com\r\nset-cookie: a=b".to_vec()),
            status(),
            Forward::Denied,
            with(&[(b"vary", b"Origin")]),
        ),
        r(
            "repeated Origin joined by the proxy",
            STRICT,
            b"GET",
            Some(b"https://app.example.com,https://evil.test".to_vec()),
            with(&[(b"access-control-allow-origin", b"https://app.example.com")]),
            Forward::Denied,
            with(&[(b"vary", b"Origin")]),
        ),
        r("1 MB origin", STRICT, b"GET", Some(huge_origin.clone()), status(), Forward::Denied, with(&[(b"vary", b"Origin")])),
        r(
            "1 MB origin under public: *, never the echo",
            PUBLIC,
            b"GET",
            Some(huge_origin),
            status(),
            Forward::Allowed,
            with(&[(ACAO.as_bytes(), b"*")]),
        ),
        r(
            "non-UTF-8 origin under public",
            PUBLIC,
            b"GET",
            Some(b"\xff\xfe".to_vec()),
            status(),
            Forward::Allowed,
            with(&[(ACAO.as_bytes(), b"*")]),
        ),
        r("non-UTF-8 method, allowed origin", STRICT, b"G\xffT", app(), status(), Forward::Allowed, strict_stamp(b"Origin")),
        r("2,000 upstream Access-Control-* headers", STRICT, b"GET", app(), many_cors, Forward::Allowed, strict_stamp(b"Origin")),
        r("1,000 upstream Vary headers", STRICT, b"GET", app(), many_vary, Forward::Allowed, strict_stamp(many_vary_want.as_bytes())),
        r("100 KiB upstream Vary", STRICT, b"GET", app(), with(&[(b"vary", &huge_vary)]), Forward::Allowed, strict_stamp(&huge_vary_want)),
        r(
            "non-UTF-8 upstream Vary kept as it was",
            STRICT,
            b"GET",
            app(),
            with(&[(b"vary", b"Accept-\xff")]),
            Forward::Allowed,
            strict_stamp(b"Accept-\xff, Origin"),
        ),
        r(
            "non-UTF-8 upstream Access-Control-* name removed",
            STRICT,
            b"GET",
            app(),
            with(&[(b"access-control-\xff", b"x"), (b"Access-Control-Allow-Origin\xff", b"*")]),
            Forward::Allowed,
            strict_stamp(b"Origin"),
        ),
        r("empty upstream name and value kept", STRICT, b"GET", app(), with(&[(b"", b"")]), Forward::Allowed, {
            let mut w = strict_stamp(b"Origin");
            w.push((vec![], vec![]));
            w
        }),
    ]
}

/// Rule: hostile actual requests and hostile upstream responses get a correct
/// answer (or no CORS headers), never a panic.
#[test]
fn hostile_responses_get_a_correct_answer_or_no_cors_headers() {
    for c in hostile_responses() {
        let p = policy(c.policy);
        let (f, got) = catch_unwind(AssertUnwindSafe(|| forward(c.name, &p, &actual(&c.method, c.origin.as_deref()), &c.upstream)))
            .unwrap_or_else(|_| panic!("{}: the engine panicked", c.name));
        assert_eq!(f, c.forward, "{}", c.name);
        assert_headers(c.name, &got, &c.want);
        assert_cors_headers_unique(c.name, &got);
    }
}

/// Rule: after hostile input the filter keeps serving: one policy instance
/// takes every hostile request, then still answers ordinary ones correctly.
#[test]
fn engine_keeps_serving_after_hostile_input() {
    for json in [STRICT, CREDS, PUBLIC, STAR_HEADERS] {
        let p = policy(json);
        for c in hostile_preflights() {
            let req = preflight_req(&c.origin, &c.method, c.headers.as_deref(), c.pna.as_deref());
            catch_unwind(AssertUnwindSafe(|| {
                let _ = p.decide(&req);
            }))
            .unwrap_or_else(|_| panic!("{} under {json}: the engine panicked", c.name));
        }
        for c in hostile_responses() {
            catch_unwind(AssertUnwindSafe(|| {
                let req = actual(&c.method, c.origin.as_deref());
                if let Decision::Forward(f) = p.decide(&req) {
                    respond(&p, f, req.origin, &c.upstream);
                }
            }))
            .unwrap_or_else(|_| panic!("{} under {json}: the engine panicked", c.name));
        }
        let public = PUBLIC_POLICIES.contains(&json);
        let r = preflight(json, &p, APP.as_bytes(), b"GET", None, None);
        assert_eq!(r.status, 204, "{json}: ordinary preflight after hostile input: {r:?}");
        assert_eq!(header(&r, ACAO).as_deref(), Some(if public { "*" } else { APP }), "{json}");
        let r = preflight(json, &p, b"https://evil.test", b"GET", None, None);
        if public {
            assert_eq!(r.status, 204, "{json}");
        } else {
            assert_rejected(json, &r, Rejection::Origin);
        }
        let (_, got) = forward(json, &p, &actual(b"GET", Some(APP.as_bytes())), &pairs(&[(":status", "200")]));
        assert_eq!(values_of(&got, ACAO), vec![if public { &b"*"[..] } else { APP.as_bytes() }], "{json}");
    }
}
