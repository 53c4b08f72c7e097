//! One entry of an archive (`archive.zip!/path/in/it`): zip and jar files, tar and tar.gz.

use crate::app::App;
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::Item;

/// The bytes of `entry` in the archive file `item` named `name` (its extension says the format).
pub(crate) async fn entry(
    app: &App,
    item: &Item,
    name: &str,
    entry: &str,
) -> Result<Vec<u8>, ApiError> {
    let f = item.file.as_ref().ok_or_else(msg::file_not_found)?;
    let file = app
        .store
        .blobs
        .open_blob(&f.sha256.hex())
        .map_err(ApiError::internal)?;
    let name = name.to_string();
    let entry = entry.to_string();
    tokio::task::spawn_blocking(move || read(file, &name, &entry))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(msg::file_not_found)
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

/// The file entries of an archive (paths inside it, at most [`MAX_ENTRIES`]), sorted; `None` when
/// it does not open as the archive its name says.
pub(crate) fn list_entries(file: std::fs::File, name: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    match open(file, name)? {
        Opened::Tar(mut ar) => {
            for e in ar.entries().ok()? {
                let e = e.ok()?;
                if out.len() >= MAX_ENTRIES {
                    break;
                }
                if e.header().entry_type().is_file() {
                    out.push(tar_path(&e)?);
                }
            }
        }
        Opened::Zip(mut z) => {
            for i in 0..z.len().min(MAX_ENTRIES) {
                let e = z.by_index_raw(i).ok()?;
                if !e.is_dir() {
                    out.push(e.name().to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// Reads one entry of an archive; `None` when the archive cannot be read or has no such entry.
fn read(file: std::fs::File, name: &str, entry: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let entry = entry.trim_start_matches('/');
    let mut out = Vec::new();
    match open(file, name)? {
        Opened::Tar(mut ar) => {
            for e in ar.entries().ok()? {
                let mut e = e.ok()?;
                if tar_path(&e)? == entry && e.header().entry_type().is_file() {
                    e.read_to_end(&mut out).ok()?;
                    return Some(out);
                }
            }
            None
        }
        Opened::Zip(mut z) => {
            let mut e = z.by_name(entry).ok()?;
            if e.is_dir() {
                return None;
            }
            e.read_to_end(&mut out).ok()?;
            Some(out)
        }
    }
}
