//! [`EnvoyStream`] and metric definitions on the real callbacks of `sys`:
//! the only place besides `hooks` with `unsafe`. Each block relies on the
//! ABI contract stated in `sys`: module buffers are read during the call,
//! Envoy buffers are copied before any setter on the same map or the end of
//! the hook, and the envoy pointers are the ones Envoy handed to the hook.

use edge_cors_engine::response::HeaderList;

use crate::adapter::{EnvoyStream, Map};
use crate::metrics::Define;
use crate::sys::{self, EnvoyBuffer, EnvoyHeader, ModuleBuffer, ModuleHeader};

/// Headers read without a heap array up to this many (a typical request
/// has 10 to 20); more are read into a `Vec`.
const INLINE_HEADERS: usize = 32;

fn header_type(map: Map) -> u32 {
    match map {
        Map::Request => sys::REQUEST_HEADER,
        Map::Response => sys::RESPONSE_HEADER,
    }
}

/// Bytes Envoy lent for the current hook, as a slice (empty for null).
///
/// # Safety
/// `ptr` must be null or valid for `len` bytes until the slice is dropped,
/// with no setter on the map it came from in between.
unsafe fn lent<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// One stream, during one of its hooks.
pub struct Stream {
    pub ptr: sys::FilterEnvoyPtr,
}

impl EnvoyStream for Stream {
    fn copy_headers(&mut self, map: Map, keep: fn(&[u8]) -> bool) -> HeaderList {
        let kind = header_type(map);
        // SAFETY: `ptr` is this hook's stream (`sys` contract).
        let size = unsafe { sys::envoy_dynamic_module_callback_http_get_headers_size(self.ptr, kind) };
        let mut inline = [EnvoyHeader::EMPTY; INLINE_HEADERS];
        let mut heap = Vec::new();
        let buf: &mut [EnvoyHeader] = if size <= INLINE_HEADERS {
            inline.get_mut(..size).unwrap_or_default()
        } else {
            heap.resize(size, EnvoyHeader::EMPTY);
            &mut heap
        };
        // SAFETY: `buf` holds exactly `size` writable entries, the count
        // Envoy just gave for this map within the same hook.
        let ok = unsafe { sys::envoy_dynamic_module_callback_http_get_headers(self.ptr, kind, buf.as_mut_ptr()) };
        let mut out = HeaderList::default();
        if !ok {
            return out;
        }
        for h in buf.iter() {
            // SAFETY: Envoy filled these from the map; they stay valid until
            // this hook returns or a setter runs on the map, and both slices
            // are copied below before either can happen.
            let (name, value) = unsafe { (lent(h.key_ptr, h.key_length), lent(h.value_ptr, h.value_length)) };
            if keep(name) {
                out.headers.push((name.to_vec(), value.to_vec()));
            }
        }
        out
    }

    fn header(&mut self, map: Map, name: &str) -> Option<Vec<u8>> {
        let mut result = EnvoyBuffer { ptr: std::ptr::null(), length: 0 };
        // SAFETY: `name` is live for the call; `result` is a live local;
        // the optional count pointer may be null (`sys` contract).
        let found = unsafe {
            sys::envoy_dynamic_module_callback_http_get_header(
                self.ptr,
                header_type(map),
                ModuleBuffer::of(name.as_bytes()),
                &mut result,
                0,
                std::ptr::null_mut(),
            )
        };
        // SAFETY: Envoy's buffer, copied at once, within the hook.
        found.then(|| unsafe { lent(result.ptr, result.length) }.to_vec())
    }

    fn set_header(&mut self, map: Map, name: &[u8], value: Option<&[u8]>) {
        // Removing is setting a null value (1.40 has no remove callback).
        let value = value.map_or(ModuleBuffer::NULL, ModuleBuffer::of);
        // SAFETY: both buffers are live for the call (`sys` contract).
        unsafe { sys::envoy_dynamic_module_callback_http_set_header(self.ptr, header_type(map), ModuleBuffer::of(name), value) };
    }

    fn send_response(&mut self, status: u32, headers: &[(&str, &str)], body: &str, details: &str) {
        let mut list = [ModuleHeader::of("", ""); 10];
        let mut len = 0;
        for (slot, (n, v)) in list.iter_mut().zip(headers) {
            *slot = ModuleHeader::of(n, v);
            len += 1;
        }
        // SAFETY: `list` holds `len` headers pointing at `headers`' strings,
        // and `body` and `details` are live: all are read during the call.
        unsafe {
            sys::envoy_dynamic_module_callback_http_send_response(
                self.ptr,
                status,
                list.as_mut_ptr(),
                len,
                ModuleBuffer::of(body.as_bytes()),
                ModuleBuffer::of(details.as_bytes()),
            )
        };
    }

    fn set_filter_state(&mut self, key: &str, value: &[u8]) {
        // SAFETY: both buffers are live for the call.
        unsafe {
            sys::envoy_dynamic_module_callback_http_set_filter_state_bytes(
                self.ptr,
                ModuleBuffer::of(key.as_bytes()),
                ModuleBuffer::of(value),
            )
        };
    }

    fn route_name(&mut self) -> Option<Vec<u8>> {
        let mut result = EnvoyBuffer { ptr: std::ptr::null(), length: 0 };
        // SAFETY: `result` is a live local for the out-parameter.
        let found = unsafe {
            sys::envoy_dynamic_module_callback_http_filter_get_attribute_string(self.ptr, sys::ATTRIBUTE_XDS_ROUTE_NAME, &mut result)
        };
        // SAFETY: Envoy's buffer, copied at once, within the hook.
        found.then(|| unsafe { lent(result.ptr, result.length) }.to_vec())
    }

    fn increment(&mut self, id: usize) {
        // SAFETY: no labels (null, 0): every counter is defined without.
        unsafe { sys::envoy_dynamic_module_callback_http_filter_increment_counter(self.ptr, id, std::ptr::null_mut(), 0, 1) };
    }

    fn log(&mut self, level: u32, message: &str) {
        log(level, message);
    }

    fn log_enabled(&mut self, level: u32) -> bool {
        // SAFETY: plain integer.
        unsafe { sys::envoy_dynamic_module_callback_log_enabled(level) }
    }
}

/// Logs under Envoy's `dynamic_modules` logger (when that level is on).
pub fn log(level: u32, message: &str) {
    // SAFETY: plain integer.
    if unsafe { sys::envoy_dynamic_module_callback_log_enabled(level) } {
        // SAFETY: `message` is live for the call.
        unsafe { sys::envoy_dynamic_module_callback_log(level, ModuleBuffer::of(message.as_bytes())) };
    }
}

/// Metric definitions on one configuration, inside `config_new`.
pub struct Definitions {
    pub config: sys::ConfigEnvoyPtr,
}

impl Define for Definitions {
    fn counter(&mut self, name: &str) -> Result<usize, u32> {
        let mut id = 0;
        // SAFETY: `name` is live for the call; no labels; `id` a live local.
        let status = unsafe {
            sys::envoy_dynamic_module_callback_http_filter_config_define_counter(
                self.config,
                ModuleBuffer::of(name.as_bytes()),
                std::ptr::null_mut(),
                0,
                &mut id,
            )
        };
        if status == sys::METRICS_SUCCESS {
            Ok(id)
        } else {
            Err(status)
        }
    }
}
