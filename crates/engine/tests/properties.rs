//! Invariants of the engine as property tests: generated policies, generated
//! requests (arbitrary bytes in Origin, method and Access-Control-Request-*,
//! repeated headers, odd case and whitespace), generated upstream responses.
//!
//! The judges are written in `crates/engine/tests/properties/`, independently of the engine:
//! - `origins.rs`: a reference origin matcher (`Model::allows`), from the
//!   contract's description of each `allow_origins` form (exact, `:*` port
//!   wildcards, `*.` subdomains, scheme wildcards, `null`, app schemes such as
//!   `capacitor://localhost`, IPv6 in its WHATWG serialisation);
//! - `browser.rs`: a browser model (`Browser`), following the Fetch
//!   standard's CORS check and CORS-preflight fetch (status, allow-origin,
//!   allow-credentials, methods, header names, the `*` and `Authorization`
//!   rules);
//! - `model.rs`: the configuration rules of CONTRACT.md section 1
//!   (`Model::valid`, `Model::refusals`), keys given twice at any depth
//!   included.
//!
//! `generators.rs` makes the inputs, `checks.rs` holds the longer checks of
//! the preflight and forwarded-response properties, `http.rs` the header
//! grammar they share. The properties themselves are below.
//!
//! `PROPTEST_CASES=100000 cargo test --test properties` runs a long campaign
//! (`make fuzz-properties`); the default is a few seconds' worth.

// Generated tuples are easier to read inline than named.
#![allow(clippy::type_complexity)]

// The crate root is this file, so `mod` alone would look in tests/ itself.
#[path = "properties/browser.rs"]
mod browser;
#[path = "properties/checks.rs"]
mod checks;
#[path = "properties/generators.rs"]
mod generators;
#[path = "properties/http.rs"]
mod http;
#[path = "properties/model.rs"]
mod model;
#[path = "properties/origins.rs"]
mod origins;

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::Config as RunnerConfig;

use edge_cors_engine::origins::{self as engine_origins, OriginEntry, OriginSet};
use edge_cors_engine::rules::Ruleset;
use edge_cors_engine::{report, Decision, Forward, HeaderList, Policy, Request, Stamp};

use checks::{check_forward, check_preflight, show, universal};
use generators::{
    entry, json_value, method, method_for, model, origin_for, private_network, requested_headers, spelling, upstream_headers, valid_model,
};
use http::{reply_headers, values};
use origins::{long_ipv6, parse_origin, scheme, whatwg};

fn runner(default_cases: u32) -> RunnerConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default_cases);
    RunnerConfig { cases, failure_persistence: None, ..RunnerConfig::default() }
}

proptest! {
    #![proptest_config(runner(512))]

    /// Valid policies load; invalid ones (CONTRACT.md section 1) are refused,
    /// each refusal naming its field (a key given twice: the path of the
    /// second occurrence).
    #[test]
    fn policies_load_exactly_when_valid(model in model()) {
        let json = model.json();
        let loaded = Policy::from_json(json.as_bytes());
        prop_assert_eq!(loaded.is_ok(), model.valid(), "{}: {:?}", json, loaded.as_ref().err().map(|e| e.to_string()));
        if let Err(errs) = &loaded {
            for (field, problem) in model.refusals() {
                prop_assert!(errs.0.iter().any(|e| e.field == field && e.problem.contains(&problem)),
                    "{}: no error at {} saying {:?} in {}", json, field, problem, errs);
            }
        }
    }

    /// The origin matcher agrees with the reference, and so does the
    /// engine's own test of what a browser may send.
    #[test]
    fn origins_match_the_reference((model, origins) in valid_model().prop_flat_map(|m| { let o = prop::collection::vec(origin_for(&m), 16); (Just(m), o) })) {
        let policy = model.policy();
        for origin in &origins {
            let engine = policy.allows_origin(origin);
            prop_assert!(!engine || model.allows(origin), "allowed {} which {} does not allow", show(origin), model.json());
            prop_assert!(engine || !model.allows(origin), "refused {} which {} allows", show(origin), model.json());
            if let Ok(text) = std::str::from_utf8(origin) {
                let browser = origin == b"null" || parse_origin(origin).is_some();
                prop_assert_eq!(engine_origins::is_request_origin(text), browser, "is_request_origin({})", show(origin));
            }
        }
    }

    /// Preflights: the decision matches the reference, the answer is well
    /// formed, and a browser accepts it exactly when it was allowed.
    #[test]
    fn preflights_are_judged_like_a_browser((model, origin, method) in valid_model().prop_flat_map(|m| { let o = origin_for(&m); let k = method_for(&m); (Just(m), o, k) }),
                                           requested in prop::option::of(requested_headers()),
                                           pna in private_network()) {
        let policy = model.policy();
        if let Err(e) = check_preflight(&model, &policy, &origin, &method, requested.as_deref(), pna.as_deref()) {
            prop_assert!(false, "{e}\npolicy {}\norigin {} method {} requested {:?}", model.json(), show(&origin), show(&method), requested.as_deref().map(show));
        }
    }

    /// Forwarded requests: the response carries exactly the CORS headers the
    /// policy grants, the upstream's are gone, and Vary keys on Origin.
    #[test]
    fn forwarded_responses_carry_the_right_headers((model, origin) in valid_model().prop_flat_map(|m| { let o = prop::option::of(origin_for(&m)); (Just(m), o) }),
                                                  req_method in prop::sample::select(vec!["GET", "POST", "OPTIONS", "PUT", "options"]),
                                                  request_method in prop::option::of(method()),
                                                  upstream in upstream_headers()) {
        let policy = model.policy();
        // An OPTIONS with Origin and Access-Control-Request-Method is a preflight: not this test's business.
        let request_method = if req_method == "OPTIONS" { None } else { request_method };
        let req = Request { method: req_method.as_bytes(), origin: origin.as_deref(), request_method: request_method.as_deref(), ..Request::default() };
        if let Err(e) = check_forward(&model, &policy, &req, &upstream) {
            prop_assert!(false, "{e}\npolicy {}\norigin {:?} upstream {upstream:?}", model.json(), origin.as_deref().map(show));
        }
    }

    /// Headers as a proxy hands them over (repeated, odd case): each field is
    /// the first value of its header.
    #[test]
    fn request_fields_are_the_first_values(headers in prop::collection::vec((
        prop::sample::select(vec!["Origin", "origin", "ORIGIN", ":method", ":METHOD", "Access-Control-Request-Method",
            "access-control-request-headers", "ACCESS-CONTROL-REQUEST-PRIVATE-NETWORK", "access-control-request-other", "x-origin", "host"]),
        prop::collection::vec(any::<u8>(), 0..12)), 0..12)) {
        let req = Request::from_headers(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())));
        let first = |pred: &dyn Fn(&str) -> bool| headers.iter().find(|(n, _)| pred(n)).map(|(_, v)| v.as_slice());
        prop_assert_eq!(req.origin, first(&|n| n.eq_ignore_ascii_case("origin")));
        prop_assert_eq!(req.request_method, first(&|n| n.eq_ignore_ascii_case("access-control-request-method")));
        prop_assert_eq!(req.request_headers, first(&|n| n.eq_ignore_ascii_case("access-control-request-headers")));
        prop_assert_eq!(req.request_private_network, first(&|n| n.eq_ignore_ascii_case("access-control-request-private-network")));
        prop_assert_eq!(req.method, first(&|n| n == ":method").unwrap_or_default());
    }

    /// Whatever the bytes, decisions and rewrites never panic and keep the
    /// universal rules (no duplicate CORS header, no `*` with credentials).
    #[test]
    fn arbitrary_bytes_never_break_a_decision(model in valid_model(),
                                              origin in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
                                              method in prop::collection::vec(any::<u8>(), 0..10),
                                              request_method in prop::option::of(prop::collection::vec(any::<u8>(), 0..10)),
                                              requested in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
                                              pna in prop::option::of(prop::collection::vec(any::<u8>(), 0..6)),
                                              upstream in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..24), prop::collection::vec(any::<u8>(), 0..24)), 0..6)) {
        let policy = model.policy();
        let req = Request {
            method: &method,
            origin: origin.as_deref(),
            request_method: request_method.as_deref(),
            request_headers: requested.as_deref(),
            request_private_network: pna.as_deref(),
            ..Request::default()
        };
        match policy.decide(&req) {
            Decision::Preflight(reply) => {
                prop_assert!(req.is_preflight());
                universal(&reply_headers(&reply)).map_err(TestCaseError::fail)?;
                prop_assert!(reply.body.len() <= 128, "a {}-byte 403 body", reply.body.len());
            }
            Decision::Forward(forward) => {
                let mut map = HeaderList { headers: upstream.clone() };
                policy.rewrite_response(Stamp { forward, origin: req.origin }, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), &mut map);
                universal(&map.headers).map_err(TestCaseError::fail)?;
                if forward == Forward::Allowed && !model.public() {
                    prop_assert!(req.origin.is_some_and(|o| model.allows(o)));
                }
                if forward == Forward::Denied {
                    prop_assert!(req.origin.is_some_and(|o| !model.allows(o)));
                }
                if model.timing_on() {
                    let tao = values(&map.headers, "timing-allow-origin");
                    let acao = values(&map.headers, "access-control-allow-origin");
                    prop_assert_eq!(tao, acao);
                }
            }
        }
        let _ = report::compare(&policy, &req, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    }

    /// Configuration parsing never panics, on bytes or on JSON built from the
    /// known keys (rules included); a key given twice in any object, at any
    /// depth, is refused at the path of its second occurrence.
    #[test]
    fn configuration_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128), json in json_value()) {
        let _ = Ruleset::from_json(&bytes);
        let text = json.text();
        let mut repeated = Vec::new();
        json.repeated("", &mut repeated);
        match Ruleset::from_json(text.as_bytes()) {
            Ok(config) => {
                prop_assert!(repeated.is_empty(), "{} loaded with keys given twice at {:?}", text, repeated);
                // Routing arbitrary targets stays in range.
                for (authority, path) in [(&b"a.tenant.test:8443"[..], &b"/api/x?y"[..]), (b"[::1]", b""), (b"\xff", b"\xff")] {
                    let route = config.route(Some(authority), Some(path), None);
                    let known = match route {
                        edge_cors_engine::rules::Route::Default => true,
                        edge_cors_engine::rules::Route::Rule(i) => i < config.rules.len(),
                    };
                    prop_assert!(known);
                    let _ = config.rule_name(route);
                }
            }
            Err(errs) => {
                for path in &repeated {
                    prop_assert!(errs.0.iter().any(|e| e.field == *path && e.problem.contains("is given twice")),
                        "{}: no \"is given twice\" at {} in {}", text, path, errs);
                }
            }
        }
    }

    /// Origin entries: never a panic; an entry loads exactly when the model
    /// says so, in the canonical form the model expects (IPv6 in WHATWG
    /// form), and shows as text that parses back to itself; an exact entry
    /// matches itself (and a port wildcard any port).
    #[test]
    fn origin_entries_are_canonical((raw, meant) in prop_oneof![
        "(https?|HTTPS?|ftp|capacitor|chrome-extension|)(://)?[a-zA-Z0-9.:_*\\[\\]/@?#-]{0,40}".prop_map(|r| (r, None)),
        any::<String>().prop_map(|r| (r, None)),
        (entry(), spelling()).prop_map(|(e, s)| (e.raw(s), Some(e))),
    ]) {
        let parsed = OriginEntry::parse(&raw);
        if let Some(e) = &meant {
            prop_assert_eq!(parsed.as_ref().ok().map(|p| p.to_string()), e.display(), "{} ({:?})", raw, e);
        }
        if let Ok(entry) = parsed {
            prop_assert_eq!(OriginEntry::parse(&entry.to_string()), Ok(entry.clone()), "{}", raw);
            let set = OriginSet::new(std::slice::from_ref(&entry));
            match &entry {
                OriginEntry::Exact(canonical) => {
                    prop_assert_eq!(OriginEntry::parse(canonical), Ok(entry.clone()));
                    prop_assert!(set.allows(canonical.as_bytes()));
                    prop_assert!(parse_origin(canonical.as_bytes()).is_some(), "{} is not a browser origin", canonical);
                }
                OriginEntry::ExactAnyPort(canonical) => {
                    prop_assert!(parse_origin(canonical.as_bytes()).is_some(), "{} is not a browser origin", canonical);
                    prop_assert!(set.allows(canonical.as_bytes()) && set.allows(format!("{canonical}:8444").as_bytes()), "{}", canonical);
                }
                _ => {}
            }
        }
    }

    /// IPv6 hosts: the WHATWG serialisation, whichever way the entry writes
    /// the address; a request matches only in that form.
    #[test]
    fn ipv6_origins_are_compared_in_whatwg_form(segments in prop_oneof![
        prop::array::uniform8(prop_oneof![3 => Just(0u16), 1 => Just(1u16), 1 => any::<u16>()]),
        any::<u32>().prop_map(|v| Ipv4Addr::from(v).to_ipv6_mapped().segments()),
    ], https in any::<bool>()) {
        let a = Ipv6Addr::from(segments);
        prop_assert_eq!(engine_origins::whatwg_ipv6(a), whatwg(a));
        let canonical = format!("{}://[{}]", scheme(https), whatwg(a));
        for text in [a.to_string(), long_ipv6(a), whatwg(a).to_ascii_uppercase()] {
            let entry = OriginEntry::parse(&format!("{}://[{text}]", scheme(https)));
            prop_assert_eq!(&entry, &Ok(OriginEntry::Exact(canonical.clone())), "[{}]", text);
        }
        let set = OriginSet::new(&[OriginEntry::Exact(canonical.clone())]);
        for text in [a.to_string(), long_ipv6(a)] {
            let request = format!("{}://[{text}]", scheme(https));
            prop_assert_eq!(set.allows(request.as_bytes()), request == canonical, "{}", request);
        }
    }

    /// docs/contract.md "Live origins": an answer with a bad entry never
    /// adds an origin; the set becomes the applied set intersected with the
    /// answer's valid entries (it can only shrink). An answer without a bad
    /// entry is applied as it is.
    #[test]
    fn live_answers_grow_only_when_entirely_valid(
        applied in prop::collection::vec(entry(), 0..6),
        kept in prop::collection::vec(any::<bool>(), 6),
        added in prop::collection::vec(entry(), 0..4),
        (credentials, insecure) in (any::<bool>(), any::<bool>()),
    ) {
        use edge_cors_engine::config::fetched_origins;
        use edge_cors_engine::live::{judge, Answer, LiveOrigins, Verdict};
        let body = |list: &[String]| serde_json::json!({ "origins": list }).to_string().into_bytes();
        let one = |o: &String| fetched_origins(&body(std::slice::from_ref(o)), credentials, insecure);
        // What was applied: the generated entries a fetch would take.
        let applied: Vec<String> = applied.iter().filter_map(|e| e.display()).collect();
        let applied: Vec<String> = applied.into_iter().filter(|o| one(o).is_ok()).collect();
        let before = fetched_origins(&body(&applied), credentials, insecure).unwrap_or_default();
        let current = LiveOrigins::default();
        current.replace(&before);
        // The next answer: some of those, and new entries, good or bad.
        let mut next: Vec<String> = applied.iter().zip(&kept).filter(|(_, k)| **k).map(|(o, _)| o.clone()).collect();
        next.extend(added.iter().map(|e| e.display().unwrap_or_else(|| "ftp://bad.example".into())));
        let answer = body(&next);
        let spec = edge_cors_engine::config::SourceSpec {
            cluster: "t".into(), path: "/o".into(), authority: "t".into(), refresh_seconds: 30, timeout_ms: 2000,
        };
        let status = Answer { status: Some(b"200"), body_size: answer.len(), waited_ms: 1, conditional: true };
        let verdict = judge(&status, &spec, credentials, insecure, None, &current, || answer.clone());
        let valid_in_answer: Vec<OriginEntry> = next.iter().filter_map(|o| one(o).ok()).flatten().collect();
        match verdict {
            Verdict::Applied(entries, _) => {
                prop_assert!(next.iter().all(|o| one(o).is_ok()), "applied an answer with a bad entry: {:?}", next);
                prop_assert_eq!(entries.len(), valid_in_answer.iter().collect::<std::collections::HashSet<_>>().len());
            }
            Verdict::Shrunk { kept, removed, .. } => {
                prop_assert!(removed > 0);
                prop_assert!(kept.iter().all(|e| before.contains(e)), "added {:?} from a refused answer", kept);
                prop_assert!(kept.iter().all(|e| valid_in_answer.contains(e)), "kept {:?}, which the answer no longer lists", kept);
                prop_assert_eq!(kept.len() + removed, before.len());
            }
            Verdict::Refused(_) => {
                // Nothing to remove: every applied entry is still listed.
                prop_assert!(before.iter().all(|e| valid_in_answer.contains(e)), "{:?} gone but not removed", before);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
