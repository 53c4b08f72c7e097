#![no_main]
//! `cargo +nightly fuzz run json_bodies`: see jcr_reference::fuzz::json_bodies.
libfuzzer_sys::fuzz_target!(|data: &[u8]| jcr_reference::fuzz::json_bodies(data));
