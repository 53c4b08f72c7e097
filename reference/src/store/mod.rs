//! Storage: the blob store, the item tree and its persistence.
//!
//! [`Store::commit`] is the one door through which state changes: it applies a [`Mutation`] to the
//! in-memory tree, appends it to the journal (with `--data-dir`) and fsyncs before returning, so a caller
//! that answers the client after `commit` has made the change durable first.

pub mod blobs;
pub mod hex;
pub mod index;
pub mod journal;
pub mod private;
pub mod secret;
pub mod sym;
#[cfg(test)]
pub(crate) mod trace;
pub mod tree;

use std::io;
use std::path::Path;
use std::sync::{Mutex, RwLock, RwLockReadGuard};

pub use blobs::{BlobInfo, BlobStore, IngestError, Transfers};
pub use hex::Sha256;
pub use secret::Secret;
pub use sym::Sym;
pub use tree::{FileData, Item, Mutation, Original, Props, Repo, Stamp, State, TreeError};

use crate::auth::crypto::Cipher;
use crate::config::RepoConfig;
use journal::Journal;

/// Why a commit failed.
#[derive(Debug)]
pub enum CommitError {
    /// The mutation was refused by the domain; nothing changed.
    Tree(TreeError),
    /// The journal could not be written.
    Io(io::Error),
}

impl From<TreeError> for CommitError {
    fn from(e: TreeError) -> Self {
        CommitError::Tree(e)
    }
}

/// Why a [`Store::transact`] changed nothing.
#[derive(Debug)]
pub enum Refusal<E> {
    /// The check refused.
    Check(E),
    /// The mutation did not apply, or could not be journalled.
    Commit(CommitError),
}

/// The storage engine shared by all handlers.
#[derive(Debug)]
pub struct Store {
    state: RwLock<State>,
    journal: Option<Mutex<Journal>>,
    sync: Option<std::fs::File>,
    /// Content-addressed blobs.
    pub blobs: BlobStore,
    /// After-commit events.
    pub(crate) events: crate::events::Bus,
    root: std::path::PathBuf,
    cipher: RwLock<Option<Cipher>>,
    /// What seals secrets at rest when key encryption is off (and opens what it sealed after).
    data_key: Option<Cipher>,
    /// Blobs that something outside the item tree still needs (Docker upload sessions), with counts.
    held: Mutex<std::collections::HashMap<String, usize>>,
    _tmp: Option<tempfile::TempDir>,
}

impl FileData {
    /// The file data of a stored blob, with no checksums sent by a client.
    pub fn of_blob(info: &BlobInfo, mime: &str) -> FileData {
        FileData {
            size: info.size,
            sha1: info.sha1.as_str().into(),
            md5: info.md5.as_str().into(),
            sha256: info.sha256.as_str().into(),
            original: None,
            mime: mime.into(),
            stats: None,
        }
    }
}

/// What seals the journal's secrets: the master key while key encryption is on (opening what the
/// data key sealed too), else the data key.
fn at_rest(master: Option<&Cipher>, data_key: &Cipher) -> Cipher {
    match master {
        Some(m) => m.clone().falling_back_to(data_key),
        None => data_key.clone(),
    }
}

impl Store {
    /// Opens the store. Without `data_dir` it lives in a temporary directory removed when the store is
    /// dropped. Repositories of `initial` that the recovered state lacks are created.
    pub fn open(data_dir: Option<&Path>, initial: &[RepoConfig], now: i64) -> io::Result<Store> {
        let (root, tmp) = match data_dir {
            Some(d) => (d.to_path_buf(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("jcr-reference-")
                    .tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        match data_dir {
            Some(_) => private::durable_dir(&root)?,
            None => {
                private::dir(&root)?;
            }
        }
        let blobs = BlobStore::open(&root, data_dir.is_some())?;
        let cipher = Cipher::load(&root)?;
        let data_key = match data_dir {
            Some(_) => Some(Cipher::data_key(&root)?),
            None => None,
        };
        let (journal, recovered) = match (data_dir, &data_key) {
            (Some(d), Some(k)) => {
                let (j, s) = Journal::open(&d.join("meta"), Some(at_rest(cipher.as_ref(), k)))?;
                (Some(j), s)
            }
            _ => (None, None),
        };
        let mut state = recovered.unwrap_or_default();
        let mut journal = journal;
        for config in initial {
            if state.repo_ci(&config.key).is_none() {
                let m = Mutation::CreateRepo {
                    config: config.clone(),
                    now,
                    user: "_system".into(),
                };
                state
                    .apply(&m)
                    .map_err(|e| io::Error::other(format!("{e:?}")))?;
                if let Some(j) = journal.as_mut() {
                    j.append(&m)?;
                }
            }
        }
        let sync = match &journal {
            Some(j) => {
                let f = j.sync_handle()?;
                f.sync_data()?;
                // The directories in the data directory, the journal's and the blobs' among them:
                // the first acknowledged write must not vanish with its journal's entry. (The
                // data directory's own entry was synced when this start created it.)
                for d in ["meta", "blobs/sha256", "blobs"] {
                    private::sync_dir(&root.join(d))?;
                }
                private::sync_dir(&root)?;
                Some(f)
            }
            None => None,
        };
        state.record_changes();
        Ok(Store {
            events: Default::default(),
            state: RwLock::new(state),
            journal: journal.map(Mutex::new),
            sync,
            blobs,
            root,
            cipher: RwLock::new(cipher),
            data_key,
            held: Mutex::default(),
            _tmp: tmp,
        })
    }

    /// A read view of the whole state. Do not hold it across an `.await`.
    pub fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `m` and makes it durable before returning.
    pub async fn commit(&self, m: Mutation) -> Result<(), CommitError> {
        self.apply_and_log(&m)?;
        self.sync().await.map_err(CommitError::Io)
    }

    /// Reads, checks and commits under one write lock: `check` sees the state as it is and either
    /// refuses (nothing changes) or names the mutation to apply; `after` reads the state the moment
    /// the mutation has applied, before any other write, so what it returns describes exactly this
    /// write. Durable before it returns, like [`Store::commit`]. Every check that guards a write
    /// (permission to overwrite, a tag that must not exist) belongs in `check`: a check made on an
    /// earlier read can be outrun by a concurrent write.
    pub async fn transact<R, E>(
        &self,
        check: impl FnOnce(&State) -> Result<Mutation, E>,
        after: impl FnOnce(&State) -> R,
    ) -> Result<R, Refusal<E>> {
        let out = {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            let m = check(&state).map_err(Refusal::Check)?;
            self.apply_locked(&mut state, &m).map_err(Refusal::Commit)?;
            after(&state)
        };
        self.sync()
            .await
            .map_err(|e| Refusal::Commit(CommitError::Io(e)))?;
        Ok(out)
    }

    /// Applies `m` and journals it without waiting for the disk (download statistics).
    pub fn commit_lazy(&self, m: Mutation) -> Result<(), CommitError> {
        self.apply_and_log(&m)
    }

    fn apply_and_log(&self, m: &Mutation) -> Result<(), CommitError> {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        self.apply_locked(&mut state, m)
    }

    /// Applies and journals `m` on the state the caller holds the write lock of.
    fn apply_locked(&self, state: &mut State, m: &Mutation) -> Result<(), CommitError> {
        let applied = state.apply(m);
        let changes = state.take_changes();
        applied?;
        if let Some(j) = &self.journal {
            // Appended while the state lock is held, so journal order equals apply order.
            let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
            j.append(m).map_err(CommitError::Io)?;
            // A long-running server compacts as it goes: the snapshot (fsynced) holds every record
            // appended so far, so the journal can start again empty.
            if j.wants_compaction() {
                j.compact(state).map_err(CommitError::Io)?;
                // The tree is rebuilt with full nodes at the same moment, as a restart would.
                state.pack();
            }
        }
        // Journalled: subscribers hear of it now, still in commit order.
        self.events.publish(&changes);
        Ok(())
    }

    /// Waits until every appended record is on disk (one fsync covers all earlier appends).
    async fn sync(&self) -> io::Result<()> {
        let Some(f) = &self.sync else { return Ok(()) };
        let f = f.try_clone()?;
        tokio::task::spawn_blocking(move || f.sync_data())
            .await
            .map_err(io::Error::other)??;
        #[cfg(test)]
        trace::record(trace::Op::SyncJournal(self.root.join("meta/journal.log")));
        Ok(())
    }

    /// Garbage collection: removes blobs no item references. Waits for deploys between writing a blob
    /// and committing its item, so a blob an acknowledged or in-flight deploy needs is never removed.
    pub async fn gc(&self) -> io::Result<(u64, u64)> {
        let _exclusive = self.blobs.exclusive().await;
        let referenced: std::collections::HashSet<String> = {
            let state = self.read();
            state
                .repos
                .values()
                .flat_map(|r| r.items.values())
                .filter_map(|i| i.file.as_ref().map(|f| f.sha256.to_string()))
                .chain(self.held().keys().cloned())
                .collect()
        };
        self.blobs.sweep(referenced).await
    }

    /// Sets the journal size that triggers a compaction (tests).
    #[cfg(test)]
    pub fn set_compact_after(&self, bytes: u64) {
        if let Some(j) = &self.journal {
            j.lock()
                .unwrap_or_else(|e| e.into_inner())
                .set_compact_after(bytes);
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, usize>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the blob `sha256` from garbage collection until [`Store::release`] (upload sessions that
    /// have stored part of an upload but have no item yet).
    pub fn hold(&self, sha256: &str) {
        *self.held().entry(sha256.to_string()).or_insert(0) += 1;
    }

    /// Undoes one [`Store::hold`].
    pub fn release(&self, sha256: &str) {
        let mut h = self.held();
        if let Some(n) = h.get_mut(sha256) {
            *n -= 1;
            if *n == 0 {
                h.remove(sha256);
            }
        }
    }

    /// The data root (the data directory, or the temporary one).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The master key while key encryption is active.
    pub fn cipher(&self) -> Option<Cipher> {
        self.cipher
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts (`Some`) or stops (`None`) key encryption: secrets at rest are sealed under the
    /// master key, or again under the data key; the snapshot is rewritten at once so the disk
    /// holds secrets only in the new form.
    pub fn set_cipher(&self, cipher: Option<Cipher>) -> io::Result<()> {
        let state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let (Some(j), Some(k)) = (&self.journal, &self.data_key) {
            let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
            j.set_cipher(Some(at_rest(cipher.as_ref(), k)), &state)?;
        }
        *self.cipher.write().unwrap_or_else(|e| e.into_inner()) = cipher;
        Ok(())
    }

    /// Puts `state` in place of the whole state (the control API's reset) and makes it durable at
    /// once: the snapshot is rewritten and the journal starts empty, so a restart finds `state`.
    pub fn replace_state(&self, mut state: State) -> io::Result<()> {
        state.record_changes();
        let mut current = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let Some(j) = &self.journal {
            j.lock()
                .unwrap_or_else(|e| e.into_inner())
                .compact(&state)?;
        }
        *current = state;
        Ok(())
    }

    /// A copy of the whole state (the control API's seed).
    pub fn copy_state(&self) -> State {
        let mut s = self.read().clone();
        s.take_changes();
        s
    }

    /// Compacts the journal into a snapshot (clean shutdown, storage optimisation); nothing to do
    /// when nothing was journalled since the last one.
    pub fn checkpoint(&self) -> io::Result<()> {
        let state = self.read();
        if let Some(j) = &self.journal {
            let mut j = j.lock().unwrap_or_else(|e| e.into_inner());
            if !j.is_empty() {
                j.compact(&state)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PackageType, RepoClass};

    #[tokio::test]
    async fn the_journal_compacts_as_it_grows_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let repos = [RepoConfig::new("r", RepoClass::Local, PackageType::Generic)];
        {
            let store = Store::open(Some(dir.path()), &repos, 1).unwrap();
            store.set_compact_after(2_000);
            for i in 0..200 {
                let m = Mutation::MakeFolder {
                    repo: "r".into(),
                    path: format!("f{i}"),
                    props: Props::default(),
                    now: 2,
                    user: "u".into(),
                    stamp: Default::default(),
                };
                store.commit(m).await.unwrap();
            }
            let journal = std::fs::metadata(dir.path().join("meta/journal.log"))
                .unwrap()
                .len();
            assert!(journal < 2_500, "journal kept growing: {journal} bytes");
            // Dropped without a clean shutdown: no final checkpoint.
        }
        let store = Store::open(Some(dir.path()), &repos, 3).unwrap();
        let state = store.read();
        assert_eq!(
            (0..200)
                .filter(|i| state.item("r", &format!("f{i}")).is_some())
                .count(),
            200
        );
    }

    /// A deploy as the deploy handler makes it: the blob published, then its record committed.
    async fn deploy(store: &Store, path: &str, content: &'static [u8]) -> Result<(), String> {
        let info = store
            .blobs
            .ingest_bytes(bytes::Bytes::from_static(content))
            .await
            .map_err(|e| format!("{e:?}"))?;
        let file = tree::FileData {
            size: info.size,
            sha1: info.sha1.as_str().into(),
            md5: info.md5.as_str().into(),
            sha256: info.sha256.as_str().into(),
            original: None,
            mime: "text/plain".into(),
            stats: None,
        };
        let m = Mutation::PutFile {
            repo: "r".into(),
            path: path.into(),
            file,
            props: Props::default(),
            now: 2,
            user: "u".into(),
            stamp: Stamp::default(),
        };
        store.commit(m).await.map_err(|e| format!("{e:?}"))
    }

    /// A durable store with repository `r` at `under` in a new temporary directory (kept alive by
    /// the first value).
    fn durable_store(under: &str) -> (tempfile::TempDir, std::path::PathBuf, Store) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(under);
        let repos = [RepoConfig::new("r", RepoClass::Local, PackageType::Generic)];
        let store = Store::open(Some(&root), &repos, 1).unwrap();
        (dir, root, store)
    }

    fn sha256_of(content: &[u8]) -> String {
        use sha2::Digest;
        ::hex::encode(sha2::Sha256::digest(content))
    }

    /// A power loss at any moment of a new data directory's first deploys never keeps a journal
    /// record whose journal file, blob entry or blob content would be lost, and a blob's
    /// publication goes content sync, rename, directory sync, shard sync, then the record and the
    /// journal's sync. (The trace is of every request the store made of the disk, from the data
    /// directory's creation on; `trace::check_power_loss` replays each prefix of it.)
    #[tokio::test]
    async fn a_power_loss_at_any_moment_keeps_no_record_without_its_blob() {
        let (_dir, root, store) = durable_store("a/b/data");
        for (path, content) in [("a", &b"one"[..]), ("b", b"two"), ("c", b"one")] {
            deploy(&store, path, content).await.unwrap();
        }
        let ops = trace::under(&root);
        trace::check_power_loss(&ops, |s| store.blobs.path(s)).unwrap();
        // The first deploy's publication, in order.
        let blob = store.blobs.path(&sha256_of(b"one"));
        let shard = blob.parent().unwrap().to_path_buf();
        let from = ops
            .iter()
            .position(|op| matches!(op, trace::Op::Rename { to, .. } if *to == blob))
            .expect("the blob was renamed into place");
        let trace::Op::Rename { from: tmp, .. } = &ops[from] else {
            unreachable!()
        };
        let synced = ops
            .iter()
            .position(|op| *op == trace::Op::SyncFile(tmp.clone()))
            .expect("its content was fsynced");
        assert!(synced < from, "content synced after the rename: {ops:#?}");
        assert_eq!(
            ops[from + 1..from + 5].to_vec(),
            [
                trace::Op::SyncDir(shard.clone()),
                trace::Op::SyncDir(shard.parent().unwrap().to_path_buf()),
                trace::Op::Append {
                    journal: root.join("meta/journal.log"),
                    blobs: vec![sha256_of(b"one")],
                },
                trace::Op::SyncJournal(root.join("meta/journal.log")),
            ],
            "{ops:#?}"
        );
    }

    /// The check above is not vacuous: with a sync left out of a trace, or the record appended and
    /// synced right after the rename (before the directory syncs), it finds the moment that loses
    /// the blob or the journal.
    #[tokio::test]
    async fn the_power_loss_check_finds_a_record_that_outruns_its_blob() {
        let (_dir, root, store) = durable_store("data");
        deploy(&store, "a", b"one").await.unwrap();
        let ops = trace::under(&root);
        let blob = |s: &str| store.blobs.path(s);
        let shard = blob(&sha256_of(b"one")).parent().unwrap().to_path_buf();
        let without = |drop: &dyn Fn(&trace::Op) -> bool| -> Vec<trace::Op> {
            ops.iter().filter(|op| !drop(op)).cloned().collect()
        };
        for (what, broken) in [
            (
                "the blob's directory sync",
                without(&|op| *op == trace::Op::SyncDir(shard.clone())),
            ),
            (
                "the shard's parent sync",
                without(&|op| *op == trace::Op::SyncDir(shard.parent().unwrap().to_path_buf())),
            ),
            (
                "the content sync",
                without(&|op| matches!(op, trace::Op::SyncFile(_))),
            ),
            (
                "the journal directory's sync",
                without(&|op| *op == trace::Op::SyncDir(root.join("meta"))),
            ),
            ("the record before the directory syncs", {
                let mut early = ops.clone();
                let at = |ops: &[trace::Op], f: &dyn Fn(&trace::Op) -> bool| {
                    ops.iter().rposition(f).expect("in the trace")
                };
                let append = at(&early, &|op| matches!(op, trace::Op::Append { .. }));
                let records = early.drain(append..append + 2).collect::<Vec<_>>();
                let rename = at(&early, &|op| matches!(op, trace::Op::Rename { .. }));
                early.splice(rename + 1..rename + 1, records);
                early
            }),
        ] {
            let err = trace::check_power_loss(&broken, blob).unwrap_err();
            assert!(err.contains("not durable"), "without {what}: {err}");
        }
    }

    /// A publication stopped after each of its steps (as a crash there would stop it) fails the
    /// deploy, so nothing is journalled; the directory reopens without the item and without a
    /// temporary file, and a blob at its address is whole. A second deploy of the same content
    /// while the first stopped between its rename and its directory syncs makes those syncs itself
    /// before its record is written.
    #[tokio::test]
    async fn a_crash_at_any_step_of_a_publication_leaves_no_item_and_no_partial_blob() {
        let repos = [RepoConfig::new("r", RepoClass::Local, PackageType::Generic)];
        let content: &'static [u8] = b"the content of a blob";
        for step in 1..=5 {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("data");
            {
                let store = Store::open(Some(&root), &repos, 1).unwrap();
                store.blobs.crash_after(step);
                let err = deploy(&store, "a", content).await.unwrap_err();
                assert!(err.contains(&format!("step {step}")), "{err}");
                // Nothing of the failed publication is left but, past its rename, the whole blob.
                assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
                let blob = store.blobs.path(&sha256_of(content));
                assert_eq!(blob.exists(), step >= 3, "step {step}");
                if step >= 3 {
                    assert_eq!(std::fs::read(&blob).unwrap(), content, "step {step}");
                }
                // Another deploy of the same content, with the first one's rename possibly not
                // synced: its record must not outrun the blob.
                store.blobs.crash_after(0);
                deploy(&store, "b", content).await.unwrap();
                trace::check_power_loss(&trace::under(&root), |s| store.blobs.path(s))
                    .unwrap_or_else(|e| panic!("after a crash at step {step}: {e}"));
            }
            let store = Store::open(Some(&root), &repos, 3).unwrap();
            let state = store.read();
            assert!(state.item("r", "a").is_none(), "step {step}");
            assert!(state.item("r", "b").is_some(), "step {step}");
        }
    }

    /// A blob an import published without a sync (it syncs the file system once, later) and a
    /// deploy of the same content meanwhile: the deploy syncs the blob's content and entry itself
    /// before its record.
    #[tokio::test]
    async fn a_deploy_of_content_an_import_left_unsynced_syncs_it_first() {
        let (_dir, root, store) = durable_store("data");
        let content: &'static [u8] = b"imported, not yet synced";
        let body =
            futures_util::stream::iter([Ok::<_, io::Error>(bytes::Bytes::from_static(content))]);
        store.blobs.ingest_unsynced(body, None).await.unwrap();
        deploy(&store, "a", content).await.unwrap();
        trace::check_power_loss(&trace::under(&root), |s| store.blobs.path(s)).unwrap();
    }

    /// Every write path that puts or removes a file is heard by subscribers: a deploy, a copy (each
    /// file that lands), a move (its source goes), a delete, a deleted repository.
    #[tokio::test]
    async fn subscribers_hear_every_file_written_or_removed() {
        use crate::events::Event;
        let repos = [
            RepoConfig::new("r", RepoClass::Local, PackageType::Generic),
            RepoConfig::new("s", RepoClass::Local, PackageType::Generic),
        ];
        let store = Store::open(None, &repos, 1).unwrap();
        let heard = std::sync::Arc::new(Mutex::new(Vec::new()));
        let h = heard.clone();
        store
            .events
            .subscribe(move |e| h.lock().unwrap().push(e.clone()));
        let file = tree::FileData {
            size: 1,
            sha1: "a".repeat(40).as_str().into(),
            md5: "b".repeat(32).as_str().into(),
            sha256: "c".repeat(64).as_str().into(),
            original: None,
            mime: "text/plain".into(),
            stats: None,
        };
        let put = Mutation::PutFile {
            repo: "r".into(),
            path: "d/f.txt".into(),
            file,
            props: Props::default(),
            now: 2,
            user: "u".into(),
            stamp: Stamp::default(),
        };
        let transfer = |mv| Mutation::Transfer {
            src_repo: "r".into(),
            src_path: "d".into(),
            dst_repo: "s".into(),
            dst_path: if mv { "moved".into() } else { "copied".into() },
            mv,
            now: 3,
            user: "u".into(),
        };
        for m in [
            put,
            transfer(false),
            transfer(true),
            Mutation::Delete {
                repo: "s".into(),
                path: "copied".into(),
            },
            Mutation::DeleteRepo { key: "s".into() },
        ] {
            store.commit(m).await.unwrap();
        }
        let written = |repo: &str, path: &str| Event::FileWritten {
            repo: repo.into(),
            path: path.into(),
            sha256: "c".repeat(64),
            checksums_missing: false,
        };
        let removed = |repo: &str, path: &str| Event::Removed {
            repo: repo.into(),
            path: path.into(),
        };
        assert_eq!(
            *heard.lock().unwrap(),
            [
                written("r", "d/f.txt"),
                written("s", "copied/f.txt"),
                removed("r", "d"),
                removed("r", "d/f.txt"),
                written("s", "moved/f.txt"),
                removed("s", "copied"),
                removed("s", "copied/f.txt"),
                Event::RepoDeleted { key: "s".into() },
            ]
        );
    }
}
