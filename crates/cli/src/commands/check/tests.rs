//! check's decisions: which policies are valid, their problems (in file
//! order, in the file's spelling) and warnings, and what they allow.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;

fn found(policy: Value) -> Found {
    let Value::Object(object) = policy else { panic!("a policy is an object") };
    Found::new("(test)".into(), "edge-cors policy", object)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn fields(c: &Checked) -> Vec<&str> {
    c.errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn a_valid_policy_has_its_spec_and_no_problems() {
    let c = check_found(found(json!({"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "PUT"]})));
    assert!(c.is_ok(), "{:?}", fields(&c));
    assert!(c.warnings.is_empty());
    let spec = c.spec.as_ref().expect("a spec");
    assert_eq!(spec.origins.len(), 1);
    assert!(c.config.is_some());
}

#[test]
fn every_problem_is_listed_in_file_order() {
    let c = check_found(found(json!({
        "max_age": 90000,
        "allow_origins": ["https://app.example.com/", "https://*.co.uk"],
        "allow_methods": ["GET POST"],
    })));
    assert!(!c.is_ok());
    assert!(c.spec.is_none() && c.config.is_none(), "a refused policy has no spec to describe");
    assert_eq!(fields(&c), ["allow_methods[0]", "allow_origins[0]", "allow_origins[1]", "max_age"]);
}

#[test]
fn a_list_comes_before_its_entries_and_entries_by_number() {
    let mut keys = vec!["allow_origins[10]", "allow_origins[2]", "allow_origins", "allow_credentials"];
    keys.sort_by_key(|k| field_order(k));
    assert_eq!(keys, ["allow_credentials", "allow_origins", "allow_origins[2]", "allow_origins[10]"]);
}

#[test]
fn the_null_origin_is_a_warning_not_a_problem() {
    let c = check_found(found(json!({"allow_origins": ["https://app.example.com", "null"]})));
    assert!(c.is_ok());
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].field, "allow_origins[1]");
    assert!(c.warnings[0].problem.contains("sandboxed iframe"), "{}", c.warnings[0].problem);
}

#[test]
fn problems_are_named_in_the_files_own_spelling() {
    let mut f = found(json!({"allow_origins": ["https://app.example.com/"]}));
    f.renamed = vec![("allow_origins".into(), "allowOrigins".into())];
    let c = check_found(f);
    assert_eq!(fields(&c), ["allowOrigins[0]"]);
    assert_eq!(shown_field(&c.found, "allow_origins_from"), "allow_origins_from", "only the key itself or its entries");
}

#[test]
fn a_file_with_a_bad_and_a_good_policy_counts_each() {
    let report = CheckReport {
        name: "two".into(),
        policies: vec![
            check_found(found(json!({"allow_origins": ["https://a.example"]}))),
            check_found(found(json!({"allow_origins": ["*"], "allow_credentials": true, "max_age": -1}))),
        ],
    };
    assert_eq!(report.refused(), 1);
    assert_eq!(report.problems(), 2);
    assert!(!report.ok());
    let text = text(&report, &Style::plain());
    assert!(text.contains("2 policies checked in two: 2 problems in 1 policy"), "{text}");
}

#[test]
fn the_bad_fixture_has_eight_problems() {
    let report = CheckReport::new("bad".into(), source::load(&fixture("bad-policy.json")).unwrap_or_else(|Fatal(e)| panic!("{e}")));
    assert_eq!((report.policies.len(), report.problems(), report.refused()), (1, 8, 1));
}

#[test]
fn a_sam_template_is_judged_in_aws_spelling_with_its_parameters() {
    let report = CheckReport::new("sam".into(), source::load(&fixture("sam-template.yaml")).unwrap_or_else(|Fatal(e)| panic!("{e}")));
    let [c] = report.policies.as_slice() else { panic!("one policy") };
    assert_eq!(c.found.kind, "SAM template");
    // The public suffix, under the template's key name; the !Ref checked
    // with its parameter's default, said in a note.
    assert_eq!(fields(c), ["AllowOrigins[1]"]);
    assert!(c.found.notes.iter().any(|n| n.contains("!Ref FrontendOrigin")), "{:?}", c.found.notes);
}

#[test]
fn debug_policies_are_named_top_level_and_rules() {
    let c = check_found(found(json!({
        "allow_origins": ["https://a.example"], "debug": true,
        "rules": [{"name": "quiet", "match": {"path_prefix": "/q/"}, "allow_origins": ["https://a.example"]},
                  {"name": "loud", "match": {"path_prefix": "/l/"}, "allow_origins": ["https://a.example"], "debug": true},
                  {"name": "off", "match": {"path_prefix": "/o/"}, "cors": "off"}]
    })));
    assert!(c.is_ok(), "{:?}", fields(&c));
    assert_eq!(c.debug_policies(), ["default", "loud"]);
}

#[test]
fn a_rule_match_is_said_in_words() {
    let c = check_found(found(json!({
        "allow_origins": ["https://a.example"],
        "rules": [{"name": "r", "match": {"hosts": ["a.test", "b.test"], "path_prefix": "/API/", "routes": ["x"], "case_sensitive": false}, "cors": "off"},
                  {"name": "one", "match": {"routes": ["y"]}, "cors": "off"},
                  {"name": "seg", "match": {"path_separated_prefix": "/v1"}, "cors": "off"}]
    })));
    let config = c.config.as_ref().unwrap_or_else(|| panic!("{:?}", fields(&c)));
    assert_eq!(rule_match(&config.rules[0]), "hosts a.test, b.test and path prefix /API/ (ignoring case) and route x");
    assert_eq!(rule_match(&config.rules[1]), "route y");
    assert_eq!(rule_match(&config.rules[2]), "path segments /v1");
}

#[test]
fn subdomain_patterns_say_depth_and_port() {
    let entry = |s: &str| OriginEntry::parse(s).unwrap_or_else(|e| panic!("{s}: {}", e.problem));
    assert_eq!(
        describe_origin(&entry("https://*.example.com")),
        "https://*.example.com  any subdomain of example.com at any depth, not example.com itself, default port (443)"
    );
    assert!(describe_origin(&entry("http://*.example.com:*")).ends_with("any port"));
    assert_eq!(describe_origin(&entry("https://app.example.com")), "https://app.example.com");
}

#[test]
fn a_source_names_where_its_host_came_from() {
    let c = check_found(found(
        json!({"allow_origins": [], "allow_origins_from": {"cluster": "outbound|8080||tenants.internal", "path": "/o"}}),
    ));
    let source = c.spec.as_ref().and_then(|s| s.source.as_ref()).expect("a source");
    let line = source_line(source);
    assert!(line.contains("(Host: tenants.internal (the host part of the cluster's name))"), "{line}");
    let c = check_found(found(json!({"allow_origins": [], "allow_origins_from": {"cluster": "t", "path": "/o", "authority": "x.test"}})));
    let source = c.spec.as_ref().and_then(|s| s.source.as_ref()).expect("a source");
    assert!(source_line(source).contains("(Host: x.test)"), "{}", source_line(source));
}

/// `check` says when a policy refuses writes from other sites.
#[test]
fn check_names_cross_origin_write_protection() {
    let text = |v: serde_json::Value| {
        let c = check_found(found(v));
        let spec = c.spec.clone().unwrap_or_else(|| panic!("{:?}", fields(&c)));
        summary_rows("", &spec, Vec::new())
    };
    let on = text(json!({"allow_origins": ["https://a.example"], "block_cross_origin_writes": true}));
    assert!(on.contains("cross-origin writes") && on.contains("refused at the edge"), "{on}");
    assert!(!text(json!({"allow_origins": ["https://a.example"]})).contains("cross-origin writes"));
}
