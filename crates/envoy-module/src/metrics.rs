//! The filter's counters as Envoy metric ids: defined once per configuration
//! (Envoy allows defining only in `config_new`), looked up per request
//! without a host call. Which counters exist is the engine's
//! (`metric_ids`); the names are the wasm shell's (`edge_cors.*`), which
//! Envoy prefixes with the module's metrics namespace
//! (`dynamicmodulescustom.` unless the filter sets `metrics_namespace`).

use edge_cors_engine::lifecycle::Count;
use edge_cors_engine::metric_ids::{CounterIds, MetricKind, SourceIds};
use edge_cors_engine::rules::Ruleset;

/// Metric ids by what they count. Empty (every lookup None) when Envoy
/// refused a definition: counting is then off, CORS is not affected.
#[derive(Debug, Default)]
pub struct Metrics(CounterIds<usize>);

/// One origin source's metric ids (`edge_cors.origins_source.<rule>.*`).
pub type SourceMetrics = SourceIds<usize>;

/// Envoy's metric definitions, as the shell passes them in (tests: a fake).
pub trait Define {
    fn counter(&mut self, name: &str) -> Result<usize, u32>;
    /// Gauges have ids of their own (Envoy numbers each kind from 1).
    fn gauge(&mut self, name: &str) -> Result<usize, u32> {
        let _ = name;
        Err(1)
    }
}

impl Metrics {
    /// Defines every counter of `ruleset` (see `CounterIds::define`).
    pub fn define(ruleset: &Ruleset, envoy: &mut impl Define) -> Result<Metrics, u32> {
        CounterIds::define(ruleset, |name| envoy.counter(name)).map(Metrics)
    }

    /// One source's ids, defined with the rest while the configuration is
    /// created.
    pub fn define_source(rule: &str, envoy: &mut impl Define) -> Result<SourceMetrics, u32> {
        SourceIds::define(rule, |kind, name| match kind {
            MetricKind::Counter => envoy.counter(name),
            MetricKind::Gauge => envoy.gauge(name),
        })
    }

    /// The ids to bump for a count.
    pub fn ids(&self, count: Count) -> [Option<usize>; 2] {
        self.0.ids(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_cors_engine::report::DiffKind;
    use edge_cors_engine::rules::Route;
    use edge_cors_engine::stats::Counter;

    /// Envoy's behaviour: ids from 1.
    #[derive(Default)]
    struct Names(Vec<String>);

    impl Define for Names {
        fn counter(&mut self, name: &str) -> Result<usize, u32> {
            self.0.push(name.to_string());
            Ok(self.0.len())
        }
    }

    fn ruleset(json: &str) -> Ruleset {
        Ruleset::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_decision_bumps_its_total_and_with_rules_its_rule() {
        let mut names = Names::default();
        let plain = Metrics::define(&ruleset(r#"{"allow_origins": ["https://a.example"]}"#), &mut names).unwrap_or_default();
        let allowed = Count::Decision(Route::Default, Counter::RequestAllowed);
        let id = plain.ids(allowed)[0].unwrap_or(0);
        assert_eq!(names.0.get(id - 1).map(String::as_str), Some("edge_cors.request_allowed"));
        assert_eq!(plain.ids(allowed)[1], None, "no rules, no per-rule counter");

        let mut names = Names::default();
        let rules = ruleset(
            r#"{"allow_origins": ["https://a.example"], "rules": [{"name": "pay", "match": {"path_prefix": "/p"}, "allow_origins": ["https://p.example"]}]}"#,
        );
        let m = Metrics::define(&rules, &mut names).unwrap_or_default();
        let [total, rule] = m.ids(Count::Decision(Route::Rule(0), Counter::PreflightRejectedOrigin));
        assert_eq!(names.0.get(total.unwrap_or(0) - 1).map(String::as_str), Some("edge_cors.preflight_rejected_origin"));
        assert_eq!(names.0.get(rule.unwrap_or(0) - 1).map(String::as_str), Some("edge_cors.rule.pay.preflight_rejected_origin"));
    }

    #[test]
    fn report_mode_counts_differences_per_rule() {
        let mut names = Names::default();
        let m = Metrics::define(&ruleset(r#"{"mode": "report", "allow_origins": ["https://a.example"]}"#), &mut names).unwrap_or_default();
        let [id, none] = m.ids(Count::Report(Route::Default, DiffKind::Extra));
        assert_eq!(names.0.get(id.unwrap_or(0) - 1).map(String::as_str), Some("edge_cors.report.default.extra"));
        assert_eq!(none, None);
    }

    #[test]
    fn a_refused_definition_refuses_them_all() {
        struct Frozen;
        impl Define for Frozen {
            fn counter(&mut self, _: &str) -> Result<usize, u32> {
                Err(3)
            }
        }
        assert_eq!(Metrics::define(&ruleset(r#"{"allow_origins": ["*"]}"#), &mut Frozen).err(), Some(3));
        assert_eq!(Metrics::default().ids(Count::Total(Counter::RouteNameUnavailable)), [None, None]);
    }
}
