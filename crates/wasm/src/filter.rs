//! The proxy-wasm adapter: read the headers a decision needs, ask the
//! engine, apply its answer, count and log it. No CORS rule lives here.

use std::rc::Rc;

use crate::abi::export_abi;
use crate::contexts::{self, CONTINUE, PAUSE};
use crate::fetcher::Fetchers;
use crate::host::{self, Level, Map};
use crate::metrics::Metrics;
use edge_cors_engine::config::Mode;
use edge_cors_engine::log_line;
use edge_cors_engine::outcome::{self, Outcome};
use edge_cors_engine::policy::{Decision, Forward, Policy, PreflightReply, Request};
use edge_cors_engine::report;
use edge_cors_engine::response::{HeaderSink, Stamp};
use edge_cors_engine::rules::{Route, Ruleset};
use edge_cors_engine::stats::Counter;

export_abi!(CorsRoot);

// No panic hook of our own: should a panic ever happen (the request path has
// no unwrap and no panicking index), std's default hook, linked in either
// way, writes the message and its source location to stderr, which Envoy
// logs, before the VM traps.

struct Shared {
    ruleset: Ruleset,
    metrics: Metrics,
    /// Whether the host's failure to name the route was logged already.
    route_name_warned: std::cell::Cell<bool>,
}

/// One plugin configuration in this VM (the host's root context).
#[derive(Default)]
pub struct CorsRoot {
    shared: Option<Rc<Shared>>,
    /// Policies with `allow_origins_from` (None: there are none).
    fetchers: Option<Fetchers>,
}

impl contexts::Root for CorsRoot {
    type Stream = CorsStream;

    fn on_http_call_response(&mut self, token: u32, num_headers: usize, body_size: usize) {
        if let (Some(shared), Some(fetchers)) = (self.shared.as_deref(), self.fetchers.as_mut()) {
            fetchers.answer(&shared.ruleset, &shared.metrics, token, num_headers, body_size);
        }
    }

    fn on_configure(&mut self) -> bool {
        match Ruleset::from_json(&host::plugin_configuration()) {
            Ok(ruleset) => {
                // Per-rule counters exist only when there are rules (or, in
                // report mode, always: the default's differences).
                let mut names = vec!["default"];
                names.extend(ruleset.rules.iter().map(|r| &*r.name));
                let report = ruleset.mode == Mode::Report;
                let per_rule: &[&str] = if report || ruleset.has_rules() { &names } else { &[] };
                let metrics = Metrics::define(per_rule, report);
                let fetchers = match Fetchers::start(&ruleset, &metrics) {
                    Ok(f) => f,
                    Err(line) => {
                        host::log(Level::Error, &line);
                        return false;
                    }
                };
                self.fetchers = (!fetchers.is_empty()).then_some(fetchers);
                self.shared = Some(Rc::new(Shared { ruleset, metrics, route_name_warned: std::cell::Cell::new(false) }));
                true
            }
            Err(errors) => {
                // One line: the host shows it next to its own rejection.
                host::log(Level::Error, &errors.to_string());
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let (Some(shared), Some(fetchers)) = (self.shared.as_deref(), self.fetchers.as_mut()) {
            fetchers.tick(&shared.ruleset, &shared.metrics, true);
        }
    }

    fn create_stream(&mut self) -> CorsStream {
        CorsStream { shared: self.shared.clone(), state: State::Untouched }
    }
}

enum State {
    /// The request callback has not run (the host replied before it did).
    Untouched,
    /// We answered a preflight; the host routes that reply back through our
    /// response callback, which must leave it alone.
    OwnReply,
    /// A rule with `"cors": "off"` matched: the upstream owns CORS here.
    Off,
    /// Forwarded; `origin` is kept only when the response must echo it,
    /// `debug` (the access-log record) only when the policy says `debug`.
    Forwarded { route: Route, forward: Forward, origin: Option<Vec<u8>>, debug: Option<String> },
    /// Report mode: the request headers, to decide against the response.
    Report { route: Route, request: Vec<u8> },
}

/// One request/response (the host's HTTP context).
pub struct CorsStream {
    /// None only when the host runs requests without a valid configuration
    /// (hosts that configure lazily); the filter then changes nothing.
    shared: Option<Rc<Shared>>,
    state: State,
}

impl Default for CorsStream {
    fn default() -> CorsStream {
        CorsStream { shared: None, state: State::Untouched }
    }
}

impl contexts::Stream for CorsStream {
    /// Decode: route, then either answer the preflight here or remember what
    /// the response will need.
    fn on_request_headers(&mut self) -> u32 {
        let Some(shared) = self.shared.clone() else {
            return CONTINUE;
        };
        // One host call for all headers: each separate lookup would cross
        // into the host and back into our allocator.
        let headers = host::header_pairs(Map::Request);
        let req = Request::from_headers(host::pairs(&headers));
        let route = shared.ruleset.route_request(&req, || host::header_value(Map::Request, ":authority"), || route_name(&shared));
        let Some(policy) = shared.ruleset.policy(route) else {
            note(&shared, route, Outcome::Off, &req, None);
            self.state = State::Off;
            return CONTINUE;
        };
        if shared.ruleset.mode == Mode::Report {
            note(&shared, route, Outcome::Report, &req, None);
            self.state = State::Report { route, request: headers };
            return CONTINUE;
        }
        match policy.decide(&req) {
            Decision::Preflight(reply) => self.answer_preflight(&shared, route, policy, &req, &reply),
            Decision::Forward(forward) => {
                self.forward(&shared, route, policy, &req, forward);
                CONTINUE
            }
        }
    }

    /// Encode: stamp the response of a forwarded request, whoever produced it.
    fn on_response_headers(&mut self) -> u32 {
        let Some(shared) = self.shared.as_deref() else {
            return CONTINUE;
        };
        let (route, stamp, debug) = match &self.state {
            State::OwnReply | State::Off => return CONTINUE,
            State::Report { route, request } => {
                report(shared, *route, request);
                return CONTINUE;
            }
            State::Forwarded { route, forward, origin, debug } => {
                (*route, Stamp { forward: *forward, origin: origin.as_deref() }, debug.as_deref())
            }
            State::Untouched => match shared.ruleset.untouched() {
                Some(forward) => (Route::Default, Stamp { forward, origin: None }, None),
                None => return CONTINUE,
            },
        };
        let Some(policy) = shared.ruleset.policy(route) else {
            return CONTINUE;
        };
        let headers = host::header_pairs(Map::Response);
        let done = policy.rewrite_response(stamp, host::pairs(&headers), &mut ResponseHeaders);
        if done.removed > 0 {
            shared.metrics.count(Counter::UpstreamCorsHeadersReplaced);
        }
        if let Some(record) = debug {
            host::set_header(Map::Response, DEBUG_HEADER, record.as_bytes());
        }
        CONTINUE
    }
}

impl CorsStream {
    /// Sends the engine's answer to a preflight; counts, records and
    /// explains it.
    fn answer_preflight(&mut self, shared: &Shared, route: Route, policy: &Policy, req: &Request<'_>, reply: &PreflightReply<'_>) -> u32 {
        let outcome = reply.rejected.map_or(Outcome::PreflightAllowed, Outcome::PreflightRejected);
        let record = note(shared, route, outcome, req, reply.detail);
        if reply.rejected.is_some() {
            host::log(Level::Debug, &log_line::preflight_rejected(req, reply, shared.ruleset.rule_name(route)));
        }
        let details = outcome.response_details().unwrap_or("");
        let sent = if policy.debug() {
            let mut headers: Vec<(&str, &str)> = reply.headers.iter().map(|(n, v)| (*n, v.as_ref())).collect();
            headers.push((DEBUG_HEADER, &record));
            host::send_local_response(reply.status, details, &headers, &reply.body)
        } else {
            host::send_local_response(reply.status, details, &reply.headers, &reply.body)
        };
        if sent {
            self.state = State::OwnReply;
            return PAUSE;
        }
        host::log(Level::Warn, "edge-cors: the host refused a local reply; forwarding the preflight");
        self.state = State::Forwarded { route, forward: Forward::Denied, origin: None, debug: None };
        CONTINUE
    }

    /// Lets the request through, remembering what the response needs: the
    /// origin only when the response must echo it.
    fn forward(&mut self, shared: &Shared, route: Route, policy: &Policy, req: &Request<'_>, forward: Forward) {
        let outcome = match (req.origin, forward) {
            (None, _) => Outcome::NotCors,
            (Some(_), Forward::Allowed) => Outcome::Allowed,
            (Some(_), _) => Outcome::Rejected,
        };
        let record = note(shared, route, outcome, req, None);
        if let (Outcome::Rejected, Some(origin)) = (outcome, req.origin) {
            host::log(Level::Debug, &log_line::origin_refused(origin, shared.ruleset.rule_name(route)));
        }
        let keep_origin = forward == Forward::Allowed && !policy.is_public();
        let origin = if keep_origin { req.origin.map(<[u8]>::to_vec) } else { None };
        let debug = policy.debug().then_some(record);
        self.state = State::Forwarded { route, forward, origin, debug };
    }
}

/// Where a response's decision is shown when the policy says `debug`.
const DEBUG_HEADER: &str = edge_cors_engine::policy::header::DEBUG;

/// Counts the outcome (in total and for its rule) and leaves the access-log
/// record in the proxy (Envoy: filter state `wasm.edge_cors`, read as
/// `%FILTER_STATE(wasm.edge_cors:PLAIN)%`). Returns the record.
fn note(shared: &Shared, route: Route, outcome: Outcome, req: &Request<'_>, detail: Option<&str>) -> String {
    if let Some(counter) = outcome.counter() {
        shared.metrics.count_decision(route, counter);
    }
    let record = outcome::record(shared.ruleset.rule_name(route), outcome, req.origin, detail);
    host::set_property("edge_cors", record.as_bytes());
    record
}

/// Report mode: compare and count, change nothing.
fn report(shared: &Shared, route: Route, request: &[u8]) {
    let Some(policy) = shared.ruleset.policy(route) else {
        return;
    };
    let req = Request::from_headers(host::pairs(request));
    let response = host::header_pairs(Map::Response);
    let diffs = report::compare(policy, &req, host::pairs(&response));
    if diffs.is_empty() {
        return;
    }
    for d in &diffs {
        shared.metrics.count_report(route, d.kind);
    }
    host::log(Level::Info, &log_line::report(shared.ruleset.rule_name(route), req.origin, &diffs));
}

/// The proxy's name for the request's route (Envoy: `xds.route_name`).
/// A host that cannot answer makes rules with `match.routes` never match:
/// counted on every request, logged once per VM.
fn route_name(shared: &Shared) -> Option<Vec<u8>> {
    let status = match host::property(b"xds\0route_name") {
        Ok(name) if !name.is_empty() => return Some(name),
        Ok(_) => None,
        Err(code) => Some(code),
    };
    shared.metrics.count(Counter::RouteNameUnavailable);
    if !shared.route_name_warned.replace(true) {
        host::log(Level::Warn, &log_line::route_name_unavailable(status));
    }
    None
}

struct ResponseHeaders;

impl HeaderSink for ResponseHeaders {
    fn remove(&mut self, name: &[u8]) {
        host::remove_header(Map::Response, name);
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        host::set_header(Map::Response, name, value);
    }
}
