#![no_main]
//! `cargo +nightly fuzz run properties`: see jcr_reference::fuzz::properties.
libfuzzer_sys::fuzz_target!(|data: &[u8]| jcr_reference::fuzz::properties(data));
