//! The filter's counters, in one list: each variant with its stable name
//! (documented in the README; Envoy shows them as `wasmcustom.<name>`).

use crate::policy::Rejection;
use crate::report::DiffKind;

/// Declares [`Counter`], its names and the list of all of them from one table.
macro_rules! counters {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Every counter the filter defines at start.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Counter {
            $($(#[$doc])* $variant,)*
        }

        impl Counter {
            /// In the order the filter defines them.
            pub const ALL: &'static [Counter] = &[$(Counter::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Counter::$variant => $name,)*
                }
            }
        }
    };
}

counters! {
    /// Preflights answered with the allowed status.
    PreflightAllowed => "edge_cors.preflight_allowed",
    /// Preflights answered 403, by the part that failed.
    PreflightRejectedOrigin => "edge_cors.preflight_rejected_origin",
    PreflightRejectedMethod => "edge_cors.preflight_rejected_method",
    PreflightRejectedHeader => "edge_cors.preflight_rejected_header",
    /// Actual requests from an allowed origin.
    RequestAllowed => "edge_cors.request_allowed",
    /// Actual requests from another origin (forwarded without CORS headers).
    RequestRejectedOrigin => "edge_cors.request_rejected_origin",
    /// Responses whose upstream `Access-Control-*` headers were removed.
    UpstreamCorsHeadersReplaced => "edge_cors.upstream_cors_headers_replaced",
    /// Requests a `match.routes` rule could not judge: the host gave no route name.
    RouteNameUnavailable => "edge_cors.route_name_unavailable",
    /// Writes from other sites refused at the edge (`block_cross_origin_writes`).
    CrossOriginWriteRefused => "edge_cors.cross_origin_write_refused",
    /// Report mode: writes `block_cross_origin_writes` would refuse.
    CrossOriginWriteWouldRefuse => "edge_cors.cross_origin_write_would_refuse",
}

impl Counter {
    /// The counter for a preflight's outcome.
    pub fn preflight(rejected: Option<Rejection>) -> Counter {
        match rejected {
            None => Counter::PreflightAllowed,
            Some(Rejection::Origin) => Counter::PreflightRejectedOrigin,
            Some(Rejection::Method) => Counter::PreflightRejectedMethod,
            Some(Rejection::Header) => Counter::PreflightRejectedHeader,
        }
    }
}

/// `counter` for one rule: `edge_cors.rule.<rule>.<what>` (defined only
/// when the configuration has rules).
/// An origin source's metric: `edge_cors.origins_source.<rule>.<what>`
/// (`updates_applied|unchanged|refused|failed`, gauges `origins` and
/// `seconds_since_update`); the top-level policy's rule is `default`.
pub fn source_metric(rule: &str, what: &str) -> String {
    let mut name = String::with_capacity(30 + rule.len() + what.len());
    for part in ["edge_cors.origins_source.", rule, ".", what] {
        name.push_str(part);
    }
    name
}

pub fn rule_counter(rule: &str, counter: Counter) -> String {
    let what = counter.name().strip_prefix("edge_cors.").unwrap_or(counter.name());
    let mut name = String::with_capacity(16 + rule.len() + what.len());
    for part in ["edge_cors.rule.", rule, ".", what] {
        name.push_str(part);
    }
    name
}

/// The counters each rule has its own of: the decisions.
pub const PER_RULE: [Counter; 6] = [
    Counter::PreflightAllowed,
    Counter::PreflightRejectedOrigin,
    Counter::PreflightRejectedMethod,
    Counter::PreflightRejectedHeader,
    Counter::RequestAllowed,
    Counter::RequestRejectedOrigin,
];

/// The report-mode counter of `rule` for one kind of difference:
/// `edge_cors.report.<rule>.missing|extra|different`.
pub fn report_counter(rule: &str, kind: DiffKind) -> String {
    let mut name = String::with_capacity(24 + rule.len());
    for part in ["edge_cors.report.", rule, ".", kind.as_str()] {
        name.push_str(part);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_unique() {
        let names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "edge_cors.preflight_allowed",
                "edge_cors.preflight_rejected_origin",
                "edge_cors.preflight_rejected_method",
                "edge_cors.preflight_rejected_header",
                "edge_cors.request_allowed",
                "edge_cors.request_rejected_origin",
                "edge_cors.upstream_cors_headers_replaced",
                "edge_cors.route_name_unavailable",
                "edge_cors.cross_origin_write_refused",
                "edge_cors.cross_origin_write_would_refuse",
            ]
        );
        // The filter indexes its ids by `counter as usize`.
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
        assert_eq!(Counter::preflight(Some(Rejection::Header)), Counter::PreflightRejectedHeader);
        assert_eq!(report_counter("tenants", DiffKind::Extra), "edge_cors.report.tenants.extra");
        assert_eq!(rule_counter("tenants", Counter::PreflightRejectedHeader), "edge_cors.rule.tenants.preflight_rejected_header");
    }
}
