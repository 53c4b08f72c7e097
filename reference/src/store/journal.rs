//! Durability for `--data-dir`: an append-only journal of checksummed [`Mutation`] records plus a
//! snapshot of the whole [`State`].
//!
//! Journal format 2 and 3: a 16-byte header (`JCRJ`, the format as `u32` LE, the generation as `u64`
//! LE), then records `u32 length (LE) | u32 crc32 of the payload (LE) | JSON payload`; format 1 had an
//! 8-byte header without the generation, format 0 (before versions) none. The snapshot is
//! `state.json`, whose first fields are `"format"` and `"generation"` (neither in format 0, no
//! generation in format 1). Up to format 2 it is one JSON document; from format 3 a line with the
//! state but the repositories' items, then per repository a line with its key and configuration and
//! its items in lines of at most 20,000, which a start parses on every core, reading the file
//! through a memory map. On replay a torn or corrupt tail record (a crash mid-append) is discarded
//! and the file is cut back to the last good record. At start-up and shutdown (and when the journal
//! grows large) the state is compacted into the snapshot, unless the journal holds nothing new: written to a temp file with the next
//! generation, fsynced, renamed, directory fsynced, then the journal starts empty with a header of
//! that generation. A journal of an older generation than the snapshot is one a compaction had
//! already folded in when it was interrupted, so its records are not applied again (records are
//! path-based: a move then a deploy at the old path would not survive a second application). A newer
//! format than this version reads stops the start instead of being misread.
//!
//! Secrets in records and in the snapshot are [`super::Secret`]s: serialised only here, sealed
//! under the master key while key encryption is active.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::secret;
use super::sym::Key;
use super::tree::{FileData, Item, Mutation, State, Stats};
use crate::auth::crypto::Cipher;

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    file: File,
    /// The generation of the snapshot these records follow.
    generation: u64,
    /// Tests: stop a compaction after this step, as a crash would (see [`Journal::compact`]).
    #[cfg(test)]
    crash_after: Option<u32>,
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

/// The format this version writes (and the newest it reads). Format 3 changed only the snapshot:
/// its items are in sections a start reads in parallel (see [`write_sections`]).
pub const FORMAT: u32 = 3;
/// Items per section of a format-3 snapshot.
const SECTION_ITEMS: usize = 20_000;
/// The journal header's magic bytes.
const MAGIC: &[u8; 4] = b"JCRJ";
/// The length of this format's header: magic, format, generation.
const HEADER_LEN: u64 = 16;

/// A format newer than this version reads.
fn too_new(what: &str, format: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the {what} is in format {format}, newer than this version reads ({FORMAT}); start the version that wrote it"),
    )
}

/// The number a snapshot's leading field `"<name>":` holds, and what follows it (`None`: the
/// snapshot does not start with that field).
fn leading_number<'a>(bytes: &'a [u8], name: &str) -> Option<(u64, &'a [u8])> {
    let rest = bytes.strip_prefix(format!("\"{name}\":").as_bytes())?;
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = std::str::from_utf8(&rest[..n])
        .ok()?
        .parse()
        .unwrap_or(u64::MAX);
    Some((value, &rest[n..]))
}

/// The format of a snapshot: the `"format"` field it starts with, or 0.
fn snapshot_format(bytes: &[u8]) -> u32 {
    let Some(body) = bytes.strip_prefix(b"{") else {
        return 0;
    };
    leading_number(body, "format").map_or(0, |(f, _)| u32::try_from(f).unwrap_or(u32::MAX))
}

/// The generation of a snapshot: the `"generation"` field after its format, or 0 (formats 0 and 1).
fn snapshot_generation(bytes: &[u8]) -> u64 {
    bytes
        .strip_prefix(b"{")
        .and_then(|b| leading_number(b, "format"))
        .and_then(|(_, rest)| rest.strip_prefix(b","))
        .and_then(|b| leading_number(b, "generation"))
        .map_or(0, |(g, _)| g)
}

impl Journal {
    /// Loads the snapshot and replays the journal in `dir`, then compacts. Returns the journal and the
    /// recovered state (`None` when the directory held no state yet).
    pub fn open(dir: &Path, cipher: Option<Cipher>) -> io::Result<(Journal, Option<State>)> {
        super::private::dir(dir)?;
        let snap_path = dir.join(SNAPSHOT);
        super::private::narrow(&snap_path)?;
        super::private::narrow(&dir.join(JOURNAL))?;
        let mut snap_generation = 0;
        let mut state: Option<State> = if snap_path.exists() {
            let started = std::time::Instant::now();
            let file = File::open(&snap_path)?;
            // SAFETY: the snapshot is this process's own file in its private data directory
            // (0700); it is only ever replaced by a rename, never written in place, so the mapped
            // bytes do not change while they are read.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            let bytes: &[u8] = &map;
            let read = started.elapsed();
            let format = snapshot_format(bytes);
            if format > FORMAT {
                return Err(too_new("snapshot", format));
            }
            snap_generation = snapshot_generation(bytes);
            let mut s: State = if format >= 3 {
                read_sections(bytes, cipher.as_ref())?
            } else {
                secret::reading(cipher.as_ref(), || serde_json::from_slice(bytes))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            };
            let parsed = started.elapsed();
            s.reindex();
            tracing::info!(
                "snapshot of {} MiB: read in {:?}, parsed in {:?}, indexed in {:?}",
                bytes.len() >> 20,
                read,
                parsed - read,
                started.elapsed() - parsed
            );
            Some(s)
        } else {
            None
        };
        let jpath = dir.join(JOURNAL);
        let mut generation = snap_generation;
        // Nothing to fold in: a snapshot and, after it, a journal of its generation in this format
        // holding no record (the state a clean shutdown leaves). Rewriting the snapshot then would
        // cost a restart seconds at a million items and change nothing.
        let mut up_to_date = false;
        if jpath.exists() {
            let (journal_generation, records) = read_records(&jpath, cipher.as_ref())?;
            if journal_generation < snap_generation {
                // A compaction wrote the snapshot and stopped before emptying the journal: the
                // snapshot already holds these records.
                if !records.is_empty() {
                    tracing::info!(
                        "the snapshot (generation {snap_generation}) already holds the {} records of the journal of generation {journal_generation}",
                        records.len()
                    );
                }
            } else if records.is_empty() {
                up_to_date = state.is_some()
                    && journal_generation == snap_generation
                    && std::fs::metadata(&jpath)?.len() == HEADER_LEN;
            } else {
                generation = journal_generation;
                let s = state.get_or_insert_with(State::default);
                for m in records {
                    // A record was only written after it applied cleanly, so it applies again.
                    if let Err(e) = s.apply(&m) {
                        tracing::warn!("journal record did not re-apply: {e:?}");
                    }
                }
            }
        }
        #[cfg(test)]
        if !jpath.exists() {
            super::trace::record(super::trace::Op::Created(jpath.clone()));
        }
        let file = super::private::options()
            .create(true)
            .append(true)
            .open(&jpath)?;
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            file,
            generation,
            #[cfg(test)]
            crash_after: None,
            len: 0,
            compact_after: COMPACT_AFTER,
            cipher,
        };
        match &state {
            Some(_) if up_to_date => {}
            Some(s) => journal.compact(s)?,
            None => journal.restart()?,
        }
        Ok((journal, state))
    }

    /// Appends one record (not yet durable: fsync the handle of [`Journal::sync_handle`]).
    pub fn append(&mut self, m: &Mutation) -> io::Result<()> {
        let payload = secret::writing(self.cipher.as_ref(), || serde_json::to_vec(m))
            .map_err(io::Error::other)?;
        // The length field is 32 bits: a record that would not fit is refused, not wrapped.
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::other("a journal record of 4 GiB or more"))?;
        let mut rec = Vec::with_capacity(payload.len() + 8);
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        rec.extend_from_slice(&payload);
        self.file.write_all(&rec)?;
        self.len += rec.len() as u64;
        #[cfg(test)]
        super::trace::record(super::trace::Op::Append {
            journal: self.dir.join(JOURNAL),
            blobs: super::trace::blobs_of(m),
        });
        Ok(())
    }

    /// Whether nothing was appended since the last compaction (the snapshot holds everything).
    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    /// Writes a snapshot of `state` (the next generation) and empties the journal. Each step is
    /// safe to be the last before a crash: until the rename the old snapshot and journal stand;
    /// after it the journal's older generation tells the next start not to apply it again.
    pub fn compact(&mut self, state: &State) -> io::Result<()> {
        let next = self.generation + 1;
        let tmp = self.dir.join(format!("{SNAPSHOT}.tmp"));
        {
            let file = super::private::options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            let mut f = io::BufWriter::new(file);
            let no_repos = indexmap::IndexMap::new();
            let view = SnapshotView {
                format: FORMAT,
                generation: next,
                repos: &no_repos,
                filled: &state.filled,
                archives: &state.archives,
                url_base: &state.url_base,
                reverse_proxy: &state.reverse_proxy,
                general: &state.general,
                api_keys: &state.api_keys,
                security: &state.security,
            };
            secret::writing(self.cipher.as_ref(), || {
                serde_json::to_writer(&mut f, &view)?;
                write_sections(&mut f, state)
            })
            .map_err(io::Error::other)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
        }
        self.crash_point(1)?;
        std::fs::rename(&tmp, self.dir.join(SNAPSHOT))?;
        self.crash_point(2)?;
        File::open(&self.dir)?.sync_all()?;
        self.crash_point(3)?;
        self.generation = next;
        self.restart()
    }

    /// Empties the journal and writes its header (the current generation).
    fn restart(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.crash_point(4)?;
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&FORMAT.to_le_bytes());
        header.extend_from_slice(&self.generation.to_le_bytes());
        self.file.write_all(&header)?;
        self.crash_point(5)?;
        self.len = 0;
        self.file.sync_all()
    }

    /// Tests: fail here, as a crash would, when this is the step asked for.
    #[cfg(test)]
    fn crash_point(&self, step: u32) -> io::Result<()> {
        if self.crash_after == Some(step) {
            return Err(io::Error::other(format!(
                "crash after compaction step {step}"
            )));
        }
        Ok(())
    }

    #[cfg(not(test))]
    fn crash_point(&self, _step: u32) -> io::Result<()> {
        Ok(())
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
    generation: u64,
    repos: &'a indexmap::IndexMap<String, super::tree::Repo>,
    filled: &'a std::collections::HashMap<String, [String; 2]>,
    archives: &'a std::collections::HashMap<String, Vec<String>>,
    url_base: &'a str,
    reverse_proxy: &'a Option<crate::system::reverse_proxy::ReverseProxy>,
    general: &'a crate::system::descriptor::General,
    api_keys: &'a std::collections::BTreeMap<String, super::Secret>,
    security: &'a crate::auth::model::Security,
}

/// A repository's line in a format-3 snapshot.
#[derive(serde::Serialize, serde::Deserialize)]
struct RepoHead<C> {
    key: String,
    config: C,
}

/// A section of a repository's items (in path order) in a format-3 snapshot: a JSON array of
/// items, each an array (no field names to write and match: a start at a million items parses half
/// the bytes): `[path, created, created_by, modified, modified_by, updated, props, file, stats]`, the
/// file `[size, sha1, md5, sha256, mime, original]` or `null`, `original` and `stats` objects or
/// `null` (as in journal records).
struct SectionOut<'a>(&'a [(&'a Key, &'a Item)]);

impl serde::Serialize for SectionOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(k, i)| ItemRow(k, i)))
    }
}

struct ItemRow<'a>(&'a Key, &'a Item);

impl serde::Serialize for ItemRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let (k, i) = (self.0, self.1);
        let mut t = s.serialize_tuple(9)?;
        t.serialize_element(k)?;
        t.serialize_element(&i.created)?;
        t.serialize_element(&i.created_by)?;
        t.serialize_element(&i.modified)?;
        t.serialize_element(&i.modified_by)?;
        t.serialize_element(&i.updated)?;
        t.serialize_element(&i.props)?;
        t.serialize_element(&i.file.as_deref().map(FileRow))?;
        t.serialize_element(&i.file.as_deref().and_then(|f| f.stats.as_deref()))?;
        t.end()
    }
}

struct FileRow<'a>(&'a FileData);

impl serde::Serialize for FileRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let f = self.0;
        let mut t = s.serialize_tuple(6)?;
        t.serialize_element(&f.size)?;
        t.serialize_element(&f.sha1)?;
        t.serialize_element(&f.md5)?;
        t.serialize_element(&f.sha256)?;
        t.serialize_element(&f.mime)?;
        t.serialize_element(&f.original.as_deref())?;
        t.end()
    }
}

/// The next element of a row, or the row's length error.
fn element<'de, T: serde::Deserialize<'de>, A: serde::de::SeqAccess<'de>>(
    a: &mut A,
    at: usize,
) -> Result<T, A::Error> {
    a.next_element()?
        .ok_or_else(|| serde::de::Error::invalid_length(at, &"a complete row"))
}

struct SectionIn(Vec<(Key, Item)>);

impl<'de> serde::Deserialize<'de> for SectionIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SectionIn, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SectionIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of item rows")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<SectionIn, A::Error> {
                let mut all = Vec::with_capacity(a.size_hint().unwrap_or(SECTION_ITEMS));
                while let Some(ItemRowIn(k, i)) = a.next_element()? {
                    all.push((k, i));
                }
                Ok(SectionIn(all))
            }
        }
        d.deserialize_seq(V)
    }
}

struct ItemRowIn(Key, Item);

impl<'de> serde::Deserialize<'de> for ItemRowIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ItemRowIn, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ItemRowIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an item row")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<ItemRowIn, A::Error> {
                let key: Key = element(&mut a, 0)?;
                let created = element(&mut a, 1)?;
                let created_by = element(&mut a, 2)?;
                let modified = element(&mut a, 3)?;
                let modified_by = element(&mut a, 4)?;
                let updated = element(&mut a, 5)?;
                let props = element(&mut a, 6)?;
                let file: Option<FileRowIn> = element(&mut a, 7)?;
                let stats: Option<Stats> = element(&mut a, 8)?;
                let file = file.map(|FileRowIn(mut f)| {
                    // As journal records are read: no statistics before a first download.
                    f.stats = stats.filter(|s| s.downloads > 0).map(Box::new);
                    Box::new(f)
                });
                Ok(ItemRowIn(
                    key,
                    Item {
                        created,
                        created_by,
                        modified,
                        modified_by,
                        updated,
                        props,
                        file,
                        id: 0,
                    },
                ))
            }
        }
        d.deserialize_seq(V)
    }
}

struct FileRowIn(FileData);

impl<'de> serde::Deserialize<'de> for FileRowIn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FileRowIn, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FileRowIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a file row")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<FileRowIn, A::Error> {
                let size = element(&mut a, 0)?;
                let sha1 = element(&mut a, 1)?;
                let md5 = element(&mut a, 2)?;
                let sha256 = element(&mut a, 3)?;
                let mime = element(&mut a, 4)?;
                let original: Option<super::tree::Original> = element(&mut a, 5)?;
                Ok(FileRowIn(FileData {
                    size,
                    sha1,
                    md5,
                    sha256,
                    original: original
                        .filter(|o| o.sha1.is_some() || o.md5.is_some() || o.sha256.is_some())
                        .map(Box::new),
                    mime,
                    stats: None,
                }))
            }
        }
        d.deserialize_seq(V)
    }
}

/// After the header line (the state without items): for each repository a line with its key and
/// configuration, then its items in lines of at most [`SECTION_ITEMS`]. Lines are compact JSON, so
/// a newline only ever ends one; a start reads the sections on every core.
fn write_sections(f: &mut impl Write, state: &State) -> serde_json::Result<()> {
    for (key, repo) in &state.repos {
        f.write_all(b"\n").map_err(serde_json::Error::io)?;
        serde_json::to_writer(
            &mut *f,
            &RepoHead {
                key: key.clone(),
                config: &repo.config,
            },
        )?;
        let mut items = repo.items.iter().peekable();
        while items.peek().is_some() {
            let section: Vec<_> = items.by_ref().take(SECTION_ITEMS).collect();
            f.write_all(b"\n").map_err(serde_json::Error::io)?;
            serde_json::to_writer(&mut *f, &SectionOut(&section))?;
        }
    }
    f.write_all(b"\n").map_err(serde_json::Error::io)
}

/// Reads a format-3 snapshot: the header and the repository lines here (they may hold sealed
/// secrets), the item sections on every core, each repository's tree then built in one go.
fn read_sections(bytes: &[u8], cipher: Option<&Cipher>) -> io::Result<State> {
    let bad = |e: serde_json::Error| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let header = lines.next().unwrap_or_default();
    let mut state: State =
        secret::reading(cipher, || serde_json::from_slice(header)).map_err(bad)?;
    let mut heads: Vec<RepoHead<crate::config::RepoConfig>> = Vec::new();
    let mut sections: Vec<(usize, &[u8])> = Vec::new();
    for line in lines {
        if line.starts_with(b"{\"key\"") {
            heads.push(secret::reading(cipher, || serde_json::from_slice(line)).map_err(bad)?);
        } else if heads.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a section of items before any repository",
            ));
        } else {
            sections.push((heads.len() - 1, line));
        }
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, sections.len().max(1));
    // Each worker takes every n-th section: sections are of equal size but the last of each
    // repository.
    let parsed: Vec<Vec<(usize, SectionIn)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let sections = &sections;
                scope.spawn(move || {
                    sections
                        .iter()
                        .enumerate()
                        .skip(w)
                        .step_by(workers)
                        .map(|(i, (_, line))| serde_json::from_slice(line).map(|s| (i, s)))
                        .collect::<serde_json::Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<serde_json::Result<Vec<_>>>()
    })
    .map_err(bad)?;
    let mut by_index: Vec<Option<SectionIn>> = (0..sections.len()).map(|_| None).collect();
    for (i, section) in parsed.into_iter().flatten() {
        by_index[i] = Some(section);
    }
    let mut items: Vec<Vec<(Key, Item)>> = heads.iter().map(|_| Vec::new()).collect();
    for ((repo, _), section) in sections.iter().zip(by_index) {
        items[*repo].extend(section.map(|s| s.0).unwrap_or_default());
    }
    state.repos = heads
        .into_iter()
        .zip(items)
        .map(|(head, items)| {
            // `collect` sorts (already sorted: a no-op pass) and bulk-builds full nodes.
            let repo = super::tree::Repo {
                config: head.config,
                items: items.into_iter().collect(),
            };
            (head.key, repo)
        })
        .collect();
    Ok(state)
}

/// Reads every intact record; truncates the file at the first torn or corrupt one. An intact
/// record this version cannot decode (written by a newer server) stops the start with an error
/// instead: cutting it off would lose every acknowledged write after it.
fn read_records(path: &Path, cipher: Option<&Cipher>) -> io::Result<(u64, Vec<Mutation>)> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let mut out = Vec::new();
    // Format 1 and later start with a header (format 2 with the generation); format 0 with the
    // first record.
    let mut pos = 0usize;
    let mut generation = 0;
    if bytes.len() >= 8 && &bytes[..4] == MAGIC {
        let format = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
        if format > FORMAT {
            return Err(too_new("journal", format));
        }
        pos = 8;
        if format >= 2 {
            let Some(g) = bytes.get(8..16) else {
                // A header torn before its generation: nothing was appended after it.
                return Ok((0, out));
            };
            generation = u64::from_le_bytes(g.try_into().expect("8 bytes"));
            pos = 16;
        }
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
    Ok((generation, out))
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
        // Compacted: the journal is its header alone (format 3, generation 1: the first
        // compaction) and the snapshot holds the state.
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"JCRJ\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
        );
        let (_j, s) = Journal::open(dir.path(), None).unwrap();
        assert!(s.unwrap().repo("one").is_some());
    }

    #[test]
    fn a_start_with_nothing_new_leaves_the_snapshot_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut j, _) = Journal::open(dir.path(), None).unwrap();
            j.append(&create("one")).unwrap();
        }
        let snap = dir.path().join(SNAPSHOT);
        let generation = |d: &Path| snapshot_generation(&std::fs::read(d.join(SNAPSHOT)).unwrap());
        // The next start folds the record in: the first snapshot, generation 1.
        let (j, s) = Journal::open(dir.path(), None).unwrap();
        assert!(s.unwrap().repo("one").is_some());
        assert!(j.is_empty());
        drop(j);
        assert_eq!(generation(dir.path()), 1);
        let written = std::fs::metadata(&snap).unwrap().modified().unwrap();
        // Starts with nothing new read it and rewrite nothing.
        for _ in 0..2 {
            let (j, s) = Journal::open(dir.path(), None).unwrap();
            assert!(s.unwrap().repo("one").is_some());
            assert!(j.is_empty());
        }
        assert_eq!(generation(dir.path()), 1);
        assert_eq!(
            std::fs::metadata(&snap).unwrap().modified().unwrap(),
            written
        );
        // A record appended after such a start is replayed and folded in by the next.
        {
            let (mut j, _) = Journal::open(dir.path(), None).unwrap();
            j.append(&create("two")).unwrap();
            assert!(!j.is_empty());
        }
        let (_j, s) = Journal::open(dir.path(), None).unwrap();
        let s = s.unwrap();
        assert!(s.repo("one").is_some() && s.repo("two").is_some());
        assert_eq!(generation(dir.path()), 2);
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
            snap.starts_with(b"{\"format\":3,\"generation\":1,"),
            "{}",
            String::from_utf8_lossy(&snap)
        );
        assert_eq!(snapshot_format(&snap), FORMAT);
        assert_eq!(snapshot_generation(&snap), 1);
        // A journal from the future.
        let path = dir.path().join(JOURNAL);
        std::fs::write(&path, b"JCRJ\x04\x00\x00\x00").unwrap();
        let err = Journal::open(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("journal is in format 4"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"JCRJ\x04\x00\x00\x00");
        // A snapshot from the future.
        std::fs::write(&path, b"").unwrap();
        let future =
            String::from_utf8(snap)
                .unwrap()
                .replacen("{\"format\":3,", "{\"format\":7,", 1);
        std::fs::write(dir.path().join(SNAPSHOT), &future).unwrap();
        let err = Journal::open(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("snapshot is in format 7"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SNAPSHOT)).unwrap(),
            future
        );
    }

    /// A format-3 snapshot holds each repository's items in sections read in parallel: more items
    /// than one section, in two repositories, come back whole and in order; a format-2 snapshot
    /// (one JSON document) still loads.
    #[test]
    fn sectioned_snapshots_round_trip_and_older_ones_load() {
        let dir = tempfile::tempdir().unwrap();
        let n = SECTION_ITEMS + SECTION_ITEMS / 2;
        {
            let (mut j, _) = Journal::open(dir.path(), None).unwrap();
            j.append(&create("r")).unwrap();
            j.append(&create("other")).unwrap();
            for i in 0..n {
                j.append(&put(&format!("d/f{i:06}"), 'a')).unwrap();
            }
        }
        let (_j, s) = Journal::open(dir.path(), None).unwrap();
        let s = s.unwrap();
        let snap = std::fs::read(dir.path().join(SNAPSHOT)).unwrap();
        // Header, two repository lines, two sections of r's items (with its folders), one of
        // other's (its root folder).
        assert_eq!(
            snap.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            6
        );
        let r = s.repo("r").unwrap();
        assert_eq!(r.items.len(), n + 2, "the files, d/ and the root");
        let keys: Vec<&str> = r.items.keys().map(|k| k.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert!(s.repo("other").is_some());
        assert_eq!(s.repos.keys().collect::<Vec<_>>(), ["r", "other"]);
        // The same state written as one document (format 2) reads the same.
        let mut whole = serde_json::to_value(&s.repos).unwrap();
        let mut doc = serde_json::json!({"format": 2, "generation": 1});
        doc["repos"] = whole.take();
        std::fs::write(dir.path().join(SNAPSHOT), doc.to_string()).unwrap();
        std::fs::write(
            dir.path().join(JOURNAL),
            b"JCRJ\x02\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00",
        )
        .unwrap();
        let (_j, old) = Journal::open(dir.path(), None).unwrap();
        let old = old.unwrap();
        assert_eq!(old.repo("r").unwrap().items.len(), n + 2);
        assert_eq!(
            old.repo("r").unwrap().items.keys().collect::<Vec<_>>(),
            r.items.keys().collect::<Vec<_>>()
        );
    }

    fn put(path: &str, content: char) -> Mutation {
        let hex = |n: usize| content.to_string().repeat(n);
        Mutation::PutFile {
            repo: "r".into(),
            path: path.into(),
            file: crate::store::FileData {
                size: 1,
                sha1: hex(40).into(),
                md5: hex(32).into(),
                sha256: hex(64).into(),
                original: None,
                mime: "application/octet-stream".into(),
                stats: None,
            },
            props: Default::default(),
            now: 1,
            user: "admin".into(),
            stamp: Default::default(),
        }
    }

    fn content(s: &State, path: &str) -> Option<String> {
        let f = s.item("r", path)?.file.as_ref()?;
        Some(f.sha1.hex().to_string()[..1].to_string())
    }

    /// A crash at any step of a compaction loses nothing and applies nothing twice: after
    /// `deploy a=X`, a restart, `move a->b` and `deploy a=Y`, a compaction stopped after each of its
    /// steps leaves a directory that reopens to exactly a=Y, b=X (applying the journal again after
    /// the snapshot had folded it in would move the new a over b).
    #[test]
    fn a_crash_at_any_step_of_a_compaction_replays_nothing_twice() {
        for step in 1..=5 {
            let dir = tempfile::tempdir().unwrap();
            {
                let (mut j, _) = Journal::open(dir.path(), None).unwrap();
                j.append(&create("r")).unwrap();
                j.append(&put("a", 'a')).unwrap();
            }
            let (mut j, s) = Journal::open(dir.path(), None).unwrap();
            let mut s = s.unwrap();
            for m in [
                Mutation::Transfer {
                    src_repo: "r".into(),
                    src_path: "a".into(),
                    dst_repo: "r".into(),
                    dst_path: "b".into(),
                    mv: true,
                    now: 2,
                    user: "admin".into(),
                },
                put("a", 'c'),
            ] {
                s.apply(&m).unwrap();
                j.append(&m).unwrap();
            }
            j.file.sync_all().unwrap();
            j.crash_after = Some(step);
            let err = j.compact(&s).unwrap_err();
            assert!(err.to_string().contains(&format!("step {step}")), "{err}");
            drop(j);
            let (_j, back) = Journal::open(dir.path(), None).unwrap();
            let back = back.unwrap();
            assert_eq!(
                (content(&back, "a"), content(&back, "b")),
                (Some("c".into()), Some("a".into())),
                "after a crash at step {step}"
            );
        }
    }
}
