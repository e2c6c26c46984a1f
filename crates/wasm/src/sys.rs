//! Every import of the proxy-wasm ABI 0.2.1 the module uses, in one place.
//!
//! Each returns the host's status as a plain `u32` (the ABI's `WasmResult`:
//! 0 Ok, 1 NotFound, 2 BadArgument, ... 12 Unimplemented). The proxy-wasm
//! SDK declares the same imports returning its own `Status` enum, which has
//! no variant for 12 (Unimplemented): Service Extensions and APISIX answer
//! it, and a value outside an enum's variants is undefined behaviour in
//! Rust. Its wrappers also `panic!` on any status they do not expect and on
//! header values that are not UTF-8, and a panic traps the VM (Envoy then
//! fails every request of that worker). That is why the module declares the
//! ABI itself; it would go back to the SDK when the SDK returns raw statuses
//! (or an enum with every ABI value) and its accessors return bytes instead
//! of panicking, and only if the module stays within its byte budget.
//!
//! Contract for every function here (what each `// SAFETY:` at a call site
//! relies on): a `*const u8` with a size points at that many readable bytes
//! (a Rust slice or `str`, alive for the call); every `*mut` out-parameter
//! points at a live local of the caller; a buffer the host returns through
//! `return_data`/`return_size` was allocated by the module's own allocator
//! (`proxy_on_memory_allocate`) and is owned by the caller from then on, or
//! is null. The host never keeps a pointer we pass beyond the call.

// The SDK, a dev-dependency of the benchmark's baseline modules, declares the
// same imports with its own enum types; the ABI is u32 either way.
#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
extern "C" {
    pub fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    pub fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    pub fn proxy_get_header_map_pairs(map_type: u32, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    pub fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    pub fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    pub fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    pub fn proxy_set_property(path_data: *const u8, path_size: usize, value_data: *const u8, value_size: usize) -> u32;
    pub fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    pub fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    pub fn proxy_http_call(
        upstream_data: *const u8,
        upstream_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        body_data: *const u8,
        body_size: usize,
        trailers_data: *const u8,
        trailers_size: usize,
        timeout_ms: u32,
        return_token: *mut u32,
    ) -> u32;
    pub fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    pub fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    pub fn proxy_set_shared_data(key_data: *const u8, key_size: usize, value_data: *const u8, value_size: usize, cas: u32) -> u32;
    pub fn proxy_send_local_response(
        status_code: u32,
        details_data: *const u8,
        details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
}

#[link(wasm_import_module = "env")]
extern "C" {
    pub fn proxy_define_metric(metric_type: u32, name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32;
    pub fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    pub fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
}

// The linker's constructor list for a reactor module (wasi-libc's static
// initialisers): run once, by `_initialize`, before any other export.
extern "C" {
    pub fn __wasm_call_ctors();
}
