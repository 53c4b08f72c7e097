//! The data directory is private to the server's user: directories `0700`, files `0600`. A
//! directory made by an earlier version (with the process umask) is narrowed when it is opened,
//! which shuts others out of everything beneath it.

use std::fs::OpenOptions;
use std::io;
use std::path::Path;

/// Creates `path` and its missing parents as private directories, and narrows `path` itself if
/// it existed. Returns whether `path` was created (its parent's entry then needs a sync to be
/// durable).
pub fn dir(path: &Path) -> io::Result<bool> {
    let existed = path.is_dir();
    #[cfg(test)]
    let missing: Vec<_> = path
        .ancestors()
        .take_while(|p| !p.exists())
        .map(Path::to_path_buf)
        .collect();
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)?;
    #[cfg(test)]
    for p in missing.into_iter().rev() {
        super::trace::record(super::trace::Op::Created(p));
    }
    #[cfg(unix)]
    if existed {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(!existed)
}

/// Like [`dir`], and each directory it creates has its entry made durable (its parent fsynced,
/// the top-most first): a data directory created by this start survives a power loss with the
/// writes in it. Directories that existed are left alone (their parents may not be ours to read).
pub fn durable_dir(path: &Path) -> io::Result<()> {
    let missing: Vec<_> = path
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .map(Path::to_path_buf)
        .collect();
    dir(path)?;
    for p in missing.iter().rev() {
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent)?,
            _ => sync_dir(Path::new("."))?,
        }
    }
    Ok(())
}

/// Fsyncs a directory: the entries made in it so far survive a power loss. A file system that
/// cannot sync directories (`EINVAL`) has nothing more to offer and is not an error.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let synced = std::fs::File::open(dir).and_then(|d| d.sync_all());
    match synced {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("syncing the directory {}: {e}", dir.display()),
            ))
        }
        Ok(()) => {}
    }
    #[cfg(test)]
    super::trace::record(super::trace::Op::SyncDir(dir.to_path_buf()));
    Ok(())
}

/// Options that create files readable and writable by the owner only.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// Narrows an existing file to `0600` (files an earlier version wrote).
pub fn narrow(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if path.is_file() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
