//! edge-cors's CORS engine: everything a shell asks and nothing a proxy
//! owns. Plain Rust, no `unsafe`, no proxy types, tested natively; the
//! proxy-wasm shell (`crates/wasm`), the Envoy dynamic-module shell
//! (`crates/envoy-module`) and the command line (`crates/cli`) are built
//! on it.
//!
//! - `config`: the plugin configuration, JSON in, a validated `ConfigSpec`
//!   out or every problem (one line each: field, value, fix); `json` reads
//!   JSON recording keys given twice.
//! - `lifecycle`: one request and its response, written once for every
//!   shell against a small `Host` trait (route, decide, answer or forward,
//!   record, count, stamp, report mode).
//! - `origins`, `psl`: `allow_origins` entries, the compiled origin set, the
//!   Public Suffix List compiled in.
//! - `fetch`, `token`: the Fetch standard's facts; HTTP tokens and lists.
//! - `policy`: one compiled policy and its decision for a request.
//! - `rules`: the ruleset (default policy, rules, mode) and routing a request.
//! - `response`: the rewrite of a forwarded response (strip, stamp, `Vary`).
//! - `report`: report mode's comparison with the upstream's headers.
//! - `outcome`, `stats`, `log_line`: the access-log record and response-code
//!   details, the counters' names, the filter's log lines; `metric_ids`: the
//!   host's ids of those counters, defined once per policy.
//! - `writes`: `block_cross_origin_writes`, refusing cross-site writes.
//! - `live`: live origins (`allow_origins_from`): what an answer means, the
//!   values a shell shares between workers.
#![forbid(unsafe_code)]

pub mod config;
pub mod fetch;
pub mod json;
pub mod lifecycle;
pub mod live;
pub mod log_line;
pub mod metric_ids;
pub mod origins;
pub mod outcome;
pub mod policy;
pub mod psl;
pub mod report;
pub mod response;
pub mod rules;
pub mod stats;
pub mod token;
pub mod writes;

pub use config::{ConfigError, ConfigErrors};
pub use policy::{Decision, Forward, Policy, PreflightReply, Rejection, Request};
pub use response::{HeaderList, HeaderSink, Stamp};
