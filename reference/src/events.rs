//! After-commit events. The store derives them from what a mutation did to the item tree (a file
//! written, an item removed, a repository deleted), whichever request or job made it: deploy,
//! deploy by checksum, copy, move, delete, promote, registry pushes, imports. Indexes that must
//! follow every write (archive entries, checksums computed after the fact; Helm's `index.yaml` and
//! build lookups next) subscribe here instead of being called by each write path.
//!
//! Subscribers run under the store's write lock, in commit order: they must only look and hand
//! work on (a channel send), never block.

use std::sync::RwLock;

/// What a committed mutation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A file was written (created or replaced) at `repo:path`.
    FileWritten {
        repo: String,
        path: String,
        /// Its content.
        sha256: String,
        /// Stored with SHA-256 only (registry uploads): SHA-1 and MD5 are still to compute.
        checksums_missing: bool,
    },
    /// The item at `repo:path` was removed (each item of a removed folder has its own event).
    Removed { repo: String, path: String },
    /// A repository was deleted with all its content.
    RepoDeleted { key: String },
}

/// A subscriber: looks at each event as it is committed.
pub(crate) type Subscriber = Box<dyn Fn(&Event) + Send + Sync>;

/// The subscribers of a store.
#[derive(Default)]
pub(crate) struct Bus {
    subscribers: RwLock<Vec<Subscriber>>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.subscribers.read().map(|s| s.len()).unwrap_or(0);
        write!(f, "Bus({n} subscribers)")
    }
}

impl Bus {
    /// Adds a subscriber for every event from now on.
    pub(crate) fn subscribe(&self, s: impl Fn(&Event) + Send + Sync + 'static) {
        self.subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(s));
    }

    /// Hands `events` to every subscriber, in order.
    pub(crate) fn publish(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let subs = self.subscribers.read().unwrap_or_else(|e| e.into_inner());
        for e in events {
            for s in subs.iter() {
                s(e);
            }
        }
    }
}
