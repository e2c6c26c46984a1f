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

fn ingress(name: &str, annotations: Value, host: &str, path: &str, kind: &str) -> find::Block {
    let o = json!({"kind": "Ingress", "metadata": {"name": name, "annotations": annotations},
        "spec": {"rules": [{"host": host, "http": {"paths": [{"path": path, "pathType": kind}]}}]}});
    find::Block { location: name.into(), object: object(o) }
}

fn rules(i: &Imported) -> Vec<Value> {
    policy(i)["rules"].as_array().cloned().unwrap_or_default()
}

#[test]
fn ingress_nginx_defaults_and_star_with_credentials() {
    let i = ingress_nginx::convert_for_tests(&[ingress(
        "web",
        json!({"nginx.ingress.kubernetes.io/enable-cors": "true"}),
        "web.example.com",
        "/",
        "Prefix",
    )]);
    assert!(i.refusals.is_empty() && i.wider.is_empty(), "{:?} {:?}", i.refusals, i.wider);
    let r = rules(&i);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["match"], json!({"hosts": ["web.example.com"]}));
    // `*` with ingress-nginx's default credentials: browsers refused credentialed calls.
    assert_eq!(r[0]["allow_origins"], json!(["*"]));
    assert!(r[0].get("allow_credentials").is_none(), "{}", r[0]);
    assert_eq!(r[0]["allow_methods"], json!(["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]));
    assert_eq!(r[0]["max_age"], 86400);
    assert!(says(&i, "which browsers refuse for a credentialed request"));
    assert!(says(&i, "absent annotations took ingress-nginx's defaults"));
    assert!(!says(&i, "echoed the request's origin"), "ingress-nginx answered * as *");
}

#[test]
fn ingress_nginx_rules_per_path_where_a_host_differs() {
    let cors = |o: &str| json!({"nginx.ingress.kubernetes.io/enable-cors": "true", "nginx.ingress.kubernetes.io/cors-allow-origin": o});
    let i = ingress_nginx::convert_for_tests(&[
        ingress("v1", cors("https://a.example.com"), "api.example.com", "/v1/", "Prefix"),
        ingress("web", json!({}), "api.example.com", "/", "Prefix"),
        ingress("bytes", cors("https://b.example.com"), "api.example.com", "/static", "ImplementationSpecific"),
    ]);
    assert!(i.refusals.is_empty(), "{:?}", i.refusals);
    let matches: Vec<Value> = rules(&i).iter().map(|r| r["match"].clone()).collect();
    assert_eq!(
        matches,
        [
            // Longer paths first.
            json!({"hosts": ["api.example.com"], "path_prefix": "/static"}),
            json!({"hosts": ["api.example.com"], "path_separated_prefix": "/v1"}),
            json!({"hosts": ["api.example.com"]}),
        ]
    );
    assert_eq!(rules(&i)[2]["cors"], "off");
    assert!(says(&i, "Ingress web has no enable-cors: \"true\""), "{:?}", i.differences);
}

#[test]
fn ingress_nginx_exact_paths_and_one_label_wildcards_are_wider() {
    let cors = |o: &str| json!({"nginx.ingress.kubernetes.io/enable-cors": "true", "nginx.ingress.kubernetes.io/cors-allow-origin": o});
    let i = ingress_nginx::convert_for_tests(&[
        ingress("v1", cors("https://a.example.com"), "api.example.com", "/v1", "Prefix"),
        ingress("login", cors("https://*.example.com"), "api.example.com", "/v1/login", "Exact"),
    ]);
    assert_eq!(rules(&i)[0]["match"], json!({"hosts": ["api.example.com"], "path_separated_prefix": "/v1/login"}));
    assert_eq!(i.wider_paths.len(), 1, "{:?}", i.wider_paths);
    assert!(i.wider_paths[0].contains("also covers what is under it (/v1/login/...)"), "{:?}", i.wider_paths);
    assert_eq!(i.wider.len(), 1, "one label became any depth: {:?}", i.wider);
}

#[test]
fn ingress_nginx_without_cors_is_no_policy() {
    let i = ingress_nginx::convert_for_tests(&[ingress(
        "web",
        json!({"nginx.ingress.kubernetes.io/enable-cors": "false", "nginx.ingress.kubernetes.io/cors-allow-origin": "https://a.example"}),
        "web.example.com",
        "/",
        "Prefix",
    )]);
    assert!(i.policy.is_empty());
    assert_eq!(i.refusals.len(), 1);
    assert!(i.refusals[0].contains("enable-cors: \"false\", not \"true\"") && i.refusals[0].contains("ignored its cors-* annotations"));
}

#[test]
fn ingress_nginx_invalid_lists_fall_back_to_defaults() {
    let a = json!({"nginx.ingress.kubernetes.io/enable-cors": "true", "nginx.ingress.kubernetes.io/cors-allow-origin": "https://a.example",
        "nginx.ingress.kubernetes.io/cors-allow-headers": "*", "nginx.ingress.kubernetes.io/cors-allow-credentials": "false"});
    let i = ingress_nginx::convert_for_tests(&[ingress("web", a, "web.example.com", "/", "Prefix")]);
    assert_eq!(rules(&i)[0]["allow_headers"][0], "DNT");
    assert!(says(&i, "cors-allow-headers \"*\" is not a list ingress-nginx accepts"));
}

#[test]
fn gateway_api_rules_differ_so_each_becomes_a_rule() {
    let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/gateway-api-httproute-rules.yaml");
    let Ok(mut imported) = gateway_api::import(&fixture) else { panic!("reads") };
    assert_eq!(imported.len(), 1);
    let i = imported.remove(0);
    assert!(i.refusals.is_empty(), "{:?}", i.refusals);
    let r = rules(&i);
    let names: Vec<&str> = r.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["shop-rule1-match1", "shop-rule0", "shop-rule1-match0", "shop-rule2"]);
    assert_eq!(r[1]["match"], json!({"hosts": ["shop.example.com"], "path_separated_prefix": "/cors-1"}));
    assert_eq!(r[3]["cors"], "off");
    assert_eq!(policy(&i)["allow_origins"], json!(["https://app.example.com"]), "the top level copies the first filter");
    assert!(says(&i, "Access-Control-Expose-Headers on preflight answers"));
    // The route with one policy everywhere stays one policy.
    let single = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/gateway-api-httproute.yaml");
    let Ok(two) = gateway_api::import(&single) else { panic!("reads") };
    assert_eq!(two.len(), 2);
    assert!(policy(&two[0]).get("rules").is_none());
}

#[test]
fn gateway_api_refuses_header_matches_in_rules() {
    let route = json!({"rules": [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/a"}, "headers": [{"name": "x", "value": "y"}]}],
         "filters": [{"type": "CORS", "cors": {"allowOrigins": ["https://a.example"]}}]},
        {"matches": [{"path": {"type": "RegularExpression", "value": "/b.*"}}]}]});
    let i = gateway_api::convert_routes_for_tests(object(route));
    assert_eq!(i.refusals.len(), 2, "{:?}", i.refusals);
    assert!(i.refusals[0].contains("matches by headers"));
    assert!(i.refusals[1].contains("path type RegularExpression"));
}

#[test]
fn star_headers_widen_where_the_source_kept_authorization_out() {
    let envoy =
        envoy::convert("here", &object(json!({"allow_origin_string_match": [{"exact": "https://a.example"}], "allow_headers": "*"})));
    assert_eq!(envoy.wider_headers.len(), 1, "{:?}", envoy.wider_headers);
    assert!(envoy.wider_headers[0].contains("never covers Authorization"));
    // Named beside it: Authorization was allowed already.
    let named = envoy::convert(
        "here",
        &object(json!({"allow_origin_string_match": [{"exact": "https://a.example"}], "allow_headers": "*, authorization"})),
    );
    assert!(named.wider_headers.is_empty());
    // The Gateway API answers * with the requested headers under credentials.
    let gw = |creds: bool| {
        gateway_api::convert("r", &object(json!({"allowOrigins": ["https://a.example"], "allowHeaders": ["*"], "allowCredentials": creds})))
    };
    assert_eq!(gw(false).wider_headers.len(), 1);
    assert!(gw(true).wider_headers.is_empty());
    let aws = aws::convert(Found::new(
        "api".into(),
        "AWS CorsConfiguration",
        object(json!({"AllowOrigins": ["https://a.example"], "AllowHeaders": ["*"]})),
    ));
    assert_eq!(aws.wider_headers.len(), 1);
    let eg = envoy_gateway::convert(
        "spec.cors",
        &object(
            json!({"kind": "SecurityPolicy", "spec": {"cors": {"allowOrigins": ["https://a.example"], "allowHeaders": ["*"], "allowCredentials": true}}}),
        ),
    );
    assert!(eg.wider_headers[0].contains("literally named *"), "{:?}", eg.wider_headers);
    // Refused with credentials even with --accept-wider; without them, only when told.
    assert!(matches!(widening(&eg, true), Some(Err(e)) if e.contains("does not apply to a policy with credentials")));
    assert!(matches!(widening(&aws, false), Some(Err(e)) if e.contains("request headers the source did not")));
    assert!(matches!(widening(&aws, true), Some(Ok(()))));
}
