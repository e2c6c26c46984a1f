//! Invariants of the engine as property tests: generated policies, generated
//! requests (arbitrary bytes in Origin, method and Access-Control-Request-*,
//! repeated headers, odd case and whitespace), generated upstream responses.
//!
//! The judges are written here, independently of the engine:
//! - a reference origin matcher (`Model::allows`), from the contract's
//!   description of each `allow_origins` form (exact, `:*` port wildcards,
//!   `*.` subdomains, scheme wildcards, `null`, app schemes such as
//!   `capacitor://localhost`, IPv6 in its WHATWG serialisation);
//! - a browser model (`Browser`), following the Fetch standard's CORS check
//!   and CORS-preflight fetch (status, allow-origin, allow-credentials,
//!   methods, header names, the `*` and `Authorization` rules);
//! - the configuration rules of CONTRACT.md section 1 (`Model::valid`,
//!   `Model::refusals`), keys given twice at any depth included.
//!
//! `PROPTEST_CASES=100000 cargo test --test properties` runs a long campaign
//! (`make fuzz-properties`); the default is a few seconds' worth.

// Generated tuples are easier to read inline than named.
#![allow(clippy::type_complexity)]

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::Config as RunnerConfig;
use serde_json::{json, Value};

use edge_cors::origin::{self, OriginEntry, OriginSet};
use edge_cors::rules::Ruleset;
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
    headers.iter().map(|(n, _)| String::from_utf8_lossy(n).to_ascii_lowercase()).filter(|n| n.starts_with("access-control-")).collect()
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

/// An IPv6 address as the WHATWG URL standard's IPv6 serializer writes it:
/// eight hex pieces without leading zeros, the first longest run of two or
/// more zero pieces written `::`, never a dotted quad.
fn whatwg(a: Ipv6Addr) -> String {
    let seg = a.segments();
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < seg.len() {
        let run = seg[i..].iter().take_while(|s| **s == 0).count();
        if run >= 2 && best.is_none_or(|(_, len)| run > len) {
            best = Some((i, run));
        }
        i += run.max(1);
    }
    let hex = |s: &[u16]| s.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":");
    match best {
        Some((start, len)) => format!("{}::{}", hex(&seg[..start]), hex(&seg[start + len..])),
        None => hex(&seg),
    }
}

/// All eight pieces, uncompressed.
fn long_ipv6(a: Ipv6Addr) -> String {
    a.segments().iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":")
}

/// How an IPv6 host is written in the configuration.
#[derive(Clone, Copy, Debug)]
enum V6Style {
    Whatwg,
    /// Rust's `Display`: IPv4-mapped addresses as `::ffff:127.0.0.1`.
    Rust,
    Long,
}

impl Host {
    /// As a browser serialises it.
    fn canonical(&self) -> String {
        match self {
            Host::Domain(d) => d.clone(),
            Host::V4(a) => a.to_string(),
            Host::V6(a) => format!("[{}]", whatwg(*a)),
        }
    }

    fn raw(&self, style: V6Style) -> String {
        match (self, style) {
            (Host::V6(a), V6Style::Rust) => format!("[{a}]"),
            (Host::V6(a), V6Style::Long) => format!("[{}]", long_ipv6(*a)),
            (h, _) => h.canonical(),
        }
    }

    fn is_loopback(&self) -> bool {
        match self {
            Host::Domain(d) => d == "localhost",
            Host::V4(a) => a.octets()[0] == 127,
            // IPv4-mapped 127.0.0.0/8 stays on the machine too.
            Host::V6(a) => *a == Ipv6Addr::LOCALHOST || a.to_ipv4_mapped().is_some_and(|v4| v4.octets()[0] == 127),
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

/// Exact origins only, besides http and https (extension pages, app WebViews).
const APP_SCHEMES: [&str; 6] = ["chrome-extension", "moz-extension", "safari-web-extension", "capacitor", "ionic", "tauri"];

/// One `allow_origins` entry, as meant.
#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Any,
    Null,
    AnyOf {
        https: bool,
    },
    Exact {
        https: bool,
        host: Host,
        port: Option<u16>,
    },
    /// `scheme://host:*`: any port, none included.
    ExactAnyPort {
        https: bool,
        host: Host,
    },
    Sub {
        https: bool,
        base: String,
        port: Option<u16>,
    },
    /// `scheme://*.base:*`.
    SubAnyPort {
        https: bool,
        base: String,
    },
    /// `chrome-extension://<id>`, `capacitor://localhost`...
    App {
        scheme: &'static str,
        host: String,
    },
    /// An entry the rules refuse, written as is.
    Bad(&'static str),
}

/// How the entry is written in the configuration (all equivalent spellings).
#[derive(Clone, Copy, Debug)]
struct Spelling {
    upper: bool,
    explicit_default_port: bool,
    ipv6: V6Style,
}

impl Entry {
    /// The port a browser would serialise: none for the scheme's default.
    fn port(&self) -> Option<u16> {
        match self {
            Entry::Exact { https, port, .. } | Entry::Sub { https, port, .. } => port.filter(|p| *p != default_port(*https)),
            _ => None,
        }
    }

    /// The entry as the engine shows it once loaded (None: refused).
    fn display(&self) -> Option<String> {
        let port = self.port().map(|p| format!(":{p}")).unwrap_or_default();
        Some(match self {
            Entry::Any => "*".into(),
            Entry::Null => "null".into(),
            Entry::AnyOf { https } => format!("{}://*", scheme(*https)),
            Entry::Exact { https, host, .. } => format!("{}://{}{port}", scheme(*https), host.canonical()),
            Entry::ExactAnyPort { https, host } => format!("{}://{}:*", scheme(*https), host.canonical()),
            Entry::Sub { https, base, .. } => format!("{}://*.{base}{port}", scheme(*https)),
            Entry::SubAnyPort { https, base } => format!("{}://*.{base}:*", scheme(*https)),
            Entry::App { scheme, host } => format!("{scheme}://{host}"),
            Entry::Bad(_) => return None,
        })
    }

    /// Equal keys are the same entry (duplicates are dropped on load).
    fn key(&self) -> String {
        match self {
            Entry::Bad(raw) => format!("refused {raw}"),
            e => e.display().unwrap_or_default(),
        }
    }

    /// Plain HTTP beyond loopback: refused with credentials unless allow_insecure_origins.
    fn insecure_http(&self) -> bool {
        match self {
            Entry::Exact { https: false, host, .. } | Entry::ExactAnyPort { https: false, host } => !host.is_loopback(),
            Entry::Sub { https: false, .. } | Entry::SubAnyPort { https: false, .. } | Entry::AnyOf { https: false } => true,
            _ => false,
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
            Entry::Exact { https, host, port: p } => format!("{}://{}{}", scheme(*https), host.raw(s.ipv6), port(*https, *p)),
            Entry::ExactAnyPort { https, host } => format!("{}://{}:*", scheme(*https), host.raw(s.ipv6)),
            Entry::Sub { https, base, port: p } => format!("{}://*.{base}{}", scheme(*https), port(*https, *p)),
            Entry::SubAnyPort { https, base } => format!("{}://*.{base}:*", scheme(*https)),
            Entry::App { scheme, host } => format!("{scheme}://{host}"),
            Entry::Bad(raw) => return raw.to_string(),
        };
        if s.upper {
            text.to_ascii_uppercase()
        } else {
            text
        }
    }

    /// What a browser at an origin this entry allows would send (`port`:
    /// the port, for the entries that allow any).
    fn example(&self, label: &str, port: Option<u16>) -> String {
        let any_port = |https: bool| port.filter(|p| *p != default_port(https)).map(|p| format!(":{p}")).unwrap_or_default();
        let fixed = self.port().map(|p| format!(":{p}")).unwrap_or_default();
        match self {
            Entry::Any => format!("https://{label}.anywhere.test"),
            Entry::Null => "null".into(),
            Entry::AnyOf { https } => format!("{}://{label}.some-site.test", scheme(*https)),
            Entry::Exact { https, host, .. } => format!("{}://{}{fixed}", scheme(*https), host.canonical()),
            Entry::ExactAnyPort { https, host } => format!("{}://{}{}", scheme(*https), host.canonical(), any_port(*https)),
            Entry::Sub { https, base, .. } => format!("{}://{label}.{base}{fixed}", scheme(*https)),
            Entry::SubAnyPort { https, base } => format!("{}://{label}.{base}{}", scheme(*https), any_port(*https)),
            Entry::App { scheme, host } => format!("{scheme}://{host}"),
            Entry::Bad(raw) => raw.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Names {
    Absent,
    Any,
    List(Vec<String>),
}

/// JSON as written: objects keep their order and may repeat a key.
#[derive(Clone, Debug)]
enum J {
    V(Value),
    A(Vec<J>),
    O(Vec<(String, J)>),
}

impl J {
    fn obj(pairs: Vec<(&str, J)>) -> J {
        J::O(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn text(&self) -> String {
        match self {
            J::V(v) => v.to_string(),
            J::A(items) => format!("[{}]", items.iter().map(J::text).collect::<Vec<_>>().join(",")),
            J::O(pairs) => format!(
                "{{{}}}",
                pairs.iter().map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v.text())).collect::<Vec<_>>().join(",")
            ),
        }
    }

    /// The path of every second (third...) occurrence of a key in one
    /// object, named the way configuration errors name fields.
    fn repeated(&self, path: &str, out: &mut Vec<String>) {
        match self {
            J::V(_) => {}
            J::A(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.repeated(&format!("{path}[{i}]"), out);
                }
            }
            J::O(pairs) => {
                let mut seen: Vec<&str> = Vec::new();
                for (k, v) in pairs {
                    let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    v.repeated(&here, out);
                    if seen.contains(&k.as_str()) {
                        out.push(here);
                    } else {
                        seen.push(k);
                    }
                }
            }
        }
    }
}

/// Which object of the document a key is repeated in.
#[derive(Clone, Copy, Debug)]
enum Place {
    Top,
    Rule(usize),
    Match(usize),
}

/// A key given twice in one object.
#[derive(Clone, Debug)]
enum Dup {
    /// One of the object's keys written again, with `second` (None: the same value).
    Repeat { at: Place, pick: usize, second: Option<Value>, at_end: bool },
    /// A key written in both its snake_case and AWS spellings (top level, or rules[1]).
    Spelling { rule: bool, pick: usize, front: bool },
}

/// The keys with an AWS `CorsConfiguration` spelling.
const AWS_KEYS: [(&str, &str); 6] = [
    ("allow_origins", "AllowOrigins"),
    ("allow_methods", "AllowMethods"),
    ("allow_headers", "AllowHeaders"),
    ("expose_headers", "ExposeHeaders"),
    ("max_age", "MaxAge"),
    ("allow_credentials", "AllowCredentials"),
];

/// The object at `at` (rules written), and the prefix naming its fields.
fn object_at(top: &mut Vec<(String, J)>, at: Place) -> (&mut Vec<(String, J)>, String) {
    match at {
        Place::Top => (top, String::new()),
        Place::Rule(i) | Place::Match(i) => {
            let rules = top.iter_mut().find_map(|(k, v)| match v {
                J::A(items) if k == "rules" => Some(items),
                _ => None,
            });
            let Some(J::O(rule)) = rules.and_then(|r| r.get_mut(i)) else {
                panic!("rules[{i}] is not written");
            };
            match at {
                Place::Match(_) => {
                    let m = rule.iter().position(|(k, _)| k == "match").unwrap_or_else(|| panic!("rules[{i}] has no match"));
                    let J::O(m) = &mut rule[m].1 else {
                        panic!("rules[{i}].match is not an object");
                    };
                    (m, format!("rules[{i}].match."))
                }
                _ => (rule, format!("rules[{i}].")),
            }
        }
    }
}

impl Dup {
    fn needs_rules(&self) -> bool {
        matches!(self, Dup::Repeat { at: Place::Rule(_) | Place::Match(_), .. } | Dup::Spelling { rule: true, .. })
    }

    /// Writes the repetition; returns the field the refusal must name and a
    /// piece of its problem.
    fn apply(&self, top: &mut Vec<(String, J)>) -> (String, String) {
        match self {
            Dup::Repeat { at, pick, second, at_end } => {
                let (obj, prefix) = object_at(top, *at);
                let i = pick % obj.len();
                let (k, v) = obj[i].clone();
                let v = second.clone().map_or(v, J::V);
                if *at_end {
                    obj.push((k.clone(), v));
                } else {
                    obj.insert(i + 1, (k.clone(), v));
                }
                (format!("{prefix}{k}"), "is given twice".into())
            }
            Dup::Spelling { rule, pick, front } => {
                let (obj, prefix) = object_at(top, if *rule { Place::Rule(1) } else { Place::Top });
                let present: Vec<(usize, &str, &str)> = obj
                    .iter()
                    .enumerate()
                    .filter_map(|(i, (k, _))| {
                        AWS_KEYS.iter().find(|(s, a)| k == s || k == a).map(|(s, a)| (i, *s, if k == s { *a } else { *s }))
                    })
                    .collect();
                let (i, snake, other) = present[pick % present.len()];
                let v = obj[i].1.clone();
                if *front {
                    obj.insert(0, (other.to_string(), v));
                } else {
                    obj.push((other.to_string(), v));
                }
                (format!("{prefix}{snake}"), "given twice (also as".into())
            }
        }
    }
}

/// Two rules, valid on their own: one `cors: off`, one with a policy.
fn rules_json() -> J {
    let s = |v: &str| J::V(Value::from(v));
    J::A(vec![
        J::obj(vec![("name", s("static")), ("match", J::obj(vec![("path_prefix", s("/static/"))])), ("cors", s("off"))]),
        J::obj(vec![
            ("name", s("api")),
            ("match", J::obj(vec![("hosts", J::V(json!(["api.example.com", "*.tenant.test"]))), ("path_prefix", s("/v1/"))])),
            ("allow_origins", J::V(json!(["https://app.example.com", "capacitor://localhost", "http://localhost:*"]))),
            ("allow_credentials", J::V(json!(true))),
            ("max_age", J::V(json!(600))),
        ]),
    ])
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
    /// `timing_allow_origin` as written (None: absent).
    timing: Option<Value>,
    /// `preflight_status` as written (None: absent).
    preflight_status: Option<Value>,
    /// Whether the document carries `rules` (valid ones, unless `dup` is in them).
    rules: bool,
    dup: Option<Dup>,
}

/// Fetch upper-cases these six methods, so the policy does too.
const FETCH_NORMALISED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
const PREFLIGHT_VARY_PNA: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

/// A serialised origin split into scheme, host and port.
struct Parsed<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

/// Parses an `Origin` value as browsers and app shells serialise it:
/// `scheme://host[:port]`, lower case, no default port, IPv6 in WHATWG form,
/// no trailing anything; labels may start or end with `-` (browsers send
/// such hosts). App schemes: `scheme://host`, labels of `[a-z0-9_-]`, no port.
fn parse_origin(o: &[u8]) -> Option<Parsed<'_>> {
    let s = std::str::from_utf8(o).ok()?;
    let (scheme, rest) = s.split_once("://")?;
    if APP_SCHEMES.contains(&scheme) {
        let ok = !rest.is_empty()
            && rest.len() <= 253
            && rest
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
        return ok.then_some(Parsed { scheme, host: rest, port: None });
    }
    let https = match scheme {
        "https" => true,
        "http" => false,
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
        inner.parse::<Ipv6Addr>().is_ok_and(|a| whatwg(a) == inner)
    } else if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        host.parse::<Ipv4Addr>().is_ok_and(|a| a.to_string() == host)
    } else {
        let label_ok = |l: &str| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        let last_numeric = host.rsplit('.').next().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
        !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok) && !last_numeric
    };
    host_ok.then_some(Parsed { scheme, host, port })
}

/// The 403 body naming a refused method or header (long names cut).
fn named_body(kind: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let shown = if name.len() > 64 { format!("{}...", &name[..64]) } else { name.to_string() };
    format!("CORS preflight rejected: {kind} \"{shown}\" not allowed\n")
}

impl Model {
    /// The entries after duplicates (and refused entries) are dropped.
    fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for (e, _) in &self.origins {
            if !matches!(e, Entry::Bad(_)) && !out.iter().any(|o| o.key() == e.key()) {
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

    fn timing_on(&self) -> bool {
        self.timing == Some(Value::Bool(true))
    }

    fn timing_valid(&self) -> bool {
        self.timing.as_ref().is_none_or(Value::is_boolean)
    }

    fn status_valid(&self) -> bool {
        self.preflight_status.as_ref().is_none_or(|v| matches!(v.as_u64(), Some(200 | 204)))
    }

    /// The status of an allowed preflight.
    fn preflight_status(&self) -> u32 {
        match self.preflight_status.as_ref().and_then(Value::as_u64) {
            Some(200) => 200,
            _ => 204,
        }
    }

    fn has_rules(&self) -> bool {
        self.rules || self.dup.as_ref().is_some_and(Dup::needs_rules)
    }

    /// CONTRACT.md section 1's refusals, for the kinds of policy generated here.
    fn valid(&self) -> bool {
        let has = |f: &dyn Fn(&Entry) -> bool| self.origins.iter().any(|(e, _)| f(e));
        let refused = [
            // `*` (or a scheme wildcard) with credentials
            self.credentials && has(&|e| matches!(e, Entry::Any | Entry::AnyOf { .. })),
            // `null` with credentials: any page can send it from a sandboxed iframe
            self.credentials && has(&|e| *e == Entry::Null),
            // plain-HTTP origins with credentials, unless loopback or insecure allowed
            self.credentials && !self.insecure && has(&Entry::insecure_http),
            // `*` mixed with other entries
            self.any() && self.entries().len() > 1,
            // expose_headers ["*"] with credentials
            self.credentials && self.expose == Names::Any,
            // entries no rule accepts (app schemes with a port or wildcard, two ports...)
            has(&|e| matches!(e, Entry::Bad(_))),
            !self.timing_valid(),
            !self.status_valid(),
            // a key given twice in one object, at any depth
            self.dup.is_some(),
        ];
        !refused.contains(&true)
    }

    /// Errors the engine must report when refusing: (field, piece of the problem).
    fn refusals(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.document().1.into_iter().collect();
        // Both spellings of a key at the top level: which one names the origins is not the point.
        if matches!(self.dup, Some(Dup::Spelling { rule: false, .. })) {
            return out;
        }
        let key = if self.aws { "AllowOrigins" } else { "allow_origins" };
        for (i, (e, _)) in self.origins.iter().enumerate() {
            let problem = match e {
                Entry::Bad(_) => "",
                Entry::Null if self.credentials => "null origin",
                Entry::Any | Entry::AnyOf { .. } if self.credentials => "every origin",
                e if self.credentials && !self.insecure && e.insecure_http() => "plain-HTTP",
                _ => continue,
            };
            out.push((format!("{key}[{i}]"), problem.into()));
        }
        if !self.timing_valid() {
            out.push(("timing_allow_origin".into(), "true or false".into()));
        }
        if !self.status_valid() {
            out.push(("preflight_status".into(), "204 or 200".into()));
        }
        out
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

    /// The reference matcher.
    fn allows(&self, origin: &[u8]) -> bool {
        if self.any() {
            return true;
        }
        if origin == b"null" {
            return self.origins.iter().any(|(e, _)| *e == Entry::Null);
        }
        let Some(p) = parse_origin(origin) else {
            return false;
        };
        let subdomain = |base: &str| !p.host.starts_with('[') && p.host.len() > base.len() + 1 && p.host.ends_with(&format!(".{base}"));
        self.entries().iter().any(|e| match e {
            Entry::Exact { https, host, .. } => p.scheme == scheme(*https) && p.host == host.canonical() && p.port == e.port(),
            Entry::ExactAnyPort { https, host } => p.scheme == scheme(*https) && p.host == host.canonical(),
            Entry::Sub { https, base, .. } => p.scheme == scheme(*https) && p.port == e.port() && subdomain(base),
            Entry::SubAnyPort { https, base } => p.scheme == scheme(*https) && subdomain(base),
            Entry::AnyOf { https } => p.scheme == scheme(*https),
            Entry::App { scheme, host } => p.scheme == *scheme && p.host == host && p.port.is_none(),
            Entry::Any | Entry::Null | Entry::Bad(_) => false,
        })
    }

    fn method_allowed(&self, m: &[u8]) -> bool {
        is_token(m)
            && match self.methods() {
                None => true,
                Some(l) => l.iter().any(|x| x.as_bytes() == m) || SAFELISTED_METHODS.iter().any(|x| x.as_bytes() == m),
            }
    }

    /// The first requested header the policy refuses, in request order:
    /// Some(None) for an element that is not a token.
    fn refused_header<'r>(&self, requested: &'r [u8]) -> Option<Option<&'r [u8]>> {
        let allowed = self.headers();
        for h in elements(requested) {
            if !is_token(h) {
                return Some(None);
            }
            if allowed.as_ref().is_some_and(|l| !l.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(h))) {
                return Some(Some(h));
            }
        }
        None
    }

    fn headers_allowed(&self, requested: &[u8]) -> bool {
        self.refused_header(requested).is_none()
    }

    /// The configuration text, and the refusal a repeated key must cause.
    fn document(&self) -> (String, Option<(String, String)>) {
        let key = |snake: &str, aws: &str| if self.aws { aws.to_string() } else { snake.to_string() };
        let list = |n: &Names| match n {
            Names::Any => Some(J::V(Value::from(vec!["*"]))),
            Names::List(l) => Some(J::V(Value::from(l.clone()))),
            Names::Absent => None,
        };
        let mut m: Vec<(String, J)> = Vec::new();
        let origins: Vec<String> = self.origins.iter().map(|(e, s)| e.raw(*s)).collect();
        m.push((key("allow_origins", "AllowOrigins"), J::V(Value::from(origins))));
        if let Some(v) = list(&self.methods) {
            m.push((key("allow_methods", "AllowMethods"), v));
        }
        if let Some(v) = list(&self.headers) {
            m.push((key("allow_headers", "AllowHeaders"), v));
        }
        if let Some(v) = list(&self.expose) {
            m.push((key("expose_headers", "ExposeHeaders"), v));
        }
        if let Some(a) = self.max_age {
            m.push((key("max_age", "MaxAge"), J::V(Value::from(a))));
        }
        m.push((key("allow_credentials", "AllowCredentials"), J::V(Value::from(self.credentials))));
        m.push(("allow_private_network".into(), J::V(Value::from(self.private_network))));
        if self.insecure {
            m.push(("allow_insecure_origins".into(), J::V(Value::from(true))));
        }
        if self.gateway_key {
            m.push(("_match_route_".into(), J::V(Value::from(vec!["injected"]))));
        }
        if let Some(t) = &self.timing {
            m.push(("timing_allow_origin".into(), J::V(t.clone())));
        }
        if let Some(s) = &self.preflight_status {
            m.push(("preflight_status".into(), J::V(s.clone())));
        }
        if self.has_rules() {
            m.push(("rules".into(), rules_json()));
        }
        let expected = self.dup.as_ref().map(|d| d.apply(&mut m));
        (J::O(m).text(), expected)
    }

    fn json(&self) -> String {
        self.document().0
    }

    fn policy(&self) -> Policy {
        Policy::from_json(self.json().as_bytes()).unwrap_or_else(|e| panic!("valid policy refused: {e}\n{}", self.json()))
    }
}

// ============================================================ generators

const LABELS: &[&str] = &["a", "b", "app", "api", "x-y", "s_1", "1a", "example", "test", "corp", "xn--bcher-kva"];
/// Labels a browser may send in a request's host (never configured).
const REQUEST_LABELS: &[&str] = &["-a", "b-", "-", "--x--", "a-", "_"];
const METHODS: &[&str] =
    &["GET", "POST", "PUT", "DELETE", "PATCH", "patch", "get", "put", "Delete", "X-CUSTOM", "OPTIONS", "HEAD", "PROPFIND"];
const HEADERS: &[&str] = &["content-type", "authorization", "x-a", "X-Token", "x-request-id", "accept", "X-A"];
const EXPOSE: &[&str] = &["etag", "x-request-id", "X-Total"];
const APP_HOSTS: &[&str] =
    &["localhost", "abcdefghijklmnopabcdefghijklmnop", "0a1b2c3d-4e5f-6789-abcd-ef0123456789", "my_app.local", "-x-"];
/// Entries the rules refuse: app schemes with a port, path or wildcard, port
/// wildcards outside http(s) or beside another port.
const BAD_ENTRIES: &[&str] = &[
    "capacitor://localhost:8080",
    "capacitor://localhost:*",
    "chrome-extension://*",
    "moz-extension://*.abc",
    "tauri://",
    "ionic://localhost/",
    "safari-web-extension://a b",
    "https://a.example.com:8443:*",
    "http://localhost:*:*",
    "https://*.example.com:*x",
    "https://*:*",
    "ftp://a.example:*",
    "https://a*.example.com:*",
    // A default port beside `:*` is two ports too (found by this test).
    "https://a.example.com:443:*",
    "http://*.example.com:80:*",
];

fn domain(labels: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(LABELS), labels).prop_map(|v| v.join("."))
}

/// Subdomain labels of a request: configured-style ones and hyphen-edged ones.
fn request_domain(labels: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    let label = prop_oneof![3 => prop::sample::select(LABELS), 1 => prop::sample::select(REQUEST_LABELS)];
    prop::collection::vec(label, labels).prop_map(|v| v.join("."))
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        5 => domain(2..=3).prop_map(Host::Domain),
        1 => Just(Host::Domain("localhost".into())),
        1 => prop::sample::select(vec![[127, 0, 0, 1], [127, 9, 9, 9], [10, 0, 0, 1], [192, 168, 1, 20]]).prop_map(|o| Host::V4(o.into())),
        2 => prop::sample::select(vec![
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, 2),
            Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped(),
            Ipv4Addr::new(192, 168, 1, 20).to_ipv6_mapped(),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1),
            Ipv6Addr::new(1, 0, 0, 2, 0, 0, 0, 3),
        ])
        .prop_map(Host::V6),
    ]
}

fn port() -> impl Strategy<Value = Option<u16>> {
    prop::sample::select(vec![None, None, None, Some(443), Some(80), Some(8443), Some(3000), Some(1), Some(65535)])
}

fn app_entry() -> impl Strategy<Value = Entry> {
    (prop::sample::select(APP_SCHEMES.to_vec()), prop::sample::select(APP_HOSTS))
        .prop_map(|(scheme, host)| Entry::App { scheme, host: host.to_string() })
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        1 => Just(Entry::Any),
        1 => Just(Entry::Null),
        1 => any::<bool>().prop_map(|https| Entry::AnyOf { https }),
        8 => (any::<bool>(), host(), port()).prop_map(|(https, host, port)| Entry::Exact { https, host, port }),
        2 => (any::<bool>(), host()).prop_map(|(https, host)| Entry::ExactAnyPort { https, host }),
        5 => (any::<bool>(), domain(2..=2), port()).prop_map(|(https, base, port)| Entry::Sub { https, base, port }),
        2 => (any::<bool>(), domain(2..=2)).prop_map(|(https, base)| Entry::SubAnyPort { https, base }),
        2 => app_entry(),
        1 => prop::sample::select(BAD_ENTRIES).prop_map(Entry::Bad),
    ]
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (prop::bool::weighted(0.2), prop::bool::weighted(0.2), prop::sample::select(vec![V6Style::Whatwg, V6Style::Rust, V6Style::Long]))
        .prop_map(|(upper, explicit_default_port, ipv6)| Spelling { upper, explicit_default_port, ipv6 })
}

fn names(pool: &'static [&'static str]) -> impl Strategy<Value = Names> {
    prop_oneof![
        1 => Just(Names::Absent),
        1 => Just(Names::Any),
        4 => prop::sample::subsequence(pool, 0..=pool.len().min(5))
            .prop_map(|l| Names::List(l.into_iter().map(String::from).collect())),
    ]
}

fn timing() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(None),
        2 => Just(Some(Value::Bool(true))),
        1 => Just(Some(Value::Bool(false))),
        1 => prop::sample::select(vec![json!("yes"), json!("true"), json!(1), Value::Null]).prop_map(Some),
    ]
}

fn preflight_status() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(json!(204))),
        2 => Just(Some(json!(200))),
        1 => prop::sample::select(vec![json!(201), json!(0), json!(404), json!("200"), json!(-1), json!(true)]).prop_map(Some),
    ]
}

fn dup() -> impl Strategy<Value = Option<Dup>> {
    let place = prop_oneof![Just(Place::Top), (0..2usize).prop_map(Place::Rule), (0..2usize).prop_map(Place::Match)];
    let second =
        prop::option::of(prop::sample::select(vec![json!(false), json!(true), json!(0), json!("*"), json!(["*"]), Value::Null, json!({})]));
    prop_oneof![
        16 => Just(None),
        2 => (place, any::<usize>(), second, any::<bool>()).prop_map(|(at, pick, second, at_end)| Some(Dup::Repeat { at, pick, second, at_end })),
        1 => (any::<bool>(), any::<usize>(), any::<bool>()).prop_map(|(rule, pick, front)| Some(Dup::Spelling { rule, pick, front })),
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
        (timing(), preflight_status(), prop::bool::weighted(0.3), dup()),
    )
        .prop_map(
            |(
                origins,
                methods,
                headers,
                expose,
                max_age,
                (credentials, private_network, insecure, aws, gateway_key),
                (timing, preflight_status, rules, dup),
            )| {
                Model {
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
                    timing,
                    preflight_status,
                    rules,
                    dup,
                }
            },
        )
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
    /// An IPv6 host as Rust prints it (`::ffff:127.0.0.1` for a mapped address).
    V6Rust,
    /// An IPv6 host with all eight pieces.
    V6Long,
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
        1 => Just(Mangle::V6Rust),
        1 => Just(Mangle::V6Long),
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
        Mangle::V6Rust | Mangle::V6Long => {
            let (Some(open), Some(close)) = (origin.find('['), origin.find(']')) else {
                return origin.into();
            };
            match origin.get(open + 1..close).and_then(|inner| inner.parse::<Ipv6Addr>().ok()) {
                Some(ip) => {
                    let text = if matches!(m, Mangle::V6Rust) { ip.to_string() } else { long_ipv6(ip) };
                    format!("{}[{text}]{}", &origin[..open], &origin[close + 1..]).into()
                }
                None => origin.into(),
            }
        }
    }
}

/// Origins for requests against `model`: mostly derived from its entries
/// (matching or nearly), some arbitrary.
fn origin_for(model: &Model) -> BoxedStrategy<Vec<u8>> {
    let entries: Vec<Entry> = model.origins.iter().map(|(e, _)| e.clone()).collect();
    prop_oneof![
        8 => (prop::sample::select(entries), request_domain(1..=2), port(), mangle()).prop_map(|(e, label, p, m)| apply(&e.example(&label, p), m)),
        1 => (host(), any::<bool>(), port(), mangle()).prop_map(|(h, https, p, m)| {
            apply(&format!("{}://{}{}", scheme(https), h.canonical(), p.map(|p| format!(":{p}")).unwrap_or_default()), m)
        }),
        1 => (app_entry(), mangle()).prop_map(|(e, m)| apply(&e.example("", None), m)),
        1 => prop::collection::vec(any::<u8>(), 0..48),
        1 => "(https?|HTTPS?|ftp|capacitor|chrome-extension|)(://)?[a-zA-Z0-9.:_*\\[\\]-]{0,40}".prop_map(String::into_bytes),
        1 => prop::sample::select(vec!["null", "", "*", "NULL", " null", "null "]).prop_map(|s| s.as_bytes().to_vec()),
    ]
    .boxed()
}

/// Methods for preflights against `model`: half of them ones it allows, so
/// that the header checks behind the method check are reached often.
fn method_for(model: &Model) -> BoxedStrategy<Vec<u8>> {
    let allowed: Vec<String> = model.methods().unwrap_or_else(|| METHODS.iter().map(|m| m.to_string()).collect());
    prop_oneof![
        1 => method(),
        1 => prop::sample::select(allowed).prop_map(String::into_bytes),
    ]
    .boxed()
}

fn method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(METHODS).prop_map(|m| m.as_bytes().to_vec()),
        1 => prop::sample::select(vec!["TRACE", "CONNECT", "*", " GET", "GET ", "GET,PUT", ""]).prop_map(|m| m.as_bytes().to_vec()),
        1 => "[A-Za-z-]{1,8}".prop_map(String::into_bytes),
        // Around the 64 bytes a 403 body repeats in full.
        1 => "[A-Z]{62,70}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

/// An Access-Control-Request-Headers value: names in odd case, with odd
/// separators and whitespace, or junk.
fn requested_headers() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        4 => prop::sample::select(HEADERS).prop_map(String::from),
        1 => prop::sample::select(vec!["x-b", "Authorization", "cookie", "x y", "é", "*", "x:y"]).prop_map(String::from),
        1 => "x-[a-z]{60,68}",
    ];
    let names = prop::collection::vec((name, any::<bool>(), prop::sample::select(vec![",", ", ", " , ", ",\t", ",,", " ,, "])), 0..6);
    prop_oneof![
        6 => (names, prop::sample::select(vec!["", " ", "\t", ","]), prop::sample::select(vec!["", " ", "\t ", ", "])).prop_map(|(names, lead, trail)| {
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
        // A refused name before a malformed one: the 403 names the first failing element.
        2 => prop::sample::select(vec!["x-b, x y", "x-unlisted,\u{e9}", "content-type, x-b, x:y", "x y, x-b", "X-B ,, (x)"]).prop_map(|s| s.as_bytes().to_vec()),
        1 => (prop::sample::select(HEADERS), 100..3000usize).prop_map(|(h, n)| vec![h; n].join(",").into_bytes()),
    ]
}

fn private_network() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::sample::select(vec!["true", "TRUE", " true ", "false", "", "1"]).prop_map(|s| s.as_bytes().to_vec()))
}

/// Upstream response headers: plain ones, Access-Control-* in odd case, Vary in many forms.
fn upstream_headers() -> impl Strategy<Value = Headers> {
    let pair = prop_oneof![
        3 => prop::sample::select(vec![("content-type", "text/plain"), ("etag", "\"v1\""), ("x-internal", "1"),
            ("timing-allow-origin", "*"), ("Timing-Allow-Origin", "https://evil.test")]),
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
            ("vary", "Accept,"),
            ("vary", ", Accept,, ,Accept-Language ,"),
            ("Vary", "accept,accept-language"),
        ]),
    ];
    prop::collection::vec(pair.prop_map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())), 0..6)
}

// ============================================================ the properties

fn show(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

fn shows(v: &[&[u8]]) -> Vec<String> {
    v.iter().map(|b| show(b)).collect()
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

fn check_preflight(
    model: &Model,
    policy: &Policy,
    origin: &[u8],
    method: &[u8],
    requested: Option<&[u8]>,
    pna: Option<&[u8]>,
) -> Result<(), String> {
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
    // Allowed or not, the answer varies on exactly the request headers it depends on.
    let want_vary = if model.private_network { PREFLIGHT_VARY_PNA } else { PREFLIGHT_VARY };
    let vary = values(&headers, "vary");
    if vary != [want_vary.as_bytes()] {
        return Err(format!("preflight Vary {:?}, want {want_vary:?}", shows(&vary)));
    }

    // The reference decision: origin, then method, then headers.
    let public = model.public();
    let origin_ok = public || model.allows(origin);
    let method_ok = model.method_allowed(method);
    let refused_header = model.refused_header(requested.unwrap_or_default());
    let headers_ok = refused_header.is_none();
    let want = if !origin_ok {
        Some(Rejection::Origin)
    } else if !method_ok {
        Some(Rejection::Method)
    } else if !headers_ok {
        Some(Rejection::Header)
    } else {
        None
    };
    let allowed = reply.rejected.is_none();
    if allowed && want.is_some() {
        return Err(format!("allowed a preflight the policy refuses (origin {origin_ok}, method {method_ok}, headers {headers_ok})"));
    }
    if !allowed && want.is_none() {
        return Err(format!("refused a preflight the policy allows ({:?})", reply.rejected));
    }
    if reply.rejected != want {
        return Err(format!("rejected for its {:?}, but the first part the policy refuses is {want:?}", reply.rejected));
    }
    let want_status = if allowed { model.preflight_status() } else { 403 };
    if reply.status != want_status {
        return Err(format!("status {} with rejection {:?}, want {want_status}", reply.status, reply.rejected));
    }
    // The 403 body names the part refused and the first method or header refused.
    let (want_body, want_detail): (String, Option<&[u8]>) = match want {
        None => (String::new(), None),
        Some(Rejection::Origin) => ("CORS preflight rejected: origin not allowed\n".into(), None),
        Some(Rejection::Method) if is_token(method) => (named_body("method", method), Some(method)),
        Some(Rejection::Method) => ("CORS preflight rejected: method is not a valid token\n".into(), None),
        Some(Rejection::Header) => match refused_header.flatten() {
            Some(name) => (named_body("header", name), Some(name)),
            None => ("CORS preflight rejected: header list is malformed\n".into(), None),
        },
    };
    if *reply.body != *want_body {
        return Err(format!("body {:?}, want {want_body:?}", reply.body.chars().take(200).collect::<String>()));
    }
    if reply.detail.map(str::as_bytes) != want_detail {
        return Err(format!("detail {:?}, want {:?}", reply.detail, want_detail.map(show)));
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
        let names = elements(requested.unwrap_or_default());
        let acah = values(&headers, "access-control-allow-headers");
        if acah.is_empty() == !names.is_empty() {
            return Err("Access-Control-Allow-Headers must be sent exactly when headers were requested".into());
        }
        // Under `*` the request's list is echoed, normalised.
        let echoed = names.join(&b", "[..]);
        if model.headers == Names::Any && !names.is_empty() && acah != [echoed.as_slice()] {
            return Err(format!("Access-Control-Allow-Headers {:?}, want {}", shows(&acah), show(&echoed)));
        }
    }

    // The browser's verdict, for requests a browser could make.
    let realistic_origin = origin == b"null" || parse_origin(origin).is_some();
    let names: Vec<&[u8]> = elements(requested.unwrap_or_default());
    if realistic_origin && is_token(method) && names.iter().all(|n| is_token(n)) {
        let headers_lower: Vec<Vec<u8>> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        for credentials in [false, true] {
            let browser = Browser { origin: origin.to_vec(), method: method.to_vec(), headers: headers_lower.clone(), credentials };
            let verdict = browser.accepts_preflight(reply.status, &headers);
            // A credentialed request is only allowed when the policy allows credentials.
            let should = allowed && (!credentials || model.credentials);
            if verdict.is_ok() != should {
                return Err(format!(
                    "browser ({}) says {verdict:?} of a {} answer",
                    if credentials { "credentials" } else { "no credentials" },
                    reply.status
                ));
            }
            if verdict.is_err() {
                continue;
            }
            // Browsers cache the answer for other requests from the same
            // origin: nothing it lets through may be outside the policy.
            for m in METHODS.iter().chain(&["TRACE", "PATCH"]) {
                for h in HEADERS.iter().chain(&["x-b", "cookie"]) {
                    let other =
                        Browser { method: m.as_bytes().to_vec(), headers: vec![h.to_ascii_lowercase().into_bytes()], ..browser.clone() };
                    if other.accepts_preflight(reply.status, &headers).is_ok()
                        && !(model.method_allowed(m.as_bytes()) && model.headers_allowed(h.as_bytes()))
                    {
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
        (Some(o), Forward::Allowed) if model.allows(o) => {}
        (Some(o), Forward::Denied) if !model.allows(o) => {}
        (o, f) => return Err(format!("{f:?} for origin {:?}", o.map(show))),
    }
    // The stamp carries the request's origin whatever the decision (report
    // mode does so): the decision alone says what the response gets.
    let mut map = HeaderMap(upstream.clone());
    policy.rewrite_response(Stamp { forward, origin: req.origin }, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), &mut map);
    let headers = map.0;
    universal(&headers)?;

    // Nothing of the upstream's CORS survives (nor its Timing-Allow-Origin
    // when the policy sets that); everything else does.
    let timing = model.timing_on();
    let plain = |h: &Headers| -> Headers {
        h.iter()
            .filter(|(n, _)| !n.to_ascii_lowercase().starts_with(b"access-control-") && !n.eq_ignore_ascii_case(b"vary"))
            .filter(|(n, _)| !(timing && n.eq_ignore_ascii_case(b"timing-allow-origin")))
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
    // timing_allow_origin: the allowed responses, and only they, carry
    // Timing-Allow-Origin with Access-Control-Allow-Origin's value.
    if timing {
        let tao = values(&headers, "timing-allow-origin");
        let want = if forward == Forward::Allowed { acao.clone() } else { vec![] };
        if tao != want {
            return Err(format!("Timing-Allow-Origin {:?}, want {:?}", shows(&tao), shows(&want)));
        }
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
        // Merged into one clean list (no empty members); left alone when it already covers Origin.
        let got = values(&headers, "vary");
        if covered {
            if got != values(upstream, "vary") {
                return Err(format!("Vary {:?} rewritten though it covered Origin", shows(&got)));
            }
        } else {
            let mut merged: Vec<&[u8]> = values(upstream, "vary").into_iter().flat_map(elements).collect();
            merged.push(b"Origin");
            let merged = merged.join(&b", "[..]);
            if got != [merged.as_slice()] {
                return Err(format!("Vary {:?}, want {}", shows(&got), show(&merged)));
            }
        }
    }

    // The browser reads the response exactly when the policy allows the origin.
    if let Some(o) = req.origin {
        if o == b"null" || parse_origin(o).is_some() {
            for credentials in [false, true] {
                let browser = Browser { origin: o.to_vec(), method: b"GET".to_vec(), headers: vec![], credentials };
                let reads = browser.cors_check(&headers).is_ok();
                let should = model.allows(o) && (!credentials || model.credentials);
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

    /// Valid policies load; invalid ones (CONTRACT.md section 1) are refused,
    /// each refusal naming its field (a key given twice: the path of the
    /// second occurrence).
    #[test]
    fn policies_load_exactly_when_valid(model in model()) {
        let json = model.json();
        let loaded = Policy::from_json(json.as_bytes());
        prop_assert_eq!(loaded.is_ok(), model.valid(), "{}: {:?}", json, loaded.as_ref().err().map(|e| e.to_string()));
        if let Err(errs) = &loaded {
            for (field, problem) in model.refusals() {
                prop_assert!(errs.0.iter().any(|e| e.field == field && e.problem.contains(&problem)),
                    "{}: no error at {} saying {:?} in {}", json, field, problem, errs);
            }
        }
    }

    /// The origin matcher agrees with the reference, and so does the
    /// engine's own test of what a browser may send.
    #[test]
    fn origins_match_the_reference((model, origins) in valid_model().prop_flat_map(|m| { let o = prop::collection::vec(origin_for(&m), 16); (Just(m), o) })) {
        let policy = model.policy();
        for origin in &origins {
            let engine = policy.allows_origin(origin);
            prop_assert!(!engine || model.allows(origin), "allowed {} which {} does not allow", show(origin), model.json());
            prop_assert!(engine || !model.allows(origin), "refused {} which {} allows", show(origin), model.json());
            if let Ok(text) = std::str::from_utf8(origin) {
                let browser = origin == b"null" || parse_origin(origin).is_some();
                prop_assert_eq!(origin::is_request_origin(text), browser, "is_request_origin({})", show(origin));
            }
        }
    }

    /// Preflights: the decision matches the reference, the answer is well
    /// formed, and a browser accepts it exactly when it was allowed.
    #[test]
    fn preflights_are_judged_like_a_browser((model, origin, method) in valid_model().prop_flat_map(|m| { let o = origin_for(&m); let k = method_for(&m); (Just(m), o, k) }),
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
                prop_assert!(reply.body.len() <= 128, "a {}-byte 403 body", reply.body.len());
            }
            Decision::Forward(forward) => {
                let mut map = HeaderMap(upstream.clone());
                policy.rewrite_response(Stamp { forward, origin: req.origin }, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), &mut map);
                universal(&map.0).map_err(TestCaseError::fail)?;
                if forward == Forward::Allowed && !model.public() {
                    prop_assert!(req.origin.is_some_and(|o| model.allows(o)));
                }
                if forward == Forward::Denied {
                    prop_assert!(req.origin.is_some_and(|o| !model.allows(o)));
                }
                if model.timing_on() {
                    let tao = values(&map.0, "timing-allow-origin");
                    let acao = values(&map.0, "access-control-allow-origin");
                    prop_assert_eq!(tao, acao);
                }
            }
        }
        let _ = report::compare(&policy, &req, upstream.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
    }

    /// Configuration parsing never panics, on bytes or on JSON built from the
    /// known keys (rules included); a key given twice in any object, at any
    /// depth, is refused at the path of its second occurrence.
    #[test]
    fn configuration_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128), json in json_value()) {
        let _ = Ruleset::from_json(&bytes);
        let text = json.text();
        let mut repeated = Vec::new();
        json.repeated("", &mut repeated);
        match Ruleset::from_json(text.as_bytes()) {
            Ok(config) => {
                prop_assert!(repeated.is_empty(), "{} loaded with keys given twice at {:?}", text, repeated);
                // Routing arbitrary targets stays in range.
                for (authority, path) in [(&b"a.tenant.test:8443"[..], &b"/api/x?y"[..]), (b"[::1]", b""), (b"\xff", b"\xff")] {
                    let route = config.route(Some(authority), Some(path), None);
                    prop_assert!(route.is_none_or(|i| i < config.rules.len()));
                    let _ = config.rule_name(route);
                }
            }
            Err(errs) => {
                for path in &repeated {
                    prop_assert!(errs.0.iter().any(|e| e.field == *path && e.problem.contains("is given twice")),
                        "{}: no \"is given twice\" at {} in {}", text, path, errs);
                }
            }
        }
    }

    /// Origin entries: never a panic; an entry loads exactly when the model
    /// says so, in the canonical form the model expects (IPv6 in WHATWG
    /// form), and shows as text that parses back to itself; an exact entry
    /// matches itself (and a port wildcard any port).
    #[test]
    fn origin_entries_are_canonical((raw, meant) in prop_oneof![
        "(https?|HTTPS?|ftp|capacitor|chrome-extension|)(://)?[a-zA-Z0-9.:_*\\[\\]/@?#-]{0,40}".prop_map(|r| (r, None)),
        any::<String>().prop_map(|r| (r, None)),
        (entry(), spelling()).prop_map(|(e, s)| (e.raw(s), Some(e))),
    ]) {
        let parsed = OriginEntry::parse(&raw);
        if let Some(e) = &meant {
            prop_assert_eq!(parsed.as_ref().ok().map(|p| p.to_string()), e.display(), "{} ({:?})", raw, e);
        }
        if let Ok(entry) = parsed {
            prop_assert_eq!(OriginEntry::parse(&entry.to_string()), Ok(entry.clone()), "{}", raw);
            let set = OriginSet::new(std::slice::from_ref(&entry));
            match &entry {
                OriginEntry::Exact(canonical) => {
                    prop_assert_eq!(OriginEntry::parse(canonical), Ok(entry.clone()));
                    prop_assert!(set.allows(canonical.as_bytes()));
                    prop_assert!(parse_origin(canonical.as_bytes()).is_some(), "{} is not a browser origin", canonical);
                }
                OriginEntry::ExactAnyPort(canonical) => {
                    prop_assert!(parse_origin(canonical.as_bytes()).is_some(), "{} is not a browser origin", canonical);
                    prop_assert!(set.allows(canonical.as_bytes()) && set.allows(format!("{canonical}:8444").as_bytes()), "{}", canonical);
                }
                _ => {}
            }
        }
    }

    /// IPv6 hosts: the WHATWG serialisation, whichever way the entry writes
    /// the address; a request matches only in that form.
    #[test]
    fn ipv6_origins_are_compared_in_whatwg_form(segments in prop_oneof![
        prop::array::uniform8(prop_oneof![3 => Just(0u16), 1 => Just(1u16), 1 => any::<u16>()]),
        any::<u32>().prop_map(|v| Ipv4Addr::from(v).to_ipv6_mapped().segments()),
    ], https in any::<bool>()) {
        let a = Ipv6Addr::from(segments);
        prop_assert_eq!(origin::whatwg_ipv6(a), whatwg(a));
        let canonical = format!("{}://[{}]", scheme(https), whatwg(a));
        for text in [a.to_string(), long_ipv6(a), whatwg(a).to_ascii_uppercase()] {
            let entry = OriginEntry::parse(&format!("{}://[{text}]", scheme(https)));
            prop_assert_eq!(&entry, &Ok(OriginEntry::Exact(canonical.clone())), "[{}]", text);
        }
        let set = OriginSet::new(&[OriginEntry::Exact(canonical.clone())]);
        for text in [a.to_string(), long_ipv6(a)] {
            let request = format!("{}://[{text}]", scheme(https));
            prop_assert_eq!(set.allows(request.as_bytes()), request == canonical, "{}", request);
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

/// JSON documents built from the configuration's vocabulary, nested, with
/// objects that may give a key twice.
fn json_value() -> impl Strategy<Value = J> {
    let keys = prop::sample::select(vec![
        "allow_origins",
        "AllowOrigins",
        "allow_methods",
        "allow_headers",
        "expose_headers",
        "max_age",
        "MaxAge",
        "allow_credentials",
        "allow_private_network",
        "allow_insecure_origins",
        "mode",
        "rules",
        "match",
        "hosts",
        "path_prefix",
        "name",
        "cors",
        "_x",
        "allow_orgins",
        "timing_allow_origin",
        "preflight_status",
        "routes",
        "_rules_",
        "_match_route_",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(-1), Just(86_400), Just(86_401), Just(200), Just(204), any::<i64>()].prop_map(Value::from),
        Just(Value::from(1.5)),
        prop::sample::select(vec![
            "*",
            "null",
            "https://*",
            "https://*.example.com",
            "https://a.example.com:8443",
            "http://localhost:3000",
            "http://[::1]",
            "https://*.com",
            "GET",
            "get",
            "x-token",
            "off",
            "report",
            "enforce",
            "/api/",
            "*.tenant.test",
            "a.example",
            "",
            "GET POST",
            "https://a.example/",
            "capacitor://localhost",
            "http://localhost:*",
            "https://*.example.com:*",
            "http://[::ffff:127.0.0.1]",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        ])
        .prop_map(Value::from),
        "[ -~]{0,16}".prop_map(Value::from),
    ]
    .prop_map(J::V);
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::A),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|kv| J::O(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}
