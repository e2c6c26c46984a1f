#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| edge_cors_fuzz::answer(data));
