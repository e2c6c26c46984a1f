//! Counters in the host's stats (Envoy: `/stats`), declared on the raw ABI.
//!
//! The SDK's metric helpers panic on any status but Ok, and some hosts
//! answer Unimplemented (Service Extensions) or stub metrics out: the first
//! failure switches counting off with one warning, and the filter goes on.

use std::cell::Cell;

use crate::host::{self, Level};
use crate::sys;
use edge_cors_engine::lifecycle::Count;
use edge_cors_engine::metric_ids::{CounterIds, MetricKind, SourceIds};
use edge_cors_engine::rules::Ruleset;

const COUNTER: u32 = 0;
const GAUGE: u32 = 1;
const OK: u32 = 0;

pub struct Metrics {
    /// Which counters exist, and their ids (the engine's table).
    ids: CounterIds<u32>,
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
    /// Defines the counters of `ruleset` (`CounterIds::define`: per-rule
    /// ones only with rules; in report mode, the differences).
    pub fn define(ruleset: &Ruleset) -> Metrics {
        match CounterIds::define(ruleset, define) {
            Ok(ids) => Metrics { ids, on: Cell::new(true) },
            Err(status) => {
                off_warning(status);
                Metrics { ids: CounterIds::default(), on: Cell::new(false) }
            }
        }
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

    /// A count from the lifecycle: its total and, with rules, its rule's.
    pub fn count(&self, count: Count) {
        for id in self.ids.ids(count) {
            self.bump(id);
        }
    }

    /// One origin source's counters and gauges (`edge_cors.origins_source.<rule>.*`),
    /// defined when the policy is loaded; None where metrics are off.
    pub fn define_source(&self, rule: &str) -> Option<SourceMetrics> {
        if !self.on.get() {
            return None;
        }
        let ids = || {
            SourceIds::define(rule, |kind, name| match kind {
                MetricKind::Counter => define_kind(COUNTER, name),
                MetricKind::Gauge => define_kind(GAUGE, name),
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
pub type SourceMetrics = SourceIds<u32>;
