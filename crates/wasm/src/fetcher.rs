//! Live origins in the proxy: the timer, the lease, the HTTP call and the
//! shared data that keep each policy's fetched set fresh. What an answer
//! means, and the values shared, are the engine's (`live`).
//!
//! Every worker VM ticks once a second: it applies the last good answer
//! when another worker stored a new one, sets its gauges, and tries to take
//! the lease when a fetch is due. Taking it is a compare-and-swap on the
//! lease value, so one worker per process fetches per refresh, whatever the
//! number of workers.

use crate::host::{self, Level, Map, NOT_FOUND};
use crate::metrics::{Metrics, SourceMetrics};
use edge_cors_engine::live::{self, Answer, Keys, Verdict};
use edge_cors_engine::origins::OriginEntry;
use edge_cors_engine::policy::{Policy, Source};
use edge_cors_engine::rules::{Route, Ruleset};

const TICK_MS: u32 = 1000;

struct Fetcher {
    route: Route,
    rule: String,
    keys: Keys,
    /// CAS token of the shared version applied last (0: none).
    seen: u32,
    /// Our call in flight: its token, when it left, and whether it carried
    /// `If-None-Match`.
    pending: Option<(u32, u64, bool)>,
    /// Updates that failed or were refused since the last good answer this
    /// worker had (a recovery is logged).
    failures: u32,
    metrics: Option<SourceMetrics>,
    /// When the policy was loaded: the age reported before any good answer.
    loaded_ms: u64,
}

pub struct Fetchers(Vec<Fetcher>);

fn source_of(ruleset: &Ruleset, route: Route) -> Option<(&Policy, &Source)> {
    let policy = ruleset.policy(route)?;
    Some((policy, policy.source()?))
}

/// The refusal of a policy with a source on a host that cannot fetch.
fn cannot_fetch(rule: &str, missing: &str, status: u32) -> String {
    format!(
        "invalid edge-cors configuration: allow_origins_from (rule {rule}) = {{...}}: this host cannot fetch origins: it has no {missing} (status {status}); fix: list the origins in allow_origins, or run edge-cors on a host with timers, shared data and outbound HTTP calls (Envoy, Istio, Envoy Gateway, Kong)"
    )
}

impl Fetchers {
    /// Checks that the host can fetch, defines the metrics and applies what
    /// other workers (or this policy's previous version) fetched already.
    /// An error is the one log line refusing the configuration.
    pub fn start(ruleset: &Ruleset, metrics: &Metrics) -> Result<Fetchers, String> {
        let routes = ruleset.routes();
        let mut list = Vec::new();
        for route in routes {
            let Some((policy, source)) = source_of(ruleset, route) else { continue };
            let rule = ruleset.rule_name(route).to_string();
            host::set_tick_period(TICK_MS).map_err(|s| cannot_fetch(&rule, "timers", s))?;
            let now = host::now_ms().map_err(|s| cannot_fetch(&rule, "clock", s))?;
            let keys = live::keys(&rule, &source.spec, policy.allows_credentials(), source.insecure);
            // Create the lease now: Envoy configures a throwaway copy of the
            // VM on the main thread before the workers, so they all find it
            // and only compare-and-swap decides who fetches.
            match host::shared_get(&keys.lease) {
                Ok(_) => {}
                Err(NOT_FOUND) => host::shared_set(&keys.lease, b"0", 0).map_err(|s| cannot_fetch(&rule, "shared data", s))?,
                Err(s) => return Err(cannot_fetch(&rule, "shared data", s)),
            }
            let metrics = metrics.define_source(&rule);
            list.push(Fetcher { route, rule, keys, seen: 0, pending: None, failures: 0, metrics, loaded_ms: now });
        }
        let mut fetchers = Fetchers(list);
        if !fetchers.is_empty() {
            fetchers.tick(ruleset, metrics, false);
        }
        Ok(fetchers)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies new shared answers, sets the gauges and, when `fetch`, sends
    /// the calls that are due.
    pub fn tick(&mut self, ruleset: &Ruleset, metrics: &Metrics, fetch: bool) {
        let Ok(now) = host::now_ms() else { return };
        for f in &mut self.0 {
            let Some((policy, source)) = source_of(ruleset, f.route) else { continue };
            f.sync(policy, source, metrics);
            if let Some(m) = f.metrics {
                let checked =
                    host::shared_get(&f.keys.checked).map(|(v, _)| live::millis(&v)).ok().filter(|t| *t > 0).unwrap_or(f.loaded_ms);
                metrics.record(m.age, now.saturating_sub(checked) / 1000);
            }
            if fetch {
                f.fetch_if_due(source, metrics, now);
            }
        }
    }

    /// The answer to one of our calls.
    pub fn answer(&mut self, ruleset: &Ruleset, metrics: &Metrics, token: u32, num_headers: usize, body_size: usize) {
        let Some(f) = self.0.iter_mut().find(|f| f.pending.is_some_and(|(t, _, _)| t == token)) else { return };
        let (sent, conditional) = f.pending.take().map_or((0, false), |(_, at, conditional)| (at, conditional));
        let Some((policy, source)) = source_of(ruleset, f.route) else { return };
        let now = host::now_ms().unwrap_or(sent);
        let headers = if num_headers > 0 { host::header_pairs(Map::CallResponse) } else { Vec::new() };
        let header = |name: &[u8]| host::pairs(&headers).find(|(n, _)| *n == name).map(|(_, v)| v);
        let answer = Answer { status: header(b":status"), body_size, waited_ms: now.saturating_sub(sent), conditional };
        let stored = if answer.status == Some(b"200") { host::shared_get(&f.keys.origins).ok() } else { None };
        let last = stored.as_ref().map(|(v, _)| live::split_stored(v).1);
        let verdict = live::judge(&answer, &source.spec, policy.allows_credentials(), source.insecure, last, &source.live, || {
            host::call_response_body(body_size)
        });
        f.settle(source, metrics, verdict, header(b"etag"), now);
    }
}

impl Fetcher {
    /// Applies the shared answer if another worker stored a new one.
    fn sync(&mut self, policy: &Policy, source: &Source, metrics: &Metrics) {
        let Ok((_, cas)) = host::shared_get(&self.keys.version) else { return };
        if cas == self.seen {
            return;
        }
        self.seen = cas;
        let Ok((value, _)) = host::shared_get(&self.keys.origins) else { return };
        let (_, body) = live::split_stored(&value);
        match edge_cors_engine::config::fetched_origins(body, policy.allows_credentials(), source.insecure) {
            Ok(entries) => {
                source.live.replace(&entries);
                if let Some(m) = self.metrics {
                    metrics.record(m.origins, entries.len() as u64);
                }
            }
            // Checked by the worker that stored it under the same key: only
            // a host fault gets here.
            Err(refusal) => {
                host::log(Level::Error, &format!("edge-cors: the shared origins of rule {} cannot be applied: {}", self.rule, refusal.why))
            }
        }
    }

    fn fetch_if_due(&mut self, source: &Source, metrics: &Metrics, now: u64) {
        if let Some((_, sent, _)) = self.pending {
            // The host answers every call, with a failure at worst; this
            // only guards against one that never does.
            if now < sent + u64::from(source.spec.timeout_ms) + 10_000 {
                return;
            }
            self.pending = None;
        }
        let due = match host::shared_get(&self.keys.lease) {
            Ok((v, cas)) if live::millis(&v) <= now => cas,
            Err(NOT_FOUND) => 0,
            _ => return,
        };
        let next = (now + u64::from(source.spec.refresh_seconds) * 1000).to_string();
        // Another worker took it first: it fetches, we read its answer.
        if host::shared_set(&self.keys.lease, next.as_bytes(), due).is_err() {
            return;
        }
        // The ETag of what this worker applied, if it is still the shared one.
        let etag = host::shared_get(&self.keys.version)
            .ok()
            .and_then(|(v, cas)| (cas == self.seen && !v.is_empty()).then(|| String::from_utf8_lossy(&v).into_owned()));
        let spec = &source.spec;
        match host::dispatch_get(&spec.cluster, &spec.authority, &spec.path, etag.as_deref(), spec.timeout_ms) {
            Ok(token) => self.pending = Some((token, now, etag.is_some())),
            Err(status) => {
                let why = format!("the proxy refused to send the request (status {status}): is \"{}\" one of its clusters?", spec.cluster);
                self.settle(source, metrics, Verdict::Failed(why), None, now);
            }
        }
    }

    /// Serves `entries` here, and shares them (as `body`, with its ETag if
    /// any) for the other workers to apply on their next tick.
    fn apply_and_share(&mut self, source: &Source, metrics: &Metrics, entries: &[OriginEntry], etag: Option<&[u8]>, body: &[u8]) {
        source.live.replace(entries);
        let _ = host::shared_set(&self.keys.origins, &live::stored(etag, body), 0);
        let _ = host::shared_set(&self.keys.version, live::usable_etag(etag), 0);
        self.seen = host::shared_get(&self.keys.version).map_or(0, |(_, cas)| cas);
        if let Some(m) = self.metrics {
            metrics.record(m.origins, entries.len() as u64);
        }
    }

    /// Counts and logs an outcome (the engine's `live::settle`); applies
    /// and shares a good answer.
    fn settle(&mut self, source: &Source, metrics: &Metrics, verdict: Verdict, etag: Option<&[u8]>, now: u64) {
        let settled = live::settle(&mut self.failures, &self.rule, &source.spec, &verdict, source.live.len(), self.seen != 0);
        if let Some(m) = &self.metrics {
            settled.counts.iter().for_each(|c| metrics.bump_id(m.id(*c)));
        }
        for (error, line) in &settled.lines {
            host::log(if *error { Level::Error } else { Level::Info }, line);
        }
        let m = self.metrics;
        match &verdict {
            Verdict::Applied(entries, body) => {
                self.apply_and_share(source, metrics, entries, etag, body);
                let _ = host::shared_set(&self.keys.checked, now.to_string().as_bytes(), 0);
                if let Some(m) = &m {
                    metrics.record(m.age, 0);
                }
            }
            Verdict::Unchanged => {
                let _ = host::shared_set(&self.keys.checked, now.to_string().as_bytes(), 0);
            }
            // Removals only: shared as a body of its own without an ETag, so
            // the next fetch asks for the whole list again. Not a good
            // answer: the source stays stale (`checked` is not moved).
            Verdict::Shrunk { kept, .. } => self.apply_and_share(source, metrics, kept, None, &live::shrunk_body(kept)),
            // The last good set keeps serving; the lines said so.
            Verdict::Refused(_) | Verdict::Failed(_) => {}
        }
    }
}
