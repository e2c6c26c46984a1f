//! probe's pure decisions: what it sends for a header given by name, and
//! its verdict on the browser's checks of a live server's answers.

use super::*;

fn response(status: u16, headers: &[(&str, &str)]) -> Response {
    Response { status, headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(), body: String::new() }
}

const PAGE: &str = "https://app.example.com";

#[test]
fn headers_given_by_name_get_plausible_values() {
    assert_eq!(placeholder("authorization"), "Bearer edge-cors-probe");
    assert_eq!(placeholder("content-type"), "application/json");
    assert_eq!(placeholder("x-api-key"), "edge-cors-probe");
}

#[test]
fn a_correct_answer_is_ok_and_counts_its_checks() {
    let r = response(200, &[("access-control-allow-origin", PAGE), ("vary", "Origin")]);
    let checks = fetch_check::judge_actual(&r, PAGE, false);
    assert!(matches!(ProbeVerdict::of(&checks, fetch_check::allowed(&checks)), ProbeVerdict::Ok { passed } if passed >= 2));
}

#[test]
fn a_missing_vary_lets_the_call_through_but_fails() {
    let r = response(200, &[("access-control-allow-origin", PAGE)]);
    let checks = fetch_check::judge_actual(&r, PAGE, false);
    let allows = fetch_check::allowed(&checks);
    assert!(allows, "Vary alone blocks nothing");
    assert_eq!(ProbeVerdict::of(&checks, allows), ProbeVerdict::ThroughWithFailures { failed: vec!["vary"] });
}

#[test]
fn star_with_credentials_is_blocked_naming_the_phase() {
    let r = response(200, &[("access-control-allow-origin", "*"), ("vary", "Origin")]);
    let checks = fetch_check::judge_actual(&r, PAGE, true);
    let allows = fetch_check::allowed(&checks);
    assert!(!allows);
    match ProbeVerdict::of(&checks, allows) {
        ProbeVerdict::Blocked { failed } => assert!(failed.contains(&"actual allow-origin".to_string()), "{failed:?}"),
        other => panic!("{other:?}"),
    }
}
