//! The configuration's refusals, each with its field, value and fix.

use super::*;
use crate::origins::OriginEntry;

fn ok(json: &str) -> PolicySpec {
    parse(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn errors(json: &str) -> Vec<ConfigError> {
    match parse(json.as_bytes()) {
        Ok(spec) => panic!("{json} accepted as {spec:?}"),
        Err(e) => e.0,
    }
}

#[test]
fn contract_example_parses() {
    let spec = ok(r#"{
        "allow_origins": ["https://app.example.com", "https://*.example.com"],
        "allow_methods": ["GET", "POST"],
        "allow_headers": ["content-type", "authorization"],
        "expose_headers": ["etag", "x-request-id"],
        "max_age": 3600,
        "allow_credentials": false,
        "allow_private_network": false
    }"#);
    assert_eq!(spec.origins.len(), 2);
    assert_eq!(spec.methods, Names::List(vec!["GET".into(), "POST".into()]));
    assert_eq!(spec.headers, Names::List(vec!["content-type".into(), "authorization".into()]));
    assert_eq!(spec.expose, Names::List(vec!["etag".into(), "x-request-id".into()]));
    assert_eq!(spec.max_age, Some(3600));
    assert!(!spec.credentials);
}

#[test]
fn aws_spelling_is_the_same_policy() {
    let aws = ok(r#"{"AllowOrigins": ["https://app.example.com"], "AllowMethods": ["GET","PUT"],
        "AllowHeaders": ["Authorization"], "ExposeHeaders": ["ETag"], "MaxAge": 600, "AllowCredentials": true}"#);
    let snake = ok(r#"{"allow_origins": ["https://app.example.com"], "allow_methods": ["GET","PUT"],
        "allow_headers": ["authorization"], "expose_headers": ["etag"], "max_age": 600, "allow_credentials": true}"#);
    assert_eq!(aws, snake);
}

#[test]
fn defaults() {
    let spec = ok(r#"{"allow_origins": ["https://a.example"]}"#);
    assert_eq!(spec.methods, Names::List(vec!["GET".into(), "HEAD".into(), "POST".into()]));
    assert_eq!(spec.headers, Names::List(vec![]));
    assert_eq!(spec.expose, Names::List(vec![]));
    assert_eq!(spec.max_age, None);
    assert!(!spec.credentials && !spec.private_network);
    let spec = ok(r#"{"allow_origins": ["https://a.example"], "allow_methods": []}"#);
    assert_eq!(spec.methods, Names::List(vec!["GET".into(), "HEAD".into(), "POST".into()]));
}

#[test]
fn normalisation() {
    let spec = ok(r#"{"allow_origins": ["https://A.example:443", "https://a.example"],
        "allow_methods": ["get", "patch", "PATCH", "Delete"], "allow_headers": ["X-Token", "x-token"]}"#);
    assert_eq!(spec.origins, vec![OriginEntry::Exact("https://a.example".into())]);
    // `patch` is not normalised by browsers, so both spellings stay distinct.
    assert_eq!(spec.methods, Names::List(vec!["GET".into(), "patch".into(), "PATCH".into(), "DELETE".into()]));
    assert_eq!(spec.headers, Names::List(vec!["x-token".into()]));
}

#[test]
fn underscore_keys_are_ignored() {
    ok(r#"{"_rules_": [], "_match_route_": ["x"], "allow_origins": ["https://a.example"]}"#);
}

#[test]
fn wildcard_lists() {
    let spec = ok(r#"{"allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": ["*"], "expose_headers": ["*"]}"#);
    assert_eq!(spec.origins, vec![OriginEntry::Any]);
    assert_eq!((spec.methods, spec.headers, spec.expose), (Names::Any, Names::Any, Names::Any));
}

#[test]
fn credentials_with_loopback_http_is_fine() {
    ok(r#"{"allow_origins": ["http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]"], "allow_credentials": true}"#);
    ok(r#"{"allow_origins": ["http://app.example.com"], "allow_credentials": true, "allow_insecure_origins": true}"#);
    ok(r#"{"allow_origins": ["http://app.example.com"], "allow_credentials": false}"#);
}

/// Every refusal of the contract: (config, field, words in the problem, words in the fix).
#[test]
fn refusals_name_field_value_and_fix() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("", "(configuration)", "no CORS policy", "allow_origins"),
        ("   \n", "(configuration)", "no CORS policy", "allow_origins"),
        ("\"\"", "(configuration)", "no CORS policy", "allow_origins"),
        ("null", "(configuration)", "no CORS policy", "allow_origins"),
        ("{}", "allow_origins", "is required", "allow_origins"),
        (r#"{"allow_methods": ["GET"]}"#, "allow_origins", "is required", "allow_origins"),
        ("{not json", "(configuration)", "not valid JSON", "JSON object"),
        // A protobuf Struct {allow_origins: ["*"]}, as Envoy hands it over.
        ("\n\u{1d}\n\rallow_origins\u{12}\u{c}2\n\n\u{1a}\u{1}*", "(configuration)", "not valid JSON", "google.protobuf.StringValue"),
        ("[1,2]", "(configuration)", "must be a JSON object", "JSON object"),
        (r#"{"allow_origins": []}"#, "allow_origins", "is empty", "list"),
        (r#"{"allow_origins": "https://a.example"}"#, "allow_origins", "list of strings", "[\"https://a.example\"]"),
        (r#"{"allow_origins": [7]}"#, "allow_origins[0]", "must be a string", "quote"),
        (r#"{"allow_origins": ["*"], "allow_credentials": true}"#, "allow_origins[0]", "every origin", "allow_credentials to false"),
        (r#"{"allow_origins": ["https://*"], "allow_credentials": true}"#, "allow_origins[0]", "every origin", "exact origins"),
        (
            r#"{"allow_origins": ["http://app.example.com"], "allow_credentials": true}"#,
            "allow_origins[0]",
            "plain-HTTP",
            "allow_insecure_origins",
        ),
        (r#"{"allow_origins": ["http://*.example.com"], "allow_credentials": true}"#, "allow_origins[0]", "plain-HTTP", "https://"),
        (r#"{"allow_origins": ["https://a.example/"]}"#, "allow_origins[0]", "trailing slash", "\"https://a.example\""),
        (r#"{"allow_origins": ["https://a.example/x"]}"#, "allow_origins[0]", "no path", "\"https://a.example\""),
        (r#"{"allow_origins": ["ftp://a.example"]}"#, "allow_origins[0]", "https://", "origin such as"),
        (r#"{"allow_origins": ["https://a.example:70000"]}"#, "allow_origins[0]", "invalid port", "1 to 65535"),
        (r#"{"allow_origins": ["https://*.com"]}"#, "allow_origins[0]", "top-level domain", "*.example.com"),
        (r#"{"allow_origins": ["*", "https://a.example"]}"#, "allow_origins", "mixes", "[\"*\"] alone"),
        (r#"{"allow_origins": ["*"], "allow_methods": ["GET POST"]}"#, "allow_methods[0]", "not a valid method", "one name per list entry"),
        (r#"{"allow_origins": ["*"], "allow_methods": ["GET,POST"]}"#, "allow_methods[0]", "not a valid method", "one name"),
        (r#"{"allow_origins": ["*"], "allow_headers": ["x token"]}"#, "allow_headers[0]", "not a valid header", "without spaces"),
        (r#"{"allow_origins": ["*"], "allow_headers": ["*", "x"]}"#, "allow_headers", "mixes", "alone"),
        (r#"{"allow_origins": ["*"], "expose_headers": ["é"]}"#, "expose_headers[0]", "not a valid header", "without spaces"),
        (
            r#"{"allow_origins": ["https://a.example"], "expose_headers": ["*"], "allow_credentials": true}"#,
            "expose_headers",
            "literally",
            "list the response headers",
        ),
        (r#"{"allow_origins": ["*"], "max_age": 86401}"#, "max_age", "0 to 86400", "3600"),
        (r#"{"allow_origins": ["*"], "max_age": -1}"#, "max_age", "0 to 86400", "3600"),
        (r#"{"allow_origins": ["*"], "max_age": 1.5}"#, "max_age", "whole number", "3600"),
        (r#"{"allow_origins": ["*"], "max_age": "3600"}"#, "max_age", "whole number", "3600"),
        (r#"{"allow_origins": ["*"], "allow_credentials": "false"}"#, "allow_credentials", "true or false", "without quotes"),
        (r#"{"allow_origins": ["*"], "allow_orgins": ["x"]}"#, "allow_orgins", "not a known key", "did you mean \"allow_origins\""),
        (r#"{"allow_origins": ["*"], "allowOrigins": ["x"]}"#, "allowOrigins", "not a known key", "did you mean \"allow_origins\""),
        (r#"{"allow_origins": ["*"], "credentials": true}"#, "credentials", "not a known key", "known keys"),
        (r#"{"allow_origins": ["*"], "AllowOrigins": ["*"]}"#, "allow_origins", "given twice (also as \"AllowOrigins\")", "one spelling"),
        // Contract: null with credentials is refused like * with credentials.
        (r#"{"allow_origins": ["null"], "allow_credentials": true}"#, "allow_origins[0]", "null origin", "allow_credentials to false"),
        (
            r#"{"allow_origins": ["https://a.example", "NULL"], "allow_credentials": true}"#,
            "allow_origins[1]",
            "sandboxed iframe",
            "remove \"null\"",
        ),
        // Contract: a key given twice in one object is refused at any depth.
        (
            r#"{"allow_origins": ["https://a.example"], "allow_origins": ["*"]}"#,
            "allow_origins",
            "given twice in the same object",
            "keep one",
        ),
        (r#"{"allow_origins": ["*"], "max_age": 1, "max_age": 2}"#, "max_age", "given twice", "keep one"),
        (r#"{"allow_origins": ["*"], "_x_": 1, "_x_": 2}"#, "_x_", "given twice", "keep one"),
        (
            r#"{"allow_origins": ["*"], "rules": [{"match": {"path_prefix": "/a/"}, "cors": "off"}, {"match": {"path_prefix": "/b/"}, "allow_origins": ["https://a.example"], "allow_credentials": true, "allow_credentials": false}]}"#,
            "rules[1].allow_credentials",
            "given twice",
            "keep one",
        ),
        (
            r#"{"allow_origins": ["*"], "rules": [{"match": {"hosts": ["a.example"], "hosts": ["b.example"]}, "cors": "off"}]}"#,
            "rules[0].match.hosts",
            "given twice",
            "keep one",
        ),
        (
            r#"{"allow_origins": ["*"], "rules": [{"match": {"path_prefix": "/a/"}, "AllowOrigins": ["https://a.example"], "allow_origins": ["https://b.example"]}]}"#,
            "rules[0].allow_origins",
            "given twice (also as \"AllowOrigins\")",
            "one spelling",
        ),
        // Other schemes: exact only.
        (r#"{"allow_origins": ["chrome-extension://*.x"]}"#, "allow_origins[0]", "chrome-extension://", "<extension-id>"),
        (
            r#"{"allow_origins": ["http://app.example.com:*"], "allow_credentials": true}"#,
            "allow_origins[0]",
            "plain-HTTP",
            "allow_insecure_origins",
        ),
        (r#"{"allow_origins": ["http://*.example.com:*"], "allow_credentials": true}"#, "allow_origins[0]", "plain-HTTP", "https://"),
        (r#"{"allow_origins": ["*"], "timing_allow_origin": "yes"}"#, "timing_allow_origin", "true or false", "without quotes"),
        (r#"{"allow_origins": ["*"], "preflight_status": 201}"#, "preflight_status", "204 or 200", "200"),
        (r#"{"allow_origins": ["*"], "preflight_status": "200"}"#, "preflight_status", "204 or 200", "200"),
    ];
    for (json, field, problem, fix) in cases {
        let errs = errors(json);
        let e = errs.iter().find(|e| e.field == *field).unwrap_or_else(|| panic!("{json}: no error for {field} in {errs:?}"));
        assert!(e.problem.contains(problem), "{json}: problem {:?} lacks {problem:?}", e.problem);
        assert!(e.fix.contains(fix), "{json}: fix {:?} lacks {fix:?}", e.fix);
        assert!(!e.value.is_empty(), "{json}: no value shown");
    }
}

#[test]
fn new_origin_forms_and_options_load() {
    let spec = ok(r#"{"allow_origins": ["null"], "allow_credentials": false}"#);
    assert_eq!(spec.origins, vec![OriginEntry::Null], "null without credentials stays allowed");
    ok(r#"{"allow_origins": ["http://localhost:*", "http://[::1]:*", "https://*.example.com:*", "capacitor://localhost",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop"], "allow_credentials": true}"#);
    let spec = ok(r#"{"allow_origins": ["*"], "timing_allow_origin": true, "preflight_status": 200}"#);
    assert!(spec.timing);
    assert_eq!(spec.preflight_status, 200);
    let spec = ok(r#"{"allow_origins": ["*"]}"#);
    assert!(!spec.timing);
    assert_eq!(spec.preflight_status, 204);
}

/// The message names the path of the second occurrence, in one line.
#[test]
fn a_key_given_twice_is_named_by_its_path() {
    let err = parse_config(br#"{"allow_origins": ["*"], "rules": [{"match": {"path_prefix": "/a/"}, "cors": "off"},
        {"match": {"path_prefix": "/b/"}, "allow_origins": ["https://a.example"], "allow_credentials": true, "allow_credentials": false}]}"#)
        .expect_err("twice");
    assert_eq!(
        err.to_string(),
        "invalid edge-cors configuration: rules[1].allow_credentials = false: is given twice in the same object: only one value \
         would apply, so the policy a reviewer reads may not be the one that runs; fix: keep one of them"
    );
}

#[test]
fn every_problem_is_reported_in_one_line() {
    let err = parse(br#"{"allow_origins": ["https://a.example/", "ftp://b"], "max_age": -5, "colour": 1}"#).expect_err("invalid");
    assert_eq!(err.0.len(), 4, "{err}");
    let line = err.to_string();
    assert!(!line.contains('\n'));
    assert!(line.starts_with("invalid edge-cors configuration: "));
    assert!(line.contains("allow_origins[0] = \"https://a.example/\""), "{line}");
    assert!(line.contains("max_age = -5"), "{line}");
    assert!(line.contains("colour = 1: is not a known key"), "{line}");
}

/// Found by `cargo fuzz` (target `config`): a key or an origin with a
/// CR or LF in it went into the message raw, splitting the log line.
#[test]
fn control_characters_never_split_the_message() {
    let err = parse(b"{\"allow_origins\": [\"https://[::1]\\r\\nx\", \"http://loca\\nhost\"], \"allow_\\rcredentials\": true}")
        .expect_err("invalid");
    let line = err.to_string();
    assert!(!line.contains(['\r', '\n']), "{line:?}");
    assert!(line.contains("allow_\\u000dcredentials = true: is not a known key"), "{line}");
    assert!(line.contains("has junk after the IPv6 address: \"\\u000d\\u000ax\""), "{line}");
    assert_eq!(err.0.len(), 3, "{line}");
}

#[test]
fn long_values_are_shortened() {
    let long = "x".repeat(500);
    let errs = errors(&format!(r#"{{"allow_origins": ["*"], "max_age": "{long}"}}"#));
    assert!(errs.iter().all(|e| e.value.len() < 100), "{errs:?}");
}

/// docs/contract.md "Live origins": the source's fields, defaults and refusals.
#[test]
fn origin_source_loads_with_defaults_and_refuses_bad_fields() {
    let spec = ok(r#"{"allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins"}}"#);
    assert!(spec.origins.is_empty(), "a source alone needs no static list");
    let src = spec.source.expect("source");
    assert_eq!((src.authority.as_str(), src.refresh_seconds, src.timeout_ms), ("tenant_origins", 30, 2000));
    let both = ok(r#"{"allow_origins": ["https://app.example.com"], "allow_credentials": true,
        "allow_origins_from": {"cluster": "t", "path": "/o", "authority": "tenants.internal", "refresh_seconds": 60, "timeout_ms": 60000}}"#);
    let src = both.source.expect("source");
    assert_eq!((src.authority.as_str(), src.refresh_seconds, src.timeout_ms), ("tenants.internal", 60, 60000));
    assert_eq!(ok(r#"{"allow_origins": [], "allow_origins_from": {"cluster": "t", "path": "/o"}}"#).origins, vec![]);

    let cases: &[(&str, &str, &str)] = &[
        (r#"{"allow_origins_from": {"path": "/o"}}"#, "allow_origins_from.cluster", "is required"),
        (r#"{"allow_origins_from": {"cluster": "t"}}"#, "allow_origins_from.path", "is required"),
        (r#"{"allow_origins_from": {"cluster": "t", "path": "cors"}}"#, "allow_origins_from.path", "starting with /"),
        (r#"{"allow_origins_from": {"cluster": "", "path": "/o"}}"#, "allow_origins_from.cluster", "cluster"),
        (r#"{"allow_origins_from": {"cluster": 3, "path": "/o"}}"#, "allow_origins_from.cluster", "must be a string"),
        (
            r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "refresh_seconds": 0}}"#,
            "allow_origins_from.refresh_seconds",
            "1 to 86400",
        ),
        (
            r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "refresh_seconds": 86401}}"#,
            "allow_origins_from.refresh_seconds",
            "1 to 86400",
        ),
        (
            r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "refresh_seconds": "30"}}"#,
            "allow_origins_from.refresh_seconds",
            "1 to 86400",
        ),
        (r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "timeout_ms": 60001}}"#, "allow_origins_from.timeout_ms", "1 to 60000"),
        (r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "authority": "a b"}}"#, "allow_origins_from.authority", "host name"),
        (
            r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "refresh": 5}}"#,
            "allow_origins_from.refresh",
            "did you mean \"refresh_seconds\"",
        ),
        (r#"{"allow_origins_from": "http://tenants/o"}"#, "allow_origins_from", "must be an object"),
        (r#"{"allow_origins": ["*"], "allow_origins_from": {"cluster": "t", "path": "/o"}}"#, "allow_origins_from", "no effect"),
        (r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "path": "/p"}}"#, "allow_origins_from.path", "given twice"),
    ];
    for (json, field, problem) in cases {
        let errs = errors(json);
        assert!(
            errs.iter().any(|e| e.field == *field && (e.problem.contains(problem) || e.fix.contains(problem))),
            "{json}: wanted {field} ~ {problem}, got {errs:?}"
        );
    }
    // Rules may have their own source, named by their path.
    let errs = errors(
        r#"{"allow_origins": ["https://a.example"], "rules": [{"match": {"path_prefix": "/t/"}, "allow_origins_from": {"cluster": "t"}}]}"#,
    );
    assert_eq!(errs[0].field, "rules[0].allow_origins_from.path");
}

/// docs/contract.md "Live origins": fetched entries obey the static rules,
/// and the first bad entry refuses the whole answer.
#[test]
fn fetched_origins_are_checked_like_static_ones() {
    let ok = fetched_origins(br#"{"origins": ["https://shop.acme.example", "https://*.tenants.example"]}"#, true, false).unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(fetched_origins(br#"{"origins": []}"#, true, false).unwrap(), vec![]);
    assert_eq!(fetched_origins(br#"{"origins": [], "generated": "2026-12-02"}"#, false, false).unwrap(), vec![]);
    let refused = |body: &str, credentials: bool| fetched_origins(body.as_bytes(), credentials, false).unwrap_err().why;
    // Never a site, whatever the credentials (fetched_entries_are_sites).
    assert!(refused(r#"{"origins": ["https://a.example", "*"]}"#, true).starts_with("origins[1] = \"*\": is not a site"));
    assert!(refused(r#"{"origins": ["null"]}"#, true).starts_with("origins[0] = \"null\": is not a site"));
    assert!(refused(r#"{"origins": ["https://a.example", "http://b.example"]}"#, true)
        .starts_with("origins[1] = \"http://b.example\": is a plain-HTTP origin"));
    assert!(refused(r#"{"origins": ["https://a.example/path"]}"#, false).starts_with("origins[0] = \"https://a.example/path\""));
    assert!(refused(r#"{"origins": ["https://a.example", 7]}"#, false).starts_with("origins[1] = 7: must be a string"));
    assert!(refused(r#"{"origins": "https://a.example"}"#, false).starts_with("origins = \"https://a.example\": must be a list"));
    assert!(refused(r#"["https://a.example"]"#, false).contains("must be a JSON object with a list \"origins\""));
    assert!(refused(r#"{"origins": ["https://a.example"]"#, false).starts_with("the answer is not valid JSON"));
    assert!(refused(r#"{"origins": [], "origins": ["https://a.example"]}"#, false).contains("origins is given twice"));
    // Without credentials, plain HTTP is fine, as in allow_origins (null never: a fetched entry is a site).
    assert_eq!(fetched_origins(br#"{"origins": ["http://b.example"]}"#, false, false).unwrap().len(), 1);
    assert!(fetched_origins(br#"{"origins": ["http://b.example"]}"#, true, true).is_ok(), "allow_insecure_origins applies too");
    // A control character cannot split the log line.
    assert!(!refused("{\"origins\": [\"https://a.example\\n\"]}", false).contains('\n'));
}

/// docs/contract.md "Live origins": a refusal quotes at most 80 characters of
/// anything from the answer, so a hostile answer cannot fill the log (it is
/// logged on every refresh). Found by the `answer` fuzz target.
#[test]
fn fetched_origins_refusals_stay_short_whatever_the_answer() {
    let long = "a".repeat(100_000);
    let refusals = [
        format!(r#"{{"origins": ["{long}"]}}"#),
        format!(r#"{{"origins": ["http://plain.{long}.example"]}}"#),
        format!(r#"{{"origins": ["https://*.{long}"]}}"#),
        format!(r#"{{"origins": ["https://a.example:{long}"]}}"#),
        format!(r#"{{"origins": [" https://{long}.example"]}}"#),
        format!(r#"{{"{long}": 1, "{long}": 2, "origins": []}}"#),
        // Control characters, each escaped as six: cut after escaping.
        format!(r#"{{"origins": ["https://a.example:aaa{}"]}}"#, r"\u007f".repeat(10_000)),
        format!(r#"{{"aaa{0}": 1, "aaa{0}": 2, "origins": []}}"#, r"\u0001".repeat(10_000)),
    ];
    for body in &refusals {
        let why = fetched_origins(body.as_bytes(), true, false).unwrap_err().why;
        assert!(why.len() < 1000, "{} bytes: {:.200}", why.len(), why);
        assert!(why.contains("..."), "the long part is cut, visibly: {why:.200}");
    }
}

/// docs/contract.md "Origins": a wildcard over a public suffix (ICANN or
/// private section) is refused with or without credentials, static or
/// fetched, with the message the command line gives.
#[test]
fn wildcards_over_public_suffixes_are_refused() {
    for (entry, base, section) in [
        ("https://*.vercel.app", "vercel.app", "private"),
        ("https://*.github.io", "github.io", "private"),
        ("https://*.co.uk", "co.uk", "ICANN"),
        ("http://*.github.io:*", "github.io", "private"),
    ] {
        for credentials in [false, true] {
            let json = format!(r#"{{"allow_origins": ["{entry}"], "allow_credentials": {credentials}, "allow_insecure_origins": true}}"#);
            let errs = errors(&json);
            let e = errs.iter().find(|e| e.problem.contains("public suffix")).unwrap_or_else(|| panic!("{json}: {errs:?}"));
            assert_eq!(e.field, "allow_origins[0]");
            assert!(e.problem.starts_with(&format!("\"{base}\" is a public suffix ({section} section of the Public Suffix List)")), "{e}");
            assert!(e.fix.contains(&format!("yours.{base}")), "{e}");
        }
        let body = format!(r#"{{"origins": ["https://shop.example", "{entry}"]}}"#);
        let refusal = fetched_origins(body.as_bytes(), false, true).unwrap_err();
        assert!(refusal.why.contains("is a public suffix"), "{}", refusal.why);
        assert_eq!(refusal.valid.map(|v| v.len()), Some(1), "the valid entry is kept for removals");
    }
    // One label more is somebody's own domain.
    for entry in ["https://*.myteam.github.io", "https://*.shop.co.uk", "https://*.acme.vercel.app", "https://*.example.com"] {
        ok(&format!(r#"{{"allow_origins": ["{entry}"]}}"#));
    }
    // Hosts in match.hosts are the proxy's, not origins: no public-suffix rule.
    assert!(crate::rules::Ruleset::from_json(
        br#"{"allow_origins": ["https://a.example"], "rules": [{"match": {"hosts": ["*.github.io"]}, "cors": "off"}]}"#
    )
    .is_ok());
}

/// docs/contract.md "Live origins": fetched entries are sites, never `*`,
/// `null` or a scheme wildcard, whatever the credentials; the fixes never
/// suggest `"*"` there; shapes and encodings get a hint of their own.
#[test]
fn fetched_entries_are_sites() {
    for entry in ["*", "null", "https://*", "http://*"] {
        for credentials in [false, true] {
            let body = format!(r#"{{"origins": ["https://a.example", "{entry}"]}}"#);
            let refusal = fetched_origins(body.as_bytes(), credentials, false).unwrap_err();
            assert!(refusal.why.starts_with(&format!("origins[1] = \"{entry}\": ")), "{}", refusal.why);
            if !credentials {
                assert!(refusal.why.contains("is not a site"), "{}", refusal.why);
            }
            assert_eq!(refusal.valid.unwrap().len(), 1);
        }
    }
    for bad in ["ftp://a.example", "https://a.example:70000", "a.example", "https://a.*.example"] {
        let why = fetched_origins(format!(r#"{{"origins": ["{bad}"]}}"#).as_bytes(), false, false).unwrap_err().why;
        let fix = why.split("; fix: ").nth(1).unwrap_or_default();
        assert!(!fix.contains("\"*\"") && !fix.contains("https://*\""), "{bad}: {why}");
    }
    let why = fetched_origins(br#"{"origins": [["https://a.example"]]}"#, false, false).unwrap_err().why;
    assert!(why.contains("lists do not nest") && !why.contains("quote it"), "{why}");
    let bom = fetched_origins(b"\xEF\xBB\xBF{\"origins\": []}", false, false).unwrap_err().why;
    assert!(bom.contains("byte-order mark"), "{bom}");
    let gzip = fetched_origins(b"\x1F\x8B\x08\x00\x00\x00", false, false).unwrap_err().why;
    assert!(gzip.contains("gzip"), "{gzip}");
    // Still fine for the policy's own list, without credentials.
    ok(r#"{"allow_origins": ["https://*", "null"]}"#);
}

/// docs/contract.md "Live origins": Istio's cluster names are not hosts, so
/// the default authority is their host part; a name that is neither needs
/// `authority`. A timeout longer than the refresh is refused; a refused
/// source does not make an empty allow_origins a second error.
#[test]
fn source_authority_and_timing() {
    let src = |json: &str| ok(json).source.unwrap();
    assert_eq!(
        src(r#"{"allow_origins_from": {"cluster": "outbound|8080||tenants.default.svc.cluster.local", "path": "/o"}}"#).authority,
        "tenants.default.svc.cluster.local"
    );
    assert_eq!(
        src(r#"{"allow_origins_from": {"cluster": "outbound|8080|v1|tenants.prod.svc.cluster.local", "path": "/o"}}"#).authority,
        "tenants.prod.svc.cluster.local"
    );
    assert_eq!(src(r#"{"allow_origins_from": {"cluster": "tenant_origins", "path": "/o"}}"#).authority, "tenant_origins");
    assert_eq!(
        src(r#"{"allow_origins_from": {"cluster": "outbound|8080||t.svc", "path": "/o", "authority": "t.internal:8080"}}"#).authority,
        "t.internal:8080"
    );
    let errs = errors(r#"{"allow_origins_from": {"cluster": "tenants/origins", "path": "/o"}}"#);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].field, "allow_origins_from.authority");
    assert!(errs[0].problem.contains("is not a host name"), "{}", errs[0]);
    let errs = errors(r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "refresh_seconds": 5, "timeout_ms": 6000}}"#);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].field == "allow_origins_from.timeout_ms" && errs[0].problem.contains("longer than refresh_seconds (5 s)"),
        "{}",
        errs[0]
    );
    assert_eq!(src(r#"{"allow_origins_from": {"cluster": "t", "path": "/o", "refresh_seconds": 1}}"#).timeout_ms, 1000, "the default fits");
    let errs = errors(r#"{"allow_origins": [], "allow_origins_from": {"cluster": "t", "path": "/o", "refresh_seconds": 0}}"#);
    assert_eq!(errs.len(), 1, "only the refresh is wrong: {errs:?}");
    assert_eq!(errs[0].field, "allow_origins_from.refresh_seconds");
}

/// docs/contract.md "Rules": `ignore_port_in_host_matching` mirrors Envoy's
/// option (hosts ignore the request's port; an entry with a port is refused
/// as it would never match); `match.case_sensitive: false` mirrors a route's
/// `case_sensitive: false`.
#[test]
fn route_table_options_are_mirrored() {
    let rules = r#""rules": [{"name": "pay", "match": {"hosts": ["pay.example.com"]}, "allow_origins": ["https://checkout.example.com"]},
                          {"name": "admin", "match": {"path_prefix": "/admin/", "case_sensitive": false}, "cors": "off"}]"#;
    let plain = crate::rules::Ruleset::from_json(format!(r#"{{"allow_origins": ["https://a.example"], {rules}}}"#).as_bytes()).unwrap();
    let ignoring = crate::rules::Ruleset::from_json(
        format!(r#"{{"allow_origins": ["https://a.example"], "ignore_port_in_host_matching": true, {rules}}}"#).as_bytes(),
    )
    .unwrap();
    let name = |r: &crate::rules::Ruleset, host: &str, path: &str| {
        r.rule_name(r.route(Some(host.as_bytes()), Some(path.as_bytes()), None)).to_string()
    };
    assert_eq!(name(&plain, "pay.example.com:8443", "/"), "default");
    assert_eq!(name(&ignoring, "pay.example.com:8443", "/"), "pay");
    assert_eq!(name(&ignoring, "pay.example.com", "/"), "pay");
    assert_eq!(name(&plain, "x", "/ADMIN/users"), "admin");
    assert_eq!(name(&plain, "x", "/Admin/"), "admin");
    assert_eq!(name(&plain, "x", "/admins"), "default");
    let errs = errors(
        r#"{"allow_origins": ["https://a.example"], "ignore_port_in_host_matching": true,
        "rules": [{"match": {"hosts": ["pay.example.com:8443"]}, "cors": "off"}]}"#,
    );
    assert!(errs.iter().any(|e| e.field == "rules[0].match.hosts" && e.problem.contains("never match")), "{errs:?}");
    let errs = errors(r#"{"allow_origins": ["https://a.example"], "ignore_port_in_host_matching": "yes"}"#);
    assert_eq!(errs[0].field, "ignore_port_in_host_matching");
    let errs = errors(
        r#"{"allow_origins": ["https://a.example"], "rules": [{"match": {"hosts": ["a"], "case_sensitive": false}, "cors": "off"}]}"#,
    );
    assert!(errs.iter().any(|e| e.field == "rules[0].match.case_sensitive"), "{errs:?}");
    // An earlier rule ignoring case hides a later one of any case; not the reverse.
    let errs = errors(
        r#"{"allow_origins": ["https://a.example"], "rules": [
        {"match": {"path_prefix": "/API/", "case_sensitive": false}, "cors": "off"},
        {"match": {"path_prefix": "/api/v1/"}, "cors": "off"}]}"#,
    );
    assert!(errs.iter().any(|e| e.problem.contains("can never match")), "{errs:?}");
    assert!(crate::rules::Ruleset::from_json(
        br#"{"allow_origins": ["https://a.example"], "rules": [
        {"match": {"path_prefix": "/api/"}, "cors": "off"},
        {"match": {"path_prefix": "/api/v1/", "case_sensitive": false}, "cors": "off"}]}"#
    )
    .is_ok());
}

/// Contract: "Cross-origin writes": the key is a boolean, per policy, and
/// refused where every origin is allowed (it could never refuse anything).
#[test]
fn block_cross_origin_writes_is_refused_where_it_has_no_effect() {
    assert!(ok(r#"{"allow_origins": ["https://a.example"], "block_cross_origin_writes": true}"#).block_writes);
    assert!(!ok(r#"{"allow_origins": ["https://a.example"]}"#).block_writes);
    let e = errors(r#"{"allow_origins": ["*"], "block_cross_origin_writes": true}"#);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].field, "block_cross_origin_writes");
    assert!(e[0].problem.contains("every origin may write"), "{}", e[0].problem);
    let e = errors(r#"{"allow_origins": ["https://a.example"], "block_cross_origin_writes": "yes"}"#);
    assert_eq!(e[0].field, "block_cross_origin_writes");
    let rules = crate::rules::Ruleset::from_json(
        br#"{"allow_origins": ["*"], "rules": [{"name": "api", "match": {"path_prefix": "/api/"},
            "allow_origins": ["https://a.example"], "block_cross_origin_writes": true}]}"#,
    );
    assert!(rules.is_ok(), "per rule");
}
