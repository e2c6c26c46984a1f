//! What the filter did with one request, in the words operators read: the
//! access-log record (`rule=... decision=... reason=...`), the response-code
//! details of the filter's own replies, and the counters it moves.

use crate::policy::Rejection;
use crate::stats::Counter;

/// The filter's decision for one request it handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A preflight answered with the allowed status.
    PreflightAllowed,
    /// A preflight answered 403, and which part failed.
    PreflightRejected(Rejection),
    /// An actual request from an allowed origin.
    Allowed,
    /// An actual request from an origin the policy does not allow.
    Rejected,
    /// No `Origin`: not a CORS request.
    NotCors,
    /// A rule with `"cors": "off"` matched.
    Off,
    /// Report mode: nothing changed.
    Report,
    /// `block_cross_origin_writes`: a write from another site, refused
    /// with a 403 and never forwarded.
    WriteRefused,
}

impl Outcome {
    /// The access log's `decision=` value.
    pub fn decision(self) -> &'static str {
        match self {
            Outcome::PreflightAllowed => "preflight_allowed",
            Outcome::PreflightRejected(_) => "preflight_rejected",
            Outcome::Allowed => "allowed",
            Outcome::Rejected => "rejected",
            Outcome::NotCors => "not_cors",
            Outcome::Off => "off",
            Outcome::Report => "report",
            Outcome::WriteRefused => "write_refused",
        }
    }

    /// The access log's `reason=` value: what failed, or `none`.
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::PreflightRejected(why) => why.as_str(),
            Outcome::Rejected => "origin",
            Outcome::WriteRefused => "cross_origin_write",
            _ => "none",
        }
    }

    /// `%RESPONSE_CODE_DETAILS%` of the filter's own reply (preflights only).
    pub fn response_details(self) -> Option<&'static str> {
        match self {
            Outcome::PreflightAllowed => Some("edge_cors_preflight_allowed"),
            Outcome::PreflightRejected(Rejection::Origin) => Some("edge_cors_preflight_rejected_origin"),
            Outcome::PreflightRejected(Rejection::Method) => Some("edge_cors_preflight_rejected_method"),
            Outcome::PreflightRejected(Rejection::Header) => Some("edge_cors_preflight_rejected_header"),
            Outcome::WriteRefused => Some("edge_cors_cross_origin_write_refused"),
            _ => None,
        }
    }

    /// The counter this outcome moves, if any.
    pub fn counter(self) -> Option<Counter> {
        match self {
            Outcome::PreflightAllowed => Some(Counter::PreflightAllowed),
            Outcome::PreflightRejected(why) => Some(Counter::preflight(Some(why))),
            Outcome::Allowed => Some(Counter::RequestAllowed),
            Outcome::Rejected => Some(Counter::RequestRejectedOrigin),
            Outcome::WriteRefused => Some(Counter::CrossOriginWriteRefused),
            Outcome::NotCors | Outcome::Off | Outcome::Report => None,
        }
    }
}

/// The longest origin an access-log record carries (escaped bytes count).
const MAX_ORIGIN: usize = 256;

/// The access-log record: space-separated `key=value` pairs, always in this
/// order, `origin` and `detail` only when there is one. Values never hold a
/// space, a control byte, `"` or a non-ASCII byte: those are percent-encoded
/// (as `%` itself is), so the record is one safe token per field.
pub fn record(rule: &str, outcome: Outcome, origin: Option<&[u8]>, detail: Option<&str>) -> String {
    let mut out = String::with_capacity(64 + origin.map_or(0, <[u8]>::len));
    for part in ["rule=", rule, " decision=", outcome.decision(), " reason=", outcome.reason()] {
        out.push_str(part);
    }
    if let Some(origin) = origin {
        out.push_str(" origin=");
        push_escaped(&mut out, origin.get(..MAX_ORIGIN).unwrap_or(origin));
    }
    if let Some(detail) = detail {
        // The request's value, cut as the reply body cuts it: a hostile
        // 40 KB header name must not become a 40 KB log line or header.
        out.push_str(" detail=");
        match detail.as_bytes().get(..crate::policy::MAX_DETAIL) {
            Some(cut) if detail.len() > crate::policy::MAX_DETAIL => {
                push_escaped(&mut out, cut);
                out.push_str("...");
            }
            _ => push_escaped(&mut out, detail.as_bytes()),
        }
    }
    out
}

fn push_escaped(out: &mut String, value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value {
        if b.is_ascii_graphic() && b != b'%' && b != b'"' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0')));
            out.push(char::from(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0')));
        }
    }
}

// Case tables are slices of tuples; naming each tuple type would not help.
#[cfg(test)]
#[allow(clippy::type_complexity)]
mod tests {
    /// docs/contract.md "Observability": a detail is cut at 64 bytes of the
    /// request's value, visibly, in the record (and so in `x-edge-cors`).
    #[test]
    fn details_are_cut_at_64_bytes() {
        let long = "x".repeat(40_000);
        let rec = super::record("default", super::Outcome::PreflightRejected(crate::Rejection::Header), None, Some(&long));
        let want = format!("rule=default decision=preflight_rejected reason=header detail={}...", "x".repeat(64));
        assert_eq!(rec, want);
        let exact = "y".repeat(64);
        let rec = super::record("default", super::Outcome::PreflightRejected(crate::Rejection::Header), None, Some(&exact));
        assert!(rec.ends_with(&format!("detail={exact}")), "{rec}");
    }

    use super::*;

    #[test]
    fn records_in_order_with_escaped_values() {
        let cases: [(Outcome, Option<&[u8]>, Option<&str>, &str); 8] = [
            (
                Outcome::PreflightAllowed,
                Some(b"https://app.example.com"),
                None,
                "rule=default decision=preflight_allowed reason=none origin=https://app.example.com",
            ),
            (
                Outcome::PreflightRejected(Rejection::Header),
                Some(b"https://app.example.com"),
                Some("x-tenant"),
                "rule=default decision=preflight_rejected reason=header origin=https://app.example.com detail=x-tenant",
            ),
            (
                Outcome::PreflightRejected(Rejection::Origin),
                Some(b"https://evil.test"),
                None,
                "rule=default decision=preflight_rejected reason=origin origin=https://evil.test",
            ),
            (Outcome::Allowed, Some(b"null"), None, "rule=default decision=allowed reason=none origin=null"),
            (
                Outcome::Rejected,
                Some(b"https://a b\r\n\"x\"%\xff"),
                None,
                "rule=default decision=rejected reason=origin origin=https://a%20b%0D%0A%22x%22%25%FF",
            ),
            (Outcome::NotCors, None, None, "rule=default decision=not_cors reason=none"),
            (Outcome::Off, Some(b"https://a.example"), None, "rule=default decision=off reason=none origin=https://a.example"),
            (Outcome::Report, None, None, "rule=default decision=report reason=none"),
        ];
        for (outcome, origin, detail, want) in cases {
            assert_eq!(record("default", outcome, origin, detail), want);
        }
        let long = record("r", Outcome::Rejected, Some(&[b'a'; 1000]), None);
        assert_eq!(long.len(), "rule=r decision=rejected reason=origin origin=".len() + MAX_ORIGIN);
    }

    #[test]
    fn details_and_counters() {
        assert_eq!(Outcome::PreflightRejected(Rejection::Method).response_details(), Some("edge_cors_preflight_rejected_method"));
        assert_eq!(Outcome::Allowed.response_details(), None);
        assert_eq!(Outcome::PreflightRejected(Rejection::Header).counter(), Some(Counter::PreflightRejectedHeader));
        assert_eq!(Outcome::NotCors.counter(), None);
    }
}
