//! The docs cannot drift: every fenced block of README.md, CONTRIBUTING.md
//! and docs/*.md is checked by kind.
//!
//! - `json`: a policy; `edge-cors check` must accept it as it is written.
//! - `yaml`: parsed. An Envoy bootstrap (`static_resources`/`dynamic_resources`)
//!   goes through `envoy --mode validate`, and so does an HttpConnectionManager
//!   fragment (`http_filters`, `access_log`) placed in a listener; a
//!   Kubernetes object's or fragment's embedded edge-cors policy (a
//!   `StringValue`'s `value`, a `pluginConfig`) must be accepted. The live-reload pair (a bootstrap with
//!   `lds_config` and a `resources:` listener file) is started for real and
//!   answers a preflight.
//! - `sh`: every `make TARGET` names a target of the Makefile, and every
//!   `edge-cors SUBCOMMAND ...` names a subcommand the binary has.
//! - no language: output shown as it was printed; its `edge-cors` refusals must
//!   still start the way the filter writes them.

//!
//! Run with `cargo test -p edge-cors-cli --test cli docs::` (it runs the edge-cors binary).

use edge_cors_suites as common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

struct Block {
    file: String,
    line: usize,
    lang: String,
    text: String,
}

fn doc_files() -> Vec<PathBuf> {
    let root = repo();
    let mut files = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs")).unwrap().flatten().map(|e| e.path()).collect();
    docs.retain(|p| p.extension().is_some_and(|e| e == "md"));
    docs.sort();
    files.extend(docs);
    files
}

fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.strip_prefix(repo()).unwrap().display().to_string();
        let mut open: Option<(usize, String, Vec<&str>)> = None;
        for (i, line) in text.lines().enumerate() {
            // A fence is a line of its own: "```" anywhere else (a closing
            // fence with text after it, a fence inside a block) would make
            // this reader and a Markdown renderer disagree on what is code.
            let fence = line.trim_start().strip_prefix("```");
            let stray = match (&open, fence) {
                (_, None) => line.contains("```"),
                (None, Some(info)) => info.contains('`'),
                (Some(_), Some(rest)) => !rest.trim().is_empty(),
            };
            assert!(!stray, "{file}:{}: a fence-like line: {line:?}; a fence is ``` (and its language) on a line of its own", i + 1);
            match (&mut open, fence) {
                (None, Some(info)) => open = Some((i + 1, info.trim().to_string(), Vec::new())),
                (Some(_), Some("")) => {
                    let (line, lang, body) = open.take().unwrap();
                    out.push(Block { file: file.clone(), line, lang, text: body.join("\n") });
                }
                (Some((_, _, body)), _) => body.push(line),
                (None, None) => {}
            }
        }
        assert!(open.is_none(), "{file}: a fenced block is never closed");
    }
    out
}

fn policy_ok(b: &Block, policy: &str) -> Result<(), String> {
    edge_cors_engine::config::parse_config(policy.as_bytes()).map(|_| ()).map_err(|e| format!("{}:{}: policy refused: {e}", b.file, b.line))
}

/// The edge-cors policies embedded in a YAML document: `StringValue` values
/// under a wasm filter's `configuration`, and `pluginConfig` objects.
fn embedded_policies(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("@type").and_then(Value::as_str) == Some("type.googleapis.com/google.protobuf.StringValue") {
                if let Some(Value::String(s)) = m.get("value") {
                    out.push(s.clone());
                }
            }
            if let Some(p @ Value::Object(_)) = m.get("pluginConfig") {
                out.push(p.to_string());
            }
            for item in m.values() {
                embedded_policies(item, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| embedded_policies(i, out)),
        _ => {}
    }
}

fn yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text).map(|d| Value::deserialize(d).map_err(|e| e.to_string())).collect()
}

/// `edge-cors check` on a JSON block, as a user would run it.
fn check_with_cli(b: &Block) -> Result<(), String> {
    let dir = repo().join("target/docs-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-line{}.json", std::process::id(), b.line));
    std::fs::write(&path, &b.text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_edge-cors")).arg("check").arg(&path).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}:{}: edge-cors check: {}", b.file, b.line, String::from_utf8_lossy(&out.stdout).trim()))
    }
}

/// A bootstrap around an HttpConnectionManager fragment: its keys go into
/// the connection manager of one listener routed to an `upstream` cluster.
fn hcm_bootstrap(fragment: &serde_json::Map<String, Value>) -> Value {
    let mut hcm = serde_json::json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "docs",
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"}}]}]},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
    });
    for (k, v) in fragment {
        hcm[k] = v.clone();
    }
    serde_json::json!({"static_resources": {
        "listeners": [{"name": "docs", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}]}],
        "clusters": [{"name": "upstream", "type": "STATIC", "connect_timeout": "1s", "load_assignment": {"cluster_name": "upstream",
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 8080}}}}]}]}}],
    }})
}

fn envoy_validate_json(bootstrap: &str, name: &str) -> Result<(), String> {
    envoy_validate_file(bootstrap, &format!("{name}.json"))
}

fn envoy_validate(bootstrap: &str, name: &str) -> Result<(), String> {
    envoy_validate_file(bootstrap, &format!("{name}.yaml"))
}

fn envoy_validate_file(bootstrap: &str, name: &str) -> Result<(), String> {
    let dir = repo().join("target/docs-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));

    std::fs::write(&path, bootstrap).unwrap();
    let out = Command::new(envoy_bin()).args(["--mode", "validate", "-c"]).arg(&path).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).lines().rev().take(3).collect::<Vec<_>>().join(" | "))
    }
}

fn make_targets() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo().join("Makefile")).unwrap();
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        .map(str::to_string)
        .collect()
}

fn has_subcommand(sub: &str) -> bool {
    Command::new(env!("CARGO_BIN_EXE_edge-cors")).args([sub, "--help"]).output().is_ok_and(|o| o.status.success())
}

/// Every fenced block, by kind (see the module's comment).
#[test]
fn every_fenced_block_is_checked() {
    let targets = make_targets();
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for b in blocks() {
        *counts.entry(if b.lang.is_empty() { "output".into() } else { b.lang.clone() }).or_default() += 1;
        let r: Result<(), String> = match b.lang.as_str() {
            "json" => check_with_cli(&b),
            "yaml" => match yaml_documents(&b.text) {
                Err(e) => Err(format!("{}:{}: not YAML: {e}", b.file, b.line)),
                Ok(docs) => {
                    let mut policies = Vec::new();
                    docs.iter().for_each(|d| embedded_policies(d, &mut policies));
                    let mut r = policies.iter().try_for_each(|p| policy_ok(&b, p));
                    let bootstrap = docs.iter().any(|d| d.get("static_resources").is_some() || d.get("dynamic_resources").is_some());
                    let lds = docs.iter().any(|d| d.get("dynamic_resources").is_some());
                    if r.is_ok() && bootstrap && !lds {
                        r = envoy_validate(&b.text, &format!("line{}", b.line))
                            .map_err(|e| format!("{}:{}: envoy --mode validate: {e}", b.file, b.line));
                    }
                    if let (true, [Value::Object(fragment)]) = (r.is_ok(), docs.as_slice()) {
                        if fragment.contains_key("http_filters") || fragment.contains_key("access_log") {
                            let bootstrap = hcm_bootstrap(fragment)
                                .to_string()
                                .replace("/etc/envoy/edge_cors.wasm", &wasm_path().display().to_string())
                                .replace("/opt/edge-cors/libedge_cors.so", &module_path().display().to_string());
                            r = envoy_validate_json(&bootstrap, &format!("line{}", b.line))
                                .map_err(|e| format!("{}:{}: envoy --mode validate (in a listener): {e}", b.file, b.line));
                        }
                    }
                    r
                }
            },
            "sh" => {
                let mut r = Ok(());
                for line in b.text.lines().map(str::trim) {
                    if let Some(rest) = line.strip_prefix("make ") {
                        for word in rest.split_whitespace().take_while(|w| !w.starts_with('#')).filter(|w| !w.contains('=')) {
                            if !targets.contains(word) {
                                r = Err(format!("{}:{}: `make {word}`: no such target", b.file, b.line));
                            }
                        }
                    } else if line == "make" || line.starts_with("make ") {
                    } else if let Some(rest) = line.strip_prefix("edge-cors ") {
                        let sub = rest.split_whitespace().next().unwrap_or("");
                        if !has_subcommand(sub) {
                            r = Err(format!("{}:{}: `edge-cors {sub}`: no such subcommand", b.file, b.line));
                        }
                    }
                }
                r
            }
            "" => b.text.lines().filter_map(|l| l.find("invalid edge-cors configuration").map(|i| &l[i..])).try_for_each(|l| {
                if l.starts_with("invalid edge-cors configuration: ") && l.contains("; fix: ") {
                    Ok(())
                } else {
                    Err(format!("{}:{}: not a refusal as the filter writes it: {l}", b.file, b.line))
                }
            }),
            other => Err(format!("{}:{}: a ```{other} block: say how to check it in crates/cli/tests/cli/docs.rs", b.file, b.line)),
        };
        if let Err(e) = r {
            failures.push(e);
        }
    }
    println!("fenced blocks checked: {counts:?}");
    assert!(failures.is_empty(), "{} block(s) out of date:\n{}", failures.len(), failures.join("\n"));
}

/// Every relative link of the docs names a file that exists, from the
/// linking file's folder (docs/testing.md once linked BENCHMARKS.md, which
/// is one level up).
#[test]
fn relative_links_resolve() {
    let mut broken = Vec::new();
    for path in doc_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let dir = path.parent().unwrap();
        for (i, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices("](") {
                let target = line[at + 2..].split(')').next().unwrap_or("");
                let file = target.split('#').next().unwrap_or("");
                if file.is_empty() || file.contains("://") || file.starts_with("mailto:") {
                    continue;
                }
                if !dir.join(file).exists() {
                    broken.push(format!("{}:{}: {target}", path.strip_prefix(repo()).unwrap().display(), i + 1));
                }
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing:\n{}", broken.join("\n"));
}

/// The live-reload pair in docs/operating.md, run for real: Envoy starts with
/// the bootstrap, serves the listener from the LDS file, and answers a
/// preflight under the policy in it.
#[test]
fn the_live_reload_example_runs() {
    let blocks: Vec<Block> = blocks().into_iter().filter(|b| b.file == "docs/operating.md" && b.lang == "yaml").collect();
    let bootstrap = blocks.iter().find(|b| b.text.contains("lds_config")).expect("a bootstrap with lds_config in docs/operating.md");
    let listeners = blocks.iter().find(|b| b.text.starts_with("resources:")).expect("an LDS file in docs/operating.md");
    let upstream = Upstream::start();
    let listener_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Envoy::start_bootstrap(
        |dir: &Path| {
            let lds_dir = dir.join("lds");
            std::fs::create_dir_all(&lds_dir).unwrap();
            let lds = listeners
                .text
                .replace("/etc/envoy/edge_cors.wasm", &wasm_path().display().to_string())
                .replace("address: 0.0.0.0, port_value: 10000", &format!("address: 127.0.0.1, port_value: {listener_port}"));
            std::fs::write(lds_dir.join("lds.yaml"), lds).unwrap();
            bootstrap
                .text
                .replace("/etc/envoy/lds", &lds_dir.display().to_string())
                .replace("port_value: 9901", "port_value: 0")
                .replace("port_value: 8080", &format!("port_value: {}", upstream.port))
        },
        1,
        &[],
    );
    let envoy = match started {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("the documented bootstrap does not start ({code:?}):\n{log}"),
    };
    let r = preflight(&format!("http://127.0.0.1:{listener_port}/x"), "https://app.example.com", "POST", None);
    assert_eq!((r.status, r.one("access-control-allow-origin")), (204, Some("https://app.example.com")), "{:?}", r.headers);
    envoy.stop();
}
