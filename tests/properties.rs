//! Invariants of the engine as property tests: generated policies, generated
//! requests (arbitrary bytes in Origin, method and Access-Control-Request-*,
//! repeated headers, odd case and whitespace), generated upstream responses.
//!
//! The judges are written here, independently of the engine:
//! - a reference origin matcher (`Model::allows`), from the contract's
//!   description of each `allow_origins` form;
//! - a browser model (`Browser`), following the Fetch standard's CORS check
//!   and CORS-preflight fetch (status, allow-origin, allow-credentials,
//!   methods, header names, the `*` and `Authorization` rules);
//! - the configuration rules of CONTRACT.md section 1 (`Model::valid`).
//!
//! `PROPTEST_CASES=100000 cargo test --test properties` runs a long campaign
//! (`make fuzz-properties`); the default is a few seconds' worth.

// Generated tuples are easier to read inline than named.
#![allow(clippy::type_complexity)]

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::Config as RunnerConfig;
use serde_json::{Map, Value};

use edge_cors::origin::{OriginEntry, OriginSet};
use edge_cors::rules::Config;
use edge_cors::{report, wire, Decision, Forward, HeaderSink, Policy, PreflightReply, Rejection, Request, Stamp};

fn runner(default_cases: u32) -> RunnerConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default_cases);
    RunnerConfig { cases, failure_persistence: None, ..RunnerConfig::default() }
}

// ===================================================================== HTTP

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

fn ows_trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Elements of a comma-separated list, empty ones skipped (RFC 9110 5.6.1).
fn elements(v: &[u8]) -> Vec<&[u8]> {
    v.split(|&b| b == b',').map(ows_trim).filter(|e| !e.is_empty()).collect()
}

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

fn values<'h>(headers: &'h Headers, name: &str) -> Vec<&'h [u8]> {
    headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice()).collect()
}

fn cors_names(headers: &Headers) -> Vec<String> {
    headers
        .iter()
        .map(|(n, _)| String::from_utf8_lossy(n).to_ascii_lowercase())
        .filter(|n| n.starts_with("access-control-"))
        .collect()
}

/// A response header map as Envoy keeps it: names compared case-insensitively.
#[derive(Default, Debug)]
struct HeaderMap(Headers);

impl HeaderSink for HeaderMap {
    fn remove(&mut self, name: &[u8]) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        self.remove(name.as_bytes());
        self.0.push((name.as_bytes().to_vec(), value.to_vec()));
    }
}

fn reply_headers(reply: &PreflightReply<'_>) -> Headers {
    reply.headers.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
}

// ============================================================ browser model

const SAFELISTED_METHODS: [&str; 3] = ["GET", "HEAD", "POST"];

/// The request a browser is about to make, as its preflight describes it.
#[derive(Debug, Clone)]
struct Browser {
    origin: Vec<u8>,
    method: Vec<u8>,
    /// The CORS-unsafe request-header names (lower case).
    headers: Vec<Vec<u8>>,
    credentials: bool,
}

/// "Extracting header list values": absent is an empty list, a non-token
/// element is a failure.
fn extract_list(headers: &Headers, name: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for v in values(headers, name) {
        for e in elements(v) {
            if !is_token(e) {
                return Err(format!("{name} has a non-token element {:?}", String::from_utf8_lossy(e)));
            }
            out.push(e.to_vec());
        }
    }
    Ok(out)
}

impl Browser {
    /// Fetch's CORS check, on any response.
    fn cors_check(&self, headers: &Headers) -> Result<(), String> {
        let acao = values(headers, "access-control-allow-origin");
        let [origin] = acao.as_slice() else {
            return Err(format!("{} Access-Control-Allow-Origin values", acao.len()));
        };
        if !self.credentials && *origin == b"*" {
            return Ok(());
        }
        if *origin != self.origin.as_slice() {
            return Err(format!("Access-Control-Allow-Origin {:?} is not the page's origin", String::from_utf8_lossy(origin)));
        }
        if !self.credentials {
            return Ok(());
        }
        match values(headers, "access-control-allow-credentials").as_slice() {
            [b"true"] => Ok(()),
            other => Err(format!("credentialed request without Access-Control-Allow-Credentials: true ({other:?})")),
        }
    }

    /// Fetch's CORS-preflight fetch, from the response on.
    fn accepts_preflight(&self, status: u32, headers: &Headers) -> Result<(), String> {
        if !(200..=299).contains(&status) {
            return Err(format!("status {status} is not ok"));
        }
        self.cors_check(headers)?;
        let methods = extract_list(headers, "access-control-allow-methods")?;
        let names = extract_list(headers, "access-control-allow-headers")?;
        let star = |l: &[Vec<u8>]| l.iter().any(|e| e == b"*");
        let safelisted = SAFELISTED_METHODS.iter().any(|m| m.as_bytes() == self.method);
        if !methods.contains(&self.method) && !safelisted && (self.credentials || !star(&methods)) {
            return Err(format!("method {:?} not in Access-Control-Allow-Methods", String::from_utf8_lossy(&self.method)));
        }
        let listed = |h: &[u8]| names.iter().any(|n| n.eq_ignore_ascii_case(h));
        // The CORS non-wildcard request-header name: `*` never covers it.
        if self.headers.iter().any(|h| h.eq_ignore_ascii_case(b"authorization")) && !listed(b"authorization") {
            return Err("Authorization not named in Access-Control-Allow-Headers".into());
        }
        for h in &self.headers {
            if !listed(h) && (self.credentials || !star(&names)) {
                return Err(format!("header {:?} not in Access-Control-Allow-Headers", String::from_utf8_lossy(h)));
            }
        }
        Ok(())
    }
}

// ============================================================ policy model

#[derive(Clone, Debug, PartialEq)]
enum Host {
    Domain(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    fn canonical(&self) -> String {
        match self {
            Host::Domain(d) => d.clone(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => format!("[{a}]"),
        }
    }

    fn is_loopback(&self) -> bool {
        match self {
            Host::Domain(d) => d == "localhost",
            Host::V4(a) => a.octets()[0] == 127,
            Host::V6(a) => *a == Ipv6Addr::LOCALHOST,
        }
    }
}

fn scheme(https: bool) -> &'static str {
    if https {
        "https"
    } else {
        "http"
    }
}

fn default_port(https: bool) -> u16 {
    if https {
        443
    } else {
        80
    }
}

/// One `allow_origins` entry, as meant.
#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Any,
    Null,
    AnyOf { https: bool },
    Exact { https: bool, host: Host, port: Option<u16> },
    Sub { https: bool, base: String, port: Option<u16> },
}

/// How the entry is written in the configuration (all equivalent spellings).
#[derive(Clone, Copy, Debug)]
struct Spelling {
    upper: bool,
    explicit_default_port: bool,
    long_ipv6: bool,
}

impl Entry {
    /// The port a browser would serialise: none for the scheme's default.
    fn port(&self) -> Option<u16> {
        match self {
            Entry::Exact { https, port, .. } | Entry::Sub { https, port, .. } => port.filter(|p| *p != default_port(*https)),
            _ => None,
        }
    }

    /// Equal keys are the same entry (duplicates are dropped on load).
    fn key(&self) -> String {
        match self {
            Entry::Any => "*".into(),
            Entry::Null => "null".into(),
            Entry::AnyOf { https } => format!("{}://*", scheme(*https)),
            Entry::Exact { https, host, .. } => format!("{}://{}{:?}", scheme(*https), host.canonical(), self.port()),
            Entry::Sub { https, base, .. } => format!("{}://*.{}{:?}", scheme(*https), base, self.port()),
        }
    }

    fn raw(&self, s: Spelling) -> String {
        let port = |https: bool, port: Option<u16>| match port {
            Some(p) => format!(":{p}"),
            None if s.explicit_default_port => format!(":{}", default_port(https)),
            None => String::new(),
        };
        let text = match self {
            Entry::Any => "*".to_string(),
            Entry::Null => "null".to_string(),
            Entry::AnyOf { https } => format!("{}://*", scheme(*https)),
            Entry::Exact { https, host, port: p } => {
                let host = match host {
                    Host::V6(a) if s.long_ipv6 => {
                        let seg: Vec<String> = a.segments().iter().map(|x| format!("{x:x}")).collect();
                        format!("[{}]", seg.join(":"))
                    }
                    h => h.canonical(),
                };
                format!("{}://{host}{}", scheme(*https), port(*https, *p))
            }
            Entry::Sub { https, base, port: p } => format!("{}://*.{base}{}", scheme(*https), port(*https, *p)),
        };
        if s.upper {
            text.to_ascii_uppercase()
        } else {
            text
        }
    }

    /// What a browser at an origin this entry allows would send.
    fn example(&self, label: &str) -> String {
        match self {
            Entry::Any => format!("https://{label}.anywhere.test"),
            Entry::Null => "null".into(),
            Entry::AnyOf { https } => format!("{}://{label}.some-site.test", scheme(*https)),
            Entry::Exact { https, host, .. } => {
                format!("{}://{}{}", scheme(*https), host.canonical(), self.port().map(|p| format!(":{p}")).unwrap_or_default())
            }
            Entry::Sub { https, base, .. } => {
                format!("{}://{label}.{base}{}", scheme(*https), self.port().map(|p| format!(":{p}")).unwrap_or_default())
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Names {
    Absent,
    Any,
    List(Vec<String>),
}

#[derive(Clone, Debug)]
struct Model {
    origins: Vec<(Entry, Spelling)>,
    methods: Names,
    headers: Names,
    expose: Names,
    max_age: Option<u32>,
    credentials: bool,
    private_network: bool,
    insecure: bool,
    aws: bool,
    gateway_key: bool,
}

/// Fetch upper-cases these six methods, so the policy does too.
const FETCH_NORMALISED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/// A browser-serialised origin split into scheme, host and port.
struct Parsed<'a> {
    https: bool,
    host: &'a str,
    port: Option<u16>,
}

/// Parses an `Origin` value as browsers serialise it: `scheme://host[:port]`,
/// lower case, no default port, no trailing anything. `strict` asks for a
/// well-formed host (labels without leading or trailing hyphens; IPv6 in its
/// canonical text), which the filter promises to accept; otherwise any host
/// made of label characters passes, which bounds what it may accept.
fn parse_origin(o: &[u8], strict: bool) -> Option<Parsed<'_>> {
    let s = std::str::from_utf8(o).ok()?;
    let (https, rest) = match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (_, Some(r)) => (false, r),
        _ => return None,
    };
    let (host, port) = if rest.starts_with('[') {
        let end = rest.find(']')?;
        let (h, tail) = rest.split_at(end + 1);
        match tail {
            "" => (h, None),
            t => (h, Some(t.strip_prefix(':')?)),
        }
    } else {
        match rest.rfind(':') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || p.starts_with('0') || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u32 = p.parse().ok()?;
            if n == 0 || n > 65535 || n == u32::from(default_port(https)) {
                return None;
            }
            Some(n as u16)
        }
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if strict {
            inner.parse::<Ipv6Addr>().is_ok_and(|a| a.to_string() == inner)
        } else {
            !inner.is_empty() && inner.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b':' | b'.'))
        }
    } else if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        host.parse::<Ipv4Addr>().is_ok_and(|a| a.to_string() == host)
    } else {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
                && (!strict || (!l.starts_with('-') && !l.ends_with('-')))
        };
        let last_numeric = host.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok) && !last_numeric
    };
    host_ok.then_some(Parsed { https, host, port })
}

impl Model {
    /// The entries after duplicates are dropped.
    fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for (e, _) in &self.origins {
            if !out.iter().any(|o| o.key() == e.key()) {
                out.push(e.clone());
            }
        }
        out
    }

    fn any(&self) -> bool {
        self.origins.iter().any(|(e, _)| *e == Entry::Any)
    }

    /// `*` without credentials: the same answer for every origin.
    fn public(&self) -> bool {
        self.any() && !self.credentials
    }

    /// CONTRACT.md section 1's refusals, for the kinds of policy generated here.
    fn valid(&self) -> bool {
        let wildcard = self.origins.iter().any(|(e, _)| matches!(e, Entry::Any | Entry::AnyOf { .. }));
        let insecure_http = self.origins.iter().any(|(e, _)| match e {
            Entry::Exact { https: false, host, .. } => !host.is_loopback(),
            Entry::Sub { https: false, .. } | Entry::AnyOf { https: false } => true,
            _ => false,
        });
        let refused = [
            // `*` (or a scheme wildcard) with credentials
            self.credentials && wildcard,
            // plain-HTTP origins with credentials, unless loopback or insecure allowed
            self.credentials && !self.insecure && insecure_http,
            // `*` mixed with other entries
            self.any() && self.entries().len() > 1,
            // expose_headers ["*"] with credentials
            self.credentials && self.expose == Names::Any,
        ];
        !refused.contains(&true)
    }

    /// The methods a preflight may ask for (None: any).
    fn methods(&self) -> Option<Vec<String>> {
        match &self.methods {
            Names::Any => None,
            Names::List(l) if !l.is_empty() => Some(
                l.iter()
                    .map(|m| FETCH_NORMALISED.iter().find(|n| n.eq_ignore_ascii_case(m)).map_or(m.clone(), |n| n.to_string()))
                    .collect(),
            ),
            _ => Some(SAFELISTED_METHODS.iter().map(|m| m.to_string()).collect()),
        }
    }

    fn headers(&self) -> Option<Vec<String>> {
        match &self.headers {
            Names::Any => None,
            Names::List(l) => Some(l.clone()),
            Names::Absent => Some(Vec::new()),
        }
    }

    /// The reference matcher. `strict`: see [`parse_origin`].
    fn allows(&self, origin: &[u8], strict: bool) -> bool {
        if self.any() {
            return true;
        }
        if origin == b"null" {
            return self.origins.iter().any(|(e, _)| *e == Entry::Null);
        }
        let Some(p) = parse_origin(origin, strict) else {
            return false;
        };
        self.origins.iter().any(|(e, _)| match e {
            Entry::Exact { https, host, .. } => p.https == *https && p.host == host.canonical() && p.port == e.port(),
            Entry::Sub { https, base, .. } => {
                p.https == *https
                    && p.port == e.port()
                    && !p.host.starts_with('[')
                    && p.host.len() > base.len() + 1
                    && p.host.ends_with(&format!(".{base}"))
            }
            Entry::AnyOf { https } => p.https == *https,
            Entry::Any | Entry::Null => false,
        })
    }

    fn method_allowed(&self, m: &[u8]) -> bool {
        is_token(m)
            && match self.methods() {
                None => true,
                Some(l) => l.iter().any(|x| x.as_bytes() == m) || SAFELISTED_METHODS.iter().any(|x| x.as_bytes() == m),
            }
    }

    fn headers_allowed(&self, requested: &[u8]) -> bool {
        let allowed = self.headers();
        elements(requested).iter().all(|h| {
            is_token(h) && allowed.as_ref().is_none_or(|l| l.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(h)))
        })
    }

    fn json(&self) -> String {
        let key = |snake: &str, aws: &str| if self.aws { aws.to_string() } else { snake.to_string() };
        let list = |n: &Names| match n {
            Names::Any => Some(Value::from(vec!["*"])),
            Names::List(l) => Some(Value::from(l.clone())),
            Names::Absent => None,
        };
        let mut m = Map::new();
        let origins: Vec<String> = self.origins.iter().map(|(e, s)| e.raw(*s)).collect();
        m.insert(key("allow_origins", "AllowOrigins"), Value::from(origins));
        if let Some(v) = list(&self.methods) {
            m.insert(key("allow_methods", "AllowMethods"), v);
        }
        if let Some(v) = list(&self.headers) {
            m.insert(key("allow_headers", "AllowHeaders"), v);
        }
        if let Some(v) = list(&self.expose) {
            m.insert(key("expose_headers", "ExposeHeaders"), v);
        }
        if let Some(a) = self.max_age {
            m.insert(key("max_age", "MaxAge"), Value::from(a));
        }
        m.insert(key("allow_credentials", "AllowCredentials"), Value::from(self.credentials));
        m.insert("allow_private_network".into(), Value::from(self.private_network));
        if self.insecure {
            m.insert("allow_insecure_origins".into(), Value::from(true));
        }
        if self.gateway_key {
            m.insert("_match_route_".into(), Value::from(vec!["injected"]));
        }
        Value::Object(m).to_string()
    }

    fn policy(&self) -> Policy {
        Policy::from_json(self.json().as_bytes()).unwrap_or_else(|e| panic!("valid policy refused: {e}\n{}", self.json()))
    }
}

// ============================================================ generators

const LABELS: &[&str] = &["a", "b", "app", "api", "x-y", "s_1", "1a", "example", "test", "corp", "xn--bcher-kva"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "patch", "get", "put", "Delete", "X-CUSTOM", "OPTIONS", "HEAD", "PROPFIND"];
const HEADERS: &[&str] = &["content-type", "authorization", "x-a", "X-Token", "x-request-id", "accept", "X-A"];
const EXPOSE: &[&str] = &["etag", "x-request-id", "X-Total"];

fn domain(labels: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(LABELS), labels).prop_map(|v| v.join("."))
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        5 => domain(2..=3).prop_map(Host::Domain),
        1 => Just(Host::Domain("localhost".into())),
        1 => prop::sample::select(vec![[127, 0, 0, 1], [127, 9, 9, 9], [10, 0, 0, 1], [192, 168, 1, 20]]).prop_map(|o| Host::V4(o.into())),
        1 => prop::sample::select(vec![Ipv6Addr::LOCALHOST, Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, 2)])
            .prop_map(Host::V6),
    ]
}

fn port() -> impl Strategy<Value = Option<u16>> {
    prop::sample::select(vec![None, None, None, Some(443), Some(80), Some(8443), Some(3000), Some(1), Some(65535)])
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        1 => Just(Entry::Any),
        1 => Just(Entry::Null),
        1 => any::<bool>().prop_map(|https| Entry::AnyOf { https }),
        8 => (any::<bool>(), host(), port()).prop_map(|(https, host, port)| Entry::Exact { https, host, port }),
        5 => (any::<bool>(), domain(2..=2), port()).prop_map(|(https, base, port)| Entry::Sub { https, base, port }),
    ]
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (prop::bool::weighted(0.2), prop::bool::weighted(0.2), any::<bool>())
        .prop_map(|(upper, explicit_default_port, long_ipv6)| Spelling { upper, explicit_default_port, long_ipv6 })
}

fn names(pool: &'static [&'static str]) -> impl Strategy<Value = Names> {
    prop_oneof![
        1 => Just(Names::Absent),
        1 => Just(Names::Any),
        4 => prop::sample::subsequence(pool, 0..=pool.len().min(5))
            .prop_map(|l| Names::List(l.into_iter().map(String::from).collect())),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    (
        prop::collection::vec((entry(), spelling()), 1..=4),
        names(METHODS),
        names(HEADERS),
        names(EXPOSE),
        prop::option::of(prop_oneof![Just(0u32), Just(600), Just(86_400), 0..=86_400u32]),
        (prop::bool::weighted(0.4), any::<bool>(), prop::bool::weighted(0.15), any::<bool>(), prop::bool::weighted(0.2)),
    )
        .prop_map(|(origins, methods, headers, expose, max_age, (credentials, private_network, insecure, aws, gateway_key))| Model {
            origins,
            methods,
            headers,
            expose,
            max_age,
            credentials,
            private_network,
            insecure,
            aws,
            gateway_key,
        })
}

/// Valid policies only (most generated ones are; invalid ones are tested separately).
fn valid_model() -> impl Strategy<Value = Model> {
    model().prop_filter("invalid policy", Model::valid)
}

/// A mangling of an origin: how look-alikes and broken values are made.
#[derive(Clone, Copy, Debug)]
enum Mangle {
    None,
    Upper(usize),
    TrailingSlash,
    TrailingDot,
    DefaultPort,
    OtherPort,
    LeadingZeroPort,
    FlipScheme,
    DropFirstLabel,
    GlueFirstLabel,
    EvilSuffix,
    Space,
    ControlByte(u8),
    HighByte(usize),
    Truncate(usize),
    Userinfo,
    LongLabel,
}

fn mangle() -> impl Strategy<Value = Mangle> {
    prop_oneof![
        8 => Just(Mangle::None),
        1 => any::<usize>().prop_map(Mangle::Upper),
        1 => Just(Mangle::TrailingSlash),
        1 => Just(Mangle::TrailingDot),
        1 => Just(Mangle::DefaultPort),
        1 => Just(Mangle::OtherPort),
        1 => Just(Mangle::LeadingZeroPort),
        1 => Just(Mangle::FlipScheme),
        1 => Just(Mangle::DropFirstLabel),
        1 => Just(Mangle::GlueFirstLabel),
        1 => Just(Mangle::EvilSuffix),
        1 => Just(Mangle::Space),
        1 => prop::sample::select(vec![0u8, 1, 9, 0x7f, b'\r', b'\n']).prop_map(Mangle::ControlByte),
        1 => any::<usize>().prop_map(Mangle::HighByte),
        1 => any::<usize>().prop_map(Mangle::Truncate),
        1 => Just(Mangle::Userinfo),
        1 => Just(Mangle::LongLabel),
    ]
}

fn apply(origin: &str, m: Mangle) -> Vec<u8> {
    let (scheme, rest) = origin.split_once("://").unwrap_or(("", origin));
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match m {
        Mangle::None => origin.into(),
        Mangle::Upper(i) => {
            let mut b = origin.as_bytes().to_vec();
            let i = at(i, b.len());
            if let Some(c) = b.get_mut(i) {
                *c = c.to_ascii_uppercase();
            }
            b
        }
        Mangle::TrailingSlash => format!("{origin}/").into(),
        Mangle::TrailingDot => format!("{origin}.").into(),
        Mangle::DefaultPort => format!("{origin}:{}", if scheme == "https" { 443 } else { 80 }).into(),
        Mangle::OtherPort => format!("{origin}:8444").into(),
        Mangle::LeadingZeroPort => format!("{origin}:08443").into(),
        Mangle::FlipScheme => format!("{}://{rest}", if scheme == "https" { "http" } else { "https" }).into(),
        Mangle::DropFirstLabel => match rest.split_once('.') {
            Some((_, base)) => format!("{scheme}://{base}").into(),
            None => origin.into(),
        },
        Mangle::GlueFirstLabel => format!("{scheme}://{}", rest.replacen('.', "", 1)).into(),
        Mangle::EvilSuffix => format!("{origin}.evil.test").into(),
        Mangle::Space => format!(" {origin} ").into(),
        Mangle::ControlByte(c) => {
            let mut b = origin.as_bytes().to_vec();
            b.insert(b.len() / 2, c);
            b
        }
        Mangle::HighByte(i) => {
            let mut b = origin.as_bytes().to_vec();
            let i = at(i, b.len());
            b.insert(i, 0xff);
            b
        }
        Mangle::Truncate(i) => origin.as_bytes()[..at(i, origin.len())].to_vec(),
        Mangle::Userinfo => format!("{scheme}://user@{rest}").into(),
        Mangle::LongLabel => format!("{scheme}://{}.{rest}", "a".repeat(64)).into(),
    }
}

/// Origins for requests against `model`: mostly derived from its entries
/// (matching or nearly), some arbitrary.
fn origin_for(model: &Model) -> BoxedStrategy<Vec<u8>> {
    let entries: Vec<Entry> = model.origins.iter().map(|(e, _)| e.clone()).collect();
    prop_oneof![
        8 => (prop::sample::select(entries), domain(1..=2), mangle()).prop_map(|(e, label, m)| apply(&e.example(&label), m)),
        1 => (host(), any::<bool>(), port(), mangle()).prop_map(|(h, https, p, m)| {
            apply(&format!("{}://{}{}", scheme(https), h.canonical(), p.map(|p| format!(":{p}")).unwrap_or_default()), m)
        }),
        1 => prop::collection::vec(any::<u8>(), 0..48),
        1 => "(https?|HTTPS?|ftp|)(://)?[a-zA-Z0-9.:_*\\[\\]-]{0,40}".prop_map(String::into_bytes),
        1 => prop::sample::select(vec!["null", "", "*", "NULL", " null", "null "]).prop_map(|s| s.as_bytes().to_vec()),
    ]
    .boxed()
}

fn method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(METHODS).prop_map(|m| m.as_bytes().to_vec()),
        1 => prop::sample::select(vec!["TRACE", "CONNECT", "*", " GET", "GET ", "GET,PUT", ""]).prop_map(|m| m.as_bytes().to_vec()),
        1 => "[A-Za-z-]{1,8}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

/// An Access-Control-Request-Headers value: names in odd case, with odd
/// separators and whitespace, or junk.
fn requested_headers() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        4 => prop::sample::select(HEADERS).prop_map(String::from),
        1 => prop::sample::select(vec!["x-b", "Authorization", "cookie", "x y", "é", "*", "x:y"]).prop_map(String::from),
    ];
    let names = prop::collection::vec((name, any::<bool>(), prop::sample::select(vec![",", ", ", " , ", ",\t", ",,", " ,, "])), 0..6);
    prop_oneof![
        6 => (names, prop::sample::select(vec!["", " ", "\t"]), prop::sample::select(vec!["", " ", "\t "])).prop_map(|(names, lead, trail)| {
            let mut v = lead.to_string();
            for (i, (n, upper, sep)) in names.iter().enumerate() {
                if i > 0 {
                    v.push_str(sep);
                }
                v.push_str(&if *upper { n.to_ascii_uppercase() } else { n.clone() });
            }
            v.push_str(trail);
            v.into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => prop::sample::select(vec!["", ",,, ,", " "]).prop_map(|s| s.as_bytes().to_vec()),
        1 => (prop::sample::select(HEADERS), 100..3000usize).prop_map(|(h, n)| vec![h; n].join(",").into_bytes()),
    ]
}

fn private_network() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::sample::select(vec!["true", "TRUE", " true ", "false", "", "1"]).prop_map(|s| s.as_bytes().to_vec()))
}

/// Upstream response headers: plain ones, Access-Control-* in odd case, Vary in many forms.
fn upstream_headers() -> impl Strategy<Value = Headers> {
    let pair = prop_oneof![
        3 => prop::sample::select(vec![("content-type", "text/plain"), ("etag", "\"v1\""), ("x-internal", "1")]),
        3 => prop::sample::select(vec![
            ("access-control-allow-origin", "*"),
            ("Access-Control-Allow-Origin", "https://evil.test"),
            ("ACCESS-CONTROL-ALLOW-CREDENTIALS", "true"),
            ("access-control-allow-methods", "GET, PUT, DELETE"),
            ("access-control-expose-headers", "x-secret"),
            ("access-control-max-age", "99999"),
            ("Access-Control-Anything", "x"),
        ]),
        3 => prop::sample::select(vec![
            ("vary", "Accept-Encoding"),
            ("Vary", "origin"),
            ("vary", "ORIGIN, accept"),
            ("vary", "*"),
            ("vary", ""),
            ("vary", " , "),
            ("vary", "X-Origin"),
            ("vary", "Origin2"),
        ]),
    ];
    prop::collection::vec(pair.prop_map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())), 0..6)
}

// ============================================================ the properties

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// The checks every answer must pass, whatever the request.
fn universal(headers: &Headers) -> Result<(), String> {
    for name in cors_names(headers) {
        if values(headers, &name).len() > 1 {
            return Err(format!("{name} sent twice"));
        }
    }
    let star = values(headers, "access-control-allow-origin").contains(&&b"*"[..]);
    if star && !values(headers, "access-control-allow-credentials").is_empty() {
        return Err("Access-Control-Allow-Origin: * together with Access-Control-Allow-Credentials".into());
    }
    Ok(())
}

fn vary_names(headers: &Headers) -> Vec<Vec<u8>> {
    values(headers, "vary").iter().flat_map(|v| elements(v)).map(|e| e.to_ascii_lowercase()).collect()
}

fn varies_on_origin(headers: &Headers) -> bool {
    vary_names(headers).iter().any(|e| e == b"origin" || e == b"*")
}

fn check_preflight(model: &Model, policy: &Policy, origin: &[u8], method: &[u8], requested: Option<&[u8]>, pna: Option<&[u8]>) -> Result<(), String> {
    let req = Request {
        method: b"OPTIONS",
        origin: Some(origin),
        request_method: Some(method),
        request_headers: requested,
        request_private_network: pna,
    };
    let Decision::Preflight(reply) = policy.decide(&req) else {
        return Err("a preflight was forwarded".into());
    };
    let headers = reply_headers(&reply);
    universal(&headers)?;
    if !varies_on_origin(&headers) {
        return Err(format!("preflight answer without Vary: Origin: {headers:?}"));
    }

    // The reference decision: origin, then method, then headers.
    let public = model.public();
    let (strict_origin, loose_origin) = (public || model.allows(origin, true), public || model.allows(origin, false));
    let method_ok = model.method_allowed(method);
    let headers_ok = model.headers_allowed(requested.unwrap_or_default());
    let allowed = reply.status == 204;
    if allowed != (reply.rejected.is_none()) || !(allowed || reply.status == 403) {
        return Err(format!("status {} with rejection {:?}", reply.status, reply.rejected));
    }
    if allowed && !(loose_origin && method_ok && headers_ok) {
        return Err(format!("allowed a preflight the policy refuses (origin {loose_origin}, method {method_ok}, headers {headers_ok})"));
    }
    if !allowed && strict_origin && method_ok && headers_ok {
        return Err(format!("refused a preflight the policy allows ({:?})", reply.rejected));
    }
    match reply.rejected {
        Some(Rejection::Origin) if strict_origin => return Err("rejected for its origin, which is allowed".into()),
        Some(Rejection::Method) if !loose_origin || method_ok => return Err("rejected for its method, wrongly".into()),
        Some(Rejection::Header) if !loose_origin || !method_ok || headers_ok => return Err("rejected for a header, wrongly".into()),
        _ => {}
    }
    if !allowed {
        if !cors_names(&headers).is_empty() {
            return Err(format!("a refused preflight carries CORS headers: {headers:?}"));
        }
    } else {
        let acao = values(&headers, "access-control-allow-origin");
        let want: &[u8] = if public { b"*" } else { origin };
        if acao != [want] {
            return Err(format!("Access-Control-Allow-Origin {acao:?}, want {}", show(want)));
        }
        let acac = values(&headers, "access-control-allow-credentials");
        if acac != if model.credentials { vec![&b"true"[..]] } else { vec![] } {
            return Err(format!("Access-Control-Allow-Credentials {acac:?} with credentials {}", model.credentials));
        }
        let max_age = values(&headers, "access-control-max-age");
        if max_age != model.max_age.map(|a| a.to_string().into_bytes()).iter().map(|v| v.as_slice()).collect::<Vec<_>>() {
            return Err(format!("Access-Control-Max-Age {max_age:?}, configured {:?}", model.max_age));
        }
        let pna_asked = pna.is_some_and(|v| ows_trim(v).eq_ignore_ascii_case(b"true"));
        let pna_sent = !values(&headers, "access-control-allow-private-network").is_empty();
        if pna_sent != (pna_asked && model.private_network) {
            return Err(format!("Access-Control-Allow-Private-Network sent: {pna_sent}, asked {pna_asked}"));
        }
        let any_requested = !elements(requested.unwrap_or_default()).is_empty();
        if values(&headers, "access-control-allow-headers").is_empty() == any_requested {
            return Err("Access-Control-Allow-Headers must be sent exactly when headers were requested".into());
        }
    }

    // The browser's verdict, for requests a browser could make.
    let realistic_origin = origin == b"null" || parse_origin(origin, true).is_some();
    let names: Vec<&[u8]> = elements(requested.unwrap_or_default());
    if realistic_origin && is_token(method) && names.iter().all(|n| is_token(n)) {
        let headers_lower: Vec<Vec<u8>> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        for credentials in [false, true] {
            let browser = Browser { origin: origin.to_vec(), method: method.to_vec(), headers: headers_lower.clone(), credentials };
            let verdict = browser.accepts_preflight(reply.status, &headers);
            // A credentialed request is only allowed when the policy allows credentials.
            let should = allowed && (!credentials || model.credentials);
            if verdict.is_ok() != should {
                return Err(format!("browser ({}) says {verdict:?} of a {} answer", if credentials { "credentials" } else { "no credentials" }, reply.status));
            }
            if verdict.is_err() {
                continue;
            }
            // Browsers cache the answer for other requests from the same
            // origin: nothing it lets through may be outside the policy.
            for m in METHODS.iter().chain(&["TRACE", "PATCH"]) {
                for h in HEADERS.iter().chain(&["x-b", "cookie"]) {
                    let other = Browser { method: m.as_bytes().to_vec(), headers: vec![h.to_ascii_lowercase().into_bytes()], ..browser.clone() };
                    if other.accepts_preflight(reply.status, &headers).is_ok() && !(model.method_allowed(m.as_bytes()) && model.headers_allowed(h.as_bytes())) {
                        return Err(format!("the cached answer lets {m} with {h} through, which the policy refuses"));
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_forward(model: &Model, policy: &Policy, req: &Request<'_>, upstream: &Headers) -> Result<(), String> {
    let Decision::Forward(forward) = policy.decide(req) else {
        return Err("not a preflight, but answered".into());
    };
    let public = model.public();
    match (req.origin, forward) {
        (None, Forward::NoOrigin) if !public => {}
        (_, Forward::Allowed) if public => {}
        (Some(o), Forward::Allowed) if model.allows(o, false) => {}
        (Some(o), Forward::Denied) if !model.allows(o, true) => {}
        (o, f) => return Err(format!("{f:?} for origin {:?}", o.map(show))),
    }
    // The stamp carries the request's origin whatever the decision (report
    // mode does so): the decision alone says what the response gets.
    let mut map = HeaderMap(upstream.clone());
    policy.rewrite_response(Stamp { forward, origin: req.origin }, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), &mut map);
    let headers = map.0;
    universal(&headers)?;

    // Nothing of the upstream's CORS survives; everything else does.
    let plain = |h: &Headers| -> Headers {
        h.iter()
            .filter(|(n, _)| !n.to_ascii_lowercase().starts_with(b"access-control-") && !n.eq_ignore_ascii_case(b"vary"))
            .cloned()
            .collect()
    };
    if plain(&headers) != plain(upstream) {
        return Err("other response headers changed".into());
    }
    let cors = cors_names(&headers);
    let acao = values(&headers, "access-control-allow-origin");
    if forward == Forward::Allowed {
        let want: &[u8] = if public { b"*" } else { req.origin.unwrap_or_default() };
        if acao != [want] {
            return Err(format!("Access-Control-Allow-Origin {acao:?}, want {}", show(want)));
        }
        let mut expected = vec!["access-control-allow-origin".to_string()];
        if model.credentials {
            expected.push("access-control-allow-credentials".into());
        }
        if matches!(&model.expose, Names::Any) || matches!(&model.expose, Names::List(l) if !l.is_empty()) {
            expected.push("access-control-expose-headers".into());
        }
        let mut got = cors.clone();
        got.sort();
        expected.sort();
        if got != expected {
            return Err(format!("CORS headers {got:?}, want {expected:?}"));
        }
    } else if !cors.is_empty() {
        return Err(format!("CORS headers on a response for a refused or absent origin: {cors:?}"));
    }

    // Vary: Origin whenever the answer depends on the origin; merged, never duplicated.
    let before = vary_names(upstream);
    let after = vary_names(&headers);
    if public {
        if after != before {
            return Err("Vary changed under a public policy".into());
        }
    } else {
        if !varies_on_origin(&headers) {
            return Err(format!("no Vary: Origin under a policy that depends on the origin: {headers:?}"));
        }
        let covered = before.iter().any(|e| e == b"origin" || e == b"*");
        let mut want = before.clone();
        if !covered {
            want.push(b"origin".to_vec());
        }
        if after != want {
            return Err(format!("Vary {:?} from upstream {:?}", after.iter().map(|e| show(e)).collect::<Vec<_>>(), before));
        }
    }

    // The browser reads the response exactly when the policy allows the origin.
    if let Some(o) = req.origin {
        if o == b"null" || parse_origin(o, true).is_some() {
            for credentials in [false, true] {
                let browser = Browser { origin: o.to_vec(), method: b"GET".to_vec(), headers: vec![], credentials };
                let reads = browser.cors_check(&headers).is_ok();
                let should = model.allows(o, true) && (!credentials || model.credentials);
                if reads != should {
                    return Err(format!("browser (credentials {credentials}) can read: {reads}, policy allows: {should}"));
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(runner(512))]

    /// Valid policies load; invalid ones (CONTRACT.md section 1) are refused.
    #[test]
    fn policies_load_exactly_when_valid(model in model()) {
        let loaded = Policy::from_json(model.json().as_bytes());
        prop_assert_eq!(loaded.is_ok(), model.valid(), "{}: {:?}", model.json(), loaded.err().map(|e| e.to_string()));
    }

    /// The origin matcher agrees with the reference: never more than the
    /// policy allows, never less for a well-formed origin.
    #[test]
    fn origins_match_the_reference((model, origins) in valid_model().prop_flat_map(|m| { let o = prop::collection::vec(origin_for(&m), 16); (Just(m), o) })) {
        let policy = model.policy();
        for origin in &origins {
            let engine = policy.allows_origin(origin);
            prop_assert!(!engine || model.allows(origin, false), "allowed {} which {} does not allow", show(origin), model.json());
            prop_assert!(engine || !model.allows(origin, true), "refused {} which {} allows", show(origin), model.json());
        }
    }

    /// Preflights: the decision matches the reference, the answer is well
    /// formed, and a browser accepts it exactly when it was allowed.
    #[test]
    fn preflights_are_judged_like_a_browser((model, origin) in valid_model().prop_flat_map(|m| { let o = origin_for(&m); (Just(m), o) }),
                                           method in method(),
                                           requested in prop::option::of(requested_headers()),
                                           pna in private_network()) {
        let policy = model.policy();
        if let Err(e) = check_preflight(&model, &policy, &origin, &method, requested.as_deref(), pna.as_deref()) {
            prop_assert!(false, "{e}\npolicy {}\norigin {} method {} requested {:?}", model.json(), show(&origin), show(&method), requested.as_deref().map(show));
        }
    }

    /// Forwarded requests: the response carries exactly the CORS headers the
    /// policy grants, the upstream's are gone, and Vary keys on Origin.
    #[test]
    fn forwarded_responses_carry_the_right_headers((model, origin) in valid_model().prop_flat_map(|m| { let o = prop::option::of(origin_for(&m)); (Just(m), o) }),
                                                  req_method in prop::sample::select(vec!["GET", "POST", "OPTIONS", "PUT", "options"]),
                                                  request_method in prop::option::of(method()),
                                                  upstream in upstream_headers()) {
        let policy = model.policy();
        // An OPTIONS with Origin and Access-Control-Request-Method is a preflight: not this test's business.
        let request_method = if req_method == "OPTIONS" { None } else { request_method };
        let req = Request { method: req_method.as_bytes(), origin: origin.as_deref(), request_method: request_method.as_deref(), ..Request::default() };
        if let Err(e) = check_forward(&model, &policy, &req, &upstream) {
            prop_assert!(false, "{e}\npolicy {}\norigin {:?} upstream {upstream:?}", model.json(), origin.as_deref().map(show));
        }
    }

    /// Headers as a proxy hands them over (repeated, odd case): each field is
    /// the first value of its header.
    #[test]
    fn request_fields_are_the_first_values(headers in prop::collection::vec((
        prop::sample::select(vec!["Origin", "origin", "ORIGIN", ":method", ":METHOD", "Access-Control-Request-Method",
            "access-control-request-headers", "ACCESS-CONTROL-REQUEST-PRIVATE-NETWORK", "access-control-request-other", "x-origin", "host"]),
        prop::collection::vec(any::<u8>(), 0..12)), 0..12)) {
        let req = Request::from_headers(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())));
        let first = |pred: &dyn Fn(&str) -> bool| headers.iter().find(|(n, _)| pred(n)).map(|(_, v)| v.as_slice());
        prop_assert_eq!(req.origin, first(&|n| n.eq_ignore_ascii_case("origin")));
        prop_assert_eq!(req.request_method, first(&|n| n.eq_ignore_ascii_case("access-control-request-method")));
        prop_assert_eq!(req.request_headers, first(&|n| n.eq_ignore_ascii_case("access-control-request-headers")));
        prop_assert_eq!(req.request_private_network, first(&|n| n.eq_ignore_ascii_case("access-control-request-private-network")));
        prop_assert_eq!(req.method, first(&|n| n == ":method").unwrap_or_default());
    }

    /// Whatever the bytes, decisions and rewrites never panic and keep the
    /// universal rules (no duplicate CORS header, no `*` with credentials).
    #[test]
    fn arbitrary_bytes_never_break_a_decision(model in valid_model(),
                                              origin in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
                                              method in prop::collection::vec(any::<u8>(), 0..10),
                                              request_method in prop::option::of(prop::collection::vec(any::<u8>(), 0..10)),
                                              requested in prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
                                              pna in prop::option::of(prop::collection::vec(any::<u8>(), 0..6)),
                                              upstream in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..24), prop::collection::vec(any::<u8>(), 0..24)), 0..6)) {
        let policy = model.policy();
        let req = Request {
            method: &method,
            origin: origin.as_deref(),
            request_method: request_method.as_deref(),
            request_headers: requested.as_deref(),
            request_private_network: pna.as_deref(),
        };
        match policy.decide(&req) {
            Decision::Preflight(reply) => {
                prop_assert!(req.is_preflight());
                universal(&reply_headers(&reply)).map_err(TestCaseError::fail)?;
            }
            Decision::Forward(forward) => {
                let mut map = HeaderMap(upstream.clone());
                policy.rewrite_response(Stamp { forward, origin: req.origin }, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), &mut map);
                universal(&map.0).map_err(TestCaseError::fail)?;
                if forward == Forward::Allowed && !model.public() {
                    prop_assert!(req.origin.is_some_and(|o| model.allows(o, false)));
                }
            }
        }
        let _ = report::compare(&policy, &req, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    }

    /// Configuration parsing never panics, on bytes or on JSON built from the
    /// known keys (rules included).
    #[test]
    fn configuration_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128), json in json_value()) {
        let _ = Config::from_json(&bytes);
        let text = json.to_string();
        if let Ok(config) = Config::from_json(text.as_bytes()) {
            // Routing arbitrary targets stays in range.
            for (authority, path) in [(&b"a.tenant.test:8443"[..], &b"/api/x?y"[..]), (b"[::1]", b""), (b"\xff", b"\xff")] {
                let route = config.route(Some(authority), Some(path));
                prop_assert!(route.is_none_or(|i| i < config.rules.len()));
                let _ = config.rule_name(route);
            }
        }
    }

    /// Origin entries: never a panic; an exact entry is canonical (parsing
    /// it again gives itself) and matches itself.
    #[test]
    fn origin_entries_are_canonical(raw in prop_oneof![
        "(https?|HTTPS?|ftp|)(://)?[a-zA-Z0-9.:_*\\[\\]/@?#-]{0,40}",
        any::<String>(),
        (any::<bool>(), host(), port(), spelling()).prop_map(|(https, host, port, s)| Entry::Exact { https, host, port }.raw(s)),
    ]) {
        if let Ok(entry) = OriginEntry::parse(&raw) {
            if let OriginEntry::Exact(canonical) = &entry {
                prop_assert_eq!(OriginEntry::parse(canonical), Ok(entry.clone()));
                prop_assert!(OriginSet::new(std::slice::from_ref(&entry)).allows(canonical.as_bytes()));
                prop_assert!(parse_origin(canonical.as_bytes(), true).is_some(), "{} is not a browser origin", canonical);
            }
        }
    }

    /// The header-map wire format: never a panic on any buffer, and a round trip for real ones.
    #[test]
    fn wire_format_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..96),
                               pairs in prop::collection::vec(("[ -~]{0,12}", "[ -~]{0,12}"), 0..8)) {
        let _ = wire::pairs(&bytes).count();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let buf = wire::serialize_pairs(&refs);
        let back: Vec<(&[u8], &[u8])> = wire::pairs(&buf).collect();
        let want: Vec<(&[u8], &[u8])> = refs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
        prop_assert_eq!(back, want);
    }
}

/// JSON values built from the configuration's vocabulary, nested.
fn json_value() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "allow_origins", "AllowOrigins", "allow_methods", "allow_headers", "expose_headers", "max_age", "MaxAge",
        "allow_credentials", "allow_private_network", "allow_insecure_origins", "mode", "rules", "match", "hosts",
        "path_prefix", "name", "cors", "_x", "allow_orgins",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(-1), Just(86_400), Just(86_401), any::<i64>()].prop_map(Value::from),
        Just(Value::from(1.5)),
        prop::sample::select(vec![
            "*", "null", "https://*", "https://*.example.com", "https://a.example.com:8443", "http://localhost:3000",
            "http://[::1]", "https://*.com", "GET", "get", "x-token", "off", "report", "enforce", "/api/", "*.tenant.test",
            "a.example", "", "GET POST", "https://a.example/",
        ])
        .prop_map(Value::from),
        "[ -~]{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}
