//! The reference origin service (envoy/origin_service.py, SQLite) for the
//! tests of live origins (`allow_origins_from`), and the Envoy cluster that
//! reaches it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use super::{repo, unique};

pub struct OriginService {
    child: Child,
    pub port: u16,
    pub db: PathBuf,
    /// Its request log: one line per request, such as
    /// "... GET /cors/origins 304 (1 origins)".
    log: Arc<Mutex<Vec<String>>>,
}

impl OriginService {
    /// On a free port, over a fresh SQLite file in its own directory that
    /// holds `origins`.
    pub fn start(origins: &[&str]) -> OriginService {
        let dir = repo().join("target/envoy-tests").join(unique(&format!("origins-{}", std::process::id())));
        std::fs::create_dir_all(&dir).unwrap();
        OriginService::start_in(&dir, origins)
    }

    /// The same with its database in `dir` (`tenants.sqlite`).
    pub fn start_in(dir: &Path, origins: &[&str]) -> OriginService {
        let db = dir.join("tenants.sqlite");
        let _ = std::fs::remove_file(&db);
        if !origins.is_empty() {
            run(&db, &[&["add"], origins].concat());
        }
        let mut child = Command::new("python3")
            .arg(repo().join("envoy/origin_service.py"))
            .args(["serve", "--port", "0", "--db"])
            .arg(&db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 envoy/origin_service.py");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        // "origin service on http://127.0.0.1:PORT/cors/origins (db ...)"
        let port = first
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected start line of the origin service: {first:?}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        OriginService { child, port, db, log }
    }

    /// `origin_service.py add|remove ORIGIN... --db FILE`, as an operator would.
    pub fn run(&self, args: &[&str]) {
        run(&self.db, args);
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

fn run(db: &Path, args: &[&str]) {
    let out = Command::new("python3").arg(repo().join("envoy/origin_service.py")).args(args).arg("--db").arg(db).output().unwrap();
    assert!(out.status.success(), "origin_service.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Drop for OriginService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bootstrap` (from [`super::bootstrap_yaml`], whose cluster list comes
/// last) with the cluster `tenant_origins` on `port` appended.
pub fn with_origin_cluster(bootstrap: String, port: u16) -> String {
    format!(
        r#"{bootstrap}  - name: tenant_origins
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: tenant_origins
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }} }}
"#
    )
}
