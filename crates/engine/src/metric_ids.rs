//! The host's ids of the filter's metrics, by what they count: defined once
//! when a policy is loaded, looked up per request with no host call. Both
//! shells number metrics through their host (proxy-wasm's
//! `proxy_define_metric`, Envoy's `config_define_counter`) and keep the ids
//! here, so which counters exist (per-rule ones only where there are rules;
//! report mode's differences) is decided once, for both.

use crate::config::Mode;
use crate::lifecycle::Count;
use crate::live::SourceCount;
use crate::report::DiffKind;
use crate::rules::Ruleset;
use crate::stats::{report_counter, rule_counter, source_metric, Counter, PER_RULE};

/// Metric ids of one policy's counters, `Id` being the host's id type.
#[derive(Debug, Clone, Default)]
pub struct CounterIds<Id> {
    /// By `Counter as usize`.
    totals: Vec<Id>,
    /// Per-rule decision counters: the default's, then each rule's, in the
    /// order of `PER_RULE` (only with rules).
    rules: Vec<[Id; PER_RULE.len()]>,
    /// Report mode: the default's, then each rule's, by `DiffKind::ALL`.
    report: Vec<[Id; 3]>,
}

impl<Id: Copy + Default> CounterIds<Id> {
    /// Defines every counter of `ruleset` through `define` (a host call per
    /// name): the totals; per-rule ones where there are rules (report mode:
    /// the differences, always). The first refusal stops and is returned.
    pub fn define<E>(ruleset: &Ruleset, mut define: impl FnMut(&str) -> Result<Id, E>) -> Result<CounterIds<Id>, E> {
        let mut ids = CounterIds { totals: Vec::new(), rules: Vec::new(), report: Vec::new() };
        for counter in Counter::ALL {
            ids.totals.push(define(counter.name())?);
        }
        let report = ruleset.mode == Mode::Report;
        if report || ruleset.has_rules() {
            for route in ruleset.routes() {
                let rule = ruleset.rule_name(route);
                if report {
                    let mut kinds = [Id::default(); 3];
                    for (id, kind) in kinds.iter_mut().zip(DiffKind::ALL) {
                        *id = define(&report_counter(rule, kind))?;
                    }
                    ids.report.push(kinds);
                } else {
                    let mut decisions = [Id::default(); PER_RULE.len()];
                    for (id, counter) in decisions.iter_mut().zip(PER_RULE) {
                        *id = define(&rule_counter(rule, counter))?;
                    }
                    ids.rules.push(decisions);
                }
            }
        }
        Ok(ids)
    }

    /// The ids to bump for a count: a decision moves its total and, with
    /// rules, the rule's own counter.
    pub fn ids(&self, count: Count) -> [Option<Id>; 2] {
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

/// One origin source's metric ids (`edge_cors.origins_source.<rule>.*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceIds<Id> {
    pub applied: Id,
    pub unchanged: Id,
    pub refused: Id,
    /// Refused answers whose removals were applied (also in `refused`).
    pub removals: Id,
    pub failed: Id,
    /// Gauges.
    pub origins: Id,
    pub age: Id,
}

impl<Id: Copy> SourceIds<Id> {
    /// The counter's id.
    pub fn id(&self, count: SourceCount) -> Id {
        match count {
            SourceCount::Applied => self.applied,
            SourceCount::Unchanged => self.unchanged,
            SourceCount::Refused => self.refused,
            SourceCount::RemovalsApplied => self.removals,
            SourceCount::Failed => self.failed,
        }
    }
}

/// What a metric is, for the host's definition call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
}

impl<Id> SourceIds<Id> {
    /// Defines one source's counters and gauges through `define`.
    pub fn define<E>(rule: &str, mut define: impl FnMut(MetricKind, &str) -> Result<Id, E>) -> Result<SourceIds<Id>, E> {
        let mut counter = |what: &str| define(MetricKind::Counter, &source_metric(rule, what));
        let (applied, unchanged) = (counter("updates_applied")?, counter("updates_unchanged")?);
        let (refused, removals, failed) = (counter("updates_refused")?, counter("updates_removals_applied")?, counter("updates_failed")?);
        let origins = define(MetricKind::Gauge, &source_metric(rule, "origins"))?;
        let age = define(MetricKind::Gauge, &source_metric(rule, "seconds_since_update"))?;
        Ok(SourceIds { applied, unchanged, refused, removals, failed, origins, age })
    }
}
