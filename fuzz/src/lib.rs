//! The bodies of the fuzz targets (`fuzz_targets/*.rs` call them). A panic
//! here is a finding: the engine panicked, or broke one of the invariants
//! asserted below.
//!
//! `crates/wasm/tests/fuzz_corpus.rs` includes this file too and replays the committed
//! seeds and every regression input through the same functions, so a crash
//! found once stays fixed under `cargo test`.

use std::sync::OnceLock;

use edge_cors_engine::origins::{OriginEntry, OriginSet, Scheme};
use edge_cors_engine::rules::Ruleset;
use edge_cors_engine::{report, Decision, Forward, HeaderList, Policy, Request, Stamp};
use edge_cors_wasm::wire;

/// Configuration parsing: any bytes. A configuration that loads must answer
/// requests; one that does not must say why, on one line (it becomes the
/// proxy's log line).
pub fn config(data: &[u8]) {
    match Ruleset::from_json(data) {
        Ok(config) => {
            let req = Request {
                method: b"OPTIONS",
                origin: Some(b"https://app.example.com"),
                request_method: Some(b"PUT"),
                request_headers: Some(b"x-a, authorization"),
                request_private_network: Some(b"true"),
                ..Request::default()
            };
            let get = Request { method: b"GET", origin: Some(b"https://app.example.com"), ..Request::default() };
            for route in config.routes() {
                if let Some(policy) = config.policy(route) {
                    check_decision(policy, &req, &[]);
                    check_decision(policy, &get, &[(b"vary", b"accept")]);
                }
                let _ = config.rule_name(route);
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "refused without a reason");
            let line = errors.to_string();
            assert!(!line.contains(['\n', '\r']), "the error message must be one line: {line:?}");
        }
    }
}

/// Origin parsing and matching: any bytes as a configured entry and as a
/// request's `Origin`.
pub fn origin(data: &[u8]) {
    static SETS: OnceLock<Vec<OriginSet>> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        let lists: [&[&str]; 3] = [
            &[
                "https://app.example.com",
                "https://*.example.com",
                "http://*.dev.test:8080",
                "http://[::1]:8080",
                "null",
                "http://127.0.0.1:3000",
            ],
            &["https://*"],
            &["http://*", "https://*.a.b.c.example.org"],
        ];
        lists
            .iter()
            .map(|l| {
                let entries: Vec<OriginEntry> = l.iter().filter_map(|e| OriginEntry::parse(e).ok()).collect();
                assert_eq!(entries.len(), l.len());
                OriginSet::new(&entries)
            })
            .collect()
    });
    for set in sets {
        if set.allows(data) {
            assert!(is_origin_shaped(data), "allowed something that is not an origin: {:?}", String::from_utf8_lossy(data));
        }
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(entry) = OriginEntry::parse(text) else {
        return;
    };
    let _ = (entry.is_loopback(), entry.scheme(), entry.is_wildcard());
    let alone = OriginSet::new(std::slice::from_ref(&entry));
    match &entry {
        OriginEntry::Exact(canonical) => {
            assert_eq!(OriginEntry::parse(canonical).as_ref(), Ok(&entry), "not canonical: {canonical:?}");
            assert!(alone.allows(canonical.as_bytes()), "{canonical:?} does not match itself");
            assert!(is_origin_shaped(canonical.as_bytes()), "{canonical:?}");
        }
        OriginEntry::Subdomains { scheme, base, port } => {
            // A port a request can carry that the pattern admits (`:*` admits no port too).
            let port = if *port == edge_cors_engine::origins::Port::Any { String::new() } else { port.to_string() };
            let s = scheme.as_str();
            assert!(!alone.allows(format!("{s}://{base}{port}").as_bytes()), "a pattern matched its own base");
            let other = if *scheme == Scheme::Https { "http" } else { "https" };
            assert!(!alone.allows(format!("{other}://a.{base}{port}").as_bytes()), "a pattern matched another scheme");
            if base.len() <= 251 {
                assert!(alone.allows(format!("{s}://a.{base}{port}").as_bytes()), "a pattern did not match a subdomain");
            }
        }
        _ => {}
    }
}

/// `scheme://host[:port]` or `null`, with no byte a browser would not send.
fn is_origin_shaped(o: &[u8]) -> bool {
    if o == b"null" {
        return true;
    }
    // http(s) origins, or the exact origins of app shells and extensions.
    let app = edge_cors_engine::origins::APP_SCHEMES.iter().find_map(|s| o.strip_prefix(s.as_bytes()).and_then(|r| r.strip_prefix(b"://")));
    let rest = o.strip_prefix(b"https://").or_else(|| o.strip_prefix(b"http://")).or(app);
    rest.is_some_and(|r| !r.is_empty() && r.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:[]".contains(&b)))
}

const POLICIES: &[&str] = &[
    r#"{"allow_origins": ["https://app.example.com", "https://*.example.com"], "allow_methods": ["GET", "POST"],
        "allow_headers": ["content-type", "authorization"], "expose_headers": ["etag", "x-request-id"], "max_age": 3600}"#,
    r#"{"allow_origins": ["https://app.example.com", "http://localhost:3000", "http://[::1]:8080"], "allow_methods": ["*"],
        "allow_headers": ["*"], "expose_headers": ["etag"], "allow_credentials": true, "allow_private_network": true}"#,
    r#"{"allow_origins": ["*"], "allow_headers": ["*"], "allow_methods": ["*"], "expose_headers": ["*"], "max_age": 0}"#,
    r#"{"allow_origins": ["https://*", "null"], "allow_methods": ["PUT", "patch"], "allow_headers": ["x-token"]}"#,
    r#"{"allow_origins": ["https://app.example.com"],
        "rules": [
          {"name": "legacy", "match": {"path_prefix": "/legacy/"}, "cors": "off"},
          {"name": "tenants", "match": {"hosts": ["*.tenant.test"]}, "allow_origins": ["https://*.tenant.test"], "allow_methods": ["GET", "PUT"]},
          {"name": "payments", "match": {"hosts": ["pay.example.com"], "path_prefix": "/v1/"},
           "allow_origins": ["https://checkout.example.com"], "allow_credentials": true}
        ]}"#,
    r#"{"allow_origins": ["https://app.example.com"], "mode": "report", "expose_headers": ["etag"]}"#,
];

/// The request decision and the response rewrite. Input: one byte picks a
/// policy; then request headers as `name:value` lines, a blank line, and the
/// upstream's response headers the same way.
pub fn decision(data: &[u8]) {
    static CONFIGS: OnceLock<Vec<Ruleset>> = OnceLock::new();
    let configs = CONFIGS.get_or_init(|| {
        POLICIES.iter().map(|p| Ruleset::from_json(p.as_bytes()).unwrap_or_else(|e| panic!("fuzz policy refused: {e}"))).collect()
    });
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(config) = configs.get(usize::from(pick) % configs.len()) else {
        return;
    };
    let (request, response) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &[][..]),
    };
    let request = lines(request);
    let response = lines(response);

    // The proxy hands headers over in the proxy-wasm wire format.
    let _ = wire::pairs(rest).count();
    let text: Option<Vec<(&str, &str)>> =
        request.iter().map(|(n, v)| Some((std::str::from_utf8(n).ok()?, std::str::from_utf8(v).ok()?))).collect();
    if let Some(text) = text {
        let buf = wire::serialize_pairs(&text);
        assert!(wire::pairs(&buf).eq(request.iter().copied()), "wire format round trip");
    }

    // Routed as the filter routes: the host calls answer nothing here.
    let route = config.route_request(&Request::from_headers(request.iter().copied()), || None, || Some(b"fuzz-route".to_vec()));
    assert!(match route {
        edge_cors_engine::rules::Route::Default => true,
        edge_cors_engine::rules::Route::Rule(i) => i < config.rules.len(),
    });
    let Some(policy) = config.policy(route) else {
        return;
    };
    let req = Request::from_headers(request.iter().copied());
    check_decision(policy, &req, &response);
    let _ = report::compare(policy, &req, response.iter().copied());
}

/// `name:value` lines; a name may start with `:` (pseudo-headers).
fn lines(part: &[u8]) -> Vec<(&[u8], &[u8])> {
    part.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| match l.iter().skip(1).position(|&b| b == b':') {
            Some(p) => (&l[..p + 1], &l[p + 2..]),
            None => (l, &[][..]),
        })
        .collect()
}

fn check_decision(policy: &Policy, req: &Request<'_>, response: &[(&[u8], &[u8])]) {
    match policy.decide(req) {
        Decision::Preflight(reply) => {
            assert!(req.is_preflight(), "answered a request that is not a preflight");
            let headers: Vec<(&[u8], &[u8])> = reply.headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
            check_headers(policy, req, &headers, true);
            let cors = headers.iter().filter(|(n, _)| n.starts_with(b"access-control-")).count();
            match reply.status {
                204 => assert!(reply.rejected.is_none() && cors > 0, "204 without CORS headers"),
                403 => assert!(reply.rejected.is_some() && cors == 0, "403 with CORS headers"),
                s => panic!("preflight answered {s}"),
            }
        }
        Decision::Forward(forward) => {
            let mut sink = HeaderList::from_pairs(response.iter().copied());
            policy.rewrite_response(Stamp { forward, origin: req.origin }, response.iter().copied(), &mut sink);
            let headers: Vec<(&[u8], &[u8])> = sink.pairs().collect();
            check_headers(policy, req, &headers, false);
            if forward != Forward::Allowed {
                assert!(!headers.iter().any(|(n, _)| is_cors(n)), "CORS headers for a refused origin");
            }
        }
    }
}

fn is_cors(name: &[u8]) -> bool {
    name.len() >= 15 && name[..15].eq_ignore_ascii_case(b"access-control-")
}

fn check_headers(policy: &Policy, req: &Request<'_>, headers: &[(&[u8], &[u8])], preflight: bool) {
    let get = |name: &[u8]| -> Vec<&[u8]> { headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v).collect() };
    for (name, value) in headers.iter().filter(|(n, _)| is_cors(n)) {
        assert_eq!(get(name).len(), 1, "{} sent more than once", String::from_utf8_lossy(name));
        assert!(!value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)), "a CORS header value with CR, LF or NUL");
    }
    let acao = get(b"access-control-allow-origin");
    if let Some(&origin) = acao.first() {
        if origin == b"*" {
            assert!(policy.is_public(), "* from a policy that is not public");
            assert!(get(b"access-control-allow-credentials").is_empty(), "* with credentials");
        } else {
            assert_eq!(Some(origin), req.origin, "Access-Control-Allow-Origin is not the request's origin");
            assert!(policy.allows_origin(origin), "echoed an origin the policy does not allow");
        }
    }
    if preflight || policy.varies_by_origin() {
        let vary = get(b"vary");
        let covered = vary
            .iter()
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|e| e.trim_ascii())
            .any(|e| e == b"*" || e.eq_ignore_ascii_case(b"origin"));
        assert!(covered, "no Vary: Origin on an answer that depends on the origin");
    }
}

/// An answer of the origin service (`allow_origins_from`): any status and
/// any body, as fetched. Byte 0 picks the policy's flags and the status;
/// the rest is the body. What is applied must be exactly what `allow_origins`
/// would accept under the same flags; a refusal is one log line of bounded
/// length, whatever the answer holds; an answer with a bad entry can only
/// shrink the applied set, to entries the answer lists; and the shared-data
/// encoding of an answer gives back its ETag and body.
pub fn answer(data: &[u8]) {
    use edge_cors_engine::config::SourceSpec;
    use edge_cors_engine::live::{self, Answer, LiveOrigins, Verdict};

    let Some((&head, body)) = data.split_first() else {
        return;
    };
    let (credentials, insecure) = (head & 1 != 0, head & 2 != 0);
    let statuses: [Option<&[u8]>; 8] =
        [Some(b"200"), Some(b"200"), Some(b"200"), Some(b"304"), Some(b"503"), Some(b"504"), None, Some(body.get(..3).unwrap_or(body))];
    let status = statuses[usize::from(head >> 2) % statuses.len()];
    let spec = SourceSpec {
        cluster: "tenant_origins".into(),
        path: "/cors/origins".into(),
        authority: "tenants.internal".into(),
        refresh_seconds: 30,
        timeout_ms: 2000,
    };
    let waited_ms = u64::from(head >> 5) * 400;
    // The set applied before this answer: one the fuzzer's bodies often
    // repeat (the seeds use these names).
    let current = LiveOrigins::default();
    let before: Vec<OriginEntry> = ["https://a.example", "https://b.example", "https://*.c.example", "http://localhost:*"]
        .iter()
        .filter_map(|o| OriginEntry::parse(o).ok())
        .collect();
    current.replace(&before);
    let answer = Answer { status, body_size: body.len(), waited_ms, conditional: head & 0x80 != 0 };
    let verdict = live::judge(&answer, &spec, credentials, insecure, None, &current, || body.to_vec());
    match verdict {
        Verdict::Applied(entries, applied) => {
            assert_eq!(status, Some(&b"200"[..]), "applied an answer that was not a 200");
            assert_eq!(applied, body, "shared another body than the one judged");
            if !entries.is_empty() {
                // The same entries as a static list, under the same flags, must load.
                let list: Vec<String> = entries.iter().map(ToString::to_string).collect();
                let policy = serde_json::json!({
                    "allow_origins": list, "allow_credentials": credentials, "allow_insecure_origins": insecure,
                });
                if let Err(e) = Ruleset::from_json(policy.to_string().as_bytes()) {
                    panic!("applied entries that allow_origins refuses: {e}");
                }
            }
        }
        Verdict::Unchanged => {
            assert_eq!(status, Some(&b"304"[..]));
            assert!(answer.conditional, "a 304 to a request without If-None-Match counted as current");
        }
        Verdict::Shrunk { kept, removed, why } => {
            assert_eq!(status, Some(&b"200"[..]), "removals applied from an answer that was not a 200");
            assert!(removed > 0 && kept.len() + removed == before.len(), "{removed} removed, {} kept of {}", kept.len(), before.len());
            assert!(kept.iter().all(|e| before.contains(e)), "a refused answer added an origin: {kept:?}");
            let listed = serde_json::from_slice::<serde_json::Value>(body).ok();
            let strings: Vec<String> = listed
                .as_ref()
                .and_then(|v| v.get("origins"))
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|s| s.as_str()).filter_map(|s| OriginEntry::parse(s).ok()).map(|e| e.to_string()).collect())
                .unwrap_or_default();
            assert!(kept.iter().all(|e| strings.contains(&e.to_string())), "kept an origin the answer no longer lists: {kept:?}");
            assert!(!why.contains(['\n', '\r']));
            // What the workers are given reads back as exactly the kept set.
            let shared = live::shrunk_body(&kept);
            let reread = edge_cors_engine::config::fetched_origins(&shared, credentials, insecure).expect("the shrunk set reads back");
            assert_eq!(reread, kept, "the shared shrunk set differs from the applied one");
        }
        Verdict::Refused(why) | Verdict::Failed(why) => {
            assert!(!why.contains(['\n', '\r']), "a refusal of more than one line: {why:?}");
            let chars = why.chars().count();
            assert!(chars <= 1024, "a refusal line of {chars} characters: the answer's content is not cut: {why:.400}");
        }
    }

    let etag = body.get(..body.len().min(40));
    let stored = live::stored(etag, body);
    assert_eq!(live::split_stored(&stored), (live::usable_etag(etag), body), "the shared answer does not read back");
    let _ = live::millis(body);
}
