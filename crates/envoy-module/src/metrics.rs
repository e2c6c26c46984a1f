//! The filter's counters as Envoy metric ids: defined once per configuration
//! (Envoy allows defining only in `config_new`), looked up per request
//! without a host call. The names are the wasm shell's (`edge_cors.*`);
//! Envoy prefixes them with the module's metrics namespace
//! (`dynamicmodulescustom.` unless the filter sets `metrics_namespace`).

use edge_cors_engine::lifecycle::Count;
use edge_cors_engine::report::DiffKind;
use edge_cors_engine::rules::Ruleset;
use edge_cors_engine::stats::{report_counter, rule_counter, source_metric, Counter, PER_RULE};

/// Metric ids by what they count. Empty (every lookup None) when Envoy
/// refused a definition: counting is then off, CORS is not affected.
#[derive(Debug, Default)]
pub struct Metrics {
    /// By `Counter as usize`.
    totals: Vec<usize>,
    /// Per-rule decision counters: the default's, then each rule's, in the
    /// order of `PER_RULE` (only with rules).
    rules: Vec<[usize; PER_RULE.len()]>,
    /// Report mode: the default's, then each rule's, by `DiffKind::ALL`.
    report: Vec<[usize; 3]>,
}

/// One origin source's metric ids (`edge_cors.origins_source.<rule>.*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceMetrics {
    pub applied: usize,
    pub unchanged: usize,
    pub refused: usize,
    /// Refused answers whose removals were applied (also in `refused`).
    pub removals: usize,
    pub failed: usize,
    /// Gauges.
    pub origins: usize,
    pub age: usize,
}

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
    /// Defines every counter of `ruleset`: the totals; per-rule ones where
    /// there are rules (report mode: the differences, always).
    pub fn define(ruleset: &Ruleset, envoy: &mut impl Define) -> Result<Metrics, u32> {
        let mut m = Metrics::default();
        for counter in Counter::ALL {
            m.totals.push(envoy.counter(counter.name())?);
        }
        let report = ruleset.mode == edge_cors_engine::config::Mode::Report;
        if report || ruleset.has_rules() {
            for route in ruleset.routes() {
                let rule = ruleset.rule_name(route);
                if report {
                    let mut ids = [0; 3];
                    for (id, kind) in ids.iter_mut().zip(DiffKind::ALL) {
                        *id = envoy.counter(&report_counter(rule, kind))?;
                    }
                    m.report.push(ids);
                } else {
                    let mut ids = [0; PER_RULE.len()];
                    for (id, counter) in ids.iter_mut().zip(PER_RULE) {
                        *id = envoy.counter(&rule_counter(rule, counter))?;
                    }
                    m.rules.push(ids);
                }
            }
        }
        Ok(m)
    }

    /// One source's ids (`edge_cors.origins_source.<rule>.*`), defined with
    /// the rest while the configuration is created.
    pub fn define_source(rule: &str, envoy: &mut impl Define) -> Result<SourceMetrics, u32> {
        let name = |what: &str| source_metric(rule, what);
        Ok(SourceMetrics {
            applied: envoy.counter(&name("updates_applied"))?,
            unchanged: envoy.counter(&name("updates_unchanged"))?,
            refused: envoy.counter(&name("updates_refused"))?,
            removals: envoy.counter(&name("updates_removals_applied"))?,
            failed: envoy.counter(&name("updates_failed"))?,
            origins: envoy.gauge(&name("origins"))?,
            age: envoy.gauge(&name("seconds_since_update"))?,
        })
    }

    /// The ids to bump for a count: a decision moves its total and, with
    /// rules, the rule's own counter.
    pub fn ids(&self, count: Count) -> [Option<usize>; 2] {
        match count {
            Count::Total(counter) => [self.totals.get(counter as usize).copied(), None],
            Count::Decision(route, counter) => {
                let at = PER_RULE.iter().position(|c| *c == counter);
                let rule = at.and_then(|at| self.rules.get(route.counter_slot()).and_then(|ids| ids.get(at)).copied());
                [self.totals.get(counter as usize).copied(), rule]
            }
            Count::Report(route, kind) => {
                let at = DiffKind::ALL.iter().position(|k| *k == kind);
                [at.and_then(|at| self.report.get(route.counter_slot()).and_then(|ids| ids.get(at)).copied()), None]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_cors_engine::rules::Route;

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
