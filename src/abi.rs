//! The proxy-wasm ABI 0.2.1 exports: the host calls these, and they hand
//! each call to the filter's root or stream context.
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
use std::mem::MaybeUninit;

use crate::filter::{CorsRoot, CorsStream};
use crate::origin::FastHash;

/// What a header callback tells the host: go on, or wait (we replied).
pub const CONTINUE: u32 = 0;
pub const PAUSE: u32 = 1;

/// The module's contexts. The VM is single-threaded; `Sync` is only what a
/// `static` requires.
struct Contexts {
    roots: RefCell<Vec<(u32, CorsRoot)>>,
    /// Created on first use (a const hasher needs a newer Rust than ours).
    streams: RefCell<Option<HashMap<u32, CorsStream, FastHash>>>,
}

unsafe impl Sync for Contexts {}

static CONTEXTS: Contexts = Contexts { roots: RefCell::new(Vec::new()), streams: RefCell::new(None) };

/// Runs `f` on root context `id`; nothing if unknown or already busy (a
/// host calling back into the module from inside one of its own calls).
fn with_root<T>(id: u32, missing: T, f: impl FnOnce(&mut CorsRoot) -> T) -> T {
    let Ok(mut roots) = CONTEXTS.roots.try_borrow_mut() else { return missing };
    match roots.iter_mut().find(|(r, _)| *r == id) {
        Some((_, root)) => f(root),
        None => missing,
    }
}

fn with_stream(id: u32, f: impl FnOnce(&mut CorsStream) -> u32) -> u32 {
    let Ok(mut streams) = CONTEXTS.streams.try_borrow_mut() else { return CONTINUE };
    streams.as_mut().and_then(|s| s.get_mut(&id)).map_or(CONTINUE, f)
}

#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// The host's buffers (headers, configuration) are allocated here and
/// handed back to us, who free them as `Vec`s.
#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut buffer: Vec<MaybeUninit<u8>> = Vec::with_capacity(size);
    // SAFETY: MaybeUninit needs no initialisation; the host fills it.
    unsafe { buffer.set_len(size) };
    Box::into_raw(buffer.into_boxed_slice()).cast::<u8>()
}

#[cfg(target_os = "wasi")]
extern "C" {
    fn __wasm_call_ctors();
}

/// A reactor module's initialiser: hosts call it once after instantiation.
#[no_mangle]
pub extern "C" fn _initialize() {
    #[cfg(target_os = "wasi")]
    unsafe {
        __wasm_call_ctors();
    }
}

#[no_mangle]
pub extern "C" fn proxy_on_context_create(id: u32, root_id: u32) {
    if root_id == 0 {
        if let Ok(mut roots) = CONTEXTS.roots.try_borrow_mut() {
            roots.push((id, CorsRoot::default()));
        }
        return;
    }
    let stream = with_root(root_id, CorsStream::default(), |root| root.create_stream());
    if let Ok(mut streams) = CONTEXTS.streams.try_borrow_mut() {
        streams.get_or_insert_with(HashMap::default).insert(id, stream);
    }
}

#[no_mangle]
pub extern "C" fn proxy_on_vm_start(_id: u32, _size: usize) -> bool {
    true
}

#[no_mangle]
pub extern "C" fn proxy_on_configure(id: u32, _size: usize) -> bool {
    with_root(id, false, CorsRoot::on_configure)
}

#[no_mangle]
pub extern "C" fn proxy_on_tick(id: u32) {
    with_root(id, (), CorsRoot::on_tick);
}

/// The answer to a call a root context made (the token says which).
#[no_mangle]
pub extern "C" fn proxy_on_http_call_response(id: u32, token: u32, num_headers: usize, body_size: usize, _num_trailers: usize) {
    with_root(id, (), |root| root.on_http_call_response(token, num_headers, body_size));
}

#[no_mangle]
pub extern "C" fn proxy_on_request_headers(id: u32, _num_headers: usize, _end_of_stream: bool) -> u32 {
    with_stream(id, CorsStream::on_request_headers)
}

#[no_mangle]
pub extern "C" fn proxy_on_response_headers(id: u32, _num_headers: usize, _end_of_stream: bool) -> u32 {
    with_stream(id, CorsStream::on_response_headers)
}

// Bodies and trailers pass untouched. Kong calls these without checking
// that they exist, and APISIX logs an error per request without
// `proxy_on_done` (build/README.md), so they are exported all the same.
#[no_mangle]
pub extern "C" fn proxy_on_request_body(_id: u32, _size: usize, _end_of_stream: bool) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn proxy_on_request_trailers(_id: u32, _count: usize) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn proxy_on_response_body(_id: u32, _size: usize, _end_of_stream: bool) -> u32 {
    CONTINUE
}

#[no_mangle]
pub extern "C" fn proxy_on_response_trailers(_id: u32, _count: usize) -> u32 {
    CONTINUE
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
    if let Ok(mut streams) = CONTEXTS.streams.try_borrow_mut() {
        if streams.as_mut().and_then(|s| s.remove(&id)).is_some() {
            return;
        }
    }
    if let Ok(mut roots) = CONTEXTS.roots.try_borrow_mut() {
        roots.retain(|(r, _)| *r != id);
    }
}
