//! The playground `make run` serves (envoy/playground.html), clicked through
//! in headless Chromium against the real thing: `envoy/run.py --config
//! envoy/envoy.yaml` (what `make run` runs: the demo Envoy with the release
//! module, and the page on a second origin), on free ports. Every button must
//! show what the demo policy promises: the allowed calls their status and the
//! headers JavaScript may read, the refused origin a TypeError. Then a
//! screenshot of the page after the clicks (target/playground/playground.png).
//!
//! Run with `make browser`, or `cargo test -p edge-cors-suites --test browsers playground::` after `make wasm`.
//! Ports: EDGE_CORS_PORT, EDGE_CORS_ADMIN_PORT and EDGE_CORS_PLAYGROUND_PORT
//! (default: free ones). To refresh the screenshot in the docs, on the ports
//! `make run` uses:
//!
//!   EDGE_CORS_PORT=10000 EDGE_CORS_PLAYGROUND_PORT=8080 \
//!   EDGE_CORS_PLAYGROUND_SCREENSHOT=docs/playground.png cargo test -p edge-cors-suites --test browsers playground::

use edge_cors_suites as common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `var` if set, else a port nothing listens on.
fn port_from(var: &str) -> u16 {
    match std::env::var(var) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{var}={v}: not a port")),
        Err(_) => TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port(),
    }
}

/// `envoy/run.py` as `make run` starts it, stopped (with its Envoy) on drop.
struct Run {
    child: Child,
    log: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours; a
        // stale pid at worst signals nothing (the process is ours or gone).
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn start(port: u16, admin: u16, demo: u16, playground: u16) -> Run {
    let shell = match shell() {
        Shell::Wasm => {
            let _fresh = wasm_path();
            "wasm"
        }
        Shell::Module => {
            let _fresh = module_path();
            "module"
        }
    };
    let dir = repo().join("target/playground");
    fs::create_dir_all(&dir).unwrap();
    let log = dir.join(format!("run-{}.log", std::process::id()));
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("envoy/run.py"))
        .args(["--config", "envoy/envoy.yaml", "--shell", shell, "--envoy"])
        .arg(envoy_bin())
        .args(["--port", &port.to_string(), "--admin-port", &admin.to_string()])
        .args(["--demo-port", &demo.to_string(), "--playground-port", &playground.to_string()])
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::from(fs::File::create(&log).unwrap()))
        .stderr(Stdio::from(fs::File::create(&log).unwrap().try_clone().unwrap()));
    // run.py (and through it Envoy) must not outlive the test.
    // SAFETY: the closure runs in the forked child before exec and calls only
    // prctl, which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut run = Run { child: cmd.spawn().expect("python3 envoy/run.py"), log };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            panic!("envoy/run.py exited ({status}):\n{}", fs::read_to_string(&run.log).unwrap_or_default());
        }
        let ready =
            TcpStream::connect(("127.0.0.1", admin)).is_ok() && get(&format!("http://127.0.0.1:{admin}/ready"), &[]).body.trim() == "LIVE";
        if ready && TcpStream::connect(("127.0.0.1", port)).is_ok() && TcpStream::connect(("127.0.0.1", playground)).is_ok() {
            return run;
        }
        assert!(Instant::now() < deadline, "not up within 60 s:\n{}", fs::read_to_string(&run.log).unwrap_or_default());
        thread::sleep(Duration::from_millis(100));
    }
}

/// Chromium on `url` (`?click=all`: the page clicks every button in turn and
/// waits for each). `--disable-site-isolation-trials` keeps the
/// refused-origin button's iframe (another site: 127.0.0.1) in the page's
/// process, where --virtual-time-budget waits for its fetch too; CORS is
/// enforced the same in any process. Returns stdout.
fn chromium_run(url: &str, extra: &[&str]) -> String {
    let mut flags = vec!["--disable-site-isolation-trials".to_string()];
    flags.extend(extra.iter().map(|f| f.to_string()));
    chromium::run(url, &flags, |_| {}, Duration::from_secs(90)).stdout
}

/// The visible text of the element with this id (tags dropped, one space
/// between pieces).
fn text_of(dom: &str, id: &str) -> String {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in the page:\n{dom}"));
    let inner = &dom[start..];
    let inner = &inner[inner.find('>').unwrap() + 1..];
    let inner = &inner[..inner.find("</td>").unwrap_or(inner.len())];
    let mut out = String::new();
    let mut in_tag = false;
    for ch in inner.chars() {
        match ch {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    chromium::unescape_html(&out).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn counter(stats: &str, name: &str) -> u64 {
    stat(stats, &format!("edge_cors.rule.playground.{name}")).unwrap_or(0)
}

/// What one button must show.
struct Expect {
    id: &'static str,
    /// The start of the status cell: "200 OK", "TypeError".
    shows: &'static str,
    /// Readable headers (name, value); `None`: none at all (blocked).
    reads: Option<&'static [(&'static str, &'static str)]>,
    /// The call came from the refused origin.
    refused: bool,
}

#[test]
fn chromium_clicks_through_the_playground() {
    let (port, admin, playground) =
        (port_from("EDGE_CORS_PORT"), port_from("EDGE_CORS_ADMIN_PORT"), port_from("EDGE_CORS_PLAYGROUND_PORT"));
    let demo = port_from("EDGE_CORS_DEMO_PORT");
    let _run = start(port, admin, demo, playground);
    let page = format!("http://localhost:{playground}");
    let refused_origin = format!("http://127.0.0.1:{playground}");
    let before = get(&format!("http://127.0.0.1:{admin}/stats"), &[]).body;

    let dom = chromium_run(&format!("{page}/?click=all"), &["--dump-dom"]);
    let results = dom.split("<pre id=\"results\"").nth(1).unwrap_or_else(|| panic!("no #results in the page:\n{dom}"));
    assert!(results.starts_with(" hidden=\"\" data-done=\"true\">"), "the clicks did not finish: {}", &results[..results.len().min(400)]);
    let json = chromium::unescape_html(results.split_once('>').unwrap().1.split("</pre>").next().unwrap());
    let seen: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("#results is not JSON ({e}): {json}"));

    const BODY_HEADERS: &[(&str, &str)] =
        &[("content-length", "19"), ("content-type", "text/plain"), ("etag", "\"v1\""), ("x-request-id", "demo-1")];
    let cases = [
        Expect { id: "simple-get", shows: "200 OK", reads: Some(BODY_HEADERS), refused: false },
        Expect { id: "preflighted-put", shows: "200 OK", reads: Some(BODY_HEADERS), refused: false },
        Expect { id: "credentialed", shows: "200 OK", reads: Some(BODY_HEADERS), refused: false },
        // The upstream's 401 keeps the rule's CORS headers: status and body readable.
        Expect {
            id: "upstream-401",
            shows: "401 Unauthorized",
            reads: Some(&[("content-length", "27"), ("content-type", "text/plain")]),
            refused: false,
        },
        Expect { id: "refused-origin", shows: "TypeError: Failed to fetch", reads: None, refused: true },
    ];
    let mut failures = vec![];
    for c in &cases {
        let r = &seen[c.id];
        let status = text_of(&dom, &format!("{}-status", c.id));
        let headers = text_of(&dom, &format!("{}-headers", c.id));
        let from = if c.refused { &refused_origin } else { &page };
        let mut wrong = vec![];
        if !status.starts_with(c.shows) {
            wrong.push(format!("shows {status:?}, expected {:?}", c.shows));
        }
        if r["from"].as_str() != Some(from.as_str()) || !status.ends_with(&format!("from {from}")) {
            wrong.push(format!("expected the call from {from}"));
        }
        match c.reads {
            Some(expected) => {
                let read: Vec<(String, String)> = r["headers"]
                    .as_array()
                    .map(|a| a.iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string())).collect())
                    .unwrap_or_default();
                let want: Vec<(String, String)> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                if read != want {
                    wrong.push(format!("response.headers gave {read:?}, expected {want:?}"));
                } else if let Some((k, v)) = expected.iter().find(|(k, v)| !headers.contains(&format!("{k}: {v}"))) {
                    wrong.push(format!("the page does not show {k}: {v}"));
                }
            }
            None => {
                if !r["error"].as_str().unwrap_or("").starts_with("TypeError") || !r["headers"].is_null() {
                    wrong.push("expected a TypeError and no headers".into());
                }
                if !headers.contains("the browser blocked the response") {
                    wrong.push(format!("headers cell shows {headers:?}"));
                }
            }
        }
        if wrong.is_empty() {
            println!("ok    {:<16} {status} | {headers}", c.id);
        } else {
            println!("FAIL  {:<16} {}; the page showed: {status} | {headers}", c.id, wrong.join("; "));
            failures.push(format!("{}: {}", c.id, wrong.join("; ")));
        }
    }

    // The TypeError is edge-cors's refusal of that origin (not a network
    // error), and the PUT went through a preflight the rule allowed.
    let after = get(&format!("http://127.0.0.1:{admin}/stats"), &[]).body;
    let delta = |name: &str| counter(&after, name) - counter(&before, name);
    for (name, want) in [("request_rejected_origin", 1), ("preflight_allowed", 1), ("request_allowed", 4)] {
        let got = delta(name);
        if got == want {
            println!("ok    Envoy counted rule.playground.{name} +{got}");
        } else {
            println!("FAIL  rule.playground.{name} +{got}, expected +{want}");
            failures.push(format!("rule.playground.{name}: +{got}, expected +{want}"));
        }
    }

    // The screenshot, after the same clicks.
    let shot = std::env::var_os("EDGE_CORS_PLAYGROUND_SCREENSHOT")
        .map(|p| repo().join(p))
        .unwrap_or_else(|| repo().join("target/playground/playground.png"));
    let _ = fs::remove_file(&shot);
    chromium_run(
        &format!("{page}/?click=all"),
        &["--hide-scrollbars", "--window-size=1000,700", &format!("--screenshot={}", shot.display())],
    );
    let png = fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let (w, h) = (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1000, 700));
    println!("ok    screenshot {} ({w}x{h}, {} bytes)", shot.display(), png.len());
    assert!(failures.is_empty(), "{} playground check(s) wrong:\n{}", failures.len(), failures.join("\n"));
}
