//! # jcr-conformance
//!
//! A conformance runner for JFrog Container Registry / Artifactory REST implementations: a catalogue of
//! cases with their expectations taken from the API documents (`shared/spec`) and recorded fixtures, run
//! against an embedded `jcr-reference` server (default) or any live registry URL, with reports that CI
//! systems and people read.
//!
//! - [`catalogue`]: `fixtures/endpoints.toml`, every documented endpoint.
//! - [`target`]: where the cases go (embedded server or a URL with credentials) and what they may do.
//! - [`case`]: what a case is ([`case::Case`]) and the context it runs with ([`case::Ctx`]): HTTP
//!   exchanges recorded as transcripts, a run-unique prefix and a ledger of what the run created.
//! - [`cases`]: the catalogue of cases, one module per API area.
//! - [`runner`]: outcomes (Disabled < Skip < Pass < Fail < Error), filtering, teardown.
//! - [`report`]: `results.json`, `junit.xml`, `report.md`, `report.html`, and the diff of two runs.
//! - [`properties`]: proptest invariants checked over HTTP against a model of the registry.
//! - [`snapshot`]: normalised response snapshots under `snapshots/`, with provenance.
//!
//! The runner never uses the reference server's types to decide what is right; it only starts it.

pub mod case;
pub mod cases;
pub mod catalogue;
pub mod mask;
pub mod properties;
pub mod report;
pub mod runner;
pub mod snapshot;
pub mod target;

pub use case::{Case, Ctx, Failure, Outcome};
pub use runner::{run, RunOptions, RunResult};
pub use target::{Credentials, Target};
