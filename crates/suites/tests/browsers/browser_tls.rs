//! Chromium as browsers really arrive: over HTTPS with HTTP/2. The test makes
//! a throwaway CA and a leaf for its host names with Debian's `openssl`,
//! serves both the page (https://app.test, https://a.tenant.test, ...) and
//! the API (https://api.test, edge-cors first) from TLS listeners of one
//! Envoy with ALPN h2 and http/1.1, and checks what JavaScript could observe:
//! simple and preflighted calls, a `SameSite=None; Secure` cookie set by the
//! API and sent back on the next credentialed call (as the upstream saw it),
//! errors (an upstream 401, Envoy's own 503 and 404), a wildcard subdomain, a
//! refused origin, and that every readable call really went over h2 (the
//! Performance API's `nextHopProtocol`). Run with `make browser`, or
//! `cargo test -p edge-cors-suites --test browsers browser_tls:: -- --nocapture` after `make wasm`.
//!
//! The browser's trust and cookie settings, as a user would set them:
//! - the certificate: Chromium trusts the leaf the throwaway CA signed through
//!   `--ignore-certificate-errors-spki-list=<base64 SHA-256 of the leaf's
//!   SPKI>` (honoured only with `--user-data-dir`); every other certificate is
//!   still checked. (An NSS database in the profile would trust the CA itself,
//!   but `certutil` is in libnss3-tools, which the suite does not install.)
//! - third-party cookies, which Chromium blocks by default: the profile's
//!   Preferences carry one content-settings exception, "allow third-party
//!   cookies on https://[*.]app.test" (what Settings > Privacy > Third-party
//!   cookies > "Allowed to use third-party cookies" writes). The test also
//!   shows that without it the cookie is withheld, so the exception is what
//!   lets it through.
//! - names: every origin is on the default port 443 as in production;
//!   `--host-resolver-rules` maps api.test:443 and the page names to Envoy's
//!   listeners on 127.0.0.1.

use edge_cors_suites as common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::chromium::{case, check, Case, Expect};
use common::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------- certificates

/// Names the leaf covers: every page and API name the test maps, and the
/// loopback names.
const LEAF_NAMES: &str = "DNS:api.test,DNS:app.test,DNS:tenant.test,DNS:*.tenant.test,DNS:evil.test,DNS:localhost,IP:127.0.0.1";

struct Certs {
    /// The leaf followed by the CA, for Envoy.
    chain: PathBuf,
    key: PathBuf,
    /// Base64 of the SHA-256 of the leaf's SubjectPublicKeyInfo (DER).
    spki: String,
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}): install Debian's openssl package"));
    assert!(out.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A throwaway CA (P-256, one day) and a leaf it signs for [`LEAF_NAMES`].
fn make_certs(dir: &Path) -> Certs {
    fs::create_dir_all(dir).unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=edge-cors throwaway test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-new"];
    csr.extend(ec);
    csr.extend(["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=api.test"]);
    openssl(dir, &csr);
    fs::write(
        dir.join("leaf.ext"),
        format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName={LEAF_NAMES}\n"
        ),
    )
    .unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let serial = format!("0x{nanos:x}");
    let sign = format!("x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial {serial} -days 1 -extfile leaf.ext -out leaf.pem");
    openssl(dir, &sign.split(' ').collect::<Vec<_>>());
    // The chain is sound on its own (the SPKI flag below does not vouch for it).
    openssl(dir, &["verify", "-CAfile", "ca.pem", "-purpose", "sslserver", "leaf.pem"]);
    openssl(dir, &["x509", "-in", "leaf.pem", "-noout", "-pubkey", "-out", "leaf.pub.pem"]);
    openssl(dir, &["pkey", "-pubin", "-in", "leaf.pub.pem", "-outform", "DER", "-out", "leaf.spki.der"]);
    openssl(dir, &["dgst", "-sha256", "-binary", "-out", "leaf.spki.sha256", "leaf.spki.der"]);
    let spki = String::from_utf8(openssl(dir, &["base64", "-A", "-in", "leaf.spki.sha256"])).unwrap().trim().to_string();
    let chain = dir.join("chain.pem");
    fs::write(&chain, [fs::read(dir.join("leaf.pem")).unwrap(), fs::read(dir.join("ca.pem")).unwrap()].concat()).unwrap();
    Certs { chain, key: dir.join("leaf.key"), spki }
}

// ---------------------------------------------------------------- envoy

/// A filter chain's TLS transport socket (YAML keys at 6 spaces): the leaf,
/// ALPN h2 then http/1.1.
fn tls_socket(certs: &Certs) -> String {
    format!(
        r#"    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: ["h2", "http/1.1"]
            tls_certificates:
            - certificate_chain: {{ filename: "{}" }}
              private_key: {{ filename: "{}" }}
"#,
        certs.chain.display(),
        certs.key.display()
    )
}

/// The cookie the API sets on `/api/login`.
const COOKIE: &str = "edge_cors_sid=tls-s3cret";
const SET_COOKIE: &str = "edge_cors_sid=tls-s3cret; Path=/; SameSite=None; Secure; HttpOnly";

/// The API: edge-cors first, on TLS. `/api/login` answers with the cookie;
/// the rest are the harness's routes (`/api/` upstream, `/dead/` a cluster
/// without endpoints, anything else no route).
fn api_listener(policy: &str, certs: &Certs) -> String {
    let hosts = format!(
        r#"
            - name: api
              domains: ["*"]
              routes:
              - match: {{ prefix: "/api/login" }}
                route: {{ cluster: upstream }}
                response_headers_to_add:
                - header: {{ key: set-cookie, value: "{SET_COOKIE}" }}
              - match: {{ prefix: "/api/" }}
                route: {{ cluster: upstream }}
              - match: {{ prefix: "/dead/" }}
                route: {{ cluster: dead }}"#
    );
    let plain = Listener { name: "api", config: policy }.yaml().virtual_hosts(&hosts).build();
    let (chain, router) = ("    - filters:\n", "          - name: envoy.filters.http.router\n");
    assert!(plain.matches(chain).count() == 1 && plain.matches(router).count() == 1, "the harness's listener YAML changed shape");
    plain.replace(chain, &format!("{}      filters:\n", tls_socket(certs)))
}

/// The page, on TLS too: every path answers [`PAGE`] (Envoy's direct response).
fn page_listener(certs: &Certs) -> String {
    format!(
        r#"
  - name: page
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
    filter_chains:
{tls}      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: page
          route_config:
            max_direct_response_body_size_bytes: 65536
            virtual_hosts:
            - name: page
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                direct_response: {{ status: 200, body: {{ inline_string: {page} }} }}
                response_headers_to_add:
                - header: {{ key: content-type, value: "text/html; charset=utf-8" }}
                  append_action: OVERWRITE_IF_EXISTS_OR_ADD
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#,
        tls = tls_socket(certs),
        page = serde_json::to_string(PAGE).unwrap(),
    )
}

fn port_of(envoy: &Envoy, listener: &str) -> u16 {
    envoy.url(listener, "").rsplit(':').next().unwrap().parse().unwrap()
}

// ---------------------------------------------------------------- the page

/// Runs the fetches in location.hash (URI-encoded JSON: a list of {name, url,
/// method, headers, credentials, body, read}) one after another, then looks
/// each URL up in the Performance API, and writes what JavaScript could
/// observe into #result for --dump-dom.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>edge-cors over HTTPS and HTTP/2</title>
<pre id="result">pending</pre>
<script>
(async () => {
  const cases = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  const results = [];
  for (const c of cases) {
    const r = { name: c.name, url: c.url, resolved: false, error: null, status: null, body: null, headers: {} };
    try {
      const resp = await fetch(c.url, {
        method: c.method || "GET", headers: c.headers || {}, credentials: c.credentials || "same-origin",
        body: c.body === undefined ? undefined : c.body, cache: "no-store", mode: "cors",
      });
      r.resolved = true;
      r.status = resp.status;
      r.body = await resp.text();
      for (const h of c.read || []) r.headers[h] = resp.headers.get(h);
    } catch (e) {
      r.error = String(e);
    }
    results.push(r);
  }
  // Resource Timing entries are queued after the body is read.
  await new Promise(resolve => setTimeout(resolve, 50));
  const entries = performance.getEntriesByType("resource");
  for (const r of results) {
    const e = entries.filter(e => e.name === r.url).pop();
    r.protocol = e ? e.nextHopProtocol : null;
  }
  const nav = performance.getEntriesByType("navigation")[0];
  document.getElementById("result").textContent = JSON.stringify({
    origin: self.origin, secure: isSecureContext, protocol: nav ? nav.nextHopProtocol : null, results,
  });
})().catch(e => { document.getElementById("result").textContent = "page error: " + e; });
</script>
"#;

/// How Chromium is set up for one page load.
struct Browser<'a> {
    certs: &'a Certs,
    api_port: u16,
    page_port: u16,
    /// Top-level sites whose pages may use third-party cookies (the profile's exceptions).
    third_party_cookies_on: &'a [&'a str],
}

impl Browser<'_> {
    /// Loads the page at `page` (an https origin on port 443) with these
    /// cases and returns what it observed.
    fn run(&self, page: &str, cases: &[Case]) -> Value {
        let spec: Value = cases
            .iter()
            .map(|c| {
                let mut r = c.request.clone();
                r["name"] = json!(c.name);
                r["read"] = json!(c.headers.iter().map(|(h, _)| *h).collect::<Vec<_>>());
                r
            })
            .collect();
        let hash = percent_encoding::utf8_percent_encode(&spec.to_string(), percent_encoding::NON_ALPHANUMERIC).to_string();
        // A per-site exception, as Settings writes it: primary pattern any
        // (the cookie's site, here https://api.test), secondary pattern the
        // top-level site. Third-party cookies stay blocked everywhere else.
        let exceptions: serde_json::Map<String, Value> =
            self.third_party_cookies_on.iter().map(|site| (format!("*,{site}"), json!({ "setting": 1 }))).collect();
        let prefs = json!({ "profile": { "content_settings": { "exceptions": { "cookies": exceptions } } } });
        let rules = format!("MAP api.test:443 127.0.0.1:{}, MAP *.test:443 127.0.0.1:{}", self.api_port, self.page_port);
        let flags = [
            "--dump-dom".to_string(),
            format!("--host-resolver-rules={rules}"),
            format!("--ignore-certificate-errors-spki-list={}", self.certs.spki),
        ];
        let out = chromium::run(
            &format!("{page}/#{hash}"),
            &flags,
            |profile| {
                fs::create_dir_all(profile.join("Default")).unwrap();
                fs::write(profile.join("Default/Preferences"), prefs.to_string()).unwrap();
            },
            Duration::from_secs(60),
        );
        chromium::page_result(&out, page)
    }
}

/// Compares, prints one line per case (and one for the page itself), and
/// returns the failures.
fn judge(page: &str, observed: &Value, cases: &[Case]) -> Vec<String> {
    let mut failures = vec![];
    check(
        page,
        "page loaded over h2 as a secure context",
        observed["origin"] == json!(page) && observed["secure"] == json!(true) && observed["protocol"] == json!("h2"),
        &format!("origin={} secure={} nextHopProtocol={}", observed["origin"], observed["secure"], observed["protocol"]),
        &mut failures,
    );
    failures.extend(chromium::judge(page, observed, cases, true));
    failures
}

/// A header of the last request whose URL contains `path`, as the upstream saw it.
fn seen_header(upstream: &Upstream, path: &str, name: &str) -> Option<String> {
    upstream.seen(path).last().and_then(|s| s.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
}

#[test]
fn chromium_over_https_and_h2() {
    let started = Instant::now();
    let upstream = Upstream::start();
    let certs_dir = repo().join("target/browser-tls").join(unique(&format!("certs-{}", std::process::id())));
    let certs = make_certs(&certs_dir);
    let app = "https://app.test";
    let policy = r#"{"allow_origins": ["https://app.test", "https://*.tenant.test"], "allow_methods": ["GET", "POST"],
        "allow_headers": ["content-type", "authorization", "x-trace"], "expose_headers": ["etag", "x-request-id"],
        "allow_credentials": true, "max_age": 0, "timing_allow_origin": true}"#;
    // Cross-origin Resource Timing entries hide `nextHopProtocol` (it reads
    // "") unless the response passes the timing-allow check: edge-cors's own
    // timing_allow_origin sends Timing-Allow-Origin with the allowed origin on
    // every response it stamps, Envoy's 404 and 503 included.
    let listeners = [api_listener(policy, &certs), page_listener(&certs)];
    let envoy = match Envoy::start_bootstrap(|_| bootstrap_yaml(&listeners, upstream.port), 2, &[]) {
        Started::Running(e) => e,
        Started::Exited { code, log } => panic!("envoy exited ({code:?}) during start-up:\n{log}"),
    };
    let browser =
        Browser { certs: &certs, api_port: port_of(&envoy, "api"), page_port: port_of(&envoy, "page"), third_party_cookies_on: &[app] };
    let api = |path: &str| format!("https://api.test{path}");
    let ok = |body: &'static str| Expect::Readable { status: 200, body };
    let mut failures = vec![];

    // The page at https://app.test, the API at https://api.test: another site,
    // so the API's cookie is a third-party cookie.
    let cases = vec![
        case("simple GET allowed", api("/api/simple"), ok("upstream saw /api/simple\n")).reads(&[
            ("etag", true),
            ("x-request-id", true),
            ("x-internal", false),
        ]),
        case("JSON POST with Authorization (preflighted) allowed", api("/api/post"), ok("upstream saw /api/post\n"))
            .with("method", json!("POST"))
            .with("headers", json!({"content-type": "application/json", "authorization": "Bearer t0ken"}))
            .with("body", json!("{\"a\":1}")),
        case("PUT outside allow_methods blocked", api("/api/put"), Expect::Blocked).with("method", json!("PUT")),
        case("credentialed call: the API sets a SameSite=None; Secure cookie", api("/api/login"), ok("upstream saw /api/login\n"))
            .with("credentials", json!("include")),
        case("next credentialed call readable (the cookie goes with it)", api("/api/me"), ok("upstream saw /api/me\n"))
            .with("credentials", json!("include"))
            .reads(&[("etag", true)]),
        case("a call without credentials after it", api("/api/anonymous"), ok("upstream saw /api/anonymous\n")),
        case(
            "upstream 401 status and body readable",
            api("/api/status/401"),
            Expect::Readable { status: 401, body: "upstream says 401\n" },
        )
        .with("credentials", json!("include")),
        case(
            "Envoy's own 503 (cluster without endpoints) readable",
            api("/dead/x"),
            Expect::Readable { status: 503, body: "no healthy upstream" },
        ),
        case("Envoy's own 404 (no route) readable", api("/no-route"), Expect::Readable { status: 404, body: "" }),
    ];
    failures.extend(judge(app, &browser.run(app, &cases), &cases));
    let (origin, cookie) = (seen_header(&upstream, "/api/me", "origin"), seen_header(&upstream, "/api/me", "cookie"));
    check(
        app,
        &format!(
            "the upstream saw Origin: {} and Cookie: {} on /api/me",
            origin.as_deref().unwrap_or("(none)"),
            cookie.as_deref().unwrap_or("(none)")
        ),
        origin.as_deref() == Some(app) && cookie.as_deref() == Some(COOKIE),
        &format!("expected Origin: {app} and Cookie: {COOKIE}"),
        &mut failures,
    );
    let anonymous = seen_header(&upstream, "/api/anonymous", "cookie");
    check(
        app,
        "no cookie without credentials: 'include'",
        upstream.seen("/api/anonymous").len() == 1 && anonymous.is_none(),
        &format!("the upstream saw Cookie: {anonymous:?}"),
        &mut failures,
    );

    // Wildcard subdomains: the page itself under a matching name and the base.
    let tenant = "https://a.tenant.test";
    let cases = vec![case("https://*.tenant.test: preflighted GET allowed", api("/api/tenant"), ok("upstream saw /api/tenant\n"))
        .with("headers", json!({"x-trace": "1"}))];
    failures.extend(judge(tenant, &browser.run(tenant, &cases), &cases));
    let base = "https://tenant.test";
    let cases = vec![case("https://*.tenant.test does not cover the base: blocked", api("/api/tenant-base"), Expect::Blocked)];
    failures.extend(judge(base, &browser.run(base, &cases), &cases));

    // A refused origin.
    let evil = "https://evil.test";
    let cases = vec![
        case("refused origin: simple GET blocked", api("/api/evil-simple"), Expect::Blocked),
        case("refused origin: credentialed GET blocked", api("/api/evil-cred"), Expect::Blocked).with("credentials", json!("include")),
        case("refused origin: preflighted POST blocked", api("/api/evil-post"), Expect::Blocked)
            .with("method", json!("POST"))
            .with("headers", json!({"content-type": "application/json"})),
    ];
    failures.extend(judge(evil, &browser.run(evil, &cases), &cases));
    check(
        evil,
        "the preflighted POST never reached the upstream",
        upstream.seen("/api/evil-post").is_empty(),
        "the upstream saw it",
        &mut failures,
    );

    // The same login without the profile's exception: Chromium blocks
    // third-party cookies by default, so the cookie must not come back.
    let control = Browser { third_party_cookies_on: &[], ..browser };
    let cases = vec![
        case(
            "without the exception: login readable",
            api("/api/login-without-exception"),
            ok("upstream saw /api/login-without-exception\n"),
        )
        .with("credentials", json!("include")),
        case(
            "without the exception: next call readable",
            api("/api/whoami-without-exception"),
            ok("upstream saw /api/whoami-without-exception\n"),
        )
        .with("credentials", json!("include")),
    ];
    failures.extend(judge(app, &control.run(app, &cases), &cases));
    let withheld = seen_header(&upstream, "/api/whoami-without-exception", "cookie");
    check(
        app,
        "without the exception Chromium withholds the third-party cookie",
        upstream.seen("/api/whoami-without-exception").len() == 1 && withheld.is_none(),
        &format!("the upstream saw Cookie: {withheld:?}"),
        &mut failures,
    );

    let stats = envoy.stats();
    let counter = |name: &str| {
        stats.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")).and_then(|v| v.trim().parse::<u64>().ok()))
    };
    let (h2, h1, tls) = (
        counter("http.api.downstream_cx_http2_total"),
        counter("http.api.downstream_cx_http1_total"),
        counter("http.api.downstream_cx_ssl_total"),
    );
    check(
        "envoy",
        &format!("the API listener's connections: {} h2, {} HTTP/1.1, {} TLS", h2.unwrap_or(0), h1.unwrap_or(0), tls.unwrap_or(0)),
        h2.is_some_and(|n| n > 0) && h1 == Some(0) && tls == h2,
        "expected only h2, every connection over TLS",
        &mut failures,
    );

    envoy.stop();
    // The throwaway keys go with the run.
    let _ = fs::remove_dir_all(&certs_dir);
    println!("({:.1} s)", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} HTTPS/h2 browser case(s) wrong:\n{}", failures.len(), failures.join("\n"));
}
