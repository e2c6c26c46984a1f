//! Live origins (`allow_origins_from`) in the dynamic module: one fetch per
//! source per refresh for the whole Envoy process, on the main thread.
//!
//! A configuration is shared by every worker, so unlike the wasm shell (one
//! VM per worker, shared data and a lease between them) there is nothing to
//! coordinate: the main thread ticks once a second (a module thread commits
//! to Envoy's config scheduler), sends the calls that are due, judges each
//! answer with the engine (`edge_cors_engine::live::judge`) and replaces the
//! policy's live set, which the workers read under its own lock. What an
//! answer means, the log lines and the counters' names are the engine's, so
//! both shells count and explain the same way. Envoy's calls come in
//! through [`Main`], so this is tested natively against a fake.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use edge_cors_engine::live::{self, Answer, Keys, Verdict};
use edge_cors_engine::policy::{Policy, Source};
use edge_cors_engine::rules::{Route, Ruleset};

use crate::metrics::{Define, Metrics, SourceMetrics};

/// Envoy's calls on a configuration, on the main thread.
pub trait Main {
    /// Milliseconds since the epoch.
    fn now_ms(&mut self) -> u64;
    /// Sends `GET`; the answer comes to `Fetchers::answer` with the id.
    fn callout(&mut self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Result<u64, u32>;
    fn increment(&mut self, id: usize);
    fn set_gauge(&mut self, id: usize, value: u64);
    fn log(&mut self, level: u32, line: &str);
}

const INFO: u32 = 2;
const ERROR: u32 = 4;

/// What outlives a configuration, for the next version of it (an LDS
/// update creates the new configuration before the old one goes): the last
/// good answer by source, and when each refresh is next due. Keyed as the
/// wasm shell keys its shared data (`live::keys`: rule, source, the flags
/// entries were checked under; the refresh and timeout for the lease), so
/// a new version serves the fetched origins from its first request and
/// fetches again only when due, with no fail-closed gap.
#[derive(Default)]
struct Remembered {
    /// By `keys.origins`: the answer applied last by any configuration.
    answers: HashMap<String, Kept>,
    /// Numbers each remembered answer, so a configuration sees at its next
    /// tick that another one (a listener with the same source) applied a
    /// newer answer, as the wasm shell's workers see it in shared data.
    versions: u64,
    /// By `keys.lease`: when the next call is due (one call per source and
    /// refresh for the whole process).
    due: HashMap<String, u64>,
}

struct Kept {
    version: u64,
    etag: Option<Vec<u8>>,
    body: Vec<u8>,
    /// When it was last confirmed (200 or 304), milliseconds.
    checked: u64,
}

fn remembered() -> std::sync::MutexGuard<'static, Remembered> {
    static REMEMBERED: OnceLock<Mutex<Remembered>> = OnceLock::new();
    REMEMBERED.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner)
}

struct Fetcher {
    route: Route,
    rule: String,
    keys: Keys,
    metrics: Option<SourceMetrics>,
    /// Our call in flight: its id, when it left, whether it was conditional.
    pending: Option<(u64, u64, bool)>,
    /// The ETag and body applied last (a service without ETags answering the
    /// same body is unchanged; 304 only counts after a conditional request).
    etag: Option<Vec<u8>>,
    body: Option<Vec<u8>>,
    /// When the last good answer (200 or 304) arrived, or the load.
    checked_ms: u64,
    failures: u32,
    /// The remembered answer this configuration serves (0: none).
    seen: u64,
}

/// What Envoy says of one of our calls.
pub struct Reply<'a> {
    pub id: u64,
    /// None when Envoy could not complete the call.
    pub status: Option<&'a [u8]>,
    pub etag: Option<&'a [u8]>,
    pub body_size: usize,
}

/// Every source of one configuration.
pub struct Fetchers(Vec<Fetcher>);

fn source_of(ruleset: &Ruleset, route: Route) -> Option<(&Policy, &Source)> {
    let policy = ruleset.policy(route)?;
    Some((policy, policy.source()?))
}

impl Fetchers {
    /// The configuration's sources, their metrics defined now (Envoy allows
    /// definitions only while the configuration is created); empty when the
    /// policy has none.
    pub fn new(ruleset: &Ruleset, define: &mut impl Define, now_ms: u64) -> Fetchers {
        let mut list = Vec::new();
        for route in ruleset.routes() {
            if source_of(ruleset, route).is_none() {
                continue;
            }
            let Some((policy, source)) = source_of(ruleset, route) else { continue };
            let rule = ruleset.rule_name(route).to_string();
            let metrics = Metrics::define_source(&rule, define).ok();
            let keys = live::keys(&rule, &source.spec, policy.allows_credentials(), source.insecure);
            let mut f =
                Fetcher { route, rule, keys, metrics, pending: None, etag: None, body: None, checked_ms: now_ms, failures: 0, seen: 0 };
            f.sync(policy, source);
            list.push(f);
        }
        Fetchers(list)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Once a second: the age gauges, and the calls that are due.
    pub fn tick(&mut self, ruleset: &Ruleset, main: &mut impl Main) {
        let now = main.now_ms();
        for f in &mut self.0 {
            let Some((policy, source)) = source_of(ruleset, f.route) else { continue };
            f.sync(policy, source);
            if let Some(m) = f.metrics {
                main.set_gauge(m.age, now.saturating_sub(f.checked_ms) / 1000);
            }
            f.fetch_if_due(source, main, now);
        }
    }

    /// The answer to one of our calls; `body` is read only when the answer
    /// may be applied.
    pub fn answer(&mut self, ruleset: &Ruleset, main: &mut impl Main, reply: Reply<'_>, body: impl FnOnce() -> Vec<u8>) {
        let Reply { id, status, etag, body_size } = reply;
        let Some(f) = self.0.iter_mut().find(|f| f.pending.is_some_and(|(p, _, _)| p == id)) else { return };
        let (sent, conditional) = f.pending.take().map_or((0, false), |(_, at, c)| (at, c));
        let Some((policy, source)) = source_of(ruleset, f.route) else { return };
        let now = main.now_ms();
        let answer = Answer { status, body_size, waited_ms: now.saturating_sub(sent), conditional };
        let last = f.body.as_deref();
        let verdict = live::judge(&answer, &source.spec, policy.allows_credentials(), source.insecure, last, &source.live, body);
        f.settle(source, main, verdict, etag, now);
    }
}

impl Fetcher {
    /// Serves the answer remembered for this source if it is not the one
    /// served now: at creation, what a previous version of the
    /// configuration fetched; later, what another configuration with the
    /// same source applied.
    fn sync(&mut self, policy: &Policy, source: &Source) {
        let shared = remembered();
        let Some(kept) = shared.answers.get(&self.keys.origins) else { return };
        if kept.version == self.seen {
            return;
        }
        self.seen = kept.version;
        if let Ok(entries) = edge_cors_engine::config::fetched_origins(&kept.body, policy.allows_credentials(), source.insecure) {
            source.live.replace(&entries);
            self.etag = kept.etag.clone();
            self.body = Some(kept.body.clone());
            self.checked_ms = self.checked_ms.max(kept.checked);
        }
    }

    /// Remembers the set served now (see [`Remembered`]).
    fn remember(&mut self, checked: u64) {
        let Some(body) = &self.body else { return };
        let mut shared = remembered();
        shared.versions += 1;
        self.seen = shared.versions;
        let kept = Kept { version: shared.versions, etag: self.etag.clone(), body: body.clone(), checked };
        shared.answers.insert(self.keys.origins.clone(), kept);
    }

    fn fetch_if_due(&mut self, source: &Source, main: &mut impl Main, now: u64) {
        if let Some((_, sent, _)) = self.pending {
            // Envoy answers every call, with a failure at worst; this only
            // guards against one that never does.
            if now < sent + u64::from(source.spec.timeout_ms) + 10_000 {
                return;
            }
            self.pending = None;
        }
        // The schedule is the source's (by refresh and timeout), not this
        // configuration's: a new version, or another listener with the same
        // source, does not call again before it is due.
        {
            let mut shared = remembered();
            let due = shared.due.entry(self.keys.lease.clone()).or_insert(0);
            if now < *due {
                return;
            }
            *due = now + u64::from(source.spec.refresh_seconds) * 1000;
        }
        let spec = &source.spec;
        let etag = self.etag.as_deref().map(String::from_utf8_lossy);
        let mut headers =
            vec![(":method", "GET"), (":path", spec.path.as_str()), ("host", spec.authority.as_str()), ("user-agent", "edge-cors")];
        if let Some(etag) = etag.as_deref() {
            headers.push(("if-none-match", etag));
        }
        match main.callout(&spec.cluster, &headers, u64::from(spec.timeout_ms)) {
            Ok(id) => self.pending = Some((id, now, etag.is_some())),
            Err(status) => {
                let why = format!("the proxy refused to send the request (status {status}): is \"{}\" one of its clusters?", spec.cluster);
                self.settle(source, main, Verdict::Failed(why), None, now);
            }
        }
    }

    /// Counts and logs an outcome (the engine's `live::settle`); applies a
    /// good answer or a shrunk set.
    fn settle(&mut self, source: &Source, main: &mut impl Main, verdict: Verdict, etag: Option<&[u8]>, now: u64) {
        let ever_applied = self.body.is_some() || !source.live.is_empty();
        let settled = live::settle(&mut self.failures, &self.rule, &source.spec, &verdict, source.live.len(), ever_applied);
        if let Some(m) = self.metrics {
            settled.counts.iter().for_each(|c| main.increment(m.id(*c)));
        }
        for (error, line) in &settled.lines {
            main.log(if *error { ERROR } else { INFO }, line);
        }
        match verdict {
            Verdict::Applied(entries, body) => {
                source.live.replace(&entries);
                self.etag = Some(live::usable_etag(etag).to_vec()).filter(|e| !e.is_empty());
                self.body = Some(body);
                self.checked_ms = now;
                self.remember(now);
                if let Some(m) = self.metrics {
                    main.set_gauge(m.origins, entries.len() as u64);
                    main.set_gauge(m.age, 0);
                }
            }
            Verdict::Unchanged => {
                self.checked_ms = now;
                // The same answer, confirmed: the others need not re-read it.
                if let Some(kept) = remembered().answers.get_mut(&self.keys.origins).filter(|k| k.version == self.seen) {
                    kept.checked = now;
                }
            }
            // Removals only: the next call asks for the whole list again
            // (no ETag), and the source stays stale (`checked_ms` kept).
            Verdict::Shrunk { ref kept, .. } => {
                source.live.replace(kept);
                // Remembered as a body of its own without an ETag, as the
                // wasm shell shares it: the next call asks for everything.
                self.etag = None;
                self.body = Some(live::shrunk_body(kept));
                self.remember(self.checked_ms);
                if let Some(m) = self.metrics {
                    main.set_gauge(m.origins, kept.len() as u64);
                }
            }
            // The last good set keeps serving; the lines said so.
            Verdict::Refused(_) | Verdict::Failed(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
