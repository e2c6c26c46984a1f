//! The floor for a CORS filter on the proxy-wasm ABI: for each benchmark
//! scenario it makes the host calls edge-cors makes (one read of the request
//! headers, a counter, the 5-header preflight reply, one read of the response
//! headers and the same stamped headers), with fixed answers for the
//! benchmark's policy instead of a policy engine. `make bench` runs it beside
//! edge-cors: what edge-cors costs above it is its own logic; what it costs
//! above the empty filter is the ABI's price for the work itself.
#![cfg(target_arch = "wasm32")]

// edge-cors's own exports, host-call wrappers and header-map codec, compiled
// in by path (linking the edge-cors crate would bring its filter's exports
// along), so the floor is dispatched and crosses into Envoy exactly as
// edge-cors is and does.
#[path = "../src/abi.rs"]
#[allow(dead_code)]
mod abi;
#[path = "../src/contexts.rs"]
#[allow(dead_code)]
mod contexts;
#[path = "../src/host.rs"]
#[allow(dead_code)]
mod host;
#[path = "../src/sys.rs"]
#[allow(dead_code)]
mod sys;
#[path = "../src/wire.rs"]
#[allow(dead_code)]
mod wire;

use host::Map;

// Its own counter (through edge-cors's `sys`): the benchmark's Envoy should
// not mix it into edge-cors's.
use sys::{proxy_define_metric, proxy_increment_metric};

const ORIGIN: &[u8] = b"https://app.example.com";

use contexts::{CONTINUE, PAUSE};

abi::export_abi!(Root);

#[derive(Default)]
struct Root {
    counter: u32,
}

impl contexts::Root for Root {
    type Stream = Stream;

    fn on_configure(&mut self) -> bool {
        let name = "abi_floor.requests";
        // SAFETY: `name` is a live `str`, the counter a live field (sys.rs contract).
        unsafe { proxy_define_metric(0, name.as_ptr(), name.len(), &mut self.counter) };
        true
    }

    fn create_stream(&mut self) -> Stream {
        Stream { counter: self.counter, own_reply: false, allowed: false }
    }
}

#[derive(Default)]
struct Stream {
    counter: u32,
    own_reply: bool,
    allowed: bool,
}

/// The value of `name` in a serialised header map.
fn find<'a>(pairs: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    host::pairs(pairs).find(|(k, _)| *k == name).map(|(_, v)| v)
}

impl contexts::Stream for Stream {
    fn on_request_headers(&mut self) -> u32 {
        let headers = host::header_pairs(Map::Request);
        let origin = find(&headers, b"origin");
        if origin.is_some() {
            // SAFETY: plain integers, no pointer.
            unsafe { proxy_increment_metric(self.counter, 1) };
        }
        self.allowed = origin == Some(ORIGIN);
        // edge-cors leaves its access-log record on every request it handles.
        host::set_property("edge_cors", b"rule=default decision=allowed reason=none origin=https://app.example.com");
        if find(&headers, b":method") == Some(b"OPTIONS") && find(&headers, b"access-control-request-method").is_some() {
            // The reply edge-cors sends for the benchmark's allowed preflight, serialised.
            let reply = [
                ("access-control-allow-origin", "https://app.example.com"),
                ("access-control-allow-methods", "GET, POST"),
                ("access-control-allow-headers", "content-type, authorization"),
                ("access-control-max-age", "3600"),
                ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
            ];
            host::send_local_response(204, "edge_cors_preflight_allowed", &reply, "");
            self.own_reply = true;
            return PAUSE;
        }
        CONTINUE
    }

    fn on_response_headers(&mut self) -> u32 {
        if self.own_reply {
            return CONTINUE;
        }
        let _headers = host::header_pairs(Map::Response);
        if self.allowed {
            host::set_header(Map::Response, "access-control-allow-origin", ORIGIN);
            host::set_header(Map::Response, "access-control-expose-headers", b"etag, x-request-id");
        }
        host::set_header(Map::Response, "vary", b"Origin");
        CONTINUE
    }
}
