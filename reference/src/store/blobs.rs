//! Content-addressed blob store: `<root>/blobs/sha256/ab/<hex>`.
//!
//! Uploads stream into a temporary file under `<root>/tmp` while md5, sha1 and sha256 are computed in the
//! same pass (md5, the slowest digest, on a thread of its own), and are published by an atomic rename. One
//! blob serves every path with the same content. Nothing in here knows about HTTP.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// The three digests and the size of some content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// Lower-case hex SHA-256; also the blob's address.
    pub sha256: String,
    /// Lower-case hex SHA-1.
    pub sha1: String,
    /// Lower-case hex MD5.
    pub md5: String,
    /// Size in bytes.
    pub size: u64,
}

/// Why an upload did not become a blob.
#[derive(Debug)]
pub enum IngestError {
    /// The client's body ended in an error (disconnect, truncated body).
    Body(String),
    /// The body was larger than the configured limit.
    TooLarge,
    /// Disk trouble.
    Io(io::Error),
}

impl From<io::Error> for IngestError {
    fn from(e: io::Error) -> Self {
        IngestError::Io(e)
    }
}

/// The on-disk blob store.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
    durable: bool,
    /// Deploys hold it shared from before their blob is written until their item is committed; garbage
    /// collection holds it exclusively, so it never removes a blob an in-flight deploy will reference.
    gate: Arc<tokio::sync::RwLock<()>>,
}

/// Held by a deploy until its item is committed (see [`BlobStore::pin`]).
pub type BlobPin = tokio::sync::OwnedRwLockReadGuard<()>;

/// Bytes per batch handed to the hashing and writing threads.
const CHUNK: usize = 256 * 1024;
/// Batches in flight per thread; bounds memory per upload to about `CHUNK * (DEPTH + 2)`.
const DEPTH: usize = 12;

impl BlobStore {
    /// Opens (creating) a store under `root`. With `durable`, files and directories are fsynced before an
    /// ingest returns. Leftover temporary files of interrupted uploads are removed.
    pub fn open(root: &Path, durable: bool) -> io::Result<BlobStore> {
        std::fs::create_dir_all(root.join("blobs").join("sha256"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        Ok(BlobStore {
            root: root.to_path_buf(),
            durable,
            gate: Arc::default(),
        })
    }

    /// Keeps garbage collection away until the returned pin is dropped: take it before writing or
    /// reusing a blob and drop it after the item that references the blob is committed.
    pub async fn pin(&self) -> BlobPin {
        self.gate.clone().read_owned().await
    }

    /// Removes every stored blob whose SHA-256 is not in `referenced`; returns (count, bytes) removed.
    /// `referenced` must be computed while holding the guard of [`BlobStore::exclusive`].
    pub async fn sweep(
        &self,
        referenced: std::collections::HashSet<String>,
    ) -> io::Result<(u64, u64)> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || sweep(&root, &referenced))
            .await
            .map_err(io::Error::other)?
    }

    /// Waits until no deploy is between writing a blob and committing its item, and keeps new ones out
    /// while the guard lives (garbage collection). It waits by polling rather than queueing: tokio's
    /// lock lets a queued writer block new readers, so one slow upload would otherwise stall every new
    /// deploy for as long as garbage collection waits for it.
    pub async fn exclusive(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        loop {
            if let Ok(guard) = self.gate.clone().try_write_owned() {
                return guard;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this SHA-256 lives (it may not exist).
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root
            .join("blobs")
            .join("sha256")
            .join(prefix)
            .join(sha256)
    }

    /// Whether a blob with this SHA-256 is stored.
    pub fn contains(&self, sha256: &str) -> bool {
        is_hex(sha256, 64) && self.path(sha256).is_file()
    }

    /// Opens a stored blob for reading.
    pub fn open_blob(&self, sha256: &str) -> io::Result<File> {
        if !is_hex(sha256, 64) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "bad digest"));
        }
        File::open(self.path(sha256))
    }

    /// Stores in-memory content (tests).
    #[cfg(test)]
    async fn ingest_bytes(&self, bytes: Bytes) -> Result<BlobInfo, IngestError> {
        let stream = futures_util::stream::iter([Ok::<Bytes, io::Error>(bytes)]);
        self.ingest(stream, None).await
    }

    /// Streams `body` into the store, computing the three digests in one pass. Nothing becomes visible
    /// unless the whole body arrived; a body error or a size over `limit` leaves no trace.
    pub async fn ingest<S, B, E>(
        &self,
        body: S,
        limit: Option<u64>,
    ) -> Result<BlobInfo, IngestError>
    where
        S: Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        self.ingest_digests(body, limit, true).await
    }

    /// Like [`BlobStore::ingest`]; with `all` false only SHA-256 is computed (`sha1` and `md5` come
    /// back empty, for [`BlobStore::checksums`] to fill in later): registry blob uploads, whose
    /// clients wait for the SHA-256 only.
    pub async fn ingest_digests<S, B, E>(
        &self,
        body: S,
        limit: Option<u64>,
        all: bool,
    ) -> Result<BlobInfo, IngestError>
    where
        S: Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        let tmp = TempUpload::create(&self.root.join("tmp"))?;
        let file = tmp.open()?;

        // Three threads: md5 (the slowest digest) alone, sha1 + sha256, and the disk write (mostly waiting
        // on I/O), so hashing overlaps the writes. Chunks are batched, not copied, about CHUNK bytes per
        // hand-over.
        let (wtx, mut wrx) = mpsc::channel::<Batch>(DEPTH);
        let (mtx, mut mrx) = mpsc::channel::<Batch>(DEPTH);
        let (stx, mut srx) = mpsc::channel::<Batch>(DEPTH);
        let durable = self.durable;
        let writer = helper(5, move || -> io::Result<()> {
            let mut out = DirectWriter::new(file);
            while let Some(batch) = wrx.blocking_recv() {
                for chunk in batch.iter() {
                    out.write(chunk)?;
                }
            }
            let file = out.finish()?;
            if durable {
                file.sync_all()?;
            }
            Ok(())
        });
        let md5_task = helper(-5, move || {
            let mut md5 = Md5::new();
            while let Some(batch) = mrx.blocking_recv() {
                if all {
                    batch.iter().for_each(|c| md5.update(c));
                }
            }
            if all {
                hex::encode(md5.finalize())
            } else {
                String::new()
            }
        });
        let sha_task = helper(if all { 5 } else { -5 }, move || {
            let mut sha1 = Sha1::new();
            let mut sha256 = Sha256::new();
            while let Some(batch) = srx.blocking_recv() {
                for chunk in batch.iter() {
                    if all {
                        sha1.update(chunk);
                    }
                    sha256.update(chunk);
                }
            }
            let sha1 = if all {
                hex::encode(sha1.finalize())
            } else {
                String::new()
            };
            (sha1, hex::encode(sha256.finalize()))
        });
        let senders = [wtx, mtx, stx];

        let mut size: u64 = 0;
        let mut batch: Vec<Bytes> = Vec::new();
        let mut batched = 0usize;
        let mut failure: Option<IngestError> = None;
        futures_util::pin_mut!(body);
        while let Some(item) = body.next().await {
            match item {
                Ok(mut data) => {
                    let n = data.remaining();
                    size += n as u64;
                    if limit.is_some_and(|l| size > l) {
                        failure = Some(IngestError::TooLarge);
                        break;
                    }
                    batch.push(data.copy_to_bytes(n));
                    batched += n;
                    if batched >= CHUNK {
                        batched = 0;
                        if !send_all(&senders, std::mem::take(&mut batch)).await {
                            break;
                        }
                    }
                }
                Err(e) => {
                    failure = Some(IngestError::Body(e.to_string()));
                    break;
                }
            }
        }
        if failure.is_none() && !batch.is_empty() {
            send_all(&senders, batch).await;
        }
        drop(senders);
        let written = writer.await.map_err(|e| io::Error::other(e.to_string()))?;
        let md5 = md5_task
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        let (sha1, sha256) = sha_task
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        if let Some(f) = failure {
            return Err(f);
        }
        written?;
        let dest = self.path(&sha256);
        let durable = self.durable;
        let tmp_path = tmp.path.clone();
        tokio::task::spawn_blocking(move || publish(&tmp_path, &dest, durable))
            .await
            .map_err(|e| io::Error::other(e.to_string()))??;
        tmp.published();
        Ok(BlobInfo {
            sha256,
            sha1,
            md5,
            size,
        })
    }
}

impl BlobStore {
    /// SHA-1 and MD5 of a stored blob, computed by reading it (for blobs stored with SHA-256 only).
    /// Background work: lowest CPU and I/O priority, and it pauses while `busy` is non-zero (transfers
    /// being served), so it never slows down clients.
    pub async fn checksums(
        &self,
        sha256: &str,
        busy: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) -> io::Result<(String, String)> {
        let path = self.path(sha256);
        // Blobs are written around the page cache (O_DIRECT); a registry pull usually follows a push
        // soon, so ask the kernel to read this one back in now (asynchronous, no copy on our side).
        if let Ok(f) = File::open(&path) {
            use std::os::fd::AsRawFd;
            // SAFETY: advisory call on a descriptor owned here.
            unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_WILLNEED) };
        }
        helper(19, move || -> io::Result<(String, String)> {
            let mut f = File::open(path)?;
            let (mut sha1, mut md5) = (Sha1::new(), Md5::new());
            let mut buf = vec![0u8; 4 << 20];
            loop {
                while busy.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                sha1.update(&buf[..n]);
                md5.update(&buf[..n]);
            }
            Ok((hex::encode(sha1.finalize()), hex::encode(md5.finalize())))
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
    }
}

/// A temporary upload file under `<root>/tmp`, removed on drop unless published.
struct TempUpload {
    path: PathBuf,
    keep: bool,
}

impl TempUpload {
    fn create(dir: &Path) -> io::Result<TempUpload> {
        let path = dir.join(format!(
            "upload-{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        ));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(TempUpload { path, keep: false })
    }

    /// Opens the file for writing, with `O_DIRECT` where the file system allows it: a streamed upload
    /// then goes to disk without passing through (and growing) the page cache.
    fn open(&self) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT)
            .open(&self.path)
            .or_else(|_| std::fs::OpenOptions::new().write(true).open(&self.path))
    }

    fn published(mut self) {
        self.keep = true;
    }
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Block size `O_DIRECT` writes are aligned to.
const ALIGN: usize = 4096;
/// Size of the aligned staging buffer.
const STAGE: usize = 4 << 20;

/// Writes through an aligned staging buffer so that `O_DIRECT` writes are block-aligned; the unaligned
/// tail (and any file system that refuses `O_DIRECT`) falls back to ordinary buffered writes.
struct DirectWriter {
    file: File,
    direct: bool,
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl DirectWriter {
    fn new(file: File) -> DirectWriter {
        // SAFETY: F_GETFL on an open descriptor only reads its flags.
        let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&file), libc::F_GETFL) };
        let direct = flags >= 0 && flags & libc::O_DIRECT != 0;
        let buf = if direct {
            vec![0u8; STAGE + ALIGN]
        } else {
            Vec::new()
        };
        let start = if direct {
            buf.as_ptr().align_offset(ALIGN)
        } else {
            0
        };
        DirectWriter {
            file,
            direct,
            buf,
            start,
            len: 0,
        }
    }

    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        if !self.direct {
            return self.file.write_all(data);
        }
        while !data.is_empty() {
            let n = (STAGE - self.len).min(data.len());
            let at = self.start + self.len;
            self.buf[at..at + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
            if self.len == STAGE {
                self.flush_aligned(STAGE)?;
            }
        }
        Ok(())
    }

    /// Writes the first `n` (block-aligned) staged bytes and keeps the rest.
    fn flush_aligned(&mut self, n: usize) -> io::Result<()> {
        let mut done = 0;
        while done < n {
            let slice = &self.buf[self.start + done..self.start + n];
            match self.file.write(slice) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "short write")),
                Ok(w) => done += w,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.direct => {
                    self.buffered()?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if done % ALIGN != 0 && self.direct {
                self.buffered()?;
            }
        }
        self.buf
            .copy_within(self.start + n..self.start + self.len, self.start);
        self.len -= n;
        Ok(())
    }

    /// Turns `O_DIRECT` off for the rest of the file.
    fn buffered(&mut self) -> io::Result<()> {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.file);
        // SAFETY: plain fcntl calls on a descriptor we own.
        let ok = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_DIRECT) == 0
        };
        self.direct = false;
        if ok {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn finish(mut self) -> io::Result<File> {
        if self.len > 0 {
            let aligned = self.len / ALIGN * ALIGN;
            if aligned > 0 {
                self.flush_aligned(aligned)?;
            }
            if self.direct {
                self.buffered()?;
            }
            let (start, len) = (self.start, self.len);
            self.file.write_all(&self.buf[start..start + len])?;
        }
        Ok(self.file)
    }
}

/// Runs `f` on a thread of its own at niceness `nice` (0: unchanged); the result comes back through a
/// oneshot channel. md5 is the critical path of a deploy, so its thread asks for a little more CPU share
/// (granted to privileged processes, silently left at 0 otherwise) and the others for a little less.
fn helper<T: Send + 'static>(
    nice: i32,
    f: impl FnOnce() -> T + Send + 'static,
) -> tokio::sync::oneshot::Receiver<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        if nice != 0 {
            // SAFETY: adjusts only this thread's own scheduling priority.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
        }
        if nice >= 19 {
            // Background work also waits for the disk to be idle (I/O class "idle").
            const IOPRIO_WHO_PROCESS: libc::c_long = 1;
            const IOPRIO_CLASS_IDLE: libc::c_long = 3;
            // SAFETY: ioprio_set on this thread only; failure leaves the default class.
            unsafe {
                libc::syscall(
                    libc::SYS_ioprio_set,
                    IOPRIO_WHO_PROCESS,
                    libc::gettid() as libc::c_long,
                    IOPRIO_CLASS_IDLE << 13,
                )
            };
        }
        let _ = tx.send(f());
    });
    rx
}

/// Chunks handed to the worker threads together.
type Batch = Arc<Vec<Bytes>>;

async fn send_all(senders: &[mpsc::Sender<Batch>], chunks: Vec<Bytes>) -> bool {
    let b = Arc::new(chunks);
    let mut ok = true;
    for s in senders {
        ok &= s.send(b.clone()).await.is_ok();
    }
    ok
}

/// Removes the blobs under `root` whose digest is not in `referenced`.
/// Removals need no fsync: one lost in a crash leaves an unreferenced blob for the next run.
fn sweep(root: &Path, referenced: &std::collections::HashSet<String>) -> io::Result<(u64, u64)> {
    let (mut count, mut bytes) = (0u64, 0u64);
    for prefix in std::fs::read_dir(root.join("blobs").join("sha256"))? {
        let prefix = prefix?;
        if !prefix.file_type()?.is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(prefix.path())? {
            let blob = blob?;
            let name = blob.file_name().to_string_lossy().into_owned();
            if is_hex(&name, 64) && !referenced.contains(&name) {
                let len = blob.metadata().map(|m| m.len()).unwrap_or(0);
                std::fs::remove_file(blob.path())?;
                count += 1;
                bytes += len;
            }
        }
    }
    Ok((count, bytes))
}

/// Moves a finished temp file to its content address (or drops it when the blob already exists).
fn publish(tmp: &Path, dest: &Path, durable: bool) -> io::Result<()> {
    if dest.is_file() {
        std::fs::remove_file(tmp)?;
        return Ok(());
    }
    let dir = dest.parent().expect("blob path has a parent");
    std::fs::create_dir_all(dir)?;
    std::fs::rename(tmp, dest)?;
    if durable {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Whether `s` is `len` lower- or upper-case hex digits.
pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ingest_computes_three_digests_and_dedupes() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), false).unwrap();
        let a = store
            .ingest_bytes(Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(a.md5, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(a.sha1, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
        assert_eq!(
            a.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(a.size, 5);
        let b = store
            .ingest_bytes(Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(a, b);
        assert!(store.contains(&a.sha256));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn failed_body_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), false).unwrap();
        let body = futures_util::stream::iter(vec![
            Ok(Bytes::from(vec![7u8; 600_000])),
            Err("connection reset"),
        ]);
        let r = store.ingest(body, None).await;
        assert!(matches!(r, Err(IngestError::Body(_))));
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        let prefixes = std::fs::read_dir(dir.path().join("blobs/sha256"))
            .unwrap()
            .count();
        assert_eq!(prefixes, 0);
    }

    #[test]
    fn direct_writer_keeps_every_byte_at_odd_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = TempUpload::create(dir.path()).unwrap();
        let data: Vec<u8> = (0..(2 * STAGE + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut w = DirectWriter::new(tmp.open().unwrap());
        for piece in data.chunks(77_777) {
            w.write(piece).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(std::fs::read(&tmp.path).unwrap(), data);
    }

    #[tokio::test]
    async fn limit_is_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), false).unwrap();
        let body =
            futures_util::stream::iter(vec![Ok::<_, io::Error>(Bytes::from(vec![1u8; 100]))]);
        assert!(matches!(
            store.ingest(body, Some(99)).await,
            Err(IngestError::TooLarge)
        ));
    }
}
