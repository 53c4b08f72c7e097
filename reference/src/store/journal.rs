//! Durability for `--data-dir`: an append-only journal of checksummed [`Mutation`] records plus a
//! snapshot of the whole [`State`].
//!
//! Journal format 1: an 8-byte header (`JCRJ` and the format as `u32` LE), then records
//! `u32 length (LE) | u32 crc32 of the payload (LE) | JSON payload`; format 0 (before versions) is the
//! same records with no header. The snapshot is `state.json`, whose first field is `"format"` (none in
//! format 0). On replay a torn or corrupt tail record (a crash mid-append) is discarded and the file is
//! cut back to the last good record. At start-up and shutdown the state is compacted into the snapshot
//! (written to a temp file, fsynced, renamed, directory fsynced) and the journal starts empty, with its
//! header. A newer format than this version reads stops the start instead of being misread.
//!
//! Secrets in records and in the snapshot are [`super::Secret`]s: serialised only here, sealed
//! under the master key while key encryption is active.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::secret;
use super::tree::{Mutation, State};
use crate::auth::crypto::Cipher;

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    /// Bytes appended since the last compaction.
    len: u64,
    /// Compact once the journal grows past this many bytes.
    compact_after: u64,
    /// Seals secrets at rest while key encryption is active.
    cipher: Option<Cipher>,
}

/// Default journal size that triggers a compaction.
pub const COMPACT_AFTER: u64 = 64 << 20;

const SNAPSHOT: &str = "state.json";
const JOURNAL: &str = "journal.log";

/// The format this version writes (and the newest it reads).
pub const FORMAT: u32 = 1;
/// The journal header's magic bytes.
const MAGIC: &[u8; 4] = b"JCRJ";

/// A format newer than this version reads.
fn too_new(what: &str, format: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the {what} is in format {format}, newer than this version reads ({FORMAT}); start the version that wrote it"),
    )
}

/// The format of a snapshot: the `"format"` field it starts with, or 0.
fn snapshot_format(bytes: &[u8]) -> u32 {
    let Some(rest) = bytes.strip_prefix(b"{\"format\":") else {
        return 0;
    };
    let digits: Vec<u8> = rest
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(u32::MAX)
}

impl Journal {
    /// Loads the snapshot and replays the journal in `dir`, then compacts. Returns the journal and the
    /// recovered state (`None` when the directory held no state yet).
    pub fn open(dir: &Path, cipher: Option<Cipher>) -> io::Result<(Journal, Option<State>)> {
        std::fs::create_dir_all(dir)?;
        let snap_path = dir.join(SNAPSHOT);
        let mut state: Option<State> = if snap_path.exists() {
            let bytes = std::fs::read(&snap_path)?;
            let format = snapshot_format(&bytes);
            if format > FORMAT {
                return Err(too_new("snapshot", format));
            }
            let mut s: State = secret::reading(cipher.as_ref(), || serde_json::from_slice(&bytes))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            s.reindex();
            Some(s)
        } else {
            None
        };
        let jpath = dir.join(JOURNAL);
        if jpath.exists() {
            let records = read_records(&jpath, cipher.as_ref())?;
            if !records.is_empty() {
                let s = state.get_or_insert_with(State::default);
                for m in records {
                    // A record was only written after it applied cleanly, so it applies again.
                    if let Err(e) = s.apply(&m) {
                        tracing::warn!("journal record did not re-apply: {e:?}");
                    }
                }
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(&jpath)?;
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            file,
            len: 0,
            compact_after: COMPACT_AFTER,
            cipher,
        };
        match &state {
            Some(s) => journal.compact(s)?,
            None => journal.restart()?,
        }
        Ok((journal, state))
    }

    /// Appends one record (not yet durable: fsync the handle of [`Journal::sync_handle`]).
    pub fn append(&mut self, m: &Mutation) -> io::Result<()> {
        let payload = secret::writing(self.cipher.as_ref(), || serde_json::to_vec(m))
            .map_err(io::Error::other)?;
        let mut rec = Vec::with_capacity(payload.len() + 8);
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        rec.extend_from_slice(&payload);
        self.file.write_all(&rec)?;
        self.len += rec.len() as u64;
        Ok(())
    }

    /// Whether the journal has grown enough to be compacted.
    pub fn wants_compaction(&self) -> bool {
        self.len >= self.compact_after
    }

    /// Sets the size that triggers a compaction (tests use a small one).
    #[cfg(test)]
    pub fn set_compact_after(&mut self, bytes: u64) {
        self.compact_after = bytes;
    }

    /// A handle to fsync the journal without holding the state lock.
    pub fn sync_handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Writes a snapshot of `state` and empties the journal.
    pub fn compact(&mut self, state: &State) -> io::Result<()> {
        let tmp = self.dir.join(format!("{SNAPSHOT}.tmp"));
        {
            let mut f = io::BufWriter::new(File::create(&tmp)?);
            let view = SnapshotView {
                format: FORMAT,
                repos: &state.repos,
                filled: &state.filled,
                archives: &state.archives,
                api_keys: &state.api_keys,
                security: &state.security,
            };
            secret::writing(self.cipher.as_ref(), || {
                serde_json::to_writer(&mut f, &view)
            })
            .map_err(io::Error::other)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join(SNAPSHOT))?;
        File::open(&self.dir)?.sync_all()?;
        self.restart()
    }

    /// Empties the journal and writes its header.
    fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&FORMAT.to_le_bytes());
        self.file.write_all(&header)?;
        self.len = 0;
        self.file.sync_all()
    }

    /// Starts or stops sealing secrets, and rewrites the snapshot so nothing on disk is in the old form.
    pub fn set_cipher(&mut self, cipher: Option<Cipher>, state: &State) -> io::Result<()> {
        self.cipher = cipher;
        self.compact(state)
    }
}

/// The snapshot as written: the format, then the state's persistent fields (named as [`State`]'s,
/// which ignores the format when read).
#[derive(serde::Serialize)]
struct SnapshotView<'a> {
    format: u32,
    repos: &'a indexmap::IndexMap<String, super::tree::Repo>,
    filled: &'a std::collections::HashMap<String, [String; 2]>,
    archives: &'a std::collections::HashMap<String, Vec<String>>,
    api_keys: &'a std::collections::BTreeMap<String, super::Secret>,
    security: &'a crate::auth::model::Security,
}

/// Reads every intact record; truncates the file at the first torn or corrupt one. An intact
/// record this version cannot decode (written by a newer server) stops the start with an error
/// instead: cutting it off would lose every acknowledged write after it.
fn read_records(path: &Path, cipher: Option<&Cipher>) -> io::Result<Vec<Mutation>> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let mut out = Vec::new();
    // Format 1 and later start with a header; format 0 with the first record.
    let mut pos = 0usize;
    if bytes.len() >= 8 && &bytes[..4] == MAGIC {
        let format = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
        if format > FORMAT {
            return Err(too_new("journal", format));
        }
        pos = 8;
    }
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().expect("4 bytes"));
        let Some(payload) = bytes.get(pos + 8..pos + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        match secret::reading(cipher, || serde_json::from_slice::<Mutation>(payload)) {
            Ok(m) => out.push(m),
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "journal record at byte {pos} of {} is intact but cannot be read by this version ({e}); start the version that wrote it",
                        path.display()
                    ),
                ))
            }
        }
        pos += 8 + len;
    }
    if pos < bytes.len() {
        tracing::warn!(
            "discarding {} bytes of torn journal tail",
            bytes.len() - pos
        );
        f.set_len(pos as u64)?;
        f.seek(SeekFrom::End(0))?;
        f.sync_all()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PackageType, RepoClass, RepoConfig};

    fn create(key: &str) -> Mutation {
        Mutation::CreateRepo {
            config: RepoConfig::new(key, RepoClass::Local, PackageType::Generic),
            now: 1,
            user: "admin".into(),
        }
    }

    #[test]
    fn replay_discards_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, s) = Journal::open(dir.path(), None).unwrap();
            assert!(s.is_none());
            j.append(&create("one")).unwrap();
            j.append(&create("two")).unwrap();
        }
        // Tear the last record in half.
        let path = dir.path().join(JOURNAL);
        let len = std::fs::metadata(&path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(len - 5).unwrap();
        let (_j, s) = Journal::open(dir.path(), None).unwrap();
        let s = s.unwrap();
        assert!(s.repo("one").is_some());
        assert!(s.repo("two").is_none());
        // Compacted: the journal is its header alone and the snapshot holds the state.
        assert_eq!(std::fs::read(&path).unwrap(), b"JCRJ\x01\x00\x00\x00");
        let (_j, s) = Journal::open(dir.path(), None).unwrap();
        assert!(s.unwrap().repo("one").is_some());
    }

    #[test]
    fn corrupt_record_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, _) = Journal::open(dir.path(), None).unwrap();
            j.append(&create("one")).unwrap();
        }
        let path = dir.path().join(JOURNAL);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0x55;
        std::fs::write(&path, bytes).unwrap();
        let (_j, s) = Journal::open(dir.path(), None).unwrap();
        assert!(s.unwrap_or_default().repo("one").is_none());
    }

    /// A record that is intact but unknown to this version (a newer server wrote it) stops the
    /// start and is kept, with everything after it: nothing acknowledged is cut off.
    #[test]
    fn an_intact_record_this_version_cannot_read_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, _) = Journal::open(dir.path(), None).unwrap();
            j.append(&create("one")).unwrap();
        }
        let path = dir.path().join(JOURNAL);
        let mut bytes = std::fs::read(&path).unwrap();
        let future = br#"{"op":"from_the_future"}"#;
        bytes.extend((future.len() as u32).to_le_bytes());
        bytes.extend(crc32fast::hash(future).to_le_bytes());
        bytes.extend(future);
        std::fs::write(&path, &bytes).unwrap();
        let Err(err) = Journal::open(dir.path(), None) else {
            panic!("an unreadable record must stop the start")
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string().contains("cannot be read by this version"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was cut off");
    }

    /// Both files say their format, and one newer than this version reads stops the start
    /// (nothing is cut or rewritten).
    #[test]
    fn formats_are_written_and_newer_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, _) = Journal::open(dir.path(), None).unwrap();
            j.append(&create("one")).unwrap();
        }
        let (_j, s) = Journal::open(dir.path(), None).unwrap();
        assert!(s.unwrap().repo("one").is_some());
        let snap = std::fs::read(dir.path().join(SNAPSHOT)).unwrap();
        assert!(
            snap.starts_with(b"{\"format\":1,"),
            "{}",
            String::from_utf8_lossy(&snap)
        );
        assert_eq!(snapshot_format(&snap), FORMAT);
        // A journal from the future.
        let path = dir.path().join(JOURNAL);
        std::fs::write(&path, b"JCRJ\x02\x00\x00\x00").unwrap();
        let err = Journal::open(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("journal is in format 2"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"JCRJ\x02\x00\x00\x00");
        // A snapshot from the future.
        std::fs::write(&path, b"").unwrap();
        let future =
            String::from_utf8(snap)
                .unwrap()
                .replacen("{\"format\":1,", "{\"format\":7,", 1);
        std::fs::write(dir.path().join(SNAPSHOT), &future).unwrap();
        let err = Journal::open(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("snapshot is in format 7"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SNAPSHOT)).unwrap(),
            future
        );
    }
}
