//! Content-addressed blob store: `<root>/blobs/sha256/ab/<hex>`.
//!
//! Uploads stream into a temporary file under `<root>/tmp` while md5, sha1 and sha256 are computed in the
//! same pass (md5, the slowest digest, on a thread of its own), and are published by an atomic rename. One
//! blob serves every path with the same content. Nothing in here knows about HTTP.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};
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

/// Which digests [`BlobStore::ingest_digests`] computes while the body streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inline {
    /// All three: a deploy, whose answer carries them.
    All,
    /// SHA-256 and SHA-1 (both hardware-assisted where the CPU has SHA extensions); MD5, the
    /// slowest, later: a remote repository's first download, which the client waits on.
    NoMd5,
    /// SHA-256 only: registry blob uploads, whose clients wait for the SHA-256 only.
    Sha256,
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
    /// Batches all uploads together may hold received and not yet written and hashed.
    budget: Arc<tokio::sync::Semaphore>,
    /// When the store opened, and the last write probe (see [`BlobStore::writable`]).
    opened: std::time::Instant,
    last_probe: std::sync::atomic::AtomicI64,
    /// Which shard directories' entries are known durable.
    shards: Arc<Shards>,
    /// Tests: the publication step to fail after, as a crash would (0: none).
    #[cfg(test)]
    crash_after: std::sync::atomic::AtomicU32,
}

/// Held by a deploy until its item is committed (see [`BlobStore::pin`]).
pub type BlobPin = tokio::sync::OwnedRwLockReadGuard<()>;

/// Bytes per batch handed to the hashing and writing threads.
const CHUNK: usize = 256 * 1024;
/// Batches in flight per thread; bounds memory per upload to about `CHUNK * (DEPTH + 2)`.
const DEPTH: usize = 12;
/// Batches in flight over all uploads (about 32 MiB): many concurrent uploads whose disk writes lag
/// wait for the socket instead of each filling its queues.
const BUDGET: usize = 128;

impl BlobStore {
    /// Opens (creating) a store under `root`. With `durable`, files and directories are fsynced before an
    /// ingest returns. Leftover temporary files of interrupted uploads are removed.
    pub fn open(root: &Path, durable: bool) -> io::Result<BlobStore> {
        super::private::dir(&root.join("blobs").join("sha256"))?;
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        super::private::dir(&tmp)?;
        Ok(BlobStore {
            root: root.to_path_buf(),
            durable,
            gate: Arc::default(),
            budget: Arc::new(tokio::sync::Semaphore::new(BUDGET)),
            opened: std::time::Instant::now(),
            last_probe: std::sync::atomic::AtomicI64::new(0),
            shards: Shards::new(),
            #[cfg(test)]
            crash_after: Default::default(),
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

    /// Whether the store can write now: a small file is created in its temporary directory and
    /// removed (a permission check alone says nothing for a privileged process, nor about a full or
    /// read-only file system).
    pub fn writable(&self) -> bool {
        // Probed at most once a second (health checkers ping in loops): the last probe's time
        // since the store opened, in ms plus one, its sign the result.
        let now = self.opened.elapsed().as_millis() as i64 + 1;
        let last = self.last_probe.load(Ordering::Relaxed);
        if last != 0 && now - last.abs() < 1000 {
            return last > 0;
        }
        let probe = self
            .root
            .join("tmp")
            .join(format!(".probe-{:016x}", rand::random::<u64>()));
        let ok = std::fs::write(&probe, b"ok").is_ok();
        let _ = std::fs::remove_file(&probe);
        self.last_probe
            .store(if ok { now } else { -now }, Ordering::Relaxed);
        ok
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

    /// Stores in-memory content (small documents: manifests, build-info).
    pub async fn ingest_bytes(&self, bytes: Bytes) -> Result<BlobInfo, IngestError> {
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
        self.ingest_digests(body, limit, Inline::All).await
    }

    /// Like [`BlobStore::ingest`], computing only the digests `inline` names while the body
    /// streams; the others come back empty, for [`BlobStore::checksums`] to fill in later.
    pub async fn ingest_digests<S, B, E>(
        &self,
        body: S,
        limit: Option<u64>,
        inline: Inline,
    ) -> Result<BlobInfo, IngestError>
    where
        S: Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        self.ingest_with(body, limit, inline, self.durable).await
    }

    /// Like [`BlobStore::ingest`] without the fsyncs: the blob is not durable until
    /// [`BlobStore::sync_all`] returns, which must come before any journal record names it. Many
    /// small blobs at once (an import) then cost one flush instead of two fsyncs each.
    pub async fn ingest_unsynced<S, B, E>(
        &self,
        body: S,
        limit: Option<u64>,
    ) -> Result<BlobInfo, IngestError>
    where
        S: Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        self.ingest_with(body, limit, Inline::All, false).await
    }

    /// Makes every blob written so far durable, their directory entries included (`syncfs` of the
    /// file system that holds the store). Nothing to do for a store that is not durable.
    pub async fn sync_all(&self) -> io::Result<()> {
        if !self.durable {
            return Ok(());
        }
        let root = self.root.join("blobs");
        tokio::task::spawn_blocking(move || {
            let dir = File::open(&root)?;
            #[cfg(target_os = "linux")]
            {
                use std::os::fd::AsRawFd;
                // SAFETY: syncfs only reads the descriptor, which `dir` keeps open.
                if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            #[cfg(not(target_os = "linux"))]
            dir.sync_all()?;
            #[cfg(all(test, target_os = "linux"))]
            super::trace::record(super::trace::Op::SyncFs(root));
            Ok(())
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn ingest_with<S, B, E>(
        &self,
        body: S,
        limit: Option<u64>,
        inline: Inline,
        durable: bool,
    ) -> Result<BlobInfo, IngestError>
    where
        S: Stream<Item = Result<B, E>>,
        B: bytes::Buf,
        E: std::fmt::Display,
    {
        let tmp = TempUpload::create(&self.root.join("tmp"))?;
        let file = tmp.open()?;
        #[cfg(test)]
        let traced = tmp.path.clone();

        // Three threads: md5 (the slowest digest) alone, sha1 + sha256, and the disk write (mostly waiting
        // on I/O), so hashing overlaps the writes. Chunks are batched, not copied, about CHUNK bytes per
        // hand-over.
        let (wtx, mut wrx) = mpsc::channel::<Batch>(DEPTH);
        let (mtx, mut mrx) = mpsc::channel::<Batch>(DEPTH);
        let (stx, mut srx) = mpsc::channel::<Batch>(DEPTH);
        let (md5_on, sha1_on) = (inline == Inline::All, inline != Inline::Sha256);
        let writer = helper(5, move || -> io::Result<()> {
            let mut out = Writeback::new(file, durable);
            while let Some(batch) = wrx.blocking_recv() {
                out.write(&batch.chunks)?;
            }
            let file = out.finish();
            if durable {
                file.sync_all()?;
                #[cfg(test)]
                super::trace::record(super::trace::Op::SyncFile(traced));
            }
            Ok(())
        });
        let md5_task = helper(-5, move || {
            let mut md5 = Md5::new();
            while let Some(batch) = mrx.blocking_recv() {
                if md5_on {
                    batch.chunks.iter().for_each(|c| md5.update(c));
                }
            }
            if md5_on {
                hex::encode(md5.finalize())
            } else {
                String::new()
            }
        });
        let sha_task = helper(if md5_on { 5 } else { -5 }, move || {
            let mut sha1 = Sha1::new();
            let mut sha256 = Sha256::new();
            while let Some(batch) = srx.blocking_recv() {
                for chunk in batch.chunks.iter() {
                    if sha1_on {
                        sha1.update(chunk);
                    }
                    sha256.update(chunk);
                }
            }
            let sha1 = if sha1_on {
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
                        if !send_all(&senders, &self.budget, std::mem::take(&mut batch)).await {
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
            send_all(&senders, &self.budget, batch).await;
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
        let steps = self.steps();
        steps.at(1)?;
        let dest = self.path(&sha256);
        let tmp_path = tmp.path.clone();
        let shards = self.shards.clone();
        tokio::task::spawn_blocking(move || publish(&tmp_path, &dest, durable, steps, &shards))
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
    /// Background work: lowest CPU and I/O priority, and it waits while `transfers` are running and
    /// for [`Transfers::GRACE`] after the last one ended (a burst of pushes or pulls is not one
    /// transfer at a time, and its gaps are not idle time), so it never slows down clients.
    pub async fn checksums(
        &self,
        sha256: &str,
        transfers: std::sync::Arc<Transfers>,
    ) -> io::Result<(String, String)> {
        let path = self.path(sha256);
        // A blob written long ago may have left the page cache; a registry pull usually follows a
        // push soon, so ask the kernel to read it in now (asynchronous, no copy on our side).
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
                while transfers.quiet_for() < Transfers::GRACE {
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

/// The transfers being served (registry blob uploads and downloads), which background work gives
/// way to: how many are running and when the last one ended.
#[derive(Debug)]
pub struct Transfers {
    running: std::sync::atomic::AtomicUsize,
    /// Milliseconds from `epoch` to the end of the last transfer.
    last_end: std::sync::atomic::AtomicU64,
    epoch: std::time::Instant,
}

impl Default for Transfers {
    fn default() -> Self {
        Transfers {
            running: Default::default(),
            last_end: Default::default(),
            epoch: std::time::Instant::now(),
        }
    }
}

impl Transfers {
    /// How long background work waits after the last transfer ended.
    pub const GRACE: std::time::Duration = std::time::Duration::from_millis(500);

    /// Counts a transfer in; [`Transfers::end`] counts it out.
    pub fn begin(&self) {
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn end(&self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.last_end
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
        self.running
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long no transfer has been running (zero while one is).
    pub fn quiet_for(&self) -> std::time::Duration {
        use std::sync::atomic::Ordering::Relaxed;
        if self.running.load(Relaxed) > 0 {
            return std::time::Duration::ZERO;
        }
        let since = self.epoch.elapsed().as_millis() as u64;
        std::time::Duration::from_millis(since.saturating_sub(self.last_end.load(Relaxed)))
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
        super::private::options()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(TempUpload { path, keep: false })
    }

    /// Opens the file for writing.
    fn open(&self) -> io::Result<File> {
        std::fs::OpenOptions::new().write(true).open(&self.path)
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

/// How much of an upload is handed to the disk at a time.
const WINDOW: u64 = 8 << 20;

/// Writes an upload through the page cache. In a durable store the write-back of each completed
/// `WINDOW` starts at once and the window before it is waited for, so the disk works while the
/// body streams in (the closing fsync finds little left), at most two windows of an upload are
/// dirty at a time, and the bytes stay cached for the read that usually follows a push (writes
/// around the cache, `O_DIRECT`, made that first read come from the disk).
struct Writeback {
    file: File,
    durable: bool,
    written: u64,
    handed: u64,
}

impl Writeback {
    fn new(file: File, durable: bool) -> Writeback {
        Writeback {
            file,
            durable,
            written: 0,
            handed: 0,
        }
    }

    /// Writes a batch of chunks with as few system calls as the kernel allows (`writev`).
    fn write(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        let mut slices: Vec<io::IoSlice<'_>> = chunks.iter().map(|c| io::IoSlice::new(c)).collect();
        let mut left = &mut slices[..];
        io::IoSlice::advance_slices(&mut left, 0);
        while !left.is_empty() {
            match self.file.write_vectored(left) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "short write")),
                Ok(n) => {
                    self.written += n as u64;
                    io::IoSlice::advance_slices(&mut left, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while self.durable && self.written - self.handed >= WINDOW {
            let at = self.handed;
            self.range(at, libc::SYNC_FILE_RANGE_WRITE);
            if at >= WINDOW {
                self.range(
                    at - WINDOW,
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                );
            }
            self.handed += WINDOW;
        }
        Ok(())
    }

    /// `sync_file_range` on one window: advisory, so a file system without it changes nothing
    /// (the closing fsync still makes the upload durable).
    fn range(&self, at: u64, flags: libc::c_uint) {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a descriptor this writer owns.
        unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                at as libc::off64_t,
                WINDOW as libc::off64_t,
                flags,
            )
        };
    }

    fn finish(self) -> File {
        self.file
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

/// Chunks handed to the worker threads together, holding their share of the budget until the last
/// thread is done with them.
struct Chunks {
    chunks: Vec<Bytes>,
    _held: tokio::sync::OwnedSemaphorePermit,
}

type Batch = Arc<Chunks>;

async fn send_all(
    senders: &[mpsc::Sender<Batch>],
    budget: &Arc<tokio::sync::Semaphore>,
    chunks: Vec<Bytes>,
) -> bool {
    let Ok(held) = budget.clone().acquire_owned().await else {
        return false;
    };
    let b = Arc::new(Chunks {
        chunks,
        _held: held,
    });
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

/// Moves a finished temp file (its content already fsynced in a durable store) to its content
/// address, or drops it when the blob already exists. In a durable store the blob's entry and the
/// shard directory's own entry are fsynced before it returns, and so before any journal record
/// names the blob: a power loss after the journal's fsync must not find the item without its
/// content. A blob that already exists may have been renamed into place by a publication still
/// running (or failed) that has not synced its directories yet, or published without a sync (an
/// import's, synced later with the whole file system), so its content and those directories are
/// synced here too.
fn publish(
    tmp: &Path,
    dest: &Path,
    durable: bool,
    steps: Steps,
    shards: &Shards,
) -> io::Result<()> {
    let dir = dest.parent().expect("blob path has a parent");
    let sync_dirs = |steps: Steps| -> io::Result<()> {
        if durable {
            super::private::sync_dir(dir)?;
            steps.at(4)?;
            // The shard directory's own entry, once per shard and run: another publication may
            // have made the directory and not synced its parent yet.
            let shard = shards.of(dir);
            if !shard.load(Ordering::Acquire) {
                if let Some(parent) = dir.parent() {
                    super::private::sync_dir(parent)?;
                }
                shard.store(true, Ordering::Release);
            }
        }
        steps.at(5)
    };
    if dest.is_file() {
        std::fs::remove_file(tmp)?;
        if durable {
            File::open(dest)?.sync_all()?;
            #[cfg(test)]
            super::trace::record(super::trace::Op::SyncFile(dest.to_path_buf()));
        }
        return sync_dirs(Steps::default());
    }
    super::private::dir(dir)?;
    steps.at(2)?;
    std::fs::rename(tmp, dest)?;
    #[cfg(test)]
    super::trace::record(super::trace::Op::Rename {
        from: tmp.to_path_buf(),
        to: dest.to_path_buf(),
    });
    steps.at(3)?;
    sync_dirs(steps)
}

/// Per shard directory (`blobs/sha256/<2 hex digits>`), whether its entry is known durable in this
/// run (its parent fsynced after it existed).
#[derive(Debug)]
struct Shards([AtomicBool; 256]);

impl Shards {
    fn new() -> Arc<Shards> {
        Arc::new(Shards(std::array::from_fn(|_| AtomicBool::new(false))))
    }

    fn of(&self, dir: &Path) -> &AtomicBool {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let i = u8::from_str_radix(name, 16).unwrap_or(0);
        &self.0[usize::from(i)]
    }
}

/// The steps of a blob's publication, numbered for tests that stop after each one as a crash
/// would: 1 content written (and fsynced), 2 shard directory made, 3 renamed into place, 4 its
/// directory fsynced, 5 the shard directory's parent fsynced. Outside tests it does nothing.
#[derive(Clone, Copy, Default)]
struct Steps {
    #[cfg(test)]
    crash_after: u32,
}

impl Steps {
    #[cfg(test)]
    fn at(self, step: u32) -> io::Result<()> {
        if self.crash_after == step {
            return Err(io::Error::other(format!(
                "crash after publication step {step}"
            )));
        }
        Ok(())
    }

    #[cfg(not(test))]
    #[inline]
    fn at(self, _step: u32) -> io::Result<()> {
        Ok(())
    }
}

impl BlobStore {
    fn steps(&self) -> Steps {
        Steps {
            #[cfg(test)]
            crash_after: self.crash_after.load(Ordering::Relaxed),
        }
    }

    /// Tests: makes the next publications fail after `step` (0: none), as a crash there would.
    #[cfg(test)]
    pub fn crash_after(&self, step: u32) {
        self.crash_after.store(step, Ordering::Relaxed);
    }
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
    fn the_writer_keeps_every_byte_at_odd_sizes() {
        let dir = tempfile::tempdir().unwrap();
        for durable in [true, false] {
            let tmp = TempUpload::create(dir.path()).unwrap();
            let data: Vec<u8> = (0..(3 * WINDOW as usize + 12_345))
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let mut w = Writeback::new(tmp.open().unwrap(), durable);
            let pieces: Vec<Bytes> = data.chunks(77_777).map(Bytes::copy_from_slice).collect();
            for batch in pieces.chunks(5) {
                w.write(batch).unwrap();
            }
            assert_eq!(w.handed, if durable { 3 * WINDOW } else { 0 });
            w.finish().sync_all().unwrap();
            assert_eq!(std::fs::read(&tmp.path).unwrap(), data);
        }
    }

    #[test]
    fn background_work_waits_out_transfers_and_their_gaps() {
        let t = Transfers::default();
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(t.quiet_for() >= std::time::Duration::from_millis(30));
        t.begin();
        t.begin();
        t.end();
        assert_eq!(
            t.quiet_for(),
            std::time::Duration::ZERO,
            "one is still running"
        );
        t.end();
        assert!(
            t.quiet_for() < Transfers::GRACE,
            "the last one has only just ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(t.quiet_for() >= std::time::Duration::from_millis(20));
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
