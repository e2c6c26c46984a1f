//! The decisions: which policy applies, where the origin stands, what the
//! engine answers the preflight and the actual request, and what the
//! browser makes of both. No wording of the result here (see `text`).

use std::path::Path;

use edge_cors_engine::config::{fetched_origins, Mode, Names, PolicySpec, Refusal, MAX_BODY_BYTES};
use edge_cors_engine::fetch;
use edge_cors_engine::outcome::{self, Outcome};
use edge_cors_engine::policy::header::DEBUG;
use edge_cors_engine::rules::{Route, Ruleset};
use edge_cors_engine::{Decision, Forward, HeaderSink, Policy, Rejection, Request, Stamp};

use super::origin::{self, Live, OriginStatus};
use super::{Ask, Explained, Explanation, PreflightExchange, RouteTarget, Selected, Selection, Verdict};
use crate::commands::check::Checked;
use crate::fetch_check::{self, Check, PreflightNeed, Response};
use crate::Fatal;

/// Collects what the engine sets on a response.
struct Collect(Vec<(String, String)>);

impl HeaderSink for Collect {
    fn remove(&mut self, name: &[u8]) {
        self.0.retain(|(n, _)| !n.as_bytes().eq_ignore_ascii_case(name));
    }
    fn set(&mut self, name: &str, value: &[u8]) {
        self.remove(name.as_bytes());
        self.0.push((name.to_string(), String::from_utf8_lossy(value).into_owned()));
    }
}

/// Everything about `ask` under the checked policy `c`, decided by the
/// engine; `live_origins` a saved answer of the policy's origin service.
/// Err: an argument or a file that is not what it must be.
pub fn decide(ask: &Ask, c: Checked, target: &RouteTarget, live_origins: Option<&Path>) -> Result<Explained, Fatal> {
    if !c.is_ok() {
        return Ok(Explained::Refused(Box::new(c)));
    }
    let Some(spec) = c.spec.clone() else { return Err(Fatal("no policy".into())) };
    let Selected { spec, selection } = match select(&c, spec, target) {
        Ok(picked) => picked,
        Err(off) => return Ok(Explained::CorsOff(off)),
    };
    let sent = fetch_check::origin_as_sent(&ask.origin)?;
    let live = live_input(&spec, live_origins)?;
    let (origin, method, credentials) = (sent.origin.as_str(), ask.method.as_str(), ask.credentials);
    let need = fetch_check::preflight_need(method, &ask.headers);
    // Report mode: the filter forwards everything and changes no header;
    // what follows is what enforce mode would do, said as such.
    let report = c.config.as_ref().is_some_and(|config| config.mode == Mode::Report);
    let verdict_of_origin = origin::origin_verdict(&spec, &c, origin, &live);
    let origin_allowed = verdict_of_origin.status != OriginStatus::Refused;
    let wildcard_excluded = spec.headers == Names::Any && need.unsafe_names.iter().any(|h| h == fetch::WILDCARD_EXCLUDED_HEADER);

    // The filter's own union: the static list, then the live set it holds
    // (the saved answer, or the origin itself when explaining "if listed").
    let policy = Policy::new(spec.clone());
    if let Some(source) = policy.source() {
        source.live.replace(&verdict_of_origin.live);
    }
    let rule = selection.record_name();
    let mut checks: Vec<Check> = Vec::new();
    let mut refusal: Option<String> = None;
    let mut exchange = None;
    if need.needed {
        let (ex, rejected) = preflight(&policy, origin, method, &need, report, rule)?;
        checks.extend(fetch_check::judge_preflight(&ex.response, origin, method, &need, credentials));
        refusal = rejected.map(|why| match why {
            Rejection::Origin => verdict_of_origin.line.clone(),
            Rejection::Method => origin::method_reason(&spec, method),
            Rejection::Header => origin::header_reason(&spec, &need.unsafe_names),
        });
        exchange = Some(ex);
    }
    let preflight_allowed = fetch_check::allowed(&checks);
    let actual_response = if preflight_allowed {
        let (response, judged) = actual(&policy, origin, method, credentials, ask.status, rule)?;
        checks.extend(judged);
        Some(response)
    } else {
        None
    };
    let ok = fetch_check::allowed(&checks) && preflight_allowed;
    // A page on another site (what explain models) sends Sec-Fetch-Site:
    // cross-site; the filter refuses the write before CORS matters.
    let write_refused = !report && spec.block_writes && !["GET", "HEAD", "OPTIONS"].contains(&method) && !origin_allowed;
    let verdict = match (ok, verdict_of_origin.status == OriginStatus::IfListed) {
        _ if write_refused => Verdict::Blocked { reason: write_refused_reason(method) },
        (true, true) => Verdict::AllowedIfListed,
        (true, false) => Verdict::Allowed,
        (false, _) => Verdict::Blocked { reason: origin::verdict_reason(refusal, origin_allowed, &verdict_of_origin.line, &checks) },
    };
    Ok(Explained::Request(Box::new(Explanation {
        selection,
        origin: sent,
        live,
        report,
        method: ask.method.clone(),
        credentials,
        header_names: ask.headers.iter().map(|h| h.name.clone()).collect(),
        need,
        origin_verdict: verdict_of_origin,
        wildcard_excluded,
        status: ask.status,
        preflight: exchange,
        actual: actual_response,
        checks,
        verdict,
    })))
}

/// Why a write from another site never reaches the backend.
pub fn write_refused_reason(method: &str) -> String {
    format!(
        "block_cross_origin_writes: a {method} from an origin this policy does not allow is refused at the edge (403, never forwarded), whatever the browser would have done"
    )
}

/// Picks the policy the filter would use for `target`: the default or the
/// first matching rule's, and which. Err(the rule) when the rule turns CORS off.
fn select(c: &Checked, spec: PolicySpec, target: &RouteTarget) -> Result<Selected, Selection> {
    let no_rules = |spec| Selected { spec, selection: Selection::NoRules { target_given: target.is_given() } };
    let Some(full) = &c.config else { return Ok(no_rules(spec)) };
    if full.rules.is_empty() {
        return Ok(no_rules(spec));
    }
    let config = Ruleset::new(full.clone());
    let [host, path, route_name] = [&target.host, &target.path, &target.route].map(|v| v.as_deref());
    let route = config.route(host.map(str::as_bytes), path.map(str::as_bytes), route_name.map(str::as_bytes));
    let host = host.unwrap_or("(any host)");
    let path = path.unwrap_or("/");
    let default = |spec| Selected {
        spec,
        selection: Selection::Default {
            rules: full.rules.len(),
            host: host.to_string(),
            path: path.to_string(),
            target_given: target.is_given(),
        },
    };
    let Route::Rule(i) = route else { return Ok(default(spec)) };
    let Some(rule) = full.rules.get(i) else { return Ok(default(spec)) };
    let mut parts = Vec::new();
    if !rule.hosts.is_empty() {
        parts.push(format!("host {host}"));
    }
    if let Some(p) = &rule.path_prefix {
        parts.push(format!("{} {p}", if rule.separated { "path segments" } else { "path prefix" }));
    }
    if !rule.routes.is_empty() {
        parts.push(format!("route {}", route_name.unwrap_or("")));
    }
    let how = if parts.is_empty() { "every request".to_string() } else { parts.join(" and ") };
    let selection = Selection::Rule { index: i, name: rule.name.clone(), how };
    match &rule.policy {
        Some(p) => Ok(Selected { spec: p.clone(), selection }),
        None => Err(selection),
    }
}

/// The selected policy's live origins: `--live-origins FILE` read and
/// checked under the policy's `allow_credentials` and
/// `allow_insecure_origins`, exactly as the filter checks an answer.
fn live_input(spec: &PolicySpec, file: Option<&Path>) -> Result<Live, Fatal> {
    let Some(source) = &spec.source else {
        return Ok(Live::NoSource { ignored: file.map(|f| f.display().to_string()) });
    };
    let Some(file) = file else { return Ok(Live::Unknown(source.clone())) };
    let name = file.display().to_string();
    let bytes = std::fs::read(file).map_err(|e| Fatal(format!("cannot read --live-origins {name}: {e}")))?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Fatal(format!(
            "--live-origins {name}: {} bytes, over the filter's limit of {MAX_BODY_BYTES} (4 MiB): the filter refuses such an answer unread",
            bytes.len()
        )));
    }
    let entries = fetched_origins(&bytes, spec.credentials, spec.insecure).map_err(|Refusal { why, .. }| {
        Fatal(format!("--live-origins {name}: the filter would refuse this answer's additions (it only removes the origins it no longer lists): {why}"))
    })?;
    Ok(Live::Given { file: name, entries })
}

/// The preflight the browser sends and the engine's answer, and what the
/// engine refused.
fn preflight(
    policy: &Policy,
    origin: &str,
    method: &str,
    need: &PreflightNeed,
    report: bool,
    rule: &str,
) -> Result<(PreflightExchange, Option<Rejection>), Fatal> {
    let acrh = need.request_headers_value();
    let req = Request {
        method: b"OPTIONS",
        origin: Some(origin.as_bytes()),
        request_method: Some(method.as_bytes()),
        request_headers: acrh.as_deref().map(str::as_bytes),
        ..Request::default()
    };
    let Decision::Preflight(reply) = policy.decide(&req) else {
        return Err(Fatal("the engine did not treat the preflight as one".into()));
    };
    let mut headers: Vec<(String, String)> = reply.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    if policy.debug() && !report {
        let outcome = reply.rejected.map_or(Outcome::PreflightAllowed, Outcome::PreflightRejected);
        headers.push((DEBUG.into(), outcome::record(rule, outcome, Some(origin.as_bytes()), reply.detail)));
    }
    let response = Response { status: reply.status as u16, headers, body: reply.body.to_string() };
    let rejected = reply.rejected;
    Ok((PreflightExchange { request_headers: acrh, response }, rejected))
}

/// The actual response with the engine's headers, and the browser's checks of it.
fn actual(
    policy: &Policy,
    origin: &str,
    method: &str,
    credentials: bool,
    status: u16,
    rule: &str,
) -> Result<(Response, Vec<Check>), Fatal> {
    let req = Request { method: method.as_bytes(), origin: Some(origin.as_bytes()), ..Request::default() };
    let forward = match policy.decide(&req) {
        Decision::Forward(f) => f,
        Decision::Preflight(_) => return Err(Fatal("the engine treated the actual request as a preflight".into())),
    };
    let mut sink = Collect(vec![("content-type".into(), "application/json".into())]);
    let existing: Vec<(Vec<u8>, Vec<u8>)> = vec![(b"content-type".to_vec(), b"application/json".to_vec())];
    policy.rewrite_response(
        Stamp { forward, origin: Some(origin.as_bytes()) },
        existing.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
        &mut sink,
    );
    // `"debug": true`: the decision in a header of its own, as the filter adds it.
    if policy.debug() {
        let outcome = if forward == Forward::Allowed { Outcome::Allowed } else { Outcome::Rejected };
        sink.0.push((DEBUG.into(), outcome::record(rule, outcome, Some(origin.as_bytes()), None)));
    }
    let resp = Response { status, headers: sink.0, body: String::new() };
    let judged = fetch_check::judge_actual(&resp, origin, credentials);
    // A success has no error status to judge.
    let judged = judged.into_iter().filter(|c| c.name != "error status" || status >= 400).collect();
    Ok((resp, judged))
}
