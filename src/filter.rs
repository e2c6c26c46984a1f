//! The proxy-wasm adapter: read the headers a decision needs, ask the
//! policy, apply its answer. No CORS rule lives here.

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};

use crate::host::{self, Level, Map};
use crate::policy::{Decision, Forward, Policy, Request};
use crate::response::{HeaderSink, Stamp};

proxy_wasm::main! {{
    // A panic should never happen (the request path has no unwrap, no
    // panicking index and no SDK helper that panics); if one does, say so
    // without pulling in formatting machinery.
    std::panic::set_hook(Box::new(|_| host::log(Level::Error, "edge-cors: internal error (panic); please report it")));
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(CorsRoot { policy: None }) });
}}

struct CorsRoot {
    policy: Option<Rc<Policy>>,
}

impl Context for CorsRoot {}

impl RootContext for CorsRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        match Policy::from_json(&host::plugin_configuration()) {
            Ok(policy) => {
                self.policy = Some(Rc::new(policy));
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
        Some(Box::new(CorsStream { policy: self.policy.clone(), state: State::Untouched }))
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
    /// Forwarded; `origin` is kept only when the response must echo it.
    Forwarded { forward: Forward, origin: Option<Vec<u8>> },
}

struct CorsStream {
    /// None only when the host runs requests without a valid configuration
    /// (hosts that configure lazily); the filter then changes nothing.
    policy: Option<Rc<Policy>>,
    state: State,
}

impl Context for CorsStream {}

impl HttpContext for CorsStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(policy) = self.policy.as_deref() else {
            return Action::Continue;
        };
        // One host call for all headers: each separate lookup would cross
        // into the host and back into our allocator.
        let headers = host::header_pairs(Map::RequestHeaders);
        let req = Request::from_headers(host::pairs(&headers));
        match policy.decide(&req) {
            Decision::Preflight(reply) => {
                if host::send_local_response(reply.status, &reply.headers, reply.body) {
                    self.state = State::OwnReply;
                    return Action::Pause;
                }
                host::log(Level::Warn, "edge-cors: the host refused a local reply; forwarding the preflight");
                self.state = State::Forwarded { forward: Forward::Denied, origin: None };
                Action::Continue
            }
            Decision::Forward(forward) => {
                let keep_origin = forward == Forward::Allowed && !policy.is_public();
                let origin = if keep_origin { req.origin.map(<[u8]>::to_vec) } else { None };
                self.state = State::Forwarded { forward, origin };
                Action::Continue
            }
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(policy) = self.policy.as_deref() else {
            return Action::Continue;
        };
        let stamp = match &self.state {
            State::OwnReply => return Action::Continue,
            State::Forwarded { forward, origin } => Stamp { forward: *forward, origin: origin.as_deref() },
            State::Untouched => match policy.decide(&Request::default()) {
                Decision::Forward(forward) => Stamp { forward, origin: None },
                Decision::Preflight(_) => return Action::Continue,
            },
        };
        let headers = host::header_pairs(Map::ResponseHeaders);
        policy.rewrite_response(stamp, host::pairs(&headers), &mut ResponseHeaders);
        Action::Continue
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
