//! render's values: the policy's fields, the manifests built from them,
//! the module notes and the `--sha256` argument.

use serde_json::json;

use super::manifests::ModuleCode;
use super::*;

/// A fixture of crates/cli/fixtures, checked as `render` checks it.
fn checked(name: &str) -> check::Checked {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    check::load_one(&path, "one").unwrap_or_else(|Fatal(e)| panic!("{e}"))
}

/// A YAML value as JSON, to compare with `json!`.
fn as_json(v: &serde_norway::Value) -> serde_json::Value {
    serde_norway::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}"))
}

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
    let yaml = EnvoyFilter { policy: &fields(), module: "/m.wasm", shell: Shell::Wasm }.yaml();
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
    assert!(module_notes(RenderTarget::Envoy, Shell::Wasm, true, true).is_err());
    assert!(matches!(module_notes(RenderTarget::Istio, Shell::Wasm, false, false), Ok(s) if s.contains("placeholder")));
    assert!(matches!(module_notes(RenderTarget::Istio, Shell::Wasm, true, false), Ok(s) if s.contains("not pinned")));
    assert!(matches!(module_notes(RenderTarget::EnvoyGateway, Shell::Wasm, true, true), Ok(s) if s.is_empty()));
    assert!(matches!(module_notes(RenderTarget::EnvoyBootstrap, Shell::Wasm, false, false), Ok(s) if s.is_empty()));
}

#[test]
fn the_module_filter_is_the_dynamic_module_with_the_policy_as_a_json_string() {
    let yaml = EnvoyFilter { policy: &fields(), module: "/m.so", shell: Shell::Module }.yaml();
    assert!(!yaml.contains("{{"), "every placeholder filled:\n{yaml}");
    let [doc] = docs(&yaml).try_into().unwrap_or_else(|d: Vec<_>| panic!("{} documents", d.len()));
    let filter = &doc["http_filters"][0];
    assert_eq!(filter["name"].as_str(), Some("edge-cors"));
    let config = &filter["typed_config"];
    assert_eq!(config["@type"].as_str(), Some("type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter"));
    assert_eq!(as_json(&config["dynamic_module_config"]), json!({"name": "edge_cors", "module": {"local": {"filename": "/m.so"}}}));
    // The module refuses any other filter_name at load.
    assert_eq!(config["filter_name"].as_str(), Some("edge-cors"));
    assert_eq!(config["filter_config"]["@type"].as_str(), Some("type.googleapis.com/google.protobuf.StringValue"));
    let value = config["filter_config"]["value"].as_str().unwrap_or_default();
    let policy: serde_json::Value = serde_json::from_str(value).unwrap_or_else(|e| panic!("{e}: {value}"));
    assert_eq!(policy, json!({"allow_origins": ["https://a.example"], "allow_methods": ["GET"], "max_age": 60}));
    // The same JSON text as the wasm filter's configuration.
    assert_eq!(value, format!("{}\n", policy_json(&fields(), "")));
    assert_eq!(doc["http_filters"][1]["name"].as_str(), Some("envoy.filters.http.router"));
    assert!(!yaml.contains("envoy.filters.http.wasm") && !yaml.contains(".wasm"), "{yaml}");
}

#[test]
fn envoy_gateway_registers_the_dynamic_module_and_runs_it_on_the_gateway() {
    let policy = GatewayModulePolicy { policy: &fields(), module: "/mods/libedge_cors.so", namespace: "ns", gateway: "gw" };
    let yaml = policy.yaml();
    assert!(!yaml.contains("{{"), "every placeholder filled:\n{yaml}");
    let docs = docs(&yaml);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["EnvoyProxy", "Gateway", "EnvoyExtensionPolicy"]);
    for d in &docs {
        assert_eq!(d["metadata"]["namespace"].as_str(), Some("ns"), "{d:?}");
    }
    let (proxy, gateway, eep) = (&docs[0], &docs[1], &docs[2]);
    assert_eq!(proxy["apiVersion"].as_str(), Some("gateway.envoyproxy.io/v1alpha1"));
    assert_eq!(
        as_json(&proxy["spec"]["dynamicModules"]),
        json!([{"name": "edge-cors", "source": {"type": "Local", "local": {"path": "/mods/libedge_cors.so"}},
                "doNotClose": true, "loadGlobally": false}])
    );
    let order = &proxy["spec"]["filterOrder"][0];
    assert_eq!(
        (order["name"].as_str(), order["before"].as_str()),
        (Some("envoy.filters.http.dynamic_modules"), Some("envoy.filters.http.ext_authz"))
    );
    // The Gateway references the EnvoyProxy; the policy targets the Gateway.
    assert_eq!(gateway["metadata"]["name"].as_str(), Some("gw"));
    assert_eq!(gateway["spec"]["infrastructure"]["parametersRef"]["name"], proxy["metadata"]["name"]);
    assert_eq!(eep["apiVersion"].as_str(), Some("gateway.envoyproxy.io/v1alpha1"));
    assert_eq!(as_json(&eep["spec"]["targetRefs"]), json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}]));
    assert!(eep["spec"].get("wasm").is_none());
    let module = &eep["spec"]["dynamicModule"][0];
    assert_eq!(module["name"], proxy["spec"]["dynamicModules"][0]["name"], "the module the EnvoyProxy registers");
    assert_eq!(module["filterName"].as_str(), Some("edge-cors"));
    assert_eq!(as_json(&module["config"]), json!({"allow_origins": ["https://a.example"], "allow_methods": ["GET"], "max_age": 60}));
}

#[test]
fn module_notes_for_the_dynamic_module_refuse_istio_and_a_digest() {
    let one_line = |r: Result<String, Fatal>| match r {
        Err(Fatal(e)) => {
            assert!(!e.contains('\n'), "{e}");
            e
        }
        Ok(s) => panic!("accepted: {s:?}"),
    };
    let istio = one_line(module_notes(RenderTarget::Istio, Shell::Module, true, false));
    assert!(istio.contains("Istio's WasmPlugin loads wasm only") && istio.contains("--target envoy --shell module"), "{istio}");
    assert!(istio.contains("EnvoyFilter patch"), "{istio}");
    for target in [RenderTarget::Envoy, RenderTarget::EnvoyGateway, RenderTarget::EnvoyBootstrap, RenderTarget::EnvoyLds] {
        let e = one_line(module_notes(target, Shell::Module, true, true));
        assert!(e.starts_with("--sha256 with --shell module") && e.contains("no digest field"), "{e}");
    }
    assert!(
        matches!(module_notes(RenderTarget::Envoy, Shell::Module, false, false), Ok(s) if s.contains("placeholder") && s.contains("libedge_cors.so"))
    );
    assert!(
        matches!(module_notes(RenderTarget::EnvoyGateway, Shell::Module, false, false), Ok(s) if s.contains("/etc/envoy/dynamic-modules/libedge_cors.so"))
    );
    // A file has no digest: nothing to say about pinning.
    assert!(matches!(module_notes(RenderTarget::EnvoyGateway, Shell::Module, true, false), Ok(s) if s.is_empty()));
    assert!(matches!(module_notes(RenderTarget::EnvoyBootstrap, Shell::Module, false, false), Ok(s) if s.is_empty()));
}

/// The dynamic module fetches live origins too: a policy with
/// `allow_origins_from` renders for it as for wasm.
#[test]
fn the_dynamic_module_renders_live_origin_policies() {
    assert!(checked("live-policy.json").is_ok(), "a valid policy, for either shell");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/live-policy.json");
    for target in [RenderTarget::Envoy, RenderTarget::EnvoyGateway] {
        let r = run(target, Shell::Module, &path, Some("/m.so"), None, "eg", None).unwrap_or_else(|Fatal(e)| panic!("{e}"));
        assert!(r.stdout.contains("allow_origins_from") && r.stdout.contains("edge-cors"), "{}", r.stdout);
        assert!(r.stderr.contains("tenant_origins"), "the clusters are named: {}", r.stderr);
    }
    // run refuses Istio itself too, whoever calls it.
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policy.json");
    assert!(run(RenderTarget::Istio, Shell::Module, &policy, None, None, "eg", None).is_err());
}

#[test]
fn run_renders_the_dynamic_module_for_envoy_and_envoy_gateway() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policy.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let render = |target| run(target, Shell::Module, &path, None, None, "eg", None).unwrap_or_else(|Fatal(e)| panic!("{e}"));
    let envoy = render(RenderTarget::Envoy);
    let config = &docs(&envoy.stdout)[0]["http_filters"][0]["typed_config"];
    assert_eq!(config["dynamic_module_config"]["module"]["local"]["filename"].as_str(), Some("/opt/edge-cors/libedge_cors.so"));
    let value = config["filter_config"]["value"].as_str().unwrap_or_default();
    assert_eq!(serde_json::from_str::<serde_json::Value>(value).unwrap_or_default(), original);
    let gateway = render(RenderTarget::EnvoyGateway);
    let docs = docs(&gateway.stdout);
    assert_eq!(
        docs[0]["spec"]["dynamicModules"][0]["source"]["local"]["path"].as_str(),
        Some("/etc/envoy/dynamic-modules/libedge_cors.so")
    );
    assert_eq!(docs[0]["metadata"]["namespace"].as_str(), Some("default"));
    assert_eq!(as_json(&docs[2]["spec"]["dynamicModule"][0]["config"]), original);
}
