//! The filter's log lines, built here from the engine's answers so they are
//! tested natively: every request value in them is quoted, shortened and
//! escaped, so a hostile header cannot forge or split a line.

use crate::policy::{PreflightReply, Rejection, Request};
use crate::report::Difference;

/// A request value for a log line: quoted, at most 200 characters, control
/// bytes and quotes escaped.
pub fn shown(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len().min(200) + 2);
    out.push('"');
    out.extend(String::from_utf8_lossy(value).chars().take(200).flat_map(char::escape_default));
    out.push('"');
    out
}

/// Joins the parts (without `concat`, whose generic copy would be one more
/// function in the module).
fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// Why a preflight was refused (debug level).
pub fn preflight_rejected(req: &Request<'_>, reply: &PreflightReply<'_>, rule: &str) -> String {
    let what = match (reply.rejected, reply.detail) {
        (Some(Rejection::Method), _) => cat(&["method ", &shown(req.request_method.unwrap_or_default()), " not allowed"]),
        (Some(Rejection::Header), Some(name)) => cat(&["header ", &shown(name.as_bytes()), " not allowed"]),
        (Some(Rejection::Header), None) => cat(&["malformed header list ", &shown(req.request_headers.unwrap_or_default())]),
        _ => "origin not allowed".to_string(),
    };
    cat(&["edge-cors: preflight from ", &shown(req.origin.unwrap_or_default()), " rejected by rule \"", rule, "\": ", &what])
}

/// A write from another site refused (debug level).
pub fn write_refused(req: &Request<'_>, why: crate::writes::CrossSite, rule: &str) -> String {
    let told = match why {
        crate::writes::CrossSite::FetchSite => cat(&["Sec-Fetch-Site ", &shown(req.fetch_site.unwrap_or_default())]),
        crate::writes::CrossSite::OriginHost => cat(&["Origin ", &shown(req.origin.unwrap_or_default()), " is not the request's host"]),
    };
    cat(&["edge-cors: cross-origin ", &shown(req.method), " refused by rule \"", rule, "\" (block_cross_origin_writes): ", &told])
}

/// An actual request from an origin the policy does not allow (debug level).
pub fn origin_refused(origin: &[u8], rule: &str) -> String {
    cat(&["edge-cors: origin ", &shown(origin), " not allowed by rule \"", rule, "\"; the response gets no CORS headers"])
}

/// Report mode's line for one response with differences (info level).
pub fn report(rule: &str, origin: Option<&[u8]>, diffs: &[Difference]) -> String {
    let mut line = cat(&["edge-cors report: rule \"", rule, "\", origin ", &shown(origin.unwrap_or(b"(none)")), ":"]);
    let value = |v: &Option<String>| v.as_deref().map_or("none".to_string(), |v| shown(v.as_bytes()));
    for d in diffs {
        for part in [" ", d.kind.as_str(), " ", &d.header, " (edge-cors: ", &value(&d.expected), ", upstream: ", &value(&d.actual), ");"] {
            line.push_str(part);
        }
    }
    line
}

/// The first request a `match.routes` rule could not judge (warning).
/// `status`: the host's answer, None when it answered an empty name.
pub fn route_name_unavailable(status: Option<u32>) -> String {
    let why = match status {
        Some(code) => cat(&["status ", &code.to_string()]),
        None => "an empty name".to_string(),
    };
    cat(&[
        "edge-cors: the host gave no route name (",
        &why,
        "); rules with match.routes do not match such requests (counted in edge_cors.route_name_unavailable)",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Decision, Policy};
    use crate::report::DiffKind;

    fn refused(req: &Request<'_>) -> String {
        let policy = Policy::from_json(br#"{"allow_origins": ["https://app.example.com"], "allow_headers": ["x-a"]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        match policy.decide(req) {
            Decision::Preflight(reply) => preflight_rejected(req, &reply, "default"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lines_name_the_failure_and_escape_the_request() {
        let base =
            Request { method: b"OPTIONS", origin: Some(b"https://app.example.com"), request_method: Some(b"GET"), ..Request::default() };
        let cases: [(Request<'_>, &str); 4] = [
            (
                Request { origin: Some(b"https://evil.test\r\nforged: 1"), ..base },
                r#"edge-cors: preflight from "https://evil.test\r\nforged: 1" rejected by rule "default": origin not allowed"#,
            ),
            (
                Request { request_method: Some(b"PATCH"), ..base },
                r#"edge-cors: preflight from "https://app.example.com" rejected by rule "default": method "PATCH" not allowed"#,
            ),
            (
                Request { request_headers: Some(b"x-a, x-tenant"), ..base },
                r#"edge-cors: preflight from "https://app.example.com" rejected by rule "default": header "x-tenant" not allowed"#,
            ),
            (
                Request { request_headers: Some(b"x y"), ..base },
                r#"edge-cors: preflight from "https://app.example.com" rejected by rule "default": malformed header list "x y""#,
            ),
        ];
        for (req, want) in cases {
            assert_eq!(refused(&req), want);
        }
        assert_eq!(
            origin_refused(b"https://evil.test", "tenants"),
            r#"edge-cors: origin "https://evil.test" not allowed by rule "tenants"; the response gets no CORS headers"#
        );
        assert_eq!(shown(&[b'a'; 300]).len(), 202, "shortened to 200 characters");
    }

    #[test]
    fn report_line() {
        let diffs = [
            Difference { kind: DiffKind::Different, header: ":status".into(), expected: Some("204".into()), actual: Some("404".into()) },
            Difference { kind: DiffKind::Missing, header: "vary".into(), expected: Some("Origin".into()), actual: None },
        ];
        assert_eq!(
            report("legacy", Some(b"https://app.example.com"), &diffs),
            r#"edge-cors report: rule "legacy", origin "https://app.example.com": different :status (edge-cors: "204", upstream: "404"); missing vary (edge-cors: "Origin", upstream: none);"#
        );
        assert_eq!(
            route_name_unavailable(Some(1)),
            "edge-cors: the host gave no route name (status 1); rules with match.routes do not match such requests (counted in edge_cors.route_name_unavailable)"
        );
    }
}
