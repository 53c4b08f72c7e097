//! The build lookup: every build-info document (a `*.json` file with a `name` and a `number`)
//! stored in [`super::REPO`], read and parsed once.
//!
//! It follows the store's after-commit events (a file written into the build-info repository, one
//! removed, the repository deleted), whichever write made them (a build upload, a rename, a plain
//! deploy or delete of the JSON file, an import), so it can never disagree with the item tree. A
//! document is read from its blob the first time someone asks after it changed; under the event
//! only its path and content are noted, as subscribers must not block.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;

use super::model::Build;
use super::REPO;
use crate::events::Event;
use crate::store::Store;

/// One stored build run: a build-info document and where it is.
#[derive(Debug)]
pub(crate) struct Run {
    /// Its path in the build-info repository.
    pub path: String,
    /// The document's `name`.
    pub name: String,
    /// Its `number`.
    pub number: String,
    /// Its `started`, as stored (empty when missing: documents deployed as plain files need not
    /// have one, and AQL still shows them).
    pub started: String,
    /// `started` in epoch ms (`i64::MIN` when missing or not a date: such runs sort oldest).
    pub started_ms: i64,
    /// The document, its fields in Artifactory's order (see [`super::model::ordered`]).
    pub doc: Arc<Json>,
    /// What AQL's build domains read.
    pub view: Arc<Build>,
}

#[derive(Debug)]
struct Slot {
    sha256: String,
    /// `None`: not read since it changed; `Some(None)`: not a build-info document.
    run: Option<Option<Arc<Run>>>,
}

/// Every build run, by path.
#[derive(Debug, Default)]
pub(crate) struct Index {
    slots: Mutex<BTreeMap<String, Slot>>,
}

impl Index {
    fn slots(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows `store` from now on, starting from what it holds.
    pub(crate) fn attach(self: &Arc<Self>, store: &Store) {
        let me = self.clone();
        store.events.subscribe(move |e| me.note(e));
        self.reload(store);
    }

    /// Starts again from what `store` holds (after the control API put back a seeded state).
    pub(crate) fn reload(&self, store: &Store) {
        let state = store.read();
        let mut slots = self.slots();
        slots.clear();
        let Some(repo) = state.repo(REPO) else { return };
        for (path, item) in repo.items.iter() {
            if let Some(f) = item.file.as_ref().filter(|_| path.ends_with(".json")) {
                slots.entry(path.to_string()).or_insert(Slot {
                    sha256: f.sha256.hex().to_string(),
                    run: None,
                });
            }
        }
    }

    fn note(&self, e: &Event) {
        match e {
            Event::FileWritten {
                repo, path, sha256, ..
            } if repo == REPO && path.ends_with(".json") => {
                self.slots().insert(
                    path.clone(),
                    Slot {
                        sha256: sha256.clone(),
                        run: None,
                    },
                );
            }
            Event::Removed { repo, path } if repo == REPO => {
                self.slots().remove(path);
            }
            Event::RepoDeleted { key } if key == REPO => self.slots().clear(),
            _ => {}
        }
    }

    /// Files a document this server has just written at `path` (its content `sha256`), so the
    /// first read after an upload does not read and parse it again.
    pub(crate) fn remember(&self, path: &str, doc: Json, item: &crate::store::Item) {
        let Some(sha256) = item.file.as_ref().map(|f| f.sha256.hex().to_string()) else {
            return;
        };
        let run = run_of(path, doc, item, true);
        let mut slots = self.slots();
        if let Some(slot) = slots.get_mut(path).filter(|s| s.sha256 == sha256) {
            slot.run = Some(run);
        }
    }

    /// Every build run, in path order; documents changed since the last call are read first.
    pub(crate) async fn runs(&self, store: &Store) -> Vec<Arc<Run>> {
        let stale: Vec<(String, String, PathBuf)> = self
            .slots()
            .iter()
            .filter(|(_, s)| s.run.is_none())
            .map(|(p, s)| (p.clone(), s.sha256.clone(), store.blobs.path(&s.sha256)))
            .collect();
        if !stale.is_empty() {
            self.read(store, stale).await;
        }
        self.slots()
            .values()
            .filter_map(|s| s.run.clone().flatten())
            .collect()
    }

    /// Reads and parses `stale` documents off the async workers, then files them (unless they
    /// changed again meanwhile).
    async fn read(&self, store: &Store, stale: Vec<(String, String, PathBuf)>) {
        let docs = tokio::task::spawn_blocking(move || {
            stale
                .into_iter()
                .map(|(path, sha256, file)| {
                    let doc = std::fs::read(file)
                        .ok()
                        .and_then(|b| serde_json::from_slice::<Json>(&b).ok());
                    (path, sha256, doc)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let state = store.read();
        let mut slots = self.slots();
        for (path, sha256, doc) in docs {
            let Some(slot) = slots.get_mut(&path).filter(|s| s.sha256 == sha256) else {
                continue;
            };
            let item = state.item(REPO, &path);
            let run = match (doc, item) {
                (Some(doc), Some(item)) => run_of(&path, doc, item, false),
                _ => None,
            };
            slot.run = Some(run);
        }
    }
}

/// The run a document stored at `path` is (`None`: not a build-info document); `ordered`: its
/// fields are already in Artifactory's order.
fn run_of(path: &str, doc: Json, item: &crate::store::Item, ordered: bool) -> Option<Arc<Run>> {
    let text = |k: &str| super::text(&doc, k);
    let (name, number) = (text("name")?, text("number")?);
    let started = text("started").unwrap_or_default();
    let started_ms = super::parse_started(&started).unwrap_or(i64::MIN);
    let view = Arc::new(Build::parse(&doc, item)?);
    Some(Arc::new(Run {
        path: path.to_string(),
        name,
        number,
        started,
        started_ms,
        // Kept as Artifactory prints it, so a read serialises it without rearranging.
        doc: Arc::new(if ordered {
            doc
        } else {
            super::model::ordered(&doc)
        }),
        view,
    }))
}
