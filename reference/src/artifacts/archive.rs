//! One entry of an archive (`archive.zip!/path/in/it`): zip and jar files, tar and tar.gz.

use crate::app::App;
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::Item;

/// Largest archive entry served (its declared, inflated size): a small zip can claim gigabytes.
pub(crate) const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// An archive entry being read: its size, and its bytes from the first asked for, streamed from a
/// blocking thread over a small channel (memory stays at a few chunks whatever the entry's size).
pub(crate) struct Entry {
    /// The entry's (inflated) size.
    pub size: u64,
    /// Where the bytes sent start.
    pub offset: u64,
    /// How many are sent.
    pub len: u64,
    /// The bytes, as the reading thread hands them over.
    pub body: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
}

/// Opens `entry` of the archive file `item` named `name` (its extension says the format);
/// `range(size)` says which bytes to send (`(offset, len)`), once the size is known.
pub(crate) async fn entry(
    app: &App,
    item: &Item,
    name: &str,
    entry: &str,
    range: impl FnOnce(u64) -> Result<(u64, u64), ApiError> + Send + 'static,
) -> Result<Entry, ApiError> {
    let f = item.file.as_ref().ok_or_else(msg::file_not_found)?;
    let file = app
        .store
        .blobs
        .open_blob(&f.sha256.hex())
        .map_err(ApiError::internal)?;
    let (name, entry) = (name.to_string(), entry.trim_start_matches('/').to_string());
    let (sized, size_rx) = tokio::sync::oneshot::channel::<Result<(u64, u64, u64), ApiError>>();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || stream(file, &name, &entry, range, sized, tx));
    let (size, offset, len) = size_rx
        .await
        .map_err(|_| ApiError::internal("the archive reader stopped"))??;
    Ok(Entry {
        size,
        offset,
        len,
        body: rx,
    })
}

/// On a blocking thread: finds the entry, reports its size and the range, then sends the bytes.
fn stream(
    file: std::fs::File,
    name: &str,
    entry: &str,
    range: impl FnOnce(u64) -> Result<(u64, u64), ApiError>,
    sized: tokio::sync::oneshot::Sender<Result<(u64, u64, u64), ApiError>>,
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
) {
    let send = |size: u64, reader: &mut dyn std::io::Read, sized| {
        if size > MAX_ENTRY_BYTES {
            let _ = Sender::send(sized, Err(msg::archive_entry_too_large(MAX_ENTRY_BYTES)));
            return;
        }
        let (offset, len) = match range(size) {
            Ok(r) => r,
            Err(e) => {
                let _ = Sender::send(sized, Err(e));
                return;
            }
        };
        if Sender::send(sized, Ok((size, offset, len))).is_err() {
            return;
        }
        pump(reader, offset, len, &tx);
    };
    type Sender = tokio::sync::oneshot::Sender<Result<(u64, u64, u64), ApiError>>;
    match open(file, name) {
        Some(Opened::Tar(mut ar)) => {
            let Ok(entries) = ar.entries() else {
                let _ = sized.send(Err(msg::file_not_found()));
                return;
            };
            for e in entries {
                let Ok(mut e) = e else { break };
                if tar_path(&e).as_deref() == Some(entry) && e.header().entry_type().is_file() {
                    let size = e.header().size().unwrap_or(0);
                    send(size, &mut e, sized);
                    return;
                }
            }
            let _ = sized.send(Err(msg::file_not_found()));
        }
        Some(Opened::Zip(mut z)) => match z.by_name(entry) {
            Ok(mut e) if !e.is_dir() => {
                let size = e.size();
                send(size, &mut e, sized);
            }
            _ => {
                let _ = sized.send(Err(msg::file_not_found()));
            }
        },
        None => {
            let _ = sized.send(Err(msg::file_not_found()));
        }
    }
}

/// Skips `offset` bytes of `reader`, then sends `len` in 64 KiB chunks; stops when the client goes
/// away or the archive turns out shorter or corrupt (the body then ends with an error).
fn pump(
    reader: &mut dyn std::io::Read,
    offset: u64,
    len: u64,
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
) {
    use std::io::Read;
    if let Err(e) = std::io::copy(&mut (&mut *reader).take(offset), &mut std::io::sink()) {
        let _ = tx.blocking_send(Err(e));
        return;
    }
    let mut left = len;
    while left > 0 {
        let mut buf = vec![0u8; left.min(64 << 10) as usize];
        match reader.read(&mut buf) {
            Ok(0) => {
                let e = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the archive entry ended early",
                );
                let _ = tx.blocking_send(Err(e));
                return;
            }
            Ok(n) => {
                buf.truncate(n);
                left -= n as u64;
                if tx.blocking_send(Ok(bytes::Bytes::from(buf))).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

/// Whether a file name is an archive whose entries are indexed (zip family and tar, gzipped or not).
pub(crate) fn is_archive(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [".zip", ".jar", ".war", ".ear", ".tar", ".tar.gz", ".tgz"]
        .iter()
        .any(|ext| n.ends_with(ext))
}

/// Most entries indexed per archive (a small archive may hold millions of empty entries).
pub(crate) const MAX_ENTRIES: usize = 100_000;
/// Most bytes of entry names indexed per archive (a small tarball can hold long names).
pub(crate) const MAX_NAME_BYTES: usize = 8 << 20;
/// Most bytes of entry names indexed over all archives: the index lives in memory and in the journal.
pub(crate) const MAX_TOTAL_NAME_BYTES: usize = 512 << 20;

/// Why an archive's entries are not indexed (the artifact itself stays).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotIndexed {
    /// It does not open as the archive its name says.
    Unreadable,
    /// More entries than [`MAX_ENTRIES`].
    TooManyEntries,
    /// More name bytes than [`MAX_NAME_BYTES`].
    NamesTooLong,
}

impl std::fmt::Display for NotIndexed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotIndexed::Unreadable => f.write_str("it does not open as the archive its name says"),
            NotIndexed::TooManyEntries => write!(f, "it has more than {MAX_ENTRIES} entries"),
            NotIndexed::NamesTooLong => {
                write!(
                    f,
                    "its entry names take more than {} MiB",
                    MAX_NAME_BYTES >> 20
                )
            }
        }
    }
}

/// An archive as its (lower-case) name says: a tar, gzipped or not, or a zip.
enum Opened {
    Tar(tar::Archive<Box<dyn std::io::Read>>),
    Zip(zip::ZipArchive<std::fs::File>),
}

fn open(file: std::fs::File, name: &str) -> Option<Opened> {
    let n = name.to_ascii_lowercase();
    if n.ends_with(".tar") {
        Some(Opened::Tar(tar::Archive::new(Box::new(file))))
    } else if n.ends_with(".tar.gz") || n.ends_with(".tgz") {
        let gz = flate2::read::GzDecoder::new(file);
        Some(Opened::Tar(tar::Archive::new(Box::new(gz))))
    } else {
        zip::ZipArchive::new(file).ok().map(Opened::Zip)
    }
}

/// A tar entry's path, without a leading `./`.
fn tar_path<R: std::io::Read>(e: &tar::Entry<'_, R>) -> Option<String> {
    Some(
        e.path()
            .ok()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string(),
    )
}

/// The file entries of an archive (paths inside it), sorted, or why they are not indexed.
pub(crate) fn list_entries(file: std::fs::File, name: &str) -> Result<Vec<String>, NotIndexed> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut add = |out: &mut Vec<String>, n: String| {
        bytes += n.len();
        if out.len() >= MAX_ENTRIES {
            return Err(NotIndexed::TooManyEntries);
        }
        if bytes > MAX_NAME_BYTES {
            return Err(NotIndexed::NamesTooLong);
        }
        out.push(n);
        Ok(())
    };
    match open(file, name).ok_or(NotIndexed::Unreadable)? {
        Opened::Tar(mut ar) => {
            for e in ar.entries().map_err(|_| NotIndexed::Unreadable)? {
                let e = e.map_err(|_| NotIndexed::Unreadable)?;
                if e.header().entry_type().is_file() {
                    add(&mut out, tar_path(&e).ok_or(NotIndexed::Unreadable)?)?;
                }
            }
        }
        Opened::Zip(mut z) => {
            if z.len() > MAX_ENTRIES {
                return Err(NotIndexed::TooManyEntries);
            }
            for i in 0..z.len() {
                let e = z.by_index_raw(i).map_err(|_| NotIndexed::Unreadable)?;
                if !e.is_dir() {
                    add(&mut out, e.name().to_string())?;
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
