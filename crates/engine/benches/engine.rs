//! The engine alone, natively: nanoseconds per decision (including the
//! response rewrite for forwarded requests), for the scenarios `make bench`
//! drives through Envoy, under a small policy, a 1,000-origin policy and a
//! 200-pattern wildcard policy. The three should cost the same: exact
//! origins are one hash probe, patterns one probe per label of the host.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use edge_cors_engine::{Decision, HeaderSink, Policy, Request, Stamp};

/// Takes the response edits and keeps only a count of their bytes, so the
/// work cannot be optimised away. Not `HeaderList`: this measures the engine
/// alone, and a map's allocations and name scans would be timed with it.
struct NullSink(usize);

impl HeaderSink for NullSink {
    fn remove(&mut self, name: &[u8]) {
        self.0 += name.len();
    }
    fn set(&mut self, name: &str, value: &[u8]) {
        self.0 += name.len() + value.len();
    }
}

const UPSTREAM: [(&[u8], &[u8]); 5] = [
    (b":status", b"200"),
    (b"content-type", b"application/json"),
    (b"content-length", b"42"),
    (b"etag", b"\"v1\""),
    (b"date", b"Wed, 25 Nov 2026 08:00:00 GMT"),
];

/// 10,000 exact tenant origins and 300 wildcard patterns.
fn tenants_json() -> String {
    let exact = (0..10_000).map(|i| format!("\"https://tenant{i}.customers.example\""));
    let wild = (0..300).map(|i| format!("\"https://*.region{i}.saas.example\""));
    let origins: Vec<String> = exact.chain(wild).collect();
    format!(
        r#"{{"allow_origins": [{}], "allow_methods": ["GET", "POST"], "allow_headers": ["content-type", "authorization"], "expose_headers": ["etag"], "max_age": 3600}}"#,
        origins.join(",")
    )
}

fn policies() -> Vec<(&'static str, Policy, &'static str)> {
    let small = r#"{"allow_origins": ["https://app.example.com", "https://*.example.com"],
        "allow_methods": ["GET", "POST"], "allow_headers": ["content-type", "authorization"],
        "expose_headers": ["etag", "x-request-id"], "max_age": 3600}"#;
    let many: Vec<String> = (0..1000).map(|i| format!("\"https://tenant{i}.customers.example\"")).collect();
    let many = format!(
        r#"{{"allow_origins": [{}], "allow_methods": ["GET", "POST"], "allow_headers": ["content-type", "authorization"], "expose_headers": ["etag"], "max_age": 3600}}"#,
        many.join(",")
    );
    let wild: Vec<String> = (0..200).map(|i| format!("\"https://*.tenant{i}.example\"")).collect();
    let wild = format!(
        r#"{{"allow_origins": [{}], "allow_methods": ["GET", "POST"], "allow_headers": ["content-type", "authorization"], "expose_headers": ["etag"], "max_age": 3600}}"#,
        wild.join(",")
    );
    let load = |s: &str| Policy::from_json(s.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    vec![
        ("small", load(small), "https://app.example.com"),
        ("1000-origins", load(&many), "https://tenant999.customers.example"),
        ("200-patterns", load(&wild), "https://eu.app.tenant199.example"),
        ("10000-origins+300-patterns", load(&tenants_json()), "https://tenant9999.customers.example"),
    ]
}

fn forward(policy: &Policy, req: &Request<'_>) -> usize {
    let mut sink = NullSink(0);
    if let Decision::Forward(forward) = policy.decide(req) {
        policy.rewrite_response(Stamp { forward, origin: req.origin }, UPSTREAM, &mut sink);
    }
    sink.0
}

fn bench(c: &mut Criterion) {
    for (name, policy, origin) in policies() {
        let mut g = c.benchmark_group(name);
        let simple = Request { method: b"GET", origin: Some(origin.as_bytes()), ..Request::default() };
        g.bench_function("simple GET, allowed origin", |b| b.iter(|| forward(&policy, black_box(&simple))));
        let preflight = Request {
            method: b"OPTIONS",
            origin: Some(origin.as_bytes()),
            request_method: Some(b"POST"),
            request_headers: Some(b"content-type,authorization"),
            ..Request::default()
        };
        g.bench_function("preflight, allowed", |b| {
            b.iter(|| match policy.decide(black_box(&preflight)) {
                Decision::Preflight(reply) => {
                    assert_eq!(reply.status, 204);
                    reply.headers.len()
                }
                Decision::Forward(_) => panic!("not a preflight"),
            })
        });
        let no_origin = Request { method: b"GET", ..Request::default() };
        g.bench_function("GET without Origin", |b| b.iter(|| forward(&policy, black_box(&no_origin))));
        let evil = Request { method: b"GET", origin: Some(b"https://evil.example.com.attacker.test"), ..Request::default() };
        g.bench_function("GET, disallowed origin", |b| b.iter(|| forward(&policy, black_box(&evil))));
        g.finish();
    }
}

/// Configure time: parsing, validating and compiling a large policy, as
/// `on_configure` does.
fn configure(c: &mut Criterion) {
    let json = tenants_json();
    let mut g = c.benchmark_group("configure");
    g.sample_size(20);
    g.bench_function("10000 origins + 300 patterns", |b| {
        b.iter(|| Policy::from_json(black_box(json.as_bytes())).map(|p| p.is_public()).unwrap_or(true))
    });
    g.finish();
}

criterion_group!(benches, bench, configure);
criterion_main!(benches);
