//! The proxy-wasm ABI 0.2.1 exports: the host calls these, and they hand
//! each call to a root context (one per plugin configuration) or a stream
//! context (one per request). `export_abi!(Root)` writes the exports for a
//! root type; the benchmark's ABI floor (examples/abi_floor.rs) includes
//! this file too, so both pay the same dispatch.
//!
//! Written here instead of taken from the SDK's dispatcher for two reasons
//! measured on this module: the SDK keeps every context as a trait object,
//! so every default method of its traits (and the host calls behind them:
//! gRPC, queues, bodies, trailers) is compiled in although the filter uses
//! none, about 12 KB of the module; and its dispatcher panics on what it
//! does not expect (an unknown call token, an unexpected host status),
//! which would trap the VM. Here an unknown context or a re-entrant call is
//! ignored and the request continues.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// What a header callback tells the host: go on, or wait (we replied).
pub const CONTINUE: u32 = 0;
pub const PAUSE: u32 = 1;

/// One plugin configuration in this VM.
pub trait Root: Default {
    type Stream: Stream + Default;
    fn create_stream(&mut self) -> Self::Stream;
    fn on_configure(&mut self) -> bool;
    fn on_tick(&mut self) {}
    fn on_http_call_response(&mut self, _token: u32, _num_headers: usize, _body_size: usize) {}
}

/// One request and its response.
pub trait Stream {
    fn on_request_headers(&mut self) -> u32;
    fn on_response_headers(&mut self) -> u32;
}

/// Context ids are small integers the host hands out: FNV-1a is plenty.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3) ^ 0xcbf2_9ce4_8422_2325;
        }
    }
}

/// Streams by context id.
type Streams<S> = HashMap<u32, S, BuildHasherDefault<IdHasher>>;

/// The module's contexts. The VM is single-threaded; `Sync` is only what a
/// `static` requires.
pub struct Contexts<R: Root> {
    roots: RefCell<Vec<(u32, R)>>,
    /// Created on first use (a const hasher needs a newer Rust than ours).
    streams: RefCell<Option<Streams<R::Stream>>>,
}

unsafe impl<R: Root> Sync for Contexts<R> {}

impl<R: Root> Contexts<R> {
    pub const fn new() -> Self {
        Contexts { roots: RefCell::new(Vec::new()), streams: RefCell::new(None) }
    }

    /// Runs `f` on root context `id`; `missing` if unknown or already busy
    /// (a host calling back into the module from inside one of its calls).
    pub fn root<T>(&self, id: u32, missing: T, f: impl FnOnce(&mut R) -> T) -> T {
        let Ok(mut roots) = self.roots.try_borrow_mut() else { return missing };
        match roots.iter_mut().find(|(r, _)| *r == id) {
            Some((_, root)) => f(root),
            None => missing,
        }
    }

    pub fn stream(&self, id: u32, f: impl FnOnce(&mut R::Stream) -> u32) -> u32 {
        let Ok(mut streams) = self.streams.try_borrow_mut() else { return CONTINUE };
        streams.as_mut().and_then(|s| s.get_mut(&id)).map_or(CONTINUE, f)
    }

    pub fn create(&self, id: u32, root_id: u32) {
        if root_id == 0 {
            if let Ok(mut roots) = self.roots.try_borrow_mut() {
                roots.push((id, R::default()));
            }
            return;
        }
        let stream = self.root(root_id, R::Stream::default(), R::create_stream);
        if let Ok(mut streams) = self.streams.try_borrow_mut() {
            streams.get_or_insert_with(HashMap::default).insert(id, stream);
        }
    }

    pub fn delete(&self, id: u32) {
        if let Ok(mut streams) = self.streams.try_borrow_mut() {
            if streams.as_mut().and_then(|s| s.remove(&id)).is_some() {
                return;
            }
        }
        if let Ok(mut roots) = self.roots.try_borrow_mut() {
            roots.retain(|(r, _)| *r != id);
        }
    }
}

/// The host's buffers (headers, configuration) are allocated here and
/// handed back to us, who free them as `Vec`s.
pub fn allocate(size: usize) -> *mut u8 {
    let mut buffer: Vec<std::mem::MaybeUninit<u8>> = Vec::with_capacity(size);
    // SAFETY: MaybeUninit needs no initialisation; the host fills it.
    unsafe { buffer.set_len(size) };
    Box::into_raw(buffer.into_boxed_slice()).cast::<u8>()
}

/// The exports, for root type `$root`. Bodies and trailers pass untouched;
/// they are exported all the same because Kong calls them without checking
/// that they exist, and APISIX logs an error per request without
/// `proxy_on_done` (build/README.md).
macro_rules! export_abi {
    ($root:ty) => {
        static CONTEXTS: $crate::abi::Contexts<$root> = $crate::abi::Contexts::new();

        #[no_mangle]
        pub extern "C" fn proxy_abi_version_0_2_1() {}

        #[no_mangle]
        pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
            $crate::abi::allocate(size)
        }

        /// A reactor module's initialiser: hosts call it once after instantiation.
        #[no_mangle]
        pub extern "C" fn _initialize() {
            extern "C" {
                fn __wasm_call_ctors();
            }
            unsafe { __wasm_call_ctors() }
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_context_create(id: u32, root_id: u32) {
            CONTEXTS.create(id, root_id)
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_vm_start(_id: u32, _size: usize) -> bool {
            true
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_configure(id: u32, _size: usize) -> bool {
            CONTEXTS.root(id, false, <$root as $crate::abi::Root>::on_configure)
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_tick(id: u32) {
            CONTEXTS.root(id, (), <$root as $crate::abi::Root>::on_tick)
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_http_call_response(id: u32, token: u32, headers: usize, body: usize, _trailers: usize) {
            CONTEXTS.root(id, (), |r| $crate::abi::Root::on_http_call_response(r, token, headers, body))
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_request_headers(id: u32, _headers: usize, _end_of_stream: bool) -> u32 {
            CONTEXTS.stream(id, $crate::abi::Stream::on_request_headers)
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_response_headers(id: u32, _headers: usize, _end_of_stream: bool) -> u32 {
            CONTEXTS.stream(id, $crate::abi::Stream::on_response_headers)
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_request_body(_id: u32, _size: usize, _end_of_stream: bool) -> u32 {
            $crate::abi::CONTINUE
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_request_trailers(_id: u32, _count: usize) -> u32 {
            $crate::abi::CONTINUE
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_response_body(_id: u32, _size: usize, _end_of_stream: bool) -> u32 {
            $crate::abi::CONTINUE
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_response_trailers(_id: u32, _count: usize) -> u32 {
            $crate::abi::CONTINUE
        }

        /// true: the context is done (nothing of ours is pending on it).
        #[no_mangle]
        pub extern "C" fn proxy_on_done(_id: u32) -> bool {
            true
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_log(_id: u32) {}

        #[no_mangle]
        pub extern "C" fn proxy_on_delete(id: u32) {
            CONTEXTS.delete(id)
        }
    };
}

pub(crate) use export_abi;
