//! The proxy-wasm adapter: the engine's request lifecycle
//! (`edge_cors_engine::lifecycle`) on the proxy-wasm ABI, and the root
//! context that configures it and runs the live-origin fetchers. No CORS
//! rule lives here.

use std::rc::Rc;

use crate::abi::export_abi;
use crate::contexts::{self, CONTINUE, PAUSE};
use crate::fetcher::Fetchers;
use crate::host::{self, Level, Map};
use crate::metrics::Metrics;
use edge_cors_engine::lifecycle::{self, Action, Count, Filter, HeaderPairs, LocalReply, Stream};
use edge_cors_engine::rules::Ruleset;

export_abi!(CorsRoot);

// No panic hook of our own: should a panic ever happen (the request path has
// no unwrap and no panicking index), std's default hook, linked in either
// way, writes the message and its source location to stderr, which Envoy
// logs, before the VM traps.

struct Shared {
    filter: Filter,
    metrics: Metrics,
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
            fetchers.answer(&shared.filter.ruleset, &shared.metrics, token, num_headers, body_size);
        }
    }

    fn on_configure(&mut self) -> bool {
        match Ruleset::from_json(&host::plugin_configuration()) {
            Ok(ruleset) => {
                let metrics = Metrics::define(&ruleset);
                let fetchers = match Fetchers::start(&ruleset, &metrics) {
                    Ok(f) => f,
                    Err(line) => {
                        host::log(Level::Error, &line);
                        return false;
                    }
                };
                self.fetchers = (!fetchers.is_empty()).then_some(fetchers);
                self.shared = Some(Rc::new(Shared { filter: Filter::new(ruleset), metrics }));
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
            fetchers.tick(&shared.filter.ruleset, &shared.metrics, true);
        }
    }

    fn create_stream(&mut self) -> CorsStream {
        CorsStream { shared: self.shared.clone(), stream: Stream::default() }
    }
}

/// One request/response (the host's HTTP context).
#[derive(Default)]
pub struct CorsStream {
    /// None only when the host runs requests without a valid configuration
    /// (hosts that configure lazily); the filter then changes nothing.
    shared: Option<Rc<Shared>>,
    stream: Stream,
}

impl contexts::Stream for CorsStream {
    fn on_request_headers(&mut self) -> u32 {
        let Some(shared) = self.shared.as_deref() else {
            return CONTINUE;
        };
        match self.stream.on_request_headers(&shared.filter, &mut ProxyWasm { metrics: &shared.metrics }) {
            Action::Continue => CONTINUE,
            Action::Stop => PAUSE,
        }
    }

    fn on_response_headers(&mut self) -> u32 {
        if let Some(shared) = self.shared.as_deref() {
            self.stream.on_response_headers(&shared.filter, &mut ProxyWasm { metrics: &shared.metrics });
        }
        CONTINUE
    }
}

/// The engine's host operations on the proxy-wasm ABI.
struct ProxyWasm<'m> {
    metrics: &'m Metrics,
}

/// A header map as the host serialises it: one buffer for all pairs (one
/// host call, one allocation, however many headers).
struct Serialized(Vec<u8>);

impl HeaderPairs for Serialized {
    fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        host::pairs(&self.0)
    }
}

impl lifecycle::Host for ProxyWasm<'_> {
    type RequestHeaders = Serialized;
    type ResponseHeaders = Serialized;

    fn request_headers(&mut self) -> Serialized {
        Serialized(host::header_pairs(Map::Request))
    }

    fn response_headers(&mut self) -> Serialized {
        Serialized(host::header_pairs(Map::Response))
    }

    fn authority(&mut self) -> Option<Vec<u8>> {
        host::header_value(Map::Request, ":authority")
    }

    /// Envoy: `xds.route_name`.
    fn route_name(&mut self) -> Result<Vec<u8>, u32> {
        host::property(b"xds\0route_name")
    }

    fn send_local_reply(&mut self, reply: &LocalReply<'_>) -> bool {
        if reply.debug.is_some() {
            let headers: Vec<(&str, &str)> = reply.header_pairs().collect();
            host::send_local_response(reply.status, reply.details, &headers, reply.body)
        } else {
            host::send_local_response(reply.status, reply.details, reply.headers, reply.body)
        }
    }

    fn set_response_header(&mut self, name: &str, value: &[u8]) {
        host::set_header(Map::Response, name, value);
    }

    fn remove_response_header(&mut self, name: &[u8]) {
        host::remove_header(Map::Response, name);
    }

    /// Envoy: filter state `wasm.edge_cors`, read as
    /// `%FILTER_STATE(wasm.edge_cors:PLAIN)%`.
    fn set_record(&mut self, record: &str) {
        host::set_property("edge_cors", record.as_bytes());
    }

    fn count(&mut self, count: Count) {
        self.metrics.count(count);
    }

    fn log(&mut self, level: lifecycle::Level, line: &str) {
        let level = match level {
            lifecycle::Level::Debug => Level::Debug,
            lifecycle::Level::Info => Level::Info,
            lifecycle::Level::Warn => Level::Warn,
            lifecycle::Level::Error => Level::Error,
        };
        host::log(level, line);
    }
}
