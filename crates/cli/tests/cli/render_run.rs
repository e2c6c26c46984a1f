//! `edge-cors render --target envoy-bootstrap | envoy-lds` run as printed in
//! a real Envoy (release module, free ports): a preflight answered 204, a GET
//! through `--upstream` with the CORS headers, and for envoy-lds a new policy
//! served after the LDS file is replaced, without a restart. And `make run
//! POLICY=` (envoy/run.py): a busy port stops it first, naming the variable,
//! and the curl commands it prints give the answers their comments promise
//! when run against the policy (no Envoy left running).
//!
//! And `--shell module`: the same bootstrap with the Envoy dynamic module.
//!
//! Run with `cargo test -p edge-cors-cli --test cli render_run::` (after
//! `make wasm` and `make envoy-module`).

use edge_cors_suites as common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::origins::OriginService;
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
    repo().join("crates/cli/fixtures").join(name).display().to_string()
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

/// `--access-log PATH`: the bootstrap writes Envoy's access log there, each
/// line with the filter's record (docs/operating.md "The access log").
#[test]
fn render_envoy_bootstrap_adds_the_access_log() {
    let upstream = Upstream::start();
    let up = format!("127.0.0.1:{}", upstream.port);
    let wasm = wasm_path();
    let log = tmp_dir("access-log").join("access.log");
    let policy = fixture("policy.json");
    let args = render_args("envoy-bootstrap", &policy, &up, "0", wasm.to_str().unwrap());
    let r = edge_cors(&[&args[..], &["--access-log", log.to_str().unwrap()]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let envoy = running(Envoy::start_bootstrap(|_| r.stdout.clone(), 1, &["--file-flush-interval-msec", "50"]));
    let path = format!("/api/{}", common::unique("logged"));
    assert_eq!(preflight(&envoy.url("edge_cors", &path), APP, "POST", None).status, 204);
    let want =
        format!("\"OPTIONS {path}\" 204 edge_cors_preflight_allowed rule=default decision=preflight_allowed reason=none origin={APP}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut text = String::new();
    while !text.contains(&want) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        text = std::fs::read_to_string(&log).unwrap_or_default();
    }
    assert!(text.contains(&want), "wanted {want:?} in:\n{text}");
    envoy.stop();
    // Only for the targets that render a bootstrap.
    let r = edge_cors(&["render", "--target", "envoy", &fixture("policy.json"), "--access-log", "/dev/stdout"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--access-log is for --target envoy-bootstrap or envoy-lds"), "{}", r.stderr);
}

/// `--shell module`: the bootstrap loads the Envoy dynamic module
/// (`make envoy-module`) instead of the wasm module, runs in Envoy as
/// printed, answers as the wasm bootstrap does, and logs the filter's
/// record under the module's key.
#[test]
fn render_envoy_bootstrap_with_the_dynamic_module_runs_in_envoy() {
    let upstream = Upstream::start();
    let up = format!("127.0.0.1:{}", upstream.port);
    let module = common::module_path();
    let log = tmp_dir("module").join("access.log");
    let policy = fixture("policy.json");
    let args = render_args("envoy-bootstrap", &policy, &up, "0", module.to_str().unwrap());
    let r = edge_cors(&[&args[..], &["--shell", "module", "--access-log", log.to_str().unwrap()]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let doc = yaml(&r.stdout);
    let hcm = &doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
    let filters = hcm["http_filters"].as_sequence().expect("http_filters");
    let config = &filters[0]["typed_config"];
    assert_eq!(config["@type"].as_str(), Some("type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter"));
    assert_eq!(config["dynamic_module_config"]["module"]["local"]["filename"].as_str(), Some(module.to_str().unwrap()));
    assert_eq!(filters.last().unwrap()["name"].as_str(), Some("envoy.filters.http.router"), "the router last");
    let embedded: serde_json::Value = serde_json::from_str(config["filter_config"]["value"].as_str().unwrap()).unwrap();
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&policy).unwrap()).unwrap();
    assert_eq!(embedded, original);

    let envoy = running(Envoy::start_bootstrap(|_| r.stdout.clone(), 1, &["--file-flush-interval-msec", "50"]));
    let url = envoy.url("edge_cors", &format!("/api/{}", common::unique("module")));
    let pre = preflight(&url, APP, "POST", Some("content-type"));
    assert_eq!(pre.status, 204, "{:?}", pre.headers);
    assert_eq!(pre.one("access-control-allow-origin"), Some(APP));
    assert_fixture_policy_answers(&envoy, &upstream);
    // The record under the dynamic module's key (%FILTER_STATE(edge_cors:PLAIN)%).
    let want = format!("204 edge_cors_preflight_allowed rule=default decision=preflight_allowed reason=none origin={APP}");
    let text = {
        let mut text = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !text.contains(&want) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            text = std::fs::read_to_string(&log).unwrap_or_default();
        }
        text
    };
    envoy.stop();
    assert!(
        text.contains(&want),
        "wanted {want:?} in:
{text}"
    );
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
    // docs/operating.md: an LDS-reloaded Envoy drains old connections at once.
    assert!(
        r.stdout.contains(&format!(
            "start Envoy:    envoy -c {} --disable-hot-restart --drain-strategy immediate --drain-time-s 5",
            envoy_yaml.display()
        )),
        "{}",
        r.stdout
    );
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

// ------------------------------------------------------------ live origins (allow_origins_from)

const TENANT: &str = "https://shop.acme.example";

/// A policy whose live origins come from cluster `tenant_origins` every second.
const LIVE_POLICY: &str = r#"{"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "PUT"],
  "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins", "authority": "tenants.internal", "refresh_seconds": 1}}"#;

/// Polls `check` every 100 ms for up to `secs`; how long it took.
fn within(secs: f64, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed().as_secs_f64() < secs, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

/// `--cluster tenant_origins=127.0.0.1:PORT` renders the origin service's
/// cluster; Envoy runs the bootstrap as printed, fetches from the reference
/// service, and a tenant added there turns 403 into 204 without a reload.
#[test]
fn render_envoy_bootstrap_with_a_live_origins_cluster_runs_in_envoy() {
    let dir = tmp_dir("live");
    let service = OriginService::start_in(&dir, &[]);
    let upstream = Upstream::start();
    let up = format!("127.0.0.1:{}", upstream.port);
    let wasm = wasm_path();
    let policy = write(&dir, "live.json", LIVE_POLICY);
    let cluster = format!("tenant_origins=127.0.0.1:{}", service.port);
    let r = edge_cors(&[&render_args("envoy-bootstrap", &policy, &up, "0", wasm.to_str().unwrap())[..], &["--cluster", &cluster]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    assert!(r.stdout.contains(&format!("#   cluster tenant_origins: 127.0.0.1:{} (allow_origins_from's origin service)", service.port)));
    let doc = yaml(&r.stdout);
    let clusters = doc["static_resources"]["clusters"].as_sequence().unwrap();
    let names: Vec<&str> = clusters.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["upstream", "tenant_origins"]);
    assert_eq!(clusters[1]["type"].as_str(), Some("STATIC"), "an IP");
    assert_eq!(clusters[1]["load_assignment"]["cluster_name"].as_str(), Some("tenant_origins"));

    let envoy = running(Envoy::start_bootstrap(|_| r.stdout.clone(), 1, &[]));
    let url = envoy.url("edge_cors", "/api/live");
    let status = |origin: &str| preflight(&url, origin, "PUT", None).status;
    within(10.0, "the first answer from the origin service", || service.log().iter().any(|l| l.contains("GET /cors/origins 200")));
    assert_eq!(status(TENANT), 403, "not a tenant yet");
    assert_eq!(status(APP), 204, "the static list");
    service.run(&["add", TENANT]);
    let took = within(5.0, "the added tenant allowed", || status(TENANT) == 204);
    let r = get(&url, &[("Origin", TENANT)]);
    assert_eq!(r.one("access-control-allow-origin"), Some(TENANT));
    assert_eq!(status(APP), 204, "the union: the static list still applies");
    service.run(&["remove", TENANT]);
    within(5.0, "the removed tenant refused", || status(TENANT) == 403);
    let log = service.log();
    envoy.stop();
    assert!(upstream.seen("/cors/origins").is_empty(), "the fetch went to the upstream cluster");
    eprintln!("tenant allowed {took:?} after `origin_service.py add`; the service saw {} requests", log.len());
}

/// A policy naming a cluster the bootstrap would not define is refused in
/// one line naming the cluster and the flag; `upstream` needs no flag; for
/// the targets that render no cluster, a note says where it must exist.
#[test]
fn render_refuses_a_live_policy_without_its_cluster() {
    let dir = tmp_dir("live-refused");
    let policy = write(&dir, "live.json", LIVE_POLICY);
    let out = dir.join("out");
    for target in ["envoy-bootstrap", "envoy-lds"] {
        let r = edge_cors(&["render", "--target", target, &policy, "--out", out.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{target}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            "edge-cors: error: allow_origins_from names cluster \"tenant_origins\", which this bootstrap does not define: \
             add --cluster tenant_origins=HOST:PORT\n"
        );
        assert!(r.stdout.is_empty() && !out.exists(), "{target}: rendered anyway");
        // A --cluster for another name does not count (and is warned of when the render goes through).
        let r = edge_cors(&["render", "--target", target, &policy, "--cluster", "tenants=127.0.0.1:8081"]);
        assert_eq!(r.code, 2, "{target}: {}", r.stderr);
        assert!(r.stderr.contains("add --cluster tenant_origins=HOST:PORT"), "{}", r.stderr);
    }
    // A rule's own source counts too, and every missing cluster is named.
    let rules = write(
        &dir,
        "rules.json",
        r#"{"allow_origins": ["https://app.example.com"],
            "rules": [{"name": "a", "match": {"path_prefix": "/a/"}, "allow_origins_from": {"cluster": "a_origins", "path": "/o"}},
                      {"name": "b", "match": {"path_prefix": "/b/"}, "allow_origins_from": {"cluster": "b_origins", "path": "/o"}},
                      {"name": "c", "match": {"path_prefix": "/c/"}, "allow_origins_from": {"cluster": "upstream", "path": "/o"}}]}"#,
    );
    let r = edge_cors(&["render", "--target", "envoy-bootstrap", &rules]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.ends_with(
            "allow_origins_from names clusters \"a_origins\" and \"b_origins\", which this bootstrap does not define: \
             add --cluster a_origins=HOST:PORT --cluster b_origins=HOST:PORT\n"
        ),
        "{}",
        r.stderr
    );
    let r = edge_cors(&[
        "render",
        "--target",
        "envoy-bootstrap",
        &rules,
        "--cluster",
        "a_origins=127.0.0.1:1",
        "--cluster",
        "b_origins=origins.internal:80",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = yaml(&r.stdout);
    let b = &doc["static_resources"]["clusters"][2];
    assert_eq!((b["name"].as_str(), b["type"].as_str()), (Some("b_origins"), Some("STRICT_DNS")), "a name");
    // Bad flags.
    for (flag, problem) in [
        ("tenant_origins", "write NAME=HOST:PORT"),
        ("tenant_origins=http://t:80", "a host and port, not a URL"),
        ("upstream=127.0.0.1:1", "\"upstream\" is the cluster every request is routed to"),
    ] {
        let r = edge_cors(&["render", "--target", "envoy-bootstrap", &policy, "--cluster", flag]);
        assert_eq!(r.code, 2, "{flag}: {}", r.stderr);
        assert!(r.stderr.contains(problem), "{flag}: {}", r.stderr);
    }
    let r = edge_cors(&["render", "--target", "istio", &policy, "--cluster", "tenant_origins=127.0.0.1:1"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--cluster is for --target envoy-bootstrap or envoy-lds"), "{}", r.stderr);
    // The other targets render no cluster: a note (not an error) says where it must be.
    for (target, note) in [
        ("envoy", "define it in this Envoy's clusters (static_resources or CDS)"),
        ("istio", "Istio names a Service's cluster outbound|PORT||HOST, e.g. outbound|8080||tenants.default.svc.cluster.local"),
        ("envoy-gateway", "Envoy Gateway creates no such cluster; define it in your EnvoyProxy's bootstrap"),
    ] {
        let r = edge_cors(&["render", "--target", target, &policy, "--module", "m"]);
        assert_eq!(r.code, 0, "{target}: {}", r.stderr);
        let line = r.stderr.lines().find(|l| l.starts_with("note: allow_origins_from")).unwrap_or_else(|| panic!("{target}: {}", r.stderr));
        assert!(line.starts_with("note: allow_origins_from fetches from cluster \"tenant_origins\": "), "{line}");
        assert!(line.contains(note), "{target}: {line}");
    }
    let r = edge_cors(&["render", "--target", "istio", &fixture("policy.json")]);
    assert!(!r.stderr.contains("allow_origins_from"), "no source, no note: {}", r.stderr);
}

/// `make run POLICY=` with a live policy (envoy/run.py): the printed lines
/// name the origin service and show the tenant flip; run for real, each
/// printed line does what it says: 403, the add command, 204 within the
/// printed time.
#[test]
fn make_run_shows_the_tenant_flip_for_a_live_policy() {
    let dir = tmp_dir("run-live");
    let policy = write(&dir, "live.json", LIVE_POLICY);
    let db = dir.join("tenants.sqlite");
    let (port, admin) = (free_port().to_string(), free_port().to_string());
    let cli_bin = env!("CARGO_BIN_EXE_edge-cors");
    let wasm = wasm_path();
    let args = |more: &[&str]| -> Vec<String> {
        let base = ["--policy", &policy, "--port", &port, "--admin-port", &admin, "--playground-port", "0", "--cli", cli_bin];
        base.iter()
            .chain(["--module", wasm.to_str().unwrap(), "--tenants-db", db.to_str().unwrap()].iter())
            .chain(more)
            .map(|s| s.to_string())
            .collect()
    };

    // --print-only: the lines, nothing started.
    let printed = |more: &[&str]| {
        let r = script(&args(&[&["--print-only"], more].concat()).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        r.stdout
    };
    let out = printed(&[]);
    let flip = format!("curl -si -X OPTIONS localhost:{port}/api/hello -H 'Origin: {TENANT}' -H 'Access-Control-Request-Method: PUT'");
    // Printed relative to the repository, where `make run` runs.
    let add = format!("python3 envoy/origin_service.py add {TENANT} --db {}", db.strip_prefix(repo()).unwrap().display());
    let rel = db.strip_prefix(repo()).unwrap().display().to_string();
    assert!(
        out.contains(&format!(
            "  # live origins (allow_origins_from, cluster tenant_origins): envoy/origin_service.py on a free loopback port, \
             from {rel}, empty at start: python3 envoy/origin_service.py add|remove|list --db {rel}\n"
        )),
        "{out}"
    );
    assert!(out.contains("# a preflight from a made-up tenant: 403 while not a tenant yet\n"), "{out}");
    assert!(out.contains(&format!("  {flip}\n  {add}      # then the same preflight: 204 within 2 s\n")), "{out}");
    assert!(!db.exists(), "--print-only touched the database");
    // ORIGINS=host:port: the user's service, no add command of ours.
    let out = printed(&["--origins", "127.0.0.1:9"]);
    assert!(out.contains("cluster tenant_origins): your origin service on 127.0.0.1:9"), "{out}");
    assert!(out.contains("note: nothing answers on 127.0.0.1:9 yet"), "{out}");
    assert!(
        out.contains(&format!(
            "add {TENANT} to the list your service answers GET /cors/origins with: then the same preflight: 204 within 2 s"
        )),
        "{out}"
    );
    assert!(!out.contains("origin_service.py add"), "{out}");
    let bad = args(&["--print-only", "--origins", "http://x"]);
    let r = script(&bad.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("ORIGINS=http://x: write HOST:PORT"), "{}", r.stderr);

    // For real: run.py starts the reference service and Envoy; the printed lines work.
    let mut child = Command::new("python3")
        .arg(repo().join("envoy/run.py"))
        .args(args(&[]))
        .current_dir(repo())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join("run.log")).unwrap())
        .spawn()
        .expect("python3 envoy/run.py");
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            // run.py stops its Envoy on TERM.
            // SAFETY: kill(2) takes plain integers and touches no memory of ours; a
            // stale pid at worst signals nothing (the process is ours or gone).
            unsafe { libc::kill(self.0 as i32, libc::SIGTERM) };
        }
    }
    let _stop = Stop(child.id());
    let mut lines = Vec::new();
    {
        use std::io::BufRead;
        let reader = std::io::BufReader::new(child.stdout.take().unwrap());
        for l in reader.lines().map_while(Result::ok) {
            let done = l.contains("# and 403 again");
            lines.push(l);
            if done {
                break;
            }
        }
    }
    let text = lines.join("\n");
    assert!(
        text.contains("# live origins (allow_origins_from, cluster tenant_origins): envoy/origin_service.py on http://127.0.0.1:"),
        "{text}"
    );
    let line_of = |start: &str| {
        lines.iter().map(|l| l.trim()).find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("{start:?} in:\n{text}")).to_string()
    };
    let flip = line_of(&flip);
    let add = line_of(&add);
    let sh = |cmd: &str| {
        let out = Command::new("bash").arg("-c").arg(cmd).current_dir(repo()).output().expect("bash");
        (out.status.success(), out.stdout)
    };
    let flip_status = || parse_response(&sh(&format!("{flip} --max-time 5")).1).status;
    // Envoy is up and has the service's first (empty) answer when the static origin passes and the tenant is refused.
    within(30.0, "Envoy answering", || sh(&format!("curl -s -o /dev/null --max-time 2 localhost:{port}/")).0);
    assert_eq!(flip_status(), 403, "{text}");
    let (ok, said) = sh(&add);
    assert!(ok, "{add}: {}", String::from_utf8_lossy(&said));
    // The promise plus slack for a loaded CI machine (the timer can run late).
    let took = within(2.0 + 3.0, "the printed promise: 204 within 2 s", || flip_status() == 204);
    assert!(took <= Duration::from_millis(3500), "204 after {took:?}, printed: within 2 s (1.5 s slack for a loaded machine)");
    let remove = line_of("python3 envoy/origin_service.py remove");
    let remove = remove.split("   #").next().unwrap();
    assert!(sh(remove).0, "{remove}");
    within(3.0, "403 again", || flip_status() == 403);
    // Ctrl-C (INT, as a terminal sends) is how a user ends `make run`: a
    // normal end, exit 0, so make reports no error (it said Error 130/143).
    std::mem::forget(_stop);
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; a
    // stale pid at worst signals nothing (the process is ours or gone).
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "run.py after Ctrl-C: {status:?}");
}
