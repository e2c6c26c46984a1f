//! What only the dynamic module has to prove, in a real Envoy: the ABI
//! version Envoy 1.40 expects, a panic in a hook contained (native code runs
//! in Envoy's process: an unwind across `extern "C"` aborts it), its own
//! filter name refused at load. These run
//! in the `EDGE_CORS_SHELL=module` pass of `make integration`.

use edge_cors_suites as common;

use common::*;

const POLICY: &str = r#"{"allow_origins": ["https://app.example.com"]}"#;
const APP: &str = "https://app.example.com";

fn module_only() -> bool {
    if shell() != Shell::Module {
        eprintln!("skipped: a dynamic-module test (EDGE_CORS_SHELL=module runs it)");
        return false;
    }
    true
}

#[test]
fn envoy_matches_the_modules_abi_version() {
    if !module_only() {
        return;
    }
    let upstream = Upstream::start();
    let envoy = Envoy::expect_running(&[Listener { name: "abi", config: POLICY }], upstream.port);
    let log = envoy.log();
    assert!(log.contains("Dynamic module ABI version v0.2.0 matched"), "{log}");
    assert!(!log.contains("is deprecated. Please recompile"), "{log}");
    envoy.stop();
}

/// docs/contract.md "Shells": a panic in either header hook is caught at the hook: the request goes on
/// unchanged (answered by the upstream), Envoy logs one line and keeps
/// serving. The probe build panics on request; the shipped one cannot.
#[test]
fn a_panic_in_a_hook_never_takes_envoy_down() {
    if !module_only() {
        return;
    }
    let probe = repo().join("target/release/libedge_cors_panic_probe.so");
    assert!(probe.exists(), "{} is missing: run `make envoy-module-probe`", probe.display());
    let shipped = std::fs::read(module_path()).unwrap();
    assert!(!shipped.windows(17).any(|w| w == b"x-edge-cors-panic"), "the shipped module holds the panic probe");

    let upstream = Upstream::start();
    let listener = Listener { name: "probe", config: POLICY };
    let yaml = listener.yaml().module(&probe).build();
    let envoy = match Envoy::start_bootstrap(|_| bootstrap_yaml(&[yaml], upstream.port), 1, &[]) {
        Started::Running(envoy) => envoy,
        Started::Exited { code, log } => panic!("Envoy exited ({code:?}):\n{log}"),
    };
    for hook in ["request_headers", "response_headers"] {
        let resp = get(&envoy.url("probe", "/api/panic"), &[("Origin", APP), ("x-edge-cors-panic", hook)]);
        assert_eq!(resp.status, 200, "{hook}: the request went on to the upstream");
        let ok = get(&envoy.url("probe", "/api/after"), &[("Origin", APP)]);
        assert_eq!(ok.one("access-control-allow-origin"), Some(APP), "Envoy still serves after a panic in {hook}");
        let log = envoy.log();
        assert!(log.contains(&format!("edge-cors: a panic in {hook} was contained")), "{log}");
    }
    assert!(!envoy.log().contains("Caught Aborted"), "{}", envoy.log());
    envoy.stop();
}

/// docs/contract.md "Shells": only `filter_name: edge-cors`; a `Struct`
/// policy arrives as JSON text and is read like the string.
#[test]
fn another_filter_name_is_refused_at_load_in_one_line() {
    if !module_only() {
        return;
    }
    let upstream = Upstream::start();
    let yaml = Listener { name: "named", config: POLICY }.yaml().build().replace("filter_name: edge-cors", "filter_name: cors");
    match Envoy::start_bootstrap(|_| bootstrap_yaml(&[yaml], upstream.port), 1, &[]) {
        Started::Running(envoy) => panic!("Envoy accepted filter_name cors:\n{}", envoy.log()),
        Started::Exited { log, .. } => assert!(log.contains("filter_name \"cors\" is not this module's"), "{log}"),
    }
    let structured = Listener { name: "structured", config: POLICY }.yaml().build().replace(
        &format!(
            "\"@type\": type.googleapis.com/google.protobuf.StringValue\n                  value: {}",
            serde_json::to_string(POLICY).unwrap()
        ),
        "\"@type\": type.googleapis.com/google.protobuf.Struct\n                  value: { allow_origins: [\"https://app.example.com\"] }",
    );
    assert!(structured.contains("google.protobuf.Struct"), "the template changed:\n{structured}");
    let envoy = match Envoy::start_bootstrap(|_| bootstrap_yaml(&[structured], upstream.port), 1, &[]) {
        Started::Running(envoy) => envoy,
        Started::Exited { code, log } => panic!("Envoy refused a Struct policy ({code:?}):\n{log}"),
    };
    let resp = preflight(&envoy.url("structured", "/api/x"), APP, "GET", None);
    assert_eq!((resp.status, resp.one("access-control-allow-origin")), (204, Some(APP)));
    envoy.stop();
}
