//! render's values: the policy's fields, the manifests built from them,
//! the module notes and the `--sha256` argument.

use serde_json::json;

use super::manifests::ModuleCode;
use super::*;

fn fields() -> Vec<(String, Value)> {
    let object = json!({"AllowMethods": ["GET"], "_comment": "dropped", "allow_origins": ["https://a.example"], "max_age": 60});
    canonical(object.as_object().unwrap_or_else(|| panic!("an object")))
}

fn docs(yaml: &str) -> Vec<serde_norway::Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{e}\n{yaml}")))
        .collect()
}

#[test]
fn canonical_fields_use_engine_keys_in_reading_order() {
    let keys: Vec<String> = fields().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["allow_origins", "allow_methods", "max_age"]);
    assert_eq!(
        policy_json(&fields(), ""),
        "{\n  \"allow_origins\": [\"https://a.example\"],\n  \"allow_methods\": [\"GET\"],\n  \"max_age\": 60\n}"
    );
}

#[test]
fn the_envoy_filter_carries_the_policy_as_a_json_string() {
    let yaml = EnvoyFilter { policy: &fields(), module: "/m.wasm" }.yaml();
    let [doc] = docs(&yaml).try_into().unwrap_or_else(|d: Vec<_>| panic!("{} documents", d.len()));
    let wasm = &doc["http_filters"][0]["typed_config"]["config"];
    assert_eq!(wasm["vm_config"]["code"]["local"]["filename"].as_str(), Some("/m.wasm"));
    let policy: serde_json::Value =
        serde_json::from_str(wasm["configuration"]["value"].as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy["allow_origins"], json!(["https://a.example"]));
    assert_eq!(doc["http_filters"][1]["name"].as_str(), Some("envoy.filters.http.router"));
}

#[test]
fn the_istio_plugin_pins_its_digest_only_when_given() {
    let plugin = |sha256| WasmPlugin { policy: &fields(), module: "oci://r/e:1", namespace: "edge", sha256 }.yaml();
    let pinned = &docs(&plugin(Some("ab12")))[0];
    assert_eq!(pinned["spec"]["sha256"].as_str(), Some("ab12"));
    assert_eq!(pinned["metadata"]["namespace"].as_str(), Some("edge"));
    assert_eq!(pinned["spec"]["pluginConfig"]["max_age"].as_u64(), Some(60));
    assert!(docs(&plugin(None))[0]["spec"].get("sha256").is_none());
}

#[test]
fn envoy_gateway_fetches_urls_over_http_and_the_rest_as_images() {
    assert_eq!(ModuleCode::of("https://x.test/m.wasm"), ModuleCode::Http);
    assert_eq!(ModuleCode::of("http://x.test/m.wasm"), ModuleCode::Http);
    assert_eq!(ModuleCode::of("ghcr.io/acme/edge-cors:1"), ModuleCode::Image);
    let policy = GatewayPolicy { policy: &fields(), module: "https://x.test/m.wasm", namespace: "ns", gateway: "gw", sha256: Some("cd") };
    let docs = docs(&policy.yaml());
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["EnvoyExtensionPolicy", "EnvoyProxy", "Gateway"]);
    let code = &docs[0]["spec"]["wasm"][0]["code"];
    assert_eq!(
        (code["type"].as_str(), code["http"]["url"].as_str(), code["http"]["sha256"].as_str()),
        (Some("HTTP"), Some("https://x.test/m.wasm"), Some("cd"))
    );
    assert_eq!(docs[2]["metadata"]["name"].as_str(), Some("gw"));
}

#[test]
fn sha256_digests_are_64_hex_digits_in_lower_case() {
    let hex = "AB".repeat(32);
    assert_eq!(parse_sha256(&format!("sha256:{hex}")), Ok("ab".repeat(32)));
    assert!(parse_sha256("abc").is_err());
    assert!(parse_sha256(&"g".repeat(64)).is_err());
}

#[test]
fn module_notes_warn_of_placeholders_and_refuse_a_digest_for_a_file() {
    assert!(module_notes(RenderTarget::Envoy, true, true).is_err());
    assert!(matches!(module_notes(RenderTarget::Istio, false, false), Ok(s) if s.contains("placeholder")));
    assert!(matches!(module_notes(RenderTarget::Istio, true, false), Ok(s) if s.contains("not pinned")));
    assert!(matches!(module_notes(RenderTarget::EnvoyGateway, true, true), Ok(s) if s.is_empty()));
    assert!(matches!(module_notes(RenderTarget::EnvoyBootstrap, false, false), Ok(s) if s.is_empty()));
}
