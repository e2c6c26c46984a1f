//! The request lifecycle, written once for every shell: route the request,
//! decide, answer the preflight or forward, record and count, then stamp the
//! response whoever produced it (report mode: compare and count instead).
//!
//! A shell implements [`Host`] (a handful of proxy operations) and calls
//! [`Stream::on_request_headers`] and [`Stream::on_response_headers`] from
//! its two header callbacks. Everything else, including what to do when the
//! proxy replies before the request callback ran or refuses a local reply,
//! is decided here and tested natively against a fake host (`tests.rs`).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Mode;
use crate::log_line;
use crate::outcome::{self, Outcome};
use crate::policy::{header, Decision, Forward, Policy, PreflightReply, Request};
use crate::report::{self, DiffKind};
use crate::response::{HeaderList, HeaderSink, Stamp};
use crate::rules::{Route, Ruleset};
use crate::stats::Counter;
use crate::writes::{self, CrossSite};

#[cfg(test)]
mod tests;

/// Log levels a shell maps to its proxy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// A counter to move by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// A process-wide counter (`edge_cors.<name>`).
    Total(Counter),
    /// A decision: the total, and the route's own counter where the policy
    /// has rules (`edge_cors.rule.<rule>.<name>`); the shell knows whether
    /// it defined per-rule counters.
    Decision(Route, Counter),
    /// Report mode: one difference under a route.
    Report(Route, DiffKind),
}

/// The filter's own reply to a preflight.
#[derive(Debug, Clone, Copy)]
pub struct LocalReply<'r> {
    pub status: u32,
    /// `%RESPONSE_CODE_DETAILS%` in Envoy.
    pub details: &'r str,
    pub headers: &'r [(&'static str, Cow<'r, str>)],
    /// The `x-edge-cors` value to add, when the policy says `debug`.
    pub debug: Option<&'r str>,
    pub body: &'r str,
}

impl LocalReply<'_> {
    /// Every header of the reply, the debug header last.
    pub fn header_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let debug = self.debug.map(|record| (header::DEBUG, record));
        self.headers.iter().map(|(n, v)| (*n, v.as_ref())).chain(debug)
    }
}

/// A header map a shell read from its proxy, listed as (name, value) pairs.
pub trait HeaderPairs {
    fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])>;
}

impl HeaderPairs for HeaderList {
    fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        HeaderList::pairs(self)
    }
}

/// Whether the lifecycle reads this request header: a shell that must copy
/// headers out of the proxy copies only these (the rest never changes a
/// decision: `Request::from_headers` picks the same fields either way).
pub fn reads_request_header(name: &[u8]) -> bool {
    name.starts_with(b":")
        || name.eq_ignore_ascii_case(b"origin")
        || name.eq_ignore_ascii_case(b"host")
        || name.eq_ignore_ascii_case(b"sec-fetch-site")
        || crate::token::strip_prefix_ignore_case(name, b"access-control-request-").is_some()
}

/// Whether the lifecycle reads this response header (the rewrite's strip,
/// `Vary` merge and report mode's comparison); the rest are never touched.
pub fn reads_response_header(name: &[u8]) -> bool {
    name == b":status"
        || crate::fetch::is_access_control(name)
        || name.eq_ignore_ascii_case(b"vary")
        || name.eq_ignore_ascii_case(header::TIMING_ALLOW_ORIGIN.as_bytes())
        || name.eq_ignore_ascii_case(header::DEBUG.as_bytes())
}

/// The proxy operations the lifecycle needs. Each is one host call (or
/// fewer): the lifecycle calls them only when the answer matters.
pub trait Host {
    /// What the shell reads header maps into (the shell chooses: one host
    /// allocation holding every pair, or the proxy's own buffers lent for
    /// the callback). The lifecycle reads request headers only during the
    /// request callback and never sets one, and copies what it keeps.
    type RequestHeaders: HeaderPairs;
    /// The response's: the lifecycle edits this map while it reads it, so a
    /// shell whose proxy buffers die at a setter must hand a copy.
    type ResponseHeaders: HeaderPairs;
    fn request_headers(&mut self) -> Self::RequestHeaders;
    fn response_headers(&mut self) -> Self::ResponseHeaders;
    /// `:authority` asked by name, for hosts whose header list leaves it out.
    fn authority(&mut self) -> Option<Vec<u8>>;
    /// The proxy's name for the request's route (Envoy: `xds.route_name`):
    /// the name (maybe empty), or the host's status code.
    fn route_name(&mut self) -> Result<Vec<u8>, u32>;
    /// Sends a local reply and stops the request; false when the proxy
    /// refused (the request then goes on).
    fn send_local_reply(&mut self, reply: &LocalReply<'_>) -> bool;
    /// Replaces every response header of this name with one.
    fn set_response_header(&mut self, name: &str, value: &[u8]);
    /// Removes every response header of this name.
    fn remove_response_header(&mut self, name: &[u8]);
    /// Leaves the access-log record where the proxy's access log reads it.
    fn set_record(&mut self, record: &str);
    fn count(&mut self, count: Count);
    fn log(&mut self, level: Level, line: &str);
    /// Whether a line at `level` would be logged: the lifecycle formats a
    /// per-request line (a refused origin, a refused preflight) only then.
    /// Hosts that cannot tell say yes.
    fn log_enabled(&mut self, _level: Level) -> bool {
        true
    }
}

/// What the request callback tells the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// A local reply was sent: stop iterating.
    Stop,
}

/// One configured filter: the ruleset and what is shared by its streams.
pub struct Filter {
    pub ruleset: Ruleset,
    /// Whether the host's failure to name the route was logged already
    /// (once per filter, whatever the thread).
    route_name_warned: AtomicBool,
}

impl Filter {
    pub fn new(ruleset: Ruleset) -> Filter {
        Filter { ruleset, route_name_warned: AtomicBool::new(false) }
    }

    /// The proxy's route name, when a rule needs it. A host that cannot
    /// answer makes rules with `match.routes` never match: counted on every
    /// request, logged once.
    fn route_name(&self, host: &mut impl Host) -> Option<Vec<u8>> {
        let status = match host.route_name() {
            Ok(name) if !name.is_empty() => return Some(name),
            Ok(_) => None,
            Err(code) => Some(code),
        };
        host.count(Count::Total(Counter::RouteNameUnavailable));
        if !self.route_name_warned.swap(true, Ordering::Relaxed) {
            host.log(Level::Warn, &log_line::route_name_unavailable(status));
        }
        None
    }

    /// Counts the outcome (in total and for its rule) and leaves the
    /// access-log record with the proxy. Returns the record.
    fn note(&self, host: &mut impl Host, route: Route, outcome: Outcome, req: &Request<'_>, detail: Option<&str>) -> String {
        if let Some(counter) = outcome.counter() {
            host.count(Count::Decision(route, counter));
        }
        let record = outcome::record(self.ruleset.rule_name(route), outcome, req.origin, detail);
        host.set_record(&record);
        record
    }
}

#[derive(Debug, Default)]
enum State {
    /// The request callback has not run (the proxy replied before it did).
    #[default]
    Untouched,
    /// We answered a preflight; the proxy routes that reply back through
    /// the response callback, which must leave it alone.
    OwnReply,
    /// A rule with `"cors": "off"` matched: the upstream owns CORS here.
    Off,
    /// Forwarded; `origin` is kept only when the response must echo it,
    /// `debug` (the access-log record) only when the policy says `debug`.
    Forwarded { route: Route, forward: Forward, origin: Option<Vec<u8>>, debug: Option<String> },
    /// Report mode: the request headers, to decide against the response.
    Report { route: Route, request: HeaderList },
}

/// One request and its response.
#[derive(Debug, Default)]
pub struct Stream {
    state: State,
}

impl Stream {
    /// Decode: route, then either answer the preflight here or remember
    /// what the response will need.
    pub fn on_request_headers<H: Host>(&mut self, filter: &Filter, host: &mut H) -> Action {
        let headers = host.request_headers();
        let req = Request::from_headers(headers.pairs());
        let ruleset = &filter.ruleset;
        let route = ruleset.route_request_with(&req, host, |h| h.authority(), |h| filter.route_name(h));
        let Some(policy) = ruleset.policy(route) else {
            filter.note(host, route, Outcome::Off, &req, None);
            self.state = State::Off;
            return Action::Continue;
        };
        if ruleset.mode == Mode::Report {
            if policy.refuses_write(&req).is_some() {
                host.count(Count::Total(Counter::CrossOriginWriteWouldRefuse));
            }
            filter.note(host, route, Outcome::Report, &req, None);
            self.state = State::Report { route, request: HeaderList::from_pairs(headers.pairs()) };
            return Action::Continue;
        }
        if let Some(why) = policy.refuses_write(&req) {
            return self.refuse_write(filter, host, route, policy, &req, why);
        }
        match policy.decide(&req) {
            Decision::Preflight(reply) => self.answer_preflight(filter, host, route, policy, &req, &reply),
            Decision::Forward(forward) => {
                self.forward(filter, host, route, policy, &req, forward);
                Action::Continue
            }
        }
    }

    /// Encode: stamp the response of a forwarded request, whoever produced
    /// it; in report mode, compare and count.
    pub fn on_response_headers<H: Host>(&mut self, filter: &Filter, host: &mut H) {
        let ruleset = &filter.ruleset;
        let (route, stamp, debug) = match &self.state {
            State::OwnReply | State::Off => return,
            State::Report { route, request } => return report(filter, host, *route, request),
            State::Forwarded { route, forward, origin, debug } => {
                (*route, Stamp { forward: *forward, origin: origin.as_deref() }, debug.as_deref())
            }
            State::Untouched => match ruleset.untouched() {
                Some(forward) => (Route::Default, Stamp { forward, origin: None }, None),
                None => return,
            },
        };
        let Some(policy) = ruleset.policy(route) else {
            return;
        };
        let headers = host.response_headers();
        let mut sink = ResponseSink(host);
        let done = policy.rewrite_response(stamp, headers.pairs(), &mut sink);
        if done.removed > 0 {
            host.count(Count::Total(Counter::UpstreamCorsHeadersReplaced));
        }
        if let Some(record) = debug {
            host.set_response_header(header::DEBUG, record.as_bytes());
        }
    }

    /// Sends the engine's answer to a preflight; counts, records and
    /// explains it.
    fn answer_preflight<H: Host>(
        &mut self,
        filter: &Filter,
        host: &mut H,
        route: Route,
        policy: &Policy,
        req: &Request<'_>,
        reply: &PreflightReply<'_>,
    ) -> Action {
        let outcome = reply.rejected.map_or(Outcome::PreflightAllowed, Outcome::PreflightRejected);
        let record = filter.note(host, route, outcome, req, reply.detail);
        if reply.rejected.is_some() && host.log_enabled(Level::Debug) {
            host.log(Level::Debug, &log_line::preflight_rejected(req, reply, filter.ruleset.rule_name(route)));
        }
        let local = LocalReply {
            status: reply.status,
            details: outcome.response_details().unwrap_or(""),
            headers: &reply.headers,
            debug: policy.debug().then_some(record.as_str()),
            body: &reply.body,
        };
        if host.send_local_reply(&local) {
            self.state = State::OwnReply;
            return Action::Stop;
        }
        host.log(Level::Warn, "edge-cors: the host refused a local reply; forwarding the preflight");
        self.state = State::Forwarded { route, forward: Forward::Denied, origin: None, debug: None };
        Action::Continue
    }

    /// `block_cross_origin_writes`: answers a write from another site with a
    /// 403 (no CORS headers: the page may not read it either), never
    /// forwarded; counts, records and explains it.
    fn refuse_write<H: Host>(
        &mut self,
        filter: &Filter,
        host: &mut H,
        route: Route,
        policy: &Policy,
        req: &Request<'_>,
        why: CrossSite,
    ) -> Action {
        let record = filter.note(host, route, Outcome::WriteRefused, req, Some(why.as_str()));
        if host.log_enabled(Level::Debug) {
            host.log(Level::Debug, &log_line::write_refused(req, why, filter.ruleset.rule_name(route)));
        }
        let local = LocalReply {
            status: 403,
            details: Outcome::WriteRefused.response_details().unwrap_or(""),
            headers: &[],
            debug: policy.debug().then_some(record.as_str()),
            body: writes::REFUSED_BODY,
        };
        if host.send_local_reply(&local) {
            self.state = State::OwnReply;
            return Action::Stop;
        }
        host.log(Level::Warn, "edge-cors: the host refused a local reply; a cross-origin write goes to the upstream");
        self.state = State::Forwarded { route, forward: Forward::Denied, origin: None, debug: None };
        Action::Continue
    }

    /// Lets the request through, remembering what the response needs: the
    /// origin only when the response must echo it.
    fn forward<H: Host>(&mut self, filter: &Filter, host: &mut H, route: Route, policy: &Policy, req: &Request<'_>, forward: Forward) {
        let outcome = match (req.origin, forward) {
            (None, _) => Outcome::NotCors,
            (Some(_), Forward::Allowed) => Outcome::Allowed,
            (Some(_), _) => Outcome::Rejected,
        };
        let record = filter.note(host, route, outcome, req, None);
        if let (Outcome::Rejected, Some(origin), true) = (outcome, req.origin, host.log_enabled(Level::Debug)) {
            host.log(Level::Debug, &log_line::origin_refused(origin, filter.ruleset.rule_name(route)));
        }
        let keep_origin = forward == Forward::Allowed && !policy.is_public();
        let origin = if keep_origin { req.origin.map(<[u8]>::to_vec) } else { None };
        let debug = policy.debug().then_some(record);
        self.state = State::Forwarded { route, forward, origin, debug };
    }
}

/// Report mode: compare and count, change nothing.
fn report<H: Host>(filter: &Filter, host: &mut H, route: Route, request: &HeaderList) {
    let Some(policy) = filter.ruleset.policy(route) else {
        return;
    };
    let req = Request::from_headers(request.pairs());
    let response = host.response_headers();
    let diffs = report::compare(policy, &req, response.pairs());
    if diffs.is_empty() {
        return;
    }
    for d in &diffs {
        host.count(Count::Report(route, d.kind));
    }
    host.log(Level::Info, &log_line::report(filter.ruleset.rule_name(route), req.origin, &diffs));
}

/// The response rewrite's edits, sent to the proxy's response headers.
struct ResponseSink<'h, H>(&'h mut H);

impl<H: Host> HeaderSink for ResponseSink<'_, H> {
    fn remove(&mut self, name: &[u8]) {
        self.0.remove_response_header(name);
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        self.0.set_response_header(name, value);
    }
}
