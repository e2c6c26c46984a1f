//! edge-cors as an Envoy dynamic module (`envoy.filters.http.dynamic_modules`,
//! Envoy 1.40): the shell that connects the engine (`edge_cors_engine`) to
//! Envoy's C ABI. The request lifecycle is the engine's; this crate holds
//! only the glue and every `unsafe` of it.
//!
//! - `sys`: every callback of the ABI used, declared by us (and why not the SDK);
//! - `hooks`: the exported hooks, each behind a panic barrier;
//! - `envoy`: safe functions over `sys` (headers, replies, filter state,
//!   metrics, logs);
//! - `adapter`: the engine's `Host` over those functions (tested natively
//!   against a fake of them);
//! - `config`: a filter configuration, refused or compiled, and the barrier;
//! - `live`: live origins, fetched on the main thread for the whole process;
//! - `metrics`: the counters' Envoy ids.
//!
//! `hooks` and `envoy` reference Envoy's callbacks, which only the Envoy
//! process defines, so native unit tests build without them.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

mod adapter;
#[cfg_attr(test, allow(dead_code))]
mod config;
mod live;
mod metrics;

#[cfg(not(test))]
mod envoy;
#[cfg(not(test))]
mod hooks;
#[cfg(not(test))]
mod sys;
