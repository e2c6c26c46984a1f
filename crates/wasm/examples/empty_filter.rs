//! The floor any proxy-wasm filter pays: SDK boilerplate and no logic. The
//! benchmark (`make bench`) runs it beside edge-cors, so edge-cors's own cost
//! is what remains above this.
#![cfg(target_arch = "wasm32")]

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Empty) });
}}

struct Empty;

impl Context for Empty {}

impl HttpContext for Empty {}
