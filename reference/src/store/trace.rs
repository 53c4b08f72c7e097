//! Tests only: what the store asked of the disk, in order, and what of it a power loss at any
//! moment would have kept. The blob store and the journal record each write that becomes durable
//! only through a later sync (a file's content, a directory entry, a journal record) and each
//! sync; [`check_power_loss`] replays every prefix of such a trace under the rules of a POSIX file
//! system (content is durable after the file's fsync, an entry after its directory's fsync, a
//! journal record after the journal's fsync; `syncfs` makes everything durable) and finds any
//! moment at which a durable journal record names a blob whose content or entry is not.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One request to the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// The file at this path had its content fsynced.
    SyncFile(PathBuf),
    /// A file or directory was created (its entry is in its parent).
    Created(PathBuf),
    /// A file was renamed (the new entry is in `to`'s directory).
    Rename { from: PathBuf, to: PathBuf },
    /// A directory was fsynced: the entries made in it so far are durable.
    SyncDir(PathBuf),
    /// The whole file system holding this path was synced.
    SyncFs(PathBuf),
    /// A journal record naming these blobs (SHA-256) was appended.
    Append {
        journal: PathBuf,
        blobs: Vec<String>,
    },
    /// The journal was fsynced.
    SyncJournal(PathBuf),
}

impl Op {
    fn path(&self) -> &Path {
        match self {
            Op::SyncFile(p)
            | Op::Created(p)
            | Op::SyncDir(p)
            | Op::SyncJournal(p)
            | Op::SyncFs(p) => p,
            Op::Rename { to, .. } => to,
            Op::Append { journal, .. } => journal,
        }
    }
}

/// The blobs a journal record names.
pub fn blobs_of(m: &super::Mutation) -> Vec<String> {
    match m {
        super::Mutation::PutFile { file, .. } => vec![file.sha256.to_string()],
        super::Mutation::Batch { steps } => steps.iter().flat_map(blobs_of).collect(),
        _ => Vec::new(),
    }
}

static OPS: Mutex<Vec<Op>> = Mutex::new(Vec::new());

/// Records `op` (tests run in parallel: each reads back the ops under its own directory).
pub fn record(op: Op) {
    OPS.lock().unwrap_or_else(|e| e.into_inner()).push(op);
}

/// The ops recorded so far under `root` and on the directories above it (the syncs that make
/// `root`'s own entry durable), in order. Ops are recorded once they returned.
pub fn under(root: &Path) -> Vec<Op> {
    OPS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|op| {
            op.path().starts_with(root)
                || root.starts_with(op.path()) && matches!(op, Op::SyncDir(_))
        })
        .cloned()
        .collect()
}

/// Replays every prefix of `ops` (a power loss right after each op) and returns the first moment
/// a durable journal record names a blob that would not be there whole. Paths that no op created
/// existed before the trace began and count as durable. `blob_path` maps a SHA-256 to its file.
pub fn check_power_loss(ops: &[Op], blob_path: impl Fn(&str) -> PathBuf) -> Result<(), String> {
    for end in 0..=ops.len() {
        let kept = Kept::after(&ops[..end]);
        for (i, op) in ops[..end].iter().enumerate() {
            let Op::Append { blobs, journal } = op else {
                continue;
            };
            if !kept.records.contains(&i) {
                continue;
            }
            if let Some(why) = kept.entry_missing(journal) {
                return Err(format!(
                    "a power loss after op {end} keeps journal record {i} but not the journal: {why}"
                ));
            }
            for b in blobs {
                let p = blob_path(b);
                if let Some(why) = kept.missing(&p) {
                    return Err(format!(
                        "a power loss after op {end} ({:?}) keeps journal record {i} but not blob {b}: {why}",
                        ops.get(end.wrapping_sub(1))
                    ));
                }
            }
        }
    }
    Ok(())
}

/// What survives a power loss after a prefix of the ops.
struct Kept {
    /// Entries made during the trace, and whether each is durable.
    entries: HashMap<PathBuf, bool>,
    /// For each renamed file, the path its content was written under, and whether that content was
    /// synced before the power loss.
    content: HashMap<PathBuf, bool>,
    /// Indexes of the durable journal records.
    records: HashSet<usize>,
}

impl Kept {
    fn after(ops: &[Op]) -> Kept {
        let mut entries: HashMap<PathBuf, bool> = HashMap::new();
        // File content by the path it was written under (a rename moves the file, not the state).
        let mut synced: HashSet<PathBuf> = HashSet::new();
        let mut origin: HashMap<PathBuf, PathBuf> = HashMap::new();
        let mut pending: Vec<usize> = Vec::new();
        let mut records = HashSet::new();
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::SyncFile(p) => {
                    synced.insert(origin.get(p).cloned().unwrap_or_else(|| p.clone()));
                }
                Op::Created(p) => {
                    entries.insert(p.clone(), false);
                }
                Op::Rename { from, to } => {
                    let first = origin.remove(from).unwrap_or_else(|| from.clone());
                    origin.insert(to.clone(), first);
                    entries.insert(to.clone(), false);
                }
                Op::SyncDir(d) => {
                    for (p, durable) in entries.iter_mut() {
                        if p.parent() == Some(d.as_path()) {
                            *durable = true;
                        }
                    }
                }
                Op::SyncFs(_) => {
                    entries.values_mut().for_each(|d| *d = true);
                    synced.extend(origin.values().cloned());
                    records.extend(pending.drain(..));
                }
                Op::Append { .. } => pending.push(i),
                Op::SyncJournal(_) => records.extend(pending.drain(..)),
            }
        }
        let content = origin
            .into_iter()
            .map(|(to, first)| (to, synced.contains(&first)))
            .collect();
        Kept {
            entries,
            content,
            records,
        }
    }

    /// Why the entry of `p` (or of a directory above it) would be lost, if it would.
    fn entry_missing(&self, p: &Path) -> Option<String> {
        p.ancestors()
            .find(|dir| self.entries.get(*dir) == Some(&false))
            .map(|dir| format!("the entry of {} is not durable", dir.display()))
    }

    /// Why the file at `p` would not be there whole, if it would not.
    fn missing(&self, p: &Path) -> Option<String> {
        if let Some(why) = self.entry_missing(p) {
            return Some(why);
        }
        if self.content.get(p) == Some(&false) {
            return Some(format!("the content of {} is not durable", p.display()));
        }
        None
    }
}
