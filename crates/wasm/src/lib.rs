//! edge-cors as a proxy-wasm filter: the shell that connects the engine
//! (`edge_cors_engine`) to a proxy-wasm host. It holds every `unsafe` of the
//! project and no CORS rule.
//!
//! - `abi`: the ABI's exports and the context table (`export_abi!`);
//! - `host`: the few host calls the filter makes, declared directly, never
//!   panicking on a status or a byte; `wire`: the header-map wire format;
//! - `filter`: read the headers, ask the engine, apply its answer;
//! - `fetcher`: live origins in the proxy (timer, lease, HTTP call, shared
//!   data); `metrics`: counters on the raw ABI.

// Until every unsafe block of the ABI layer carries its SAFETY comment
// (the next commit), this crate is exempt from the workspace's rule.
#![allow(clippy::undocumented_unsafe_blocks)]

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
