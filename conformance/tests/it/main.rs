//! The suite against the reference server, against deliberately faulty servers, and the runner's own
//! guarantees (coverage, masking, safety flags, teardown, reports).

mod common;
mod coverage;
mod properties;
mod reports;
mod safety;
mod suite;
