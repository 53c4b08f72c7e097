//! The system: the storage summary and key encryption (the master key that seals secrets at rest).

pub(crate) mod descriptor;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod reverse_proxy;
pub(crate) mod xml;

use serde_json::{json, Value};

use crate::app::App;
use crate::auth::crypto;
use crate::config::RepoClass;
use crate::error::ApiError;

/// `GET /api/storageinfo`: binaries, file store and repositories summaries, as Artifactory counts
/// them.
pub(crate) fn storage_summary(app: &App) -> Value {
    let state = app.store.read();
    let mut blobs: std::collections::HashMap<crate::store::Sha256, u64> =
        std::collections::HashMap::new();
    let mut artifacts_size = 0u64;
    let mut artifacts = 0u64;
    let mut items = 0u64;
    let mut rows = Vec::new();
    let (mut t_files, mut t_folders, mut t_size) = (0u64, 0u64, 0u64);
    let mut usages = Vec::new();
    for repo in state.repos.values() {
        let (size, files, folders) = repo.usage();
        for f in repo.items.values().filter_map(|i| i.file.as_ref()) {
            blobs.insert(f.sha256, f.size);
        }
        artifacts_size += size;
        artifacts += files;
        items += files + folders;
        usages.push((repo, size, files, folders));
        t_files += files;
        t_folders += folders;
        t_size += size;
    }
    for (repo, size, files, folders) in usages {
        let (key, kind) = match repo.config.rclass {
            RepoClass::Remote => (format!("{}-cache", repo.config.key), "CACHE"),
            c => (repo.config.key.clone(), c.upper()),
        };
        let pct = if t_size == 0 {
            "0%".to_string()
        } else {
            percent(size as f64 / t_size as f64)
        };
        rows.push(json!({
            "repoKey": key, "repoType": kind, "foldersCount": folders, "filesCount": files,
            "usedSpace": readable(size), "itemsCount": files + folders,
            "packageType": repo.config.package_type.display(), "percentage": pct,
        }));
    }
    rows.push(json!({
        "repoKey": "TOTAL", "repoType": "NA", "foldersCount": t_folders, "filesCount": t_files,
        "usedSpace": readable(t_size), "itemsCount": t_files + t_folders,
    }));
    let binaries_size: u64 = blobs.values().sum();
    let optimization = if artifacts_size == 0 {
        0.0
    } else {
        1.0 - binaries_size as f64 / artifacts_size as f64
    };
    let dir = app.store.blobs.root().to_path_buf();
    let (total, free) = disk_space(&dir);
    let used = total.saturating_sub(free);
    let frac = |x: u64| {
        if total == 0 {
            0.0
        } else {
            x as f64 / total as f64
        }
    };
    let body = json!({
        "binariesSummary": {
            "binariesCount": grouped(blobs.len() as u64),
            "binariesSize": readable(binaries_size),
            "artifactsSize": readable(artifacts_size),
            "optimization": percent(optimization),
            "itemsCount": grouped(items),
            "artifactsCount": grouped(artifacts),
        },
        "fileStoreSummary": {
            "storageType": "file-system",
            "storageDirectory": dir.join("blobs").display().to_string(),
            "totalSpace": readable(total),
            "usedSpace": format!("{} ({})", readable(used), percent(frac(used))),
            "freeSpace": format!("{} ({})", readable(free), percent(frac(free))),
        },
        "repositoriesSummaryList": rows,
    });
    body
}

/// `StorageUnit.toReadableString`: `<n> bytes` below 1024, else two decimals with grouping and a unit.
pub(crate) fn readable(n: u64) -> String {
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut v = n as f64;
    let mut unit = "bytes";
    for u in ["KB", "MB", "GB", "TB"] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    let s = format!("{v:.2}");
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    format!("{}.{frac} {unit}", grouped(int.parse().unwrap_or(0)))
}

/// `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(f: f64) -> String {
    format!("{:.2}%", f * 100.0)
}

fn disk_space(path: &std::path::Path) -> (u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return (0, 0);
    };
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return (0, 0);
    }
    let bs = s.f_frsize as u64;
    (s.f_blocks as u64 * bs, s.f_bavail as u64 * bs)
}

/// `POST /api/system/encrypt|decrypt` (admin): creates the master key and seals secrets at rest, or
/// opens them all and removes the key. Encrypting twice is not an error (the key is reused).
pub(crate) async fn key_encryption(app: &App, on: bool) -> Result<(), ApiError> {
    // One switch at a time, and never while the token key is being created.
    let _switch = app.auth.keys.switch.lock().await;
    let store = &app.store;
    let old = store.cipher();
    let io = |e: std::io::Error| {
        let verb = if on { "encrypt" } else { "decrypt" };
        ApiError::text(
            500,
            format!("Could not {verb} with artifactory key, due to: {e}"),
        )
    };
    if on {
        if old.is_none() {
            // Key first (fsynced), then the signing key file, then the snapshot: a crash at any point
            // leaves a key that opens whatever is sealed.
            let c = crypto::Cipher::create(store.root()).map_err(io)?;
            app.auth.keys.reseal(None, Some(&c)).map_err(io)?;
            store.set_cipher(Some(c)).map_err(io)?;
            tracing::info!("key encryption activated");
        }
    } else {
        let Some(c) = old else {
            return Err(ApiError::text(
                409,
                "Cannot decrypt without artifactory key file",
            ));
        };
        store.set_cipher(None).map_err(io)?;
        app.auth.keys.reseal(Some(&c), None).map_err(io)?;
        std::fs::remove_file(crypto::master_key_path(store.root())).map_err(io)?;
        tracing::info!("key encryption deactivated");
    }
    Ok(())
}

/// `UrlValidator("http", "https")`'s checks, with its messages.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    const SCHEMES: &str = "[http, https]";
    match url::Url::parse(url.trim()) {
        Err(url::ParseError::EmptyHost) => Err(format!("Cannot resolve host from url: {url}")),
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(format!(
            "Url scheme cannot be empty. The following schemes are allowed: {SCHEMES}. For example: http://host"
        )),
        Err(_) => Err(format!("'{url}' is not a valid url")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => Err(format!(
            "Scheme '{}' is not allowed. The following schemes are allowed: {SCHEMES}",
            u.scheme()
        )),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => {
            Err(format!("Cannot resolve host from url: {url}"))
        }
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(readable(0), "0 bytes");
        assert_eq!(readable(1023), "1023 bytes");
        assert_eq!(readable(1075), "1.05 KB");
        assert_eq!(readable(3_736_621_547), "3.48 GB");
        assert_eq!(grouped(125_726), "125,726");
        assert_eq!(grouped(12), "12");
    }
}
