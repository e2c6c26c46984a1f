//! Every callback of Envoy 1.40's dynamic-module C ABI ("v0.2.0") this
//! module calls, declared by us.
//!
//! Why not the official Rust SDK: it is a git dependency on Envoy's
//! repository (not on the crate registry), pinned to a commit, and pulls in
//! bindgen at build time. The dozen calls below are checked instead against
//! the pinned binary: `make envoy-module-abi` (in `make test`) lists the
//! module's undefined `envoy_dynamic_module_callback_*` symbols and requires
//! each to be exported by `.venv/bin/envoy` (`nm -D`), and the module
//! reports [`ABI_VERSION`], the string the 1.40 binary expects. We would
//! move to the SDK once it is published on crates.io with a release per
//! Envoy minor version.
//!
//! Contract for every call (the ABI header's ownership rules): module
//! buffers (`ModuleBuffer`, `ModuleHeader`) are only read during the call;
//! Envoy buffers (`EnvoyBuffer`, `EnvoyHeader`) point into Envoy's memory,
//! valid until the current hook returns or a setter runs on the same map,
//! whichever comes first: copy what is kept. The `*_envoy_ptr` handles are
//! valid from the hook that hands them over until the matching destroy hook.
//! Enums are C `int`s; values coming from Envoy are taken as `u32`, never as
//! a Rust `enum`, so a value a later Envoy adds is not undefined behaviour.

use std::ffi::c_void;

/// The ABI version Envoy 1.40.0 matches ("Dynamic module ABI version v0.2.0
/// matched."): returned by `envoy_dynamic_module_on_program_init`.
pub const ABI_VERSION: &[u8] = b"v0.2.0\0";

/// Bytes owned by Envoy.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EnvoyBuffer {
    pub ptr: *const u8,
    pub length: usize,
}

/// Bytes owned by the module, read by Envoy during the call.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ModuleBuffer {
    pub ptr: *const u8,
    pub length: usize,
}

impl ModuleBuffer {
    pub fn of(bytes: &[u8]) -> ModuleBuffer {
        ModuleBuffer { ptr: bytes.as_ptr(), length: bytes.len() }
    }

    /// `{NULL, 0}`: what `set_header` takes to remove a header.
    pub const NULL: ModuleBuffer = ModuleBuffer { ptr: std::ptr::null(), length: 0 };
}

/// A header Envoy hands to the module.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EnvoyHeader {
    pub key_ptr: *const u8,
    pub key_length: usize,
    pub value_ptr: *const u8,
    pub value_length: usize,
}

impl EnvoyHeader {
    pub const EMPTY: EnvoyHeader = EnvoyHeader { key_ptr: std::ptr::null(), key_length: 0, value_ptr: std::ptr::null(), value_length: 0 };
}

/// A header the module hands to Envoy.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ModuleHeader {
    pub key_ptr: *const u8,
    pub key_length: usize,
    pub value_ptr: *const u8,
    pub value_length: usize,
}

impl ModuleHeader {
    pub fn of(name: &str, value: &str) -> ModuleHeader {
        ModuleHeader { key_ptr: name.as_ptr(), key_length: name.len(), value_ptr: value.as_ptr(), value_length: value.len() }
    }
}

/// Envoy's per-configuration object (`http_filter_config_envoy_ptr`).
pub type ConfigEnvoyPtr = *mut c_void;
/// Envoy's per-stream filter (`http_filter_envoy_ptr`).
pub type FilterEnvoyPtr = *mut c_void;
/// A config scheduler, owned (and deleted) by the module.
pub type SchedulerPtr = *mut c_void;

// envoy_dynamic_module_type_http_header_type
pub const REQUEST_HEADER: u32 = 0;
pub const RESPONSE_HEADER: u32 = 2;

// envoy_dynamic_module_type_attribute_id
pub const ATTRIBUTE_XDS_ROUTE_NAME: u32 = 61;

// envoy_dynamic_module_type_metrics_result
pub const METRICS_SUCCESS: u32 = 0;

// envoy_dynamic_module_type_http_callout_init_result / _http_callout_result
pub const CALLOUT_SUCCESS: u32 = 0;

// envoy_dynamic_module_type_on_http_filter_request_headers_status (and the
// body, trailers and response ones: Continue is 0 everywhere).
pub const CONTINUE: u32 = 0;
pub const STOP_ITERATION: u32 = 1;

extern "C" {
    pub fn envoy_dynamic_module_callback_http_get_headers_size(filter: FilterEnvoyPtr, header_type: u32) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_headers(filter: FilterEnvoyPtr, header_type: u32, result: *mut EnvoyHeader) -> bool;
    pub fn envoy_dynamic_module_callback_http_get_header(
        filter: FilterEnvoyPtr,
        header_type: u32,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        optional_size: *mut usize,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_set_header(
        filter: FilterEnvoyPtr,
        header_type: u32,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_send_response(
        filter: FilterEnvoyPtr,
        status_code: u32,
        headers: *mut ModuleHeader,
        headers_size: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );
    pub fn envoy_dynamic_module_callback_http_set_filter_state_bytes(
        filter: FilterEnvoyPtr,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_filter_get_attribute_string(
        filter: FilterEnvoyPtr,
        attribute_id: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: ConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter: FilterEnvoyPtr,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        config: ConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        config: ConfigEnvoyPtr,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_http_filter_config_set_gauge(
        config: ConfigEnvoyPtr,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_is_validation_mode() -> bool;
    pub fn envoy_dynamic_module_callback_http_filter_config_scheduler_new(config: ConfigEnvoyPtr) -> SchedulerPtr;
    pub fn envoy_dynamic_module_callback_http_filter_config_scheduler_commit(scheduler: SchedulerPtr, event_id: u64);
    pub fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(scheduler: SchedulerPtr);
    pub fn envoy_dynamic_module_callback_http_filter_config_http_callout(
        config: ConfigEnvoyPtr,
        callout_id: *mut u64,
        cluster_name: ModuleBuffer,
        headers: *mut ModuleHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_milliseconds: u64,
    ) -> u32;
    pub fn envoy_dynamic_module_callback_log(level: u32, message: ModuleBuffer);
    pub fn envoy_dynamic_module_callback_log_enabled(level: u32) -> bool;
}
