#![no_main]
//! `cargo +nightly fuzz run manifest`: see jcr_reference::fuzz::manifest.
libfuzzer_sys::fuzz_target!(|data: &[u8]| jcr_reference::fuzz::manifest(data));
