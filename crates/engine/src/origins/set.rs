//! The compiled `allow_origins` list: what a request's origin is matched
//! against, on the hot path.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::entry::{OriginEntry, Port, Scheme};
use super::host::{is_label_prefix, port_number, split_host_port, HostPort};
use super::request::parse_request_origin;

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
        // As a browser serialises it: a port other than the default, or none.
        let Ok(HostPort { host, port }) = split_host_port(rest) else {
            return false;
        };
        let port = match port.map(port_number) {
            None => None,
            Some(Some(p)) if p != scheme.default_port() => Some(p),
            Some(_) => return false,
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
