//! A model of the CORS check of the WHATWG Fetch standard ("CORS protocol"),
//! not a browser: whether a request needs a preflight, and whether a
//! preflight answer and an actual response pass. `explain` applies it to the
//! filter's own answers and `probe` to a live server's, so the two judge
//! alike. The facts it rests on (safelisted methods and headers, ...) are the
//! engine's own, from `edge_cors_engine::fetch`.

use edge_cors_engine::fetch;
use edge_cors_engine::origins::OriginEntry;
use edge_cors_engine::token::list_elements_str;

use crate::out::{Level, Style};

/// One request header the page sets.
#[derive(Debug, Clone)]
pub struct PageHeader {
    /// Lower case.
    pub name: String,
    pub value: Option<String>,
}

/// Parses `NAME` or `NAME: VALUE`.
fn parse_header(arg: &str) -> Result<PageHeader, String> {
    let (name, value) = match arg.split_once(':') {
        Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
        None => (arg.trim(), None),
    };
    if name.is_empty() || !edge_cors_engine::token::is_token(name.as_bytes()) {
        return Err(format!("--header {arg:?}: the name must be an HTTP token such as x-api-key"));
    }
    Ok(PageHeader { name: name.to_ascii_lowercase(), value })
}

/// Every `--header` argument parsed; Err names the first that is not a header.
pub fn parse_headers(args: &[String]) -> Result<Vec<PageHeader>, String> {
    args.iter().map(|a| parse_header(a)).collect()
}

/// Why a header is not CORS-safelisted, or None when it is.
fn unsafe_reason(h: &PageHeader) -> Option<String> {
    match h.name.as_str() {
        name if fetch::SAFELISTED_HEADERS.contains(&name) => None,
        "content-type" => match &h.value {
            Some(v) => {
                let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                if fetch::SAFELISTED_CONTENT_TYPES.contains(&essence.as_str()) {
                    None
                } else {
                    Some(format!("content-type {v} is not one of {}", fetch::SAFELISTED_CONTENT_TYPES.join(", ")))
                }
            }
            None => Some(
                "content-type (taken as application/json; pass --header 'content-type: text/plain' for a form or text body) \
                 is not a CORS-safelisted value"
                    .into(),
            ),
        },
        "authorization" => Some("authorization is never CORS-safelisted".into()),
        other => Some(format!("{other} is not a CORS-safelisted request header")),
    }
}

/// The `--origin` argument as a browser sends it: as given when a browser
/// could send it (the filter reads it the same way), otherwise in the form a
/// browser would send (`rewritten`). Err: a pattern or not an origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentOrigin {
    pub origin: String,
    pub rewritten: bool,
}

pub fn origin_as_sent(origin: &str) -> Result<SentOrigin, String> {
    let sent = |o: &str| SentOrigin { origin: o.to_string(), rewritten: o != origin };
    match OriginEntry::parse(origin) {
        _ if edge_cors_engine::origins::is_request_origin(origin) => Ok(sent(origin)),
        Ok(OriginEntry::Exact(canon)) => Ok(sent(&canon)),
        Ok(OriginEntry::Null) => Ok(SentOrigin { origin: "null".into(), rewritten: false }),
        Ok(_) => Err(format!("--origin {origin:?} is a pattern; give the page's origin, such as https://app.example.com")),
        Err(e) => Err(format!("--origin {origin:?} {}; {}", e.problem, e.fix)),
    }
}

impl SentOrigin {
    /// The note when the origin was rewritten, else nothing.
    pub fn note(&self, style: &Style) -> String {
        if self.rewritten {
            format!("{} browsers send this origin as {}\n", style.dim("note:"), self.origin)
        } else {
            String::new()
        }
    }
}

/// Whether Fetch sends a preflight for a request, and why.
pub struct PreflightNeed {
    pub needed: bool,
    pub reasons: Vec<String>,
    /// The `Access-Control-Request-Headers` names: unsafe ones, lower case, sorted.
    pub unsafe_names: Vec<String>,
}

impl PreflightNeed {
    /// The `Access-Control-Request-Headers` value as Fetch sends it.
    pub fn request_headers_value(&self) -> Option<String> {
        (!self.unsafe_names.is_empty()).then(|| self.unsafe_names.join(","))
    }
}

/// Whether a request with `method` (as Fetch sends it, see
/// `edge_cors_engine::fetch::normalise_method`) and `headers` is preflighted.
pub fn preflight_need(method: &str, headers: &[PageHeader]) -> PreflightNeed {
    let mut reasons = Vec::new();
    if !fetch::is_safelisted_method(method.as_bytes()) {
        reasons.push(format!("{method} is not a CORS-safelisted method ({})", fetch::SAFELISTED_METHODS.join(", ")));
    }
    let mut unsafe_names = Vec::new();
    for h in headers {
        if let Some(r) = unsafe_reason(h) {
            reasons.push(r);
            if !unsafe_names.contains(&h.name) {
                unsafe_names.push(h.name.clone());
            }
        }
    }
    unsafe_names.sort();
    PreflightNeed { needed: !reasons.is_empty(), reasons, unsafe_names }
}

/// A response as Fetch sees it: every header line, names lower case.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    /// List elements over every value of a header (Fetch combines them).
    fn list(&self, name: &str) -> Vec<String> {
        self.all(name).into_iter().flat_map(list_elements_str).map(str::to_string).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Preflight,
    Actual,
}

impl Phase {
    pub fn word(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Actual => "actual",
        }
    }
}

/// One line of a verdict.
#[derive(Debug, Clone)]
pub struct Check {
    pub phase: Phase,
    pub name: &'static str,
    pub level: Level,
    /// Whether this failure makes the browser refuse the call (a missing
    /// `Vary` does not, by itself).
    pub blocks: bool,
    pub message: String,
}

fn check(phase: Phase, name: &'static str, level: Level, message: impl Into<String>) -> Check {
    Check { phase, name, level, blocks: level == Level::Fail, message: message.into() }
}

/// How two origins differ, for "origin differs by port".
fn origin_difference(sent: &str, page: &str) -> Option<String> {
    // The engine's splitter: `https://[::1]` is host `[::1]`, no port.
    let split = |o: &str| -> Option<(String, String, String)> {
        let (scheme, rest) = o.split_once("://")?;
        let hp = edge_cors_engine::origins::split_host_port(rest.trim_end_matches('/')).ok()?;
        Some((scheme.to_ascii_lowercase(), hp.host.to_ascii_lowercase(), hp.port.unwrap_or("").to_string()))
    };
    let (a, b) = (split(sent)?, split(page)?);
    if a.1 == b.1 && a.0 != b.0 {
        return Some("differs by scheme".into());
    }
    if a.1 == b.1 && a.2 != b.2 {
        return Some("differs by port".into());
    }
    if sent.ends_with('/') {
        return Some("has a trailing slash; an origin has none".into());
    }
    if a.1 != b.1 && a.1.eq_ignore_ascii_case(&b.1) {
        return Some("differs by case".into());
    }
    None
}

/// `Access-Control-Allow-Origin` and `-Allow-Credentials`, the checks every
/// CORS response must pass.
fn allow_origin_checks(phase: Phase, r: &Response, origin: &str, credentials: bool, out: &mut Vec<Check>) -> bool {
    let values = r.all("access-control-allow-origin");
    let mut ok = false;
    match values.as_slice() {
        [] => out.push(check(
            phase,
            "allow-origin",
            Level::Fail,
            format!("no Access-Control-Allow-Origin on the {} response ({}): the browser blocks it", phase.word(), r.status),
        )),
        [v] if v.contains(',') => out.push(check(
            phase,
            "allow-origin",
            Level::Fail,
            format!("Access-Control-Allow-Origin lists several origins ({v}); it must be exactly one"),
        )),
        [v] if v.trim() == "*" && credentials => out.push(check(
            phase,
            "allow-origin",
            Level::Fail,
            "Access-Control-Allow-Origin is * but the request carries credentials: browsers refuse * with credentials",
        )),
        [v] if v.trim() == "*" => {
            ok = true;
            out.push(check(phase, "allow-origin", Level::Ok, "* (any origin, no credentials)"));
        }
        [v] if v.trim() == origin => {
            ok = true;
            out.push(check(phase, "allow-origin", Level::Ok, format!("{} (the page's origin)", v.trim())));
        }
        [v] => {
            let why = origin_difference(v.trim(), origin).map(|d| format!(": it {d}")).unwrap_or_default();
            out.push(check(
                phase,
                "allow-origin",
                Level::Fail,
                format!("Access-Control-Allow-Origin is {} but the page is {origin}{why}", v.trim()),
            ));
        }
        many => out.push(check(
            phase,
            "allow-origin",
            Level::Fail,
            format!(
                "duplicate Access-Control-Allow-Origin ({} values: {}): browsers refuse more than one; two layers add CORS headers",
                many.len(),
                many.join(" | ")
            ),
        )),
    }
    if credentials {
        let values = r.all("access-control-allow-credentials");
        match values.as_slice() {
            [v] if *v == "true" => out.push(check(phase, "credentials", Level::Ok, "Access-Control-Allow-Credentials: true")),
            [] => {
                ok = false;
                out.push(check(
                    phase,
                    "credentials",
                    Level::Fail,
                    "no Access-Control-Allow-Credentials: true, which a credentialed request needs",
                ));
            }
            vs => {
                ok = false;
                out.push(check(
                    phase,
                    "credentials",
                    Level::Fail,
                    format!("Access-Control-Allow-Credentials is {:?}; browsers accept exactly one \"true\"", vs.join(", ")),
                ));
            }
        }
    }
    ok
}

/// `Access-Control-*` headers sent more than once (other than the two
/// already judged).
fn duplicate_checks(phase: Phase, r: &Response, out: &mut Vec<Check>) {
    let mut seen: Vec<&str> = Vec::new();
    let mut dups = Vec::new();
    for (n, _) in &r.headers {
        if fetch::is_access_control(n.as_bytes()) {
            if seen.contains(&n.as_str()) && !dups.contains(n) {
                dups.push(n.clone());
            }
            seen.push(n);
        }
    }
    let cosmetic: Vec<&String> =
        dups.iter().filter(|n| *n != "access-control-allow-origin" && *n != "access-control-allow-credentials").collect();
    if dups.is_empty() {
        out.push(check(phase, "duplicates", Level::Ok, "each Access-Control-* header sent once"));
    } else if cosmetic.len() == dups.len() {
        let names: Vec<&str> = cosmetic.iter().map(|s| s.as_str()).collect();
        out.push(check(
            phase,
            "duplicates",
            Level::Warn,
            format!("{} sent more than once: two layers add CORS headers (browsers merge these lists)", names.join(", ")),
        ));
    } else {
        let names: Vec<&str> = dups.iter().map(|s| s.as_str()).collect();
        let mut c =
            check(phase, "duplicates", Level::Fail, format!("{} sent more than once: two layers add CORS headers", names.join(", ")));
        // Already counted by allow-origin / credentials.
        c.blocks = false;
        out.push(c);
    }
}

/// Fetch's checks of a preflight answer.
pub fn judge_preflight(r: &Response, origin: &str, method: &str, need: &PreflightNeed, credentials: bool) -> Vec<Check> {
    let p = Phase::Preflight;
    let mut out = Vec::new();
    if (200..300).contains(&r.status) {
        out.push(check(p, "status", Level::Ok, format!("{} (a 2xx, as browsers require)", r.status)));
    } else {
        let said = r.body.lines().next().map(|l| format!(": {}", l.trim())).filter(|l| l.len() > 2).unwrap_or_default();
        out.push(check(p, "status", Level::Fail, format!("{}{said}; browsers need a 2xx answer to a preflight", r.status)));
    }
    allow_origin_checks(p, r, origin, credentials, &mut out);

    let methods = r.list("access-control-allow-methods");
    let star = methods.iter().any(|m| m == "*");
    if fetch::is_safelisted_method(method.as_bytes()) {
        out.push(check(p, "methods", Level::Ok, format!("{method} is CORS-safelisted: no permission needed")));
    } else if methods.iter().any(|m| m == method) {
        out.push(check(p, "methods", Level::Ok, format!("{method} is in Access-Control-Allow-Methods ({})", methods.join(", "))));
    } else if star && !credentials {
        out.push(check(p, "methods", Level::Ok, format!("{method} is covered by Access-Control-Allow-Methods: *")));
    } else if star {
        out.push(check(
            p,
            "methods",
            Level::Fail,
            format!("Access-Control-Allow-Methods is *, which means a method literally named * under credentials: {method} is not allowed"),
        ));
    } else if let Some(m) = methods.iter().find(|m| m.eq_ignore_ascii_case(method)) {
        out.push(check(
            p,
            "methods",
            Level::Fail,
            format!("{method} is not in Access-Control-Allow-Methods: {m} differs by case, and methods are case-sensitive"),
        ));
    } else {
        let listed = if methods.is_empty() { "absent".to_string() } else { methods.join(", ") };
        out.push(check(p, "methods", Level::Fail, format!("{method} is not in Access-Control-Allow-Methods ({listed})")));
    }

    if need.unsafe_names.is_empty() {
        out.push(check(p, "headers", Level::Skip, "no non-safelisted request headers"));
    } else {
        let allowed: Vec<String> = r.list("access-control-allow-headers").iter().map(|h| h.to_ascii_lowercase()).collect();
        let star = allowed.iter().any(|h| h == "*");
        let mut special = Vec::new();
        let mut missing: Vec<&str> = Vec::new();
        for name in &need.unsafe_names {
            let excluded = name == fetch::WILDCARD_EXCLUDED_HEADER;
            if allowed.contains(name) || (star && !credentials && !excluded) {
                continue;
            }
            if star && excluded {
                special.push(format!("{name} is never covered by *: it must be named"));
            } else if star {
                special.push(format!("{name} is not covered: * means a header literally named * under credentials"));
            } else {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            let verb = if missing.len() == 1 { "is" } else { "are" };
            special.insert(0, format!("{} {verb} not in Access-Control-Allow-Headers", missing.join(", ")));
        }
        if special.is_empty() {
            out.push(check(p, "headers", Level::Ok, format!("{} allowed", need.unsafe_names.join(", "))));
        } else {
            let listed = if allowed.is_empty() { "absent".to_string() } else { allowed.join(", ") };
            out.push(check(p, "headers", Level::Fail, format!("{} (allowed: {listed})", special.join("; "))));
        }
    }
    duplicate_checks(p, r, &mut out);
    out
}

/// Fetch's checks of the actual response.
pub fn judge_actual(r: &Response, origin: &str, credentials: bool) -> Vec<Check> {
    let a = Phase::Actual;
    let mut out = Vec::new();
    let passed = allow_origin_checks(a, r, origin, credentials, &mut out);
    duplicate_checks(a, r, &mut out);

    // Vary: an answer that names the origin must say it depends on it.
    let acao: Vec<&str> = r.all("access-control-allow-origin");
    let vary = r.list("vary");
    let varies = vary.iter().any(|v| v == "*" || v.eq_ignore_ascii_case("origin"));
    match acao.first() {
        Some(v) if v.trim() != "*" && !varies => {
            let mut c = check(
                a,
                "vary",
                Level::Fail,
                "no Vary: Origin although Access-Control-Allow-Origin names the origin: a shared cache can replay this \
                 answer to another origin, whose browser then blocks it",
            );
            c.blocks = false;
            out.push(c);
        }
        Some(v) if v.trim() != "*" => out.push(check(a, "vary", Level::Ok, format!("Vary: {}", vary.join(", ")))),
        Some(_) => out.push(check(a, "vary", Level::Ok, "Access-Control-Allow-Origin is *: the answer does not depend on the origin")),
        None => out.push(check(a, "vary", Level::Skip, "no CORS answer to vary")),
    }

    if r.status >= 400 {
        if passed {
            out.push(check(
                a,
                "error status",
                Level::Ok,
                format!("the {} carries CORS headers: JavaScript can read its status and body", r.status),
            ));
        } else {
            out.push(check(
                a,
                "error status",
                Level::Fail,
                format!("the {} has no usable CORS headers: JavaScript sees a network error (TypeError), not the {}", r.status, r.status),
            ));
        }
    } else {
        out.push(check(a, "error status", Level::Skip, format!("the response was {}; probe a failing URL to check errors", r.status)));
    }

    if passed {
        let exposed: Vec<String> = r.list("access-control-expose-headers").iter().map(|h| h.to_ascii_lowercase()).collect();
        let star = exposed.iter().any(|h| h == "*") && !credentials;
        let mut readable = Vec::new();
        let mut hidden = Vec::new();
        for (n, _) in &r.headers {
            // CORS and caching metadata are for the browser, not the page.
            if n.starts_with(':') || fetch::is_access_control(n.as_bytes()) || n == "vary" || readable.contains(n) || hidden.contains(n) {
                continue;
            }
            // Set-Cookie is never readable, exposed by name or not.
            let can = !fetch::FORBIDDEN_RESPONSE_HEADERS.contains(&n.as_str())
                && (fetch::SAFELISTED_RESPONSE_HEADERS.contains(&n.as_str()) || exposed.contains(n) || star);
            if can {
                readable.push(n.clone());
            } else {
                hidden.push(n.clone());
            }
        }
        let mut msg = format!("JavaScript can read: {}", if readable.is_empty() { "none".into() } else { readable.join(", ") });
        let absent: Vec<&String> = exposed.iter().filter(|h| *h != "*" && !readable.contains(h)).collect();
        if !absent.is_empty() {
            msg.push_str(&format!(" (and, when sent: {})", absent.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
        }
        if !hidden.is_empty() {
            msg.push_str(&format!("; hidden: {}", hidden.join(", ")));
        }
        out.push(check(a, "readable", Level::Ok, msg));
    }
    out
}

/// Whether the browser lets the call through, given every check made.
pub fn allowed(checks: &[Check]) -> bool {
    !checks.iter().any(|c| c.blocks)
}

/// Aligned `level  phase  check  message` lines.
pub fn check_lines(checks: &[Check], style: &Style) -> String {
    let name_w = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for c in checks {
        s.push_str(&format!("  {}  {:<9}  {:<name_w$}  {}\n", c.level.label(style, 4), c.phase.word(), c.name, c.message));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable_line(headers: &[(&str, &str)], credentials: bool) -> String {
        let r =
            Response { status: 200, headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(), body: String::new() };
        let checks = judge_actual(&r, "https://app.example.com", credentials);
        checks.iter().find(|c| c.message.starts_with("JavaScript can read")).map(|c| c.message.clone()).unwrap_or_default()
    }

    /// Fetch never lets a page read Set-Cookie, whether it is exposed by
    /// name or by `*`.
    #[test]
    fn set_cookie_is_never_readable() {
        let base = [("access-control-allow-origin", "https://app.example.com"), ("set-cookie", "sid=1"), ("etag", "\"v1\"")];
        let by_name = [&base[..], &[("access-control-expose-headers", "set-cookie, etag")]].concat();
        let line = readable_line(&by_name, false);
        assert!(line.starts_with("JavaScript can read: etag") && !line.contains("read: etag, set-cookie"), "{line}");
        let star = [&base[..], &[("access-control-expose-headers", "*")]].concat();
        let line = readable_line(&star, false);
        assert!(line.starts_with("JavaScript can read: etag") && !line.contains("set-cookie,"), "{line}");
    }

    /// An IPv6 page origin splits as an origin, not at its last colon: the
    /// old splitter read `https://[::1]` as host `[:` and port `1]`.
    #[test]
    fn ipv6_origins_differ_by_what_differs() {
        assert_eq!(origin_difference("https://[::1]:8443", "https://[::1]").as_deref(), Some("differs by port"));
        assert_eq!(origin_difference("http://[::1]", "https://[::1]").as_deref(), Some("differs by scheme"));
        assert_eq!(origin_difference("https://[::1]", "https://[::1]"), None);
        assert_eq!(origin_difference("https://a.example:8443", "https://a.example").as_deref(), Some("differs by port"));
    }

    /// The origin a browser sends: as given, rewritten (with a note), or
    /// refused when it is a pattern.
    #[test]
    fn origins_are_taken_as_browsers_send_them() {
        let sent = |o: &str| origin_as_sent(o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sent("https://app.example.com"), SentOrigin { origin: "https://app.example.com".into(), rewritten: false });
        assert_eq!(sent("http://[::ffff:127.0.0.1]:8080"), SentOrigin { origin: "http://[::ffff:7f00:1]:8080".into(), rewritten: true });
        assert_eq!(sent("null").origin, "null");
        assert!(origin_as_sent("https://*.example.com").is_err_and(|e| e.contains("is a pattern")));
        assert!(origin_as_sent("https://app.example.com/x").is_err());
    }

    #[test]
    fn a_preflight_is_needed_for_unsafe_methods_and_headers() {
        let headers = parse_headers(&["X-Api-Key".into(), "content-type: text/plain".into()]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!preflight_need("GET", &headers[1..]).needed);
        let need = preflight_need("PUT", &headers);
        assert!(need.needed);
        assert_eq!(need.unsafe_names, ["x-api-key"]);
        assert_eq!(need.reasons.len(), 2, "{:?}", need.reasons);
        assert!(parse_headers(&["bad header".into()]).is_err());
    }
}
