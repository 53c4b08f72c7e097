//! The storage API: `/api/storage/{repo}/{path}` (file and folder info, properties, stats, list,
//! lastModified), `/api/metadata/{repo}/{path}`, `/api/storageinfo`, `/api/checksum/sha256`,
//! `/api/copy` and `/api/move`; plus the JSON renderings of items that deploy responses share.

use serde_json::{json, Map, Value};
use warp::http::{header, StatusCode};
use warp::reply::Response;

use super::endpoint::Storage;
use super::path::{self, RepoPath};
use super::{empty, json, read_small, set_header, BodyStream, Req};
use crate::artifacts::props;
use crate::auth::Action;
use crate::clock::{http_date, iso, iso_no_colon};
use crate::config::RepoClass;
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Item, Props, Repo, State};
use crate::transfer;

const FILE_INFO: &str = "application/vnd.org.jfrog.artifactory.storage.FileInfo+json";
const FOLDER_INFO: &str = "application/vnd.org.jfrog.artifactory.storage.FolderInfo+json";
const ITEM_PROPERTIES: &str = "application/vnd.org.jfrog.artifactory.storage.ItemProperties+json";
const STATS_INFO: &str = "application/vnd.org.jfrog.artifactory.storage.StatsInfo+json";
const FILE_LIST: &str = "application/vnd.org.jfrog.artifactory.storage.FileList+json";
const LAST_MODIFIED: &str = "application/vnd.org.jfrog.artifactory.storage.ItemLastModified+json";

/// Answers a storage endpoint.
pub(crate) async fn handle(r: &Req, e: Storage, body: BodyStream) -> Result<Response, ApiError> {
    match e {
        Storage::Info { path } => storage_get(r, &path, View::Info),
        Storage::Stats { path } => storage_get(r, &path, View::Stats),
        Storage::Properties { path } => storage_get(r, &path, View::Properties),
        Storage::List { path } => storage_get(r, &path, View::List),
        Storage::LastModified { path } => storage_get(r, &path, View::LastModified),
        Storage::SetProperties { path } => {
            let Some(spec) = r.query.get("properties") else {
                return Err(ApiError::bad_request("Missing 'properties' parameter"));
            };
            let set = props::parse(spec)?;
            edit_props(r, &path, set, Vec::new(), "recursive").await
        }
        Storage::DeleteProperties { path } => {
            if !r.query.has("properties") {
                return Err(ApiError::bad_request("Missing 'properties' parameter"));
            }
            let keys = r.query.list("properties");
            edit_props(r, &path, Props::default(), keys, "recursive").await
        }
        Storage::Metadata { path } => metadata(r, path, body).await,
        Storage::Summary => storage_info(r),
        Storage::Sha256 => sha256(r, body).await,
        Storage::Copy { src } => transfer(r, src, false).await,
        Storage::Move { src } => transfer(r, src, true).await,
    }
}

/// What a `GET /api/storage/...` asks for (its query keyword).
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Info,
    Stats,
    Properties,
    List,
    LastModified,
}

// ---------- URLs and item renderings (shared with deploy responses) ----------

/// `<base>/<repo>/<path>`.
pub fn download_uri(base: &str, repo: &str, path: &str) -> String {
    if path.is_empty() {
        format!("{base}/{repo}")
    } else {
        format!("{base}/{repo}/{path}")
    }
}

/// `<base>/api/storage/<repo>[/<path>]` (no trailing slash for the repository root).
pub fn storage_uri(base: &str, repo: &str, path: &str) -> String {
    if path.is_empty() {
        format!("{base}/api/storage/{repo}")
    } else {
        format!("{base}/api/storage/{repo}/{path}")
    }
}

fn checksums(item: &Item) -> (Value, Value) {
    let f = item.file.as_ref().expect("a file");
    let actual = json!({"sha1": f.sha1, "md5": f.md5, "sha256": f.sha256});
    let mut orig = Map::new();
    if let Some(v) = &f.original().sha1 {
        orig.insert("sha1".into(), json!(v));
    }
    if let Some(v) = &f.original().md5 {
        orig.insert("md5".into(), json!(v));
    }
    orig.insert(
        "sha256".into(),
        json!(f.original().sha256.as_deref().unwrap_or(&f.sha256.hex())),
    );
    (actual, Value::Object(orig))
}

/// The mime type of a file: the `artifactory.content-type` property, else the stored one.
pub fn mime_of(item: &Item) -> String {
    item.props
        .first("artifactory.content-type")
        .map(str::to_string)
        .unwrap_or_else(|| {
            item.file
                .as_ref()
                .map(|f| f.mime.to_string())
                .unwrap_or_default()
        })
}

/// The deploy response body of a file (`ItemCreated`); `uri` is the download URL.
pub fn file_created(base: &str, repo: &str, path: &str, item: &Item, with_sha256: bool) -> Value {
    let f = item.file.as_ref().expect("a file");
    let (mut actual, mut orig) = checksums(item);
    if !with_sha256 {
        actual.as_object_mut().map(|o| o.remove("sha256"));
        orig.as_object_mut().map(|o| o.remove("sha256"));
    }
    let dl = download_uri(base, repo, path);
    json!({
        "repo": repo,
        "path": format!("/{path}"),
        "created": iso(item.created),
        "createdBy": item.created_by,
        "downloadUri": dl,
        "mimeType": mime_of(item),
        "size": f.size.to_string(),
        "checksums": actual,
        "originalChecksums": orig,
        "uri": dl,
    })
}

/// The create-directory response body: `path` and `uri` with a trailing slash, no children.
pub fn folder_created(base: &str, repo: &str, path: &str, item: &Item) -> Value {
    let p = if path.is_empty() {
        "/".to_string()
    } else {
        format!("/{path}/")
    };
    json!({
        "repo": repo,
        "path": p,
        "created": iso(item.created),
        "createdBy": item.created_by,
        "uri": format!("{base}/{repo}{p}"),
    })
}

pub fn file_info(base: &str, repo: &str, path: &str, item: &Item) -> Value {
    let f = item.file.as_ref().expect("a file");
    let (actual, orig) = checksums(item);
    json!({
        "repo": repo,
        "path": format!("/{path}"),
        "created": iso(item.created),
        "createdBy": item.created_by,
        "lastModified": iso(item.modified),
        "modifiedBy": item.modified_by,
        "lastUpdated": iso(item.updated),
        "downloadUri": download_uri(base, repo, path),
        "mimeType": mime_of(item),
        "size": f.size.to_string(),
        "checksums": actual,
        "originalChecksums": orig,
        "uri": storage_uri(base, repo, path),
    })
}

/// Folder info; `visible` says which children (by full path) the caller may see.
fn folder_info(
    base: &str,
    repo_key: &str,
    state: &State,
    path: &str,
    item: &Item,
    visible: &dyn Fn(&str) -> bool,
) -> Value {
    let children: Vec<Value> = state
        .children_of(repo_key, path)
        .into_iter()
        .filter(|(name, _)| visible(&child_path(path, name)))
        .map(|(name, folder)| json!({"uri": format!("/{name}"), "folder": folder}))
        .collect();
    json!({
        "repo": repo_key,
        "path": format!("/{path}"),
        "created": iso(item.created),
        "createdBy": item.created_by,
        "lastModified": iso(item.modified),
        "modifiedBy": item.modified_by,
        "lastUpdated": iso(item.updated),
        "children": children,
        "uri": storage_uri(base, repo_key, path),
    })
}

/// `{"properties":{...},"uri":...}` for the keys asked (all when `only` is empty); 404 when none.
pub fn properties_response(
    base: &str,
    repo: &str,
    path: &str,
    item: &Item,
    only: &[String],
) -> Result<Response, ApiError> {
    let props: Map<String, Value> = item
        .props
        .groups()
        .filter(|(k, _)| only.is_empty() || only.iter().any(|o| o == k))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if props.is_empty() {
        return Err(ApiError::not_found("No properties could be found."));
    }
    let mut r = json(
        StatusCode::OK,
        ITEM_PROPERTIES,
        &json!({"properties": props, "uri": storage_uri(base, repo, path)}),
    );
    set_header(&mut r, header::CACHE_CONTROL, "no-store");
    Ok(r)
}

// ---------- /api/storage ----------

fn storage_get(r: &Req, p: &RepoPath, view: View) -> Result<Response, ApiError> {
    let caller = r.require(Action::Read, &p.repo, &p.path, |c| {
        ApiError::text(
            403,
            format!(
                "Request for '{}' is forbidden for user: '{}'.",
                p.repo_path_id(),
                c.name
            ),
        )
    })?;
    let base = r.base_url();
    let state = r.state.store.read();
    let q = &r.query;
    let found = state.resolve(&p.repo, &p.path);
    if view == View::Stats {
        let (_, item) = found.ok_or_else(|| ApiError::not_found("Unable to find item path"))?;
        let mut v = Map::new();
        v.insert("uri".into(), json!(download_uri(&base, &p.repo, &p.path)));
        let stats = item.stats();
        v.insert("downloadCount".into(), json!(stats.downloads));
        v.insert("lastDownloaded".into(), json!(stats.last_downloaded));
        if let Some(by) = &stats.last_downloaded_by {
            v.insert("lastDownloadedBy".into(), json!(by));
        }
        v.insert("remoteDownloadCount".into(), json!(0));
        v.insert("remoteLastDownloaded".into(), json!(0));
        return Ok(json(StatusCode::OK, STATS_INFO, &v));
    }
    if state
        .repo(&p.repo)
        .is_some_and(|r| r.config.rclass == RepoClass::Virtual)
        && found.is_none()
    {
        return Err(ApiError::empty(404));
    }
    let (repo, item) = found.ok_or_else(|| ApiError::not_found("Unable to find item"))?;
    if view == View::Properties {
        return properties_response(&base, &p.repo, &p.path, item, &q.list("properties"));
    }
    if view == View::List {
        if caller.anonymous {
            return Err(ApiError::forbidden(
                "This resource is available to authenticated users only.",
            ));
        }
        return list(&base, repo, p, item, q, &|c| {
            r.may(&state, Action::Read, &p.repo, c)
        });
    }
    if view == View::LastModified {
        if !repo.is_local() {
            return Err(ApiError::bad_request(
                "This method can only be invoked on local/cached repositories.",
            ));
        }
        let (key, newest) = repo
            .subtree(&p.path)
            .filter(|(_, i)| !i.is_folder())
            .max_by_key(|(_, i)| i.modified)
            .map(|(k, i)| (k.as_str(), i))
            .unwrap_or((p.path.as_str(), item));
        let mut resp = json(
            StatusCode::OK,
            LAST_MODIFIED,
            &json!({"uri": storage_uri(&base, &p.repo, key), "lastModified": iso_no_colon(newest.modified)}),
        );
        set_header(
            &mut resp,
            header::LAST_MODIFIED,
            &http_date(newest.modified),
        );
        return Ok(resp);
    }
    if item.is_folder() {
        let mut resp = json(
            StatusCode::OK,
            FOLDER_INFO,
            &folder_info(&base, &p.repo, &state, &p.path, item, &|c| {
                r.may(&state, Action::Read, &p.repo, c)
            }),
        );
        set_header(&mut resp, header::CACHE_CONTROL, "no-store");
        Ok(resp)
    } else {
        Ok(json(
            StatusCode::OK,
            FILE_INFO,
            &file_info(&base, &p.repo, &p.path, item),
        ))
    }
}

fn list(
    base: &str,
    repo: &Repo,
    p: &RepoPath,
    item: &Item,
    q: &super::Query,
    visible: &dyn Fn(&str) -> bool,
) -> Result<Response, ApiError> {
    if !item.is_folder() {
        return Err(ApiError::bad_request(format!(
            "Expected a folder but found a file: {}",
            p.repo_path_id()
        )));
    }
    let deep = q.flag("deep", false);
    let depth: Option<usize> = q.get("depth").and_then(|d| d.parse().ok());
    let list_folders = q.flag("listFolders", false);
    let md = q.flag("mdTimestamps", false);
    let mut files = Vec::new();
    if q.flag("includeRootPath", false) {
        files.push(
            json!({"uri": "/", "size": -1, "lastModified": iso(item.modified), "folder": true}),
        );
    }
    let prefix_len = if p.path.is_empty() {
        0
    } else {
        p.path.len() + 1
    };
    for (key, i) in repo.subtree(&p.path) {
        if key.as_str() == p.path || !visible(key) {
            continue;
        }
        let rel = &key[prefix_len..];
        let level = rel.matches('/').count() + 1;
        let max = if deep { depth.unwrap_or(usize::MAX) } else { 1 };
        if level > max || (i.is_folder() && !list_folders) {
            continue;
        }
        let mut v = Map::new();
        v.insert("uri".into(), json!(format!("/{rel}")));
        match &i.file {
            Some(f) => {
                v.insert("size".into(), json!(f.size));
                v.insert("lastModified".into(), json!(iso(i.modified)));
                v.insert("folder".into(), json!(false));
                v.insert("sha1".into(), json!(f.sha1));
                v.insert("sha2".into(), json!(f.sha256));
                if md && !i.props.is_empty() {
                    v.insert("mdTimestamps".into(), json!({"properties": iso(i.updated)}));
                }
            }
            None => {
                v.insert("size".into(), json!(-1));
                v.insert("lastModified".into(), json!(iso(i.modified)));
                v.insert("folder".into(), json!(true));
            }
        }
        files.push(Value::Object(v));
    }
    let body = json!({"uri": storage_uri(base, &p.repo, &p.path), "created": iso(item.created), "files": files});
    Ok(json(StatusCode::OK, FILE_LIST, &body))
}

/// Sets and removes properties on an item (recursively for folders unless `<recursive_param>=0`).
async fn edit_props(
    r: &Req,
    p: &RepoPath,
    set: Props,
    remove: Vec<String>,
    recursive_param: &str,
) -> Result<Response, ApiError> {
    let caller = r.caller()?.clone();
    let edit = props::Edit {
        repo: p.repo.clone(),
        path: p.path.clone(),
        set,
        remove,
        recursive: r.query.flag(recursive_param, true),
    };
    props::edit(&r.state, &caller, edit, || {
        msg::annotate_forbidden(&caller.name, &p.repo, &p.path)
    })
    .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

// ---------- /api/metadata ----------

async fn metadata(r: &Req, p: RepoPath, body: BodyStream) -> Result<Response, ApiError> {
    r.require(Action::Annotate, &p.repo, &p.path, |c| {
        ApiError::text(
            403,
            format!(
                "Request for '{}' is forbidden for user: '{}', You must have annotate permission on this path",
                p.repo_path_id(),
                c.name
            ),
        )
    })?;
    let bytes = read_small(body, 4 << 20).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON: {e}")))?;
    let (set, remove) = props::patch(&doc)?;
    edit_props(r, &p, set, remove, "recursiveProperties").await
}

/// `path/name`, or `name` at the root.
fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
}

// ---------- /api/storageinfo ----------

fn storage_info(r: &Req) -> Result<Response, ApiError> {
    let state = r.state.store.read();
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
    let dir = r.state.store.blobs.root().to_path_buf();
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
    Ok(json(StatusCode::OK, "application/json", &body))
}

/// `StorageUnit.toReadableString`: `<n> bytes` below 1024, else two decimals with grouping and a unit.
pub fn readable(n: u64) -> String {
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
pub fn grouped(n: u64) -> String {
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

// ---------- /api/checksum/sha256 ----------

async fn sha256(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let bytes = read_small(body, 1 << 20).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON: {e}")))?;
    let repo = doc
        .get("repoKey")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("repoKey is required"))?;
    let raw_path = doc.get("path").and_then(Value::as_str).unwrap_or("");
    let p = path::parse(&format!("{repo}/{}", raw_path.replace('%', "%25")))
        .map_err(|e| ApiError::bad_request(e.0))?;
    props::fill_sha256(&r.state, &p.repo, &p.path).await?;
    Ok(empty(StatusCode::OK))
}

// ---------- /api/copy and /api/move ----------

async fn transfer(r: &Req, src: RepoPath, mv: bool) -> Result<Response, ApiError> {
    let to = r
        .query
        .get("to")
        .ok_or_else(|| ApiError::bad_request("The 'to' parameter is required"))?;
    let dst = path::parse(&to.replace('%', "%25")).map_err(|e| ApiError::bad_request(e.0))?;
    let caller = r.caller()?.clone();
    let t = transfer::Transfer {
        src_repo: src.repo,
        src_path: src.path,
        dst_repo: dst.repo,
        dst_path: dst.path,
        into: dst.trailing_slash,
        mv,
        dry: r.query.flag("dry", false),
    };
    Ok(info(transfer::run(&r.state, &caller, &t).await?))
}

/// A finished copy or move: its `INFO` message.
fn info(message: String) -> Response {
    json(
        StatusCode::OK,
        super::error::COPY_MOVE,
        &json!({"messages": [{"level": "INFO", "message": message}]}),
    )
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
