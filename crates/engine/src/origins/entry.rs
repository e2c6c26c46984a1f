//! One `allow_origins` entry, parsed into the form browsers send.

use std::fmt;

use super::host::{canonical_host, is_domain, is_loopback_host, port_number, split_host_port, HostPort};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn default_port(self) -> u16 {
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
    pub(super) fn split(s: &str) -> Option<(Scheme, &str)> {
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

/// An entry's `host[:port]`: the host and its port number, or what is wrong.
fn host_and_port(rest: &str) -> Result<(&str, Option<u16>), String> {
    let HostPort { host, port } = split_host_port(rest).map_err(|e| match rest.find(']') {
        Some(end) if e.starts_with("has junk") => format!("{e}: \"{}\"", rest.get(end + 1..).unwrap_or("")),
        _ => e.to_string(),
    })?;
    let port = match port {
        None => None,
        Some(p) => Some(port_number(p).ok_or_else(|| format!("has an invalid port \"{p}\""))?),
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    Ok((host, port))
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
            host_and_port(rest).map_err(|p| entry_err(p, "write the port as a number from 1 to 65535 or *, or leave it out"))?;
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
                Scheme::split(o).and_then(|(_, rest)| split_host_port(rest).ok()).is_some_and(|hp| is_loopback_host(hp.host))
            }
            _ => false,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, OriginEntry::Any | OriginEntry::AnyOfScheme(_))
    }
}

/// An exact origin of one of [`APP_SCHEMES`], or None when the entry has
/// another scheme. The host is an ID or `localhost`: lower-case letters,
/// digits, `-`, `_` and dots; no port, no wildcard.
pub(super) fn app_origin(lower: &str) -> Option<Result<OriginEntry, EntryError>> {
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
