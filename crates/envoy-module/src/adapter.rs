//! The engine's host operations on Envoy's dynamic-module callbacks, over a
//! small safe trait ([`EnvoyStream`]) that `envoy.rs` implements with the
//! real callbacks and the tests below with a fake. No CORS rule lives here.

use edge_cors_engine::lifecycle::{self, reads_response_header, Count, HeaderPairs, LocalReply};
use edge_cors_engine::response::HeaderList;

use crate::metrics::Metrics;

/// Envoy's header maps, by the ABI's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    Request,
    Response,
}

/// Envoy's log levels, by the ABI's numbers.
pub fn level(level: lifecycle::Level) -> u32 {
    match level {
        lifecycle::Level::Debug => 1,
        lifecycle::Level::Info => 2,
        lifecycle::Level::Warn => 3,
        lifecycle::Level::Error => 4,
    }
}

/// The per-stream Envoy calls the adapter makes, safe.
pub trait EnvoyStream {
    /// The request headers as Envoy lends them for the running hook.
    type Lent: HeaderPairs;
    /// Every request header, without a copy (valid for the hook: the
    /// lifecycle never sets a request header).
    fn lend_request_headers(&mut self) -> Self::Lent;
    /// Copies the headers of `map` whose names `keep` accepts (Envoy's
    /// buffers die at the next setter on the map, so what is kept is copied).
    fn copy_headers(&mut self, map: Map, keep: fn(&[u8]) -> bool) -> HeaderList;
    /// One header by name (the first value).
    fn header(&mut self, map: Map, name: &str) -> Option<Vec<u8>>;
    /// Replaces every header of `name` with `value`, or removes them (None).
    fn set_header(&mut self, map: Map, name: &[u8], value: Option<&[u8]>);
    fn send_response(&mut self, status: u32, headers: &[(&str, &str)], body: &str, details: &str);
    fn set_filter_state(&mut self, key: &str, value: &[u8]);
    /// `xds.route_name`; None where Envoy has none (no route matched).
    fn route_name(&mut self) -> Option<Vec<u8>>;
    fn increment(&mut self, id: usize);
    fn log(&mut self, level: u32, message: &str);
    fn log_enabled(&mut self, level: u32) -> bool;
}

/// The filter-state key of the access-log record:
/// `%FILTER_STATE(edge_cors:PLAIN)%`.
pub const RECORD_KEY: &str = "edge_cors";

/// The most headers a local reply carries: the preflight's and the debug one.
const MAX_REPLY_HEADERS: usize = 10;

/// [`lifecycle::Host`] for one Envoy stream.
pub struct Adapter<'a, E> {
    pub envoy: E,
    pub metrics: &'a Metrics,
}

impl<E: EnvoyStream> lifecycle::Host for Adapter<'_, E> {
    type RequestHeaders = E::Lent;
    type ResponseHeaders = HeaderList;

    fn request_headers(&mut self) -> E::Lent {
        self.envoy.lend_request_headers()
    }

    fn response_headers(&mut self) -> HeaderList {
        self.envoy.copy_headers(Map::Response, reads_response_header)
    }

    fn authority(&mut self) -> Option<Vec<u8>> {
        self.envoy.header(Map::Request, ":authority")
    }

    fn route_name(&mut self) -> Result<Vec<u8>, u32> {
        // Envoy answers false when no route matched: an empty name.
        Ok(self.envoy.route_name().unwrap_or_default())
    }

    fn send_local_reply(&mut self, reply: &LocalReply<'_>) -> bool {
        let mut headers = [("", ""); MAX_REPLY_HEADERS];
        let mut len = 0;
        for (slot, pair) in headers.iter_mut().zip(reply.header_pairs()) {
            *slot = pair;
            len += 1;
        }
        self.envoy.send_response(reply.status, headers.get(..len).unwrap_or(&[]), reply.body, reply.details);
        // Envoy's send_response cannot refuse.
        true
    }

    fn set_response_header(&mut self, name: &str, value: &[u8]) {
        self.envoy.set_header(Map::Response, name.as_bytes(), Some(value));
    }

    fn remove_response_header(&mut self, name: &[u8]) {
        self.envoy.set_header(Map::Response, name, None);
    }

    fn set_record(&mut self, record: &str) {
        self.envoy.set_filter_state(RECORD_KEY, record.as_bytes());
    }

    fn count(&mut self, count: Count) {
        for id in self.metrics.ids(count).into_iter().flatten() {
            self.envoy.increment(id);
        }
    }

    fn log(&mut self, level: lifecycle::Level, line: &str) {
        self.envoy.log(self::level(level), line);
    }

    fn log_enabled(&mut self, level: lifecycle::Level) -> bool {
        self.envoy.log_enabled(self::level(level))
    }
}

#[cfg(test)]
mod tests;
