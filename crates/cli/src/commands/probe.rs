//! `edge-cors probe`: the real preflight (when the browser would send one)
//! and the real request against any live endpoint, judged as a browser
//! would, one line per check.

use std::time::Duration;

use edge_cors_engine::fetch;
use serde_json::{json, Value};

use crate::fetch_check::{self, check_lines, Check, Phase, Response};
use crate::out::{self, status_line, Level, Style};
use crate::{Fatal, PageRequest, Report};

/// Placeholder values for headers given by name only.
fn placeholder(name: &str) -> &'static str {
    match name {
        "authorization" => "Bearer edge-cors-probe",
        "content-type" => "application/json",
        _ => "edge-cors-probe",
    }
}

fn agent(timeout: u64) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // A browser never follows a redirect on a preflight; report it instead.
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(timeout.max(1))))
        .user_agent("edge-cors-probe")
        .build()
        .new_agent()
}

fn send(agent: &ureq::Agent, method: &str, url: &str, headers: &[(String, String)]) -> Result<Response, Fatal> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let req = b.body(()).map_err(|e| Fatal(format!("cannot build the {method} request to {url}: {e}")))?;
    let mut resp = agent.run(req).map_err(|e| Fatal(format!("{method} {url}: {}", network_error(&e, url))))?;
    let status = resp.status().as_u16();
    let headers =
        resp.headers().iter().map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    // Bodies only matter for the refusal reason; keep them small.
    let body = resp.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    Ok(Response { status, headers, body })
}

/// A network error in words. A TLS handshake that met plain HTTP (the
/// classic https:// to a plain-HTTP port) is named, and confirmed by asking
/// the same address over http://.
fn network_error(e: &ureq::Error, url: &str) -> String {
    let text = e.to_string();
    // A plain-HTTP server either answers the handshake with an HTTP error
    // (a TLS error here) or waits for a request line (a timeout).
    let tls = matches!(e, ureq::Error::Rustls(_) | ureq::Error::Tls(_) | ureq::Error::Timeout(_))
        || text.contains("InvalidContentType")
        || text.contains("corrupt message")
        || text.contains("rustls");
    let Some(rest) = url.strip_prefix("https://").filter(|_| tls) else {
        return text;
    };
    // The same port: without one, https:// meant 443, which http:// would not.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let has_port = edge_cors_engine::origins::split_host_port(authority).is_ok_and(|hp| hp.port.is_some());
    let plain = if has_port { format!("http://{rest}") } else { format!("http://{authority}:443{tail}") };
    let timeout = matches!(e, ureq::Error::Timeout(_));
    match (answers_plain_http(&plain), timeout) {
        (true, true) => format!("{text}: the server speaks plain HTTP, not TLS: use {plain}"),
        (_, true) => text,
        (true, false) => format!("the server answered plain HTTP on a TLS connection: use {plain}"),
        (false, false) if text.contains("InvalidContentType") => {
            format!("the server answered plain HTTP on a TLS connection: use {plain}")
        }
        (false, false) => format!("TLS handshake failed: {text}"),
    }
}

/// Whether something answers HTTP at `url` (a quick HEAD, any status).
fn answers_plain_http(url: &str) -> bool {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(3)))
        .user_agent("edge-cors-probe")
        .build()
        .new_agent();
    agent.head(url).call().is_ok()
}

fn response_json(r: &Response) -> Value {
    json!({
        "status": r.status,
        "headers": r.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
    })
}

fn check_json(c: &Check) -> Value {
    json!({
        "phase": c.phase.word(),
        "check": c.name,
        "result": match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "fail", Level::Skip => "skip" },
        "blocks": c.blocks,
        "message": c.message,
    })
}

/// `json_out`: one JSON object instead of text; `timeout`: seconds to wait
/// for each response.
pub fn run(url: &str, page: &PageRequest, json_out: bool, timeout: u64) -> Result<Report, Fatal> {
    let style = Style::stdout();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Fatal(format!("{url:?} is not an http:// or https:// URL")));
    }
    let page_headers = fetch_check::parse_headers(&page.headers)?;
    // The origin as a browser sends it, refused like `explain` refuses it;
    // a note when it was rewritten (on stderr with --json).
    let sent = fetch_check::origin_as_sent(&page.origin)?;
    let mut note = sent.note(&if json_out { Style::stderr() } else { style });
    let origin = sent.origin;
    let (origin, credentials) = (origin.as_str(), page.credentials);
    let method = fetch::normalise_method(&page.method);
    let need = fetch_check::preflight_need(method, &page_headers);
    let agent = agent(timeout);
    let mut checks = Vec::new();
    let mut s = if json_out { String::new() } else { std::mem::take(&mut note) };

    s.push_str(&format!(
        "{}  {method} {url} from {origin}{}\n",
        style.bold("probe    "),
        if credentials { ", with credentials" } else { "" }
    ));

    let mut preflight = None;
    let mut preflight_ok = true;
    if need.needed {
        s.push_str(&format!("{}  yes: {}\n", style.bold("preflight"), need.reasons.join("; ")));
        let mut h = vec![("origin".to_string(), origin.to_string()), ("access-control-request-method".to_string(), method.to_string())];
        if let Some(v) = need.request_headers_value() {
            h.push(("access-control-request-headers".to_string(), v));
        }
        let r = send(&agent, "OPTIONS", url, &h)?;
        let judged = fetch_check::judge_preflight(&r, origin, method, &need, credentials);
        preflight_ok = fetch_check::allowed(&judged);
        checks.extend(judged);
        preflight = Some(r);
    } else {
        s.push_str(&format!("{}  no: a simple request, sent directly\n", style.bold("preflight")));
    }

    // Like the browser, stop at a failed preflight: the actual request may
    // change data (PUT, DELETE), and no browser would send it.
    let mut actual = None;
    if preflight_ok {
        let mut h = vec![("origin".to_string(), origin.to_string())];
        for ph in &page_headers {
            h.push((ph.name.clone(), ph.value.clone().unwrap_or_else(|| placeholder(&ph.name).to_string())));
        }
        if credentials {
            h.push(("cookie".into(), "edge_cors_probe=1".into()));
        }
        let r = send(&agent, method, url, &h)?;
        let mut judged = fetch_check::judge_actual(&r, origin, credentials);
        if (300..400).contains(&r.status) {
            judged.push(Check {
                phase: Phase::Actual,
                name: "redirect",
                level: Level::Warn,
                blocks: false,
                message: format!(
                    "{} to {}: not followed; the browser follows it and checks CORS again at the target",
                    r.status,
                    r.all("location").first().copied().unwrap_or("?")
                ),
            });
        }
        checks.extend(judged);
        actual = Some(r);
    }

    let ok = fetch_check::allowed(&checks) && preflight_ok;
    let passed = ok && !checks.iter().any(|c| c.level == Level::Fail);

    if json_out {
        let v = json!({
            "url": url,
            "origin": origin,
            "method": method,
            "credentials": credentials,
            "preflight_needed": need.needed,
            "preflight_reasons": need.reasons,
            "preflight": preflight.as_ref().map(response_json),
            "actual": actual.as_ref().map(response_json),
            "checks": checks.iter().map(check_json).collect::<Vec<_>>(),
            "browser_allows": ok,
            "ok": passed,
        });
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        return Ok(Report { stdout: format!("{text}\n"), stderr: note, ok: passed });
    }

    if let Some(r) = &preflight {
        s.push_str(&format!("{}  {}\n", style.dim(&format!("{:<9}", "OPTIONS")), status_line(r.status)));
    }
    match &actual {
        Some(r) => s.push_str(&format!("{}  {}\n\n", style.dim(&format!("{method:<9}")), status_line(r.status))),
        None => s.push_str(&format!("{}  not sent: the browser stops at the failed preflight\n\n", style.dim(&format!("{method:<9}")))),
    }
    s.push_str(&check_lines(&checks, &style));
    s.push('\n');
    s.push_str(&verdict(&checks, ok, origin, &style));
    s.push('\n');
    Ok(Report { stdout: s, stderr: String::new(), ok: passed })
}

/// Probe's verdict on the call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProbeVerdict {
    /// Every check passed (how many passed).
    Ok { passed: usize },
    /// The browser lets the call through, but these checks failed.
    ThroughWithFailures { failed: Vec<&'static str> },
    /// The browser blocks the call; the failed checks, "phase name".
    Blocked { failed: Vec<String> },
}

impl ProbeVerdict {
    /// Whether a browser makes the call (`browser_allows`), and which checks failed.
    fn of(checks: &[Check], browser_allows: bool) -> ProbeVerdict {
        let failed: Vec<&Check> = checks.iter().filter(|c| c.level == Level::Fail).collect();
        if browser_allows && failed.is_empty() {
            ProbeVerdict::Ok { passed: checks.iter().filter(|c| c.level == Level::Ok).count() }
        } else if browser_allows {
            ProbeVerdict::ThroughWithFailures { failed: failed.iter().map(|c| c.name).collect() }
        } else {
            ProbeVerdict::Blocked { failed: failed.iter().map(|c| format!("{} {}", c.phase.word(), c.name)).collect() }
        }
    }
}

/// The closing line: whether a browser at `origin` makes the call
/// (`browser_allows`), and which checks failed.
fn verdict(checks: &[Check], browser_allows: bool, origin: &str, style: &Style) -> String {
    match ProbeVerdict::of(checks, browser_allows) {
        ProbeVerdict::Ok { passed } => style.ok(&format!("ok: a browser at {origin} can make this call ({passed} checks passed)")),
        ProbeVerdict::ThroughWithFailures { failed } => style.fail(&format!(
            "a browser lets this call through, but {} failed: {}",
            out::plural(failed.len(), "check", "checks"),
            failed.join(", ")
        )),
        ProbeVerdict::Blocked { failed } => style.fail(&format!(
            "blocked: a browser at {origin} cannot make this call ({} failed: {})",
            out::plural(failed.len(), "check", "checks"),
            failed.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests;
