#![no_main]
//! `cargo +nightly fuzz run path`: see jcr_reference::fuzz::path.
libfuzzer_sys::fuzz_target!(|data: &[u8]| jcr_reference::fuzz::path(data));
