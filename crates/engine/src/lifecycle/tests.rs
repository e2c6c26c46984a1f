//! The whole lifecycle, driven natively through a fake host that records
//! every operation a shell would perform on its proxy.

use super::*;
use crate::response::HeaderList;

/// A local reply as the fake proxy saw it: status, details, headers, body.
type Sent = (u32, String, Vec<(String, String)>, String);

/// A proxy in memory: the request and response header maps, and a log of
/// what the lifecycle asked of it.
#[derive(Default)]
struct FakeHost {
    request: Vec<(&'static str, &'static str)>,
    response: HeaderList,
    authority_by_name: Option<&'static str>,
    route_name: Option<Result<&'static str, u32>>,
    refuse_replies: bool,
    replies: Vec<Sent>,
    records: Vec<String>,
    counts: Vec<Count>,
    logs: Vec<(Level, String)>,
    asked_authority: usize,
    asked_route_name: usize,
}

impl Host for FakeHost {
    type RequestHeaders = HeaderList;
    type ResponseHeaders = HeaderList;

    fn request_headers(&mut self) -> HeaderList {
        HeaderList::from_pairs(self.request.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    fn response_headers(&mut self) -> HeaderList {
        self.response.clone()
    }

    fn authority(&mut self) -> Option<Vec<u8>> {
        self.asked_authority += 1;
        self.authority_by_name.map(|a| a.as_bytes().to_vec())
    }

    fn route_name(&mut self) -> Result<Vec<u8>, u32> {
        self.asked_route_name += 1;
        match self.route_name {
            Some(Ok(name)) => Ok(name.as_bytes().to_vec()),
            Some(Err(code)) => Err(code),
            None => Ok(Vec::new()),
        }
    }

    fn send_local_reply(&mut self, reply: &LocalReply<'_>) -> bool {
        if self.refuse_replies {
            return false;
        }
        let headers = reply.header_pairs().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        self.replies.push((reply.status, reply.details.to_string(), headers, reply.body.to_string()));
        true
    }

    fn set_response_header(&mut self, name: &str, value: &[u8]) {
        self.response.set(name, value);
    }

    fn remove_response_header(&mut self, name: &[u8]) {
        self.response.remove(name);
    }

    fn set_record(&mut self, record: &str) {
        self.records.push(record.to_string());
    }

    fn count(&mut self, count: Count) {
        self.counts.push(count);
    }

    fn log(&mut self, level: Level, line: &str) {
        self.logs.push((level, line.to_string()));
    }
}

impl FakeHost {
    fn request(headers: &[(&'static str, &'static str)]) -> FakeHost {
        FakeHost { request: headers.to_vec(), ..FakeHost::default() }
    }

    fn upstream(mut self, headers: &[(&str, &str)]) -> FakeHost {
        self.response = HeaderList::from_pairs(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
        self
    }

    fn response_values(&self, name: &str) -> Vec<String> {
        self.response.values(name).map(|v| String::from_utf8_lossy(v).into_owned()).collect()
    }
}

fn filter(json: &str) -> Filter {
    Filter::new(Ruleset::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs both callbacks, as a proxy would for a forwarded request.
fn run(filter: &Filter, host: &mut FakeHost) -> Action {
    let mut stream = Stream::default();
    let action = stream.on_request_headers(filter, host);
    stream.on_response_headers(filter, host);
    action
}

const APP: &str = r#"{"allow_origins": ["https://app.example"], "allow_methods": ["GET", "PUT"]}"#;

const PREFLIGHT: [(&str, &str); 5] = [
    (":method", "OPTIONS"),
    (":authority", "api.example"),
    (":path", "/x"),
    ("origin", "https://app.example"),
    ("access-control-request-method", "PUT"),
];

/// Contract: preflights are answered at the edge and never forwarded; the
/// reply carries response-code details, and the proxy's pass of that reply
/// through the response callback leaves it alone.
#[test]
fn an_allowed_preflight_is_answered_here_and_its_reply_left_alone() {
    let f = filter(APP);
    let mut host = FakeHost::request(&PREFLIGHT).upstream(&[(":status", "204"), ("access-control-allow-origin", "kept")]);
    assert_eq!(run(&f, &mut host), Action::Stop);
    let (status, details, headers, _) = host.replies.first().cloned().unwrap_or_else(|| panic!("no reply"));
    assert_eq!((status, details.as_str()), (204, "edge_cors_preflight_allowed"));
    assert!(headers.contains(&("access-control-allow-origin".into(), "https://app.example".into())), "{headers:?}");
    assert!(headers.contains(&("access-control-allow-methods".into(), "GET, PUT".into())), "{headers:?}");
    assert_eq!(host.counts, [Count::Decision(Route::Default, Counter::PreflightAllowed)]);
    assert_eq!(host.records.len(), 1);
    assert!(host.records[0].contains("decision=preflight_allowed"), "{:?}", host.records);
    assert_eq!(host.response_values("access-control-allow-origin"), ["kept"], "own reply untouched");
}

#[test]
fn a_rejected_preflight_is_a_403_explained_at_debug_level() {
    let f = filter(APP);
    let mut preflight = PREFLIGHT;
    preflight[4] = ("access-control-request-method", "DELETE");
    let mut host = FakeHost::request(&preflight);
    assert_eq!(run(&f, &mut host), Action::Stop);
    let (status, details, headers, body) = host.replies.first().cloned().unwrap_or_else(|| panic!("no reply"));
    assert_eq!((status, details.as_str()), (403, "edge_cors_preflight_rejected_method"));
    assert!(!headers.iter().any(|(n, _)| n == "access-control-allow-origin"), "{headers:?}");
    assert!(body.contains("DELETE"), "{body}");
    assert_eq!(host.counts, [Count::Decision(Route::Default, Counter::PreflightRejectedMethod)]);
    assert!(host.logs.iter().any(|(l, line)| *l == Level::Debug && line.contains("\"DELETE\"")), "{:?}", host.logs);
}

/// A proxy that refuses the local reply gets the preflight forwarded, and
/// its response carries no CORS permission.
#[test]
fn a_refused_local_reply_forwards_the_preflight_as_denied() {
    let f = filter(APP);
    let mut host = FakeHost::request(&PREFLIGHT).upstream(&[(":status", "200"), ("access-control-allow-origin", "*")]);
    host.refuse_replies = true;
    assert_eq!(run(&f, &mut host), Action::Continue);
    assert!(host.logs.iter().any(|(l, line)| *l == Level::Warn && line.contains("refused a local reply")));
    assert!(host.response_values("access-control-allow-origin").is_empty());
    assert_eq!(host.response_values("vary"), ["Origin"]);
}

/// Contract: forwarded responses from allowed origins get the CORS headers,
/// upstream `Access-Control-*` headers are replaced (and counted), and
/// `Vary` keeps what was there.
#[test]
fn an_allowed_request_has_its_response_stamped_and_upstream_headers_replaced() {
    let f = filter(APP);
    let req = [(":method", "GET"), (":authority", "api.example"), ("origin", "https://app.example")];
    let mut host = FakeHost::request(&req).upstream(&[(":status", "500"), ("access-control-allow-origin", "*"), ("vary", "Accept")]);
    assert_eq!(run(&f, &mut host), Action::Continue);
    assert_eq!(host.response_values("access-control-allow-origin"), ["https://app.example"]);
    assert_eq!(host.response_values("vary"), ["Accept, Origin"]);
    assert_eq!(host.counts, [Count::Decision(Route::Default, Counter::RequestAllowed), Count::Total(Counter::UpstreamCorsHeadersReplaced)]);
    assert!(host.replies.is_empty());
}

#[test]
fn a_refused_origin_is_forwarded_without_cors_headers_and_logged() {
    let f = filter(APP);
    let req = [(":method", "GET"), ("origin", "https://evil.example")];
    let mut host = FakeHost::request(&req).upstream(&[(":status", "200")]);
    run(&f, &mut host);
    assert!(host.response_values("access-control-allow-origin").is_empty());
    assert_eq!(host.response_values("vary"), ["Origin"]);
    assert_eq!(host.counts, [Count::Decision(Route::Default, Counter::RequestRejectedOrigin)]);
    assert!(host.logs.iter().any(|(l, line)| *l == Level::Debug && line.contains("evil.example")));
}

/// Contract: the proxy's own replies (sent before the filter saw the
/// request) are stamped as a request without `Origin`.
#[test]
fn a_response_the_request_callback_never_saw_is_stamped_as_without_origin() {
    let mut host = FakeHost::default().upstream(&[(":status", "503")]);
    Stream::default().on_response_headers(&filter(APP), &mut host);
    assert_eq!(host.response_values("vary"), ["Origin"]);
    let mut host = FakeHost::default().upstream(&[(":status", "503")]);
    Stream::default().on_response_headers(&filter(r#"{"allow_origins": ["*"]}"#), &mut host);
    assert_eq!(host.response_values("access-control-allow-origin"), ["*"]);
    assert!(host.counts.is_empty() && host.records.is_empty());
}

const RULES: &str = r#"{"allow_origins": ["https://app.example"], "rules": [
    {"name": "legacy", "match": {"path_prefix": "/legacy/"}, "cors": "off"},
    {"name": "named", "match": {"routes": ["payments"]}, "allow_origins": ["https://pay.example"]},
    {"name": "host", "match": {"hosts": ["h.example"]}, "allow_origins": ["https://h.example"], "debug": true}
]}"#;

#[test]
fn a_rule_with_cors_off_leaves_request_and_response_to_the_upstream() {
    let req = [(":method", "GET"), (":path", "/legacy/a"), ("origin", "https://app.example")];
    let mut host = FakeHost::request(&req).upstream(&[("access-control-allow-origin", "https://x.example")]);
    host.route_name = Some(Ok("other"));
    run(&filter(RULES), &mut host);
    assert_eq!(host.response_values("access-control-allow-origin"), ["https://x.example"]);
    assert!(host.response_values("vary").is_empty());
    assert!(host.records.first().is_some_and(|r| r.contains("rule=legacy") && r.contains("decision=off")), "{:?}", host.records);
}

/// Contract: a host that gives no route name makes `match.routes` rules
/// never match: counted on every request, logged once per filter.
#[test]
fn a_missing_route_name_is_counted_each_time_and_logged_once() {
    let f = filter(RULES);
    let mut warnings = 0;
    for _ in 0..3 {
        let mut host = FakeHost::request(&[(":method", "GET"), (":path", "/"), ("origin", "https://pay.example")]);
        host.route_name = Some(Err(2));
        run(&f, &mut host);
        assert!(host.counts.contains(&Count::Total(Counter::RouteNameUnavailable)));
        assert!(host.records.first().is_some_and(|r| r.contains("rule=default")), "{:?}", host.records);
        warnings += host.logs.iter().filter(|(l, line)| *l == Level::Warn && line.contains("status 2")).count();
    }
    assert_eq!(warnings, 1);
    let mut host = FakeHost::request(&[(":method", "GET"), ("origin", "https://pay.example")]);
    host.route_name = Some(Ok("payments"));
    run(&f, &mut host);
    assert!(host.records.first().is_some_and(|r| r.contains("rule=named")), "{:?}", host.records);
    assert_eq!(host.response_values("access-control-allow-origin"), ["https://pay.example"]);
}

/// `:authority` is asked by name only when the header list lacks it, and
/// the route name only when some rule needs it.
#[test]
fn host_calls_are_made_only_when_routing_needs_them() {
    let f = filter(RULES);
    let mut host = FakeHost::request(&[(":method", "GET"), (":authority", "h.example")]);
    run(&f, &mut host);
    assert_eq!((host.asked_authority, host.asked_route_name), (0, 1));
    let mut host = FakeHost::request(&[(":method", "GET")]);
    host.authority_by_name = Some("h.example");
    run(&f, &mut host);
    assert_eq!(host.asked_authority, 1);
    assert!(host.records.first().is_some_and(|r| r.contains("rule=host")), "{:?}", host.records);
    let mut host = FakeHost::request(&[(":method", "GET")]);
    run(&filter(APP), &mut host);
    assert_eq!((host.asked_authority, host.asked_route_name), (0, 0), "no rules, no routing calls");
}

/// Contract: with `debug`, the record is also the `x-edge-cors` header, on
/// local replies and forwarded responses; an upstream's own is removed.
#[test]
fn debug_puts_the_record_on_replies_and_responses() {
    let f = filter(RULES);
    let req = [(":method", "GET"), (":authority", "h.example"), ("origin", "https://h.example")];
    let mut host = FakeHost::request(&req).upstream(&[("x-edge-cors", "forged")]);
    run(&f, &mut host);
    let record = host.records.first().cloned().unwrap_or_default();
    assert!(record.contains("rule=host"), "{record}");
    assert_eq!(host.response_values("x-edge-cors"), [record]);
    let pre =
        [(":method", "OPTIONS"), (":authority", "h.example"), ("origin", "https://h.example"), ("access-control-request-method", "GET")];
    let mut host = FakeHost::request(&pre);
    run(&f, &mut host);
    let headers = host.replies.first().map(|r| r.2.clone()).unwrap_or_default();
    assert!(headers.iter().any(|(n, v)| n == "x-edge-cors" && v.contains("preflight_allowed")), "{headers:?}");
}

/// Contract: report mode changes nothing and counts each difference.
#[test]
fn report_mode_changes_nothing_and_counts_differences() {
    let f = filter(r#"{"mode": "report", "allow_origins": ["https://app.example"]}"#);
    let req = [(":method", "GET"), ("origin", "https://app.example")];
    let upstream = [(":status", "200"), ("access-control-allow-origin", "*")];
    let mut host = FakeHost::request(&req).upstream(&upstream);
    assert_eq!(run(&f, &mut host), Action::Continue);
    assert_eq!(host.response_values("access-control-allow-origin"), ["*"], "nothing changed");
    assert!(host.counts.contains(&Count::Report(Route::Default, DiffKind::Different)), "{:?}", host.counts);
    assert!(host.logs.iter().any(|(l, line)| *l == Level::Info && line.contains("edge-cors report")), "{:?}", host.logs);
    assert!(host.records.first().is_some_and(|r| r.contains("decision=report")));
    let mut host = FakeHost::request(&PREFLIGHT);
    assert_eq!(run(&f, &mut host), Action::Continue, "report mode never answers a preflight");
    assert!(host.replies.is_empty());
}

/// A shell that copies only the headers the lifecycle reads gets the same
/// decision, the same rewrite and the same report as with every header.
#[test]
fn the_headers_a_shell_may_skip_change_nothing() {
    let request: [(&str, &str); 9] = [
        (":method", "OPTIONS"),
        (":authority", "h.example"),
        (":path", "/api"),
        ("Origin", "https://h.example"),
        ("user-agent", "x"),
        ("Access-Control-Request-Method", "PUT"),
        ("access-control-request-headers", "x-a"),
        ("cookie", "c"),
        ("host", "h.example"),
    ];
    let response: [(&str, &str); 8] = [
        (":status", "200"),
        ("content-type", "text/plain"),
        ("Access-Control-Allow-Origin", "*"),
        ("vary", "accept"),
        ("timing-allow-origin", "*"),
        ("x-edge-cors", "forged"),
        ("set-cookie", "s"),
        ("access-control-max-age", "5"),
    ];
    let pick = |list: &[(&str, &str)], keep: fn(&[u8]) -> bool| {
        HeaderList::from_pairs(list.iter().filter(|(n, _)| keep(n.as_bytes())).map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    };
    let all = |list: &[(&str, &str)]| HeaderList::from_pairs(list.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    let (req_all, req_some) = (all(&request), pick(&request, reads_request_header));
    let (resp_all, resp_some) = (all(&response), pick(&response, reads_response_header));
    assert_eq!(req_some.headers.len(), 7);
    assert_eq!(resp_some.headers.len(), 6);
    let (a, b) = (Request::from_headers(req_all.pairs()), Request::from_headers(req_some.pairs()));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let policy = Policy::from_json(br#"{"allow_origins": ["https://h.example"], "timing_allow_origin": true, "debug": true}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let stamp = Stamp { forward: Forward::Allowed, origin: Some(b"https://h.example") };
    let rewrite = |existing: &HeaderList| {
        let mut out = existing.clone();
        policy.rewrite_response(stamp, existing.pairs(), &mut out);
        out.headers.retain(|(n, _)| reads_response_header(n));
        out
    };
    assert_eq!(rewrite(&resp_all), rewrite(&resp_some));
    let get = Request::from_headers([(&b":method"[..], &b"GET"[..]), (b"origin", b"https://h.example")]);
    assert_eq!(report::compare(&policy, &get, resp_all.pairs()), report::compare(&policy, &get, resp_some.pairs()));
}

/// Contract: "Cross-origin writes": a write from another site is answered
/// 403 at the edge (never forwarded), counted and recorded; report mode
/// only counts it; an allowed origin's write goes through.
#[test]
fn a_cross_site_write_is_refused_at_the_edge_or_counted_in_report_mode() {
    let f = filter(r#"{"allow_origins": ["https://app.example"], "block_cross_origin_writes": true, "debug": true}"#);
    let form = [(":method", "POST"), (":authority", "api.example"), ("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")];
    let mut host = FakeHost::request(&form).upstream(&[(":status", "200")]);
    assert_eq!(run(&f, &mut host), Action::Stop, "never forwarded");
    let (status, details, headers, body) = host.replies.first().cloned().unwrap_or_else(|| panic!("no reply"));
    assert_eq!((status, details.as_str()), (403, "edge_cors_cross_origin_write_refused"));
    assert!(body.contains("cross-origin write refused"), "{body}");
    assert!(!headers.iter().any(|(n, _)| n.starts_with("access-control-")), "{headers:?}");
    assert_eq!(host.counts, [Count::Decision(Route::Default, Counter::CrossOriginWriteRefused)]);
    let record = host.records.first().cloned().unwrap_or_default();
    assert!(record.contains("decision=write_refused reason=cross_origin_write") && record.contains("detail=sec-fetch-site"), "{record}");

    let mut allowed = form;
    allowed[2] = ("origin", "https://app.example");
    let mut host = FakeHost::request(&allowed).upstream(&[(":status", "200")]);
    assert_eq!(run(&f, &mut host), Action::Continue);
    assert_eq!(host.response_values("access-control-allow-origin"), ["https://app.example"]);

    let report = filter(r#"{"mode": "report", "allow_origins": ["https://app.example"], "block_cross_origin_writes": true}"#);
    let mut host = FakeHost::request(&form).upstream(&[(":status", "200")]);
    assert_eq!(run(&report, &mut host), Action::Continue, "report mode refuses nothing");
    assert!(host.replies.is_empty());
    assert!(host.counts.contains(&Count::Total(Counter::CrossOriginWriteWouldRefuse)), "{:?}", host.counts);
}
