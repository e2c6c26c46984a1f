//! explain's decisions, from policies written inline: the typed
//! [`Explained`], not its wording.

use serde_json::{json, Value};

use super::origin::{Live, OriginStatus};
use super::*;
use crate::commands::check::check_found;
use crate::source::Found;

fn checked(policy: Value) -> Checked {
    let Value::Object(object) = policy else { panic!("a policy is an object") };
    check_found(Found::new("(test)".into(), "edge-cors policy", object))
}

fn ask(origin: &str, method: &str, headers: &[&str]) -> Ask {
    let page = PageRequest {
        origin: origin.into(),
        method: method.into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        credentials: false,
    };
    Ask::new(&page, 200).unwrap_or_else(|Fatal(e)| panic!("{e}"))
}

fn policy() -> Value {
    json!({
        "allow_origins": ["https://app.example.com", "https://*.example.com"],
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["content-type", "authorization"],
    })
}

fn explain(policy: Value, ask: &Ask, target: &RouteTarget) -> Explained {
    decide(ask, checked(policy), target, None).unwrap_or_else(|Fatal(e)| panic!("{e}"))
}

fn explanation(policy: Value, ask: &Ask) -> Box<Explanation> {
    match explain(policy, ask, &RouteTarget::default()) {
        Explained::Request(e) => e,
        _ => panic!("not explained"),
    }
}

fn blocked_reason(e: &Explanation) -> &str {
    match &e.verdict {
        Verdict::Blocked { reason } => reason,
        other => panic!("not blocked: {other:?}"),
    }
}

#[test]
fn an_allowed_preflight_is_answered_204_and_the_call_passes() {
    let e = explanation(policy(), &ask("https://app.example.com", "POST", &["content-type: application/json"]));
    assert!(e.need.needed);
    let p = e.preflight.as_ref().expect("a preflight");
    assert_eq!(p.request_headers.as_deref(), Some("content-type"));
    assert_eq!(p.response.status, 204);
    assert_eq!(p.response.all("access-control-allow-origin"), ["https://app.example.com"]);
    assert!(e.actual.is_some());
    assert_eq!(e.verdict, Verdict::Allowed);
    assert!(e.ok());
}

#[test]
fn a_method_outside_the_list_is_refused_at_the_preflight() {
    let e = explanation(policy(), &ask("https://app.example.com", "PUT", &[]));
    assert_eq!(e.preflight.as_ref().map(|p| p.response.status), Some(403));
    assert!(e.actual.is_none(), "the browser stops at a failed preflight");
    assert_eq!(blocked_reason(&e), "PUT is not in allow_methods (GET, POST)");
    assert!(!e.ok());
}

#[test]
fn a_method_differing_by_case_is_named() {
    let e = explanation(
        json!({"allow_origins": ["https://app.example.com"], "allow_methods": ["PATCH"]}),
        &ask("https://app.example.com", "Patch", &[]),
    );
    assert!(blocked_reason(&e).contains("PATCH differs by case"), "{:?}", e.verdict);
}

#[test]
fn a_header_outside_the_list_is_named() {
    let e = explanation(policy(), &ask("https://app.example.com", "GET", &["x-debug"]));
    assert_eq!(blocked_reason(&e), "x-debug is not in allow_headers (content-type, authorization)");
}

#[test]
fn a_simple_request_from_an_origin_not_allowed_is_blocked_without_preflight() {
    let e = explanation(policy(), &ask("https://evil.test", "GET", &[]));
    assert!(e.preflight.is_none());
    assert_eq!(e.origin_verdict.status, OriginStatus::Refused);
    let actual = e.actual.as_ref().expect("sent");
    assert!(actual.all("access-control-allow-origin").is_empty(), "{:?}", actual.headers);
    assert!(blocked_reason(&e).starts_with("https://evil.test is not in allow_origins"), "{:?}", e.verdict);
}

#[test]
fn a_pattern_never_matches_its_own_domain_and_says_so() {
    let e = explanation(policy(), &ask("https://example.com", "GET", &[]));
    assert_eq!(e.origin_verdict.status, OriginStatus::Refused);
    assert!(e.origin_verdict.line.contains("never example.com itself"), "{}", e.origin_verdict.line);
}

#[test]
fn the_matching_entry_is_named_as_written() {
    let e = explanation(policy(), &ask("https://a.b.example.com", "GET", &[]));
    assert_eq!(e.origin_verdict.line, "allowed: matches allow_origins entry \"https://*.example.com\"");
    assert_eq!(e.verdict, Verdict::Allowed);
}

#[test]
fn rules_are_picked_by_host_path_and_route() {
    let rules = || {
        json!({"allow_origins": ["https://app.example.com"],
          "rules": [{"name": "legacy", "match": {"path_prefix": "/legacy/"}, "cors": "off"},
                    {"name": "tenants", "match": {"hosts": ["*.tenant.test"]}, "allow_origins": ["https://*.tenant.test"]},
                    {"name": "pay", "match": {"routes": ["payments"]}, "allow_origins": ["https://checkout.example.com"]}]})
    };
    let a = ask("https://shop.tenant.test", "GET", &[]);
    let on = |host: Option<&str>, path: Option<&str>, route: Option<&str>| RouteTarget {
        host: host.map(Into::into),
        path: path.map(Into::into),
        route: route.map(Into::into),
    };
    match explain(rules(), &a, &on(Some("a.tenant.test"), None, None)) {
        Explained::Request(e) => {
            assert_eq!(e.selection, Selection::Rule { index: 1, name: "tenants".into(), how: "host a.tenant.test".into() });
            assert_eq!(e.verdict, Verdict::Allowed);
        }
        _ => panic!("not explained"),
    }
    match explain(rules(), &a, &on(Some("api.example.com"), None, None)) {
        Explained::Request(e) => {
            let want = Selection::Default { rules: 3, host: "api.example.com".into(), path: "/".into(), target_given: true };
            assert_eq!(e.selection, want);
            assert!(matches!(e.verdict, Verdict::Blocked { .. }), "the default refuses the tenant");
        }
        _ => panic!("not explained"),
    }
    match explain(rules(), &a, &on(None, None, Some("payments"))) {
        Explained::Request(e) => assert_eq!(e.selection.record_name(), "pay"),
        _ => panic!("not explained"),
    }
    let off = explain(rules(), &a, &on(None, Some("/legacy/x"), None));
    assert!(matches!(&off, Explained::CorsOff(Selection::Rule { index: 0, .. })), "cors off");
    assert!(off.ok());
}

#[test]
fn route_arguments_on_a_policy_without_rules_change_nothing() {
    let target = RouteTarget { host: Some("x".into()), ..RouteTarget::default() };
    match explain(policy(), &ask("https://app.example.com", "GET", &[]), &target) {
        Explained::Request(e) => assert_eq!(e.selection, Selection::NoRules { target_given: true }),
        _ => panic!("not explained"),
    }
}

fn live_policy() -> Value {
    json!({"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "PUT"],
           "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins"}})
}

#[test]
fn an_origin_only_the_service_could_list_is_not_decided() {
    let e = explanation(live_policy(), &ask("https://shop.acme.example", "PUT", &[]));
    assert!(matches!(e.live, Live::Unknown(_)));
    assert_eq!(e.origin_verdict.status, OriginStatus::IfListed);
    // Explained as if listed: the engine allows it then.
    assert_eq!(e.preflight.as_ref().map(|p| p.response.status), Some(204));
    assert_eq!(e.verdict, Verdict::AllowedIfListed);
    assert!(!e.ok(), "not decided is not a pass");
}

#[test]
fn a_saved_answer_decides_live_origins() {
    let dir = std::env::temp_dir().join(format!("edge-cors-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let answer = dir.join("answer.json");
    std::fs::write(&answer, r#"{"origins": ["https://*.tenants.example"]}"#).unwrap_or_else(|e| panic!("{e}"));
    let run = |origin: &str| decide(&ask(origin, "GET", &[]), checked(live_policy()), &RouteTarget::default(), Some(&answer));
    match run("https://a.tenants.example") {
        Ok(Explained::Request(e)) => {
            assert!(matches!(&e.live, Live::Given { entries, .. } if entries.len() == 1));
            assert_eq!(e.verdict, Verdict::Allowed);
            assert!(e.origin_verdict.line.contains("in the origin service's list"), "{}", e.origin_verdict.line);
        }
        _ => panic!("not explained"),
    }
    match run("https://evil.test") {
        Ok(Explained::Request(e)) => assert_eq!(e.origin_verdict.status, OriginStatus::Refused),
        _ => panic!("not explained"),
    }
    // An answer the filter would refuse is an error, not a verdict.
    std::fs::write(&answer, r#"{"origins": ["*"]}"#).unwrap_or_else(|e| panic!("{e}"));
    assert!(run("https://a.tenants.example").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_mode_passes_whatever_enforcing_would_do() {
    let e = explanation(json!({"mode": "report", "allow_origins": ["https://app.example.com"]}), &ask("https://evil.test", "GET", &[]));
    assert!(e.report);
    assert!(matches!(e.verdict, Verdict::Blocked { .. }), "enforcing would block");
    assert!(e.ok(), "report mode blocks nothing");
}

#[test]
fn debug_adds_the_record_header_to_the_preflight_answer() {
    let mut p = policy();
    p["debug"] = json!(true);
    let e = explanation(p, &ask("https://app.example.com", "PUT", &[]));
    let answer = &e.preflight.as_ref().expect("a preflight").response;
    let record = answer.all("x-edge-cors");
    assert_eq!(record.len(), 1, "{:?}", answer.headers);
    assert!(record[0].contains("default"), "{record:?}");
}

#[test]
fn an_invalid_policy_is_refused_before_anything_is_explained() {
    let bad = json!({"allow_origins": ["https://*.com"]});
    let explained = explain(bad, &ask("https://app.example.com", "GET", &[]), &RouteTarget::default());
    assert!(matches!(explained, Explained::Refused(_)));
    assert!(!explained.ok());
}

#[test]
fn arguments_that_are_not_a_request_are_errors() {
    let page = |method: &str, header: &str| PageRequest {
        origin: "https://app.example.com".into(),
        method: method.into(),
        headers: vec![header.into()],
        credentials: false,
    };
    assert!(Ask::new(&page("GET", "x-a"), 99).is_err(), "status");
    assert!(Ask::new(&page("a b", "x-a"), 200).is_err(), "method");
    assert!(Ask::new(&page("GET", "bad name: v"), 200).is_err(), "header");
    let ok = Ask::new(&page("get", "X-A: 1"), 200).unwrap_or_else(|Fatal(e)| panic!("{e}"));
    assert_eq!((ok.method.as_str(), ok.headers[0].name.as_str()), ("GET", "x-a"));
}

/// Contract: "Cross-origin writes": explain says a write from an origin the
/// policy does not allow never reaches the backend; the allowed origin's does.
#[test]
fn explain_says_a_cross_origin_write_is_refused_at_the_edge() {
    let policy =
        || json!({"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "POST"], "block_cross_origin_writes": true});
    let e = explanation(policy(), &ask("https://evil.example", "POST", &[]));
    let r = blocked_reason(&e);
    assert!(r.contains("block_cross_origin_writes") && r.contains("POST"), "{r}");
    let e = explanation(policy(), &ask("https://app.example.com", "POST", &[]));
    assert!(matches!(e.verdict, Verdict::Allowed), "{:?}", e.verdict);
    let e = explanation(policy(), &ask("https://evil.example", "GET", &[]));
    assert!(!blocked_reason(&e).contains("block_cross_origin_writes"), "a GET is never a write");
}
