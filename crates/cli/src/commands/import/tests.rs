//! Each source's conversion: the policy it becomes and the differences,
//! refusals and widenings it reports.

use serde_json::{json, Map};

use super::*;

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("an object"),
    }
}

fn policy(i: &Imported) -> Value {
    Value::Object(i.policy.iter().cloned().collect())
}

fn says(i: &Imported, part: &str) -> bool {
    i.differences.iter().any(|d| d.contains(part))
}

#[test]
fn envoy_suffixes_and_prefixes_narrow_with_notes() {
    let cors = json!({
        "allow_origin_string_match": [{"suffix": ".example.com"}, {"prefix": "https://app.example.org"}],
        "allow_methods": "GET, PUT", "max_age": "90000", "forward_not_matching_preflights": false,
    });
    let i = envoy::convert("here", &object(cors));
    assert!(i.refusals.is_empty() && i.wider.is_empty(), "{:?} {:?}", i.refusals, i.wider);
    assert_eq!(
        policy(&i),
        json!({"allow_origins": ["https://*.example.com", "https://app.example.org"], "allow_methods": ["GET", "PUT"], "max_age": 86400})
    );
    assert!(says(&i, "also matched http:// origins"));
    assert!(says(&i, "look-alikes such as https://app.example.org.evil.test"));
    assert!(says(&i, "it became 86400"));
    assert!(says(&i, "forward_not_matching_preflights: false made Envoy answer"));
}

#[test]
fn envoy_refuses_a_substring_match() {
    let i = envoy::convert("here", &object(json!({"allow_origin_string_match": [{"contains": "example"}]})));
    assert_eq!(i.refusals.len(), 1);
    assert!(i.refusals[0].contains("substring"), "{:?}", i.refusals);
}

#[test]
fn istio_reads_camel_case_and_its_own_preflight_setting() {
    let cors = json!({"allowOrigins": [{"exact": "https://a.example"}], "allowCredentials": true, "maxAge": "1h", "unmatchedPreflights": "IGNORE"});
    let i = istio::convert("vs", &object(cors));
    assert_eq!(policy(&i), json!({"allow_origins": ["https://a.example"], "max_age": 3600, "allow_credentials": true}));
    assert!(says(&i, "unmatchedPreflights: IGNORE"));
    assert!(says(&i, "Istio answered allowed preflights with 200"));
}

#[test]
fn aws_keeps_the_meaning_and_says_the_spelling_changed() {
    let f = Found::new("api".into(), "AWS CorsConfiguration", object(json!({"AllowOrigins": ["https://a.example"], "MaxAge": 5})));
    let i = aws::convert(f);
    assert_eq!(policy(&i), json!({"allow_origins": ["https://a.example"], "max_age": 5}));
    assert!(says(&i, "the AWS spelling (AllowOrigins...) became edge-cors's"));
    let empty = aws::convert(Found::new("api".into(), "AWS CorsConfiguration", Map::new()));
    assert_eq!(empty.refusals, ["the CORS configuration is empty"]);
}

#[test]
fn gateway_api_says_its_default_max_age_and_its_scope() {
    let i = gateway_api::convert("rules[0].filters[0].cors", &object(json!({"allowOrigins": ["https://App.example.com:443"]})));
    assert_eq!(policy(&i), json!({"allow_origins": ["https://app.example.com"]}));
    assert!(says(&i, "the Gateway API default of 5 seconds"));
    assert!(says(&i, "the HTTPRoute rule it sits in (rules[0].filters[0].cors)"));
    assert!(says(&i, "is matched as \"https://app.example.com\""));
    assert!(!says(&i, "answered allowed preflights with 200"), "a specification, not Envoy's filter");
}

#[test]
fn envoy_gateway_names_its_targets_and_what_widens() {
    let sp = json!({"kind": "SecurityPolicy", "spec": {
        "targetRefs": [{"kind": "HTTPRoute", "name": "api"}],
        "cors": {"allowOrigins": ["https://*.example.com", "https://localhost:*"], "maxAge": "10m"}}});
    let i = envoy_gateway::convert("spec.cors", &object(sp));
    assert_eq!(policy(&i), json!({"allow_origins": ["https://*.example.com", "https://localhost:*"], "max_age": 600}));
    assert!(says(&i, "the SecurityPolicy applied to the routes of HTTPRoute/api"));
    assert_eq!(i.wider.len(), 1, "a port * also allows the default port: {:?}", i.wider);
}

#[test]
fn a_source_of_another_kind_is_named_with_its_flag() {
    let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/istio-virtualservice.yaml");
    let hint = ImportSource::Envoy.wrong_kind(&fixture).unwrap_or_default();
    assert!(hint.contains("use --from istio"), "{hint}");
    assert_eq!(ImportSource::Istio.wrong_kind(&fixture), None);
}
