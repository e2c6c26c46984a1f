//! `make browser`: real Chromium against a real Envoy, the final judge of
//! every decision. One binary, a module per suite.

mod browser;
mod browser_live;
mod browser_tls;
mod grpc_web;
mod playground;
