//! gRPC-Web from a browser: headless Chromium, on one origin, calls a real
//! gRPC server (Python grpcio, crates/suites/tests/grpc_web/server.py) through Envoy with
//! edge-cors first, then Envoy's `grpc_web` filter, then the router, under
//! the documented policy examples/policies/grpc-web.json. The page
//! (crates/suites/tests/grpc_web/page.html) sends gRPC-Web frames with fetch and reports
//! what JavaScript could read: the reply, and `grpc-status`/`grpc-message`
//! from the response headers (trailers-only replies) or from the body's
//! trailer frame (replies that sent headers first). Run with `make browser`
//! (it installs grpcio with `make grpc-tools`).

use edge_cors_suites as common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// What crates/suites/tests/grpc_web/server.py fails with.
const DENY_MESSAGE: &str = "caller lacks the reader role";
const LATE_MESSAGE: &str = "denied after the headers were sent";
const PERMISSION_DENIED: u64 = 7;

/// The Python with grpcio: `EDGE_CORS_GRPC_PYTHON`, else the Envoy venv's.
fn grpc_python() -> PathBuf {
    let path = std::env::var_os("EDGE_CORS_GRPC_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv/bin/python"));
    let ok =
        Command::new(&path).args(["-c", "import grpc"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(ok, "no grpcio for {}: run `make grpc-tools` (or `make browser`), or set EDGE_CORS_GRPC_PYTHON", path.display());
    path
}

/// crates/suites/tests/grpc_web/server.py, killed when dropped (it also exits when its
/// stdin closes, so it never outlives the test process).
struct GrpcServer {
    port: u16,
    child: Child,
}

impl GrpcServer {
    fn start() -> GrpcServer {
        let mut child = Command::new(grpc_python())
            .arg(repo().join("crates/suites/tests/grpc_web/server.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the gRPC server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the gRPC server printed {line:?}, not its port"));
        GrpcServer { port, child }
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gRPC service routed to the `grpc` cluster; anything else unrouted.
const GRPC_VIRTUAL_HOSTS: &str = r#"
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/edge.Echo/" }
                route: { cluster: grpc }"#;

/// Envoy's gRPC-Web filter, placed between edge-cors and the router.
const GRPC_WEB_FILTER: &str = r#"          - name: envoy.filters.http.grpc_web
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb
"#;
const ROUTER: &str = "          - name: envoy.filters.http.router\n";

/// The gRPC server as an HTTP/2 cluster.
fn grpc_cluster(port: u16) -> String {
    format!(
        r#"  - name: grpc
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{ http2_protocol_options: {{}} }}
    load_assignment:
      cluster_name: grpc
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }} }}
"#
    )
}

/// Envoy with one listener, `grpc_web`: edge-cors (this policy), grpc_web, router.
fn start_envoy(policy: &str, grpc_port: u16) -> Envoy {
    let listener = Listener { name: "grpc_web", config: policy }.yaml().virtual_hosts(GRPC_VIRTUAL_HOSTS).build();
    let filter = if shell() == Shell::Wasm { "envoy.filters.http.wasm" } else { "name: edge-cors" };
    let (edge_cors, router) = (listener.find(filter).unwrap(), listener.find(ROUTER).unwrap());
    assert!(edge_cors < router, "the harness's listener no longer has edge-cors before the router:\n{listener}");
    let listener = listener.replacen(ROUTER, &format!("{GRPC_WEB_FILTER}{ROUTER}"), 1);
    // clusters_yaml's `upstream` and `dead` are unused here; `grpc` follows them.
    let bootstrap = bootstrap_yaml(&[listener], 9) + &grpc_cluster(grpc_port);
    match Envoy::start_bootstrap(|_| bootstrap, 1, &[]) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
    }
}

/// Loads the page at `page_origin` with these calls and returns what it observed.
fn run_page(page_origin: &str, calls: &Value) -> Value {
    let hash =
        percent_encoding::utf8_percent_encode(&serde_json::to_string(calls).unwrap(), percent_encoding::NON_ALPHANUMERIC).to_string();
    let flags = ["--host-resolver-rules=MAP *.test 127.0.0.1".to_string(), "--dump-dom".to_string()];
    let out = chromium::run(&format!("{page_origin}/#{hash}"), &flags, |_| {}, Duration::from_secs(90));
    let observed = chromium::page_result(&out, page_origin);
    assert_eq!(observed["origin"], json!(page_origin), "the page ran on the wrong origin");
    observed
}

/// A call as a gRPC-Web client library makes it.
fn call(name: &str, url: String, message: &str) -> Value {
    json!({
        "name": name,
        "url": url,
        "message": message,
        "headers": {
            "content-type": "application/grpc-web+proto",
            "x-grpc-web": "1",
            "x-user-agent": "grpc-web-javascript/0.1",
            "grpc-timeout": "10S",
            "authorization": "Bearer t0ken",
        },
    })
}

/// One ok/FAIL line; `wrong` lists what differs from the expectation.
fn report(page: &str, name: &str, wrong: Vec<String>, said: &Value, failures: &mut Vec<String>) {
    if wrong.is_empty() {
        println!("ok    [{page}] {name}");
    } else {
        let line = format!("[{page}] {name}: {}; the browser said: {said}", wrong.join(", "));
        println!("FAIL  {line}");
        failures.push(line);
    }
}

/// Checks `r[key] == want`, noting a difference in `wrong`.
fn expect(r: &Value, key: &str, want: Value, wrong: &mut Vec<String>) {
    let got = r.pointer(key).cloned().unwrap_or(Value::Null);
    if got != want {
        wrong.push(format!("{key} = {got}, expected {want}"));
    }
}

/// The result of the call named `name`.
fn result<'a>(observed: &'a Value, name: &str) -> &'a Value {
    observed["results"].as_array().and_then(|rs| rs.iter().find(|r| r["name"] == json!(name))).unwrap_or(&Value::Null)
}

#[test]
fn chromium_reads_grpc_web_status_through_edge_cors() {
    let mut failures = vec![];
    let page_port = chromium::serve_page("crates/suites/tests/grpc_web/page.html");
    let page = format!("http://127.0.0.1:{page_port}");

    // The documented policy, for this page's origin.
    let example = repo().join("examples/policies/grpc-web.json");
    let mut policy: Value = serde_json::from_str(&fs::read_to_string(&example).unwrap()).expect("examples/policies/grpc-web.json is JSON");
    let documented = policy.clone();
    policy["allow_origins"] = json!([page]);
    let policy = policy.to_string();

    // docs/configuration.md shows the same policy.
    let docs = fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let shown = docs
        .split("```json\n")
        .skip(1)
        .filter_map(|b| b.split("\n```").next())
        .any(|b| serde_json::from_str::<Value>(b).is_ok_and(|v| v == documented));
    let wrong = if shown { vec![] } else { vec!["no ```json block of docs/configuration.md equals it".to_string()] };
    report("docs", "docs/configuration.md shows examples/policies/grpc-web.json", wrong, &Value::Null, &mut failures);

    let grpc = GrpcServer::start();
    let envoy = start_envoy(&policy, grpc.port);
    // Envoy is called as http://localhost:<port>: another origin than the page's.
    let at = |method: &str| envoy.url("grpc_web", &format!("/edge.Echo/{method}")).replace("127.0.0.1", "localhost");

    let calls = json!([
        call("Echo", at("Echo"), "hello from chromium"),
        call("Deny", at("Deny"), "may I?"),
        call("DenyLate", at("DenyLate"), "may I now?"),
    ]);
    let observed = run_page(&page, &calls);

    // A normal reply: headers, a message frame, then the trailer frame.
    let r = result(&observed, "Echo");
    let mut wrong = vec![];
    expect(r, "/resolved", json!(true), &mut wrong);
    expect(r, "/status", json!(200), &mut wrong);
    expect(r, "/messages", json!(["echo: hello from chromium (authorization: Bearer t0ken)"]), &mut wrong);
    expect(r, "/grpcStatus", json!(0), &mut wrong);
    expect(r, "/statusFrom", json!("trailer frame"), &mut wrong);
    expect(r, "/trailerFrames", json!(1), &mut wrong);
    expect(r, "/headers/content-type", json!("application/grpc-web+proto"), &mut wrong);
    // Initial metadata outside expose_headers stays hidden.
    expect(r, "/headers/x-internal-trace", Value::Null, &mut wrong);
    report(&page, "unary Echo: reply read, grpc-status 0 from the body's trailer frame, x-internal-trace hidden", wrong, r, &mut failures);

    // A trailers-only error: no frames, the status in the response headers.
    let r = result(&observed, "Deny");
    let mut wrong = vec![];
    expect(r, "/resolved", json!(true), &mut wrong);
    expect(r, "/status", json!(200), &mut wrong);
    expect(r, "/messages", json!([]), &mut wrong);
    expect(r, "/trailerFrames", json!(0), &mut wrong);
    expect(r, "/headers/grpc-status", json!(PERMISSION_DENIED.to_string()), &mut wrong);
    expect(r, "/grpcStatus", json!(PERMISSION_DENIED), &mut wrong);
    expect(r, "/grpcMessage", json!(DENY_MESSAGE), &mut wrong);
    expect(r, "/statusFrom", json!("headers"), &mut wrong);
    // google.rpc.Status {code: 7, message}, as the server encoded it.
    let mut details = vec![0x08, PERMISSION_DENIED as u8, 0x12, DENY_MESSAGE.len() as u8];
    details.extend(DENY_MESSAGE.bytes());
    expect(r, "/detailsBin", json!(details), &mut wrong);
    report(
        &page,
        "Deny (trailers-only): grpc-status 7, grpc-message and grpc-status-details-bin read from the response headers",
        wrong,
        r,
        &mut failures,
    );

    // An error after the headers: the status in the trailer frame.
    let r = result(&observed, "DenyLate");
    let mut wrong = vec![];
    expect(r, "/resolved", json!(true), &mut wrong);
    expect(r, "/status", json!(200), &mut wrong);
    expect(r, "/messages", json!([]), &mut wrong);
    expect(r, "/grpcStatus", json!(PERMISSION_DENIED), &mut wrong);
    expect(r, "/grpcMessage", json!(LATE_MESSAGE), &mut wrong);
    expect(r, "/statusFrom", json!("trailer frame"), &mut wrong);
    report(
        &page,
        "DenyLate (headers, then trailers): grpc-status 7 and grpc-message from the body's trailer frame",
        wrong,
        r,
        &mut failures,
    );

    // A page on an origin outside the policy cannot read anything.
    let evil = format!("http://evil.test:{page_port}");
    let observed = run_page(&evil, &json!([call("Echo from another origin", at("Echo"), "hello")]));
    let r = result(&observed, "Echo from another origin");
    let mut wrong = vec![];
    expect(r, "/resolved", json!(false), &mut wrong);
    if !r["error"].as_str().unwrap_or("").contains("TypeError") {
        wrong.push("expected a TypeError".into());
    }
    report(&evil, "origin outside the policy: the gRPC-Web call is blocked", wrong, r, &mut failures);

    envoy.stop();
    drop(grpc);
    assert!(failures.is_empty(), "{} gRPC-Web check(s) wrong:\n{}", failures.len(), failures.join("\n"));
}
