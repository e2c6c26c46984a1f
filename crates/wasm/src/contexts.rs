//! The proxy-wasm context table: one root context per plugin configuration,
//! one stream context per request, by the ids the host hands out. Plain
//! Rust, compiled and tested natively; `abi` dispatches the exports to it.
//!
//! A host calling back into the module from inside one of its calls (a
//! re-entrant call), an unknown id, or an id deleted already are answered
//! with "continue" and change nothing: the SDK's dispatcher panics there,
//! which traps the VM.

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

/// Context ids are small integers the host hands out (Envoy counts them
/// up), never chosen by a request: each is its own hash, multiplied by the
/// 64-bit golden ratio so that consecutive ids spread over the table's
/// buckets (hashbrown picks buckets by the hash's top bits). No SipHash.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    /// Not used for `u32` keys; any other key is folded in byte by byte.
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
}

/// Streams by context id.
type Streams<S> = HashMap<u32, S, BuildHasherDefault<IdHasher>>;

/// The module's contexts, in a `thread_local!` (`export_abi!`): a VM runs
/// on one thread, and the table is never shared, so no `Sync` is claimed
/// (were the module ever built with wasm threads, each thread would simply
/// have its own table).
pub struct Contexts<R: Root> {
    roots: RefCell<Vec<(u32, R)>>,
    /// Created on first use (a const hasher needs a newer Rust than ours).
    streams: RefCell<Option<Streams<R::Stream>>>,
}

impl<R: Root> Default for Contexts<R> {
    fn default() -> Self {
        Contexts::new()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A root counting what it saw, and streams that say which root made them.
    #[derive(Default)]
    struct TestRoot {
        configured: u32,
        made: u32,
    }

    #[derive(Default)]
    struct TestStream(u32);

    impl Root for TestRoot {
        type Stream = TestStream;
        fn create_stream(&mut self) -> TestStream {
            self.made += 1;
            TestStream(self.made)
        }
        fn on_configure(&mut self) -> bool {
            self.configured += 1;
            true
        }
    }

    impl Stream for TestStream {
        fn on_request_headers(&mut self) -> u32 {
            PAUSE + self.0
        }
        fn on_response_headers(&mut self) -> u32 {
            CONTINUE
        }
    }

    #[test]
    fn unknown_ids_change_nothing() {
        let c: Contexts<TestRoot> = Contexts::new();
        assert!(!c.root(7, false, |r| r.on_configure()), "no root 7 yet");
        assert_eq!(c.stream(8, |s| s.on_request_headers()), CONTINUE, "no stream 8: continue");
        c.delete(9);
        // A stream whose root is unknown gets a default stream, not a panic.
        c.create(10, 99);
        assert_eq!(c.stream(10, |s| s.on_request_headers()), PAUSE, "a default stream");
        c.create(1, 0);
        assert!(c.root(1, false, |r| r.on_configure()));
    }

    #[test]
    fn a_reentrant_call_is_refused_not_a_panic() {
        let c: Contexts<TestRoot> = Contexts::new();
        c.create(1, 0);
        c.create(2, 1);
        // The host calls back into the module while root 1 is busy.
        let inner = c.root(1, None, |_| Some(c.root(1, "refused", |_| "ran")));
        assert_eq!(inner, Some("refused"));
        let inner = c.stream(2, |_| c.stream(2, |_| 42));
        assert_eq!(inner, CONTINUE);
        // Creating a stream while its root is busy: a default stream.
        c.root(1, (), |_| c.create(3, 1));
        assert_eq!(c.stream(3, |s| s.on_request_headers()), PAUSE);
    }

    #[test]
    fn streams_are_deleted_before_roots_and_ids_are_not_confused() {
        let c: Contexts<TestRoot> = Contexts::new();
        c.create(1, 0);
        c.create(2, 1);
        c.create(3, 1);
        assert_eq!(c.stream(3, |s| s.on_request_headers()), PAUSE + 2, "root 1 made stream 3 second");
        assert_eq!(c.root(1, 0, |r| r.made), 2);
        // A stream id deleted never reaches a root of the same number.
        c.delete(2);
        assert_eq!(c.stream(2, |s| s.on_request_headers()), CONTINUE);
        assert_eq!(c.root(1, 0, |r| r.made), 2, "root 1 is still there");
        // Root deleted before its last stream (Envoy's order on a
        // configuration update): the stream lives on until deleted.
        c.delete(1);
        assert!(!c.root(1, false, |r| r.on_configure()));
        assert_eq!(c.stream(3, |s| s.on_request_headers()), PAUSE + 2);
        c.delete(3);
        assert_eq!(c.stream(3, |s| s.on_request_headers()), CONTINUE);
    }

    #[test]
    fn ids_spread_over_the_table() {
        let hash = |id: u32| {
            let mut h = IdHasher::default();
            h.write_u32(id);
            h.finish()
        };
        let top: std::collections::HashSet<u64> = (1..=64).map(|id| hash(id) >> 58).collect();
        assert!(top.len() > 32, "consecutive ids land in {} of 64 top-bit buckets", top.len());
    }
}
