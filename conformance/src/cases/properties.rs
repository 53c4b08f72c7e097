//! Property-based invariants over generated paths, contents and properties (see [`crate::properties`]).

use crate::case::{Case, CaseFuture, Ctx};
use crate::Failure;

pub fn cases() -> Vec<Case> {
    vec![Case::new("properties/model/deploy-retrieve-list-delete", model)
            .covers(["artifacts.deploy", "artifacts.create-directory", "artifacts.retrieve", "artifacts.delete", "storage.file-info", "storage.folder-info", "storage.properties.get"])
            .writes()
            .spec("jcr-rest-api.txt Deploy Artifact, Retrieve Artifact, Delete Item, File Info, Folder Info, Item Properties")]
}

fn model(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let handle = tokio::runtime::Handle::current();
        let (seed, cases) = (c.seed, c.prop_cases);
        tokio::task::spawn_blocking(move || crate::properties::check(&c, seed, cases, &handle))
            .await
            .map_err(|e| Failure::Error(format!("property runner: {e}")))?
    })
}
