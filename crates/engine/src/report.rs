//! Report mode: for teams moving CORS from their backends to the edge. The
//! filter changes nothing; it compares the `Access-Control-*` headers it
//! would have sent with those the upstream sent, header by header.

use crate::policy::{Decision, Policy, Request};
use crate::response::{HeaderList, Stamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// edge-cors would send it; the upstream did not.
    Missing,
    /// The upstream sent it; edge-cors would not.
    Extra,
    /// Both, with different values.
    Different,
}

impl DiffKind {
    pub const ALL: [DiffKind; 3] = [DiffKind::Missing, DiffKind::Extra, DiffKind::Different];

    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Missing => "missing",
            DiffKind::Extra => "extra",
            DiffKind::Different => "different",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: DiffKind,
    /// Lower-case header name.
    pub header: String,
    /// What edge-cors would send.
    pub expected: Option<String>,
    /// What the upstream sent.
    pub actual: Option<String>,
}

/// Values compare as lists where the header is a list (order, spacing and,
/// for header names, case do not matter to browsers), exactly otherwise.
fn same(name: &str, a: &str, b: &str) -> bool {
    let fold = match name {
        "access-control-allow-methods" => false,
        "access-control-allow-headers" | "access-control-expose-headers" => true,
        _ => return a.trim() == b.trim(),
    };
    let eq = |x: &str, y: &str| if fold { x.eq_ignore_ascii_case(y) } else { x == y };
    let (a, b) = (list_items(a), list_items(b));
    a.iter().all(|x| b.iter().any(|y| eq(x, y))) && b.iter().all(|y| a.iter().any(|x| eq(x, y)))
}

fn list_items(s: &str) -> Vec<&str> {
    crate::token::list_elements_str(s).collect()
}

/// The differences between what `policy` would answer to `req` and the
/// upstream's response headers (`:status` among them). Besides the
/// `Access-Control-*` headers, two things change what a browser or a cache
/// does: a preflight edge-cors would allow that the upstream answers with a
/// non-2xx status (the browser fails it whatever the headers), and a
/// missing `Vary: Origin` where the answer depends on the origin.
pub fn compare<'h>(policy: &Policy, req: &Request<'_>, upstream: impl IntoIterator<Item = (&'h [u8], &'h [u8])>) -> Vec<Difference> {
    let upstream: Vec<(&[u8], &[u8])> = upstream.into_iter().collect();
    let mut out = Vec::new();
    let expected: Vec<(String, String)> = match policy.decide(req) {
        Decision::Preflight(reply) => {
            let status = upstream.iter().find(|(n, _)| *n == b":status").map(|(_, v)| *v);
            let ok = status.is_some_and(|s| s.len() == 3 && s.first() == Some(&b'2'));
            if reply.rejected.is_none() && !ok {
                out.push(Difference {
                    kind: DiffKind::Different,
                    header: ":status".into(),
                    expected: Some(reply.status.to_string()),
                    actual: status.map(|s| String::from_utf8_lossy(s).into_owned()),
                });
            }
            reply.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        }
        Decision::Forward(forward) => {
            let mut sink = HeaderList::default();
            policy.rewrite_response(Stamp { forward, origin: req.origin }, std::iter::empty(), &mut sink);
            sink.headers.iter().map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned())).collect()
        }
    };
    let expected: Vec<(String, String)> = expected.into_iter().filter(|(n, _)| crate::fetch::is_access_control(n.as_bytes())).collect();
    if policy.varies_by_origin() {
        let vary: Vec<&[u8]> = upstream.iter().filter(|(n, _)| n.eq_ignore_ascii_case(b"vary")).map(|(_, v)| *v).collect();
        if crate::response::merge_vary(&vary, "Origin").is_some() {
            let actual = (!vary.is_empty()).then(|| {
                let mut all = String::new();
                for v in &vary {
                    if !all.is_empty() {
                        all.push_str(", ");
                    }
                    all.push_str(&String::from_utf8_lossy(v));
                }
                all
            });
            out.push(Difference { kind: DiffKind::Missing, header: "vary".into(), expected: Some("Origin".into()), actual });
        }
    }
    let mut actual: Vec<(String, String)> = Vec::new();
    for (n, v) in upstream {
        if crate::fetch::is_access_control(n) {
            let name = String::from_utf8_lossy(n).to_ascii_lowercase();
            let value = String::from_utf8_lossy(v).into_owned();
            // Repeated headers are folded, as a browser would see them.
            match actual.iter_mut().find(|(an, _)| *an == name) {
                Some((_, av)) => {
                    av.push_str(", ");
                    av.push_str(&value);
                }
                None => actual.push((name, value)),
            }
        }
    }
    for (name, want) in &expected {
        match actual.iter().find(|(an, _)| an == name) {
            None => out.push(Difference { kind: DiffKind::Missing, header: name.clone(), expected: Some(want.clone()), actual: None }),
            Some((_, got)) if !same(name, want, got) => out.push(Difference {
                kind: DiffKind::Different,
                header: name.clone(),
                expected: Some(want.clone()),
                actual: Some(got.clone()),
            }),
            Some(_) => {}
        }
    }
    for (name, got) in &actual {
        if !expected.iter().any(|(en, _)| en == name) {
            out.push(Difference { kind: DiffKind::Extra, header: name.clone(), expected: None, actual: Some(got.clone()) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_json(
            br#"{"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "PUT"],
            "allow_headers": ["x-token"], "expose_headers": ["etag"], "max_age": 600}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn diffs(req: &Request<'_>, upstream: &[(&str, &str)]) -> Vec<(DiffKind, String)> {
        compare(&policy(), req, upstream.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
            .into_iter()
            .map(|d| (d.kind, d.header))
            .collect()
    }

    #[test]
    fn actual_requests() {
        let req = Request { method: b"GET", origin: Some(b"https://app.example.com"), ..Request::default() };
        // A backend that already agrees: nothing to report, whatever the spacing.
        assert!(diffs(
            &req,
            &[
                (":status", "200"),
                ("access-control-allow-origin", "https://app.example.com"),
                ("Access-Control-Expose-Headers", "ETag"),
                ("vary", "Origin")
            ]
        )
        .is_empty());
        assert_eq!(
            diffs(&req, &[("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true"), ("vary", "*")]),
            vec![
                (DiffKind::Different, "access-control-allow-origin".to_string()),
                (DiffKind::Missing, "access-control-expose-headers".to_string()),
                (DiffKind::Extra, "access-control-allow-credentials".to_string()),
            ]
        );
        // A disallowed origin: anything the upstream grants is extra.
        let evil = Request { method: b"GET", origin: Some(b"https://evil.test"), ..Request::default() };
        assert_eq!(
            diffs(&evil, &[("access-control-allow-origin", "*"), ("Vary", "accept, origin")]),
            vec![(DiffKind::Extra, "access-control-allow-origin".to_string())]
        );
        assert!(diffs(&evil, &[("vary", "Origin")]).is_empty());
    }

    /// Contract: report mode counts a missing `Vary: Origin` where the
    /// answer depends on the origin (a shared cache would serve one origin's
    /// answer to another), with or without an Origin in the request.
    #[test]
    fn a_missing_vary_origin_is_a_difference() {
        let req = Request { method: b"GET", origin: Some(b"https://app.example.com"), ..Request::default() };
        let agreeing = [("access-control-allow-origin", "https://app.example.com"), ("access-control-expose-headers", "etag")];
        assert_eq!(diffs(&req, &agreeing), vec![(DiffKind::Missing, "vary".to_string())]);
        let with = |vary: &'static str| {
            let mut v = agreeing.to_vec();
            v.push(("vary", vary));
            diffs(&req, &v)
        };
        assert_eq!(with("Accept-Encoding"), vec![(DiffKind::Missing, "vary".to_string())]);
        assert!(with("accept-encoding, ORIGIN").is_empty());
        let no_origin = Request { method: b"GET", ..Request::default() };
        assert_eq!(diffs(&no_origin, &[]), vec![(DiffKind::Missing, "vary".to_string())]);
        // A public policy's answer does not depend on the origin.
        let public = Policy::from_json(br#"{"allow_origins": ["*"]}"#).unwrap_or_else(|e| panic!("{e}"));
        let d = compare(&public, &req, [(&b"access-control-allow-origin"[..], &b"*"[..])]);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn preflights() {
        let req = Request {
            method: b"OPTIONS",
            origin: Some(b"https://app.example.com"),
            request_method: Some(b"PUT"),
            request_headers: Some(b"x-token"),
            ..Request::default()
        };
        let upstream = [
            (":status", "204"),
            ("vary", "Origin"),
            ("access-control-allow-origin", "https://app.example.com"),
            ("access-control-allow-methods", "PUT,GET"),
            ("access-control-allow-headers", "X-Token"),
        ];
        assert_eq!(diffs(&req, &upstream), vec![(DiffKind::Missing, "access-control-max-age".to_string())]);
        let rejected = Request { request_method: Some(b"DELETE"), ..req };
        assert_eq!(diffs(&rejected, &upstream).len(), 3, "the upstream granted a preflight edge-cors would refuse");
        // Contract: a preflight edge-cors would allow that the upstream
        // fails with a non-2xx status is a difference whatever its headers.
        for status in ["404", "500", "301", "", "2"] {
            let mut failing = upstream.to_vec();
            failing[0] = (":status", status);
            assert_eq!(
                diffs(&req, &failing),
                vec![(DiffKind::Different, ":status".to_string()), (DiffKind::Missing, "access-control-max-age".to_string())],
                "{status}"
            );
        }
        let ok200 = [(":status", "200")].into_iter().chain(upstream.iter().skip(1).copied()).collect::<Vec<_>>();
        assert_eq!(diffs(&req, &ok200), vec![(DiffKind::Missing, "access-control-max-age".to_string())]);
        // Refused by edge-cors and by the upstream: no status difference.
        let refused = [(":status", "403"), ("vary", "Origin")];
        assert!(diffs(&rejected, &refused).is_empty());
    }
}
