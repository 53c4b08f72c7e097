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
    let name = name.to_ascii_lowercase();
    let entry = entry.to_string();
    tokio::task::spawn_blocking(move || read(file, &name, &entry))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(msg::file_not_found)
}

/// Reads one entry of an archive; `None` when the archive cannot be read or has no such entry.
fn read(file: std::fs::File, name: &str, entry: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let entry = entry.trim_start_matches('/');
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar") {
        let reader: Box<dyn Read> = if name.ends_with(".tar") {
            Box::new(file)
        } else {
            Box::new(flate2::read::GzDecoder::new(file))
        };
        let mut ar = tar::Archive::new(reader);
        for e in ar.entries().ok()? {
            let mut e = e.ok()?;
            let path = e
                .path()
                .ok()?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            if path == entry && e.header().entry_type().is_file() {
                let mut out = Vec::new();
                e.read_to_end(&mut out).ok()?;
                return Some(out);
            }
        }
        None
    } else {
        let mut z = zip::ZipArchive::new(file).ok()?;
        let mut e = z.by_name(entry).ok()?;
        if e.is_dir() {
            return None;
        }
        let mut out = Vec::new();
        e.read_to_end(&mut out).ok()?;
        Some(out)
    }
}
