//! Counters in the host's stats (Envoy: `/stats`), declared on the raw ABI.
//!
//! The SDK's metric helpers panic on any status but Ok, and some hosts
//! answer Unimplemented (Service Extensions) or stub metrics out: the first
//! failure switches counting off with one warning, and the filter goes on.

use std::cell::Cell;

use crate::host::{self, Level};
use crate::sys;
use edge_cors_engine::report::DiffKind;
use edge_cors_engine::rules::Route;
use edge_cors_engine::stats::{report_counter, rule_counter, source_metric, Counter, PER_RULE};

const COUNTER: u32 = 0;
const GAUGE: u32 = 1;
const OK: u32 = 0;

pub struct Metrics {
    /// By `Counter as usize`.
    ids: Vec<u32>,
    /// Report-mode counters: the default policy's, then each rule's, each in
    /// the order of `DiffKind::ALL`.
    report: Vec<[u32; 3]>,
    /// Per-rule decision counters (only with rules): the default policy's,
    /// then each rule's, each in the order of `PER_RULE`.
    rules: Vec<[u32; PER_RULE.len()]>,
    on: Cell<bool>,
}

fn define(name: &str) -> Result<u32, u32> {
    define_kind(COUNTER, name)
}

fn define_kind(kind: u32, name: &str) -> Result<u32, u32> {
    let mut id = 0;
    // SAFETY: `name` is a live `str`, `id` a live local (`sys` contract).
    let status = unsafe { sys::proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) };
    if status == OK {
        Ok(id)
    } else {
        Err(status)
    }
}

fn off_warning(status: u32) {
    host::log(
        Level::Warn,
        &format!("edge-cors: this host does not support metrics (status {status}); counting is off, CORS is not affected"),
    );
}

impl Metrics {
    /// Defines the counters. `rules` names the default policy and the rules
    /// (empty: no rules, no per-rule counters); `report` whether they get
    /// report-mode counters (`edge_cors.report.<rule>.missing|extra|different`)
    /// or decision counters (`edge_cors.rule.<rule>.preflight_allowed`...).
    pub fn define(rules: &[&str], report: bool) -> Metrics {
        let mut m = Metrics { ids: Vec::new(), report: Vec::new(), rules: Vec::new(), on: Cell::new(true) };
        let mut all = || -> Result<(), u32> {
            for counter in Counter::ALL {
                m.ids.push(define(counter.name())?);
            }
            for rule in rules {
                if report {
                    let mut ids = [0; 3];
                    for (id, kind) in ids.iter_mut().zip(DiffKind::ALL) {
                        *id = define(&report_counter(rule, kind))?;
                    }
                    m.report.push(ids);
                } else {
                    let mut ids = [0; PER_RULE.len()];
                    for (id, counter) in ids.iter_mut().zip(PER_RULE) {
                        *id = define(&rule_counter(rule, counter))?;
                    }
                    m.rules.push(ids);
                }
            }
            Ok(())
        };
        if let Err(status) = all() {
            off_warning(status);
            m.on.set(false);
        }
        m
    }

    fn bump(&self, id: Option<u32>) {
        let Some(id) = id else { return };
        if !self.on.get() {
            return;
        }
        // SAFETY: plain integers, no pointer.
        let status = unsafe { sys::proxy_increment_metric(id, 1) };
        if status != OK {
            off_warning(status);
            self.on.set(false);
        }
    }

    pub fn count(&self, c: Counter) {
        self.bump(self.ids.get(c as usize).copied());
    }

    /// A decision: the total, and the rule's own counter when there are rules.
    pub fn count_decision(&self, route: Route, counter: Counter) {
        self.count(counter);
        // No rules, no per-rule counters (known at configure time).
        if self.rules.is_empty() {
            return;
        }
        let rule = route.counter_slot();
        let Some(at) = PER_RULE.iter().position(|c| *c == counter) else { return };
        self.bump(self.rules.get(rule).and_then(|ids| ids.get(at)).copied());
    }

    /// A report-mode difference under `route` (the names given to `define`
    /// are the default's, then the rules').
    pub fn count_report(&self, route: Route, kind: DiffKind) {
        let rule = route.counter_slot();
        let kind = DiffKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.bump(self.report.get(rule).and_then(|ids| ids.get(kind)).copied());
    }

    /// One origin source's counters and gauges (`edge_cors.origins_source.<rule>.*`),
    /// defined when the policy is loaded; None where metrics are off.
    pub fn define_source(&self, rule: &str) -> Option<SourceMetrics> {
        if !self.on.get() {
            return None;
        }
        let name = |what: &str| source_metric(rule, what);
        let ids = || -> Result<SourceMetrics, u32> {
            Ok(SourceMetrics {
                applied: define(&name("updates_applied"))?,
                unchanged: define(&name("updates_unchanged"))?,
                refused: define(&name("updates_refused"))?,
                removals: define(&name("updates_removals_applied"))?,
                failed: define(&name("updates_failed"))?,
                origins: define_kind(GAUGE, &name("origins"))?,
                age: define_kind(GAUGE, &name("seconds_since_update"))?,
            })
        };
        match ids() {
            Ok(m) => Some(m),
            Err(status) => {
                off_warning(status);
                self.on.set(false);
                None
            }
        }
    }

    pub fn bump_id(&self, id: u32) {
        self.bump(Some(id));
    }

    pub fn record(&self, id: u32, value: u64) {
        if !self.on.get() {
            return;
        }
        // SAFETY: plain integers, no pointer.
        if unsafe { sys::proxy_record_metric(id, value) } != OK {
            self.on.set(false);
        }
    }
}

/// Metric ids of one origin source.
#[derive(Clone, Copy)]
pub struct SourceMetrics {
    pub applied: u32,
    pub unchanged: u32,
    pub refused: u32,
    /// Refused answers whose removals were applied (also in `refused`).
    pub removals: u32,
    pub failed: u32,
    pub origins: u32,
    pub age: u32,
}
