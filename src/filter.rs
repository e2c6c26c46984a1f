//! The proxy-wasm adapter: read the headers a decision needs, ask the
//! engine, apply its answer, count and log it. No CORS rule lives here.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

use crate::config::Mode;
use crate::host::{self, Level, Map};
use crate::metrics::{Counter, Metrics};
use crate::policy::{Decision, Forward, Rejection, Request};
use crate::report::{self, DiffKind};
use crate::response::{HeaderSink, Stamp};
use crate::rules::{self, Config, RuleIndex};

// No panic hook of our own: should a panic ever happen (the request path has
// no unwrap, no panicking index and no SDK helper that panics), std's default
// hook, linked in either way, writes the message and its source location to
// stderr, which Envoy logs, before the VM traps.
proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(CorsRoot { shared: None }) });
}}

struct Shared {
    config: Config,
    metrics: Metrics,
    /// Whether the host's failure to name the route was logged already.
    route_name_warned: std::cell::Cell<bool>,
}

struct CorsRoot {
    shared: Option<Rc<Shared>>,
}

impl Context for CorsRoot {}

impl RootContext for CorsRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        match Config::from_json(&host::plugin_configuration()) {
            Ok(config) => {
                let mut names = vec!["default"];
                names.extend(config.rules.iter().map(|r| &*r.name));
                let report_names: &[&str] = if config.mode == Mode::Report { &names } else { &[] };
                let metrics = Metrics::define(report_names);
                self.shared = Some(Rc::new(Shared { config, metrics, route_name_warned: std::cell::Cell::new(false) }));
                true
            }
            Err(errors) => {
                // One line: the host shows it next to its own rejection.
                host::log(Level::Error, &errors.to_string());
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(CorsStream { shared: self.shared.clone(), state: State::Untouched }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
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
    /// Forwarded; `origin` is kept only when the response must echo it.
    Forwarded { route: RuleIndex, forward: Forward, origin: Option<Vec<u8>> },
    /// Report mode: the request headers, to decide against the response.
    Report { route: RuleIndex, request: Vec<u8> },
}

struct CorsStream {
    /// None only when the host runs requests without a valid configuration
    /// (hosts that configure lazily); the filter then changes nothing.
    shared: Option<Rc<Shared>>,
    state: State,
}

impl Context for CorsStream {}

/// A header value for a log line: quoted, shortened, control bytes escaped.
fn shown(value: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(value).chars().take(200).flat_map(char::escape_default).collect();
    format!("\"{text}\"")
}

impl HttpContext for CorsStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return Action::Continue;
        };
        let config = &shared.config;
        // One host call for all headers: each separate lookup would cross
        // into the host and back into our allocator.
        let headers = host::header_pairs(Map::RequestHeaders);
        let route = if config.has_rules() {
            let t = rules::target_parts(host::pairs(&headers));
            // APISIX leaves `:authority` out of the list but answers it by
            // name; ask before falling back to `Host`.
            let by_name = if t.authority.is_none() { host::header_value(Map::RequestHeaders, ":authority") } else { None };
            let route_name = if config.uses_route_names() { route_name(&shared) } else { None };
            config.route(t.authority.or(by_name.as_deref()).or(t.host), t.path, route_name.as_deref())
        } else {
            None
        };
        let Some(policy) = config.policy(route) else {
            self.state = State::Off;
            return Action::Continue;
        };
        if config.mode == Mode::Report {
            self.state = State::Report { route, request: headers };
            return Action::Continue;
        }
        let req = Request::from_headers(host::pairs(&headers));
        match policy.decide(&req) {
            Decision::Preflight(reply) => {
                let origin = req.origin.unwrap_or_default();
                match reply.rejected {
                    None => shared.metrics.count(Counter::PreflightAllowed),
                    Some(why) => {
                        let (counter, what) = match why {
                            Rejection::Origin => (Counter::PreflightRejectedOrigin, "origin not allowed".to_string()),
                            Rejection::Method => (
                                Counter::PreflightRejectedMethod,
                                format!("method {} not allowed", shown(req.request_method.unwrap_or_default())),
                            ),
                            Rejection::Header => (
                                Counter::PreflightRejectedHeader,
                                match reply.detail {
                                    Some(name) => format!("header {} not allowed", shown(name.as_bytes())),
                                    None => format!("malformed header list {}", shown(req.request_headers.unwrap_or_default())),
                                },
                            ),
                        };
                        shared.metrics.count(counter);
                        host::log(
                            Level::Debug,
                            &format!(
                                "edge-cors: preflight from {} rejected by rule \"{}\": {what}",
                                shown(origin),
                                config.rule_name(route)
                            ),
                        );
                    }
                }
                if host::send_local_response(reply.status, &reply.headers, &reply.body) {
                    self.state = State::OwnReply;
                    return Action::Pause;
                }
                host::log(Level::Warn, "edge-cors: the host refused a local reply; forwarding the preflight");
                self.state = State::Forwarded { route, forward: Forward::Denied, origin: None };
                Action::Continue
            }
            Decision::Forward(forward) => {
                if let Some(origin) = req.origin {
                    if forward == Forward::Allowed {
                        shared.metrics.count(Counter::RequestAllowed);
                    } else {
                        shared.metrics.count(Counter::RequestRejectedOrigin);
                        host::log(
                            Level::Debug,
                            &format!(
                                "edge-cors: origin {} not allowed by rule \"{}\"; the response gets no CORS headers",
                                shown(origin),
                                config.rule_name(route)
                            ),
                        );
                    }
                }
                let keep_origin = forward == Forward::Allowed && !policy.is_public();
                let origin = if keep_origin { req.origin.map(<[u8]>::to_vec) } else { None };
                self.state = State::Forwarded { route, forward, origin };
                Action::Continue
            }
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.as_deref() else {
            return Action::Continue;
        };
        let config = &shared.config;
        let (route, stamp) = match &self.state {
            State::OwnReply | State::Off => return Action::Continue,
            State::Report { route, request } => {
                self.report(shared, *route, request);
                return Action::Continue;
            }
            State::Forwarded { route, forward, origin } => (*route, Stamp { forward: *forward, origin: origin.as_deref() }),
            State::Untouched => {
                // Nothing is known of the request: treat it as one without Origin.
                if config.mode == Mode::Report {
                    return Action::Continue;
                }
                match config.default.decide(&Request::default()) {
                    Decision::Forward(forward) => (None, Stamp { forward, origin: None }),
                    Decision::Preflight(_) => return Action::Continue,
                }
            }
        };
        let Some(policy) = config.policy(route) else {
            return Action::Continue;
        };
        let headers = host::header_pairs(Map::ResponseHeaders);
        let done = policy.rewrite_response(stamp, host::pairs(&headers), &mut ResponseHeaders);
        if done.removed > 0 {
            shared.metrics.count(Counter::UpstreamCorsHeadersReplaced);
        }
        Action::Continue
    }
}

impl CorsStream {
    /// Report mode: compare and count, change nothing.
    fn report(&self, shared: &Shared, route: RuleIndex, request: &[u8]) {
        let Some(policy) = shared.config.policy(route) else {
            return;
        };
        let req = Request::from_headers(host::pairs(request));
        let response = host::header_pairs(Map::ResponseHeaders);
        let diffs = report::compare(policy, &req, host::pairs(&response));
        if diffs.is_empty() {
            return;
        }
        let rule = route.map_or(0, |i| i + 1);
        let mut line =
            format!("edge-cors report: rule \"{}\", origin {}:", shared.config.rule_name(route), shown(req.origin.unwrap_or(b"(none)")));
        for d in &diffs {
            let kind = match d.kind {
                DiffKind::Missing => 0,
                DiffKind::Extra => 1,
                DiffKind::Different => 2,
            };
            shared.metrics.count_report(rule, kind);
            line.push_str(&format!(
                " {} {} (edge-cors: {}, upstream: {});",
                d.kind.as_str(),
                d.header,
                d.expected.as_deref().map_or("none".to_string(), |v| shown(v.as_bytes())),
                d.actual.as_deref().map_or("none".to_string(), |v| shown(v.as_bytes())),
            ));
        }
        host::log(Level::Info, &line);
    }
}

/// The proxy's name for the request's route (Envoy: `xds.route_name`).
/// A host that cannot answer makes rules with `match.routes` never match:
/// counted on every request, logged once per VM.
fn route_name(shared: &Shared) -> Option<Vec<u8>> {
    match host::property(b"xds\0route_name") {
        Ok(name) if !name.is_empty() => Some(name),
        status => {
            shared.metrics.count(Counter::RouteNameUnavailable);
            if !shared.route_name_warned.replace(true) {
                let why = match status {
                    Ok(_) => "an empty name".to_string(),
                    Err(code) => format!("status {code}"),
                };
                host::log(
                    Level::Warn,
                    &format!("edge-cors: the host gave no route name ({why}); rules with match.routes do not match such requests (counted in edge_cors.route_name_unavailable)"),
                );
            }
            None
        }
    }
}

struct ResponseHeaders;

impl HeaderSink for ResponseHeaders {
    fn remove(&mut self, name: &[u8]) {
        host::remove_header(Map::ResponseHeaders, name);
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        host::set_header(Map::ResponseHeaders, name, value);
    }
}
