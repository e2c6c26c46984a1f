//! The hooks Envoy 1.40 resolves in the module (`envoy_dynamic_module_on_*`):
//! the 20 HTTP hooks it requires and `program_init`. Each body runs behind
//! a barrier (`config::barrier`): a panic that crossed `extern "C"` would abort Envoy's whole
//! process, so it is caught, logged, and the request continues unchanged.

use std::ffi::c_void;

use edge_cors_engine::lifecycle::{Action, Stream};

use crate::adapter::Adapter;
use crate::config::{configure, Config};
use crate::envoy;
use crate::sys::{self, ConfigEnvoyPtr, EnvoyBuffer, FilterEnvoyPtr};

/// One stream's state, owned by Envoy's filter from `http_filter_new` to
/// `http_filter_destroy`, on one worker.
struct StreamState {
    /// Envoy keeps the configuration alive while a filter made from it
    /// exists (the config is destroyed after its last filter).
    config: *const Config,
    stream: Stream,
}

/// [`crate::config::barrier`] logging to Envoy.
fn guard<T>(hook: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    crate::config::barrier(hook, fallback, body, |line| envoy::log(4, line))
}

/// Reads an Envoy buffer lent to a hook.
///
/// # Safety
/// `buf` must be an Envoy buffer handed to the running hook.
unsafe fn bytes<'a>(buf: EnvoyBuffer) -> &'a [u8] {
    if buf.ptr.is_null() || buf.length == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract: valid for the hook's duration.
        unsafe { std::slice::from_raw_parts(buf.ptr, buf.length) }
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    sys::ABI_VERSION.as_ptr()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: ConfigEnvoyPtr,
    name: EnvoyBuffer,
    config: EnvoyBuffer,
) -> *const c_void {
    guard("config_new", std::ptr::null(), || {
        // SAFETY: both buffers are lent to this hook by Envoy.
        let (name, config) = unsafe { (bytes(name), bytes(config)) };
        match configure(name, config, &mut envoy::Definitions { config: config_envoy }, |line| envoy::log(3, line)) {
            Ok(config) => Box::into_raw(Box::new(config)) as *const c_void,
            Err(line) => {
                envoy::log(4, &line);
                std::ptr::null()
            }
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    guard("config_destroy", (), || {
        if !config.is_null() {
            // SAFETY: `config` came from `Box::into_raw` in config_new and
            // Envoy destroys it once, after its last filter.
            drop(unsafe { Box::from_raw(config as *mut Config) });
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(config: *const c_void, _filter_envoy: FilterEnvoyPtr) -> *const c_void {
    guard("http_filter_new", std::ptr::null(), || {
        Box::into_raw(Box::new(StreamState { config: config as *const Config, stream: Stream::default() })) as *const c_void
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(filter: *const c_void) {
    guard("http_filter_destroy", (), || {
        if !filter.is_null() {
            // SAFETY: `filter` came from `Box::into_raw` in http_filter_new;
            // Envoy destroys it once, when none of its hooks is running.
            drop(unsafe { Box::from_raw(filter as *mut StreamState) });
        }
    })
}

/// Runs `f` with the stream's state and its configuration.
///
/// # Safety
/// `filter` must be this module's `StreamState` for the running hook.
unsafe fn with_stream<T>(filter: *const c_void, missing: T, f: impl FnOnce(&mut StreamState, &Config) -> T) -> T {
    // SAFETY: the caller's contract; one stream's hooks run on one worker,
    // one at a time, and the only hooks Envoy may run inline during ours
    // (stream_complete; local_reply is not exported) do not touch the state.
    let Some(state) = (unsafe { (filter as *mut StreamState).as_mut() }) else {
        return missing;
    };
    // SAFETY: the configuration outlives the filters made from it.
    let Some(config) = (unsafe { state.config.as_ref() }) else {
        return missing;
    };
    f(state, config)
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
    _end: bool,
) -> u32 {
    guard("request_headers", sys::CONTINUE, || {
        #[cfg(feature = "panic-probe")]
        probe(filter_envoy, "request_headers");
        // SAFETY: `filter` is ours, handed back by Envoy for this stream.
        unsafe {
            with_stream(filter, sys::CONTINUE, |state, config| {
                let mut host = Adapter { envoy: envoy::Stream { ptr: filter_envoy }, metrics: &config.metrics };
                match state.stream.on_request_headers(&config.filter, &mut host) {
                    Action::Continue => sys::CONTINUE,
                    Action::Stop => sys::STOP_ITERATION,
                }
            })
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    filter_envoy: FilterEnvoyPtr,
    filter: *const c_void,
    _end: bool,
) -> u32 {
    guard("response_headers", sys::CONTINUE, || {
        #[cfg(feature = "panic-probe")]
        probe(filter_envoy, "response_headers");
        // SAFETY: `filter` is ours, handed back by Envoy for this stream.
        unsafe {
            with_stream(filter, (), |state, config| {
                let mut host = Adapter { envoy: envoy::Stream { ptr: filter_envoy }, metrics: &config.metrics };
                state.stream.on_response_headers(&config.filter, &mut host);
            })
        };
        sys::CONTINUE
    })
}

/// Test builds only: panics in `hook` when the request asks for it.
#[cfg(feature = "panic-probe")]
fn probe(filter_envoy: FilterEnvoyPtr, hook: &str) {
    use crate::adapter::{EnvoyStream, Map};
    let asked = envoy::Stream { ptr: filter_envoy }.header(Map::Request, "x-edge-cors-panic");
    if asked.as_deref() == Some(hook.as_bytes()) {
        panic!("panic probe in {hook}");
    }
}

// The hooks Envoy 1.40 requires that a headers-only filter does not use
// (shared with the benchmark's floor module, which must export them too).
#[path = "required.rs"]
mod required;
