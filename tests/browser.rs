//! A real browser as the judge: headless Chromium loads a page from one
//! origin that calls Envoy + edge-cors on another, and the test checks what
//! JavaScript could observe (resolved or TypeError, status, body, readable
//! headers). Run just this part with `make browser`.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn chromium() -> PathBuf {
    let path = std::env::var_os("EDGE_CORS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(path.exists(), "Chromium not found at {}: run `make browser` (it installs Debian's chromium) or set EDGE_CORS_CHROMIUM", path.display());
    path
}

/// Serves the test page on 127.0.0.1 (any host name mapped to it serves it too).
fn page_server() -> u16 {
    let page = Arc::new(fs::read_to_string(repo().join("tests/browser/page.html")).unwrap());
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    thread::spawn(move || {
        for req in server.incoming_requests() {
            let ct = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/html; charset=utf-8"[..]).unwrap();
            let _ = req.respond(tiny_http::Response::from_string(page.as_str()).with_header(ct));
        }
    });
    port
}

/// What the test expects JavaScript to see.
#[derive(Clone, Copy)]
enum Expect {
    /// A TypeError: the browser blocked the response.
    Blocked,
    /// Resolved with this status and body.
    Readable { status: u16, body: &'static str },
}

struct Case {
    name: &'static str,
    request: Value,
    expect: Expect,
    /// Headers and whether JavaScript must be able to read them.
    headers: &'static [(&'static str, bool)],
}

fn case(name: &'static str, url: String, expect: Expect) -> Case {
    Case { name, request: json!({ "url": url }), expect, headers: &[] }
}

impl Case {
    fn with(mut self, key: &str, v: Value) -> Case {
        self.request[key] = v;
        self
    }
    fn reads(mut self, headers: &'static [(&'static str, bool)]) -> Case {
        self.headers = headers;
        self
    }
}

fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&nbsp;", " ").replace("&amp;", "&")
}

/// Loads the page at `page_origin` with these cases and returns what it observed.
fn run_page(page_origin: &str, cases: &[Case]) -> Value {
    let requests: Vec<Value> = cases
        .iter()
        .map(|c| {
            let mut r = c.request.clone();
            r["name"] = json!(c.name);
            r["read"] = json!(c.headers.iter().map(|(h, _)| *h).collect::<Vec<_>>());
            r
        })
        .collect();
    let hash = percent_encoding::utf8_percent_encode(&serde_json::to_string(&requests).unwrap(), percent_encoding::NON_ALPHANUMERIC).to_string();
    let profile = repo().join("target/browser-profiles").join(unique("profile"));
    fs::create_dir_all(&profile).unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-extensions",
            // Host names for the wildcard cases all resolve to this machine.
            "--host-resolver-rules=MAP *.test 127.0.0.1",
            "--virtual-time-budget=30000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("{page_origin}/#{hash}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let text = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no result in the page; chromium said:\n{}\n{}", dom, String::from_utf8_lossy(&out.stderr)));
    let text = unescape_html(text);
    let _ = fs::remove_dir_all(&profile);
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("page did not finish: {text}"))
}

/// Compares, prints one line per case, and returns the failures.
fn judge(page: &str, observed: &Value, cases: &[Case]) -> Vec<String> {
    let mut failures = vec![];
    assert_eq!(observed["origin"], json!(page), "the page ran on the wrong origin");
    let results = observed["results"].as_array().cloned().unwrap_or_default();
    for c in cases {
        let r = results.iter().find(|r| r["name"] == json!(c.name)).cloned().unwrap_or(Value::Null);
        let said = format!(
            "resolved={} status={} error={} body={:?} headers={}",
            r["resolved"], r["status"], r["error"], r["body"].as_str().unwrap_or(""), r["headers"]
        );
        let mut wrong = vec![];
        match c.expect {
            Expect::Blocked => {
                if r["resolved"] != json!(false) || !r["error"].as_str().unwrap_or("").contains("TypeError") {
                    wrong.push("expected a TypeError".to_string());
                }
            }
            Expect::Readable { status, body } => {
                if r["resolved"] != json!(true) {
                    wrong.push("expected the response to be readable".into());
                } else {
                    if r["status"] != json!(status) {
                        wrong.push(format!("expected status {status}"));
                    }
                    if r["body"] != json!(body) {
                        wrong.push(format!("expected body {body:?}"));
                    }
                }
                for (h, readable) in c.headers {
                    if r["headers"][h].is_null() == *readable {
                        wrong.push(format!("expected {h} to be {}", if *readable { "readable" } else { "hidden" }));
                    }
                }
            }
        }
        if wrong.is_empty() {
            println!("ok    [{page}] {}", c.name);
        } else {
            println!("FAIL  [{page}] {}: {}; the browser said: {said}", c.name, wrong.join(", "));
            failures.push(format!("[{page}] {}: {}; the browser said: {said}", c.name, wrong.join(", ")));
        }
    }
    failures
}

#[test]
fn chromium_enforces_what_edge_cors_sends() {
    let page_port = page_server();
    let upstream = Upstream::start();
    let page = format!("http://127.0.0.1:{page_port}");
    let main = format!(
        r#"{{"allow_origins": ["{page}"], "allow_methods": ["GET", "POST"], "allow_headers": ["content-type", "authorization"],
            "expose_headers": ["etag", "x-request-id"], "max_age": 0}}"#
    );
    let credentials = format!(r#"{{"allow_origins": ["{page}"], "allow_credentials": true, "expose_headers": ["etag"], "max_age": 0}}"#);
    let star = format!(r#"{{"allow_origins": ["{page}"], "allow_methods": ["*"], "allow_headers": ["*"], "max_age": 0}}"#);
    let other = r#"{"allow_origins": ["https://other.example"], "allow_headers": ["*"], "max_age": 0}"#.to_string();
    let wild = format!(r#"{{"allow_origins": ["http://*.corp.test:{page_port}"], "allow_headers": ["x-trace"], "max_age": 0}}"#);
    let envoy = Envoy::expect_running(
        &[
            Listener { name: "main", config: &main },
            Listener { name: "credentials", config: &credentials },
            Listener { name: "star", config: &star },
            Listener { name: "other", config: &other },
            Listener { name: "wild", config: &wild },
        ],
        upstream.port,
    );
    // Envoy is called as http://localhost:<port>: another origin than the page's.
    let at = |listener: &str, path: &str| envoy.url(listener, path).replace("127.0.0.1", "localhost");
    let ok = |body: &'static str| Expect::Readable { status: 200, body };
    let json_post = json!({"content-type": "application/json", "authorization": "Bearer t0ken"});

    let cases = vec![
        case("simple GET allowed", at("main", "/api/simple"), ok("upstream saw /api/simple\n")),
        case("JSON POST with Authorization (preflighted) allowed", at("main", "/api/post"), ok("upstream saw /api/post\n"))
            .with("method", json!("POST"))
            .with("headers", json_post.clone())
            .with("body", json!("{\"a\":1}")),
        case("PUT outside allow_methods blocked", at("main", "/api/put"), Expect::Blocked).with("method", json!("PUT")),
        case("header outside allow_headers blocked", at("main", "/api/hdr"), Expect::Blocked).with("headers", json!({"x-secret": "1"})),
        case("credentials: include blocked without a credentials policy", at("main", "/api/cred"), Expect::Blocked)
            .with("credentials", json!("include")),
        case("credentials: include allowed under a credentials policy", at("credentials", "/api/cred"), ok("upstream saw /api/cred\n"))
            .with("credentials", json!("include"))
            .reads(&[("etag", true), ("x-request-id", false)]),
        case("exposed headers readable, others hidden", at("main", "/api/expose"), ok("upstream saw /api/expose\n"))
            .reads(&[("etag", true), ("x-request-id", true), ("x-internal", false), ("content-type", true)]),
        case("upstream 401 status and body readable", at("main", "/api/status/401"), Expect::Readable { status: 401, body: "upstream says 401\n" }),
        case("upstream 500 status and body readable", at("main", "/api/status/500"), Expect::Readable { status: 500, body: "upstream says 500\n" }),
        case("Envoy's own 503 readable", at("main", "/dead/x"), Expect::Readable { status: 503, body: "no healthy upstream" }),
        case("Envoy's own 404 readable", at("main", "/no-route"), Expect::Readable { status: 404, body: "" }),
        case("other listener blocks a simple GET", at("other", "/api/simple"), Expect::Blocked),
        case("other listener blocks despite the upstream's ACAO *", at("other", "/api/upstream-cors"), Expect::Blocked),
        case("other listener blocks a preflighted POST", at("other", "/api/post"), Expect::Blocked)
            .with("method", json!("POST"))
            .with("headers", json_post.clone()),
        // Chromium also accepts Authorization under a literal `*` (other engines
        // follow Fetch and do not); tests/envoy.rs checks that it is named.
        case("allow_headers [*] lets Authorization through", at("star", "/api/star"), ok("upstream saw /api/star\n"))
            .with("method", json!("DELETE"))
            .with("headers", json!({"authorization": "Bearer t0ken", "x-anything": "1"})),
        case("upstream's own CORS headers do not leak (credentials)", at("main", "/api/upstream-cors"), Expect::Blocked)
            .with("credentials", json!("include")),
    ];
    let mut failures = judge(&page, &run_page(&page, &cases), &cases);

    // Wildcard subdomains: the page itself served under matching and look-alike names.
    let wild_case = |name: &'static str, expect: Expect| {
        vec![case(name, at("wild", "/api/wild"), expect).with("headers", json!({"x-trace": "1"}))]
    };
    for (host, name, expect) in [
        ("app.corp.test", "wildcard subdomain allowed", ok("upstream saw /api/wild\n")),
        ("deep.app.corp.test", "deeper wildcard subdomain allowed", ok("upstream saw /api/wild\n")),
        ("evilcorp.test", "look-alike without the dot blocked", Expect::Blocked),
        ("corp.test.evil.test", "look-alike suffix blocked", Expect::Blocked),
    ] {
        let origin = format!("http://{host}:{page_port}");
        let cases = wild_case(name, expect);
        failures.extend(judge(&origin, &run_page(&origin, &cases), &cases));
    }
    envoy.stop();
    assert!(failures.is_empty(), "{} browser case(s) wrong:\n{}", failures.len(), failures.join("\n"));
}
