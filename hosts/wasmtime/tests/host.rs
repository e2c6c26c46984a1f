//! edge-cors's release module on a second, independent proxy-wasm host:
//! the `proxy-wasm-host` crate (ABI 0.2.1 on wasmtime, a port of MOSN's
//! host), not Envoy and not V8. Run with `make host-wasmtime`.
//!
//! The harness plays the proxy: it lends the request and response header
//! maps to the guest, keeps a local reply the guest sends, routes that reply
//! back through the response callback as Envoy does, and reads the log lines
//! and metrics the guest writes.
//!
//! Metrics: the crate's `InMemoryStore` gives no read of a metric by name
//! (its documentation says so and suggests wrapping it). `Metered` below
//! forwards every shared-services call to the store and remembers the name
//! of each metric defined; values are read back from the store itself
//! through `SharedServices::get_metric`.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use proxy_wasm_host::abi::v0_2_1::types::{Action, LogLevel, MapType, MetricType, Status};
use proxy_wasm_host::abi::v0_2_1::{
    Access, ContextId, Guest, GuestError, Host, InMemoryStore, Invocation, LocalResponse, LogContext, LogSink, MetricId, PluginConfig,
    QueueId, SharedServices, SharedValue, Started, StreamKind, StreamState, VmServices,
};
use proxy_wasm_host::{Engine, HeaderMap, Limits, Module, VecHeaderMap};

const APP: &str = "https://app.example.com";
const EVIL: &str = "https://evil.test";
const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

const POLICY: &str = r#"{
  "allow_origins": ["https://app.example.com"],
  "allow_methods": ["GET", "PUT"],
  "allow_headers": ["content-type"],
  "expose_headers": ["etag"],
  "max_age": 600
}"#;

// ---------------------------------------------------------------- the module

fn wasm_path() -> PathBuf {
    match std::env::var_os("EDGE_CORS_WASM") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/wasm32-wasip1/release/edge_cors.wasm"),
    }
}

/// One engine and one compiled module for every test (compiling is the slow part).
fn compiled() -> &'static (Engine, Module) {
    static COMPILED: OnceLock<(Engine, Module)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let path = wasm_path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read the release module {}: {e}\nbuild it first with `make wasm` \
                 (from the repository root), or point EDGE_CORS_WASM at a module",
                path.display()
            )
        });
        let engine = Engine::new().expect("wasmtime engine");
        let module = Module::new(&engine, &bytes).expect("the module compiles on wasmtime");
        (engine, module)
    })
}

// ------------------------------------------------------------- host services

#[derive(Default)]
struct Logs(Mutex<Vec<(LogLevel, String)>>);

impl LogSink for Logs {
    fn log(&self, _: LogContext<'_>, level: LogLevel, message: &[u8]) {
        let line = String::from_utf8_lossy(message).into_owned();
        eprintln!("    guest log {level:?}: {line}");
        self.0.lock().unwrap().push((level, line));
    }
}

impl Logs {
    fn at(&self, level: LogLevel) -> Vec<String> {
        self.0.lock().unwrap().iter().filter(|(l, _)| *l == level).map(|(_, m)| m.clone()).collect()
    }
    fn all(&self) -> Vec<(LogLevel, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// The crate's store, with the name of each metric defined kept on the side.
#[derive(Default)]
struct Metered {
    store: InMemoryStore,
    names: Mutex<BTreeMap<String, (MetricType, MetricId)>>,
}

impl SharedServices for Metered {
    fn get_shared_data(&self, c: Invocation, vm: &[u8], key: &[u8]) -> Result<SharedValue, Status> {
        self.store.get_shared_data(c, vm, key)
    }
    fn set_shared_data(&self, c: Invocation, vm: &[u8], k: &[u8], v: &[u8], cas: Option<u32>) -> Result<(), Status> {
        self.store.set_shared_data(c, vm, k, v, cas)
    }
    fn register_shared_queue(&self, c: Invocation, vm: &[u8], name: &[u8]) -> Result<QueueId, Status> {
        self.store.register_shared_queue(c, vm, name)
    }
    fn resolve_shared_queue(&self, c: Invocation, vm: &[u8], name: &[u8]) -> Result<QueueId, Status> {
        self.store.resolve_shared_queue(c, vm, name)
    }
    fn enqueue_shared_queue(&self, c: Invocation, q: QueueId, v: &[u8]) -> Result<(), Status> {
        self.store.enqueue_shared_queue(c, q, v)
    }
    fn dequeue_shared_queue(&self, c: Invocation, q: QueueId) -> Result<Vec<u8>, Status> {
        self.store.dequeue_shared_queue(c, q)
    }
    fn define_metric(&self, c: Invocation, vm: &[u8], kind: MetricType, name: &[u8]) -> Result<MetricId, Status> {
        let id = self.store.define_metric(c, vm, kind, name)?;
        self.names.lock().unwrap().insert(String::from_utf8_lossy(name).into_owned(), (kind, id));
        Ok(id)
    }
    fn record_metric(&self, c: Invocation, m: MetricId, v: u64) -> Result<(), Status> {
        self.store.record_metric(c, m, v)
    }
    fn increment_metric(&self, c: Invocation, m: MetricId, d: i64) -> Result<(), Status> {
        self.store.increment_metric(c, m, d)
    }
    fn get_metric(&self, c: Invocation, m: MetricId) -> Result<u64, Status> {
        self.store.get_metric(c, m)
    }
}

// ------------------------------------------------------------------ a stream

/// One request/response exchange as the proxy holds it.
#[derive(Default)]
struct Exchange {
    request: VecHeaderMap,
    response: VecHeaderMap,
    local: Option<LocalResponse<'static>>,
    local_replies: usize,
}

impl StreamState for Exchange {
    fn header_map(&mut self, _: Invocation, _: Access, map: MapType) -> Result<&mut dyn HeaderMap, Status> {
        match map {
            MapType::HttpRequestHeaders => Ok(&mut self.request),
            MapType::HttpResponseHeaders => Ok(&mut self.response),
            _ => Err(Status::BadArgument),
        }
    }

    fn send_local_response(&mut self, _: Invocation, response: LocalResponse<'_>) -> Result<(), Status> {
        self.local_replies += 1;
        self.local = Some(response.into_owned());
        Ok(())
    }
}

fn map(pairs: &[(&str, &str)]) -> VecHeaderMap {
    pairs.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
}

fn pairs_of(m: &VecHeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let _ = m.for_each_pair(&mut |k: &[u8], v: &[u8]| {
        out.push((String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()));
        ControlFlow::Continue(())
    });
    out
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// What the client receives.
#[derive(Debug)]
struct Answer {
    status: u32,
    headers: Vec<(String, String)>,
    body: String,
    /// Whether the request went on to the upstream.
    forwarded: bool,
}

impl Answer {
    fn cors(&self) -> Vec<&(String, String)> {
        self.headers.iter().filter(|(k, _)| k.to_ascii_lowercase().starts_with("access-control-")).collect()
    }
}

// ---------------------------------------------------------------- the proxy

struct Proxy {
    guest: Guest,
    root: ContextId,
    logs: Arc<Logs>,
    metrics: Arc<Metered>,
}

enum Start {
    Serving(Proxy),
    Refused { logs: Arc<Logs>, callback: String },
}

fn start(configuration: Option<&str>) -> Start {
    let (engine, module) = compiled();
    let logs = Arc::new(Logs::default());
    let metrics = Arc::new(Metered::default());
    let services = VmServices::new(logs.clone()).with_vm_id(*b"edge-cors").with_log_level(LogLevel::Trace).with_shared(metrics.clone());
    let host = Host::new(engine).expect("the host links");
    // The crate's default budget is one second of wall clock per guest
    // call; this machine is shared with other builds, so allow more.
    let limits = Limits::default().with_cpu_time(Duration::from_secs(30));
    let mut guest = Guest::new(&host, module, services, &limits).expect("the module instantiates on this host");
    let mut plugin = PluginConfig::new().with_name(*b"edge_cors").with_root_id(*b"edge_cors");
    if let Some(c) = configuration {
        plugin = plugin.with_configuration(c.as_bytes().to_vec());
    }
    match guest.start(plugin).expect("the start callbacks run without trapping") {
        Started::Serving(root) => Start::Serving(Proxy { guest, root, logs, metrics }),
        Started::Refused { callback, .. } => Start::Refused { logs, callback: format!("{callback:?}") },
    }
}

fn serving(configuration: &str) -> Proxy {
    match start(Some(configuration)) {
        Start::Serving(p) => p,
        Start::Refused { logs, callback } => panic!("refused at {callback}: {:?}", logs.all()),
    }
}

impl Proxy {
    /// One exchange: request headers through the filter; then either the
    /// filter's own reply or `upstream`'s headers through the response
    /// callback (Envoy routes a local reply back through it too).
    fn exchange(&mut self, request: &[(&str, &str)], upstream: &[(&str, &str)]) -> Answer {
        let root = self.root;
        let ex = Exchange { request: map(request), ..Exchange::default() };
        let (result, ex) = self.guest.with(ex, |scope| -> Result<_, GuestError> {
            let ctx = scope.on_context_create(Some(root))?;
            scope.expect_stream_kind(ctx, StreamKind::Http)?;
            let n = scope.stream().request.len() as u32;
            let action = scope.on_request_headers(ctx, n, true)?;
            let forwarded = action == Action::Continue && scope.stream().local.is_none();
            if !forwarded {
                assert_eq!(action, Action::Pause, "a local reply must pause the request");
            }
            let response = match &scope.stream().local {
                Some(l) if !forwarded => {
                    let mut m = vec![(b":status".to_vec(), l.status_code.to_string().into_bytes())];
                    m.extend(l.headers.iter().map(|(k, v)| (k.to_vec(), v.to_vec())));
                    VecHeaderMap::from(m)
                }
                _ => map(upstream),
            };
            scope.stream_mut().response = response;
            let n = scope.stream().response.len() as u32;
            let action = scope.on_response_headers(ctx, n, false)?;
            assert_eq!(action, Action::Continue, "the response callback must not pause");
            scope.on_done(ctx)?;
            scope.on_log(ctx)?;
            scope.on_delete(ctx)?;
            Ok(forwarded)
        });
        let forwarded = result.expect("the stream callbacks run without trapping");
        assert!(ex.local_replies <= 1, "the filter sent {} local replies", ex.local_replies);
        let headers: Vec<(String, String)> = pairs_of(&ex.response).into_iter().filter(|(k, _)| k != ":status").collect();
        let status = pairs_of(&ex.response).iter().find(|(k, _)| k == ":status").map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
        let body = ex.local.as_ref().map(|l| String::from_utf8_lossy(&l.body).into_owned()).unwrap_or_default();
        Answer { status, headers, body, forwarded }
    }

    fn preflight(&mut self, origin: &str, method: &str, headers: Option<&str>) -> Answer {
        let mut req = vec![
            (":method", "OPTIONS"),
            (":path", "/api/items"),
            (":authority", "api.example.com"),
            ("origin", origin),
            ("access-control-request-method", method),
        ];
        if let Some(h) = headers {
            req.push(("access-control-request-headers", h));
        }
        self.exchange(&req, &UPSTREAM_PLAIN)
    }

    fn get(&mut self, origin: Option<&str>, upstream: &[(&str, &str)]) -> Answer {
        let mut req = vec![(":method", "GET"), (":path", "/api/items"), (":authority", "api.example.com")];
        if let Some(o) = origin {
            req.push(("origin", o));
        }
        self.exchange(&req, upstream)
    }

    /// Every metric the guest defined, with its value read from the store.
    fn metrics(&self) -> BTreeMap<String, u64> {
        let names = self.metrics.names.lock().unwrap().clone();
        let call = Invocation::new(self.guest.id(), self.root);
        names
            .into_iter()
            .map(|(name, (kind, id))| {
                assert_eq!(kind, MetricType::Counter, "{name} is not a counter");
                let value = self.metrics.get_metric(call, id).unwrap_or_else(|s| panic!("{name}: {s:?}"));
                (name, value)
            })
            .collect()
    }
}

const UPSTREAM_PLAIN: [(&str, &str); 2] = [(":status", "200"), ("content-type", "application/json")];

/// An upstream that does CORS its own (wrong) way.
const UPSTREAM_CORS: [(&str, &str); 6] = [
    (":status", "200"),
    ("content-type", "application/json"),
    ("access-control-allow-origin", "*"),
    ("access-control-allow-credentials", "true"),
    ("access-control-allow-methods", "GET, POST, DELETE"),
    ("access-control-max-age", "86400"),
];

// ------------------------------------------------------------- the scenarios

fn allowed_preflight(p: &mut Proxy) {
    let r = p.preflight(APP, "PUT", Some("content-type"));
    assert_eq!(r.status, 204, "{r:?}");
    assert!(!r.forwarded, "a preflight reached the upstream");
    assert_eq!(r.body, "");
    assert_eq!(
        r.headers,
        owned(&[
            ("access-control-allow-origin", APP),
            ("access-control-allow-methods", "GET, PUT"),
            ("access-control-allow-headers", "content-type"),
            ("access-control-max-age", "600"),
            ("vary", PREFLIGHT_VARY),
        ]),
        "the reply, untouched by the response callback it went through"
    );
}

fn refused_preflight(p: &mut Proxy) {
    let r = p.preflight(EVIL, "PUT", None);
    assert_eq!(r.status, 403, "{r:?}");
    assert!(!r.forwarded, "a refused preflight reached the upstream");
    assert_eq!(r.body, "CORS preflight rejected: origin not allowed\n");
    assert!(r.cors().is_empty(), "{:?}", r.headers);
    assert_eq!(r.headers, owned(&[("vary", PREFLIGHT_VARY), ("content-type", "text/plain; charset=utf-8")]));
}

fn allowed_get_over_upstream_cors(p: &mut Proxy) {
    let r = p.get(Some(APP), &UPSTREAM_CORS);
    assert!(r.forwarded);
    assert_eq!(r.status, 200);
    assert_eq!(
        sorted(r.headers),
        sorted(owned(&[
            ("content-type", "application/json"),
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", "etag"),
            ("vary", "Origin"),
        ])),
        "the upstream's access-control-* headers (*, credentials, methods, max-age) must be gone"
    );
}

fn allowed_get_plain(p: &mut Proxy) {
    let upstream = [(":status", "200"), ("vary", "Accept-Encoding")];
    let r = p.get(Some(APP), &upstream);
    assert!(r.forwarded);
    assert_eq!(
        sorted(r.headers),
        sorted(owned(&[
            ("access-control-allow-origin", APP),
            ("access-control-expose-headers", "etag"),
            ("vary", "Accept-Encoding, Origin"),
        ]))
    );
}

fn refused_get_over_upstream_cors(p: &mut Proxy) {
    let r = p.get(Some(EVIL), &UPSTREAM_CORS);
    assert!(r.forwarded);
    assert_eq!(r.status, 200);
    assert!(r.cors().is_empty(), "no CORS header may remain for a refused origin: {:?}", r.headers);
    assert_eq!(sorted(r.headers), sorted(owned(&[("content-type", "application/json"), ("vary", "Origin")])));
}

fn refused_get_plain(p: &mut Proxy) {
    let r = p.get(Some(EVIL), &UPSTREAM_PLAIN);
    assert!(r.forwarded);
    assert_eq!(sorted(r.headers), sorted(owned(&[("content-type", "application/json"), ("vary", "Origin")])));
}

fn no_origin_get(p: &mut Proxy) {
    let r = p.get(None, &UPSTREAM_PLAIN);
    assert!(r.forwarded);
    assert_eq!(sorted(r.headers), sorted(owned(&[("content-type", "application/json"), ("vary", "Origin")])));
}

// ----------------------------------------------------------------- the tests

#[test]
fn configure_accepts_a_good_policy_and_refuses_bad_and_empty_ones() {
    let p = serving(POLICY);
    let noisy: Vec<_> =
        p.logs.all().into_iter().filter(|(l, _)| matches!(l, LogLevel::Warn | LogLevel::Error | LogLevel::Critical)).collect();
    assert!(noisy.is_empty(), "a good policy logged {noisy:?}");

    let bad = r#"{"allow_origins": ["*"], "allow_credentials": true}"#;
    let Start::Refused { logs, callback } = start(Some(bad)) else {
        panic!("the host accepted {bad}: on_configure did not return false");
    };
    assert_eq!(callback, "Configure");
    let all = logs.all();
    assert_eq!(all.len(), 1, "exactly one log line for a refused policy: {all:?}");
    let errors = logs.at(LogLevel::Error);
    assert_eq!(errors.len(), 1, "{all:?}");
    let line = &errors[0];
    assert!(!line.contains('\n'), "one line: {line:?}");
    assert!(
        line.starts_with("invalid edge-cors configuration: allow_origins[0] = \"*\": "),
        "the error must name allow_origins[0] and its value: {line:?}"
    );

    for empty in [None, Some(""), Some("  \n")] {
        let Start::Refused { logs, callback } = start(empty) else {
            panic!("the host accepted an empty configuration {empty:?}");
        };
        assert_eq!(callback, "Configure", "{empty:?}");
        let errors = logs.at(LogLevel::Error);
        assert_eq!(errors.len(), 1, "{empty:?}: {:?}", logs.all());
        assert!(errors[0].contains("the plugin configuration is empty"), "{empty:?}: {:?}", errors[0]);
    }
}

#[test]
fn preflights_are_answered_by_the_filter() {
    let mut p = serving(POLICY);
    allowed_preflight(&mut p);
    refused_preflight(&mut p);
}

#[test]
fn actual_requests_get_the_policy_headers_and_lose_the_upstreams() {
    let mut p = serving(POLICY);
    allowed_get_over_upstream_cors(&mut p);
    allowed_get_plain(&mut p);
    refused_get_over_upstream_cors(&mut p);
    refused_get_plain(&mut p);
    no_origin_get(&mut p);
}

#[test]
fn metrics_count_each_outcome_exactly() {
    let mut p = serving(POLICY);
    let defined = p.metrics();
    let expected_names = [
        "edge_cors.preflight_allowed",
        "edge_cors.preflight_rejected_origin",
        "edge_cors.preflight_rejected_method",
        "edge_cors.preflight_rejected_header",
        "edge_cors.request_allowed",
        "edge_cors.request_rejected_origin",
        "edge_cors.upstream_cors_headers_replaced",
    ];
    for name in expected_names {
        assert_eq!(defined.get(name), Some(&0), "{name} must be defined at configure time, at 0: {defined:?}");
    }
    // Counters added later are allowed here (they are not this test's
    // subject), but must follow the naming scheme.
    for name in defined.keys().filter(|n| !expected_names.contains(&n.as_str())) {
        assert!(name.starts_with("edge_cors."), "{name}");
        eprintln!("    also defined: {name}");
    }

    // Distinct counts, so a counter bumped for the wrong outcome shows.
    allowed_preflight(&mut p); // preflight_allowed 1
    for _ in 0..2 {
        refused_preflight(&mut p); // preflight_rejected_origin 2
    }
    allowed_get_over_upstream_cors(&mut p); // request_allowed, replaced
    allowed_get_over_upstream_cors(&mut p); // request_allowed, replaced
    allowed_get_plain(&mut p); // request_allowed 3
    for _ in 0..3 {
        refused_get_over_upstream_cors(&mut p); // request_rejected_origin, replaced
    }
    refused_get_plain(&mut p); // request_rejected_origin 4; replaced 5
    no_origin_get(&mut p); // counts nothing

    let got: BTreeMap<String, u64> = p.metrics().into_iter().filter(|(n, _)| expected_names.contains(&n.as_str())).collect();
    let want: BTreeMap<String, u64> = [
        ("edge_cors.preflight_allowed", 1),
        ("edge_cors.preflight_rejected_origin", 2),
        ("edge_cors.preflight_rejected_method", 0),
        ("edge_cors.preflight_rejected_header", 0),
        ("edge_cors.request_allowed", 3),
        ("edge_cors.request_rejected_origin", 4),
        ("edge_cors.upstream_cors_headers_replaced", 5),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(got, want);
    let warnings = p.logs.at(LogLevel::Warn);
    assert!(warnings.is_empty(), "metrics must work on this host: {warnings:?}");
}
