//! Live origins (`allow_origins_from`, docs/contract.md "Live origins")
//! through a real Envoy and real origin services: the reference service
//! (envoy/origin_service.py, SQLite) for adding and removing tenants and
//! its ETags, and a service this test steers for the failures (a bad entry,
//! a 500, a timeout, the service down).

use edge_cors_suites as common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::origins::{with_origin_cluster, OriginService};
use common::*;

const APP: &str = "https://app.example.com";
const SHOP: &str = "https://shop.acme.example";

/// Envoy with one listener `live` running `policy`, the test upstream and
/// the origin service on `origins_port`, with `workers` worker threads.
fn envoy(policy: &str, upstream: &Upstream, origins_port: u16, workers: u32) -> Envoy {
    let listener = Listener { name: "live", config: policy };
    let workers = workers.to_string();
    match Envoy::start_bootstrap(
        |_| with_origin_cluster(bootstrap_yaml(&[listener.yaml().build()], upstream.port), origins_port),
        1,
        &["--concurrency", &workers],
    ) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}):\n{log}"),
    }
}

fn policy(refresh: u32, timeout_ms: u32) -> String {
    format!(
        r#"{{"allow_origins": ["{APP}"], "allow_credentials": true, "allow_methods": ["GET", "PUT"],
            "allow_origins_from": {{"cluster": "tenant_origins", "path": "/cors/origins", "authority": "tenants.internal",
                                   "refresh_seconds": {refresh}, "timeout_ms": {timeout_ms}}}}}"#
    )
}

fn preflight_status(envoy: &Envoy, origin: &str) -> u16 {
    preflight(&envoy.url("live", "/api/x"), origin, "PUT", None).status
}

/// Polls until `check` holds, for up to `secs`.
fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

fn metric(envoy: &Envoy, what: &str) -> u64 {
    stat(&envoy.stats(), &format!("edge_cors.origins_source.default.{what}")).unwrap_or(0)
}

/// docs/contract.md "Live origins": a tenant added to the service is allowed
/// without a reload, removed is refused again; the static list stays; the
/// service's ETag turns unchanged answers into 304s.
#[test]
fn tenants_added_and_removed_apply_without_a_reload() {
    let upstream = Upstream::start();
    let service = OriginService::start(&[]);
    let envoy = envoy(&policy(1, 1000), &upstream, service.port, 1);

    eventually(10, "the first (empty) answer applied", || metric(&envoy, "updates_applied") >= 1);
    assert_eq!(preflight_status(&envoy, SHOP), 403, "not a tenant yet");
    assert_eq!(preflight_status(&envoy, APP), 204, "the static list applies");

    service.run(&["add", SHOP]);
    eventually(10, "the added tenant allowed", || preflight_status(&envoy, SHOP) == 204);
    let r = get(&envoy.url("live", "/api/x"), &[("origin", SHOP)]);
    assert_eq!((r.one("access-control-allow-origin"), r.one("access-control-allow-credentials")), (Some(SHOP), Some("true")));
    assert_eq!(preflight_status(&envoy, APP), 204, "the union: static origins still allowed");
    assert_eq!(metric(&envoy, "origins"), 1);

    // Unchanged answers are 304s: the filter sends the ETag it applied.
    eventually(10, "a 304", || metric(&envoy, "updates_unchanged") >= 1);
    assert!(service.log().iter().any(|l| l.contains(" 304")), "{:?}", service.log());

    service.run(&["remove", SHOP]);
    eventually(10, "the removed tenant refused", || preflight_status(&envoy, SHOP) == 403);
    assert_eq!(metric(&envoy, "origins"), 0);
    assert_eq!(metric(&envoy, "updates_refused") + metric(&envoy, "updates_failed"), 0, "{}", envoy.log());
    // The request went where the policy says, as the policy says.
    let seen = upstream.seen("/cors/origins");
    assert!(seen.is_empty(), "the fetch went to the origin cluster, not the upstream");
    envoy.stop();
}

// ------------------------------------------------- a service we steer

#[derive(Clone)]
enum Reply {
    Json(String),
    Status(u16),
    /// Answers the list after this many milliseconds.
    Slow(u64, String),
}

/// What the service saw: when, the `If-None-Match` sent, and the request line.
type Fetch = (Instant, Option<String>, String);

struct Steered {
    port: u16,
    reply: Arc<Mutex<Reply>>,
    requests: Arc<Mutex<Vec<Fetch>>>,
    /// Held so the service lives as long as this value (dropped: down).
    _server: http_server::Server,
}

impl Steered {
    fn start(first: Reply) -> Steered {
        let reply = Arc::new(Mutex::new(first));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (r, q) = (reply.clone(), requests.clone());
        let server = http_server::serve(move |req| {
            let inm = req.header("if-none-match").map(str::to_string);
            let host = req.header("host").unwrap_or_default();
            q.lock().unwrap().push((Instant::now(), inm, format!("{} {} host={host}", req.method, req.url)));
            match r.lock().unwrap().clone() {
                Reply::Json(body) => http_server::Response::new(200, body),
                Reply::Status(code) => http_server::Response::new(code, "no"),
                Reply::Slow(ms, body) => http_server::Response::new(200, body).delay(Duration::from_millis(ms)),
            }
        });
        Steered { port: server.port, reply, requests, _server: server }
    }

    fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn origins_json(list: &[&str]) -> String {
    serde_json::json!({ "origins": list }).to_string()
}

/// docs/contract.md "Live origins": before the first good answer only the
/// static list applies; a bad entry, a 500, a timeout and the service down
/// each keep the last good set, count, and say why in one log line.
#[test]
fn a_bad_answer_or_no_answer_keeps_the_last_good_set() {
    let upstream = Upstream::start();
    let service = Steered::start(Reply::Status(500));
    let envoy = envoy(&policy(1, 400), &upstream, service.port, 1);

    eventually(10, "a failed fetch", || metric(&envoy, "updates_failed") >= 1);
    assert_eq!(preflight_status(&envoy, SHOP), 403, "fail closed: no answer applied yet");
    assert_eq!(preflight_status(&envoy, APP), 204);
    assert!(envoy.log().contains("failed: status 500 (the service must answer 200 with the list, or 304); no answer applied yet, so only the static allow_origins apply"), "{}", envoy.log());
    let first = service.requests.lock().unwrap()[0].2.clone();
    assert_eq!(first, "GET /cors/origins host=tenants.internal", "the policy's path and authority");

    service.set(Reply::Json(origins_json(&[SHOP, "https://*.tenants.example"])));
    eventually(10, "the good answer applied", || preflight_status(&envoy, SHOP) == 204);
    assert_eq!(preflight_status(&envoy, "https://a.tenants.example"), 204);

    // One bad entry refuses the answer's additions: the new good entry is
    // not applied either, and (nothing removed) the last good set keeps
    // serving whole.
    let refused = metric(&envoy, "updates_refused");
    service.set(Reply::Json(origins_json(&[SHOP, "https://*.tenants.example", "https://new.example", "http://plain.example"])));
    eventually(10, "the bad answer refused", || metric(&envoy, "updates_refused") > refused);
    assert!(
        envoy.log().contains("refused: origins[3] = \"http://plain.example\": is a plain-HTTP origin while allow_credentials is true"),
        "{}",
        envoy.log()
    );
    assert!(envoy.log().contains("the last good set (2 origins) keeps serving"), "{}", envoy.log());
    assert_eq!((preflight_status(&envoy, SHOP), preflight_status(&envoy, "https://new.example")), (204, 403));

    for (reply, line) in [
        (Reply::Status(500), "failed: status 500"),
        (Reply::Slow(1500, origins_json(&["https://slow.example"])), "failed: no answer within timeout_ms (400 ms)"),
        (Reply::Status(503), "failed: status 503: the service is unavailable, or the proxy could not connect"),
    ] {
        let failed = metric(&envoy, "updates_failed");
        service.set(reply);
        eventually(10, line, || metric(&envoy, "updates_failed") > failed);
        assert!(envoy.log().contains(line), "{line}: {}", envoy.log());
        assert_eq!((preflight_status(&envoy, SHOP), preflight_status(&envoy, "https://slow.example")), (204, 403));
    }
    // A good answer after failures is said once.
    service.set(Reply::Json(origins_json(&[SHOP, "https://*.tenants.example"])));
    eventually(10, "the recovery logged", || envoy.log().contains("(rule default) recovered after "));
    let slow_ok = metric(&envoy, "updates_applied");
    let failed_before = metric(&envoy, "updates_failed");
    service.set(Reply::Status(500));
    eventually(10, "failing again", || metric(&envoy, "updates_failed") > failed_before);
    // The service down: dropping it closes its listener and connections.
    drop(service);
    let failed = metric(&envoy, "updates_failed");
    eventually(10, "a failure with the service down", || metric(&envoy, "updates_failed") > failed + 1);
    assert!(envoy.log().contains("could not connect to cluster \"tenant_origins\" (is the service up?)"), "{}", envoy.log());
    assert_eq!(preflight_status(&envoy, SHOP), 204, "still the last good set");
    assert_eq!(metric(&envoy, "updates_applied"), slow_ok, "nothing applied meanwhile");
    assert_eq!(metric(&envoy, "origins"), 2);
    envoy.stop();
}

/// docs/contract.md "Live origins": an answer with a bad entry (as the
/// review's ftp:// tenant) never adds an origin, but its removals apply: a
/// removed tenant is refused within the refresh, counted and logged; the
/// next answer without errors adds again.
#[test]
fn a_bad_entry_never_freezes_revocation() {
    let upstream = Upstream::start();
    let gone = "https://gone.example";
    let new = "https://new.example";
    let service = Steered::start(Reply::Json(origins_json(&[SHOP, gone])));
    let envoy = envoy(&policy(1, 400), &upstream, service.port, 1);
    eventually(10, "the first answer applied", || preflight_status(&envoy, gone) == 204);

    service.set(Reply::Json(origins_json(&[SHOP, "ftp://files.example", new, "https://shop.example:70000"])));
    eventually(10, "the removed tenant refused", || preflight_status(&envoy, gone) == 403);
    assert_eq!((preflight_status(&envoy, SHOP), preflight_status(&envoy, new)), (204, 403), "kept, and never added");
    eventually(5, "counted", || metric(&envoy, "updates_removals_applied") >= 1);
    assert!(metric(&envoy, "updates_refused") >= 1);
    assert_eq!(metric(&envoy, "origins"), 1);
    let log = envoy.log();
    assert!(
        log.contains("refused for additions: origins[1] = \"ftp://files.example\"")
            && log.contains("its removals applied: 1 origin removed, 1 kept"),
        "{log}"
    );
    // The tenant database fixed: the new tenant arrives.
    service.set(Reply::Json(origins_json(&[SHOP, new])));
    eventually(10, "the new tenant allowed", || preflight_status(&envoy, new) == 204);
    envoy.stop();
}

/// docs/contract.md "Live origins": fetched entries are sites (never `*`,
/// `null`, a scheme wildcard) and never a wildcard over a public suffix,
/// without credentials too.
#[test]
fn fetched_public_entries_never_apply() {
    let upstream = Upstream::start();
    let service = Steered::start(Reply::Json(origins_json(&[SHOP, "*"])));
    let open = format!(
        r#"{{"allow_origins": ["{APP}"], "allow_methods": ["GET", "PUT"],
            "allow_origins_from": {{"cluster": "tenant_origins", "path": "/cors/origins", "refresh_seconds": 1, "timeout_ms": 400}}}}"#
    );
    let envoy = envoy(&open, &upstream, service.port, 1);
    for (entry, line) in [
        ("*", "origins[1] = \"*\": is not a site"),
        ("null", "origins[1] = \"null\": is not a site"),
        ("https://*", "origins[1] = \"https://*\": is not a site"),
        ("https://*.vercel.app", "\"vercel.app\" is a public suffix (private section of the Public Suffix List)"),
    ] {
        service.set(Reply::Json(origins_json(&[SHOP, entry])));
        eventually(10, line, || envoy.log().contains(line));
        for evil in ["https://evil.example", "https://attacker.vercel.app", "null"] {
            assert_eq!(preflight_status(&envoy, evil), 403, "{entry}: {evil}");
            let r = get(&envoy.url("live", "/api/x"), &[("origin", evil)]);
            assert_eq!(r.one("access-control-allow-origin"), None, "{entry}: {evil}");
        }
    }
    assert_eq!(metric(&envoy, "updates_applied"), 0);
    envoy.stop();
}

/// docs/contract.md "Live origins": a 304 to a request without
/// If-None-Match is a failure, and the source is stale from its start.
#[test]
fn a_304_before_any_answer_is_a_failure() {
    let upstream = Upstream::start();
    let service = Steered::start(Reply::Status(304));
    let envoy = envoy(&policy(1, 400), &upstream, service.port, 1);
    eventually(10, "two failures", || metric(&envoy, "updates_failed") >= 2);
    eventually(10, "stale for 3 s", || metric(&envoy, "seconds_since_update") >= 3);
    assert_eq!(metric(&envoy, "updates_unchanged"), 0);
    assert!(envoy.log().contains("failed: status 304 to a request without If-None-Match"), "{}", envoy.log());
    assert!(service.requests.lock().unwrap().iter().all(|r| r.1.is_none()), "no ETag was ever sent");
    envoy.stop();
}

/// docs/contract.md "Live origins": with Istio's cluster names
/// (`outbound|PORT||HOST`) the fetch carries `Host: HOST`. The service sits
/// behind an Envoy listener, as behind a sidecar: `Host: outbound|...` would
/// be refused there with 400 (http.invalid_authority).
#[test]
fn istio_cluster_names_send_the_host_part() {
    let upstream = Upstream::start();
    let service = Steered::start(Reply::Json(origins_json(&[SHOP])));
    let sidecar = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let istio = "outbound|8080||tenants.default.svc.cluster.local";
    let policy = format!(
        r#"{{"allow_origins": ["{APP}"], "allow_methods": ["GET", "PUT"],
            "allow_origins_from": {{"cluster": "{istio}", "path": "/cors/origins", "refresh_seconds": 1}}}}"#
    );
    let listener = Listener { name: "live", config: &policy };
    let sidecar_listener = format!(
        r#"
  - name: sidecar
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {sidecar} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: sidecar
          route_config:
            virtual_hosts:
            - name: inbound
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                route: {{ cluster: tenant_origins }}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#
    );
    let istio_cluster = format!(
        r#"  - name: "{istio}"
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: "{istio}"
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {sidecar} }} }} }}
"#
    );
    let envoy = match Envoy::start_bootstrap(
        |_| {
            let b = bootstrap_yaml(&[listener.yaml().build(), sidecar_listener.clone()], upstream.port);
            with_origin_cluster(b, service.port) + &istio_cluster
        },
        2,
        &[],
    ) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}):\n{log}"),
    };
    eventually(10, "the tenant allowed through the sidecar", || preflight_status(&envoy, SHOP) == 204);
    let first = service.requests.lock().unwrap()[0].2.clone();
    assert_eq!(first, "GET /cors/origins host=tenants.default.svc.cluster.local");
    envoy.stop();
}

/// docs/contract.md "Live origins": a shorter refresh through an LDS update
/// applies within the new refresh + 1 s (not after the old lease), and two
/// listeners sharing one VM id and source with different refreshes each
/// keep their own.
#[test]
fn a_changed_refresh_applies_at_once() {
    let upstream = Upstream::start();
    let service = Steered::start(Reply::Json(origins_json(&[SHOP])));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let with = |refresh: u32| {
        format!(
            r#"{{"allow_origins": ["{APP}"], "allow_origins_from": {{"cluster": "tenant_origins", "path": "/cors/origins",
                 "refresh_seconds": {refresh}, "timeout_ms": 500}}}}"#
        )
    };
    let envoy = match Envoy::start_bootstrap(
        |dir| {
            let lds_dir = dir.join("lds");
            std::fs::create_dir_all(&lds_dir).unwrap();
            std::fs::write(lds_dir.join("lds.yaml"), lds_yaml("live", port, &with(600))).unwrap();
            with_origin_cluster(lds_bootstrap(&lds_dir, &clusters_yaml(upstream.port)), service.port)
        },
        1,
        &[],
    ) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}):\n{log}"),
    };
    let url = format!("http://127.0.0.1:{port}/api/x");
    eventually(10, "the first fetch", || preflight(&url, SHOP, "GET", None).status == 204);
    thread::sleep(Duration::from_secs(2));
    let before = service.count();
    assert_eq!(before, 1, "one fetch with a 600 s refresh");
    publish_lds(&envoy.dir.join("lds"), &lds_yaml("live", port, &with(2)));
    // Within the new refresh + 1 s of the update, then every 2 s.
    eventually(10, "a fetch soon after the update", || service.count() > before);
    let after_update = service.count();
    thread::sleep(Duration::from_millis(6500));
    let more = service.count() - after_update;
    assert!((2..=5).contains(&more), "{more} fetches in 6.5 s with refresh_seconds 2");
    envoy.stop();

    // Two listeners, one VM id and source: 600 s and 1 s.
    let service = Steered::start(Reply::Json(origins_json(&[])));
    let (slow, fast) = (with(600), with(1));
    let listeners: Vec<String> = [Listener { name: "slow", config: &slow }, Listener { name: "fast", config: &fast }]
        .iter()
        .map(|l| l.yaml().build().replace(&format!("vm_id: edge_cors_{}", l.name), "vm_id: edge_cors_shared"))
        .collect();
    let envoy = match Envoy::start_bootstrap(|_| with_origin_cluster(bootstrap_yaml(&listeners, upstream.port), service.port), 2, &[]) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}):\n{log}"),
    };
    thread::sleep(Duration::from_secs(2));
    service.set(Reply::Json(origins_json(&[SHOP])));
    for l in ["fast", "slow"] {
        eventually(10, l, || preflight(&envoy.url(l, "/api/x"), SHOP, "GET", None).status == 204);
    }
    envoy.stop();
}

/// docs/contract.md "Live origins": each rule may have its own source.
#[test]
fn a_rule_has_its_own_source() {
    let upstream = Upstream::start();
    let service = Steered::start(Reply::Json(origins_json(&[SHOP])));
    let policy = format!(
        r#"{{"allow_origins": ["{APP}"],
            "allow_origins_from": {{"cluster": "tenant_origins", "path": "/default", "refresh_seconds": 1}},
            "rules": [{{"name": "partners", "match": {{"path_prefix": "/api/partners/"}}, "allow_origins": [],
                        "allow_origins_from": {{"cluster": "tenant_origins", "path": "/partners", "refresh_seconds": 1}}}}]}}"#
    );
    let envoy = envoy(&policy, &upstream, service.port, 1);
    let status = |path: &str, origin: &str| preflight(&envoy.url("live", path), origin, "GET", None).status;
    // The worker serving requests applies what any VM fetched on its next
    // tick: wait for the effect, not the counter.
    eventually(10, "both sources applied", || status("/api/x", SHOP) == 204 && status("/api/partners/x", SHOP) == 204);
    let s = envoy.stats();
    assert!(stat(&s, "edge_cors.origins_source.default.updates_applied") >= Some(1), "{s}");
    assert!(stat(&s, "edge_cors.origins_source.partners.updates_applied") >= Some(1), "{s}");
    let paths: Vec<String> = service.requests.lock().unwrap().iter().map(|r| r.2.clone()).collect();
    assert!(paths.iter().any(|p| p.starts_with("GET /default ")) && paths.iter().any(|p| p.starts_with("GET /partners ")), "{paths:?}");
    assert_eq!((status("/api/x", APP), status("/api/partners/x", APP)), (204, 403), "a rule does not inherit the default's origins");
    service.set(Reply::Json(origins_json(&[])));
    eventually(10, "both sources emptied", || status("/api/x", SHOP) == 403 && status("/api/partners/x", SHOP) == 403);
    envoy.stop();
}

/// docs/contract.md "Live origins": one fetch per refresh per proxy, not per
/// worker; every worker serves the fetched set.
#[test]
fn two_workers_share_one_fetch_per_refresh() {
    let upstream = Upstream::start();
    let service = Steered::start(Reply::Json(origins_json(&[SHOP])));
    let envoy = envoy(&policy(1, 1000), &upstream, service.port, 2);
    eventually(10, "the first answer", || metric(&envoy, "updates_applied") >= 1);
    let (start, before) = (Instant::now(), service.count());
    thread::sleep(Duration::from_secs(6));
    let fetches = service.count() - before;
    let secs = start.elapsed().as_secs_f64();
    // With one VM per worker fetching on its own, this would be 12 or more;
    // one per refresh is about 6 (a tick late under load: fewer).
    assert!((3..=9).contains(&fetches), "{fetches} fetches in {secs:.1} s with refresh_seconds 1 and 2 workers");
    // Connections land on both workers; each must have applied the set.
    let allowed = (0..40).filter(|_| preflight_status(&envoy, SHOP) == 204).count();
    assert_eq!(allowed, 40);
    // A fetch in flight is seen by the service before the VM counts it:
    // compare between fetches.
    eventually(3, "every fetch counted once, by the VM that made it", || {
        let total = metric(&envoy, "updates_applied") + metric(&envoy, "updates_unchanged");
        total as usize == service.count()
    });
    assert_eq!(metric(&envoy, "updates_applied"), 1, "the same body again is unchanged");
    envoy.stop();
}

/// docs/contract.md "Live origins": an answer of 10,000 origins, changing
/// every refresh, applied by two workers while requests flow: not one
/// request fails or loses its CORS headers, and each new origin arrives.
/// (The latency during updates is measured by `make bench-live`.)
#[test]
fn ten_thousand_origins_update_under_load_without_a_failed_request() {
    let upstream = Upstream::start();
    let tenants: Vec<String> = (0..10_000).map(|i| format!("https://tenant{i}.customers.example")).collect();
    let list = |extra: usize| {
        let mut l: Vec<&str> = tenants.iter().map(String::as_str).collect();
        let new = format!("https://new{extra}.customers.example");
        l.push(&new);
        origins_json(&l)
    };
    let service = Steered::start(Reply::Json(list(0)));
    let envoy = envoy(&policy(1, 1000), &upstream, service.port, 2);
    let url = envoy.url("live", "/api/x");
    // Each worker applies the answer on its own tick: wait until connections
    // landing on either worker see it (one preflight may reach only one).
    eventually(15, "10,000 origins applied by both workers", || {
        (0..20).all(|_| preflight(&url, "https://tenant9999.customers.example", "PUT", None).status == 204)
    });

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (url, stop) = (url.clone(), stop.clone());
            thread::spawn(move || {
                let (mut sent, mut bad) = (0u32, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let origin = format!("https://tenant{}.customers.example", (sent * 7 + t * 1000) % 10_000);
                    let t0 = Instant::now();
                    // Tagged, so a failure can say whether the upstream saw it.
                    let tagged = format!("{url}?load={t}-{sent}");
                    let r = common::try_send("GET", &tagged, &[("origin", &origin)]);
                    let ms = t0.elapsed().as_millis();
                    sent += 1;
                    match r {
                        Err(e) => bad.push(format!("{e} after {ms} ms")),
                        Ok(r) if r.status != 200 || r.one("access-control-allow-origin") != Some(origin.as_str()) => {
                            bad.push(format!("{} {:?}", r.status, r.one("access-control-allow-origin")));
                        }
                        Ok(_) => {}
                    }
                }
                (sent, bad)
            })
        })
        .collect();
    let applied = metric(&envoy, "updates_applied");
    for n in 1..=4 {
        service.set(Reply::Json(list(n)));
        let new = format!("https://new{n}.customers.example");
        eventually(10, "the new origin arrives", || preflight(&url, &new, "PUT", None).status == 204);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut sent, mut bad) = (0, Vec::new());
    for h in load {
        let (s, b) = h.join().unwrap();
        sent += s;
        bad.extend(b);
    }
    println!("{sent} requests during 4 updates of 10,001 origins, {} failed", bad.len());
    if !bad.is_empty() {
        // Where did a failed request stop: before the upstream, or after?
        // (The CI failure that replaced tiny_http: not seen upstream.)
        for b in bad.iter().take(5) {
            let tag = b.split("?load=").nth(1).and_then(|t| t.split(':').next()).unwrap_or("");
            println!("{b}: upstream saw it: {}", !tag.is_empty() && !upstream.seen(&format!("load={tag}")).is_empty());
        }
        let stats = envoy.stats();
        let wanted = [
            "downstream_rq_active",
            "downstream_rq_timeout",
            "upstream_rq_active",
            "upstream_rq_pending",
            "upstream_rq_timeout",
            "upstream_cx_active",
            "upstream_cx_destroy",
            "wasm",
        ];
        stats.lines().filter(|l| wanted.iter().any(|w| l.contains(w))).for_each(|l| println!("{l}"));
        let log = envoy.log();
        println!("{}", log.get(log.len().saturating_sub(4000)..).unwrap_or(&log));
    }
    assert!(bad.is_empty(), "{} of {sent} failed: {:?}", bad.len(), &bad[..bad.len().min(5)]);
    assert!(sent > 100, "only {sent} requests");
    assert!(metric(&envoy, "updates_applied") >= applied + 4);
    assert_eq!(metric(&envoy, "updates_refused") + metric(&envoy, "updates_failed"), 0, "{}", envoy.log());
    assert_eq!(metric(&envoy, "origins"), 10_001);
    envoy.stop();
}

/// docs/contract.md "Live origins": a new version of the policy (an LDS
/// update) serves the origins fetched so far from its first request: the
/// workers' new VMs-contexts read the shared answer when they configure,
/// with no fail-closed gap and no extra fetch.
#[test]
fn a_reloaded_policy_serves_the_fetched_origins_at_once() {
    let upstream = Upstream::start();
    let service = OriginService::start(&[SHOP]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let source = r#""allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins", "refresh_seconds": 300}"#;
    let first = format!(r#"{{"allow_origins": ["{APP}"], "allow_methods": ["GET", "PUT"], {source}}}"#);
    let second = format!(r#"{{"allow_origins": ["{APP}"], "allow_methods": ["GET", "PUT"], "max_age": 600, {source}}}"#);
    let envoy = match Envoy::start_bootstrap(
        |dir| {
            let lds_dir = dir.join("lds");
            std::fs::create_dir_all(&lds_dir).unwrap();
            std::fs::write(lds_dir.join("lds.yaml"), lds_yaml("live", port, &first)).unwrap();
            with_origin_cluster(lds_bootstrap(&lds_dir, &clusters_yaml(upstream.port)), service.port)
        },
        1,
        &[],
    ) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}):\n{log}"),
    };
    let url = format!("http://127.0.0.1:{port}/api/x");
    eventually(10, "the tenant allowed", || preflight(&url, SHOP, "PUT", None).status == 204);
    let fetches = service.log().iter().filter(|l| l.contains("GET /cors/origins")).count();

    publish_lds(&envoy.dir.join("lds"), &lds_yaml("live", port, &second));
    // Until the new version answers (its max-age), and for a while after,
    // every preflight from the tenant must pass.
    let (deadline, mut seen_new, mut checked) = (Instant::now() + Duration::from_secs(15), None, 0);
    while seen_new.is_none_or(|at: Instant| at.elapsed() < Duration::from_secs(2)) {
        assert!(Instant::now() < deadline, "the new policy never answered");
        let r = preflight(&url, SHOP, "PUT", None);
        checked += 1;
        assert_eq!(r.status, 204, "the tenant refused during the reload (after {checked} preflights): {:?}", r.headers);
        if seen_new.is_none() && r.one("access-control-max-age") == Some("600") {
            seen_new = Some(Instant::now());
        }
    }
    println!("{checked} preflights from the tenant across the reload, all 204");
    assert_eq!(
        service.log().iter().filter(|l| l.contains("GET /cors/origins")).count(),
        fetches,
        "the reload fetched again instead of using the shared answer"
    );
    envoy.stop();
}

/// The harness's own servers answer every connection while the others stay
/// open, as Envoy keeps its upstream connections: tiny_http, used before,
/// left up to 4 of 8 such connections unserved (the cause of a CI failure of
/// the 10,000-origin test), which this catches.
#[test]
fn the_test_servers_answer_connections_opened_together() {
    use std::io::{Read, Write};
    for _ in 0..10 {
        let server = http_server::serve(|_| http_server::Response::new(200, "ok"));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let connections: Vec<_> = (0..8)
            .map(|_| {
                let (barrier, port) = (barrier.clone(), server.port);
                thread::spawn(move || {
                    barrier.wait();
                    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                    let mut buf = [0u8; 64];
                    let answered = matches!(s.read(&mut buf), Ok(n) if n > 0);
                    barrier.wait(); // every connection stays open until all have an answer or gave up
                    answered
                })
            })
            .collect();
        let unanswered = connections.into_iter().map(|c| c.join().unwrap()).filter(|a| !a).count();
        assert_eq!(unanswered, 0, "{unanswered} of 8 connections opened together were never answered");
    }
}
