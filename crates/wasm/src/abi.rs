//! The proxy-wasm ABI 0.2.1 exports: the host calls these, and they hand
//! each call to a root context (one per plugin configuration) or a stream
//! context (one per request). `export_abi!(Root)` writes the exports for a
//! root type; the benchmark's ABI floor (examples/abi_floor.rs) includes
//! this file too, so both pay the same dispatch.
//!
//! The context table itself is in `contexts` (native, unit-tested).
//!
//! Written here instead of taken from the SDK's dispatcher for two reasons
//! measured on this module: the SDK keeps every context as a trait object,
//! so every default method of its traits (and the host calls behind them:
//! gRPC, queues, bodies, trailers) is compiled in although the filter uses
//! none, about 12 KB of the module; and its dispatcher panics on what it
//! does not expect (an unknown call token, an unexpected host status),
//! which would trap the VM. Here an unknown context or a re-entrant call is
//! ignored and the request continues.

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
        // One table per thread: a VM runs on one (no `unsafe impl Sync`).
        // ManuallyDrop: the table lives as long as the VM, so no thread-exit
        // destructor is registered and `with` is a plain static access.
        thread_local! {
            static CONTEXTS: ::std::mem::ManuallyDrop<$crate::contexts::Contexts<$root>> =
                const { ::std::mem::ManuallyDrop::new($crate::contexts::Contexts::new()) };
        }

        #[no_mangle]
        pub extern "C" fn proxy_abi_version_0_2_1() {}

        #[no_mangle]
        pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
            $crate::abi::allocate(size)
        }

        /// A reactor module's initialiser: hosts call it once after instantiation.
        #[no_mangle]
        pub extern "C" fn _initialize() {
            // SAFETY: the linker's constructors, called once by the host
            // right after instantiation, before any other export.
            unsafe { $crate::sys::__wasm_call_ctors() }
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_context_create(id: u32, root_id: u32) {
            CONTEXTS.with(|c| c.create(id, root_id))
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_vm_start(_id: u32, _size: usize) -> bool {
            true
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_configure(id: u32, _size: usize) -> bool {
            CONTEXTS.with(|c| c.root(id, false, <$root as $crate::contexts::Root>::on_configure))
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_tick(id: u32) {
            CONTEXTS.with(|c| c.root(id, (), <$root as $crate::contexts::Root>::on_tick))
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_http_call_response(id: u32, token: u32, headers: usize, body: usize, _trailers: usize) {
            CONTEXTS.with(|c| c.root(id, (), |r| $crate::contexts::Root::on_http_call_response(r, token, headers, body)))
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_request_headers(id: u32, _headers: usize, _end_of_stream: bool) -> u32 {
            CONTEXTS.with(|c| c.stream(id, $crate::contexts::Stream::on_request_headers))
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_response_headers(id: u32, _headers: usize, _end_of_stream: bool) -> u32 {
            CONTEXTS.with(|c| c.stream(id, $crate::contexts::Stream::on_response_headers))
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_request_body(_id: u32, _size: usize, _end_of_stream: bool) -> u32 {
            $crate::contexts::CONTINUE
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_request_trailers(_id: u32, _count: usize) -> u32 {
            $crate::contexts::CONTINUE
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_response_body(_id: u32, _size: usize, _end_of_stream: bool) -> u32 {
            $crate::contexts::CONTINUE
        }

        #[no_mangle]
        pub extern "C" fn proxy_on_response_trailers(_id: u32, _count: usize) -> u32 {
            $crate::contexts::CONTINUE
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
            CONTEXTS.with(|c| c.delete(id))
        }
    };
}

pub(crate) use export_abi;
