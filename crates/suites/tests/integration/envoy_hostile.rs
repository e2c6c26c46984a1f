//! Hostile requests through a real Envoy and the release module: huge
//! values up to Envoy's header limit, repeated Origin headers, non-ASCII and
//! control bytes, `null`, malformed ports and IPv6 literals, thousands of
//! requested headers, empty values. Each gets a correct answer or a
//! rejection (the filter's, or Envoy's own before the filter runs), a normal
//! request right after still works, and at the end Envoy's wasm stats show
//! the VM never failed.

use edge_cors_suites as common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

const CONTRACT: &str = r#"{
  "allow_origins": ["https://app.example.com", "https://*.example.com"],
  "allow_methods": ["GET", "POST"],
  "allow_headers": ["content-type", "authorization"],
  "expose_headers": ["etag"],
  "max_age": 3600
}"#;

/// Ports, IPv6 and loopback literals, `null`; `*` methods and headers (echoed).
const LITERALS: &str = r#"{
  "allow_origins": ["https://app.example.com:8443", "https://*.example.com:8443", "http://[::1]:8080",
                    "http://127.0.0.1:3000", "null"],
  "allow_methods": ["*"],
  "allow_headers": ["*"]
}"#;

const ANY_HTTPS: &str = r#"{"allow_origins": ["https://*"], "allow_headers": ["content-type"]}"#;

const APP: &str = "https://app.example.com";

/// Envoy's default limit on a request's headers (max_request_headers_kb: 60).
const ENVOY_HEADER_LIMIT: usize = 60 * 1024;

/// Sends one request as raw bytes (`Connection: close` added) and parses the
/// answer. Reads exactly the response (by Content-Length), not to the end of
/// the stream: Envoy waits up to a second for the client to close first.
fn raw(base: &str, head: &[u8]) -> Resp {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = head.to_vec();
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    // Envoy may answer (431) and close before reading everything.
    let _ = s.write_all(&req);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let mut wanted: Option<usize> = None;
    loop {
        if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
            let length =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
            wanted = Some(end + 4 + length);
        }
        if wanted.is_some_and(|w| out.len() >= w) {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    parse_response(&out)
}

fn request(method: &str, path: &str, headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: hostile.test\r\n").into_bytes();
    for (n, v) in headers {
        r.extend_from_slice(n.as_bytes());
        r.extend_from_slice(b": ");
        r.extend_from_slice(v);
        r.extend_from_slice(b"\r\n");
    }
    r
}

/// What a case must get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// An allowed preflight: 204, this Access-Control-Allow-Origin.
    Preflight204(&'static str),
    /// A refused preflight: 403 naming this part, no CORS headers.
    Preflight403(&'static str),
    /// Forwarded (to the dead cluster: Envoy's own 503) with this ACAO.
    Forwarded(Option<&'static str>),
    /// Envoy refuses the request itself (400 or 431) before any filter runs.
    EnvoyRefuses,
    /// Either Envoy refuses it or it is forwarded without CORS headers.
    RefusedOrForwardedBare,
    /// Either Envoy refuses it or it is forwarded with this ACAO.
    EnvoyRefusesOrForwarded(&'static str),
    /// Either Envoy refuses it or the filter refuses the preflight for this part.
    EnvoyRefusesOrPreflight403(&'static str),
}

struct Case {
    name: String,
    listener: &'static str,
    request: Vec<u8>,
    want: Want,
}

fn preflight_case(name: &str, listener: &'static str, headers: &[(&str, &[u8])], want: Want) -> Case {
    Case { name: name.into(), listener, request: request("OPTIONS", "/api/hostile", headers), want }
}

fn get_case(name: &str, listener: &'static str, headers: &[(&str, &[u8])], want: Want) -> Case {
    // The dead cluster: only Envoy and the filter answer, whatever the bytes.
    Case { name: name.into(), listener, request: request("GET", "/dead/hostile", headers), want }
}

/// Origin and Access-Control-Request-Method headers.
fn pf(origin: &str, method: &str) -> Vec<(&'static str, Vec<u8>)> {
    vec![("Origin", origin.as_bytes().to_vec()), ("Access-Control-Request-Method", method.as_bytes().to_vec())]
}

fn check(case: &Case, r: &Resp) -> Result<(), String> {
    let acao = r.all("access-control-allow-origin");
    match case.want {
        Want::Preflight204(origin) => {
            if r.status != 204 || acao != [origin] {
                return Err(format!("want 204 with ACAO {origin}, got {} {:?}", r.status, acao));
            }
            let vary = r.all("vary");
            if vary != ["Origin, Access-Control-Request-Method, Access-Control-Request-Headers"] {
                return Err(format!("preflight Vary {vary:?}"));
            }
        }
        Want::Preflight403(part) => {
            if r.status != 403 || !r.cors_headers().is_empty() || !names_part(&r.body, part) {
                return Err(format!("want a 403 for the {part}, got {} {:?} {:?}", r.status, r.cors_headers(), r.body));
            }
        }
        Want::Forwarded(origin) => {
            if r.status != 503 || r.body != "no healthy upstream" {
                return Err(format!("want Envoy's 503 from the dead cluster, got {} {:?}", r.status, r.body));
            }
            match origin {
                Some(o) if acao != [o] => return Err(format!("want ACAO {o}, got {acao:?}")),
                None if !r.cors_headers().is_empty() => return Err(format!("want no CORS headers, got {:?}", r.cors_headers())),
                _ => {}
            }
            if r.all("vary") != ["Origin"] {
                return Err(format!("Vary {:?}", r.all("vary")));
            }
        }
        Want::EnvoyRefuses => {
            if !matches!(r.status, 400 | 431) || !r.cors_headers().is_empty() {
                return Err(format!("want Envoy's 400/431, got {} {:?}", r.status, r.headers));
            }
        }
        Want::EnvoyRefusesOrForwarded(origin) => {
            if !matches!(r.status, 400 | 431) && (r.status != 503 || acao != [origin]) {
                return Err(format!("want Envoy's 400/431 or a 503 with ACAO {origin}, got {} {:?}", r.status, r.headers));
            }
        }
        Want::EnvoyRefusesOrPreflight403(part) => {
            let refused = r.status == 403 && names_part(&r.body, part);
            if !(matches!(r.status, 400 | 431) || refused) || !r.cors_headers().is_empty() {
                return Err(format!("want Envoy's 400/431 or a 403 for the {part}, got {} {:?}", r.status, r.headers));
            }
        }
        Want::RefusedOrForwardedBare => {
            if !matches!(r.status, 400 | 431 | 503) || !r.cors_headers().is_empty() {
                return Err(format!("want Envoy's 400/431 or a bare 503, got {} {:?}", r.status, r.headers));
            }
        }
    }
    for name in r.cors_headers() {
        if r.all(name).len() != 1 {
            return Err(format!("{name} sent {} times", r.all(name).len()));
        }
    }
    Ok(())
}

#[test]
fn hostile_requests_get_an_answer_and_the_vm_survives() {
    let upstream = Upstream::start();
    let envoy = Envoy::expect_running(
        &[
            Listener { name: "contract", config: CONTRACT },
            Listener { name: "literals", config: LITERALS },
            Listener { name: "any_https", config: ANY_HTTPS },
        ],
        upstream.port,
    );
    let app = APP.as_bytes();
    let mut cases: Vec<Case> = Vec::new();
    let add_pf = |cases: &mut Vec<Case>, name: &str, listener: &'static str, headers: Vec<(&'static str, Vec<u8>)>, want: Want| {
        let h: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        cases.push(preflight_case(name, listener, &h, want));
    };
    let add_get = |cases: &mut Vec<Case>, name: &str, listener: &'static str, headers: Vec<(&'static str, Vec<u8>)>, want: Want| {
        let h: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        cases.push(get_case(name, listener, &h, want));
    };

    // ---- huge values, up to and past Envoy's limit on request headers.
    let near_limit = ENVOY_HEADER_LIMIT - 1024;
    let huge_label = format!("https://{}.example.com", "a".repeat(near_limit - 20));
    let huge_labels = format!("https://{}example.com", "a.".repeat((near_limit - 20) / 2));
    let over_limit = format!("https://{}.example.com", "a".repeat(ENVOY_HEADER_LIMIT + 100));
    for (name, origin) in [("origin with a 59 KB label", &huge_label), ("origin with 30,000 one-letter labels", &huge_labels)] {
        let o = origin.clone().into_bytes();
        add_get(&mut cases, &format!("GET, {name}"), "contract", vec![("Origin", o.clone())], Want::Forwarded(None));
        add_pf(
            &mut cases,
            &format!("preflight, {name}"),
            "contract",
            vec![("Origin", o), ("Access-Control-Request-Method", b"GET".to_vec())],
            Want::Preflight403("origin"),
        );
    }
    add_get(&mut cases, "origin past Envoy's 60 KB limit", "contract", vec![("Origin", over_limit.into_bytes())], Want::EnvoyRefuses);
    let mut long_method = pf("http://127.0.0.1:3000", "GET");
    long_method[1].1 = "G".repeat(near_limit - 100).into_bytes();
    add_pf(&mut cases, "59 KB request method", "literals", long_method, Want::Preflight204("http://127.0.0.1:3000"));

    // ---- thousands of comma-separated requested headers.
    let listed = vec!["content-type"; 4000].join(",");
    let mut h = pf(APP, "POST");
    h.push(("Access-Control-Request-Headers", listed.into_bytes()));
    add_pf(&mut cases, "4000 allowed requested headers", "contract", h, Want::Preflight204(APP));
    let mut h = pf(APP, "POST");
    h.push(("Access-Control-Request-Headers", format!("{},x-not-allowed", vec!["content-type"; 3000].join(", ")).into_bytes()));
    add_pf(&mut cases, "3000 allowed and one refused requested header", "contract", h, Want::Preflight403("header"));
    let mut h = pf(APP, "POST");
    h.push(("Access-Control-Request-Headers", ",".repeat(near_limit - 200).into_bytes()));
    add_pf(&mut cases, "59 KB of commas as requested headers", "contract", h, Want::Preflight204(APP));
    let mut h = pf("https://app.example.com:8443", "PUT");
    h.push(("Access-Control-Request-Headers", (0..3000).map(|i| format!("x-h{i}")).collect::<Vec<_>>().join(",").into_bytes()));
    add_pf(
        &mut cases,
        "3000 distinct requested headers, echoed under allow_headers *",
        "literals",
        h,
        Want::Preflight204("https://app.example.com:8443"),
    );

    // ---- several Origin headers.
    for (first, second) in [(APP, "https://evil.test"), ("https://evil.test", APP), (APP, APP)] {
        add_get(
            &mut cases,
            &format!("two Origin headers {first} then {second}"),
            "contract",
            vec![("Origin", first.as_bytes().to_vec()), ("Origin", second.as_bytes().to_vec())],
            Want::Forwarded(None),
        );
        add_pf(
            &mut cases,
            &format!("preflight with two Origin headers {first} then {second}"),
            "contract",
            vec![
                ("Origin", first.as_bytes().to_vec()),
                ("Origin", second.as_bytes().to_vec()),
                ("Access-Control-Request-Method", b"GET".to_vec()),
            ],
            Want::Preflight403("origin"),
        );
    }
    add_pf(
        &mut cases,
        "two request methods",
        "contract",
        vec![
            ("Origin", app.to_vec()),
            ("Access-Control-Request-Method", b"GET".to_vec()),
            ("Access-Control-Request-Method", b"DELETE".to_vec()),
        ],
        Want::Preflight403("method"),
    );

    // ---- non-ASCII and control bytes.
    for (name, origin) in [
        ("UTF-8 host", "https://bücher.example.com".as_bytes().to_vec()),
        ("Latin-1 byte", b"https://caf\xe9.example.com".to_vec()),
        ("invalid UTF-8", b"https://\xff\xfe.example.com".to_vec()),
        ("DEL byte", b"https://a\x7f.example.com".to_vec()),
        ("fullwidth port digits", "https://a.example.com:８４４３".as_bytes().to_vec()),
        ("tab inside", b"https://a\t.example.com".to_vec()),
    ] {
        add_get(
            &mut cases,
            &format!("GET, origin with {name}"),
            "contract",
            vec![("Origin", origin.clone())],
            Want::RefusedOrForwardedBare,
        );
        add_pf(
            &mut cases,
            &format!("preflight, origin with {name}"),
            "contract",
            vec![("Origin", origin), ("Access-Control-Request-Method", b"GET".to_vec())],
            Want::EnvoyRefusesOrPreflight403("origin"),
        );
    }
    add_get(
        &mut cases,
        "GET, origin with a NUL byte",
        "contract",
        vec![("Origin", b"https://a\x00.example.com".to_vec())],
        Want::EnvoyRefuses,
    );
    // Envoy 1.40's HTTP/1 parser drops a bare CR inside a value: the filter
    // sees (and allows) https://a.example.com. Either answer is sound.
    add_get(
        &mut cases,
        "GET, origin with a bare CR",
        "contract",
        vec![("Origin", b"https://a\r.example.com".to_vec())],
        Want::EnvoyRefusesOrForwarded("https://a.example.com"),
    );
    let mut h = pf("http://127.0.0.1:3000", "GET");
    h.push(("Access-Control-Request-Headers", "content-type, x-é".as_bytes().to_vec()));
    add_pf(&mut cases, "non-ASCII requested header", "literals", h, Want::Preflight403("header"));
    add_pf(
        &mut cases,
        "non-UTF-8 request method",
        "literals",
        vec![("Origin", b"http://127.0.0.1:3000".to_vec()), ("Access-Control-Request-Method", b"P\xc3\x28ST".to_vec())],
        Want::Preflight403("method"),
    );

    // ---- null.
    add_pf(&mut cases, "null origin, not allowed", "contract", pf("null", "GET"), Want::Preflight403("origin"));
    add_get(&mut cases, "GET from null, not allowed", "contract", vec![("Origin", b"null".to_vec())], Want::Forwarded(None));
    add_pf(&mut cases, "null origin, allowed", "literals", pf("null", "GET"), Want::Preflight204("null"));
    add_get(&mut cases, "GET from null, allowed", "literals", vec![("Origin", b"null".to_vec())], Want::Forwarded(Some("null")));
    for o in ["NULL", "Null", "\"null\"", "nul", "null,null"] {
        add_pf(&mut cases, &format!("{o:?} is not null"), "literals", pf(o, "GET"), Want::Preflight403("origin"));
    }
    add_pf(&mut cases, "null under https://*", "any_https", pf("null", "GET"), Want::Preflight403("origin"));

    // ---- malformed ports.
    add_pf(
        &mut cases,
        "the allowed port",
        "literals",
        pf("https://app.example.com:8443", "GET"),
        Want::Preflight204("https://app.example.com:8443"),
    );
    add_pf(
        &mut cases,
        "the allowed port on a subdomain",
        "literals",
        pf("https://a.b.example.com:8443", "GET"),
        Want::Preflight204("https://a.b.example.com:8443"),
    );
    for port in [
        ":08443",
        ":84430",
        ":65536",
        ":99999999999",
        ":0",
        ":-8443",
        ":",
        "::8443",
        ":8443:8443",
        ":+8443",
        ":8443 x",
        ":0x20fb",
        ":443",
        ":8443.",
    ] {
        for host in ["https://app.example.com", "https://a.example.com"] {
            let o = format!("{host}{port}");
            add_pf(&mut cases, &format!("port {port:?} on {host}"), "literals", pf(&o, "GET"), Want::Preflight403("origin"));
        }
    }
    add_pf(
        &mut cases,
        "default port spelled out under https://*",
        "any_https",
        pf("https://a.test:443", "GET"),
        Want::Preflight403("origin"),
    );
    add_pf(
        &mut cases,
        "port 65535 under https://*",
        "any_https",
        pf("https://a.test:65535", "GET"),
        Want::Preflight204("https://a.test:65535"),
    );

    // ---- IPv6 and IPv4 literals.
    add_pf(&mut cases, "the allowed IPv6 origin", "literals", pf("http://[::1]:8080", "GET"), Want::Preflight204("http://[::1]:8080"));
    add_get(
        &mut cases,
        "GET from the allowed IPv6 origin",
        "literals",
        vec![("Origin", b"http://[::1]:8080".to_vec())],
        Want::Forwarded(Some("http://[::1]:8080")),
    );
    add_pf(
        &mut cases,
        "the allowed IPv4 origin",
        "literals",
        pf("http://127.0.0.1:3000", "GET"),
        Want::Preflight204("http://127.0.0.1:3000"),
    );
    for o in [
        "http://[0:0:0:0:0:0:0:1]:8080",
        "http://[::1]",
        "http://[::1]:80",
        "http://[::1:8080",
        "http://::1:8080",
        "http://[::1]]:8080",
        "http://[[::1]]:8080",
        "http://[::1]:8080]",
        "http://[::ffff:127.0.0.1]:8080",
        "http://[::1%25lo]:8080",
        "http://[]:8080",
        "http://[::1]x:8080",
        "http://127.0.0.01:3000",
        "http://127.1:3000",
        "http://0x7f.0.0.1:3000",
        "http://127.0.0.1.:3000",
        "http://2130706433:3000",
    ] {
        add_pf(&mut cases, &format!("literal {o}"), "literals", pf(o, "GET"), Want::Preflight403("origin"));
    }
    add_pf(
        &mut cases,
        "IPv6 under https://*",
        "any_https",
        pf("https://[2001:db8::1]", "GET"),
        Want::Preflight204("https://[2001:db8::1]"),
    );
    add_pf(&mut cases, "bracket junk under https://*", "any_https", pf("https://[::1]]", "GET"), Want::Preflight403("origin"));

    // ---- empty values and odd spellings.
    add_get(&mut cases, "empty Origin", "contract", vec![("Origin", b"".to_vec())], Want::Forwarded(None));
    add_pf(&mut cases, "empty Origin on a preflight", "contract", pf("", "GET"), Want::Preflight403("origin"));
    add_pf(&mut cases, "empty request method", "contract", pf(APP, ""), Want::Preflight403("method"));
    let mut h = pf(APP, "GET");
    h.push(("Access-Control-Request-Headers", b"".to_vec()));
    h.push(("Access-Control-Request-Private-Network", b"".to_vec()));
    add_pf(&mut cases, "empty requested headers and private network", "contract", h, Want::Preflight204(APP));
    add_pf(
        &mut cases,
        "origin padded with whitespace",
        "contract",
        vec![("Origin", b"  https://app.example.com\t ".to_vec()), ("Access-Control-Request-Method", b"GET".to_vec())],
        Want::Preflight204(APP),
    );
    add_pf(
        &mut cases,
        "header names in odd case",
        "contract",
        vec![
            ("oRiGiN", app.to_vec()),
            ("ACCESS-CONTROL-REQUEST-METHOD", b"POST".to_vec()),
            ("access-control-request-HEADERS", b"Content-Type".to_vec()),
        ],
        Want::Preflight204(APP),
    );
    add_get(&mut cases, "upper-case origin", "contract", vec![("Origin", b"HTTPS://APP.EXAMPLE.COM".to_vec())], Want::Forwarded(None));
    add_get(&mut cases, "origin with a path", "contract", vec![("Origin", b"https://app.example.com/".to_vec())], Want::Forwarded(None));
    add_get(
        &mut cases,
        "origin with user info",
        "contract",
        vec![("Origin", b"https://app.example.com@evil.test".to_vec())],
        Want::Forwarded(None),
    );
    add_get(
        &mut cases,
        "look-alike suffix",
        "contract",
        vec![("Origin", b"https://app.example.com.evil.test".to_vec())],
        Want::Forwarded(None),
    );

    let mut failures = Vec::new();
    for case in &cases {
        let base = envoy.url(case.listener, "");
        let r = raw(&base, &case.request);
        println!("{:>3}  {:<10} {}", r.status, case.listener, case.name);
        if let Err(e) = check(case, &r) {
            failures.push(format!("{}: {e}", case.name));
        }
        // The filter keeps serving: a normal request right after.
        let ok = get(&envoy.url("contract", "/api/after"), &[("Origin", APP)]);
        if ok.status != 200 || ok.one("access-control-allow-origin") != Some(APP) {
            failures.push(format!("after {}: a normal request got {} {:?}", case.name, ok.status, ok.headers));
        }
    }
    println!("{} hostile requests sent", cases.len());
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));

    // The VMs never failed: no reload, no failure, no panic in the log.
    let stats = envoy.stats();
    let wasm_listeners = if shell() == Shell::Wasm { &["contract", "literals", "any_https"][..] } else { &[] };
    for l in wasm_listeners {
        for stat in ["vm_reload", "vm_reload_failure"] {
            let line = format!("wasm.edge_cors_{l}.{stat}: 0");
            assert!(stats.lines().any(|s| s == line), "expected {line:?} in Envoy's stats:\n{stats}");
        }
    }
    let log = envoy.log();
    assert!(!log.contains("panic") && !log.contains("wasm_fail"), "the filter failed:\n{log}");
    envoy.stop();
}

/// docs/contract.md "Preflight details": a refused preflight's body names
/// the part that failed, and the refused method or header when it is a token.
fn names_part(body: &str, part: &str) -> bool {
    body.strip_prefix("CORS preflight rejected: ").is_some_and(|rest| {
        rest == format!("{part} not allowed\n")
            || (rest.starts_with(&format!("{part} \"")) && rest.ends_with("\" not allowed\n"))
            || (part == "method" && rest == "method is not a valid token\n")
            || (part == "header" && rest == "header list is malformed\n")
    })
}
