//! `edge-cors explain`: for one request from a page, whether the browser
//! sends a preflight and why, the exact requests, the exact headers the
//! filter answers with (from the engine itself), and the browser's verdict.

use std::path::Path;

use clap::Args;
use edge_cors_engine::config::{fetched_origins, Mode, Names, PolicySpec, Refusal, SourceSpec, MAX_BODY_BYTES};
use edge_cors_engine::fetch;
use edge_cors_engine::origins::{OriginEntry, OriginSet, Port, Scheme};
use edge_cors_engine::outcome::{self, Outcome};
use edge_cors_engine::policy::header::DEBUG;
use edge_cors_engine::{Decision, Forward, HeaderSink, Policy, Rejection, Request, Stamp};

use super::check::{self, Checked};
use crate::fetch_check::{self, check_lines, Check, PreflightNeed, Response};
use crate::out::{status_line, Style};
use crate::{Fatal, PageRequest, Report};

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

/// Where the request goes, which picks the rule of a policy with rules.
#[derive(Args)]
pub struct RouteTarget {
    /// The request's host (matched against rules' `hosts`)
    #[arg(long)]
    host: Option<String>,
    /// The request's path (matched against rules' `path_prefix`)
    #[arg(long)]
    path: Option<String>,
    /// The proxy's route name (matched against rules' `routes`; Envoy's `xds.route_name`)
    #[arg(long)]
    route: Option<String>,
}

impl RouteTarget {
    fn is_given(&self) -> bool {
        self.host.is_some() || self.path.is_some() || self.route.is_some()
    }
}

/// Picks the policy the filter would use for `target`: the default or the
/// first matching rule's, with a line saying which. Err(message) when the
/// rule turns CORS off.
/// The policy that applies, the note saying which, and the rule's name as
/// the filter's record gives it (`default` for the top level).
fn select(c: &Checked, spec: PolicySpec, target: &RouteTarget, style: &Style) -> Result<(PolicySpec, String, String), String> {
    let bytes = match &c.found.raw {
        Some(b) => b.clone(),
        None => serde_json::to_vec(&serde_json::Value::Object(c.found.object.clone())).unwrap_or_default(),
    };
    let Ok(full) = edge_cors_engine::config::parse_config(&bytes) else {
        return Ok((spec, String::new(), "default".into()));
    };
    if full.rules.is_empty() {
        let note = if target.is_given() {
            format!("{} the policy has no rules: --host, --path and --route change nothing\n", style.dim("note:"))
        } else {
            String::new()
        };
        return Ok((spec, note, "default".into()));
    }
    let config = edge_cors_engine::rules::Ruleset::new(full.clone());
    let [host, path, route_name] = [&target.host, &target.path, &target.route].map(|v| v.as_deref());
    let route = config.route(host.map(str::as_bytes), path.map(str::as_bytes), route_name.map(str::as_bytes));
    let host = host.unwrap_or("(any host)");
    let path = path.unwrap_or("/");
    match route {
        edge_cors_engine::rules::Route::Default => {
            let mut note = format!(
                "rule: none of the {} rules matches host {host} path {path}: the top-level (default) policy applies\n",
                full.rules.len()
            );
            if !target.is_given() {
                note.push_str(&format!("{} the policy has rules: give --host, --path or --route to pick one\n", style.dim("note:")));
            }
            Ok((spec, note, "default".into()))
        }
        edge_cors_engine::rules::Route::Rule(i) => {
            let Some(rule) = full.rules.get(i) else { return Ok((spec, String::new(), "default".into())) };
            let mut parts = Vec::new();
            if !rule.hosts.is_empty() {
                parts.push(format!("host {host}"));
            }
            if let Some(p) = &rule.path_prefix {
                parts.push(format!("path prefix {p}"));
            }
            if !rule.routes.is_empty() {
                parts.push(format!("route {}", route_name.unwrap_or("")));
            }
            let how = if parts.is_empty() { "every request".to_string() } else { parts.join(" and ") };
            let line = format!("rule: rules[{i}] (\"{}\") matched {how}\n", rule.name);
            match &rule.policy {
                Some(p) => Ok((p.clone(), line, rule.name.clone())),
                None => Err(format!(
                    "{line}this rule has \"cors\": \"off\": edge-cors passes the request and the response through untouched, so the upstream's own CORS headers decide what the browser allows\n"
                )),
            }
        }
    }
}

/// What explain knows of the selected policy's live origins
/// (`allow_origins_from`).
enum Live {
    /// The policy has no source.
    NoSource,
    /// It has one, and no saved answer was given: the proxy fetches the list
    /// at run time, and explain cannot see it.
    Unknown(SourceSpec),
    /// `--live-origins FILE`: a saved answer, checked as the filter checks it.
    Given { file: String, entries: Vec<OriginEntry> },
}

/// How the origin fares: allowed, refused, or allowed only if the origin
/// service lists it (what follows is then explained as if it did).
#[derive(Clone, Copy, PartialEq, Eq)]
enum OriginStatus {
    Allowed,
    Refused,
    IfListed,
}

/// The selected policy's live origins: `--live-origins FILE` read and
/// checked under the policy's `allow_credentials` and
/// `allow_insecure_origins`, exactly as the filter checks an answer.
fn live_input(spec: &PolicySpec, file: Option<&Path>, style: &Style, s: &mut String) -> Result<Live, Fatal> {
    let Some(source) = &spec.source else {
        if let Some(file) = file {
            s.push_str(&format!(
                "{} the policy that applies has no allow_origins_from: --live-origins {} changes nothing\n",
                style.dim("note:"),
                file.display()
            ));
        }
        return Ok(Live::NoSource);
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

/// `status` is the actual response's, upstream's or the proxy's own;
/// `live_origins` a saved answer of the policy's origin service.
pub fn run(path: &Path, page: &PageRequest, status: u16, target: &RouteTarget, live_origins: Option<&Path>) -> Result<Report, Fatal> {
    let style = Style::stdout();
    let page_headers = fetch_check::parse_headers(&page.headers)?;
    if !(100..=599).contains(&status) {
        return Err(Fatal(format!("--status {status}: an HTTP status is 100 to 599")));
    }
    let method = fetch::normalise_method(&page.method);
    if !edge_cors_engine::token::is_token(method.as_bytes()) {
        return Err(Fatal(format!("--method {method:?} is not an HTTP method")));
    }
    let name = path.display().to_string();
    let c = check::load_one(path, "explain takes one: put it in a file of its own")?;
    if !c.is_ok() {
        let mut s = check::describe(&name, &c, &style);
        s.push_str(&style.fail("the filter refuses this policy (Envoy would not load it): fix it first, see `edge-cors check`"));
        s.push('\n');
        return Ok(Report { stdout: s, stderr: String::new(), ok: false });
    }
    let Some(spec) = c.spec.clone() else { return Err(Fatal("no policy".into())) };
    let (spec, mut s, rule) = match select(&c, spec, target, &style) {
        Ok(picked) => picked,
        Err(off) => return Ok(Report { stdout: off, stderr: String::new(), ok: true }),
    };
    let origin = origin_as_sent(&page.origin, &style, &mut s)?;
    let live = live_input(&spec, live_origins, &style, &mut s)?;
    let call = Call { origin: &origin, method, credentials: page.credentials };
    let need = fetch_check::preflight_need(method, &page_headers);
    // Report mode: the filter forwards everything and changes no header;
    // what follows is what enforce mode would do, said as such.
    let report = c.config.as_ref().is_some_and(|config| config.mode == Mode::Report);
    if report {
        s.push_str(&format!(
            "{} report: edge-cors forwards this {} to the upstream and changes no header; the upstream's answer decides\n",
            style.bold("mode:"),
            if need.needed { "preflight" } else { "request" }
        ));
    }

    // The request, in the browser's words.
    let creds_word = if call.credentials { "include" } else { "same-origin (no cookies cross-origin)" };
    let header_names: Vec<&str> = page_headers.iter().map(|h| h.name.as_str()).collect();
    s.push_str(&format!(
        "{}  {method} from {origin}, credentials: {creds_word}{}\n",
        style.bold("request  "),
        if header_names.is_empty() { String::new() } else { format!(", headers: {}", header_names.join(", ")) }
    ));
    let (origin_status, origin_line, live_entries) = origin_verdict(&spec, &c, &origin, &live);
    let origin_allowed = origin_status != OriginStatus::Refused;
    let if_listed = origin_status == OriginStatus::IfListed;
    s.push_str(&format!("{}  {origin_line}\n", style.bold("origin   ")));
    if if_listed {
        s.push_str(&format!(
            "{}  the answers below are edge-cors's once the origin service lists {origin}; until then it refuses it like any \
             origin not allowed (a preflight gets 403, a response no Access-Control-Allow-Origin)\n",
            style.bold("if listed")
        ));
    }
    if need.needed {
        s.push_str(&format!("{}  yes: {}\n", style.bold("preflight"), need.reasons.join("; ")));
    } else {
        s.push_str(&format!(
            "{}  no: {method} is CORS-safelisted and so is every header: the browser sends the request directly\n",
            style.bold("preflight")
        ));
    }
    if spec.headers == Names::Any && need.unsafe_names.iter().any(|h| h == fetch::WILDCARD_EXCLUDED_HEADER) {
        s.push_str(&format!(
            "{}  {} is never covered by *: edge-cors answers with the requested names, so it passes\n",
            style.dim("note     "),
            fetch::WILDCARD_EXCLUDED_HEADER
        ));
    }

    // The filter's own union: the static list, then the live set it holds
    // (the saved answer, or the origin itself when explaining "if listed").
    let policy = Policy::new(spec.clone());
    if let Some(source) = policy.source() {
        source.live.replace(&live_entries);
    }
    let mut checks: Vec<Check> = Vec::new();
    let mut refusal: Option<String> = None;
    let mut preflight_allowed = true;
    if need.needed {
        let (judged, rejected) = preflight(&policy, &call, &need, report, if_listed, &rule, &style, &mut s)?;
        preflight_allowed = fetch_check::allowed(&judged);
        checks.extend(judged);
        refusal = rejected.map(|why| match why {
            Rejection::Origin => origin_line.clone(),
            Rejection::Method => method_reason(&spec, method),
            Rejection::Header => header_reason(&spec, &need.unsafe_names),
        });
    }

    let once = if if_listed { ", once the origin service lists the origin" } else { "" };
    let title = if report {
        format!("actual response (status {status}): the headers enforce mode would set (report mode sets none){once}")
    } else {
        format!("actual response (status {status}, from the upstream or the proxy){once}")
    };
    s.push_str(&format!("\n{}\n", style.bold(&title)));
    if preflight_allowed {
        checks.extend(actual(&policy, &call, status, &rule, &mut s)?);
    } else {
        s.push_str("  not sent: the browser stops at the failed preflight\n");
    }

    // The browser's verdict, one line per check.
    s.push_str(&format!("\n{}\n", style.bold(if report { "browser, once the policy is enforced" } else { "browser" })));
    s.push_str(&check_lines(&checks, &style));
    let ok = fetch_check::allowed(&checks) && preflight_allowed;
    s.push('\n');
    if report {
        // Nothing edge-cors does decides this call: no verdict of its own.
        s.push_str(&style.warn(&format!(
            "report mode: edge-cors changes no header, so the upstream's own CORS headers decide whether the browser lets this {method} \
             from {origin} through (see them with `edge-cors probe <url> --origin {origin}`)"
        )));
        s.push('\n');
        let once = if ok && if_listed {
            "allowed only if the origin service lists it (explain cannot see that list)".to_string()
        } else if ok {
            "allowed".to_string()
        } else {
            format!("blocked ({})", verdict_reason(refusal, origin_allowed, &origin_line, &checks))
        };
        s.push_str(&format!("{} {once}\n", style.dim("once \"mode\" is \"enforce\":")));
        return Ok(Report { stdout: s, stderr: String::new(), ok: true });
    }
    if ok && if_listed {
        // Not a pass: the list the decision hangs on is not known here.
        s.push_str(&style.warn(&format!(
            "not decided: {method} from {origin} is allowed only if the origin service lists it (the proxy fetches that list \
             at run time; explain cannot see it): pass --live-origins FILE with a saved answer to decide"
        )));
    } else if ok {
        s.push_str(&style.ok(&format!("allowed: the browser lets this {method} from {origin} through")));
    } else {
        let why = verdict_reason(refusal, origin_allowed, &origin_line, &checks);
        let whatever = if if_listed { " (whether or not the origin service lists the origin)" } else { "" };
        s.push_str(&style.fail(&format!("blocked: {method} from {origin}: {why}{whatever}")));
    }
    s.push('\n');
    Ok(Report { stdout: s, stderr: String::new(), ok: ok && !if_listed })
}

/// Why the browser blocks the call: the engine's refusal, else the origin,
/// else the first blocking check.
fn verdict_reason(refusal: Option<String>, origin_allowed: bool, origin_line: &str, checks: &[Check]) -> String {
    refusal
        .or_else(|| (!origin_allowed).then(|| origin_line.to_string()))
        .map(|w| w.trim_start_matches("not allowed: ").to_string())
        .or_else(|| checks.iter().find(|c| c.blocks).map(|c| c.message.clone()))
        .unwrap_or_default()
}

/// The page's call as the browser makes it.
struct Call<'a> {
    /// As the browser sends it (see `origin_as_sent`).
    origin: &'a str,
    /// As Fetch sends it (`get` is sent as `GET`).
    method: &'a str,
    credentials: bool,
}

/// The `--origin` argument as a browser sends it: as given when a browser
/// could send it (the filter reads it the same way), otherwise in the form
/// a browser would send, with a note in `s` saying so.
pub fn origin_as_sent(origin: &str, style: &Style, s: &mut String) -> Result<String, Fatal> {
    match OriginEntry::parse(origin) {
        _ if edge_cors_engine::origins::is_request_origin(origin) => Ok(origin.to_string()),
        Ok(OriginEntry::Exact(canon)) => {
            if canon != origin {
                s.push_str(&format!("{} browsers send this origin as {canon}\n", style.dim("note:")));
            }
            Ok(canon)
        }
        Ok(OriginEntry::Null) => Ok("null".to_string()),
        Ok(_) => Err(Fatal(format!("--origin {origin:?} is a pattern; give the page's origin, such as https://app.example.com"))),
        Err(e) => Err(Fatal(format!("--origin {origin:?} {}; {}", e.problem, e.fix))),
    }
}

/// The preflight the browser sends and the engine's answer, written to `s`;
/// the browser's checks of that answer, and what the engine refused.
#[allow(clippy::too_many_arguments)]
fn preflight(
    policy: &Policy,
    call: &Call<'_>,
    need: &PreflightNeed,
    report: bool,
    if_listed: bool,
    rule: &str,
    style: &Style,
    s: &mut String,
) -> Result<(Vec<Check>, Option<Rejection>), Fatal> {
    let Call { origin, method, .. } = *call;
    let acrh = need.request_headers_value();
    s.push_str(&format!("\n{}\n", style.bold("preflight request (sent by the browser, without cookies)")));
    s.push_str("  OPTIONS <url>\n");
    s.push_str(&format!("  origin: {origin}\n  access-control-request-method: {method}\n"));
    if let Some(v) = &acrh {
        s.push_str(&format!("  access-control-request-headers: {v}\n"));
    }
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
    let resp = Response { status: reply.status as u16, headers, body: reply.body.to_string() };
    let title = if report {
        "what enforce mode would answer (report mode forwards the preflight instead, and logs where the upstream's answer differs)"
    } else {
        "preflight response (from edge-cors; the upstream never sees the preflight)"
    };
    let once = if if_listed { ", once the origin service lists the origin" } else { "" };
    s.push_str(&format!("\n{}\n", style.bold(&format!("{title}{once}"))));
    s.push_str(&format!("  {}{}\n", if report { "would be " } else { "" }, status_line(resp.status)));
    for (n, v) in &resp.headers {
        s.push_str(&format!("  {n}: {v}\n"));
    }
    if !resp.body.is_empty() {
        s.push_str(&format!("\n  {}\n", resp.body.trim_end()));
    }
    Ok((fetch_check::judge_preflight(&resp, origin, method, need, call.credentials), reply.rejected))
}

/// The actual response with the engine's headers, written to `s`, and the
/// browser's checks of it.
fn actual(policy: &Policy, call: &Call<'_>, status: u16, rule: &str, s: &mut String) -> Result<Vec<Check>, Fatal> {
    let req = Request { method: call.method.as_bytes(), origin: Some(call.origin.as_bytes()), ..Request::default() };
    let forward = match policy.decide(&req) {
        Decision::Forward(f) => f,
        Decision::Preflight(_) => return Err(Fatal("the engine treated the actual request as a preflight".into())),
    };
    let mut sink = Collect(vec![("content-type".into(), "application/json".into())]);
    let existing: Vec<(Vec<u8>, Vec<u8>)> = vec![(b"content-type".to_vec(), b"application/json".to_vec())];
    policy.rewrite_response(
        Stamp { forward, origin: Some(call.origin.as_bytes()) },
        existing.iter().map(|(n, v)| (n.as_slice(), v.as_slice())),
        &mut sink,
    );
    // `"debug": true`: the decision in a header of its own, as the filter adds it.
    if policy.debug() {
        let outcome = if forward == Forward::Allowed { Outcome::Allowed } else { Outcome::Rejected };
        sink.0.push((DEBUG.into(), outcome::record(rule, outcome, Some(call.origin.as_bytes()), None)));
    }
    s.push_str(&format!("  {}\n", status_line(status)));
    for (n, v) in &sink.0 {
        s.push_str(&format!("  {n}: {v}\n"));
    }
    let resp = Response { status, headers: sink.0, body: String::new() };
    let judged = fetch_check::judge_actual(&resp, call.origin, call.credentials);
    // A success has no error status to judge.
    Ok(judged.into_iter().filter(|c| c.name != "error status" || status >= 400).collect())
}

/// Which `allow_origins` entry (or live origin) matches, or precisely why
/// none does; and the live set the filter would hold for this explanation.
fn origin_verdict(spec: &PolicySpec, c: &Checked, origin: &str, live: &Live) -> (OriginStatus, String, Vec<OriginEntry>) {
    let raw: Vec<String> = ["allow_origins", "AllowOrigins"]
        .iter()
        .filter_map(|k| c.found.object.get(*k))
        .filter_map(|v| v.as_array())
        .flat_map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)))
        .collect();
    let matches = |e: &OriginEntry| OriginSet::new(std::slice::from_ref(e)).allows(origin.as_bytes());
    let given = match live {
        Live::Given { entries, .. } => entries.clone(),
        _ => Vec::new(),
    };
    if let Some(e) = spec.origins.iter().find(|e| matches(e)) {
        let shown = raw.iter().find(|r| OriginEntry::parse(r).as_ref() == Ok(e)).cloned().unwrap_or_else(|| e.to_string());
        return (OriginStatus::Allowed, format!("allowed: matches allow_origins entry {shown:?}"), given);
    }
    let static_list = if spec.origins.is_empty() {
        "empty".to_string()
    } else {
        spec.origins.iter().map(OriginEntry::to_string).collect::<Vec<_>>().join(", ")
    };
    match live {
        Live::Given { file, entries } => {
            if let Some(e) = entries.iter().find(|e| matches(e)) {
                return (OriginStatus::Allowed, format!("allowed: matches \"{e}\" in the origin service's list ({file})"), given);
            }
            let near = spec.origins.iter().chain(entries).find_map(|e| near_miss(e, origin));
            let line = match near {
                Some(r) => format!("not allowed: {r}"),
                None => format!(
                    "not allowed: {origin} is not in allow_origins ({static_list}) nor in the origin service's list ({file}: {})",
                    crate::out::plural(entries.len(), "origin", "origins")
                ),
            };
            (OriginStatus::Refused, line, given)
        }
        Live::Unknown(source) => {
            // Whether the service could list it at all: the filter refuses an
            // answer with an entry allow_origins could not hold.
            let answer = serde_json::json!({ "origins": [origin] }).to_string();
            match fetched_origins(answer.as_bytes(), spec.credentials, spec.insecure) {
                Ok(entries) => (
                    OriginStatus::IfListed,
                    format!(
                        "not in allow_origins ({static_list}); allowed only if the origin service lists it: the proxy fetches \
                         GET {} from cluster {:?} every {} s at run time, and explain cannot see that list \
                         (--live-origins FILE decides with a saved answer)",
                        source.path, source.cluster, source.refresh_seconds
                    ),
                    entries,
                ),
                Err(Refusal { why, .. }) => (
                    OriginStatus::Refused,
                    format!(
                        "not allowed: {origin} is not in allow_origins ({static_list}), and the origin service cannot add it: \
                         the filter refuses an answer that lists it ({why})"
                    ),
                    Vec::new(),
                ),
            }
        }
        Live::NoSource => {
            let near = spec.origins.iter().find_map(|e| near_miss(e, origin));
            let line = match near {
                Some(r) => format!("not allowed: {r}"),
                None => format!("not allowed: {origin} is not in allow_origins ({static_list})"),
            };
            (OriginStatus::Refused, line, Vec::new())
        }
    }
}

/// (scheme, host, port) of a canonical origin.
fn parts(origin: &str) -> Option<(Scheme, String, Option<u16>)> {
    let (scheme, rest) =
        if let Some(r) = origin.strip_prefix("https://") { (Scheme::Https, r) } else { (Scheme::Http, origin.strip_prefix("http://")?) };
    let hp = edge_cors_engine::origins::split_host_port(rest).ok()?;
    Some((scheme, hp.host.to_string(), hp.port.and_then(edge_cors_engine::origins::port_number)))
}

fn port_text(p: Option<u16>) -> String {
    p.map_or("the default port".into(), |p| format!("port {p}"))
}

fn port_words(p: Port) -> String {
    match p {
        Port::Default => port_text(None),
        Port::Is(n) => port_text(Some(n)),
        Port::Any => "any port".into(),
    }
}

fn near_miss(e: &OriginEntry, origin: &str) -> Option<String> {
    if origin == "null" {
        return Some("the null origin is only allowed by the literal entry \"null\" (no pattern matches it)".into());
    }
    let (scheme, host, port) = parts(origin)?;
    match e {
        OriginEntry::Exact(o) => {
            let (s2, h2, p2) = parts(o)?;
            if h2 != host {
                return None;
            }
            if s2 != scheme {
                Some(format!("origin differs by scheme from allowed {o} ({} vs {})", scheme.as_str(), s2.as_str()))
            } else if p2 != port {
                Some(format!("origin differs by port from allowed {o} ({} vs {})", port_text(port), port_text(p2)))
            } else {
                None
            }
        }
        OriginEntry::Subdomains { scheme: s2, base, port: p2 } => {
            let pat = e.to_string();
            if host == *base {
                return Some(format!("{pat} matches subdomains of {base}, never {base} itself: add \"{}://{base}\"", s2.as_str()));
            }
            if host.ends_with(&format!(".{base}")) {
                if *s2 != scheme {
                    return Some(format!("origin differs by scheme from {pat} ({} vs {})", scheme.as_str(), s2.as_str()));
                }
                if !p2.admits(port) {
                    return Some(format!("origin differs by port from {pat} ({} vs {})", port_text(port), port_words(*p2)));
                }
                return None;
            }
            if host.ends_with(base.as_str()) {
                return Some(format!("{host} is not a subdomain of {base} (a look-alike): {pat} matches only at a dot"));
            }
            None
        }
        OriginEntry::AnyOfScheme(s2) if *s2 != scheme => {
            Some(format!("{}://* allows only {} origins; this one is {}", s2.as_str(), s2.as_str(), scheme.as_str()))
        }
        _ => None,
    }
}

fn method_reason(spec: &PolicySpec, method: &str) -> String {
    match &spec.methods {
        Names::List(l) => match l.iter().find(|m| m.eq_ignore_ascii_case(method)) {
            Some(m) => format!("{method} is not in allow_methods: {m} differs by case, and methods are case-sensitive"),
            None => format!("{method} is not in allow_methods ({})", l.join(", ")),
        },
        Names::Any => format!("{method} is not a valid method"),
    }
}

fn header_reason(spec: &PolicySpec, requested: &[String]) -> String {
    match &spec.headers {
        Names::List(l) => {
            let missing: Vec<&str> = requested.iter().filter(|h| !l.contains(h)).map(String::as_str).collect();
            let listed = if l.is_empty() { "none".to_string() } else { l.join(", ") };
            format!(
                "{} not in allow_headers ({listed})",
                if missing.len() == 1 { format!("{} is", missing[0]) } else { format!("{} are", missing.join(", ")) }
            )
        }
        Names::Any => "a requested header is not a valid header name".into(),
    }
}
