#![no_main]
//! `cargo +nightly fuzz run aql`: see jcr_reference::fuzz::aql.
libfuzzer_sys::fuzz_target!(|data: &[u8]| jcr_reference::fuzz::aql(data));
