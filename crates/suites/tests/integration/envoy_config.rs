//! Invalid policies make a real Envoy refuse the filter at start-up, with
//! the filter's own one-line explanation in Envoy's log.

use edge_cors_suites as common;

use std::thread;

use common::*;

/// (configuration, text the log line must contain)
const INVALID: &[(&str, &str)] = &[
    ("", "no CORS policy given"),
    ("{}", "allow_origins = (absent): is required"),
    ("{\"allow_origins\": [\"https://a.example\"", "is not valid JSON"),
    (
        r#"{"allow_origins": ["*"], "allow_credentials": true}"#,
        "allow_origins[0] = \"*\": allows every origin while allow_credentials is true",
    ),
    (
        r#"{"allow_origins": ["http://app.example.com"], "allow_credentials": true}"#,
        "is a plain-HTTP origin while allow_credentials is true",
    ),
    (r#"{"allow_origins": ["https://app.example.com/"]}"#, "fix: write \"https://app.example.com\""),
    (r#"{"allow_origins": ["https://*.com"]}"#, "top-level domain"),
    (
        r#"{"allow_origins": ["https://a.example"], "allow_methods": ["GET POST"]}"#,
        "allow_methods[0] = \"GET POST\": is not a valid method",
    ),
    (r#"{"allow_origins": ["https://a.example"], "allow_headers": ["x y"]}"#, "allow_headers[0] = \"x y\": is not a valid header name"),
    (
        r#"{"allow_origins": ["https://a.example"], "max_age": 100000}"#,
        "max_age = 100000: must be a whole number of seconds from 0 to 86400",
    ),
    (
        r#"{"allow_origins": ["https://a.example"], "allow_orgins": ["x"]}"#,
        "allow_orgins = [\"x\"]: is not a known key; fix: did you mean \"allow_origins\"?",
    ),
    // docs/contract.md "Configuration": null with credentials, keys given twice, gateway rules.
    (
        r#"{"allow_origins": ["https://a.example", "null"], "allow_credentials": true}"#,
        "allow_origins[1] = \"null\": allows the null origin while allow_credentials is true",
    ),
    (
        r#"{"allow_origins": ["https://a.example"], "rules": [{"match": {"path_prefix": "/a/"}, "allow_origins": ["https://b.example"], "max_age": 1, "max_age": 2}]}"#,
        "rules[0].max_age = 2: is given twice in the same object",
    ),
    (
        r#"{"allow_origins": ["https://a.example"], "_rules_": [{"_match_service_": ["s"], "allow_origins": ["https://b.example"]}]}"#,
        "_rules_[0]._match_service_ = [\"s\"]: is a gateway match that edge-cors cannot apply",
    ),
    (r#"{"allow_origins": ["https://a.example"], "preflight_status": 201}"#, "preflight_status = 201: must be 204 or 200"),
    // docs/contract.md "Origins": the module holds the Public Suffix List.
    (
        r#"{"allow_origins": ["https://*.vercel.app"], "allow_credentials": true}"#,
        "allow_origins[0] = \"https://*.vercel.app\": \"vercel.app\" is a public suffix (private section of the Public Suffix List)",
    ),
    (r#"{"allow_origins": ["https://*.co.uk"]}"#, "\"co.uk\" is a public suffix (ICANN section of the Public Suffix List)"),
];

#[test]
fn envoy_refuses_each_invalid_policy_with_the_filters_message() {
    let upstream = Upstream::start();
    // Two at a time: each start compiles the module in V8.
    for pair in INVALID.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|(config, expected)| {
                let port = upstream.port;
                thread::spawn(move || {
                    let started = Envoy::start(&[Listener { name: "bad", config }], port);
                    (config, expected, started)
                })
            })
            .collect();
        for h in handles {
            let (config, expected, started) = h.join().unwrap();
            match started {
                Started::Running(envoy) => {
                    envoy.stop();
                    panic!("Envoy accepted the invalid policy {config:?}");
                }
                Started::Exited { code, log } => {
                    assert_ne!(code, Some(0), "{config:?}: Envoy exited 0");
                    let line = log
                        .lines()
                        .find(|l| l.contains("invalid edge-cors configuration"))
                        .unwrap_or_else(|| panic!("{config:?}: no edge-cors error in the log:\n{log}"));
                    assert!(line.contains(expected), "{config:?}: log line lacks {expected:?}:\n{line}");
                    println!("refused {config:?}\n    {}", line.split("invalid edge-cors").nth(1).unwrap_or(line));
                }
            }
        }
    }
}

#[test]
fn a_valid_policy_starts() {
    let upstream = Upstream::start();
    let envoy = Envoy::expect_running(&[Listener { name: "good", config: r#"{"allow_origins": ["https://a.example"]}"# }], upstream.port);
    let r = get(&envoy.url("good", "/api/x"), &[("Origin", "https://a.example")]);
    assert_eq!(r.one("access-control-allow-origin"), Some("https://a.example"));
    assert!(!envoy.log().contains("invalid edge-cors configuration"));
    envoy.stop();
}

/// The common copy-paste from Istio: the policy as a protobuf Struct. Envoy
/// hands the filter protobuf bytes; the refusal says to use a StringValue.
#[test]
fn a_struct_configuration_is_refused_with_the_fix() {
    common::wasm_only!("the dynamic module receives a Struct as JSON text, which it reads like the string");
    let upstream = Upstream::start();
    let listener = Listener { name: "structured", config: r#"{"allow_origins": ["*"]}"# }.yaml().build().replace(
        "\"@type\": type.googleapis.com/google.protobuf.StringValue\n                  value: \"{\\\"allow_origins\\\": [\\\"*\\\"]}\"",
        "\"@type\": type.googleapis.com/google.protobuf.Struct\n                  value: { allow_origins: [\"*\"] }",
    );
    assert!(listener.contains("google.protobuf.Struct"), "the template changed:\n{listener}");
    let port = upstream.port;
    match Envoy::start_bootstrap(|_| bootstrap_yaml(&[listener], port), 1, &[]) {
        Started::Running(envoy) => {
            envoy.stop();
            panic!("Envoy accepted a Struct configuration");
        }
        Started::Exited { log, .. } => {
            let line = log.lines().find(|l| l.contains("invalid edge-cors configuration")).unwrap_or_else(|| panic!("{log}"));
            assert!(line.contains("give it as a google.protobuf.StringValue holding the JSON policy"), "{line}");
        }
    }
}
