//! The few proxy-wasm host calls the filter makes, as safe functions over
//! the imports of `sys`.
//!
//! Every status becomes a value and every buffer raw bytes, so hostile
//! headers and partial hosts cannot trap the VM (`sys` says why the SDK's
//! wrappers could). Each `unsafe` block below relies on `sys`'s contract:
//! the slices passed are alive for the call, the out-parameters are locals,
//! and a returned buffer is ours (allocated by `abi::allocate`).

use std::ptr::{null, null_mut};

use crate::sys;

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

/// Calls an import that returns a buffer through two out-parameters, and
/// takes ownership of the buffer whatever the status (a host may hand one
/// back with an error): the bytes, or the status.
fn host_buffer(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Result<Vec<u8>, u32> {
    let mut data = null_mut();
    let mut size = 0;
    let status = call(&mut data, &mut size);
    // SAFETY: `sys`'s contract: the import left null or a `size`-byte buffer
    // from `proxy_on_memory_allocate` in `data`, now owned by us alone.
    let bytes = unsafe { owned(data, size) };
    if status == OK {
        Ok(bytes)
    } else {
        Err(status)
    }
}

/// A status as a result.
fn checked(status: u32) -> Result<(), u32> {
    if status == OK {
        Ok(())
    } else {
        Err(status)
    }
}

pub fn log(level: Level, message: &str) {
    // SAFETY: `message` is a live `str` of that length (`sys` contract).
    let status = unsafe { sys::proxy_log(level as u32, message.as_ptr(), message.len()) };
    // Nothing useful can be done if logging itself fails.
    let _ = status;
}

pub fn plugin_configuration() -> Vec<u8> {
    host_buffer(|data, size| {
        // SAFETY: out-parameters from `host_buffer`; no input pointer.
        unsafe { sys::proxy_get_buffer_bytes(PLUGIN_CONFIGURATION, 0, usize::MAX, data, size) }
    })
    .unwrap_or_default()
}

/// All headers, serialised as the ABI defines; read with [`pairs`].
pub fn header_pairs(map: Map) -> Vec<u8> {
    host_buffer(|data, size| {
        // SAFETY: out-parameters from `host_buffer`; no input pointer.
        unsafe { sys::proxy_get_header_map_pairs(map as u32, data, size) }
    })
    .unwrap_or_default()
}

/// One header by name; None when absent or on any other status.
pub fn header_value(map: Map, name: &str) -> Option<Vec<u8>> {
    host_buffer(|data, size| {
        // SAFETY: `name` is a live `str`; out-parameters from `host_buffer`.
        unsafe { sys::proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), data, size) }
    })
    .ok()
}

/// A host property by path (segments joined by NUL, as the ABI encodes
/// them, e.g. `b"xds\0route_name"`): the bytes, or the host's status.
pub fn property(path: &[u8]) -> Result<Vec<u8>, u32> {
    host_buffer(|data, size| {
        // SAFETY: `path` is a live slice; out-parameters from `host_buffer`.
        unsafe { sys::proxy_get_property(path.as_ptr(), path.len(), data, size) }
    })
}

/// Sets a host property (Envoy: filter state `wasm.<path>`, which access
/// logs read). Whether the host kept it changes nothing for CORS.
pub fn set_property(path: &str, value: &[u8]) -> bool {
    // SAFETY: both are live slices of the lengths given (`sys` contract).
    unsafe { sys::proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) == OK }
}

pub fn set_header(map: Map, name: &str, value: &[u8]) -> bool {
    // SAFETY: both are live slices of the lengths given (`sys` contract).
    unsafe { sys::proxy_replace_header_map_value(map as u32, name.as_ptr(), name.len(), value.as_ptr(), value.len()) == OK }
}

pub fn remove_header(map: Map, name: &[u8]) -> bool {
    // SAFETY: `name` is a live slice of that length (`sys` contract).
    unsafe { sys::proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()) == OK }
}

/// A local reply; `details` is what Envoy logs as `%RESPONSE_CODE_DETAILS%`.
pub fn send_local_response<V: AsRef<str>>(status: u32, details: &str, headers: &[(&str, V)], body: &str) -> bool {
    let serialized = serialize_pairs(headers);
    let body_ptr = if body.is_empty() { null() } else { body.as_ptr() };
    // SAFETY: `details`, `body` (or null with size 0) and `serialized` are
    // live for the call, with the lengths given (`sys` contract).
    unsafe {
        sys::proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            body_ptr,
            body.len(),
            serialized.as_ptr(),
            serialized.len(),
            -1,
        ) == OK
    }
}

/// Asks for `on_tick` every `ms` (0 stops it). Hosts without timers
/// (Service Extensions, APISIX) answer a status.
pub fn set_tick_period(ms: u32) -> Result<(), u32> {
    // SAFETY: plain integers, no pointer.
    checked(unsafe { sys::proxy_set_tick_period_milliseconds(ms) })
}

/// The host's clock in milliseconds since the epoch, or the host's status
/// where it has none (APISIX answers Unimplemented).
pub fn now_ms() -> Result<u64, u32> {
    let mut nanos = 0u64;
    // SAFETY: `nanos` is a live local for the out-parameter.
    checked(unsafe { sys::proxy_get_current_time_nanoseconds(&mut nanos) })?;
    Ok(nanos / 1_000_000)
}

/// A shared-data value (process-wide, per `vm_id`) and its CAS token.
pub fn shared_get(key: &str) -> Result<(Vec<u8>, u32), u32> {
    let mut cas = 0;
    let value = host_buffer(|data, size| {
        // SAFETY: `key` is a live `str`; `cas` a live local; out-parameters
        // from `host_buffer`.
        unsafe { sys::proxy_get_shared_data(key.as_ptr(), key.len(), data, size, &mut cas) }
    })?;
    Ok((value, cas))
}

/// Sets a shared-data value; with `cas` other than 0, only if nobody wrote
/// it since the read that returned `cas`.
pub fn shared_set(key: &str, value: &[u8], cas: u32) -> Result<(), u32> {
    // SAFETY: both are live slices of the lengths given (`sys` contract).
    checked(unsafe { sys::proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) })
}

/// The body of the answer to our HTTP call.
pub fn call_response_body(size: usize) -> Vec<u8> {
    host_buffer(|data, len| {
        // SAFETY: out-parameters from `host_buffer`; no input pointer.
        unsafe { sys::proxy_get_buffer_bytes(CALL_RESPONSE_BODY, 0, size, data, len) }
    })
    .unwrap_or_default()
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
    // SAFETY: `cluster`, `serialized` and `no_trailers` are live for the
    // call with the lengths given, the body is null with size 0, and
    // `token` is a live local for the out-parameter (`sys` contract).
    let status = unsafe {
        sys::proxy_http_call(
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
    checked(status).map(|()| token)
}

pub use crate::wire::{pairs, serialize_pairs};
