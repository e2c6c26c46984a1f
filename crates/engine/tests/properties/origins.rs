//! The reference origin matcher (`Model::allows`): `allow_origins` entries
//! as meant (exact, `:*` port wildcards, `*.` subdomains, scheme wildcards,
//! `null`, app schemes such as `capacitor://localhost`), the ways the
//! configuration may spell them, and the `Origin` values browsers and app
//! shells send (IPv6 in its WHATWG serialisation).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::model::Model;

#[derive(Clone, Debug, PartialEq)]
pub enum Host {
    Domain(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// An IPv6 address as the WHATWG URL standard's IPv6 serializer writes it:
/// eight hex pieces without leading zeros, the first longest run of two or
/// more zero pieces written `::`, never a dotted quad.
pub fn whatwg(a: Ipv6Addr) -> String {
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
pub fn long_ipv6(a: Ipv6Addr) -> String {
    a.segments().iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":")
}

/// How an IPv6 host is written in the configuration.
#[derive(Clone, Copy, Debug)]
pub enum V6Style {
    Whatwg,
    /// Rust's `Display`: IPv4-mapped addresses as `::ffff:127.0.0.1`.
    Rust,
    Long,
}

impl Host {
    /// As a browser serialises it.
    pub fn canonical(&self) -> String {
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

pub fn scheme(https: bool) -> &'static str {
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
pub const APP_SCHEMES: [&str; 6] = ["chrome-extension", "moz-extension", "safari-web-extension", "capacitor", "ionic", "tauri"];

/// One `allow_origins` entry, as meant.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
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
pub struct Spelling {
    pub upper: bool,
    pub explicit_default_port: bool,
    pub ipv6: V6Style,
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
    pub fn display(&self) -> Option<String> {
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
    pub fn key(&self) -> String {
        match self {
            Entry::Bad(raw) => format!("refused {raw}"),
            e => e.display().unwrap_or_default(),
        }
    }

    /// Plain HTTP beyond loopback: refused with credentials unless allow_insecure_origins.
    pub fn insecure_http(&self) -> bool {
        match self {
            Entry::Exact { https: false, host, .. } | Entry::ExactAnyPort { https: false, host } => !host.is_loopback(),
            Entry::Sub { https: false, .. } | Entry::SubAnyPort { https: false, .. } | Entry::AnyOf { https: false } => true,
            _ => false,
        }
    }

    pub fn raw(&self, s: Spelling) -> String {
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
    pub fn example(&self, label: &str, port: Option<u16>) -> String {
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

/// A serialised origin split into scheme, host and port.
pub struct Parsed<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

/// Parses an `Origin` value as browsers and app shells serialise it:
/// `scheme://host[:port]`, lower case, no default port, IPv6 in WHATWG form,
/// no trailing anything; labels may start or end with `-` (browsers send
/// such hosts). App schemes: `scheme://host`, labels of `[a-z0-9_-]`, no port.
pub fn parse_origin(o: &[u8]) -> Option<Parsed<'_>> {
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

// The matcher lives beside the entries it reads; the rest of `Model` is in model.rs.
impl Model {
    /// The reference matcher.
    pub fn allows(&self, origin: &[u8]) -> bool {
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
}
