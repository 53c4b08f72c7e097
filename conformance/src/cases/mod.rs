//! The catalogue of cases, one module per API area. Every expectation cites where it comes from: the
//! API document (`jcr-rest-api.txt`, by section) or the behaviour facts (`artifactory-behaviour.md`, §).

mod accounts;
mod artifacts;
mod builds;
mod docker;
mod errors;
mod helm;
mod oci;
mod properties;
mod remote;
mod repositories;
mod search;
mod security;
mod storage;
mod system;
mod tokens;

use crate::case::Case;

/// Every case, in a stable order.
pub fn all() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(system::cases());
    v.extend(artifacts::cases());
    v.extend(storage::cases());
    v.extend(repositories::cases());
    v.extend(security::cases());
    v.extend(accounts::cases());
    v.extend(tokens::cases());
    v.extend(docker::cases());
    v.extend(oci::cases());
    v.extend(search::cases());
    v.extend(builds::cases());
    v.extend(helm::cases());
    v.extend(remote::cases());
    v.extend(properties::cases());
    v.extend(errors::cases());
    v
}
