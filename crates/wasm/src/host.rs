//! The few proxy-wasm host calls the filter makes, declared directly.
//!
//! The SDK's wrappers panic on any status they do not expect and on header
//! values that are not UTF-8; a panic traps the VM and the proxy then fails
//! every request. These wrappers turn every status into a value and hand
//! back raw bytes, so hostile headers and partial hosts cannot trap us.

use std::ptr::{null, null_mut};

const OK: u32 = 0;

#[derive(Clone, Copy)]
#[repr(u32)]
/// Header maps, by the ABI's numbers.
pub enum Map {
    Request = 0,
    Response = 2,
    /// The answer to our own HTTP call (live origins).
    CallResponse = 6,
}

#[derive(Clone, Copy)]
#[repr(u32)]
pub enum Level {
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

const PLUGIN_CONFIGURATION: u32 = 7;
const CALL_RESPONSE_BODY: u32 = 4;
pub const NOT_FOUND: u32 = 1;

// The SDK declares the same imports with its own enum types; the ABI is u32
// either way, and u32 cannot hold an out-of-range enum value.
#[allow(clashing_extern_declarations)]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_buffer_bytes(buffer_type: u32, start: usize, max_size: usize, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_get_header_map_pairs(map_type: u32, return_data: *mut *mut u8, return_size: *mut usize) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(map_type: u32, key_data: *const u8, key_size: usize, value_data: *const u8, value_size: usize)
        -> u32;
    fn proxy_get_property(path_data: *const u8, path_size: usize, return_value_data: *mut *mut u8, return_value_size: *mut usize) -> u32;
    fn proxy_set_property(path_data: *const u8, path_size: usize, value_data: *const u8, value_size: usize) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_http_call(
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
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(key_data: *const u8, key_size: usize, value_data: *const u8, value_size: usize, cas: u32) -> u32;
    fn proxy_send_local_response(
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

/// Takes ownership of a buffer the host allocated through our allocator.
///
/// # Safety
/// `data` must be null or come from the module's allocator with `size` bytes.
unsafe fn owned(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        // SAFETY: the caller's contract: `data` is a `size`-byte allocation
        // of ours (`abi::allocate`), handed to the host and back, unaliased.
        unsafe { Vec::from_raw_parts(data, size, size) }
    }
}

pub fn log(level: Level, message: &str) {
    // Nothing useful can be done if logging itself fails.
    unsafe {
        proxy_log(level as u32, message.as_ptr(), message.len());
    }
}

pub fn plugin_configuration() -> Vec<u8> {
    let mut data = null_mut();
    let mut size = 0;
    let status = unsafe { proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, usize::MAX, &mut data, &mut size) };
    let bytes = unsafe { owned(data, size) };
    if status == OK {
        bytes
    } else {
        Vec::new()
    }
}

/// All headers, serialised as the ABI defines; read with [`pairs`].
pub fn header_pairs(map: Map) -> Vec<u8> {
    let mut data = null_mut();
    let mut size = 0;
    let status = unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) };
    let bytes = unsafe { owned(data, size) };
    if status == OK {
        bytes
    } else {
        Vec::new()
    }
}

/// One header by name; None when absent or on any other status.
pub fn header_value(map: Map, name: &str) -> Option<Vec<u8>> {
    let mut data = null_mut();
    let mut size = 0;
    let status = unsafe { proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), &mut data, &mut size) };
    let bytes = unsafe { owned(data, size) };
    (status == OK).then_some(bytes)
}

/// A host property by path (segments joined by NUL, as the ABI encodes
/// them, e.g. `b"xds\0route_name"`): the bytes, or the host's status.
pub fn property(path: &[u8]) -> Result<Vec<u8>, u32> {
    let mut data = null_mut();
    let mut size = 0;
    let status = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) };
    let bytes = unsafe { owned(data, size) };
    if status == OK {
        Ok(bytes)
    } else {
        Err(status)
    }
}

/// Sets a host property (Envoy: filter state `wasm.<path>`, which access
/// logs read). Whether the host kept it changes nothing for CORS.
pub fn set_property(path: &str, value: &[u8]) -> bool {
    unsafe { proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) == OK }
}

pub fn set_header(map: Map, name: &str, value: &[u8]) -> bool {
    unsafe { proxy_replace_header_map_value(map as u32, name.as_ptr(), name.len(), value.as_ptr(), value.len()) == OK }
}

pub fn remove_header(map: Map, name: &[u8]) -> bool {
    unsafe { proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()) == OK }
}

/// A local reply; `details` is what Envoy logs as `%RESPONSE_CODE_DETAILS%`.
pub fn send_local_response<V: AsRef<str>>(status: u32, details: &str, headers: &[(&str, V)], body: &str) -> bool {
    let serialized = serialize_pairs(headers);
    let body_ptr = if body.is_empty() { null() } else { body.as_ptr() };
    unsafe {
        proxy_send_local_response(status, details.as_ptr(), details.len(), body_ptr, body.len(), serialized.as_ptr(), serialized.len(), -1)
            == OK
    }
}

/// Asks for `on_tick` every `ms` (0 stops it). Hosts without timers
/// (Service Extensions, APISIX) answer a status.
pub fn set_tick_period(ms: u32) -> Result<(), u32> {
    match unsafe { proxy_set_tick_period_milliseconds(ms) } {
        OK => Ok(()),
        status => Err(status),
    }
}

/// The host's clock in milliseconds since the epoch, or the host's status
/// where it has none (APISIX answers Unimplemented).
pub fn now_ms() -> Result<u64, u32> {
    let mut nanos = 0u64;
    match unsafe { proxy_get_current_time_nanoseconds(&mut nanos) } {
        OK => Ok(nanos / 1_000_000),
        status => Err(status),
    }
}

/// A shared-data value (process-wide, per `vm_id`) and its CAS token.
pub fn shared_get(key: &str) -> Result<(Vec<u8>, u32), u32> {
    let mut data = null_mut();
    let mut size = 0;
    let mut cas = 0;
    let status = unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    let bytes = unsafe { owned(data, size) };
    if status == OK {
        Ok((bytes, cas))
    } else {
        Err(status)
    }
}

/// Sets a shared-data value; with `cas` other than 0, only if nobody wrote
/// it since the read that returned `cas`.
pub fn shared_set(key: &str, value: &[u8], cas: u32) -> Result<(), u32> {
    match unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) } {
        OK => Ok(()),
        status => Err(status),
    }
}

/// The body of the answer to our HTTP call.
pub fn call_response_body(size: usize) -> Vec<u8> {
    let mut data = null_mut();
    let mut len = 0;
    let status = unsafe { proxy_get_buffer_bytes(CALL_RESPONSE_BODY, 0, size, &mut data, &mut len) };
    let bytes = unsafe { owned(data, len) };
    if status == OK {
        bytes
    } else {
        Vec::new()
    }
}

/// Sends `GET path` to an upstream cluster (Envoy: a cluster name); the
/// answer arrives in the root context's `on_http_call_response` with the
/// returned token, or the host's status is returned.
pub fn dispatch_get(cluster: &str, authority: &str, path: &str, if_none_match: Option<&str>, timeout_ms: u32) -> Result<u32, u32> {
    let mut headers =
        vec![(":method", "GET"), (":path", path), (":authority", authority), (":scheme", "http"), ("user-agent", "edge-cors")];
    if let Some(etag) = if_none_match {
        headers.push(("if-none-match", etag));
    }
    let serialized = serialize_pairs(&headers);
    let no_trailers = serialize_pairs::<&str>(&[]);
    let mut token = 0;
    let status = unsafe {
        proxy_http_call(
            cluster.as_ptr(),
            cluster.len(),
            serialized.as_ptr(),
            serialized.len(),
            null(),
            0,
            no_trailers.as_ptr(),
            no_trailers.len(),
            timeout_ms,
            &mut token,
        )
    };
    if status == OK {
        Ok(token)
    } else {
        Err(status)
    }
}

pub use crate::wire::{pairs, serialize_pairs};
