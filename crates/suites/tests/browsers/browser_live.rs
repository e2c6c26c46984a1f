//! Live origins (`allow_origins_from`) with a real browser as the judge: a
//! page on a tenant origin fails, the tenant is added to the reference
//! origin service (envoy/origin_service.py), and the same call from the same
//! page then succeeds, with neither Envoy nor the service restarted; removed,
//! it fails again. Headless Chromium loads crates/suites/tests/browser/page.html, as in
//! crates/suites/tests/browsers/browser.rs. Run just this part with
//! `cargo test -p edge-cors-suites --test browsers browser_live:: -- --nocapture`.

use edge_cors_suites as common;

use std::thread;
use std::time::{Duration, Instant};

use common::chromium::{case, check, Case, Expect};
use common::origins::{with_origin_cluster, OriginService};
use common::*;
use serde_json::{json, Value};

// ------------------------------------------------- Envoy

fn metric(envoy: &Envoy, what: &str) -> u64 {
    stat(&envoy.stats(), &format!("edge_cors.origins_source.default.{what}")).unwrap_or(0)
}

fn alive(pid: u32) -> bool {
    // Signal 0: only whether the process exists (the spawner thread reaps
    // Envoy when it exits, so a dead one is gone, not a zombie).
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; a
    // stale pid at worst signals nothing (the process is ours or gone).
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// Polls `check` every 100 ms for up to `secs`; how long it took, or None.
fn within(secs: u64, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if check() {
            return Some(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(secs) {
            return None;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

// ------------------------------------------------- the page (as crates/suites/tests/browsers/browser.rs)

/// Loads the page at `page_origin` in a fresh Chromium with these cases and
/// returns what it observed.
fn run_page(page_origin: &str, cases: &[Case]) -> Value {
    chromium::load(&format!("{page_origin}/"), &chromium::requests(cases), &[])
}

/// Compares, prints one line per case under `label` and the page, and
/// returns the failures.
fn judge(label: &str, page: &str, observed: &Value, cases: &[Case]) -> Vec<String> {
    assert_eq!(observed["origin"], json!(page), "the page ran on the wrong origin");
    chromium::judge(&format!("{label} {page}"), observed, cases, false)
}

/// A string built at run time, for the `&'static str` fields of a [`Case`].
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The header the page's PUT sends: not CORS-safelisted, so together with
/// the method it makes Chromium send a preflight first.
const CUSTOM: &str = "x-tenant-call";

/// "after 1.2 s", or "within 10 s" when it did not happen.
fn after(took: Option<Duration>) -> String {
    took.map_or("within 10 s".to_string(), |t| format!("after {:.1} s", t.as_secs_f64()))
}

/// The two calls a page makes: a preflighted, credentialed PUT with a custom
/// header, whose ETag the page must be able to read (and x-internal not),
/// and a simple GET. `tag` keeps each load's paths apart at the upstream.
fn calls(at: &dyn Fn(&str) -> String, tag: &str, allowed: bool) -> Vec<Case> {
    let put_path = format!("/api/live-{tag}-put");
    let get_path = format!("/api/live-{tag}-get");
    let (put_expect, get_expect) = if allowed {
        (
            Expect::Readable { status: 200, body: leak(format!("upstream saw {put_path}\n")) },
            Expect::Readable { status: 200, body: leak(format!("upstream saw {get_path}\n")) },
        )
    } else {
        (Expect::Blocked, Expect::Blocked)
    };
    let verdict = if allowed { "readable" } else { "blocked" };
    vec![
        case(leak(format!("preflighted PUT ({CUSTOM}, credentials: include) {verdict}")), at(&put_path), put_expect)
            .with("method", json!("PUT"))
            .with("headers", json!({ CUSTOM: tag }))
            .with("credentials", json!("include"))
            .with("body", json!("{\"plan\":\"pro\"}"))
            .reads(if allowed { &[("etag", true), ("x-internal", false)] } else { &[] }),
        case(leak(format!("simple GET {verdict}")), at(&get_path), get_expect),
    ]
}

/// What the upstream received for `path`: the number of requests and the
/// last one's Origin and custom header.
fn at_upstream(upstream: &Upstream, path: &str) -> (usize, Option<String>, Option<String>) {
    let seen = upstream.seen(path);
    let header = |name: &str| seen.last().and_then(|s| s.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()));
    (seen.len(), header("origin"), header(CUSTOM))
}

#[test]
fn chromium_sees_a_tenant_added_to_the_origin_service_without_a_restart() {
    let started = Instant::now();
    let page_port = chromium::serve_page("crates/suites/tests/browser/page.html");
    let upstream = Upstream::start();
    let mut service = OriginService::start(&[]);

    // The tenant's page is served on http://127.0.0.1:PORT. With
    // allow_credentials (the issue's policy) a plain-http origin is accepted
    // only on loopback, for the static list and the fetched one alike; a
    // loopback tenant keeps the policy exactly as it runs in production (no
    // allow_insecure_origins, credentials on), so the test also proves that
    // a fetched origin gets Access-Control-Allow-Credentials. The static
    // list holds the issue's https://app.example.com (no page of ours can
    // have that origin without TLS) and http://localhost:PORT, the same
    // page under another loopback name, which shows that the calls
    // themselves are allowed by the policy and only the origin differs.
    let tenant = format!("http://127.0.0.1:{page_port}");
    let static_page = format!("http://localhost:{page_port}");
    let policy = format!(
        r#"{{"allow_origins": ["https://app.example.com", "{static_page}"], "allow_credentials": true,
            "allow_methods": ["GET", "PUT"], "allow_headers": ["content-type", "{CUSTOM}"], "expose_headers": ["etag"], "max_age": 0,
            "allow_origins_from": {{"cluster": "tenant_origins", "path": "/cors/origins", "refresh_seconds": 1}}}}"#
    );
    let listener = Listener { name: "live", config: &policy };
    let envoy = match Envoy::start_bootstrap(
        |_| with_origin_cluster(bootstrap_yaml(&[listener.yaml().build()], upstream.port), service.port),
        1,
        &[],
    ) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
    };
    let pid = envoy.pid();
    // Envoy is called as http://localhost:<its port>: another origin than
    // either page's (another port, or another host).
    let at = |path: &str| envoy.url("live", path).replace("127.0.0.1", "localhost");
    // What curl would see: a preflight like the page's, from the tenant.
    let poll_url = envoy.url("live", "/api/live-poll");
    let tenant_preflight = || preflight(&poll_url, &tenant, "PUT", Some(CUSTOM)).status;
    let mut failures = vec![];

    // The service's first (empty) answer applied: from here on the fetched
    // set is live, so phase 1 fails because the tenant is not in it, not
    // because nothing was fetched yet.
    let first = within(10, || metric(&envoy, "updates_applied") >= 1);
    check("setup", "the service's first (empty) answer applied", first.is_some(), "no answer applied within 10 s", &mut failures);

    // Phase 1: the tenant is unknown.
    let cases = calls(&at, "static", true);
    failures.extend(judge("static", &static_page, &run_page(&static_page, &cases), &cases));
    let cases = calls(&at, "before", false);
    failures.extend(judge("1 unknown", &tenant, &run_page(&tenant, &cases), &cases));
    let (n, _, _) = at_upstream(&upstream, "/api/live-before-put");
    check(
        "1 unknown",
        "the refused preflight kept Chromium from sending the PUT",
        n == 0,
        &format!("{n} PUT(s) reached the upstream"),
        &mut failures,
    );

    // Phase 2: the operator adds the tenant; nothing is restarted.
    service.run(&["add", &tenant]);
    let took = within(10, || tenant_preflight() == 204);
    check(
        "2 added",
        &format!("`origin_service.py add {tenant}`: Envoy allows its preflight {}", after(took)),
        took.is_some(),
        "the preflight was still refused after 10 s",
        &mut failures,
    );
    let cases = calls(&at, "after", true);
    failures.extend(judge("2 added", &tenant, &run_page(&tenant, &cases), &cases));
    let (n, origin, custom) = at_upstream(&upstream, "/api/live-after-put");
    check(
        "2 added",
        &format!(
            "the PUT reached the upstream with Origin: {} and {CUSTOM}: {}",
            origin.as_deref().unwrap_or("-"),
            custom.as_deref().unwrap_or("-")
        ),
        n == 1 && origin.as_deref() == Some(tenant.as_str()) && custom.as_deref() == Some("after"),
        &format!("{n} request(s)"),
        &mut failures,
    );
    check(
        "2 added",
        &format!("the same Envoy (pid {pid}) and origin service throughout"),
        envoy.pid() == pid && alive(pid) && service.running(),
        &format!("Envoy pid {} alive={}, service running={}", envoy.pid(), alive(pid), service.running()),
        &mut failures,
    );

    // Phase 3: removed, the tenant is refused again.
    service.run(&["remove", &tenant]);
    let took = within(10, || tenant_preflight() == 403);
    check(
        "3 removed",
        &format!("`origin_service.py remove {tenant}`: Envoy refuses its preflight {}", after(took)),
        took.is_some(),
        "the preflight was still allowed after 10 s",
        &mut failures,
    );
    let cases = calls(&at, "removed", false);
    failures.extend(judge("3 removed", &tenant, &run_page(&tenant, &cases), &cases));
    check(
        "3 removed",
        "still the same Envoy and origin service",
        envoy.pid() == pid && alive(pid) && service.running(),
        "a process was restarted or is gone",
        &mut failures,
    );
    let refused = metric(&envoy, "updates_refused") + metric(&envoy, "updates_failed");
    check("3 removed", "no fetch refused or failed", refused == 0, &envoy.log(), &mut failures);

    envoy.stop();
    println!("browser_live: {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} browser_live check(s) wrong:\n{}", failures.len(), failures.join("\n"));
}

/// docs/contract.md "Origins" and "Live origins": a wildcard over a public
/// suffix never allows a page, even when the origin service lists it. Pages
/// on `attacker.co.uk` and `app.myshop.co.uk` (Chromium resolves both to this
/// machine): the service lists `http://*.co.uk:*`, which anyone under co.uk
/// would match; the filter refuses that answer, so the attacker's page is
/// blocked while the policy's own `http://*.myshop.co.uk:*` still works.
/// (Envoy refuses the same entry in allow_origins: crates/suites/tests/integration/envoy_config.rs.)
#[test]
fn chromium_on_a_public_suffix_subdomain_is_never_allowed_by_a_wildcard() {
    let page_port = chromium::serve_page("crates/suites/tests/browser/page.html");
    let upstream = Upstream::start();
    let service = OriginService::start(&["http://*.co.uk:*"]);
    let policy = r#"{"allow_origins": ["http://*.myshop.co.uk:*"], "allow_methods": ["GET", "PUT"], "allow_headers": ["x-tenant-call"],
        "max_age": 0, "allow_origins_from": {"cluster": "tenant_origins", "path": "/cors/origins", "refresh_seconds": 1}}"#;
    let listener = Listener { name: "live", config: policy };
    let envoy = match Envoy::start_bootstrap(
        |_| with_origin_cluster(bootstrap_yaml(&[listener.yaml().build()], upstream.port), service.port),
        1,
        &[],
    ) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
    };
    let mut failures = vec![];
    let refused = within(10, || metric(&envoy, "updates_refused") >= 1);
    check(
        "setup",
        "the service's answer http://*.co.uk:* refused",
        refused.is_some() && envoy.log().contains("\"co.uk\" is a public suffix (ICANN section of the Public Suffix List)"),
        &envoy.log(),
        &mut failures,
    );
    let at = |path: &str| envoy.url("live", path).replace("127.0.0.1", "localhost");
    // No HTTPS upgrade of these real-looking names (the pages are plain HTTP).
    let flags = ["--host-resolver-rules=MAP *.test 127.0.0.1, MAP *.co.uk 127.0.0.1", "--disable-features=HttpsUpgrades"];
    for (label, host, allowed) in [("attacker", "attacker.co.uk", false), ("own", "app.myshop.co.uk", true)] {
        let page = format!("http://{host}:{page_port}");
        let (put, get) = (format!("/api/psl-{label}-put"), format!("/api/psl-{label}-get"));
        let expect = |path: &str| {
            if allowed {
                Expect::Readable { status: 200, body: leak(format!("upstream saw {path}\n")) }
            } else {
                Expect::Blocked
            }
        };
        let cases = vec![
            case(leak(format!("preflighted PUT from {host}")), at(&put), expect(&put))
                .with("method", json!("PUT"))
                .with("headers", json!({ CUSTOM: label })),
            case(leak(format!("simple GET from {host}")), at(&get), expect(&get)),
        ];
        let observed = chromium::load(&format!("{page}/"), &chromium::requests(&cases), &flags);
        failures.extend(judge(label, &page, &observed, &cases));
        let (n, _, _) = at_upstream(&upstream, &put);
        check(label, "the PUT reached the upstream only when allowed", (n == 1) == allowed, &format!("{n} PUT(s)"), &mut failures);
    }
    envoy.stop();
    assert!(failures.is_empty(), "{} check(s) wrong:\n{}", failures.len(), failures.join("\n"));
}
