//! Headless Debian Chromium for the browser tests: one way to start it, wait
//! for it and read what the page wrote into `<pre id="result">`.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{repo, unique};

/// Debian's Chromium: `EDGE_CORS_CHROMIUM`, else /usr/bin/chromium.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("EDGE_CORS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "Chromium not found at {}: run `make browser` (it installs Debian's chromium) or set EDGE_CORS_CHROMIUM",
        path.display()
    );
    path
}

/// Serves one HTML file of the repository (e.g. `crates/suites/tests/browser/page.html`) on
/// 127.0.0.1, and so for any host name Chromium maps there. Under
/// `/sandboxed` the same page comes with `Content-Security-Policy: sandbox
/// allow-scripts` (no allow-same-origin): an opaque origin, whose fetches send
/// `Origin: null`.
pub fn serve_page(file: &str) -> u16 {
    let page = std::sync::Arc::new(fs::read_to_string(repo().join(file)).unwrap());
    super::http_server::serve(move |req| {
        let resp = super::http_server::Response::new(200, page.as_str()).header("Content-Type", "text/html; charset=utf-8");
        if req.url.starts_with("/sandboxed") {
            resp.header("Content-Security-Policy", "sandbox allow-scripts")
        } else {
            resp
        }
    })
    .forever()
}

/// What Chromium printed (`--dump-dom` writes the page to stdout).
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Loads `url` in a fresh profile with the flags every test needs (headless,
/// no background network traffic, virtual time so the page's fetches finish
/// before the DOM is dumped) and the caller's `extra` flags; `profile_setup`
/// may write into the profile first (e.g. Preferences).
pub fn run(url: &str, extra: &[String], profile_setup: impl FnOnce(&std::path::Path), timeout: Duration) -> Output {
    let profile = repo().join("target/browser-profiles").join(unique("profile"));
    fs::create_dir_all(&profile).unwrap();
    profile_setup(&profile);
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
            "--virtual-time-budget=30000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within {} s", timeout.as_secs());
        }
        thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let _ = fs::remove_dir_all(&profile);
    Output { stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
}

/// The JSON the page wrote into `<pre id="result">` of a `--dump-dom` output.
pub fn page_result(out: &Output, page: &str) -> Value {
    let text = out
        .stdout
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no result in the page at {page}; chromium said:\n{}\n{}", out.stdout, out.stderr));
    let text = unescape_html(text);
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("the page at {page} did not finish: {text}"))
}

pub fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&nbsp;", " ").replace("&amp;", "&")
}

/// What a test expects JavaScript to see for one call.
#[derive(Clone, Copy)]
pub enum Expect {
    /// A TypeError: the browser blocked the response.
    Blocked,
    /// Resolved with this status and body.
    Readable { status: u16, body: &'static str },
}

/// One call the test page makes (the page reads `request` and `read`).
pub struct Case {
    pub name: &'static str,
    pub request: Value,
    pub expect: Expect,
    /// Headers and whether JavaScript must be able to read them.
    pub headers: &'static [(&'static str, bool)],
}

pub fn case(name: &'static str, url: String, expect: Expect) -> Case {
    Case { name, request: json!({ "url": url }), expect, headers: &[] }
}

impl Case {
    pub fn with(mut self, key: &str, v: Value) -> Case {
        self.request[key] = v;
        self
    }

    pub fn reads(mut self, headers: &'static [(&'static str, bool)]) -> Case {
        self.headers = headers;
        self
    }
}

// ------------------------------------------------- the results page (page.html)

/// The cases as the page reads them from its URL's fragment.
pub fn requests(cases: &[Case]) -> Value {
    cases
        .iter()
        .map(|c| {
            let mut r = c.request.clone();
            r["name"] = json!(c.name);
            r["read"] = json!(c.headers.iter().map(|(h, _)| *h).collect::<Vec<_>>());
            r
        })
        .collect()
}

/// Loads the page at `url` in a fresh Chromium with `spec` (see page.html)
/// as its fragment and returns what it observed; `extra` are more flags.
/// Host names under `.test` resolve to this machine.
pub fn load(url: &str, spec: &Value, extra: &[&str]) -> Value {
    let hash = percent_encoding::utf8_percent_encode(&serde_json::to_string(spec).unwrap(), percent_encoding::NON_ALPHANUMERIC).to_string();
    let mut flags = vec!["--host-resolver-rules=MAP *.test 127.0.0.1".to_string(), "--dump-dom".to_string()];
    flags.extend(extra.iter().map(|f| f.to_string()));
    let out = run(&format!("{url}#{hash}"), &flags, |_| {}, Duration::from_secs(90));
    page_result(&out, url)
}

/// One ok/FAIL line under `label`; a FAIL is also added to `failures`.
pub fn check(label: &str, name: &str, ok: bool, detail: &str, failures: &mut Vec<String>) {
    if ok {
        println!("ok    [{label}] {name}");
    } else {
        println!("FAIL  [{label}] {name}: {detail}");
        failures.push(format!("[{label}] {name}: {detail}"));
    }
}

/// Compares each case with what the page observed, one ok/FAIL line each
/// under `label`, and returns the failures. With `h2`, a readable answer
/// must also have come over HTTP/2 (`nextHopProtocol`).
pub fn judge(label: &str, observed: &Value, cases: &[Case], h2: bool) -> Vec<String> {
    let mut failures = vec![];
    let results = observed["results"].as_array().cloned().unwrap_or_default();
    for c in cases {
        let r = results.iter().find(|r| r["name"] == json!(c.name)).cloned().unwrap_or(Value::Null);
        let mut said = format!(
            "resolved={} status={} error={} body={:?} headers={}",
            r["resolved"],
            r["status"],
            r["error"],
            r["body"].as_str().unwrap_or(""),
            r["headers"]
        );
        if h2 {
            said.push_str(&format!(" nextHopProtocol={}", r["protocol"]));
        }
        let mut wrong = vec![];
        let mut name = c.name.to_string();
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
                    if h2 && r["protocol"] != json!("h2") {
                        wrong.push("expected nextHopProtocol h2".into());
                    }
                }
                for (h, readable) in c.headers {
                    if r["headers"][h].is_null() == *readable {
                        wrong.push(format!("expected {h} to be {}", if *readable { "readable" } else { "hidden" }));
                    }
                }
                if h2 {
                    name.push_str(" (h2)");
                }
            }
        }
        check(label, &name, wrong.is_empty(), &format!("{}; the browser said: {said}", wrong.join(", ")), &mut failures);
    }
    failures
}
