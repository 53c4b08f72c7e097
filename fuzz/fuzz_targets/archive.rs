#![no_main]
//! `cargo +nightly fuzz run archive`: see jcr_reference::fuzz::archive.
libfuzzer_sys::fuzz_target!(|data: &[u8]| jcr_reference::fuzz::archive(data));
