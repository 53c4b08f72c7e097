#![no_main]
//! `cargo +nightly fuzz run build_info`: see jcr_reference::fuzz::build_info.
libfuzzer_sys::fuzz_target!(|data: &[u8]| jcr_reference::fuzz::build_info(data));
