//! edge-cors as a proxy-wasm filter: the shell that connects the engine
//! (`edge_cors_engine`) to a proxy-wasm host. It holds every `unsafe` of the
//! project and no CORS rule.
//!
//! - `sys`: every import of the ABI, declared by us (and why not the SDK's);
//! - `abi`: the exports (`export_abi!`); `contexts`: the context table they
//!   dispatch to (native, unit-tested);
//! - `host`: safe functions over `sys`, never panicking on a status or a
//!   byte; `wire`: the header-map wire format;
//! - `filter`: read the headers, ask the engine, apply its answer;
//! - `fetcher`: live origins in the proxy (timer, lease, HTTP call, shared
//!   data); `metrics`: counters on the raw ABI.

pub mod contexts;
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
#[cfg(target_arch = "wasm32")]
mod sys;
