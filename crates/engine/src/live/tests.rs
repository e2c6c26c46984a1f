//! docs/contract.md "Live origins": what an answer means, and the shared values.

use super::*;
use crate::config::{parse, SourceSpec};
use crate::policy::{Decision, Forward, Policy, Request};

fn spec() -> SourceSpec {
    SourceSpec {
        cluster: "tenant_origins".into(),
        path: "/cors/origins".into(),
        authority: "t".into(),
        refresh_seconds: 30,
        timeout_ms: 2000,
    }
}

/// An answer to a request that carried `If-None-Match`.
fn answer(status: Option<&'static [u8]>, body_size: usize, waited_ms: u64) -> Answer<'static> {
    Answer { status, body_size, waited_ms, conditional: true }
}

fn none() -> LiveOrigins {
    LiveOrigins::default()
}

#[test]
fn answers_are_judged_as_a_whole() {
    let body = || br#"{"origins": ["https://shop.acme.example"]}"#.to_vec();
    assert!(
        matches!(judge(&answer(Some(b"200"), 40, 3), &spec(), true, false, None, &none(), body), Verdict::Applied(e, b) if e.len() == 1 && b.len() == 42)
    );
    assert_eq!(
        judge(&answer(Some(b"304"), 0, 3), &spec(), true, false, None, &none(), || panic!("a 304 has no body to read")),
        Verdict::Unchanged
    );
    let failed = |a: Answer<'static>| match judge(&a, &spec(), true, false, None, &none(), || panic!("not read")) {
        Verdict::Failed(why) => why,
        other => panic!("{other:?}"),
    };
    assert_eq!(failed(answer(Some(b"500"), 10, 3)), "status 500 (the service must answer 200 with the list, or 304)");
    assert!(failed(answer(None, 0, 2000)).starts_with("no answer within timeout_ms (2000 ms)"));
    assert!(failed(answer(None, 0, 4)).contains("cluster \"tenant_origins\" failed"));
    assert!(failed(answer(Some(b"20\n0"), 0, 4)).starts_with("status 200 "), "shown without control characters");
    let big = judge(&answer(Some(b"200"), MAX_BODY_BYTES + 1, 3), &spec(), true, false, None, &none(), || panic!("too large to read"));
    assert!(matches!(big, Verdict::Refused(why) if why.contains("over the limit")));
    assert_eq!(failed(answer(Some(b"504"), 24, 2000)), "no answer within timeout_ms (2000 ms)", "Envoy's own 504 after the timeout");
    assert!(failed(answer(Some(b"504"), 24, 30)).starts_with("status 504 "), "the service's own 504");
    assert!(failed(answer(Some(b"503"), 24, 3)).contains("could not connect to cluster \"tenant_origins\""));
    let same = br#"{"origins": []}"#;
    assert_eq!(
        judge(&answer(Some(b"200"), 15, 3), &spec(), true, false, Some(same), &none(), || same.to_vec()),
        Verdict::Unchanged,
        "the same body again"
    );
    let bad =
        judge(&answer(Some(b"200"), 10, 3), &spec(), true, false, None, &none(), || br#"{"origins": ["https://a.example", "*"]}"#.to_vec());
    assert!(matches!(bad, Verdict::Refused(why) if why.starts_with("origins[1] = \"*\"")));
}

#[test]
fn shared_values_round_trip_and_hostile_ones_read_safely() {
    let v = stored(Some(b"\"v1\""), b"{\"origins\": []}");
    assert_eq!(split_stored(&v), (&b"\"v1\""[..], &b"{\"origins\": []}"[..]));
    // An ETag that could split the value is not kept.
    assert_eq!(split_stored(&stored(Some(b"a\nb"), b"{}")), (&b""[..], &b"{}"[..]));
    assert_eq!(split_stored(b"no newline"), (&b""[..], &b"no newline"[..]));
    assert_eq!(millis(b"1700000000123"), 1_700_000_000_123);
    for junk in [&b""[..], b"12a", b"-1", b"99999999999999999999999", b"184467440737095516160"] {
        assert_eq!(millis(junk), 0, "{junk:?}");
    }
    let k = keys("default", &spec(), true, false);
    assert_eq!(k.lease, "edge_cors.origins_source.v2/default/tenant_origins/cors/origins/t/cs/lease/30s/2000ms");
    assert_ne!(keys("default", &spec(), false, false).origins, k.origins, "checked under other rules: another value");
}

#[test]
fn the_allowed_set_is_the_union_and_swaps_whole() {
    let policy = Policy::new(
        parse(
            br#"{"allow_origins": ["https://app.example.com"], "allow_credentials": true,
            "allow_origins_from": {"cluster": "t", "path": "/o"}}"#,
        )
        .unwrap(),
    );
    let live = &policy.source().unwrap().live;
    let decide = |origin: &'static str| {
        let req = Request { origin: Some(origin.as_bytes()), method: b"GET", ..Request::default() };
        matches!(policy.decide(&req), Decision::Forward(Forward::Allowed))
    };
    assert!(decide("https://app.example.com"));
    assert!(!decide("https://shop.acme.example"), "fail closed before the first answer");
    live.replace(
        &crate::config::fetched_origins(br#"{"origins": ["https://shop.acme.example", "https://*.t.example"]}"#, true, false).unwrap(),
    );
    assert!(decide("https://shop.acme.example") && decide("https://x.t.example") && decide("https://app.example.com"));
    assert_eq!(live.len(), 2);
    live.replace(&[]);
    assert!(!decide("https://shop.acme.example") && decide("https://app.example.com"));
}

#[test]
fn log_lines_say_what_keeps_serving() {
    let refused = Verdict::Refused("origins[3] = \"*\": ...".into());
    assert_eq!(
        not_applied_line("default", &spec(), &refused, 12, true).unwrap(),
        "edge-cors: origins from cluster \"tenant_origins\" /cors/origins (rule default) refused: origins[3] = \"*\": ...; the last good set (12 origins) keeps serving"
    );
    assert!(not_applied_line("t", &spec(), &Verdict::Failed("status 500".into()), 0, false)
        .unwrap()
        .ends_with("failed: status 500; no answer applied yet, so only the static allow_origins apply"));
    assert_eq!(not_applied_line("t", &spec(), &Verdict::Unchanged, 0, false), None);
}

/// docs/contract.md "Live origins": a 304 to a request without
/// `If-None-Match` is a failed fetch, never "unchanged" (it would look
/// healthy while nothing is applied).
#[test]
fn a_304_without_if_none_match_is_a_failure() {
    let unconditional = Answer { status: Some(b"304"), body_size: 0, waited_ms: 3, conditional: false };
    match judge(&unconditional, &spec(), true, false, None, &none(), || panic!("a 304 has no body to read")) {
        Verdict::Failed(why) => assert!(why.contains("without If-None-Match"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// docs/contract.md "Live origins": an answer with a bad entry never adds,
/// but its removals apply: the set becomes the applied set intersected with
/// the answer's valid entries.
#[test]
fn a_refused_answer_still_applies_its_removals() {
    let current = LiveOrigins::default();
    let applied =
        crate::config::fetched_origins(br#"{"origins": ["https://a.example", "https://b.example", "https://*.c.example"]}"#, false, false)
            .unwrap();
    current.replace(&applied);
    // b removed, d added, and one bad entry: only the removal applies.
    let body = br#"{"origins": ["https://a.example", "ftp://bad.example", "https://*.c.example", "https://d.example"]}"#;
    let verdict = judge(&answer(Some(b"200"), body.len(), 3), &spec(), false, false, None, &current, || body.to_vec());
    let Verdict::Shrunk { kept, removed, why } = verdict else { panic!("{verdict:?}") };
    let kept: Vec<String> = kept.iter().map(ToString::to_string).collect();
    assert_eq!(kept, ["https://a.example", "https://*.c.example"]);
    assert_eq!(removed, 1);
    assert!(why.starts_with("origins[1] = \"ftp://bad.example\""), "{why}");
    let line = not_applied_line("t", &spec(), &Verdict::Shrunk { kept: vec![], removed: 1, why: why.clone() }, 0, true).unwrap();
    assert!(line.contains("refused for additions") && line.contains("removals applied: 1 origin removed"), "{line}");
    // The same bad answer with nothing left to remove: refused, no change.
    let body = br#"{"origins": ["https://a.example", "ftp://bad.example", "https://b.example", "https://*.c.example"]}"#;
    assert!(matches!(
        judge(&answer(Some(b"200"), body.len(), 3), &spec(), false, false, None, &current, || body.to_vec()),
        Verdict::Refused(_)
    ));
    // Before any good answer there is nothing to shrink.
    assert!(matches!(
        judge(&answer(Some(b"200"), body.len(), 3), &spec(), false, false, None, &none(), || body.to_vec()),
        Verdict::Refused(_)
    ));
    // An unreadable answer removes nothing.
    assert!(matches!(
        judge(&answer(Some(b"200"), 5, 3), &spec(), false, false, None, &current, || b"{\"ori".to_vec()),
        Verdict::Refused(_)
    ));
    // The shared form of the shrunk set reads back as that set.
    let shrunk = crate::config::fetched_origins(&shrunk_body(&current.kept(&applied)), false, false).unwrap();
    assert_eq!(shrunk, applied);
}

/// docs/contract.md "Live origins": a changed refresh (or timeout) gets a
/// lease of its own, so it applies at once; the answer's keys stay shared.
#[test]
fn a_changed_refresh_has_its_own_lease() {
    let a = keys("r", &spec(), false, false);
    let b = keys("r", &SourceSpec { refresh_seconds: 2, ..spec() }, false, false);
    assert_ne!(a.lease, b.lease);
    assert_eq!((a.origins, a.version, a.checked), (b.origins, b.version, b.checked));
}

/// The shared values carry their format's version in every key: a module of
/// another layout in the same Envoy (an upgrade in progress: the old module
/// beside the new, one `vm_id`) never reads them, nor they its values.
#[test]
fn shared_keys_carry_their_format_version() {
    // Version 1's keys, as the module before this layout wrote them.
    let v1 = |rule: &str, what: &str| format!("edge_cors.origins_source/{rule}/tenant_origins/cors/origins/t/cs/{what}");
    for rule in ["default", "v2", "partners"] {
        let k = keys(rule, &spec(), true, false);
        for (key, what) in [(&k.lease, "lease"), (&k.origins, "origins"), (&k.version, "version"), (&k.checked, "checked")] {
            assert!(key.starts_with(SHARED_PREFIX), "{key}");
            assert!(!key.starts_with("edge_cors.origins_source/"), "{key} reads like a version-1 key");
            assert_ne!(*key, v1(rule, what));
        }
    }
}

/// What each verdict counts and logs, for every shell: a recovery after
/// failures is logged once, then the streak restarts.
#[test]
fn settling_counts_and_explains_each_verdict() {
    let spec = SourceSpec {
        cluster: "tenants".into(),
        path: "/origins".into(),
        authority: "tenants".into(),
        refresh_seconds: 30,
        timeout_ms: 2000,
    };
    let mut failures = 0;
    let failed = settle(&mut failures, "default", &spec, &Verdict::Failed("status 500".into()), 0, false);
    assert_eq!(failed.counts, [SourceCount::Failed]);
    assert!(matches!(failed.lines.as_slice(), [(true, l)] if l.contains("status 500") && l.contains("only the static")), "{failed:?}");
    settle(&mut failures, "default", &spec, &Verdict::Refused("bad".into()), 0, false);
    assert_eq!(failures, 2);
    let entry = OriginEntry::parse("https://a.example").unwrap_or_else(|e| panic!("{}", e.problem));
    let applied = settle(&mut failures, "default", &spec, &Verdict::Applied(vec![entry.clone()], Vec::new()), 0, false);
    assert_eq!(applied.counts, [SourceCount::Applied]);
    assert!(
        matches!(applied.lines.as_slice(), [(false, r), (false, a)] if r.contains("recovered after 2") && a.contains("applied: 1 origin")),
        "{applied:?}"
    );
    assert_eq!(failures, 0);
    let shrunk = settle(&mut failures, "default", &spec, &Verdict::Shrunk { kept: vec![entry], removed: 1, why: "x".into() }, 2, true);
    assert_eq!(shrunk.counts, [SourceCount::Refused, SourceCount::RemovalsApplied]);
    assert!(matches!(shrunk.lines.as_slice(), [(true, l)] if l.contains("1 origin removed, 1 kept")), "{shrunk:?}");
    let unchanged = settle(&mut failures, "default", &spec, &Verdict::Unchanged, 1, true);
    assert_eq!(unchanged.counts, [SourceCount::Unchanged]);
    assert!(matches!(unchanged.lines.as_slice(), [(false, r)] if r.contains("recovered after 1")), "{unchanged:?}");
    assert!(settle(&mut failures, "default", &spec, &Verdict::Unchanged, 1, true).lines.is_empty());
}
