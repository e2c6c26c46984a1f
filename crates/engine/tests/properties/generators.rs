//! Proptest strategies: policies (`model`, `valid_model`); request parts
//! aimed at a policy's entries (matching, nearly matching) or arbitrary;
//! upstream response headers; JSON documents from the configuration's
//! vocabulary.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::http::Headers;
use crate::model::{Dup, Model, Names, Place, J};
use crate::origins::{long_ipv6, scheme, Entry, Host, Spelling, V6Style, APP_SCHEMES};

const LABELS: &[&str] = &["a", "b", "app", "api", "x-y", "s_1", "1a", "example", "test", "corp", "xn--bcher-kva"];
/// Labels a browser may send in a request's host (never configured).
const REQUEST_LABELS: &[&str] = &["-a", "b-", "-", "--x--", "a-", "_"];
pub const METHODS: &[&str] =
    &["GET", "POST", "PUT", "DELETE", "PATCH", "patch", "get", "put", "Delete", "X-CUSTOM", "OPTIONS", "HEAD", "PROPFIND"];
pub const HEADERS: &[&str] = &["content-type", "authorization", "x-a", "X-Token", "x-request-id", "accept", "X-A"];
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
    // A default port beside `:*` is two ports too.
    "https://a.example.com:443:*",
    "http://*.example.com:80:*",
];

/// Wildcard bases on the Public Suffix List (ICANN and private sections),
/// which the model refuses from its own copy of this short list
/// (`model::PUBLIC_SUFFIXES`), not from the engine's.
const SUFFIX_BASES: &[&str] = &["co.uk", "github.io", "vercel.app", "com.au", "run.app"];

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

pub fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        1 => Just(Entry::Any),
        1 => Just(Entry::Null),
        1 => any::<bool>().prop_map(|https| Entry::AnyOf { https }),
        8 => (any::<bool>(), host(), port()).prop_map(|(https, host, port)| Entry::Exact { https, host, port }),
        2 => (any::<bool>(), host()).prop_map(|(https, host)| Entry::ExactAnyPort { https, host }),
        5 => (any::<bool>(), domain(2..=2), port()).prop_map(|(https, base, port)| Entry::Sub { https, base, port }),
        2 => (any::<bool>(), domain(2..=2)).prop_map(|(https, base)| Entry::SubAnyPort { https, base }),
        1 => (any::<bool>(), prop::sample::select(SUFFIX_BASES), port())
            .prop_map(|(https, base, port)| Entry::Sub { https, base: base.to_string(), port }),
        2 => app_entry(),
        1 => prop::sample::select(BAD_ENTRIES).prop_map(Entry::Bad),
    ]
}

pub fn spelling() -> impl Strategy<Value = Spelling> {
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

pub fn model() -> impl Strategy<Value = Model> {
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
pub fn valid_model() -> impl Strategy<Value = Model> {
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
pub fn origin_for(model: &Model) -> BoxedStrategy<Vec<u8>> {
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
pub fn method_for(model: &Model) -> BoxedStrategy<Vec<u8>> {
    let allowed: Vec<String> = model.methods().unwrap_or_else(|| METHODS.iter().map(|m| m.to_string()).collect());
    prop_oneof![
        1 => method(),
        1 => prop::sample::select(allowed).prop_map(String::into_bytes),
    ]
    .boxed()
}

pub fn method() -> impl Strategy<Value = Vec<u8>> {
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
pub fn requested_headers() -> impl Strategy<Value = Vec<u8>> {
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

pub fn private_network() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::sample::select(vec!["true", "TRUE", " true ", "false", "", "1"]).prop_map(|s| s.as_bytes().to_vec()))
}

/// Upstream response headers: plain ones, Access-Control-* in odd case, Vary in many forms.
pub fn upstream_headers() -> impl Strategy<Value = Headers> {
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

/// JSON documents built from the configuration's vocabulary, nested, with
/// objects that may give a key twice.
pub fn json_value() -> impl Strategy<Value = J> {
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
