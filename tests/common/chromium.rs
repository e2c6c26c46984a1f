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

/// Serves one HTML file of the repository (e.g. `tests/browser/page.html`) on
/// 127.0.0.1, and so for any host name Chromium maps there. Under
/// `/sandboxed` the same page comes with `Content-Security-Policy: sandbox
/// allow-scripts` (no allow-same-origin): an opaque origin, whose fetches send
/// `Origin: null`.
pub fn serve_page(file: &str) -> u16 {
    let page = std::sync::Arc::new(fs::read_to_string(repo().join(file)).unwrap());
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    thread::spawn(move || {
        for req in server.incoming_requests() {
            let ct = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"text/html; charset=utf-8"[..]).unwrap();
            let mut resp = tiny_http::Response::from_string(page.as_str()).with_header(ct);
            if req.url().starts_with("/sandboxed") {
                resp.add_header(tiny_http::Header::from_bytes(&b"Content-Security-Policy"[..], &b"sandbox allow-scripts"[..]).unwrap());
            }
            let _ = req.respond(resp);
        }
    });
    port
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
