//! The hooks Envoy 1.40 resolves for every HTTP filter module but that a
//! headers-only filter does not use: each answers Continue or does nothing
//! (no body, so nothing to guard: a body that cannot panic needs no
//! `catch_unwind`, and the barrier would cost every stream a call). Included
//! by `hooks` and by the benchmark's floor module.

use std::ffi::c_void;

use crate::sys::{self, EnvoyBuffer, EnvoyHeader, FilterEnvoyPtr};

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(_: FilterEnvoyPtr, _: *const c_void, _: bool) -> u32 {
    sys::CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(_: FilterEnvoyPtr, _: *const c_void) -> u32 {
    sys::CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(_: FilterEnvoyPtr, _: *const c_void, _: bool) -> u32 {
    sys::CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(_: FilterEnvoyPtr, _: *const c_void) -> u32 {
    sys::CONTINUE
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(_: FilterEnvoyPtr, _: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(_: FilterEnvoyPtr, _: *const c_void, _: u64) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _: u64,
    _: u32,
    _: *mut EnvoyHeader,
    _: usize,
    _: *mut EnvoyBuffer,
    _: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _: u64,
    _: *mut EnvoyHeader,
    _: usize,
    _: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _: u64,
    _: *const EnvoyBuffer,
    _: usize,
    _: bool,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    _: FilterEnvoyPtr,
    _: *const c_void,
    _: u64,
    _: *mut EnvoyHeader,
    _: usize,
) {
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(_: FilterEnvoyPtr, _: *const c_void, _: u64) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(_: FilterEnvoyPtr, _: *const c_void, _: u64, _: u32) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(_: FilterEnvoyPtr, _: *const c_void) {}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(_: FilterEnvoyPtr, _: *const c_void) {}
