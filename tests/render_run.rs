#![cfg(feature = "cli")]
//! `edge-cors render --target envoy-bootstrap | envoy-lds` run as printed in
//! a real Envoy (release module, free ports): a preflight answered 204, a GET
//! through `--upstream` with the CORS headers, and for envoy-lds a new policy
//! served after the LDS file is replaced, without a restart. And `make run
//! POLICY=` (envoy/run.py): a busy port stops it first, naming the variable,
//! and the curl commands it prints give the answers their comments promise
//! when run against the policy (no Envoy left running).
//!
//! Run with `cargo test --features cli --test render_run` (after `make wasm`).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{get, parse_response, preflight, repo, wasm_path, Envoy, Started, Upstream};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.env_remove("NO_COLOR").output().expect("run");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edge-cors"))
}

fn edge_cors(args: &[&str]) -> Run {
    run(cli().args(args))
}

fn fixture(name: &str) -> String {
    repo().join("tests/cli-fixtures").join(name).display().to_string()
}

/// A fresh directory under target/.
fn tmp_dir(tag: &str) -> PathBuf {
    let dir = repo().join("target/render-run").join(common::unique(&format!("{}-{tag}", std::process::id())));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A port nothing listens on (bound on all addresses, like Envoy's listener).
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

fn yaml(text: &str) -> serde_norway::Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

/// `render --target TARGET POLICY` for a local Envoy: the upstream, the
/// listener's port (0: any free one), any free admin port, this checkout's module.
fn render_args<'a>(target: &'a str, policy: &'a str, upstream: &'a str, port: &'a str, wasm: &'a str) -> Vec<&'a str> {
    vec!["render", "--target", target, policy, "--upstream", upstream, "--port", port, "--admin-port", "0", "--module", wasm]
}

fn running(started: Started) -> Envoy {
    match started {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
    }
}

/// The wasm filter's embedded policy, as JSON.
fn embedded(listener: &serde_norway::Value) -> serde_json::Value {
    let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
    let filters = hcm["http_filters"].as_sequence().expect("http_filters");
    assert_eq!(filters[0]["name"].as_str(), Some("envoy.filters.http.wasm"), "edge-cors first");
    assert_eq!(filters.last().unwrap()["name"].as_str(), Some("envoy.filters.http.router"), "the router last");
    let config = &filters[0]["typed_config"]["config"];
    assert_eq!(config["vm_config"]["runtime"].as_str(), Some("envoy.wasm.runtime.v8"));
    assert_eq!(config["configuration"]["@type"].as_str(), Some("type.googleapis.com/google.protobuf.StringValue"));
    serde_json::from_str(config["configuration"]["value"].as_str().unwrap()).unwrap()
}

const APP: &str = "https://app.example.com";

/// The fixture policy's answers through `base` (a listener URL without path).
fn assert_fixture_policy_answers(envoy: &Envoy, upstream: &Upstream) {
    let path = format!("/api/{}", common::unique("bootstrap"));
    let url = envoy.url("edge_cors", &path);
    let r = preflight(&url, APP, "POST", Some("content-type,authorization"));
    assert_eq!(r.status, 204, "{:?}", r.headers);
    assert_eq!(r.one("access-control-allow-origin"), Some(APP));
    assert_eq!(r.one("access-control-allow-methods"), Some("GET, POST"));
    let r = get(&url, &[("Origin", "https://shop.example.com")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("access-control-allow-origin"), Some("https://shop.example.com"));
    assert_eq!(r.one("access-control-expose-headers"), Some("etag, x-request-id"));
    assert_eq!(upstream.seen(&path).len(), 1, "the GET went through --upstream, the preflight did not");
    let r = preflight(&url, "https://not-allowed.example", "POST", None);
    assert_eq!(r.status, 403);
    assert!(r.cors_headers().is_empty(), "{:?}", r.headers);
}

// ------------------------------------------------------------ envoy-bootstrap

#[test]
fn render_envoy_bootstrap_runs_in_envoy() {
    let upstream = Upstream::start();
    let up = format!("127.0.0.1:{}", upstream.port);
    let wasm = wasm_path();
    let policy = fixture("policy.json");
    let r = edge_cors(&render_args("envoy-bootstrap", &policy, &up, "0", wasm.to_str().unwrap()));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let doc = yaml(&r.stdout);
    assert_eq!(doc["admin"]["address"]["socket_address"]["address"].as_str(), Some("127.0.0.1"));
    let listeners = doc["static_resources"]["listeners"].as_sequence().unwrap();
    assert_eq!(listeners.len(), 1);
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture("policy.json")).unwrap()).unwrap();
    assert_eq!(embedded(&listeners[0]), original);
    let cluster = &doc["static_resources"]["clusters"][0];
    assert_eq!(cluster["name"].as_str(), Some("upstream"));
    assert_eq!(cluster["type"].as_str(), Some("STATIC"), "an IP upstream");

    let envoy = running(Envoy::start_bootstrap(|_| r.stdout.clone(), 1, &[]));
    assert_fixture_policy_answers(&envoy, &upstream);
    envoy.stop();

    // The defaults: admin 9901, listener 10000, upstream 127.0.0.1:8080, and
    // this checkout's release module (no placeholder, no warning).
    let r = edge_cors(&["render", "--target", "envoy-bootstrap", &fixture("policy.json")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let doc = yaml(&r.stdout);
    assert_eq!(doc["admin"]["address"]["socket_address"]["port_value"].as_u64(), Some(9901));
    let listener = &doc["static_resources"]["listeners"][0];
    assert_eq!(listener["address"]["socket_address"]["port_value"].as_u64(), Some(10000));
    let endpoint = &doc["static_resources"]["clusters"][0]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"];
    assert_eq!(endpoint["address"]["socket_address"]["address"].as_str(), Some("127.0.0.1"));
    assert_eq!(endpoint["address"]["socket_address"]["port_value"].as_u64(), Some(8080));
    let code =
        &listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][0]["typed_config"]["config"]["vm_config"]["code"];
    assert_eq!(code["local"]["filename"].as_str(), Some(wasm.to_str().unwrap()));
}

#[test]
fn render_envoy_bootstrap_takes_a_yaml_policy_and_a_named_upstream() {
    let dir = tmp_dir("yaml");
    let policy = write(
        &dir,
        "policy.yaml",
        "# a YAML policy\nallow_origins:\n  - \"https://*.shop.test\"\nallow_methods: [GET, PUT]\nallow_headers: [x-token]\nallow_credentials: true\n",
    );
    let upstream = Upstream::start();
    let up = format!("localhost:{}", upstream.port);
    let wasm = wasm_path();
    let r = edge_cors(&render_args("envoy-bootstrap", &policy, &up, "0", wasm.to_str().unwrap()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = yaml(&r.stdout);
    assert_eq!(doc["static_resources"]["clusters"][0]["type"].as_str(), Some("STRICT_DNS"), "a named upstream");
    assert_eq!(
        embedded(&doc["static_resources"]["listeners"][0]),
        serde_json::json!({"allow_origins": ["https://*.shop.test"], "allow_methods": ["GET", "PUT"], "allow_headers": ["x-token"], "allow_credentials": true})
    );

    let envoy = running(Envoy::start_bootstrap(|_| r.stdout.clone(), 1, &[]));
    let path = format!("/{}", common::unique("named"));
    let url = envoy.url("edge_cors", &path);
    let r = preflight(&url, "https://app.shop.test", "PUT", Some("x-token"));
    assert_eq!(r.status, 204, "{:?}", r.headers);
    assert_eq!(r.one("access-control-allow-credentials"), Some("true"));
    let r = get(&url, &[("Origin", "https://app.shop.test")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("access-control-allow-origin"), Some("https://app.shop.test"));
    assert_eq!(upstream.seen(&path).len(), 1, "resolved localhost reached the upstream");
    envoy.stop();
}

#[test]
fn render_envoy_host_refuses_what_check_refuses_and_bad_flags() {
    let check = edge_cors(&["check", &fixture("bad-policy.json")]);
    assert_eq!(check.code, 1);
    let dir = tmp_dir("refused");
    let out = dir.join("out");
    let check_text = format!("{}{}", check.stdout, check.stderr);
    let problems: Vec<&str> = check_text.lines().filter(|l| l.contains("problem:")).collect();
    assert_eq!(problems.len(), 8);
    for target in ["envoy-bootstrap", "envoy-lds"] {
        let r = edge_cors(&["render", "--target", target, &fixture("bad-policy.json"), "--out", out.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{target}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{target}: {}", r.stdout);
        for p in &problems {
            assert!(r.stderr.contains(p), "{target}: check's {p:?} missing from:\n{}", r.stderr);
        }
        assert!(r.stderr.contains("not rendered"), "{}", r.stderr);
        assert!(!out.exists(), "{target}: wrote files for a refused policy");
    }
    let r = edge_cors(&["render", "--target", "envoy-bootstrap", &fixture("policy.json"), "--upstream", "http://api:80"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--upstream \"http://api:80\": a host and port, not a URL"), "{}", r.stderr);
    let r = edge_cors(&["render", "--target", "envoy-bootstrap", &fixture("policy.json"), "--upstream", "api.internal"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no port"), "{}", r.stderr);
    let r = edge_cors(&["render", "--target", "istio", &fixture("policy.json"), "--upstream", "127.0.0.1:80"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--upstream is for --target envoy-bootstrap or envoy-lds"), "{}", r.stderr);
}

// ------------------------------------------------------------ envoy-lds

const POLICY_B: &str =
    r#"{"allow_origins": ["https://app.example.com", "https://new.example.com"], "allow_methods": ["GET", "POST", "PUT"]}"#;
const NEW: &str = "https://new.example.com";

/// Polls until the preflight from `origin` gets `status` (LDS reloads are
/// asynchronous).
fn wait_for_preflight(url: &str, origin: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = preflight(url, origin, "PUT", None);
        if r.status == status {
            return;
        }
        assert!(Instant::now() < deadline, "{origin}: still {} after 20 s, expected {status}", r.status);
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn render_envoy_lds_out_dir_reloads_a_new_policy() {
    let upstream = Upstream::start();
    let up = format!("127.0.0.1:{}", upstream.port);
    let wasm = wasm_path();
    let dir = tmp_dir("lds");
    let policy_b = write(&dir, "policy-b.json", POLICY_B);
    let invalid = write(&dir, "invalid.json", r#"{"allow_origins": ["*"], "allow_credentials": true}"#);
    let out = dir.join("envoy");
    let render = |policy: &str| {
        edge_cors(&[&render_args("envoy-lds", policy, &up, "0", wasm.to_str().unwrap())[..], &["--out", out.to_str().unwrap()]].concat())
    };
    let r = render(&fixture("policy.json"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let envoy_yaml = out.join("envoy.yaml");
    let lds_yaml = out.join("lds.yaml");
    assert!(r.stdout.contains(&format!("start Envoy:    envoy -c {} --disable-hot-restart", envoy_yaml.display())), "{}", r.stdout);
    let bootstrap = std::fs::read_to_string(&envoy_yaml).unwrap();
    let doc = yaml(&bootstrap);
    // Envoy refuses file-based LDS without them.
    assert_eq!(doc["node"]["id"].as_str(), Some("edge-cors"));
    assert_eq!(doc["node"]["cluster"].as_str(), Some("edge-cors"));
    let source = &doc["dynamic_resources"]["lds_config"]["path_config_source"];
    assert_eq!(source["path"].as_str(), Some(lds_yaml.to_str().unwrap()));
    let lds = yaml(&std::fs::read_to_string(&lds_yaml).unwrap());
    assert_eq!(lds["resources"][0]["@type"].as_str(), Some("type.googleapis.com/envoy.config.listener.v3.Listener"));
    assert_eq!(embedded(&lds["resources"][0])["allow_methods"], serde_json::json!(["GET", "POST"]));

    // Envoy runs the written bootstrap as it is.
    let envoy = running(Envoy::start_bootstrap(|_| bootstrap.clone(), 1, &[]));
    assert_fixture_policy_answers(&envoy, &upstream);
    let url = envoy.url("edge_cors", "/api/lds");
    assert_eq!(preflight(&url, NEW, "PUT", None).status, 403);

    // A new policy rendered into the same directory replaces lds.yaml by
    // rename: the running Envoy serves it.
    let r = render(&policy_b);
    assert_eq!(r.code, 0, "{}", r.stderr);
    wait_for_preflight(&url, NEW, 204);
    let r = get(&url, &[("Origin", NEW)]);
    assert_eq!(r.one("access-control-allow-origin"), Some(NEW));
    // A refused policy never reaches the file: the last good one serves.
    let before = std::fs::read_to_string(&lds_yaml).unwrap();
    let r = render(&invalid);
    assert_eq!(r.code, 1);
    assert_eq!(std::fs::read_to_string(&lds_yaml).unwrap(), before);
    assert_eq!(preflight(&url, NEW, "PUT", None).status, 204);
    let stats = envoy.stats();
    assert!(
        stats.contains("listener_manager.lds.update_rejected: 0"),
        "{}",
        stats.lines().filter(|l| l.contains(".lds.")).collect::<Vec<_>>().join("\n")
    );
    envoy.stop();
}

#[test]
fn render_envoy_lds_printed_documents_run_as_saved() {
    let upstream = Upstream::start();
    let up = format!("127.0.0.1:{}", upstream.port);
    let wasm = wasm_path();
    let dir = tmp_dir("lds-printed");
    // Without --out, the LDS file is ./lds.yaml, by absolute path.
    let r = run(cli().current_dir(&dir).args(render_args("envoy-lds", &fixture("policy.json"), &up, "0", wasm.to_str().unwrap())));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (bootstrap, lds) = r.stdout.split_once("\n---\n").expect("two documents");
    let lds_path = dir.join("lds.yaml");
    assert!(
        bootstrap.starts_with(&format!("# Two files: save this document as envoy.yaml and the one after `---` as {}", lds_path.display()))
    );
    assert!(lds.starts_with(&format!("# {}: ", lds_path.display())), "{lds}");
    assert_eq!(yaml(bootstrap)["dynamic_resources"]["lds_config"]["path_config_source"]["path"].as_str(), Some(lds_path.to_str().unwrap()));
    std::fs::write(&lds_path, lds).unwrap();
    let envoy = running(Envoy::start_bootstrap(|_| bootstrap.to_string(), 1, &[]));
    assert_fixture_policy_answers(&envoy, &upstream);
    envoy.stop();
}

// ------------------------------------------------------------ make run POLICY=

fn script(args: &[&str]) -> Run {
    run(Command::new("python3").arg(repo().join("envoy/run.py")).args(args))
}

#[test]
fn make_run_refuses_a_port_in_use_before_anything_else() {
    let busy = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let free = free_port().to_string();
    let policy = fixture("policy.json");
    let r = script(&["--check-ports", "--policy", &policy, "--port", &port, "--admin-port", &free]);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    assert_eq!(r.stderr, format!("port {port} is in use: set PORT=... to a free port (make run POLICY=... PORT=...)\n"));
    let r = script(&["--print-only", "--policy", &policy, "--port", &free, "--admin-port", &port]);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    assert!(r.stderr.starts_with(&format!("port {port} is in use: set ADMIN_PORT=")), "{}", r.stderr);

    // Through make: the check comes before any build step says a word.
    let r = run(Command::new("make").current_dir(repo()).env_remove("MAKEFLAGS").env_remove("MFLAGS").env_remove("MAKELEVEL").args([
        "--no-print-directory",
        "run",
        &format!("POLICY={policy}"),
        &format!("PORT={port}"),
        &format!("ADMIN_PORT={free}"),
    ]));
    assert_ne!(r.code, 0);
    assert_eq!(r.stdout, "", "printed before the port check");
    assert!(r.stderr.starts_with(&format!("port {port} is in use: set PORT=")), "{}", r.stderr);
    drop(busy);
}

/// The printed curl commands, run with curl against Envoy rendered for the
/// same policy and port: each answers as its comment says.
fn curl_lines_answer(policy: &str, origin: &str, method: &str) -> Vec<String> {
    let port = free_port();
    let admin = free_port();
    let cli_bin = env!("CARGO_BIN_EXE_edge-cors");
    let wasm = wasm_path();
    let r = script(&[
        "--print-only",
        "--policy",
        policy,
        "--port",
        &port.to_string(),
        "--admin-port",
        &admin.to_string(),
        "--cli",
        cli_bin,
        "--module",
        wasm.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(&format!("==> Envoy with edge-cors on http://localhost:{port} (admin :{admin}), policy {policy}")),
        "{}",
        r.stdout
    );
    let lines: Vec<String> = r.stdout.lines().map(str::trim).filter(|l| l.starts_with("curl ")).map(String::from).collect();
    assert!(
        lines[0].starts_with(&format!(
            "curl -si -X OPTIONS localhost:{port}/api/hello -H 'Origin: {origin}' -H 'Access-Control-Request-Method: {method}'"
        )),
        "{}",
        r.stdout
    );
    assert!(lines.last().unwrap().contains("-H 'Origin: https://not-allowed.example'"), "{}", r.stdout);

    let upstream = Upstream::start();
    let (up, port) = (format!("127.0.0.1:{}", upstream.port), port.to_string());
    let r = edge_cors(&render_args("envoy-bootstrap", policy, &up, &port, wasm.to_str().unwrap()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let envoy = running(Envoy::start_bootstrap(|_| r.stdout.clone(), 1, &[]));
    let mut answers = vec![];
    for line in &lines {
        let out = Command::new("bash").arg("-c").arg(format!("{line} --max-time 10")).output().expect("bash and curl");
        let resp = parse_response(&out.stdout);
        let acao = resp.one("access-control-allow-origin").unwrap_or("-").to_string();
        answers.push(format!("{} {acao}", resp.status));
    }
    envoy.stop();
    answers
}

#[test]
fn make_run_prints_curl_lines_that_fit_the_policy() {
    // The fixture (the demo's policy): its first exact origin, POST with its headers.
    let answers = curl_lines_answer(&fixture("policy.json"), APP, "POST");
    assert_eq!(answers, [format!("204 {APP}"), format!("200 {APP}"), format!("401 {APP}"), "403 -".to_string()]);

    // A YAML policy with only a wildcard: a made-up subdomain, its one
    // non-safelisted method, credentials.
    let dir = tmp_dir("curl");
    let policy = write(
        &dir,
        "wild.yaml",
        "allow_origins: [\"https://*.shop.test\"]\nallow_methods: [GET, PUT]\nallow_headers: [x-token]\nallow_credentials: true\n",
    );
    let answers = curl_lines_answer(&policy, "https://app.shop.test", "PUT");
    let o = "https://app.shop.test";
    assert_eq!(answers, [format!("204 {o}"), format!("200 {o}"), format!("401 {o}"), "403 -".to_string()]);
}
