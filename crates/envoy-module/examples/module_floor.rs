//! The floor for a CORS filter on Envoy's dynamic-module ABI: for each
//! benchmark scenario it makes the Envoy calls edge-cors's module makes (one
//! bulk read of the request headers, a counter, the filter-state record, the
//! 5-header preflight reply with its details, one read of the response
//! headers and the same stamped headers), with fixed answers for the
//! benchmark's policy instead of the engine. `make bench` runs it beside the
//! module: what the module costs above it is its own logic. Never shipped,
//! so it has no panic barrier (that is part of the module's cost); nothing
//! in it can panic: header reads are capped at its arrays' length.
// Envoy calls these hooks with its own pointers; they cannot be `unsafe fn`.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[path = "../src/required.rs"]
mod required;
#[path = "../src/sys.rs"]
#[allow(dead_code)]
mod sys;

use std::ffi::c_void;

use sys::{EnvoyHeader, FilterEnvoyPtr, ModuleBuffer, ModuleHeader};

const ORIGIN: &[u8] = b"https://app.example.com";

struct Config {
    counter: usize,
}

#[derive(Default)]
struct Filter {
    own_reply: bool,
    allowed: bool,
}

/// Reads a header map in bulk (as the module does) and hands the pairs to `f`.
fn with_headers<T>(filter: FilterEnvoyPtr, kind: u32, f: impl FnOnce(&[(&[u8], &[u8])]) -> T) -> T {
    // SAFETY: this hook's stream; the array holds the count Envoy gave.
    let size = unsafe { sys::envoy_dynamic_module_callback_http_get_headers_size(filter, kind) }.min(64);
    let mut raw = [EnvoyHeader::EMPTY; 64];
    // SAFETY: as above.
    unsafe { sys::envoy_dynamic_module_callback_http_get_headers(filter, kind, raw.as_mut_ptr()) };
    let mut pairs: [(&[u8], &[u8]); 64] = [(&[], &[]); 64];
    for (p, h) in pairs.iter_mut().zip(&raw[..size]) {
        if !h.key_ptr.is_null() && !h.value_ptr.is_null() {
            // SAFETY: Envoy's buffers, valid for this hook, before any setter.
            *p = unsafe { (std::slice::from_raw_parts(h.key_ptr, h.key_length), std::slice::from_raw_parts(h.value_ptr, h.value_length)) };
        }
    }
    f(&pairs[..size])
}

fn find<'a>(pairs: &[(&'a [u8], &'a [u8])], name: &[u8]) -> Option<&'a [u8]> {
    pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

fn set(filter: FilterEnvoyPtr, name: &str, value: &[u8]) {
    // SAFETY: both buffers live for the call.
    unsafe {
        sys::envoy_dynamic_module_callback_http_set_header(
            filter,
            sys::RESPONSE_HEADER,
            ModuleBuffer::of(name.as_bytes()),
            ModuleBuffer::of(value),
        )
    };
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const u8 {
    sys::ABI_VERSION.as_ptr()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config: sys::ConfigEnvoyPtr,
    _name: sys::EnvoyBuffer,
    _policy: sys::EnvoyBuffer,
) -> *const c_void {
    let mut counter = 0;
    let name = b"module_floor.requests";
    // SAFETY: `name` live, no labels, `counter` a live local.
    unsafe {
        sys::envoy_dynamic_module_callback_http_filter_config_define_counter(
            config,
            ModuleBuffer::of(name),
            std::ptr::null_mut(),
            0,
            &mut counter,
        )
    };
    Box::into_raw(Box::new(Config { counter })) as *const c_void
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: *const c_void) {
    // SAFETY: ours, from config_new, destroyed once.
    drop(unsafe { Box::from_raw(config as *mut Config) });
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(config: *const c_void, _: FilterEnvoyPtr) -> *const c_void {
    let _ = config;
    Box::into_raw(Box::new((config as *const Config, Filter::default()))) as *const c_void
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(filter: *const c_void) {
    // SAFETY: ours, from filter_new, destroyed once.
    drop(unsafe { Box::from_raw(filter as *mut (*const Config, Filter)) });
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(envoy: FilterEnvoyPtr, filter: *const c_void, _: bool) -> u32 {
    // SAFETY: ours, for this stream, on this worker.
    let (config, state) = unsafe { &mut *(filter as *mut (*const Config, Filter)) };
    // SAFETY: the config outlives its filters.
    let counter = unsafe { (**config).counter };
    let (origin, preflight) = with_headers(envoy, sys::REQUEST_HEADER, |h| {
        let origin = find(h, b"origin").map(<[u8]>::to_vec);
        (origin, find(h, b":method") == Some(b"OPTIONS") && find(h, b"access-control-request-method").is_some())
    });
    if origin.is_some() {
        // SAFETY: no labels.
        unsafe { sys::envoy_dynamic_module_callback_http_filter_increment_counter(envoy, counter, std::ptr::null_mut(), 0, 1) };
    }
    state.allowed = origin.as_deref() == Some(ORIGIN);
    let record = b"rule=default decision=allowed reason=none origin=https://app.example.com";
    // SAFETY: both buffers live for the call.
    unsafe {
        sys::envoy_dynamic_module_callback_http_set_filter_state_bytes(envoy, ModuleBuffer::of(b"edge_cors"), ModuleBuffer::of(record))
    };
    if preflight {
        let mut reply = [
            ModuleHeader::of("access-control-allow-origin", "https://app.example.com"),
            ModuleHeader::of("access-control-allow-methods", "GET, POST"),
            ModuleHeader::of("access-control-allow-headers", "content-type, authorization"),
            ModuleHeader::of("access-control-max-age", "3600"),
            ModuleHeader::of("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ];
        // SAFETY: the headers and buffers live for the call.
        unsafe {
            sys::envoy_dynamic_module_callback_http_send_response(
                envoy,
                204,
                reply.as_mut_ptr(),
                reply.len(),
                ModuleBuffer::of(b""),
                ModuleBuffer::of(b"edge_cors_preflight_allowed"),
            )
        };
        state.own_reply = true;
        return sys::STOP_ITERATION;
    }
    sys::CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(envoy: FilterEnvoyPtr, filter: *const c_void, _: bool) -> u32 {
    // SAFETY: ours, for this stream, on this worker.
    let (_, state) = unsafe { &mut *(filter as *mut (*const Config, Filter)) };
    if state.own_reply {
        return sys::CONTINUE;
    }
    with_headers(envoy, sys::RESPONSE_HEADER, |_| ());
    if state.allowed {
        set(envoy, "access-control-allow-origin", ORIGIN);
        set(envoy, "access-control-expose-headers", b"etag, x-request-id");
    }
    set(envoy, "vary", b"Origin");
    sys::CONTINUE
}
