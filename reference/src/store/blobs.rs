//! Content-addressed blob store: `<root>/blobs/sha256/ab/<hex>`.
//!
//! Uploads stream into a temporary file under `<root>/tmp` while md5, sha1 and sha256 are computed in the
//! same pass (md5, the slowest digest, on a thread of its own), and are published by an atomic rename. One
//! blob serves every path with the same content. Nothing in here knows about HTTP.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
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
}

/// Size of the buffers handed to the hashing and writing threads.
const CHUNK: usize = 256 * 1024;
/// Buffers in flight per thread; bounds memory per upload to about `CHUNK * (DEPTH + 2)`.
const DEPTH: usize = 4;

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
        })
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

    /// Stores in-memory content (small documents the server writes itself).
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
        let tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        let (file, tmp_path) = tmp.into_parts();

        // Writer thread: sha1 + sha256 + write. md5 thread: md5 alone (it is the slowest digest).
        let (wtx, mut wrx) = mpsc::channel::<Bytes>(DEPTH);
        let (mtx, mut mrx) = mpsc::channel::<Bytes>(DEPTH);
        let durable = self.durable;
        let writer = tokio::task::spawn_blocking(move || -> io::Result<(String, String)> {
            let mut file = file;
            let mut sha1 = Sha1::new();
            let mut sha256 = Sha256::new();
            while let Some(chunk) = wrx.blocking_recv() {
                sha1.update(&chunk);
                sha256.update(&chunk);
                file.write_all(&chunk)?;
            }
            if durable {
                file.sync_all()?;
            }
            Ok((hex::encode(sha1.finalize()), hex::encode(sha256.finalize())))
        });
        let md5_task = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            while let Some(chunk) = mrx.blocking_recv() {
                md5.update(&chunk);
            }
            hex::encode(md5.finalize())
        });

        let mut size: u64 = 0;
        let mut buf = BytesMut::with_capacity(CHUNK);
        let mut failure: Option<IngestError> = None;
        futures_util::pin_mut!(body);
        while let Some(item) = body.next().await {
            match item {
                Ok(mut data) => {
                    size += data.remaining() as u64;
                    if limit.is_some_and(|l| size > l) {
                        failure = Some(IngestError::TooLarge);
                        break;
                    }
                    while data.has_remaining() {
                        let piece = data.chunk();
                        let take = piece.len().min(CHUNK - buf.len());
                        buf.extend_from_slice(&piece[..take]);
                        data.advance(take);
                        if buf.len() == CHUNK {
                            let full = buf.split().freeze();
                            buf.reserve(CHUNK);
                            if !send_both(&wtx, &mtx, full).await {
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    failure = Some(IngestError::Body(e.to_string()));
                    break;
                }
            }
        }
        if failure.is_none() && !buf.is_empty() {
            send_both(&wtx, &mtx, buf.freeze()).await;
        }
        drop(wtx);
        drop(mtx);
        let written = writer.await.map_err(|e| io::Error::other(e.to_string()))?;
        let md5 = md5_task
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        if let Some(f) = failure {
            let _ = std::fs::remove_file(&tmp_path);
            return Err(f);
        }
        let (sha1, sha256) = written?;
        let dest = self.path(&sha256);
        let durable = self.durable;
        let tmp_path2 = tmp_path.to_path_buf();
        tokio::task::spawn_blocking(move || publish(&tmp_path2, &dest, durable))
            .await
            .map_err(|e| io::Error::other(e.to_string()))??;
        // The temp path no longer exists after publish; keep TempPath from deleting a reused name.
        let _ = tmp_path.keep();
        Ok(BlobInfo {
            sha256,
            sha1,
            md5,
            size,
        })
    }
}

async fn send_both(w: &mpsc::Sender<Bytes>, m: &mpsc::Sender<Bytes>, b: Bytes) -> bool {
    let ok1 = w.send(b.clone()).await.is_ok();
    let ok2 = m.send(b).await.is_ok();
    ok1 && ok2
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
