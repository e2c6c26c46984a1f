//! `make integration`: edge-cors inside a real Envoy 1.40, one binary for
//! every suite (one build, one link), each suite a module named for what it
//! checks. Suites start their own Envoy processes on free ports, so they run
//! in parallel like the tests of one file.

mod envoy;
mod envoy_config;
mod envoy_hardening;
mod envoy_hostile;
mod envoy_live;
mod envoy_module;
mod envoy_observability;
mod envoy_reload;
mod envoy_rules;
