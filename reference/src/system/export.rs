//! Full system export (`POST /api/export/system`) in Artifactory's layout, and what import reads
//! back: the export folder, its confinement to the export root, and the metadata files.
//!
//! ```text
//! <exportPath>/<yyyyMMdd.HHmmss>/          (or .zip with createArchive; current/ when incremental)
//!   artifactory.properties                 version, revision, timestamp
//!   artifactory.config.xml                 the general configuration, repositories included
//!   security/security.json                 users, groups, permissions, tokens, API keys (owner only)
//!   repositories/<key>/<path>              content
//!   repositories/<key>/<path>.artifactory-metadata/artifactory-file.xml | artifactory-folder.xml
//!   repositories/<key>/<path>.artifactory-metadata/properties.xml
//! ```
//!
//! The build-info repository is a repository like the others, so builds travel with it.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Map, Value};

use super::xml::{self, Node};
use crate::app::App;
use crate::config::RepoClass;
use crate::store::{Item, Props};

/// Where a repository's content goes inside an export.
pub(crate) const REPOSITORIES: &str = "repositories";
/// The suffix of the folder beside each item that holds its metadata.
pub(crate) const METADATA: &str = ".artifactory-metadata";
/// A file's download statistics inside its metadata folder.
pub(crate) const STATS_FILE: &str = "artifactory.stats.xml";
/// The general configuration inside an export.
pub(crate) const CONFIG_FILE: &str = "artifactory.config.xml";
/// Security inside an export.
pub(crate) const SECURITY_FILE: &str = "security/security.json";

/// Artifactory's message for an export path it will not write to.
pub(crate) const INVALID_EXPORT_DIR: &str = "Invalid Export Directory";
/// Artifactory's message for an import path it will not read from.
pub(crate) const INVALID_IMPORT_DIR: &str = "Invalid Import Directory";

/// The folder exports and imports are confined to.
pub(crate) fn root(app: &App) -> PathBuf {
    app.config
        .export_root
        .clone()
        .unwrap_or_else(|| app.store.root().join("export"))
}

/// Resolves a client's path inside `root` (relative paths are taken from it), refusing what
/// Artifactory's path validator refuses (`$`, UNC `//`, `..`) and anything that leaves the root,
/// through a symbolic link too. The path need not exist yet.
pub(crate) fn confine(root: &Path, given: &str) -> Result<PathBuf, String> {
    let given = given.trim();
    if given.is_empty() {
        return Err("no path given".into());
    }
    if given.contains('$') || given.starts_with("//") || given.starts_with("\\\\") {
        return Err(format!("'{given}' is not a local path"));
    }
    let p = Path::new(given);
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(format!("'{given}' climbs with '..'"));
    }
    crate::store::private::dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let root = root
        .canonicalize()
        .map_err(|e| format!("{}: {e}", root.display()))?;
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    };
    // The deepest part that exists, with its links resolved, then the rest as given.
    let mut existing = full.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name().ok_or("no such folder")?.to_owned());
        existing = existing.parent().ok_or("no such folder")?;
    }
    let mut real = existing
        .canonicalize()
        .map_err(|e| format!("{}: {e}", existing.display()))?;
    for r in rest.iter().rev() {
        real.push(r);
    }
    if !real.starts_with(&root) {
        return Err(format!(
            "'{given}' is outside the export root {}",
            root.display()
        ));
    }
    Ok(real)
}

// ---------------------------------------------------------------------------------------------
// Settings.

/// `ExportSettings` as Artifactory's REST model has them.
#[derive(Clone, Debug)]
pub(crate) struct ExportSettings {
    pub path: String,
    pub include_metadata: bool,
    pub create_archive: bool,
    pub bypass_filtering: bool,
    pub verbose: bool,
    pub fail_on_error: bool,
    pub fail_if_empty: bool,
    pub m2: bool,
    pub incremental: bool,
    pub exclude_content: bool,
    pub include_security: bool,
}

/// What `GET /api/export/system` shows: the defaults, with the export root as the path.
pub(crate) fn example(root: &Path) -> Value {
    json!({
        "exportPath": root.display().to_string(),
        "includeMetadata": true,
        "createArchive": false,
        "bypassFiltering": false,
        "verbose": false,
        "failOnError": true,
        "failIfEmpty": true,
        "m2": false,
        "incremental": false,
        "excludeContent": false,
    })
}

/// Reads a settings document: every field a boolean but the path, unknown fields refused (a
/// misspelt `excludeContent` must not export everything). `flags` are the known boolean fields
/// with their defaults; the result holds them in that order.
pub(crate) fn settings_doc(
    doc: &Value,
    path_field: &str,
    flags: &[(&str, bool)],
) -> Result<(String, Vec<bool>), String> {
    let obj: &Map<String, Value> = doc
        .as_object()
        .ok_or("The settings must be a JSON object")?;
    for k in obj.keys() {
        if k != path_field && !flags.iter().any(|(f, _)| f == k) {
            let known: Vec<&str> = std::iter::once(path_field)
                .chain(flags.iter().map(|(f, _)| *f))
                .collect();
            return Err(format!(
                "Unknown field '{k}' (the settings have {})",
                known.join(", ")
            ));
        }
    }
    let path = match obj.get(path_field) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(format!("Field '{path_field}' must be a string")),
    };
    let mut out = Vec::new();
    for (f, default) in flags {
        out.push(match obj.get(*f) {
            None | Some(Value::Null) => *default,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(format!("Field '{f}' must be true or false")),
        });
    }
    Ok((path, out))
}

impl ExportSettings {
    pub(crate) fn parse(doc: &Value) -> Result<ExportSettings, String> {
        let (path, f) = settings_doc(
            doc,
            "exportPath",
            &[
                ("includeMetadata", true),
                ("createArchive", false),
                ("bypassFiltering", false),
                ("verbose", false),
                ("failOnError", true),
                ("failIfEmpty", true),
                ("m2", false),
                ("incremental", false),
                ("excludeContent", false),
                ("includeSecurity", true),
                ("excludeArtifactBundles", true),
            ],
        )?;
        Ok(ExportSettings {
            path,
            include_metadata: f[0],
            create_archive: f[1],
            bypass_filtering: f[2],
            verbose: f[3],
            fail_on_error: f[4],
            fail_if_empty: f[5],
            m2: f[6],
            incremental: f[7],
            exclude_content: f[8],
            include_security: f[9],
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Metadata files.

/// The item facts an export keeps beside each file or folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    pub created: i64,
    pub created_by: String,
    pub modified: i64,
    pub modified_by: String,
    pub updated: i64,
    pub size: u64,
    pub mime: String,
    /// (type, actual, original) for sha1, md5, sha256.
    pub checksums: Vec<(String, String, Option<String>)>,
    pub props: Vec<(String, String)>,
    /// Download count, last download (epoch ms) and who made it, for a file downloaded at all.
    pub stats: Option<(u64, i64, String)>,
}

impl Meta {
    fn of(item: &Item) -> Meta {
        let mut m = Meta {
            created: item.created,
            created_by: item.created_by.to_string(),
            modified: item.modified,
            modified_by: item.modified_by.to_string(),
            updated: item.updated,
            props: item
                .props
                .pairs()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Meta::default()
        };
        if let Some(f) = &item.file {
            m.size = f.size;
            m.mime = f.mime.to_string();
            let o = f.original.as_deref();
            let st = item.stats();
            if st.downloads > 0 {
                m.stats = Some((
                    st.downloads,
                    st.last_downloaded,
                    st.last_downloaded_by
                        .as_ref()
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                ));
            }
            m.checksums = vec![
                (
                    "sha1".into(),
                    f.sha1.to_string(),
                    o.and_then(|o| o.sha1.clone()),
                ),
                (
                    "md5".into(),
                    f.md5.to_string(),
                    o.and_then(|o| o.md5.clone()),
                ),
                (
                    "sha256".into(),
                    f.sha256.to_string(),
                    o.and_then(|o| o.sha256.clone()),
                ),
            ];
        }
        m
    }

    /// The checksum `kind` as stored (empty when not computed yet).
    pub(crate) fn actual(&self, kind: &str) -> &str {
        self.checksums
            .iter()
            .find(|(t, _, _)| t == kind)
            .map_or("", |(_, a, _)| a.as_str())
    }

    fn file_xml(&self, repo: &str, path: &str) -> String {
        let mut c = self.common(repo, path);
        c.push(Node::text("size", self.size.to_string()));
        c.push(Node::text("mimeType", self.mime.clone()));
        let sums = self
            .checksums
            .iter()
            .filter(|(_, a, _)| !a.is_empty())
            .map(|(t, a, o)| {
                let mut n = vec![
                    Node::text("type", t.clone()),
                    Node::text("actual", a.clone()),
                ];
                if let Some(o) = o {
                    n.push(Node::text("original", o.clone()));
                }
                Node::parent("checksum", n)
            })
            .collect();
        c.push(Node::parent(
            "checksumsInfo",
            vec![Node::parent("checksums", sums)],
        ));
        xml::write(&Node::parent("artifactory-file", c), &[])
    }

    fn folder_xml(&self, repo: &str, path: &str) -> String {
        xml::write(
            &Node::parent("artifactory-folder", self.common(repo, path)),
            &[],
        )
    }

    fn common(&self, repo: &str, path: &str) -> Vec<Node> {
        vec![
            Node::text("name", path.rsplit('/').next().unwrap_or(path).to_string()),
            Node::parent(
                "repoPath",
                vec![Node::text("repoKey", repo), Node::text("path", path)],
            ),
            Node::text("created", self.created.to_string()),
            Node::text("createdBy", self.created_by.clone()),
            Node::text("lastModified", self.modified.to_string()),
            Node::text("modifiedBy", self.modified_by.clone()),
            Node::text("lastUpdated", self.updated.to_string()),
        ]
    }

    fn stats_xml(&self) -> Option<String> {
        let (n, last, by) = self.stats.as_ref()?;
        Some(xml::write(
            &Node::parent(
                "artifactory-stats",
                vec![
                    Node::text("downloadCount", n.to_string()),
                    Node::text("lastDownloaded", last.to_string()),
                    Node::text("lastDownloadedBy", by.clone()),
                ],
            ),
            &[],
        ))
    }

    fn props_xml(&self) -> String {
        let props = self
            .props
            .iter()
            .map(|(k, v)| {
                Node::parent(
                    "property",
                    vec![Node::text("key", k.clone()), Node::text("value", v.clone())],
                )
            })
            .collect();
        xml::write(&Node::parent("properties", props), &[])
    }

    /// Reads `artifactory-file.xml` / `artifactory-folder.xml` and `properties.xml` (either may
    /// be missing: an export without metadata, or an item without properties).
    pub(crate) fn read(
        item_xml: Option<&[u8]>,
        props_xml: Option<&[u8]>,
        stats_xml: Option<&[u8]>,
    ) -> Result<Meta, String> {
        let mut m = Meta::default();
        if let Some(b) = item_xml {
            let doc = xml::parse(b)?;
            let r = &doc.root;
            let num = |name: &str| -> Result<i64, String> {
                match r.child_text(name) {
                    None => Ok(0),
                    Some(t) => t
                        .parse()
                        .map_err(|_| format!("'{name}' must be a number, not '{t}'")),
                }
            };
            m.created = num("created")?;
            m.modified = num("lastModified")?;
            m.updated = num("lastUpdated")?;
            m.size = num("size")?.max(0) as u64;
            m.created_by = r.child_text("createdBy").unwrap_or("").to_string();
            m.modified_by = r.child_text("modifiedBy").unwrap_or("").to_string();
            m.mime = r.child_text("mimeType").unwrap_or("").to_string();
            if let Some(sums) = r.child("checksumsInfo").and_then(|c| c.child("checksums")) {
                for c in &sums.children {
                    m.checksums.push((
                        c.child_text("type").unwrap_or("").to_string(),
                        c.child_text("actual").unwrap_or("").to_string(),
                        c.child_text("original").map(str::to_string),
                    ));
                }
            }
        }
        if let Some(b) = stats_xml {
            let doc = xml::parse(b)?;
            let r = &doc.root;
            let n: u64 = r
                .child_text("downloadCount")
                .unwrap_or("0")
                .parse()
                .map_err(|_| "'downloadCount' must be a number")?;
            let last: i64 = r
                .child_text("lastDownloaded")
                .unwrap_or("0")
                .parse()
                .map_err(|_| "'lastDownloaded' must be a number")?;
            let by = r.child_text("lastDownloadedBy").unwrap_or("").to_string();
            m.stats = (n > 0).then_some((n, last, by));
        }
        if let Some(b) = props_xml {
            let doc = xml::parse(b)?;
            for p in &doc.root.children {
                let key = p
                    .child_text("key")
                    .filter(|k| !k.is_empty())
                    .ok_or("a property in properties.xml has no key")?;
                m.props.push((
                    key.to_string(),
                    p.child_text("value").unwrap_or("").to_string(),
                ));
            }
        }
        Ok(m)
    }

    pub(crate) fn props(&self) -> Props {
        Props::from_pairs(self.props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// Where an item's metadata files go: `<parent>/<name>.artifactory-metadata/`.
pub(crate) fn metadata_dir(item: &Path) -> PathBuf {
    let mut name = item.file_name().unwrap_or_default().to_owned();
    name.push(METADATA);
    item.with_file_name(name)
}

// ---------------------------------------------------------------------------------------------
// The export.

/// What an export or import tells its caller: progress lines, and the errors met.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub lines: Vec<String>,
    pub errors: Vec<String>,
}

impl Report {
    pub(crate) fn status(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!("{line}");
        self.lines.push(line);
    }

    pub(crate) fn error(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::error!("{line}");
        self.lines.push(format!("\n500 : {line}"));
        self.errors.push(line);
    }

    /// The text the client reads.
    pub(crate) fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

/// Items read from the tree per lock: an export holds at most this many copies at a time, so its
/// memory does not grow with the repository, and writers wait for one page at most.
const PAGE: usize = 1000;

/// The next items of repository `key` after `after` (`None`: from the start), in path order (a
/// folder before what it holds), those its patterns refuse left out unless `bypass`; the last path
/// read comes back too, `None` at the end (or when the repository went away meanwhile).
fn page(
    app: &App,
    key: &str,
    after: Option<&str>,
    bypass: bool,
) -> (Vec<(String, Item)>, Option<String>) {
    use std::ops::Bound;
    let state = app.store.read();
    let Some(r) = state.repos.get(key) else {
        return (Vec::new(), None);
    };
    let from = after.map_or(Bound::Unbounded, Bound::Excluded);
    let read: Vec<(String, Item)> = r
        .items
        .range::<str, _>((from, Bound::Unbounded))
        .take(PAGE)
        .map(|(k, i)| (k.to_string(), i.clone()))
        .collect();
    let last = read.last().map(|(k, _)| k.clone());
    let kept = read
        .into_iter()
        .filter(|(path, item)| {
            bypass || crate::repos::resolve::accepts(&r.config, path, item.file.is_none())
        })
        .collect();
    (kept, last)
}

/// Runs an export into `target` (already confined). Blocking: call it off the async threads.
pub(crate) fn export(
    app: &App,
    s: &ExportSettings,
    target: &Path,
    config_xml: String,
    now: i64,
) -> Report {
    let mut report = Report::default();
    let (repos, security) = {
        let state = app.store.read();
        let repos: Vec<(String, usize)> = state
            .repos
            .values()
            .filter(|r| r.config.rclass != RepoClass::Virtual)
            .map(|r| (r.config.key.clone(), r.items.len()))
            .collect();
        let security = s.include_security.then(|| {
            // The instance secret keys this instance's registry tokens and encrypted passwords:
            // it stays here (an import keeps the importing instance's own).
            let mut security = state.security.clone();
            security.secret = crate::store::Secret::default();
            let cipher = app.store.cipher();
            crate::store::secret::writing(cipher.as_ref(), || {
                serde_json::to_vec_pretty(&json!({
                    "security": security,
                    "apiKeys": state.api_keys,
                }))
            })
        });
        (repos, security)
    };
    if repos.is_empty() {
        let m = "There are no repositories to export";
        if s.fail_if_empty {
            report.error(m);
            return report;
        }
        report.status(m);
    }
    let base = target.to_path_buf();
    let name = crate::clock::to_datetime(now);
    let stamp = format!(
        "{:04}{:02}{:02}.{:02}{:02}{:02}",
        name.year(),
        name.month() as u8,
        name.day(),
        name.hour(),
        name.minute(),
        name.second()
    );
    let final_dir = if s.incremental {
        base.join("current")
    } else {
        free_name(&base, &stamp, s.create_archive)
    };
    let work = if s.incremental {
        final_dir.clone()
    } else {
        final_dir.with_extension(format!(
            "{}.tmp",
            final_dir.extension().and_then(|e| e.to_str()).unwrap_or("")
        ))
    };
    report.status(format!(
        "Starting full system export to '{}'",
        base.display()
    ));
    if let Err(e) = crate::store::private::dir(&work) {
        report.error(format!("Could not create {}: {e}", work.display()));
        return report;
    }
    let write = |rel: &str, bytes: &[u8], report: &mut Report| {
        if let Err(e) = write_file(&work.join(rel), bytes) {
            report.error(format!("Could not write {rel}: {e}"));
        }
    };
    write(
        "artifactory.properties",
        format!(
            "artifactory.version={}\nartifactory.revision={}\nartifactory.timestamp={now}\n",
            crate::app::VERSION,
            crate::app::REVISION
        )
        .as_bytes(),
        &mut report,
    );
    report.status("Exporting config...");
    write(CONFIG_FILE, config_xml.as_bytes(), &mut report);
    match security {
        Some(Ok(bytes)) => {
            report.status("Exporting security...");
            write(SECURITY_FILE, &bytes, &mut report);
        }
        Some(Err(e)) => report.error(format!("Could not export security: {e}")),
        None => {}
    }
    for (key, count) in &repos {
        if s.fail_on_error && !report.errors.is_empty() {
            break;
        }
        let dir = work.join(REPOSITORIES).join(key);
        export_repo(app, s, &dir, key, *count, &mut report);
    }
    if s.fail_on_error && !report.errors.is_empty() {
        report.status("Export stopped at the first error (failOnError)");
        return report;
    }
    if s.create_archive {
        report.status("Creating the archive...");
        if let Err(e) = zip_dir(&work, &final_dir) {
            report.error(format!("Could not create {}: {e}", final_dir.display()));
            return report;
        }
        let _ = std::fs::remove_dir_all(&work);
    } else if work != final_dir {
        if let Err(e) = std::fs::rename(&work, &final_dir) {
            report.error(format!("Could not rename {}: {e}", work.display()));
            return report;
        }
    }
    report.status(format!(
        "Full system export completed successfully into '{}'",
        final_dir.display()
    ));
    report
}

/// `<base>/<stamp>` (`.zip`), or with `-2`, `-3`, ... when that exists already.
fn free_name(base: &Path, stamp: &str, archive: bool) -> PathBuf {
    let ext = if archive { ".zip" } else { "" };
    (1..)
        .map(|n| {
            let name = if n == 1 {
                format!("{stamp}{ext}")
            } else {
                format!("{stamp}-{n}{ext}")
            };
            base.join(name)
        })
        .find(|p| !p.exists() && !p.with_extension("tmp").exists())
        .expect("some name is free")
}

/// Creates (or truncates) an owner-only file, making its folder only when it is missing: most
/// items' folders exist already, and a directory check per file was most of an export's time.
fn create(path: &Path) -> std::io::Result<std::fs::File> {
    let open = || {
        crate::store::private::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(p) = path.parent() {
                crate::store::private::dir(p)?;
            }
            open()
        }
        other => other,
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    create(path)?.write_all(bytes)
}

fn export_repo(
    app: &App,
    s: &ExportSettings,
    dir: &Path,
    key: &str,
    count: usize,
    report: &mut Report,
) {
    report.status(format!("Exporting repository '{key}' ({count} items)..."));
    if let Err(e) = crate::store::private::dir(dir) {
        report.error(format!("Could not create {}: {e}", dir.display()));
        return;
    }
    let mut files = 0u64;
    let mut after: Option<String> = None;
    loop {
        let (items, last) = page(app, key, after.as_deref(), s.bypass_filtering);
        if last.is_none() {
            break;
        }
        after = last;
        for (path, item) in &items {
            if s.fail_on_error && !report.errors.is_empty() {
                return;
            }
            if let Some(f) = &item.file {
                files += 1;
                if let Err(e) = export_item(app, s, dir, key, path, item, f.sha256.hex().as_str()) {
                    report.error(format!("Could not export {key}:{path}: {e}"));
                }
            } else if let Err(e) = export_item(app, s, dir, key, path, item, "") {
                report.error(format!("Could not export {key}:{path}: {e}"));
            }
            if s.verbose && !path.is_empty() {
                report.status(format!("Exporting {key}:{path}"));
            }
        }
    }
    report.status(format!("Exported repository '{key}': {files} files"));
}

/// Writes one item of an export: a folder, or a file's content (`sha256` its blob), then its
/// metadata.
fn export_item(
    app: &App,
    s: &ExportSettings,
    dir: &Path,
    key: &str,
    path: &str,
    item: &Item,
    sha256: &str,
) -> std::io::Result<()> {
    // The repository's root is its folder: only its metadata is written.
    if path.is_empty() && !s.include_metadata {
        return Ok(());
    }
    let dest = dir.join(path);
    let meta = Meta::of(item);
    match &item.file {
        None if path.is_empty() => {}
        None => {
            crate::store::private::dir(&dest)?;
        }
        Some(_) => export_file(app, s, &dest, sha256, &meta)?,
    }
    if !s.include_metadata {
        return Ok(());
    }
    let md = metadata_dir(&dest);
    let (name, xml) = if item.file.is_some() {
        ("artifactory-file.xml", meta.file_xml(key, path))
    } else {
        ("artifactory-folder.xml", meta.folder_xml(key, path))
    };
    write_file(&md.join(name), xml.as_bytes())?;
    if !meta.props.is_empty() {
        write_file(&md.join("properties.xml"), meta.props_xml().as_bytes())?;
    }
    if let Some(stats) = meta.stats_xml() {
        write_file(&md.join(STATS_FILE), stats.as_bytes())?;
    }
    Ok(())
}

fn export_file(
    app: &App,
    s: &ExportSettings,
    dest: &Path,
    sha256: &str,
    meta: &Meta,
) -> std::io::Result<()> {
    if s.m2 {
        for kind in ["sha1", "md5"] {
            let sum = meta.actual(kind);
            if !sum.is_empty() {
                let mut side = dest.as_os_str().to_owned();
                side.push(format!(".{kind}"));
                write_file(Path::new(&side), sum.as_bytes())?;
            }
        }
    }
    if s.exclude_content {
        return Ok(());
    }
    // Incremental: content already exported with the same checksum and size stays.
    if s.incremental {
        let same_size = std::fs::metadata(dest).is_ok_and(|m| m.len() == meta.size);
        let old = std::fs::read(metadata_dir(dest).join("artifactory-file.xml")).ok();
        let same_sum = old
            .and_then(|b| Meta::read(Some(&b), None, None).ok())
            .is_some_and(|m| m.actual("sha256") == sha256);
        if same_size && same_sum {
            return Ok(());
        }
    }
    let mut from = app.store.blobs.open_blob(sha256)?;
    std::io::copy(&mut from, &mut create(dest)?)?;
    Ok(())
}

/// Zips the folder `dir` into `zip` (entries relative to `dir`, deflated), streaming each file.
fn zip_dir(dir: &Path, zip: &Path) -> std::io::Result<()> {
    let f = crate::store::private::options()
        .write(true)
        .create_new(true)
        .open(zip)?;
    let mut w = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p
                .strip_prefix(dir)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            if e.file_type()?.is_dir() {
                w.add_directory(format!("{rel}/"), opts)
                    .map_err(std::io::Error::other)?;
                stack.push(p);
            } else {
                w.start_file(rel, opts).map_err(std::io::Error::other)?;
                std::io::copy(&mut std::fs::File::open(&p)?, &mut w)?;
            }
        }
    }
    w.finish().map_err(std::io::Error::other)?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_export_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("export");
        let real_root = {
            std::fs::create_dir_all(&root).unwrap();
            root.canonicalize().unwrap()
        };
        assert_eq!(confine(&root, "a/b").unwrap(), real_root.join("a/b"));
        let abs = real_root.join("x").display().to_string();
        assert_eq!(confine(&root, &abs).unwrap(), real_root.join("x"));
        for bad in ["", "../x", "a/../../x", "/etc", "//server/share", "$HOME/x"] {
            assert!(confine(&root, bad).is_err(), "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(t.path(), root.join("out")).unwrap();
            assert!(confine(&root, "out/x").is_err(), "a link out of the root");
        }
    }

    #[test]
    fn metadata_files_read_back() {
        let m = Meta {
            created: 1,
            created_by: "a".into(),
            modified: 2,
            modified_by: "b & c".into(),
            updated: 3,
            size: 4,
            mime: "text/plain".into(),
            checksums: vec![
                ("sha1".into(), "s1".into(), Some("s1".into())),
                ("md5".into(), "m5".into(), None),
            ],
            props: vec![("k".into(), "v<1>".into()), ("k".into(), "w".into())],
            stats: Some((3, 9, "bob".into())),
        };
        let back = Meta::read(
            Some(m.file_xml("r", "a/b.txt").as_bytes()),
            Some(m.props_xml().as_bytes()),
            m.stats_xml().as_deref().map(str::as_bytes),
        )
        .unwrap();
        assert_eq!(back, m);
    }
}
