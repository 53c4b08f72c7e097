//! Full system import (`POST /api/import/system`) and repository import
//! (`POST /api/import/repositories`) from the layout [`super::export`] writes, a folder or a zip.
//!
//! A system import loads the configuration (repositories created, changed, removed), adds the
//! security entities the instance does not have (JCR keeps the ones it has), then replaces the
//! content of every repository the export holds. A repository import adds to the repositories it
//! names. Content is streamed into the blob store (one copy per content, whatever the paths) and
//! checked against the checksums in its metadata; each batch of items is one journal record,
//! written once one flush of the file system has made the batch's blobs durable.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::export::{
    metadata_dir, Meta, Report, CONFIG_FILE, METADATA, REPOSITORIES, SECURITY_FILE,
};
use crate::app::App;
use crate::auth::model::{Security, SecurityChange};
use crate::config::RepoClass;
use crate::store::{FileData, Mutation, Original, Secret, Stamp};

/// Items committed per journal record.
const BATCH: usize = 1000;

/// `ImportSettings` as Artifactory's REST model has them.
#[derive(Clone, Debug)]
pub(crate) struct ImportSettings {
    pub path: String,
    pub include_metadata: bool,
    pub verbose: bool,
    pub fail_on_error: bool,
    pub fail_if_empty: bool,
}

/// What `GET /api/import/system` shows.
pub(crate) fn example(root: &Path) -> serde_json::Value {
    serde_json::json!({
        "importPath": root.display().to_string(),
        "includeMetadata": true,
        "verbose": false,
        "failOnError": true,
        "failIfEmpty": true,
    })
}

impl ImportSettings {
    pub(crate) fn parse(doc: &serde_json::Value) -> Result<ImportSettings, String> {
        let (path, f) = super::export::settings_doc(
            doc,
            "importPath",
            &[
                ("includeMetadata", true),
                ("verbose", false),
                ("failOnError", true),
                ("failIfEmpty", true),
                ("enableCopySecurityAccessDir", false),
            ],
        )?;
        Ok(ImportSettings {
            path,
            include_metadata: f[0],
            verbose: f[1],
            fail_on_error: f[2],
            fail_if_empty: f[3],
        })
    }
}

/// One item found in an export folder.
#[derive(Debug)]
struct Entry {
    path: String,
    /// The content (`None`: a folder).
    file: Option<PathBuf>,
    meta: Option<Meta>,
}

/// Whether `name` is a checksum file written beside the file it sums (`m2` exports).
fn sidecar(dir: &Path, name: &str) -> bool {
    [".sha1", ".md5", ".sha256"].iter().any(|ext| {
        name.strip_suffix(ext)
            .is_some_and(|base| !base.is_empty() && dir.join(base).is_file())
    })
}

/// Reads an item's metadata files, when the export has them.
fn read_meta(item: &Path, folder: bool) -> Result<Option<Meta>, String> {
    let md = metadata_dir(item);
    let name = if folder {
        "artifactory-folder.xml"
    } else {
        "artifactory-file.xml"
    };
    let read = |p: PathBuf| match std::fs::read(&p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    };
    let item_xml = read(md.join(name))?;
    let props = read(md.join("properties.xml"))?;
    let stats = if folder {
        None
    } else {
        read(md.join(super::export::STATS_FILE))?
    };
    if item_xml.is_none() && props.is_none() && stats.is_none() {
        return Ok(None);
    }
    Meta::read(item_xml.as_deref(), props.as_deref(), stats.as_deref())
        .map(Some)
        .map_err(|e| format!("{}: {e}", md.display()))
}

/// Hands a repository folder's items to `found` one at a time, a folder before what it holds,
/// and an error for each link and name the tree cannot hold; stops when `found` says so (the
/// importer went away). Blocking.
fn walk(dir: &Path, metadata: bool, found: &mut dyn FnMut(Result<Entry, String>) -> bool) {
    if metadata {
        let root = read_meta(dir, true).transpose().map(|m| {
            m.map(|m| Entry {
                path: String::new(),
                file: None,
                meta: Some(m),
            })
        });
        if let Some(r) = root {
            if !found(r) {
                return;
            }
        }
    }
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let mut entries = match std::fs::read_dir(&d) {
            Ok(rd) => rd.filter_map(Result::ok).collect::<Vec<_>>(),
            Err(e) => {
                if !found(Err(format!("{}: {e}", d.display()))) {
                    return;
                }
                continue;
            }
        };
        entries.sort_by_key(|e| e.file_name());
        let mut folders = Vec::new();
        for e in entries {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                if !found(Err(format!(
                    "{}: the name is not UTF-8",
                    e.path().display()
                ))) {
                    return;
                }
                continue;
            };
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                if !found(Err(format!(
                    "Refusing the symbolic link '{path}': an import reads only what is inside its folder"
                ))) {
                    return;
                }
                continue;
            }
            if name.ends_with(METADATA) && ft.is_dir() {
                continue;
            }
            if name == "." || name == ".." || name.contains('\\') {
                if !found(Err(format!("Refusing the entry '{path}'"))) {
                    return;
                }
                continue;
            }
            if ft.is_file() && sidecar(&d, &name) {
                continue;
            }
            let meta = if metadata {
                match read_meta(&e.path(), ft.is_dir()) {
                    Ok(m) => m,
                    Err(err) => {
                        if !found(Err(err)) {
                            return;
                        }
                        None
                    }
                }
            } else {
                None
            };
            let sent = if ft.is_dir() {
                folders.push((e.path(), path.clone()));
                found(Ok(Entry {
                    path,
                    file: None,
                    meta,
                }))
            } else if ft.is_file() {
                found(Ok(Entry {
                    path,
                    file: Some(e.path()),
                    meta,
                }))
            } else {
                true
            };
            if !sent {
                return;
            }
        }
        // Depth first, in name order.
        stack.extend(folders.into_iter().rev());
    }
}

/// Imports one repository folder into `repo` (which exists). `replace` clears it first.
async fn import_repo(
    app: &App,
    repo: &str,
    dir: &Path,
    s: &ImportSettings,
    replace: bool,
    user: &str,
    report: &mut Report,
) {
    report.status(format!("Importing repository '{repo}'..."));
    // The folder is walked on a blocking thread and its items streamed here: memory stays bounded
    // by the channel, whatever the folder holds.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Entry, String>>(256);
    let (d, metadata) = (dir.to_path_buf(), s.include_metadata);
    let walker = tokio::task::spawn_blocking(move || {
        walk(&d, metadata, &mut |found| tx.blocking_send(found).is_ok());
    });
    let now = app.config.clock.now_ms();
    let mut steps = Vec::new();
    if replace {
        steps.push(Mutation::Delete {
            repo: repo.into(),
            path: String::new(),
        });
    }
    let mut pin = Some(app.store.blobs.pin().await);
    let mut files = 0u64;
    while let Some(found) = rx.recv().await {
        if s.fail_on_error && !report.errors.is_empty() {
            break;
        }
        let e = match found {
            Ok(e) => e,
            Err(why) => {
                report.error(why);
                continue;
            }
        };
        if s.verbose {
            report.status(format!("Importing {repo}:{}", e.path));
        }
        let meta = e.meta.unwrap_or_default();
        let by = |who: &str| {
            if who.is_empty() {
                user.to_string()
            } else {
                who.to_string()
            }
        };
        let Some(file) = e.file else {
            steps.push(Mutation::MakeFolder {
                repo: repo.into(),
                path: e.path,
                props: meta.props(),
                now: if meta.updated > 0 { meta.updated } else { now },
                user: by(&meta.created_by),
                stamp: stamp(&meta, &by),
            });
            continue;
        };
        if pin.is_none() {
            pin = Some(app.store.blobs.pin().await);
        }
        match ingest(app, &file, &meta).await {
            Ok(data) => {
                files += 1;
                let stats = meta
                    .stats
                    .clone()
                    .map(|(downloads, last, by)| Mutation::SetStats {
                        repo: repo.into(),
                        path: e.path.clone(),
                        downloads,
                        last_downloaded: last,
                        last_downloaded_by: (!by.is_empty()).then_some(by),
                    });
                steps.push(Mutation::PutFile {
                    repo: repo.into(),
                    path: e.path,
                    file: data,
                    props: meta.props(),
                    now: if meta.updated > 0 { meta.updated } else { now },
                    user: by(&meta.created_by),
                    stamp: stamp(&meta, &by),
                });
                steps.extend(stats);
            }
            Err(err) => report.error(format!("{repo}:{}: {err}", e.path)),
        }
        if steps.len() >= BATCH {
            commit(app, std::mem::take(&mut steps), report).await;
            pin = None;
        }
    }
    drop(rx);
    let _ = walker.await;
    if !steps.is_empty() {
        commit(app, steps, report).await;
    }
    drop(pin);
    report.status(format!("Imported repository '{repo}': {files} files"));
}

/// The times and author an item's metadata gives (none without metadata).
fn stamp(meta: &Meta, by: &dyn Fn(&str) -> String) -> Stamp {
    if meta.created <= 0 {
        return Stamp::default();
    }
    Stamp {
        created: Some(meta.created),
        modified: Some(meta.modified),
        modified_by: Some(by(&meta.modified_by)),
    }
}

/// Commits a batch once the blobs it names are durable (they were written without fsyncs: one
/// flush for the batch).
async fn commit(app: &App, steps: Vec<Mutation>, report: &mut Report) {
    if let Err(e) = app.store.blobs.sync_all().await {
        report.error(format!("Could not make the imported content durable: {e}"));
        return;
    }
    if let Err(e) = app.store.commit(Mutation::Batch { steps }).await {
        report.error(format!("Could not store the imported items: {e:?}"));
    }
}

/// Streams a file into the blob store and checks it against its metadata.
async fn ingest(app: &App, file: &Path, meta: &Meta) -> Result<FileData, String> {
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 << 10);
    let info = app
        .store
        .blobs
        .ingest_unsynced(stream, None)
        .await
        .map_err(|e| format!("could not store the content: {e:?}"))?;
    for (kind, got) in [
        ("sha1", &info.sha1),
        ("md5", &info.md5),
        ("sha256", &info.sha256),
    ] {
        let want = meta.actual(kind);
        if !want.is_empty() && !want.eq_ignore_ascii_case(got) {
            return Err(format!(
                "Checksum mismatch: the metadata says {kind} {want}, the content has {got}"
            ));
        }
    }
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mime = if meta.mime.is_empty() {
        crate::mime::for_name(name).to_string()
    } else {
        meta.mime.clone()
    };
    let mut data = FileData::of_blob(&info, &mime);
    let original = |kind: &str| {
        meta.checksums
            .iter()
            .find(|(t, _, _)| t == kind)
            .and_then(|(_, _, o)| o.clone())
    };
    let o = Original {
        sha1: original("sha1"),
        md5: original("md5"),
        sha256: original("sha256"),
    };
    if o.sha1.is_some() || o.md5.is_some() || o.sha256.is_some() {
        data.original = Some(Box::new(o));
    }
    Ok(data)
}

/// Whether `dir` holds anything.
fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

/// Security as an export holds it.
#[derive(Deserialize)]
struct SecurityDoc {
    security: Security,
    #[serde(rename = "apiKeys", default)]
    api_keys: std::collections::BTreeMap<String, Secret>,
}

/// Adds the users, groups, permission targets, tokens and API keys of `doc` that this instance
/// does not have; what it has stays as it is.
fn security_changes(doc: SecurityDoc, state: &crate::store::State) -> Vec<Mutation> {
    let mine = &state.security;
    let mut out = Vec::new();
    for (name, g) in doc.security.groups {
        if !mine.groups.contains_key(&name) {
            out.push(Mutation::Security(SecurityChange::PutGroup {
                group: g,
                members: None,
            }));
        }
    }
    for (name, u) in doc.security.users {
        if !mine.users.contains_key(&name) {
            out.push(Mutation::Security(SecurityChange::PutUser { user: u }));
        }
    }
    for (name, p) in doc.security.permissions {
        if !mine.permissions.contains_key(&name) {
            out.push(Mutation::Security(SecurityChange::PutPermission {
                permission: p,
            }));
        }
    }
    for (id, t) in doc.security.tokens {
        if !mine.tokens.contains_key(&id) {
            out.push(Mutation::Security(SecurityChange::AddToken { token: t }));
        }
    }
    for (user, key) in doc.api_keys {
        if !state.api_keys.contains_key(&user) {
            out.push(Mutation::SetApiKey { user, key });
        }
    }
    out
}

/// Extracts a zip export into a new folder under `root`, refusing entries that would land
/// outside it (`../`, absolute names) and links. Blocking.
pub(crate) fn unzip(zip_path: &Path, root: &Path) -> Result<tempfile::TempDir, String> {
    let f = std::fs::File::open(zip_path).map_err(|e| format!("{}: {e}", zip_path.display()))?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| format!("{} is not a zip archive: {e}", zip_path.display()))?;
    let out = tempfile::Builder::new()
        .prefix(".import-")
        .tempdir_in(root)
        .map_err(|e| e.to_string())?;
    for i in 0..z.len() {
        let mut entry = z.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let name = entry.name().to_string();
        let Some(rel) = entry.enclosed_name() else {
            return Err(format!(
                "The archive entry '{name}' would be written outside the folder it is extracted into"
            ));
        };
        if entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(format!("The archive entry '{name}' is a symbolic link"));
        }
        let dest = out.path().join(rel);
        if entry.is_dir() {
            crate::store::private::dir(&dest).map_err(|e| format!("{name}: {e}"))?;
            continue;
        }
        if let Some(p) = dest.parent() {
            crate::store::private::dir(p).map_err(|e| format!("{name}: {e}"))?;
        }
        let mut w = crate::store::private::options()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|e| format!("{name}: {e}"))?;
        std::io::copy(&mut entry, &mut w).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(out)
}

/// A full system import from `dir` (confined, existing).
pub(crate) async fn system(app: &App, s: &ImportSettings, dir: &Path, user: &str) -> Report {
    let mut report = Report::default();
    report.status(format!(
        "Starting full system import from '{}'",
        dir.display()
    ));
    if !dir.is_dir() || !has_entries(dir) {
        let m = "The given base directory is either empty, or non-existent";
        if s.fail_if_empty {
            report.error(m);
        } else {
            report.status(m);
        }
        return report;
    }
    let config = dir.join(CONFIG_FILE);
    if config.is_file() {
        report.status("Importing config...");
        report.status(format!("Reloading configuration from {}", config.display()));
        let bytes = match tokio::fs::read(&config).await {
            Ok(b) => b,
            Err(e) => {
                report.error(format!("{}: {e}", config.display()));
                return report;
            }
        };
        if let Err(e) = super::descriptor::save(app, &bytes, user).await {
            let why = match e {
                crate::store::Refusal::Check(m) => m,
                crate::store::Refusal::Commit(c) => format!("{c:?}"),
            };
            report.error(format!("Could not import the configuration: {why}"));
            return report;
        }
        report.status(format!("Configuration reloaded from {}", config.display()));
    }
    let security = dir.join(SECURITY_FILE);
    if security.is_file() {
        report.status("Importing security...");
        if let Err(e) = import_security(app, &security).await {
            report.error(format!("Could not import security: {e}"));
            if s.fail_on_error {
                return report;
            }
        }
    }
    let repos_dir = dir.join(REPOSITORIES);
    if !repos_dir.is_dir() {
        if s.fail_if_empty {
            report.error("Could not find content to restore. Verify your export includes content or check the 'exclude content' checkbox");
        } else {
            report.status(format!(
                "No repositories root to import at {}",
                repos_dir.display()
            ));
        }
        return report;
    }
    let keys: Vec<String> = {
        let state = app.store.read();
        state
            .repos
            .values()
            .filter(|r| r.config.rclass != RepoClass::Virtual)
            .map(|r| r.config.key.clone())
            .collect()
    };
    for key in keys {
        if s.fail_on_error && !report.errors.is_empty() {
            break;
        }
        let d = repos_dir.join(&key);
        if d.is_dir() {
            import_repo(app, &key, &d, s, true, user, &mut report).await;
        }
    }
    finish(&mut report, s, "Full system import");
    report
}

fn finish(report: &mut Report, s: &ImportSettings, what: &str) {
    if report.errors.is_empty() {
        report.status(format!("{what} completed successfully"));
    } else if s.fail_on_error {
        report.status(format!("{what} stopped at the first error (failOnError)"));
    } else {
        report.status(format!(
            "{what} finished with {} errors",
            report.errors.len()
        ));
    }
}

async fn import_security(app: &App, file: &Path) -> Result<(), String> {
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let cipher = app.store.cipher();
    let doc: SecurityDoc =
        crate::store::secret::reading(cipher.as_ref(), || serde_json::from_slice(&bytes))
            .map_err(|e| format!("{}: {e}", file.display()))?;
    let steps = security_changes(doc, &app.store.read());
    if !steps.is_empty() {
        app.store
            .commit(Mutation::Batch { steps })
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

/// `POST /api/import/repositories`: `dir` is one repository's folder (with `repo`) or a folder of
/// repository folders named by key. Adds to what the repositories hold.
pub(crate) async fn repositories(
    app: &App,
    s: &ImportSettings,
    dir: &Path,
    repo: Option<&str>,
    user: &str,
) -> Report {
    let mut report = Report::default();
    let what = repo.unwrap_or("All repositories");
    report.status(format!(
        "Starting Repositories Import of {what} from {}",
        dir.display()
    ));
    let exists = |k: &str| {
        app.store
            .read()
            .repos
            .get(k)
            .is_some_and(|r| r.config.rclass != RepoClass::Virtual)
    };
    match repo {
        Some(k) => {
            if !exists(k) {
                report.error(format!(
                    "Repository '{k}' does not exist or is not a local or remote repository"
                ));
                return report;
            }
            import_repo(app, k, dir, s, false, user, &mut report).await;
        }
        None => {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .filter_map(|e| e.file_name().to_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            let targets: Vec<String> = names.into_iter().filter(|n| exists(n)).collect();
            if targets.is_empty() && s.fail_if_empty {
                report.error("The selected directory did not contain any repositories.");
                return report;
            }
            for k in targets {
                if s.fail_on_error && !report.errors.is_empty() {
                    break;
                }
                import_repo(app, &k, &dir.join(&k), s, false, user, &mut report).await;
            }
        }
    }
    finish(&mut report, s, "Repositories import");
    report
}
