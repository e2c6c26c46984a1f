//! The deployment files: deploy/istio/, deploy/envoy-gateway/, and the
//! Docker rig envoy/docker-compose.yaml. Each manifest's structure is
//! checked where it decides whether CORS works (Istio's phase, Envoy
//! Gateway's filter order and attachment), and every policy they embed must
//! pass the filter's own validation. YAML is read with Python's yaml module,
//! which Debian's docker-compose (installed by `make test`) depends on.

mod common;

use std::path::Path;
use std::process::Command;

use common::repo;
use serde_json::Value;

/// Every YAML document in a file, as JSON.
fn yaml_docs(path: &Path) -> Vec<Value> {
    // Debian's python3 has python3-yaml (docker-compose depends on it); a
    // python3 earlier on PATH (pyenv, a venv) may not.
    let python = if Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
    let out = Command::new(python)
        .args(["-c", "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))"])
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{} is not valid YAML (or python3-yaml is missing: `make test` installs docker-compose, which brings it): {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

/// The policy as the proxy hands it to the module (Istio and Envoy Gateway
/// turn the YAML object into a JSON string), through the filter's own parser.
fn assert_valid_policy(where_: &str, policy: &Value) {
    assert!(policy.is_object(), "{where_}: the policy must be an object, got {policy}");
    let json = serde_json::to_string(policy).unwrap();
    if let Err(errors) = edge_cors::config::parse_config(json.as_bytes()) {
        panic!("{where_}: the filter would refuse this policy: {errors}");
    }
}

#[test]
fn istio_wasm_plugin_runs_in_authn_with_a_valid_policy() {
    let docs = yaml_docs(&repo().join("deploy/istio/wasm-plugin.yaml"));
    assert_eq!(docs.len(), 1);
    let p = &docs[0];
    assert_eq!(p["apiVersion"], "extensions.istio.io/v1alpha1");
    assert_eq!(p["kind"], "WasmPlugin");
    let spec = &p["spec"];
    // AUTHN: before Istio's authentication and authorization filters, so
    // preflights are answered first and their 401/403 get CORS headers.
    assert_eq!(spec["phase"], "AUTHN", "{spec}");
    assert!(spec["url"].as_str().is_some_and(|u| u.starts_with("oci://")), "{spec}");
    assert_eq!(spec["failStrategy"], "FAIL_CLOSE", "{spec}");
    assert!(spec["selector"]["matchLabels"].is_object(), "{spec}");
    // No pluginConfig means an empty configuration, which edge-cors refuses.
    assert_valid_policy("deploy/istio/wasm-plugin.yaml spec.pluginConfig", &spec["pluginConfig"]);
}

#[test]
fn envoy_gateway_policy_attaches_to_the_gateway_before_auth_filters() {
    let docs = yaml_docs(&repo().join("deploy/envoy-gateway/edge-cors.yaml"));
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {docs:?}"));
    let policy = find("EnvoyExtensionPolicy");
    assert_eq!(policy["apiVersion"], "gateway.envoyproxy.io/v1alpha1");
    // Attached to the Gateway, not a route: unmatched requests (404) reach it too.
    let targets = policy["spec"]["targetRefs"].as_array().unwrap();
    assert!(!targets.is_empty() && targets.iter().all(|t| t["kind"] == "Gateway"), "{targets:?}");
    let wasm = policy["spec"]["wasm"].as_array().unwrap();
    assert_eq!(wasm.len(), 1);
    assert_eq!(wasm[0]["rootID"], "edge_cors");
    assert_eq!(wasm[0]["code"]["type"], "Image");
    assert!(wasm[0]["code"]["image"]["url"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(wasm[0]["failOpen"], false);
    // Envoy Gateway sends "" without a config, which edge-cors refuses.
    assert_valid_policy("deploy/envoy-gateway/edge-cors.yaml wasm[0].config", &wasm[0]["config"]);

    // Envoy Gateway puts wasm after ext_authz, api_key_auth, basic_auth,
    // oauth2 and jwt_authn; ext_authz is the first of them.
    let proxy = find("EnvoyProxy");
    let order = proxy["spec"]["filterOrder"].as_array().unwrap();
    assert!(
        order.iter().any(|o| o["name"] == "envoy.filters.http.wasm" && o["before"] == "envoy.filters.http.ext_authz"),
        "the wasm filter must come before ext_authz: {order:?}"
    );
}

#[test]
fn docker_compose_rig_is_valid_and_mounts_the_release_module() {
    let file = repo().join("envoy/docker-compose.yaml");
    // Debian's docker-compose validates without a Docker engine.
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(&file)
        .args(["config", "--quiet"])
        .output()
        .unwrap_or_else(|e| panic!("docker-compose is missing: `make test` installs Debian's ({e})"));
    assert!(out.status.success(), "docker-compose config: {}", String::from_utf8_lossy(&out.stderr));
    let docs = yaml_docs(&file);
    let envoy = &docs[0]["services"]["envoy"];
    let makefile = std::fs::read_to_string(repo().join("Makefile")).unwrap();
    let version = makefile.lines().find_map(|l| l.strip_prefix("ENVOY_VERSION := ")).unwrap().trim();
    assert_eq!(envoy["image"], format!("envoyproxy/envoy:v{version}").as_str(), "the image must match the Envoy the tests run");
    let volumes: Vec<&str> = envoy["volumes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(volumes.iter().any(|v| v.starts_with("../target/wasm32-wasip1/release/edge_cors.wasm:")), "{volumes:?}");

    // The demo's policy (envoy/envoy.yaml, a StringValue) passes the filter's validation.
    let demo = yaml_docs(&repo().join("envoy/envoy.yaml"));
    let mut policies = Vec::new();
    find_string_values(&demo[0], &mut policies);
    assert!(!policies.is_empty(), "no edge-cors configuration found in envoy/envoy.yaml");
    for p in policies {
        let v: Value = serde_json::from_str(&p).unwrap_or_else(|e| panic!("envoy/envoy.yaml: policy is not JSON ({e}): {p}"));
        assert_valid_policy("envoy/envoy.yaml", &v);
    }
}

/// `value` of every google.protobuf.StringValue under an edge-cors wasm filter.
fn find_string_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("@type").and_then(Value::as_str) == Some("type.googleapis.com/google.protobuf.StringValue") {
                if let Some(s) = m.get("value").and_then(Value::as_str) {
                    out.push(s.to_string());
                }
            }
            m.values().for_each(|x| find_string_values(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| find_string_values(x, out)),
        _ => {}
    }
}

/// deploy/ holds exactly what `edge-cors render` prints for deploy/policy.json
/// (after each file's own header comment), so the two never drift apart.
#[cfg(feature = "cli")]
#[test]
fn deploy_manifests_are_what_render_prints() {
    let cases = [
        ("deploy/istio/wasm-plugin.yaml", vec!["--target", "istio", "--module", "oci://registry.example.com/edge-cors:0.1.0"]),
        (
            "deploy/envoy-gateway/edge-cors.yaml",
            vec!["--target", "envoy-gateway", "--module", "registry.example.com/edge-cors:0.1.0", "--gateway", "public"],
        ),
    ];
    for (file, args) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_edge-cors"))
            .arg("render")
            .args(&args)
            .arg(repo().join("deploy/policy.json"))
            .output()
            .unwrap();
        assert!(out.status.success(), "render {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let rendered = String::from_utf8(out.stdout).unwrap();
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        assert!(
            text.ends_with(&rendered),
            "{file} differs from `edge-cors render {}` (regenerate it, keeping its header):\n{rendered}",
            args.join(" ")
        );
    }
}
