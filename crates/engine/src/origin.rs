//! Origins: parsing `allow_origins` entries at configure time and matching a
//! request's `Origin` value on the hot path.
//!
//! Browsers send origins in one canonical form (lower-case scheme and host,
//! no default port, punycode hosts), so configuration entries are normalised
//! to that form once and the request value is compared as bytes: no
//! allocation, no case folding, no regex. Anything that is not in canonical
//! form simply does not match.

use std::collections::{HashMap, HashSet};
use std::fmt;
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

/// The port part of a wildcard entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Port {
    /// No port written (or the scheme's default): the origin has no port.
    Default,
    /// That port only.
    Is(u16),
    /// `:*`: any port, the default (no port in the origin) included.
    Any,
}

impl Port {
    /// Whether an origin with this port (None: the default) matches.
    pub fn admits(self, port: Option<u16>) -> bool {
        match self {
            Port::Default => port.is_none(),
            Port::Is(p) => port == Some(p),
            Port::Any => true,
        }
    }

    /// Whether every port `other` admits, this admits too.
    pub fn covers(self, other: Port) -> bool {
        self == Port::Any || self == other
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Default => Ok(()),
            Port::Is(p) => write!(f, ":{p}"),
            Port::Any => f.write_str(":*"),
        }
    }
}

/// Schemes of exact origins that browsers and app shells send besides http
/// and https: extension pages and the WebViews of Capacitor, Ionic and
/// Tauri. Only exact origins: these hosts are IDs, not domains to wildcard.
pub const APP_SCHEMES: [&str; 6] = ["chrome-extension", "moz-extension", "safari-web-extension", "capacitor", "ionic", "tauri"];

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
    /// `scheme://host:*`: a canonical `scheme://host` on any port, the
    /// default included (dev servers, preview ports).
    ExactAnyPort(String),
    /// `scheme://*.base[:port]`: any subdomain of `base`, never `base` itself.
    Subdomains { scheme: Scheme, base: String, port: Port },
}

/// The entry as it is matched: canonical, the way `check` and `explain` show it.
impl fmt::Display for OriginEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginEntry::Any => f.write_str("*"),
            OriginEntry::Null => f.write_str("null"),
            OriginEntry::AnyOfScheme(s) => write!(f, "{}://*", s.as_str()),
            OriginEntry::Exact(o) => f.write_str(o),
            OriginEntry::ExactAnyPort(o) => write!(f, "{o}:*"),
            OriginEntry::Subdomains { scheme, base, port } => write!(f, "{}://*.{base}{port}", scheme.as_str()),
        }
    }
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
            return Err(entry_err("has leading or trailing whitespace", format!("write \"{}\"", raw.trim())));
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
        if let Some(entry) = app_origin(&lower) {
            return entry;
        }
        let Some((scheme, rest)) = Scheme::split(&lower) else {
            return Err(entry_err(
                "is not an origin: it must start with https:// or http:// (or be an app origin such as chrome-extension://<id> or capacitor://localhost)",
                "write an origin such as \"https://app.example.com\", or \"*\"",
            ));
        };
        if rest == "*" {
            return Ok(OriginEntry::AnyOfScheme(scheme));
        }
        if let Some(at) = rest.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')) {
            let bare = format!("{}://{}", scheme.as_str(), rest.get(..at).unwrap_or(rest));
            return Err(entry_err(
                "is not an origin: an origin has no path, query, fragment or trailing slash",
                format!("write \"{bare}\""),
            ));
        }
        if rest.contains('@') {
            return Err(entry_err("is not an origin: it contains user information (@)", "remove the user:password@ part"));
        }
        // `:*` is any port; the rest of the entry is checked as without it.
        let (rest, any_port) = match rest.strip_suffix(":*") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (host, port) =
            split_host_port(rest).map_err(|p| entry_err(p, "write the port as a number from 1 to 65535 or *, or leave it out"))?;
        if any_port && port.is_some() {
            return Err(entry_err("has two ports", "write one port, or :* for any port"));
        }
        let port = port.filter(|&p| p != scheme.default_port());
        let port_suffix = port.map(|p| format!(":{p}")).unwrap_or_default();
        let pattern_port = match port {
            _ if any_port => Port::Any,
            Some(p) => Port::Is(p),
            None => Port::Default,
        };

        if let Some(base) = host.strip_prefix("*.") {
            if base.contains('*') {
                return Err(entry_err("has more than one wildcard", "use a single leading \"*.\", as in \"https://*.example.com\""));
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
                    format!("name the registrable domain, for example \"{}://*.example.{base}\"", scheme.as_str()),
                ));
            }
            return Ok(OriginEntry::Subdomains { scheme, base: base.to_string(), port: pattern_port });
        }
        if host.contains('*') {
            return Err(entry_err(
                "has a wildcard that is not the whole leftmost label",
                "write \"https://*.example.com\" (any subdomain) or \"https://*\" (any https origin)",
            ));
        }
        // The common case, a domain without a port: the lower-cased entry is
        // already canonical (tenant lists are thousands of these, checked on
        // every update of live origins).
        if !any_port && port_suffix.is_empty() && rest.len() == host.len() && is_domain(host) {
            return Ok(OriginEntry::Exact(lower));
        }
        let host = canonical_host(host).ok_or_else(|| {
            entry_err(format!("has an invalid host \"{host}\""), "write a domain name, an IPv4 address, or an IPv6 address in brackets")
        })?;
        if any_port {
            return Ok(OriginEntry::ExactAnyPort(format!("{}://{host}", scheme.as_str())));
        }
        Ok(OriginEntry::Exact(format!("{}://{host}{port_suffix}", scheme.as_str())))
    }

    /// The scheme this entry is restricted to, if any.
    pub fn scheme(&self) -> Option<Scheme> {
        match self {
            OriginEntry::AnyOfScheme(s) | OriginEntry::Subdomains { scheme: s, .. } => Some(*s),
            OriginEntry::Exact(o) | OriginEntry::ExactAnyPort(o) => Scheme::split(o).map(|(s, _)| s),
            OriginEntry::Any | OriginEntry::Null => None,
        }
    }

    /// Whether cookies sent to this entry's origins could only travel over
    /// loopback (the one place plain HTTP cannot be read or forged in transit).
    pub fn is_loopback(&self) -> bool {
        match self {
            OriginEntry::Exact(o) | OriginEntry::ExactAnyPort(o) => {
                Scheme::split(o).and_then(|(_, rest)| split_host_port(rest).ok()).is_some_and(|(host, _)| is_loopback_host(host))
            }
            _ => false,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, OriginEntry::Any | OriginEntry::AnyOfScheme(_))
    }
}

/// `localhost`, 127.0.0.0/8, `[::1]`, and 127.0.0.0/8 written as an
/// IPv4-mapped IPv6 address (`[::ffff:7f00:1]`): traffic to any of them
/// never leaves the machine.
fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
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
            let ok = !p.is_empty() && p.len() <= 5 && !p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit());
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
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return false;
        }
        last = label;
    }
    !last.bytes().all(|b| b.is_ascii_digit())
}

/// An exact origin of one of [`APP_SCHEMES`], or None when the entry has
/// another scheme. The host is an ID or `localhost`: lower-case letters,
/// digits, `-`, `_` and dots; no port, no wildcard.
fn app_origin(lower: &str) -> Option<Result<OriginEntry, EntryError>> {
    // By byte: a `&str` pattern would link the two-way string searcher.
    let colon = lower.find(':')?;
    let scheme = lower.get(..colon)?;
    let host = lower.get(colon..)?.strip_prefix("://")?;
    if !APP_SCHEMES.contains(&scheme) {
        return None;
    }
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
    Some(if ok {
        Ok(OriginEntry::Exact(lower.to_string()))
    } else {
        Err(entry_err(
            format!("is not a {scheme}:// origin: after {scheme}:// comes only the extension ID or app host (no port, path or wildcard)"),
            format!(
                "write it as the browser sends it, such as \"{scheme}://{}\"",
                if scheme.ends_with("extension") { "<extension-id>" } else { "localhost" }
            ),
        ))
    })
}

/// An IPv6 address as the WHATWG URL standard serialises it: eight
/// lower-case hex pieces without leading zeros, the first longest run of two
/// or more zero pieces compressed to `::`, and never a dotted quad (so an
/// IPv4-mapped address is `::ffff:7f00:1`, where Rust prints `::ffff:127.0.0.1`).
pub fn whatwg_ipv6(ip: Ipv6Addr) -> String {
    let pieces = ip.segments();
    // The first longest run of zero pieces, if two or more long.
    let (mut best, mut best_len, mut run, mut run_len) = (usize::MAX, 1, 0, 0);
    for (i, p) in pieces.iter().enumerate() {
        if *p == 0 {
            if run_len == 0 {
                run = i;
            }
            run_len += 1;
            if run_len > best_len {
                best = run;
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    let mut out = String::with_capacity(41);
    let mut i = 0;
    while let Some(p) = pieces.get(i) {
        if i == best {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += best_len;
            continue;
        }
        push_hex(&mut out, *p);
        if i + 1 < pieces.len() {
            out.push(':');
        }
        i += 1;
    }
    out
}

/// A u16 in lower-case hex without leading zeros (no formatting machinery).
fn push_hex(out: &mut String, n: u16) {
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = (n >> shift) & 0xf;
        if d != 0 || started || shift == 0 {
            started = true;
            out.push(char::from_digit(u32::from(d), 16).unwrap_or('0'));
        }
    }
}

/// The host as a browser would serialise it, or None when it is not a host.
fn canonical_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(|ip| format!("[{}]", whatwg_ipv6(ip)));
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().ok().map(|ip| ip.to_string());
    }
    is_domain(host).then(|| host.to_string())
}

/// The request side: a browser-serialised http(s) origin split into its
/// parts, or None. Rejects anything a browser would not send (default
/// ports, upper case, empty labels, IPv6 not in WHATWG form, stray bytes),
/// so it can be echoed back safely. Labels may start or end with `-`:
/// browsers send such hosts, and a pattern matches them like any other.
pub fn parse_request_origin(origin: &str) -> Option<(Scheme, &str, Option<u16>)> {
    let (scheme, rest) = Scheme::split(origin)?;
    let (host, port) = split_host_port(rest).ok()?;
    if port == Some(scheme.default_port()) {
        return None;
    }
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(inner) => inner.parse::<Ipv6Addr>().is_ok_and(|ip| whatwg_ipv6(ip) == inner),
        None => match host.parse::<Ipv4Addr>() {
            // Canonical dotted quad: no leading zeros (`Ipv4Addr` already
            // refuses them, and any other form).
            Ok(_) => true,
            // Not an IPv4 address: the last label must not be all digits
            // (a URL parser would read it as one).
            Err(_) => {
                let last = host.bytes().rposition(|b| b == b'.').map_or(host, |dot| host.get(dot + 1..).unwrap_or(""));
                host.len() <= 253 && is_label_prefix(host) && !last.bytes().all(|b| b.is_ascii_digit())
            }
        },
    };
    host_ok.then_some((scheme, host, port))
}

/// Whether a request's `Origin` value is one a browser or app shell could
/// send (the form `explain` and `probe` accept): `null`, an http(s) origin
/// as [`parse_request_origin`] reads it, or an exact origin of an app scheme.
pub fn is_request_origin(origin: &str) -> bool {
    origin == "null"
        || parse_request_origin(origin).is_some()
        || app_origin(origin).is_some_and(|e| e.is_ok_and(|e| OriginEntry::Exact(origin.to_string()) == e))
}

/// Whether `prefix` (the part of a host before `.base`) is one or more
/// well-formed labels.
fn is_label_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        })
}

/// The scheme and port a wildcard pattern is restricted to.
type SchemePort = (Scheme, Port);

/// The compiled `allow_origins` list.
#[derive(Debug, Default)]
pub struct OriginSet {
    any: bool,
    null: bool,
    any_http: bool,
    any_https: bool,
    exact: HashSet<Box<str>, FastHash>,
    /// `scheme://host:*` entries, stored as `scheme://host`.
    any_port: HashSet<Box<str>, FastHash>,
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
                OriginEntry::ExactAnyPort(o) => {
                    set.any_port.insert(o.as_str().into());
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

    /// Whether this very entry is in the set (not whether it matches an
    /// origin): what a refused live answer may keep of the set.
    pub fn contains(&self, entry: &OriginEntry) -> bool {
        match entry {
            OriginEntry::Any => self.any,
            OriginEntry::Null => self.null,
            OriginEntry::AnyOfScheme(Scheme::Http) => self.any_http,
            OriginEntry::AnyOfScheme(Scheme::Https) => self.any_https,
            OriginEntry::Exact(o) => self.exact.contains(o.as_str()),
            OriginEntry::ExactAnyPort(o) => self.any_port.contains(o.as_str()),
            OriginEntry::Subdomains { scheme, base, port } => {
                self.subdomains.get(base.as_str()).is_some_and(|v| v.contains(&(*scheme, *port)))
            }
        }
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
        if self.subdomains.is_empty() && self.any_port.is_empty() {
            return false;
        }
        // The port is the part after the last colon, unless that colon is
        // inside an IPv6 literal's brackets.
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => match canonical_port(port, scheme) {
                Some(p) => (host, Some(p)),
                None => return false,
            },
            _ => (rest, None),
        };
        if !self.any_port.is_empty() {
            // The host part of the origin, with its scheme: a configured key
            // is canonical, so a hit needs only the port checked (done above).
            let key = origin.get(..scheme.as_str().len() + 3 + host.len()).unwrap_or("");
            if self.any_port.contains(key) {
                return true;
            }
        }
        if self.subdomains.is_empty() {
            return false;
        }
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
                if patterns.iter().any(|(s, p)| *s == scheme && p.admits(port)) && is_label_prefix(prefix) {
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
            ("http://[::ffff:127.0.0.1]", exact("http://[::ffff:7f00:1]")),
            ("http://[::FFFF:7F00:1]:8080", exact("http://[::ffff:7f00:1]:8080")),
            ("https://[2001:DB8:0:0:1:0:0:1]", exact("https://[2001:db8::1:0:0:1]")),
            ("https://[::]", exact("https://[::]")),
            ("https://[1::]", exact("https://[1::]")),
            ("chrome-extension://AbCdEfGhIjKlMnOpAbCdEfGhIjKlMnOp", exact("chrome-extension://abcdefghijklmnopabcdefghijklmnop")),
            ("moz-extension://0a1b2c3d-4e5f-6789-abcd-ef0123456789", exact("moz-extension://0a1b2c3d-4e5f-6789-abcd-ef0123456789")),
            ("safari-web-extension://0A1B2C3D-4E5F", exact("safari-web-extension://0a1b2c3d-4e5f")),
            ("capacitor://localhost", exact("capacitor://localhost")),
            ("ionic://localhost", exact("ionic://localhost")),
            ("tauri://localhost", exact("tauri://localhost")),
            ("http://localhost:*", OriginEntry::ExactAnyPort("http://localhost".into())),
            ("https://App.example.com:*", OriginEntry::ExactAnyPort("https://app.example.com".into())),
            ("http://[::1]:*", OriginEntry::ExactAnyPort("http://[::1]".into())),
            ("https://*.example.com:*", OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: Port::Any }),
            ("*", OriginEntry::Any),
            ("null", OriginEntry::Null),
            ("https://*", OriginEntry::AnyOfScheme(Scheme::Https)),
            ("http://*", OriginEntry::AnyOfScheme(Scheme::Http)),
            ("https://*.Example.com", OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: Port::Default }),
            (
                "https://*.example.com:443",
                OriginEntry::Subdomains { scheme: Scheme::Https, base: "example.com".into(), port: Port::Default },
            ),
            (
                "http://*.example.com:8080",
                OriginEntry::Subdomains { scheme: Scheme::Http, base: "example.com".into(), port: Port::Is(8080) },
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
            ("https://a.example.com:8443:*", "two ports", ":*"),
            ("https://a.example.com:443:*", "two ports", ":*"),
            ("http://*.example.com:80:*", "two ports", ":*"),
            ("https://a.example.com:*:*", "invalid port", "or *"),
            ("https://*.example.com:*x", "invalid port", "or *"),
            ("chrome-extension://*", "not a chrome-extension:// origin", "<extension-id>"),
            ("capacitor://localhost:8080", "not a capacitor:// origin", "\"capacitor://localhost\""),
            ("tauri://", "not a tauri:// origin", "localhost"),
            ("chrome-extension://abc/", "not a chrome-extension:// origin", "<extension-id>"),
            ("file://", "https:// or http://", "https://app.example.com"),
        ];
        for (raw, problem, fix) in cases {
            let err = OriginEntry::parse(raw).expect_err(raw);
            assert!(err.problem.contains(problem), "{raw}: problem {:?}", err.problem);
            assert!(err.fix.contains(fix), "{raw}: fix {:?}", err.fix);
        }
    }

    #[test]
    fn loopback_detection() {
        for o in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "http://127.9.9.9:1",
            "http://[::1]:8080",
            "http://[::ffff:127.0.0.1]",
            "http://[::ffff:7f01:203]:1",
            "http://localhost:*",
        ] {
            assert!(OriginEntry::parse(o).map(|e| e.is_loopback()).unwrap_or(false), "{o}");
        }
        for o in [
            "http://example.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://*.localhost.dev",
            "http://[::ffff:a00:1]",
            "http://[::2]",
        ] {
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
            "https://example.com",           // the base itself
            "https://evilexample.com",       // no dot boundary
            "https://example.com.evil.test", // suffix must be at the end
            "http://a.example.com",          // other scheme
            "https://a.example.com:8443",    // other port
            "https://a.example.com:443",     // not canonical
            "https://A.example.com",         // not canonical
            "https://.example.com",          // empty label
            "https://a..example.com",        // empty label
            "https://a.example.com.",        // trailing dot
            "https://a.example.com/",        // not an origin
            "http://a.dev.test",             // pattern has a port
            "http://a.dev.test:08080",       // leading zero
            "https://app.example.com ",      // trailing space
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

    /// Every entry shows as the canonical text it parses back from.
    #[test]
    fn display_round_trips() {
        for raw in [
            "*",
            "null",
            "https://*",
            "https://a.example:8443",
            "http://localhost:*",
            "https://*.example.com:*",
            "http://*.example.com:8080",
            "https://*.example.com",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
            "http://[::ffff:7f00:1]",
        ] {
            let e = OriginEntry::parse(raw).unwrap_or_else(|err| panic!("{raw}: {err:?}"));
            assert_eq!(e.to_string(), raw);
            assert_eq!(OriginEntry::parse(&e.to_string()), Ok(e));
        }
    }

    /// WHATWG URL "IPv6 serializer" cases: hex only, first longest zero run.
    #[test]
    fn ipv6_in_whatwg_form() {
        let cases = [
            ("::ffff:127.0.0.1", "::ffff:7f00:1"),
            ("::1", "::1"),
            ("::", "::"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("2001:db8::", "2001:db8::"),
            ("::127.0.0.1", "::7f00:1"),
            ("fe80::0abc", "fe80::abc"),
        ];
        for (input, want) in cases {
            let ip: Ipv6Addr = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(whatwg_ipv6(ip), want, "{input}");
        }
    }

    #[test]
    fn request_origins_as_browsers_send_them() {
        for o in [
            "https://-a.example.com",
            "https://a-.example.com",
            "https://x_y.example.com",
            "http://[::ffff:7f00:1]:8080",
            "http://127.0.0.1",
            "null",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
            "capacitor://localhost",
        ] {
            assert!(is_request_origin(o), "{o} refused");
        }
        for o in [
            "https://A.example.com",
            "https://a.example.com:443",
            "http://[::ffff:127.0.0.1]",
            "http://[0::1]",
            "https://a..b",
            "https://a.example.com/",
            "https://1.2.3",
            "http://127.000.0.1",
            "ftp://a.example",
            "chrome-extension://a/b",
            "Null",
        ] {
            assert!(!is_request_origin(o), "{o} accepted");
        }
    }

    #[test]
    fn port_wildcards_and_app_origins_match() {
        let s =
            set(&["http://localhost:*", "https://*.example.com:*", "http://[::1]:*", "capacitor://localhost", "http://[::ffff:127.0.0.1]"]);
        for o in [
            "http://localhost",
            "http://localhost:3000",
            "http://localhost:65535",
            "https://a.example.com",
            "https://a.b.example.com:8443",
            "http://[::1]",
            "http://[::1]:5173",
            "capacitor://localhost",
            "http://[::ffff:7f00:1]",
            "https://-a.example.com:1",
        ] {
            assert!(s.allows(o.as_bytes()), "{o} should be allowed");
        }
        for o in [
            "https://localhost:3000",
            "http://localhost:03000",
            "http://localhost:0",
            "http://localhost:80",
            "http://localhost:",
            "http://localhost.evil:3000",
            "https://example.com:8443",
            "http://a.example.com:8443",
            "https://a.example.com:443",
            "http://[::1]:x",
            "http://[::2]",
            "capacitor://localhost:1",
            "ionic://localhost",
            "http://[::ffff:127.0.0.1]",
        ] {
            assert!(!s.allows(o.as_bytes()), "{o} should be refused");
        }
    }

    #[test]
    fn exact_only_sets_do_not_parse() {
        // An exact-only policy needs one hash probe; hostile bytes never reach a parser.
        let s = set(&["https://app.example.com"]);
        assert!(!s.allows(&[0xff; 64]));
        assert!(!s.allows(&vec![b'a'; 70_000]));
    }
}
