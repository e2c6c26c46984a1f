//! edge-cors: a CORS policy engine and its proxy-wasm filter.
//!
//! The engine (`config`, `origin`, `policy`, `response`) is plain Rust with
//! no proxy-wasm types, tested natively; `filter` and `host` are the thin
//! adapter compiled only for wasm.

pub mod config;
pub mod fetch;
pub mod json;
pub mod live;
pub mod log_line;
pub mod origin;
pub mod outcome;
pub mod policy;
pub mod psl;
pub mod report;
pub mod response;
pub mod rules;
pub mod stats;
pub mod token;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
mod fetcher;
#[cfg(target_arch = "wasm32")]
mod filter;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(target_arch = "wasm32")]
mod metrics;

pub use config::{ConfigError, ConfigErrors};
pub use policy::{Decision, Forward, Policy, PreflightReply, Rejection, Request};
pub use response::{HeaderList, HeaderSink, Stamp};
