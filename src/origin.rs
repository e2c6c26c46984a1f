//! Origins: parsing `allow_origins` entries at configure time and matching a
//! request's `Origin` value on the hot path.
//!
//! Browsers send origins in one canonical form (lower-case scheme and host,
//! no default port, punycode hosts), so configuration entries are normalised
//! to that form once and the request value is compared as bytes: no
//! allocation, no case folding, no regex. Anything that is not in canonical
//! form simply does not match.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};

/// FNV-1a: a few cycles per byte for the short keys origins are, where
/// SipHash costs more than the rest of a decision. Hash flooding needs
/// attacker-chosen keys in the table; these tables hold configured keys
/// only and are never written on the request path.
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

pub(crate) type FastHash = BuildHasherDefault<Fnv>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// Splits `scheme://rest`, accepting only the two schemes CORS is used with.
    fn split(s: &str) -> Option<(Scheme, &str)> {
        if let Some(rest) = s.strip_prefix("https://") {
            Some((Scheme::Https, rest))
        } else {
            s.strip_prefix("http://").map(|rest| (Scheme::Http, rest))
        }
    }
}

/// One validated `allow_origins` entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OriginEntry {
    /// `*`
    Any,
    /// The literal `null` origin (sandboxed frames, `file:` pages, redirects).
    Null,
    /// `https://*` or `http://*`
    AnyOfScheme(Scheme),
    /// A canonical `scheme://host[:port]`.
    Exact(String),
    /// `scheme://*.base[:port]`: any subdomain of `base`, never `base` itself.
    Subdomains {
        scheme: Scheme,
        base: String,
        port: Option<u16>,
    },
}

/// Why an `allow_origins` entry was refused, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub problem: String,
    pub fix: String,
}

fn entry_err(problem: impl Into<String>, fix: impl Into<String>) -> EntryError {
    EntryError { problem: problem.into(), fix: fix.into() }
}

impl OriginEntry {
    /// Parses one configured entry into canonical form.
    pub fn parse(raw: &str) -> Result<OriginEntry, EntryError> {
        if raw != raw.trim() {
            return Err(entry_err(
                "has leading or trailing whitespace",
                format!("write \"{}\"", raw.trim()),
            ));
        }
        if raw == "*" {
            return Ok(OriginEntry::Any);
        }
        if raw.eq_ignore_ascii_case("null") {
            return Ok(OriginEntry::Null);
        }
        if !raw.is_ascii() {
            return Err(entry_err(
                "contains non-ASCII characters; browsers send internationalised hosts in punycode",
                "write the host in its xn-- (punycode) form",
            ));
        }
        let lower = raw.to_ascii_lowercase();
        let Some((scheme, rest)) = Scheme::split(&lower) else {
            return Err(entry_err(
                "is not an origin: it must start with https:// or http://",
                "write an origin such as \"https://app.example.com\", or \"*\"",
            ));
        };
        if rest == "*" {
            return Ok(OriginEntry::AnyOfScheme(scheme));
        }
        if let Some(at) = rest.find(['/', '?', '#']) {
            let bare = format!("{}://{}", scheme.as_str(), rest.get(..at).unwrap_or(rest));
            return Err(entry_err(
                "is not an origin: an origin has no path, query, fragment or trailing slash",
                format!("write \"{bare}\""),
            ));
        }
        if rest.contains('@') {
            return Err(entry_err(
                "is not an origin: it contains user information (@)",
                "remove the user:password@ part",
            ));
        }
        let (host, port) = split_host_port(rest).map_err(|p| {
            entry_err(p, "write the port as a number from 1 to 65535, or leave it out")
        })?;
        let port = port.filter(|&p| p != scheme.default_port());
        let port_suffix = port.map(|p| format!(":{p}")).unwrap_or_default();

        if let Some(base) = host.strip_prefix("*.") {
            if base.contains('*') {
                return Err(entry_err(
                    "has more than one wildcard",
                    "use a single leading \"*.\", as in \"https://*.example.com\"",
                ));
            }
            if !is_domain(base) {
                return Err(entry_err(
                    format!("has an invalid domain after \"*.\": \"{base}\""),
                    "write a domain name such as \"https://*.example.com\"",
                ));
            }
            if base.split('.').count() < 2 {
                return Err(entry_err(
                    format!("matches every subdomain of the top-level domain \"{base}\""),
                    format!(
                        "name the registrable domain, for example \"{}://*.example.{base}\"",
                        scheme.as_str()
                    ),
                ));
            }
            return Ok(OriginEntry::Subdomains { scheme, base: base.to_string(), port });
        }
        if host.contains('*') {
            return Err(entry_err(
                "has a wildcard that is not the whole leftmost label",
                "write \"https://*.example.com\" (any subdomain) or \"https://*\" (any https origin)",
            ));
        }
        let host = canonical_host(host).ok_or_else(|| {
            entry_err(
                format!("has an invalid host \"{host}\""),
                "write a domain name, an IPv4 address, or an IPv6 address in brackets",
            )
        })?;
        Ok(OriginEntry::Exact(format!("{}://{host}{port_suffix}", scheme.as_str())))
    }

    /// The scheme this entry is restricted to, if any.
    pub fn scheme(&self) -> Option<Scheme> {
        match self {
            OriginEntry::AnyOfScheme(s) | OriginEntry::Subdomains { scheme: s, .. } => Some(*s),
            OriginEntry::Exact(o) => Scheme::split(o).map(|(s, _)| s),
            OriginEntry::Any | OriginEntry::Null => None,
        }
    }

    /// Whether cookies sent to this entry's origins could only travel over
    /// loopback (the one place plain HTTP cannot be read or forged in transit).
    pub fn is_loopback(&self) -> bool {
        match self {
            OriginEntry::Exact(o) => Scheme::split(o)
                .and_then(|(_, rest)| split_host_port(rest).ok())
                .is_some_and(|(host, _)| is_loopback_host(host)),
            _ => false,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, OriginEntry::Any | OriginEntry::AnyOfScheme(_))
    }
}

fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Splits `host[:port]`, with bracketed IPv6 hosts. The port must be decimal
/// digits in 1..=65535.
fn split_host_port(rest: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if rest.starts_with('[') {
        match rest.find(']') {
            Some(end) => {
                let (h, tail) = rest.split_at(end + 1);
                match tail {
                    "" => (h, None),
                    t => match t.strip_prefix(':') {
                        Some(p) => (h, Some(p)),
                        None => return Err(format!("has junk after the IPv6 address: \"{t}\"")),
                    },
                }
            }
            None => return Err("has an unclosed IPv6 bracket".into()),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            let ok = !p.is_empty()
                && p.len() <= 5
                && !p.starts_with('0')
                && p.bytes().all(|b| b.is_ascii_digit());
            match p.parse::<u16>() {
                Ok(n) if ok && n != 0 => Some(n),
                _ => return Err(format!("has an invalid port \"{p}\"")),
            }
        }
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    Ok((host, port))
}

/// A DNS name as browsers serialise it: lower-case LDH labels (underscores
/// tolerated), no empty label, and not all-numeric at the end (that would be
/// an IPv4 address to a URL parser).
fn is_domain(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let mut last = "";
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return false;
        }
        last = label;
    }
    !last.bytes().all(|b| b.is_ascii_digit())
}

/// The host as a browser would serialise it, or None when it is not a host.
fn canonical_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| format!("[{ip}]"));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().ok().map(|ip| ip.to_string());
    }
    is_domain(host).then(|| host.to_string())
}

/// The request side: a browser-serialised origin split into its parts, or
/// None. Rejects anything a browser would not send (default ports, upper
/// case, empty labels, stray bytes), so it can be echoed back safely.
fn parse_request_origin(origin: &str) -> Option<(Scheme, &str, Option<u16>)> {
    let (scheme, rest) = Scheme::split(origin)?;
    let (host, port) = split_host_port(rest).ok()?;
    if port == Some(scheme.default_port()) {
        return None;
    }
    let host_ok = if host.starts_with('[') {
        host.len() > 2
            && host
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'[' | b']' | b':' | b'.'))
    } else {
        is_domain(host) || host.parse::<Ipv4Addr>().is_ok()
    };
    host_ok.then_some((scheme, host, port))
}

/// Whether `prefix` (the part of a host before `.base`) is one or more
/// well-formed labels.
fn is_label_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// The scheme and port a wildcard pattern is restricted to.
type SchemePort = (Scheme, Option<u16>);

/// The compiled `allow_origins` list.
#[derive(Debug, Default)]
pub struct OriginSet {
    any: bool,
    null: bool,
    any_http: bool,
    any_https: bool,
    exact: HashSet<Box<str>, FastHash>,
    /// Wildcard patterns keyed by their base domain, so a lookup walks the
    /// request host's suffixes (one hash probe per label) whatever the number
    /// of patterns.
    subdomains: HashMap<Box<str>, Vec<SchemePort>, FastHash>,
    /// Fewest and most labels of any pattern's base: only host suffixes in
    /// that range need a probe.
    min_base_labels: usize,
    max_base_labels: usize,
}

impl OriginSet {
    pub fn new(entries: &[OriginEntry]) -> OriginSet {
        let mut set = OriginSet::default();
        for e in entries {
            match e {
                OriginEntry::Any => set.any = true,
                OriginEntry::Null => set.null = true,
                OriginEntry::AnyOfScheme(Scheme::Http) => set.any_http = true,
                OriginEntry::AnyOfScheme(Scheme::Https) => set.any_https = true,
                OriginEntry::Exact(o) => {
                    set.exact.insert(o.as_str().into());
                }
                OriginEntry::Subdomains { scheme, base, port } => {
                    let labels = base.split('.').count();
                    set.max_base_labels = set.max_base_labels.max(labels);
                    set.min_base_labels = if set.subdomains.is_empty() { labels } else { set.min_base_labels.min(labels) };
                    let v = set.subdomains.entry(base.as_str().into()).or_default();
                    if !v.contains(&(*scheme, *port)) {
                        v.push((*scheme, *port));
                    }
                }
            }
        }
        set
    }

    /// `*` is in the list: every origin, `null` included, is allowed.
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// Whether the request's `Origin` value is allowed.
    pub fn allows(&self, origin: &[u8]) -> bool {
        self.any || std::str::from_utf8(origin).is_ok_and(|o| self.allows_str(o))
    }

    /// [`OriginSet::allows`] for a value already known to be UTF-8.
    pub fn allows_str(&self, origin: &str) -> bool {
        if self.any {
            return true;
        }
        if origin == "null" {
            return self.null;
        }
        if self.exact.contains(origin) {
            return true;
        }
        let Some((scheme, rest)) = Scheme::split(origin) else {
            return false;
        };
        if (scheme == Scheme::Http && self.any_http) || (scheme == Scheme::Https && self.any_https) {
            // Echoed back as is: it must be a well-formed origin.
            return parse_request_origin(origin).is_some();
        }
        if self.subdomains.is_empty() {
            return false;
        }
        // IPv6 literals contain colons too; they can never match a domain
        // pattern and fail the label check below.
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => match canonical_port(port, scheme) {
                Some(p) => (host, Some(p)),
                None => return false,
            },
            None => (rest, None),
        };
        if host.len() > 253 {
            return false; // longer than any DNS name
        }
        // Probe the suffixes after each dot, right to left, that have as
        // many labels as some pattern's base. A hit is a configured (so
        // valid) base; only the part before it needs checking.
        let mut labels = 0;
        for (at, _) in host.bytes().enumerate().rev().filter(|(_, b)| *b == b'.') {
            labels += 1;
            if labels > self.max_base_labels {
                break;
            }
            if labels < self.min_base_labels {
                continue;
            }
            let (Some(prefix), Some(base)) = (host.get(..at), host.get(at + 1..)) else {
                break;
            };
            if let Some(patterns) = self.subdomains.get(base) {
                if patterns.contains(&(scheme, port)) && is_label_prefix(prefix) {
                    return true;
                }
            }
        }
        false
    }
}

/// A port as a browser serialises it: decimal, no leading zero, not the
/// scheme's default.
fn canonical_port(text: &str, scheme: Scheme) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&p| p != scheme.default_port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> OriginEntry {
        OriginEntry::Exact(s.to_string())
    }

    #[test]
    fn entries_are_normalised() {
        let cases = [
            ("https://App.Example.COM", exact("https://app.example.com")),
            ("https://app.example.com:443", exact("https://app.example.com")),
            ("http://app.example.com:80", exact("http://app.example.com")),
            ("https://app.example.com:8443", exact("https://app.example.com:8443")),
            ("http://localhost:3000", exact("http://localhost:3000")),
            ("http://127.0.0.1:8080", exact("http://127.0.0.1:8080")),
            ("http://[0:0:0:0:0:0:0:1]:8080", exact("http://[::1]:8080")),
            ("*", OriginEntry::Any),
            ("null", OriginEntry::Null),
            ("https://*", OriginEntry::AnyOfScheme(Scheme::Https)),
            ("http://*", OriginEntry::AnyOfScheme(Scheme::Http)),
            (
                "https://*.Example.com",
                OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: None },
            ),
            (
                "https://*.example.com:443",
                OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: None },
            ),
            (
                "http://*.example.com:8080",
                OriginEntry::Subdomains { scheme: Scheme::Http, base: "example.com".into(), port: Some(8080) },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(OriginEntry::parse(raw), Ok(want), "{raw}");
        }
    }

    #[test]
    fn non_origins_are_refused_with_a_fix() {
        let cases = [
            ("https://app.example.com/", "trailing slash", "\"https://app.example.com\""),
            ("https://app.example.com/path", "no path", "\"https://app.example.com\""),
            ("https://app.example.com?q", "query", "\"https://app.example.com\""),
            ("https://user@app.example.com", "user information", "user:password@"),
            ("ftp://app.example.com", "https:// or http://", "https://app.example.com"),
            ("app.example.com", "https:// or http://", "https://app.example.com"),
            ("https://app.example.com:0", "invalid port", "1 to 65535"),
            ("https://app.example.com:99999", "invalid port", "1 to 65535"),
            ("https://app.example.com:8a", "invalid port", "1 to 65535"),
            ("https://app.example.com:", "invalid port", "1 to 65535"),
            ("https://*.com", "top-level domain", "*.example.com"),
            ("https://*.*.example.com", "more than one wildcard", "single leading"),
            ("https://app*.example.com", "not the whole leftmost label", "*.example.com"),
            ("https://a..b.com", "invalid host", "domain name"),
            ("https://bücher.example", "non-ASCII", "punycode"),
            (" https://app.example.com", "whitespace", "\"https://app.example.com\""),
            ("https://", "no host", "port"),
            ("https://[::1", "unclosed IPv6", "port"),
            ("https://999.1.1.1", "invalid host", "IPv4"),
        ];
        for (raw, problem, fix) in cases {
            let err = OriginEntry::parse(raw).expect_err(raw);
            assert!(err.problem.contains(problem), "{raw}: problem {:?}", err.problem);
            assert!(err.fix.contains(fix), "{raw}: fix {:?}", err.fix);
        }
    }

    #[test]
    fn loopback_detection() {
        for o in ["http://localhost:3000", "http://127.0.0.1", "http://127.9.9.9:1", "http://[::1]:8080"] {
            assert!(OriginEntry::parse(o).map(|e| e.is_loopback()).unwrap_or(false), "{o}");
        }
        for o in ["http://example.com", "http://10.0.0.1", "http://localhost.evil.com", "http://*.localhost.dev"] {
            assert!(!OriginEntry::parse(o).map(|e| e.is_loopback()).unwrap_or(true), "{o}");
        }
    }

    fn set(entries: &[&str]) -> OriginSet {
        let parsed: Vec<OriginEntry> = entries.iter().map(|e| OriginEntry::parse(e).unwrap_or_else(|err| panic!("{e}: {err:?}"))).collect();
        OriginSet::new(&parsed)
    }

    #[test]
    fn matching() {
        let s = set(&["https://app.example.com", "https://*.example.com", "http://*.dev.test:8080", "null"]);
        let allowed = [
            "https://app.example.com",
            "https://a.example.com",
            "https://a.b.c.example.com",
            "https://x_y.example.com",
            "http://a.dev.test:8080",
            "null",
        ];
        let refused = [
            "https://example.com",            // the base itself
            "https://evilexample.com",        // no dot boundary
            "https://example.com.evil.test",  // suffix must be at the end
            "http://a.example.com",           // other scheme
            "https://a.example.com:8443",     // other port
            "https://a.example.com:443",      // not canonical
            "https://A.example.com",          // not canonical
            "https://.example.com",           // empty label
            "https://a..example.com",         // empty label
            "https://a.example.com.",         // trailing dot
            "https://a.example.com/",         // not an origin
            "http://a.dev.test",              // pattern has a port
            "http://a.dev.test:08080",        // leading zero
            "https://app.example.com ",       // trailing space
            "NULL",
            "",
            "*",
        ];
        for o in allowed {
            assert!(s.allows(o.as_bytes()), "{o} should be allowed");
        }
        for o in refused {
            assert!(!s.allows(o.as_bytes()), "{o} should be refused");
        }
        assert!(!s.allows(b"https://\xff.example.com"));
    }

    #[test]
    fn wildcards() {
        let any = set(&["*"]);
        for o in ["https://x.test", "null", "http://localhost:1"] {
            assert!(any.allows(o.as_bytes()));
        }
        let https = set(&["https://*"]);
        assert!(https.allows(b"https://anything.test"));
        assert!(https.allows(b"https://[::1]:8443"));
        assert!(!https.allows(b"http://anything.test"));
        assert!(!https.allows(b"null"), "null is never matched by a pattern");
        assert!(!https.allows(b"https://"));
        assert!(!https.allows(b"https://a b"));
        let sub = set(&["https://*.example.com"]);
        assert!(!sub.allows(b"null"));
    }

    #[test]
    fn exact_only_sets_do_not_parse() {
        // An exact-only policy needs one hash probe; hostile bytes never reach a parser.
        let s = set(&["https://app.example.com"]);
        assert!(!s.allows(&[0xff; 64]));
        assert!(!s.allows(&vec![b'a'; 70_000]));
    }
}
