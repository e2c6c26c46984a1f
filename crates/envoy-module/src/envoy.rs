//! [`EnvoyStream`] and metric definitions on the real callbacks of `sys`:
//! the only place besides `hooks` with `unsafe`. Each block relies on the
//! ABI contract stated in `sys`: module buffers are read during the call,
//! Envoy buffers are copied before any setter on the same map or the end of
//! the hook, and the envoy pointers are the ones Envoy handed to the hook.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edge_cors_engine::lifecycle::HeaderPairs;
use edge_cors_engine::response::HeaderList;

use crate::adapter::{EnvoyStream, Map};
use crate::live::Main;
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

/// What Envoy lent for the current hook (bytes, headers, body chunks), as
/// a slice (empty for null).
///
/// # Safety
/// `ptr` must be null or point to `len` initialised items, valid until the
/// slice is dropped, with no setter on the map they came from in between.
pub unsafe fn lent<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// A header map's entries as Envoy lends them: pointers into Envoy's
/// memory, valid until the running hook returns or a setter runs on that
/// map. Only the request map is handed to the lifecycle lent (it never sets
/// a request header), and only to the hook that read it: a `Lent` is a
/// local of `on_request_headers`, dropped before the hook returns; the
/// response map's are copied out before any setter.
pub struct Lent {
    inline: [EnvoyHeader; INLINE_HEADERS],
    heap: Vec<EnvoyHeader>,
    len: usize,
}

impl Lent {
    fn entries(&self) -> &[EnvoyHeader] {
        if self.heap.is_empty() {
            self.inline.get(..self.len).unwrap_or_default()
        } else {
            &self.heap
        }
    }
}

impl HeaderPairs for Lent {
    fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries().iter().map(|h| {
            // SAFETY: see `Lent`: Envoy's buffers for the running hook, with
            // no setter on the request map before the `Lent` is dropped; the
            // slices borrow `self`, so they cannot outlive it.
            unsafe { (lent(h.key_ptr, h.key_length), lent(h.value_ptr, h.value_length)) }
        })
    }
}

/// One stream, during one of its hooks.
pub struct Stream {
    pub ptr: sys::FilterEnvoyPtr,
}

impl Stream {
    /// Every entry of a header map, as Envoy lends them (see [`Lent`]).
    fn lend(&mut self, map: Map) -> Lent {
        let kind = header_type(map);
        // SAFETY: `ptr` is this hook's stream (`sys` contract).
        let size = unsafe { sys::envoy_dynamic_module_callback_http_get_headers_size(self.ptr, kind) };
        let mut out = Lent { inline: [EnvoyHeader::EMPTY; INLINE_HEADERS], heap: Vec::new(), len: 0 };
        let buf: &mut [EnvoyHeader] = if size <= INLINE_HEADERS {
            out.inline.get_mut(..size).unwrap_or_default()
        } else {
            out.heap.resize(size, EnvoyHeader::EMPTY);
            &mut out.heap
        };
        // SAFETY: `buf` holds exactly `size` writable entries, the count
        // Envoy just gave for this map within the same hook.
        if unsafe { sys::envoy_dynamic_module_callback_http_get_headers(self.ptr, kind, buf.as_mut_ptr()) } {
            out.len = size;
        } else {
            out.heap.clear();
        }
        out
    }
}

impl EnvoyStream for Stream {
    type Lent = Lent;

    fn lend_request_headers(&mut self) -> Lent {
        self.lend(Map::Request)
    }

    fn copy_headers(&mut self, map: Map, keep: fn(&[u8]) -> bool) -> HeaderList {
        // Copied at once, before this hook can call a setter on the map.
        HeaderList::from_pairs(self.lend(map).pairs().filter(|(name, _)| keep(name)))
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

/// `config_define_counter` and `config_define_gauge`: one signature.
type DefineFn = unsafe extern "C" fn(sys::ConfigEnvoyPtr, ModuleBuffer, *mut ModuleBuffer, usize, *mut usize) -> u32;

impl Definitions {
    fn define(&mut self, call: DefineFn, name: &str) -> Result<usize, u32> {
        let mut id = 0;
        // SAFETY: `call` is one of Envoy's two define callbacks, on the
        // configuration being created; `name` is live for the call; no
        // labels; `id` a live local.
        let status = unsafe { call(self.config, ModuleBuffer::of(name.as_bytes()), std::ptr::null_mut(), 0, &mut id) };
        if status == sys::METRICS_SUCCESS {
            Ok(id)
        } else {
            Err(status)
        }
    }
}

impl Define for Definitions {
    fn counter(&mut self, name: &str) -> Result<usize, u32> {
        self.define(sys::envoy_dynamic_module_callback_http_filter_config_define_counter, name)
    }

    fn gauge(&mut self, name: &str) -> Result<usize, u32> {
        self.define(sys::envoy_dynamic_module_callback_http_filter_config_define_gauge, name)
    }
}

/// Milliseconds since the epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether Envoy runs `--mode validate` (no timers, no calls then).
pub fn is_validation_mode() -> bool {
    // SAFETY: no arguments; called from config_new, on the main thread.
    unsafe { sys::envoy_dynamic_module_callback_is_validation_mode() }
}

/// [`Main`] on one configuration, from a main-thread hook.
pub struct ConfigCalls {
    pub config: sys::ConfigEnvoyPtr,
}

impl Main for ConfigCalls {
    fn now_ms(&mut self) -> u64 {
        now_ms()
    }

    fn callout(&mut self, cluster: &str, headers: &[(&str, &str)], timeout_ms: u64) -> Result<u64, u32> {
        let mut list: Vec<ModuleHeader> = headers.iter().map(|(n, v)| ModuleHeader::of(n, v)).collect();
        let mut id = 0;
        // SAFETY: `config` is the configuration of the running main-thread
        // hook; `list`, `cluster` and the empty body live for the call; `id`
        // is a live local.
        let status = unsafe {
            sys::envoy_dynamic_module_callback_http_filter_config_http_callout(
                self.config,
                &mut id,
                ModuleBuffer::of(cluster.as_bytes()),
                list.as_mut_ptr(),
                list.len(),
                ModuleBuffer::of(b""),
                timeout_ms,
            )
        };
        if status == sys::CALLOUT_SUCCESS {
            Ok(id)
        } else {
            Err(status)
        }
    }

    fn increment(&mut self, id: usize) {
        // SAFETY: the running hook's configuration; no labels.
        unsafe { sys::envoy_dynamic_module_callback_http_filter_config_increment_counter(self.config, id, std::ptr::null_mut(), 0, 1) };
    }

    fn set_gauge(&mut self, id: usize, value: u64) {
        // SAFETY: the running hook's configuration; no labels.
        unsafe { sys::envoy_dynamic_module_callback_http_filter_config_set_gauge(self.config, id, std::ptr::null_mut(), 0, value) };
    }

    fn log(&mut self, level: u32, line: &str) {
        log(level, line);
    }
}

/// A config scheduler handle, committed from the timer thread.
struct Scheduler(sys::SchedulerPtr);

// SAFETY: Envoy documents `config_scheduler_commit` as callable from any
// thread; the handle is deleted once, by `Timer::drop`, after the thread
// that commits has been joined.
unsafe impl Send for Scheduler {}
// SAFETY: as above: the only call made through a shared reference is commit.
unsafe impl Sync for Scheduler {}

/// The once-a-second tick of a configuration with live origins: a module
/// thread commits an event to Envoy's config scheduler, which runs
/// `on_http_filter_config_scheduled` on the main thread. Dropped with the
/// configuration: the thread is stopped and joined, then the scheduler
/// deleted (Envoy's handles die with `config_destroy`).
pub struct Timer {
    scheduler: std::sync::Arc<Scheduler>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Timer {
    pub fn start(config: sys::ConfigEnvoyPtr, period: Duration) -> Option<Timer> {
        // SAFETY: `config` is the configuration being created (config_new,
        // main thread).
        let handle = unsafe { sys::envoy_dynamic_module_callback_http_filter_config_scheduler_new(config) };
        if handle.is_null() {
            return None;
        }
        let scheduler = std::sync::Arc::new(Scheduler(handle));
        // The first tick at once: a new policy fetches without waiting.
        commit(&scheduler);
        let (stop, stopped) = mpsc::channel::<()>();
        let ticking = std::sync::Arc::clone(&scheduler);
        let thread = thread::Builder::new()
            .name("edge-cors-tick".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                    commit(&ticking);
                }
            })
            .ok()?;
        Some(Timer { scheduler, stop: Some(stop), thread: Some(thread) })
    }
}

fn commit(scheduler: &Scheduler) {
    // SAFETY: a live handle (deleted only after this thread is joined);
    // commit may be called from any thread.
    unsafe { sys::envoy_dynamic_module_callback_http_filter_config_scheduler_commit(scheduler.0, 0) };
}

impl Drop for Timer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // SAFETY: the ticking thread is gone; the handle is deleted once.
        unsafe { sys::envoy_dynamic_module_callback_http_filter_config_scheduler_delete(self.scheduler.0) };
    }
}
