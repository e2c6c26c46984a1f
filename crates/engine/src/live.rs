//! Live origins (`allow_origins_from`): the fetched set a policy consults
//! after its static list, what an answer of the origin service means, and
//! the values the proxy's workers share so that one of them fetches.
//!
//! Envoy runs one VM per worker thread. The workers share the host's shared
//! data (process-wide, per `vm_id`): a lease value (when the next fetch is
//! due; taken by compare-and-swap, so one worker fetches per refresh), the
//! last good answer (ETag and body, which every worker checks and applies
//! when it changes) and the time of the last good answer. No host type
//! appears here: the adapter (`fetcher`) makes the calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::config::{fetched_origins, Refusal, SourceSpec, MAX_BODY_BYTES};
use crate::origins::{OriginEntry, OriginSet};

/// The set fetched last; empty until the first good answer (fail closed:
/// only the static `allow_origins` apply).
/// A `Mutex` so that a compiled ruleset stays `Sync` for native users (the
/// fuzz targets share one); in the module (one thread per VM) it is never
/// contended.
#[derive(Default)]
pub struct LiveOrigins {
    set: Mutex<Option<Box<OriginSet>>>,
    count: AtomicUsize,
}

impl std::fmt::Debug for LiveOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveOrigins")
    }
}

impl LiveOrigins {
    pub fn allows_str(&self, origin: &str) -> bool {
        // No panic can happen while it is held, so it is never poisoned.
        self.set.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_some_and(|s| s.allows_str(origin))
    }

    /// Replaces the whole set at once: requests see the old set or the new
    /// one, never a mix.
    pub fn replace(&self, entries: &[OriginEntry]) {
        let set = Box::new(OriginSet::new(entries));
        *self.set.lock().unwrap_or_else(PoisonError::into_inner) = Some(set);
        self.count.store(entries.len(), Ordering::Relaxed);
    }

    /// The entries of `candidates` that are in the set now: what a refused
    /// answer leaves of it (none before the first good answer).
    pub fn kept(&self, candidates: &[OriginEntry]) -> Vec<OriginEntry> {
        let set = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        match set.as_ref() {
            Some(set) => candidates.iter().filter(|e| set.contains(e)).cloned().collect(),
            None => Vec::new(),
        }
    }

    /// The number of entries applied (0 before the first good answer).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What one answer (or its absence) means for the set.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 200 with a valid list: apply these, and share the body (second).
    Applied(Vec<OriginEntry>, Vec<u8>),
    /// 304: what we have is current.
    Unchanged,
    /// An answer with an invalid entry, whose valid entries leave out some
    /// of the applied ones: the set shrinks to `kept` (the applied set
    /// intersected with the answer's valid entries; never an addition).
    Shrunk { kept: Vec<OriginEntry>, removed: usize, why: String },
    /// An answer whose content cannot be applied (JSON, an entry, size).
    Refused(String),
    /// No usable answer (status, timeout, network, the call not sent).
    Failed(String),
}

/// The answer to a fetch, as the host gives it: `status` is None when the
/// call failed without a response (Envoy: reset, timeout, no healthy host).
pub struct Answer<'a> {
    pub status: Option<&'a [u8]>,
    pub body_size: usize,
    /// Milliseconds from sending to this answer (tells a timeout apart).
    pub waited_ms: u64,
    /// The request carried `If-None-Match` (an applied answer's ETag): only
    /// then is a 304 an answer.
    pub conditional: bool,
}

/// Judges an answer. `body` is read only for a 200 within the size limit;
/// `last` is the body applied last: the same body again is unchanged (a
/// service without ETags), so nobody re-reads thousands of origins.
/// `current` is the set applied now, which an answer with a bad entry can
/// only shrink.
#[allow(clippy::too_many_arguments)]
pub fn judge(
    answer: &Answer<'_>,
    spec: &SourceSpec,
    credentials: bool,
    insecure: bool,
    last: Option<&[u8]>,
    current: &LiveOrigins,
    body: impl FnOnce() -> Vec<u8>,
) -> Verdict {
    let timed_out = answer.waited_ms + 50 >= u64::from(spec.timeout_ms);
    // Envoy answers a call it could not complete itself: 504 after the
    // timeout, 503 when no connection could be made.
    let Some(status) = answer.status else {
        return Verdict::Failed(if timed_out {
            format!("no answer within timeout_ms ({} ms)", spec.timeout_ms)
        } else {
            format!(
                "no answer: the request to cluster \"{}\" failed (connection refused or reset, no healthy host, or an answer larger than the proxy buffers: about 32 MiB in Envoy)",
                spec.cluster
            )
        });
    };
    match status {
        b"200" => {}
        b"304" if answer.conditional => return Verdict::Unchanged,
        // Nothing was asked to be compared: the service has no list to give
        // (and the source must not look healthy while nothing is applied).
        b"304" => {
            return Verdict::Failed("status 304 to a request without If-None-Match: the service must answer 200 with the list".into())
        }
        b"504" if timed_out => return Verdict::Failed(format!("no answer within timeout_ms ({} ms)", spec.timeout_ms)),
        b"503" => {
            return Verdict::Failed(format!(
                "status 503: the service is unavailable, or the proxy could not connect to cluster \"{}\" (is the service up?)",
                spec.cluster
            ))
        }
        other => {
            let shown: String = String::from_utf8_lossy(other).chars().filter(char::is_ascii_graphic).take(8).collect();
            return Verdict::Failed(format!("status {shown} (the service must answer 200 with the list, or 304)"));
        }
    }
    if answer.body_size > MAX_BODY_BYTES {
        return Verdict::Refused(format!("the answer is {} bytes, over the limit of {MAX_BODY_BYTES} (4 MiB)", answer.body_size));
    }
    let body = body();
    if last == Some(body.as_slice()) {
        return Verdict::Unchanged;
    }
    match fetched_origins(&body, credentials, insecure) {
        Ok(entries) => Verdict::Applied(entries, body),
        Err(Refusal { why, valid: Some(valid) }) => {
            let kept = current.kept(&valid);
            match current.len().saturating_sub(kept.len()) {
                0 => Verdict::Refused(why),
                removed => Verdict::Shrunk { kept, removed, why },
            }
        }
        Err(Refusal { why, valid: None }) => Verdict::Refused(why),
    }
}

/// The body shared for a set that shrank: what the workers apply, as if the
/// service had answered it.
/// Written by hand: serde_json's serializer would add kilobytes to the
/// module for this one use. Canonical entries are printable ASCII; `"` and
/// `\\` are escaped all the same.
pub fn shrunk_body(kept: &[OriginEntry]) -> Vec<u8> {
    let mut out = String::from("{\"origins\": [");
    for (i, e) in kept.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('"');
        for c in e.to_string().chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push_str("]}");
    out.into_bytes()
}

/// The shared-data keys of one policy's source. The rule's name and the
/// flags the entries were checked under are part of the key, so listeners
/// sharing a `vm_id` never apply an answer checked under other rules.
pub struct Keys {
    /// When the next fetch is due (milliseconds since the epoch, decimal).
    /// One per refresh and timeout: a configuration update that shortens the
    /// refresh gets a lease of its own, due at once, instead of waiting out
    /// the old one; two listeners with different refreshes each keep theirs.
    /// (The answer's keys below are shared by all of them.)
    pub lease: String,
    /// The last good answer: [`stored`].
    pub origins: String,
    /// Rewritten after `origins` with the answer's ETag: a small value whose
    /// CAS token the workers compare every tick, so they copy the large one
    /// out of the host only when it changed.
    pub version: String,
    /// When the last good answer (200 or 304) arrived, milliseconds.
    pub checked: String,
}

/// The layout of the shared values (the keys below and `stored`). A module
/// that changes it must change this prefix too: during an upgrade Envoy runs
/// the old module beside the new one with the same `vm_id` (shared data is
/// per `vm_id`), and each must only ever read its own values. Version 1 had
/// no version (`edge_cors.origins_source/...`, until 2026-12); no key of
/// this version starts with that prefix, so neither reads the other's.
pub const SHARED_PREFIX: &str = "edge_cors.origins_source.v2/";

pub fn keys(rule: &str, spec: &SourceSpec, credentials: bool, insecure: bool) -> Keys {
    let base = format!(
        "{SHARED_PREFIX}{rule}/{}{}/{}/{}{}",
        spec.cluster,
        spec.path,
        spec.authority,
        if credentials { 'c' } else { 'p' },
        if insecure { 'i' } else { 's' }
    );
    Keys {
        lease: format!("{base}/lease/{}s/{}ms", spec.refresh_seconds, spec.timeout_ms),
        origins: format!("{base}/origins"),
        version: format!("{base}/version"),
        checked: format!("{base}/checked"),
    }
}

/// An ETag as kept and sent back: printable ASCII up to 256 bytes, else none.
pub fn usable_etag(etag: Option<&[u8]>) -> &[u8] {
    etag.filter(|e| e.len() <= 256 && e.iter().all(|b| (b' '..=b'~').contains(b))).unwrap_or(b"")
}

/// The last good answer as shared: its ETag (if usable) on the first line,
/// then the body.
pub fn stored(etag: Option<&[u8]>, body: &[u8]) -> Vec<u8> {
    let etag = usable_etag(etag);
    let mut out = Vec::with_capacity(etag.len() + 1 + body.len());
    out.extend_from_slice(etag);
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// The ETag and body of a [`stored`] value.
pub fn split_stored(value: &[u8]) -> (&[u8], &[u8]) {
    match value.iter().position(|b| *b == b'\n') {
        Some(i) => (value.get(..i).unwrap_or_default(), value.get(i + 1..).unwrap_or_default()),
        None => (b"", value),
    }
}

/// A decimal number of milliseconds, as shared; anything else reads as 0
/// (due now, never checked).
pub fn millis(value: &[u8]) -> u64 {
    if value.is_empty() || value.len() > 20 {
        return 0;
    }
    value
        .iter()
        .try_fold(0u64, |n, b| if b.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None })
        .unwrap_or(0)
}

/// The name a log line gives a source.
pub fn describe(rule: &str, spec: &SourceSpec) -> String {
    format!("origins from cluster \"{}\" {} (rule {rule})", spec.cluster, spec.path)
}

/// The one log line of an update that did not apply.
pub fn not_applied_line(rule: &str, spec: &SourceSpec, verdict: &Verdict, serving: usize, ever_applied: bool) -> Option<String> {
    let (what, why) = match verdict {
        Verdict::Shrunk { kept, removed, why } => {
            return Some(format!(
                "edge-cors: {} refused for additions: {why}; its removals applied: {} removed, {} kept; new origins wait for an answer without errors",
                describe(rule, spec),
                counted(*removed),
                kept.len()
            ))
        }
        Verdict::Refused(why) => ("refused", why),
        Verdict::Failed(why) => ("failed", why),
        _ => return None,
    };
    let kept = if ever_applied {
        format!("the last good set ({}) keeps serving", counted(serving))
    } else {
        "no answer applied yet, so only the static allow_origins apply".to_string()
    };
    Some(format!("edge-cors: {} {what}: {why}; {kept}", describe(rule, spec)))
}

/// "1 origin", "2 origins".
fn counted(n: usize) -> String {
    format!("{n} origin{}", if n == 1 { "" } else { "s" })
}

/// A source counter a verdict moves (the ids are the shell's:
/// `metric_ids::SourceIds::id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceCount {
    Applied,
    Unchanged,
    Refused,
    RemovalsApplied,
    Failed,
}

/// What a verdict means for a source's counters and log, the same in
/// every shell; applying it (and sharing it) is the shell's.
#[derive(Debug, PartialEq, Eq)]
pub struct Settlement {
    pub counts: &'static [SourceCount],
    /// Lines to log, in order: (is an error, the line).
    pub lines: Vec<(bool, String)>,
}

/// Settles `verdict` for one source. `failures` counts the source's failed
/// or refused updates since its last good one (a recovery is logged, then
/// it restarts); `serving` is the size of the set served now and
/// `ever_applied` whether a good answer was ever applied (the line of a
/// failure says what keeps serving).
pub fn settle(failures: &mut u32, rule: &str, spec: &SourceSpec, verdict: &Verdict, serving: usize, ever_applied: bool) -> Settlement {
    let counts: &'static [SourceCount] = match verdict {
        Verdict::Applied(..) => &[SourceCount::Applied],
        Verdict::Unchanged => &[SourceCount::Unchanged],
        Verdict::Refused(_) => &[SourceCount::Refused],
        Verdict::Shrunk { .. } => &[SourceCount::Refused, SourceCount::RemovalsApplied],
        Verdict::Failed(_) => &[SourceCount::Failed],
    };
    let mut lines = Vec::new();
    match verdict {
        Verdict::Applied(..) | Verdict::Unchanged => {
            let recovered = std::mem::take(failures);
            if recovered > 0 {
                lines.push((false, recovered_line(rule, spec, recovered)));
            }
        }
        _ => *failures = failures.saturating_add(1),
    }
    let not_applied = match verdict {
        Verdict::Applied(entries, _) => {
            lines.push((false, applied_line(rule, spec, entries.len())));
            None
        }
        Verdict::Unchanged => None,
        Verdict::Shrunk { kept, .. } => not_applied_line(rule, spec, verdict, kept.len(), true),
        Verdict::Refused(_) | Verdict::Failed(_) => not_applied_line(rule, spec, verdict, serving, ever_applied),
    };
    lines.extend(not_applied.map(|line| (true, line)));
    Settlement { counts, lines }
}

/// The log line of a source's first good answer after failures.
pub fn recovered_line(rule: &str, spec: &SourceSpec, failures: u32) -> String {
    format!("edge-cors: {} recovered after {failures} failed or refused updates", describe(rule, spec))
}

/// The log line of an applied update.
pub fn applied_line(rule: &str, spec: &SourceSpec, count: usize) -> String {
    format!("edge-cors: {} applied: {}", describe(rule, spec), counted(count))
}

#[cfg(test)]
mod tests;
