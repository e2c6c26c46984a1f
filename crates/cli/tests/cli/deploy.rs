//! The deployment files: deploy/istio/, deploy/envoy-gateway/, and the
//! Docker rig envoy/docker-compose.yaml. Each manifest's structure is
//! checked where it decides whether CORS works (Istio's phase, Envoy
//! Gateway's filter order and attachment), and every policy they embed must
//! pass the filter's own validation. YAML is read with Python's yaml module,
//! which Debian's docker-compose (installed by `make test`) depends on.

use edge_cors_suites as common;

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
    if let Err(errors) = edge_cors_engine::config::parse_config(json.as_bytes()) {
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

/// The manifest is complete: each reference resolves to an object of the
/// file. The policy's targetRefs name a Gateway of its namespace; the
/// EnvoyProxy with filterOrder is referenced from a Gateway
/// (`spec.infrastructure.parametersRef`: group, kind, name, the Gateway's
/// namespace) or a GatewayClass (`spec.parametersRef`, with a namespace);
/// without that reference Envoy Gateway ignores it and wasm runs after auth.
#[test]
fn envoy_gateway_manifest_references_resolve() {
    let docs = yaml_docs(&repo().join("deploy/envoy-gateway/edge-cors.yaml"));
    let name = |d: &Value| d["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let namespace = |d: &Value| d["metadata"]["namespace"].as_str().unwrap_or("default").to_string();
    let group = |d: &Value| d["apiVersion"].as_str().and_then(|v| v.split_once('/')).map(|(g, _)| g.to_string()).unwrap_or_default();
    let of_kind = |kind: &str| docs.iter().filter(|d| d["kind"] == kind).collect::<Vec<_>>();
    // What a reference (group, kind, name, namespace) points at in the file.
    let resolve = |r: &Value, default_ns: &str| {
        let ns = r["namespace"].as_str().unwrap_or(default_ns).to_string();
        docs.iter().find(|d| {
            r["kind"] == d["kind"]
                && r["group"].as_str() == Some(group(d).as_str())
                && r["name"].as_str() == Some(name(d).as_str())
                && namespace(d) == ns
        })
    };

    let policy = of_kind("EnvoyExtensionPolicy")[0];
    for t in policy["spec"]["targetRefs"].as_array().unwrap() {
        let gateway = resolve(t, &namespace(policy)).unwrap_or_else(|| panic!("targetRef {t} names no object of the file"));
        assert!(gateway["spec"]["gatewayClassName"].as_str().is_some_and(|c| !c.is_empty()), "{gateway}");
    }

    let proxies = of_kind("EnvoyProxy");
    let proxy = proxies.iter().find(|p| p["spec"]["filterOrder"].is_array()).expect("an EnvoyProxy with filterOrder");
    let mut referenced_by = Vec::new();
    for g in of_kind("Gateway") {
        // A Gateway's parametersRef is local: it has no namespace.
        let r = &g["spec"]["infrastructure"]["parametersRef"];
        assert!(r.get("namespace").is_none(), "a Gateway's parametersRef has no namespace: {r}");
        if !r.is_null() && resolve(r, &namespace(g)) == Some(*proxy) {
            referenced_by.push(format!("Gateway {}", name(g)));
        }
    }
    for c in of_kind("GatewayClass") {
        let r = &c["spec"]["parametersRef"];
        if !r.is_null() && r["namespace"].is_string() && resolve(r, "") == Some(*proxy) {
            referenced_by.push(format!("GatewayClass {}", name(c)));
        }
    }
    assert!(
        !referenced_by.is_empty(),
        "EnvoyProxy {}/{} is referenced from no Gateway (spec.infrastructure.parametersRef) or GatewayClass (spec.parametersRef): \
         Envoy Gateway ignores it, and wasm runs after the auth filters",
        namespace(proxy),
        name(proxy)
    );
    // Envoy Gateway refuses a Gateway-level EnvoyProxy that merges Gateways.
    assert!(proxy["spec"]["mergeGateways"].is_null(), "{proxy}");
}

/// The ports the docs use are published: the edge (10000) and Envoy's admin
/// (9901, on the host's loopback). Envoy's admin in envoy/envoy.yaml listens
/// on 127.0.0.1, which a published port cannot reach inside the container,
/// so the command moves it (--config-yaml is merged over the file); Envoy
/// accepts the command as written.
#[test]
fn docker_compose_rig_publishes_the_edge_and_the_admin() {
    let file = repo().join("envoy/docker-compose.yaml");
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(&file)
        .arg("config")
        .output()
        .unwrap_or_else(|e| panic!("docker-compose is missing: `make test` installs Debian's ({e})"));
    assert!(out.status.success(), "docker-compose config: {}", String::from_utf8_lossy(&out.stderr));
    let resolved = std::env::temp_dir().join(format!("edge-cors-compose-{}.yaml", std::process::id()));
    std::fs::write(&resolved, &out.stdout).unwrap();
    let config = yaml_docs(&resolved);
    let _ = std::fs::remove_file(&resolved);
    let envoy = &config[0]["services"]["envoy"];
    // (host address, published, container port), whichever syntax the
    // docker-compose in use prints.
    let ports: Vec<(String, u64, u64)> = envoy["ports"]
        .as_array()
        .expect("published ports")
        .iter()
        .map(|p| match p {
            Value::String(s) => {
                let s = s.split('/').next().unwrap();
                let parts: Vec<&str> = s.rsplitn(3, ':').collect();
                let n = |i: usize| parts.get(i).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("port {s}"));
                (parts.get(2).unwrap_or(&"").to_string(), n(1), n(0))
            }
            m => {
                let n = |v: &Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("port {m}"));
                (m["host_ip"].as_str().unwrap_or("").to_string(), n(&m["published"]), n(&m["target"]))
            }
        })
        .collect();
    let published =
        |target: u64| ports.iter().find(|p| p.2 == target).unwrap_or_else(|| panic!("port {target} is not published: {ports:?}"));
    assert_eq!(published(10000).1, 10000, "{ports:?}");
    let admin = published(9901);
    assert_eq!((admin.0.as_str(), admin.1), ("127.0.0.1", 9901), "the admin on the host's loopback, as the docs use it: {ports:?}");

    // Where the admin listens inside the container: envoy.yaml's, unless
    // the command's --config-yaml sets it.
    let command: Vec<&str> = envoy["command"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let demo = yaml_docs(&repo().join("envoy/envoy.yaml"));
    let mut admin_address = demo[0]["admin"]["address"]["socket_address"].clone();
    if let Some(i) = command.iter().position(|c| *c == "--config-yaml") {
        let overlay = std::env::temp_dir().join(format!("edge-cors-compose-overlay-{}.yaml", std::process::id()));
        std::fs::write(&overlay, command[i + 1]).unwrap();
        let merged = yaml_docs(&overlay)[0]["admin"]["address"]["socket_address"].clone();
        let _ = std::fs::remove_file(&overlay);
        for key in ["address", "port_value"] {
            if !merged[key].is_null() {
                admin_address[key] = merged[key].clone();
            }
        }
    }
    assert_eq!(admin_address["port_value"], 9901, "{admin_address}");
    let address = admin_address["address"].as_str().unwrap();
    assert!(
        !address.starts_with("127.") && address != "::1" && address != "localhost",
        "the admin listens on {address} in the container: a published port cannot reach it"
    );
    // Envoy takes the command as written (the container's paths mapped to
    // the checkout; validate mode loads the module when it is built).
    let mut args: Vec<String> = command.iter().skip(1).map(|c| c.to_string()).collect();
    for a in args.iter_mut() {
        if a == "/etc/envoy/envoy.yaml" {
            *a = repo().join("envoy/envoy.yaml").display().to_string();
        }
    }
    let out = Command::new(common::envoy_bin()).args(["--mode", "validate"]).args(&args).current_dir(repo()).output().unwrap();
    assert!(out.status.success(), "envoy --mode validate {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
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
