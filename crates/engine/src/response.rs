//! Rewriting a forwarded request's response: the filter owns CORS, so every
//! upstream `Access-Control-*` header goes, the allowed ones are stamped, and
//! `Vary` gains `Origin` without losing what was there.

use std::borrow::Cow;

use crate::fetch;
use crate::policy::{header, Forward, Policy};
use crate::token;

/// Where response edits go: the proxy's header map in the filter, a plain
/// list in tests.
pub trait HeaderSink {
    /// Removes every header of this name.
    fn remove(&mut self, name: &[u8]);
    /// Replaces every header of this name with one header.
    fn set(&mut self, name: &str, value: &[u8]);
}

/// A response header map held in memory, with a proxy's semantics: names
/// compare case-insensitively, `remove` drops every header of a name, `set`
/// replaces them all with one. What report mode, the command line, tests,
/// fuzz targets and benchmarks rewrite responses into.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderList {
    /// (name, value) in order; names as given.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl HeaderList {
    /// A map holding these headers.
    pub fn from_pairs<'h>(pairs: impl IntoIterator<Item = (&'h [u8], &'h [u8])>) -> HeaderList {
        HeaderList { headers: pairs.into_iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect() }
    }

    /// Every value of `name` (any case), in order.
    pub fn values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s [u8]> + 's {
        let name = name.as_bytes().to_vec();
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(&name)).map(|(_, v)| v.as_slice())
    }

    /// The headers as borrowed pairs, as a proxy's header map would list them.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
}

impl HeaderSink for HeaderList {
    fn remove(&mut self, name: &[u8]) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        self.remove(name.as_bytes());
        self.headers.push((name.as_bytes().to_vec(), value.to_vec()));
    }
}

/// What the response path needs to remember about the request. Borrowed
/// from the filter's state so the response path does not allocate.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub forward: Forward,
    /// The request's `Origin`, needed when the policy echoes it.
    pub origin: Option<&'a [u8]>,
}

/// Counts of what was changed, for metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// Upstream `Access-Control-*` headers removed.
    pub removed: usize,
    pub stamped: bool,
}

impl Policy {
    /// Rewrites a response given its current headers.
    pub fn rewrite_response<'h>(
        &self,
        stamp: Stamp<'_>,
        existing: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
        sink: &mut impl HeaderSink,
    ) -> Rewritten {
        let mut out = Rewritten::default();
        let mut vary: Vec<&[u8]> = Vec::new();
        for (name, value) in existing {
            if fetch::is_access_control(name) {
                sink.remove(name);
                out.removed += 1;
            } else if self.timing_allow_origin() && name.eq_ignore_ascii_case(header::TIMING_ALLOW_ORIGIN.as_bytes()) {
                // With timing_allow_origin on, the filter owns this header too.
                sink.remove(name);
            } else if name.eq_ignore_ascii_case(b"vary") {
                vary.push(value);
            } else if name.eq_ignore_ascii_case(header::DEBUG.as_bytes()) {
                sink.remove(name);
            }
        }

        if stamp.forward == Forward::Allowed {
            let allow_origin = if self.is_public() { Some(&b"*"[..]) } else { stamp.origin };
            if let Some(origin) = allow_origin {
                sink.set(header::ALLOW_ORIGIN, origin);
                if self.allows_credentials() {
                    sink.set(header::ALLOW_CREDENTIALS, b"true");
                }
                if let Some(expose) = self.expose_headers() {
                    sink.set(header::EXPOSE_HEADERS, expose.as_bytes());
                }
                if self.timing_allow_origin() {
                    sink.set(header::TIMING_ALLOW_ORIGIN, origin);
                }
                out.stamped = true;
            }
        }

        if self.varies_by_origin() {
            if let Some(v) = merge_vary(&vary, "Origin") {
                sink.set(header::VARY, &v);
            }
        }
        out
    }
}

/// The `Vary` value to set so that it lists `needed`, or None when the
/// existing headers already cover it (`needed` or `*` present). Existing
/// entries are kept in order, several `Vary` headers folded into one, and
/// empty members (`Accept,`) dropped.
pub fn merge_vary<'n>(existing: &[&[u8]], needed: &'n str) -> Option<Cow<'n, [u8]>> {
    // The common case (no Vary upstream) allocates nothing.
    if existing.is_empty() {
        return Some(Cow::Borrowed(needed.as_bytes()));
    }
    let covered = existing.iter().flat_map(|v| token::list_elements(v)).any(|e| e == b"*" || e.eq_ignore_ascii_case(needed.as_bytes()));
    if covered {
        return None;
    }
    let mut out = Vec::new();
    for e in existing.iter().flat_map(|v| token::list_elements(v)) {
        out.extend_from_slice(e);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(needed.as_bytes());
    Some(Cow::Owned(out))
}
