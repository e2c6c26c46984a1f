//! The adapter against a fake of the callbacks it uses: the lifecycle's
//! answers arrive in Envoy's terms (header maps, a local reply, filter
//! state, metric ids).

use super::*;
use crate::metrics::Define;
use edge_cors_engine::lifecycle::{Action, Filter, Stream};
use edge_cors_engine::rules::Ruleset;

/// A local reply as sent: status, headers, body, details.
type Sent = (u32, Vec<(String, String)>, String, String);

#[derive(Default)]
struct FakeEnvoy {
    request: HeaderList,
    response: HeaderList,
    sent: Vec<Sent>,
    state: Vec<(String, String)>,
    bumped: Vec<usize>,
    copied: Vec<usize>,
    lent: usize,
    logs: Vec<(u32, String)>,
    log_level: u32,
}

impl EnvoyStream for &mut FakeEnvoy {
    type Lent = HeaderList;

    fn lend_request_headers(&mut self) -> HeaderList {
        self.lent += 1;
        self.request.clone()
    }
    fn copy_headers(&mut self, map: Map, keep: fn(&[u8]) -> bool) -> HeaderList {
        let from = if map == Map::Request { &self.request } else { &self.response };
        let kept = HeaderList::from_pairs(from.pairs().filter(|(n, _)| keep(n)));
        self.copied.push(kept.headers.len());
        kept
    }
    fn header(&mut self, map: Map, name: &str) -> Option<Vec<u8>> {
        let from = if map == Map::Request { &self.request } else { &self.response };
        from.values(name).next().map(<[u8]>::to_vec)
    }
    fn set_header(&mut self, map: Map, name: &[u8], value: Option<&[u8]>) {
        let to = if map == Map::Request { &mut self.request } else { &mut self.response };
        use edge_cors_engine::response::HeaderSink;
        match value {
            Some(v) => to.set(&String::from_utf8_lossy(name), v),
            None => to.remove(name),
        }
    }
    fn send_response(&mut self, status: u32, headers: &[(&str, &str)], body: &str, details: &str) {
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        self.sent.push((status, headers, body.to_string(), details.to_string()));
    }
    fn set_filter_state(&mut self, key: &str, value: &[u8]) {
        self.state.push((key.to_string(), String::from_utf8_lossy(value).into_owned()));
    }
    fn route_name(&mut self) -> Option<Vec<u8>> {
        None
    }
    fn increment(&mut self, id: usize) {
        self.bumped.push(id);
    }
    fn log(&mut self, level: u32, line: &str) {
        self.logs.push((level, line.to_string()));
    }
    fn log_enabled(&mut self, level: u32) -> bool {
        level >= self.log_level
    }
}

struct Ids(usize);

impl Define for Ids {
    fn counter(&mut self, _: &str) -> Result<usize, u32> {
        self.0 += 1;
        Ok(self.0)
    }
}

fn setup(json: &str) -> (Filter, Metrics) {
    let ruleset = Ruleset::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let metrics = Metrics::define(&ruleset, &mut Ids(0)).unwrap_or_default();
    (Filter::new(ruleset), metrics)
}

fn list(pairs: &[(&str, &str)]) -> HeaderList {
    HeaderList::from_pairs(pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
}

const POLICY: &str = r#"{"allow_origins": ["https://app.example"], "debug": true}"#;

#[test]
fn a_preflight_becomes_send_response_with_its_headers_details_and_record() {
    let (filter, metrics) = setup(POLICY);
    let mut envoy = FakeEnvoy {
        request: list(&[(":method", "OPTIONS"), ("origin", "https://app.example"), ("access-control-request-method", "GET")]),
        ..FakeEnvoy::default()
    };
    let action = Stream::default().on_request_headers(&filter, &mut Adapter { envoy: &mut envoy, metrics: &metrics });
    assert_eq!(action, Action::Stop);
    let (status, headers, body, details) = envoy.sent.first().cloned().unwrap_or_else(|| panic!("nothing sent"));
    assert_eq!((status, body.as_str(), details.as_str()), (204, "", "edge_cors_preflight_allowed"));
    assert!(headers.contains(&("access-control-allow-origin".into(), "https://app.example".into())), "{headers:?}");
    let record = envoy.state.first().cloned().unwrap_or_default();
    assert_eq!(record.0, "edge_cors");
    assert!(headers.contains(&("x-edge-cors".into(), record.1.clone())), "the debug header is the record: {headers:?}");
    // Counter ids are Envoy's, from 1 in definition order (Counter::ALL).
    assert_eq!(envoy.bumped, [1]);
}

#[test]
fn a_forwarded_response_is_rewritten_through_set_header() {
    let (filter, metrics) = setup(POLICY);
    let mut envoy = FakeEnvoy {
        request: list(&[(":method", "GET"), ("origin", "https://app.example"), ("cookie", "c"), ("user-agent", "u")]),
        response: list(&[(":status", "200"), ("access-control-allow-origin", "*"), ("content-type", "text/plain")]),
        ..FakeEnvoy::default()
    };
    let mut stream = Stream::default();
    let mut adapter = Adapter { envoy: &mut envoy, metrics: &metrics };
    assert_eq!(stream.on_request_headers(&filter, &mut adapter), Action::Continue);
    stream.on_response_headers(&filter, &mut adapter);
    let values = |name: &str| envoy.response.values(name).map(|v| String::from_utf8_lossy(v).into_owned()).collect::<Vec<_>>();
    assert_eq!(values("access-control-allow-origin"), ["https://app.example"]);
    assert_eq!(values("vary"), ["Origin"]);
    assert_eq!(values("content-type"), ["text/plain"], "other headers untouched");
    assert_eq!(values("x-edge-cors").len(), 1);
    assert_eq!(
        (envoy.lent, envoy.copied.as_slice()),
        (1, &[2][..]),
        "request headers lent, only the response's the lifecycle reads copied"
    );
    // request_allowed (5th counter), then upstream_cors_headers_replaced (7th).
    assert_eq!(envoy.bumped, [5, 7]);
}

#[test]
fn log_levels_are_envoys() {
    assert_eq!(level(lifecycle::Level::Debug), 1);
    assert_eq!(level(lifecycle::Level::Warn), 3);
    assert_eq!(level(lifecycle::Level::Error), 4);
}

/// A line below Envoy's level is neither formatted nor sent.
#[test]
fn debug_lines_are_built_only_when_envoy_would_log_them() {
    let (filter, metrics) = setup(POLICY);
    for (log_level, lines) in [(2, 0), (1, 1)] {
        let mut envoy =
            FakeEnvoy { request: list(&[(":method", "GET"), ("origin", "https://evil.example")]), log_level, ..FakeEnvoy::default() };
        Stream::default().on_request_headers(&filter, &mut Adapter { envoy: &mut envoy, metrics: &metrics });
        assert_eq!(envoy.logs.len(), lines, "at level {log_level}: {:?}", envoy.logs);
    }
}
