//! # jcr-conformance
//!
//! The conformance runner: cases, property-based invariants and normalised snapshots that run against
//! the embedded reference server (`jcr-reference`) or any live registry URL, and write reports.
//!
//! This crate is the workspace's second product. Its runner, case catalogue (`fixtures/endpoints.toml`),
//! snapshots and reports are the subject of the next issue; until then the crate holds no cases and no
//! binary, so nothing here claims to check a registry.
