//! `block_cross_origin_writes`: CORS stops a page from reading an answer,
//! not the request, so a form POST or a `text/plain` fetch from any site
//! reaches the backend with the user's cookies. With the key on, a request
//! with an unsafe method from another site is refused at the edge unless
//! its origin is one the policy allows (the static list, patterns, live
//! origins): the same list that decides who may read the API decides who
//! may write to it.
//!
//! Cross-site is what the browser says in `Sec-Fetch-Site` (`cross-site` or
//! `same-site`; `same-origin` and `none` pass); without it, an `Origin`
//! whose host and port differ from the request's `Host`. Requests with
//! neither (curl, servers) pass: they carry no ambient browser credentials
//! a page could borrow.

use crate::origins::{parse_request_origin, port_number, split_host_port, HostPort};
use crate::policy::{Policy, Request};

/// Why a write was refused: what told the filter it came from another site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossSite {
    /// `Sec-Fetch-Site: cross-site` or `same-site` (or a value not known).
    FetchSite,
    /// No `Sec-Fetch-Site`; `Origin` names another host or port.
    OriginHost,
}

impl CrossSite {
    /// The record's `detail=`.
    pub fn as_str(self) -> &'static str {
        match self {
            CrossSite::FetchSite => "sec-fetch-site",
            CrossSite::OriginHost => "origin-host",
        }
    }
}

/// The body of the 403.
pub const REFUSED_BODY: &str =
    "edge-cors: cross-origin write refused: this API accepts writes from its own site and the origins its CORS policy allows\n";

/// GET, HEAD and OPTIONS change nothing (Fetch's safe methods); every other
/// method, in any case, is a write.
fn is_safe(method: &[u8]) -> bool {
    matches!(method, b"GET" | b"HEAD" | b"OPTIONS")
}

/// Whether `origin` (as browsers send it) names the request's `Host`,
/// default ports written or not. `null`, or anything else a browser would
/// not send, names no host.
fn same_host(origin: &[u8], host: &[u8]) -> bool {
    let (Ok(origin), Ok(host)) = (std::str::from_utf8(origin), std::str::from_utf8(host)) else { return false };
    let Some((scheme, origin_host, origin_port)) = parse_request_origin(origin) else { return false };
    let Ok(HostPort { host, port }) = split_host_port(host) else { return false };
    let port = match port {
        None => scheme.default_port(),
        Some(p) => match port_number(p) {
            Some(p) => p,
            None => return false,
        },
    };
    origin_host.eq_ignore_ascii_case(host) && origin_port.unwrap_or(scheme.default_port()) == port
}

impl Policy {
    /// Whether the policy refuses writes from other sites.
    pub fn blocks_cross_origin_writes(&self) -> bool {
        self.block_writes
    }

    /// The reason to refuse `req` at the edge, or None to let it through.
    pub fn refuses_write(&self, req: &Request<'_>) -> Option<CrossSite> {
        if !self.block_writes || is_safe(req.method) {
            return None;
        }
        let why = match (req.fetch_site, req.origin) {
            (Some(site), _) if site.eq_ignore_ascii_case(b"same-origin") || site.eq_ignore_ascii_case(b"none") => return None,
            (Some(_), _) => CrossSite::FetchSite,
            (None, None) => return None,
            (None, Some(origin)) => {
                if req.authority.or(req.host).is_some_and(|host| same_host(origin, host)) {
                    return None;
                }
                CrossSite::OriginHost
            }
        };
        match req.origin {
            Some(origin) if self.allows_origin(origin) => None,
            _ => Some(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> Policy {
        Policy::from_json(
            format!(r#"{{"allow_origins": ["https://app.example.com"], "block_cross_origin_writes": true{extra}}}"#).as_bytes(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn req<'a>(method: &'a str, origin: Option<&'a str>, site: Option<&'a str>) -> Request<'a> {
        Request {
            method: method.as_bytes(),
            origin: origin.map(str::as_bytes),
            fetch_site: site.map(str::as_bytes),
            authority: Some(b"api.example.com"),
            ..Request::default()
        }
    }

    /// Contract: "Cross-origin writes" (docs/contract.md).
    #[test]
    fn writes_from_other_sites_are_refused_unless_the_origin_is_allowed() {
        let p = policy("");
        let evil = Some("https://evil.example");
        // (method, Origin, Sec-Fetch-Site, the refusal wanted)
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<CrossSite>);
        let cases: [Case; 14] = [
            ("POST", evil, Some("cross-site"), Some(CrossSite::FetchSite)),
            ("POST", evil, Some("same-site"), Some(CrossSite::FetchSite)),
            ("PUT", None, Some("cross-site"), Some(CrossSite::FetchSite)),
            ("DELETE", evil, None, Some(CrossSite::OriginHost)),
            ("post", evil, None, Some(CrossSite::OriginHost)),
            ("POST", Some("null"), None, Some(CrossSite::OriginHost)),
            ("GET", evil, Some("cross-site"), None),
            ("HEAD", evil, Some("cross-site"), None),
            ("OPTIONS", evil, Some("cross-site"), None),
            ("POST", evil, Some("same-origin"), None),
            ("POST", None, Some("none"), None),
            ("POST", None, None, None),
            ("POST", Some("https://app.example.com"), Some("cross-site"), None),
            ("POST", Some("https://api.example.com"), None, None),
        ];
        for (method, origin, site, want) in cases {
            assert_eq!(p.refuses_write(&req(method, origin, site)), want, "{method} {origin:?} {site:?}");
        }
    }

    #[test]
    fn the_origin_is_compared_with_host_and_port_as_sent() {
        let p = policy("");
        let with_host = |origin: &'static str, host: &'static str| {
            let mut r = req("POST", Some(origin), None);
            r.authority = Some(host.as_bytes());
            p.refuses_write(&r)
        };
        assert_eq!(with_host("https://api.example.com", "API.example.com:443"), None);
        assert_eq!(with_host("http://api.example.com", "api.example.com:80"), None);
        assert_eq!(with_host("https://api.example.com:8443", "api.example.com:8443"), None);
        assert_eq!(with_host("https://api.example.com", "api.example.com:8443"), Some(CrossSite::OriginHost));
        assert_eq!(with_host("https://api.example.com.evil", "api.example.com"), Some(CrossSite::OriginHost));
    }

    #[test]
    fn off_by_default_and_patterns_count_as_allowed() {
        let off = Policy::from_json(br#"{"allow_origins": ["https://app.example.com"]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(!off.blocks_cross_origin_writes());
        assert_eq!(off.refuses_write(&req("POST", Some("https://evil.example"), Some("cross-site"))), None);
        assert!(policy("").blocks_cross_origin_writes());
        let wild = Policy::from_json(br#"{"allow_origins": ["https://*.partner.example"], "block_cross_origin_writes": true}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(wild.refuses_write(&req("POST", Some("https://shop.partner.example"), Some("cross-site"))), None);
        assert!(wild.refuses_write(&req("POST", Some("https://partner.example.evil"), Some("cross-site"))).is_some());
    }
}
