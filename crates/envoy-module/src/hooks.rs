//! The hooks Envoy 1.40 resolves in the module (`envoy_dynamic_module_on_*`):
//! the 20 HTTP hooks it requires and `program_init`. Each body runs behind
//! a barrier (`config::barrier`): a panic that crossed `extern "C"` would abort Envoy's whole
//! process, so it is caught, logged, and the request continues unchanged.

use std::ffi::c_void;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use edge_cors_engine::lifecycle::{Action, Stream};

use crate::adapter::Adapter;
use crate::config::{configure, Config};
use crate::envoy::{self, lent};
use crate::live::Reply;
use crate::sys::{self, ConfigEnvoyPtr, EnvoyBuffer, EnvoyHeader, FilterEnvoyPtr};

/// What `config_new` hands Envoy: the configuration, and for live origins
/// the timer that ticks it and the answers Envoy delivered while a tick was
/// still sending (a call can fail inline, before its id is known).
struct Loaded {
    config: Config,
    timer: Option<envoy::Timer>,
    inline: Mutex<Vec<Inline>>,
}

/// A callout's answer kept until the tick that sent it has its id.
struct Inline {
    id: u64,
    status: Option<Vec<u8>>,
    etag: Option<Vec<u8>>,
    body: Vec<u8>,
}

/// How often a configuration with live origins ticks.
const TICK: Duration = Duration::from_secs(1);

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
        let (name, config) = unsafe { (lent(name.ptr, name.length), lent(config.ptr, config.length)) };
        let defs = &mut envoy::Definitions { config: config_envoy };
        match configure(name, config, defs, envoy::now_ms(), |line| envoy::log(3, line)) {
            Ok(config) => {
                // `--mode validate` checks the policy; it must not fetch.
                let ticks = config.fetchers.is_some() && !envoy::is_validation_mode();
                let timer = if ticks { envoy::Timer::start(config_envoy, TICK) } else { None };
                if ticks && timer.is_none() {
                    envoy::log(4, "edge-cors: Envoy gave no scheduler for allow_origins_from; only the static allow_origins apply");
                }
                Box::into_raw(Box::new(Loaded { config, timer, inline: Mutex::new(Vec::new()) })) as *const c_void
            }
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
            // Envoy destroys it once, after its last filter. The timer
            // (stopped, joined, its scheduler deleted) goes first.
            let mut loaded = unsafe { Box::from_raw(config as *mut Loaded) };
            drop(loaded.timer.take());
            drop(loaded);
        }
    })
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(config: *const c_void, _filter_envoy: FilterEnvoyPtr) -> *const c_void {
    guard("http_filter_new", std::ptr::null(), || {
        // SAFETY: `config` is what config_new returned (Envoy creates no
        // filter from a refused configuration), alive until config_destroy.
        let config = unsafe { (config as *const Loaded).as_ref() }.map_or(std::ptr::null(), |l| &l.config as *const Config);
        Box::into_raw(Box::new(StreamState { config, stream: Stream::default() })) as *const c_void
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

/// The configuration's tick (main thread): gauges, and the calls due.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(config_envoy: ConfigEnvoyPtr, config: *const c_void, _event: u64) {
    guard("config_scheduled", (), || {
        // SAFETY: ours, from config_new, alive until config_destroy, which
        // runs on this (main) thread.
        let Some(loaded) = (unsafe { (config as *const Loaded).as_ref() }) else { return };
        let Some(fetchers) = &loaded.config.fetchers else { return };
        let mut fetchers = fetchers.lock().unwrap_or_else(PoisonError::into_inner);
        let main = &mut envoy::ConfigCalls { config: config_envoy };
        let ruleset = &loaded.config.filter.ruleset;
        fetchers.tick(ruleset, main);
        let inline = std::mem::take(&mut *loaded.inline.lock().unwrap_or_else(PoisonError::into_inner));
        for a in inline {
            let reply = Reply { id: a.id, status: a.status.as_deref(), etag: a.etag.as_deref(), body_size: a.body.len() };
            fetchers.answer(ruleset, main, reply, || a.body.clone());
        }
    })
}

/// The answer to a fetch (main thread): Envoy's headers (`:status` first)
/// and body chunks, lent for this hook only.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
    config_envoy: ConfigEnvoyPtr,
    config: *const c_void,
    callout_id: u64,
    result: u32,
    headers: *mut EnvoyHeader,
    headers_size: usize,
    chunks: *mut EnvoyBuffer,
    chunks_size: usize,
) {
    guard("config_http_callout_done", (), || {
        // SAFETY: ours, from config_new, alive until config_destroy (main).
        let Some(loaded) = (unsafe { (config as *const Loaded).as_ref() }) else { return };
        let Some(fetchers) = &loaded.config.fetchers else { return };
        // SAFETY: Envoy's arrays of the sizes given (or null), lent to
        // this hook; read here and copied below before it returns.
        let (headers, chunks) = unsafe { (lent(headers, headers_size), lent(chunks, chunks_size)) };
        let header = |name: &[u8]| {
            headers.iter().find_map(|h| {
                // SAFETY: Envoy's buffers, valid for this hook.
                let (k, v) = unsafe { (lent(h.key_ptr, h.key_length), lent(h.value_ptr, h.value_length)) };
                k.eq_ignore_ascii_case(name).then(|| v.to_vec())
            })
        };
        let status = if result == sys::CALLOUT_SUCCESS { header(b":status") } else { None };
        let etag = header(b"etag");
        let size = chunks.iter().map(|c| c.length).sum();
        // SAFETY: Envoy's chunks, valid for this hook.
        let body = || chunks.iter().flat_map(|c| unsafe { lent(c.ptr, c.length) }.iter().copied()).collect::<Vec<u8>>();
        match fetchers.try_lock() {
            Ok(mut fetchers) => {
                let main = &mut envoy::ConfigCalls { config: config_envoy };
                let reply = Reply { id: callout_id, status: status.as_deref(), etag: etag.as_deref(), body_size: size };
                fetchers.answer(&loaded.config.filter.ruleset, main, reply, body);
            }
            // Delivered inside our own callout call, during a tick: kept
            // for that tick, which knows the id once the call returns.
            Err(_) => {
                loaded.inline.lock().unwrap_or_else(PoisonError::into_inner).push(Inline { id: callout_id, status, etag, body: body() })
            }
        }
    })
}

// The hooks Envoy 1.40 requires that a headers-only filter does not use
// (shared with the benchmark's floor module, which must export them too).
#[path = "required.rs"]
mod required;
