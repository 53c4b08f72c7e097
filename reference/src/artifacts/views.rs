//! The storage API's renderings of items, in Artifactory's field order: file and folder info, the
//! deploy answers (`ItemCreated`), download statistics, file lists, last modified and properties.
//! Absolute URLs hang under the base URL the caller passes.

use serde_json::{json, Map, Value};

use crate::clock::{iso, iso_no_colon};
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Item, Repo, State};

/// `<base>/<repo>/<path>`.
pub(crate) fn download_uri(base: &str, repo: &str, path: &str) -> String {
    if path.is_empty() {
        format!("{base}/{repo}")
    } else {
        format!("{base}/{repo}/{path}")
    }
}

/// `<base>/api/storage/<repo>[/<path>]` (no trailing slash for the repository root).
pub(crate) fn storage_uri(base: &str, repo: &str, path: &str) -> String {
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
pub(crate) fn mime_of(item: &Item) -> String {
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
pub(crate) fn file_created(
    base: &str,
    repo: &str,
    path: &str,
    item: &Item,
    with_sha256: bool,
) -> Value {
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
pub(crate) fn folder_created(base: &str, repo: &str, path: &str, item: &Item) -> Value {
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

/// The fields file and folder info start with: repository, path, who made and changed it when.
fn info_head(repo: &str, path: &str, item: &Item) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("repo".into(), json!(repo));
    v.insert("path".into(), json!(format!("/{path}")));
    v.insert("created".into(), json!(iso(item.created)));
    v.insert("createdBy".into(), json!(item.created_by));
    v.insert("lastModified".into(), json!(iso(item.modified)));
    v.insert("modifiedBy".into(), json!(item.modified_by));
    v.insert("lastUpdated".into(), json!(iso(item.updated)));
    v
}

/// File info; `remote_url`: where a remote repository's cached file came from.
pub(crate) fn file_info(
    base: &str,
    repo: &str,
    path: &str,
    item: &Item,
    remote_url: Option<String>,
) -> Value {
    let f = item.file.as_ref().expect("a file");
    let (actual, orig) = checksums(item);
    let mut v = info_head(repo, path, item);
    v.insert("downloadUri".into(), json!(download_uri(base, repo, path)));
    if let Some(u) = remote_url {
        v.insert("remoteUrl".into(), json!(u));
    }
    v.insert("mimeType".into(), json!(mime_of(item)));
    v.insert("size".into(), json!(f.size.to_string()));
    v.insert("checksums".into(), actual);
    v.insert("originalChecksums".into(), orig);
    v.insert("uri".into(), json!(storage_uri(base, repo, path)));
    Value::Object(v)
}

/// Folder info; `visible` says which children (by full path) the caller may see.
pub(crate) fn folder_info(
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
    let mut v = info_head(repo_key, path, item);
    v.insert("children".into(), json!(children));
    v.insert("uri".into(), json!(storage_uri(base, repo_key, path)));
    Value::Object(v)
}

/// `path/name`, or `name` at the root.
fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
}

/// The properties asked (all when `only` is empty) with the item's storage URI; 404 when none.
pub(crate) fn properties(
    base: &str,
    repo: &str,
    path: &str,
    item: &Item,
    only: &[String],
) -> Result<Value, ApiError> {
    let props: Map<String, Value> = item
        .props
        .groups()
        .filter(|(k, _)| only.is_empty() || only.iter().any(|o| o == k))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    if props.is_empty() {
        return Err(msg::no_properties());
    }
    Ok(json!({"properties": props, "uri": storage_uri(base, repo, path)}))
}

/// Download statistics (`?stats`).
pub(crate) fn stats(base: &str, repo: &str, path: &str, item: &Item) -> Value {
    let mut v = Map::new();
    v.insert("uri".into(), json!(download_uri(base, repo, path)));
    let stats = item.stats();
    v.insert("downloadCount".into(), json!(stats.downloads));
    v.insert("lastDownloaded".into(), json!(stats.last_downloaded));
    if let Some(by) = &stats.last_downloaded_by {
        v.insert("lastDownloadedBy".into(), json!(by));
    }
    v.insert("remoteDownloadCount".into(), json!(0));
    v.insert("remoteLastDownloaded".into(), json!(0));
    Value::Object(v)
}

/// The newest file at or under `path` (`?lastModified`), and when it changed.
pub(crate) fn last_modified(
    base: &str,
    repo: &Repo,
    path: &str,
    item: &Item,
) -> Result<(Value, i64), ApiError> {
    if !repo.is_local() {
        return Err(msg::local_or_cached_only());
    }
    let (key, newest) = repo
        .subtree(path)
        .filter(|(_, i)| !i.is_folder())
        .max_by_key(|(_, i)| i.modified)
        .map(|(k, i)| (k.as_str(), i))
        .unwrap_or((path, item));
    let v = json!({
        "uri": storage_uri(base, &repo.config.key, key),
        "lastModified": iso_no_colon(newest.modified),
    });
    Ok((v, newest.modified))
}

/// What a file list (`?list`) shows.
#[derive(Debug, Default)]
pub(crate) struct ListOptions {
    /// Every level below (`deep=1`), down to `depth` when given.
    pub deep: bool,
    pub depth: Option<usize>,
    /// Folders too (`listFolders=1`).
    pub folders: bool,
    /// When properties last changed (`mdTimestamps=1`).
    pub md_timestamps: bool,
    /// The folder itself first (`includeRootPath=1`).
    pub root: bool,
}

/// The file list of a folder; `visible` says which items (by full path) the caller may see.
pub(crate) fn file_list(
    base: &str,
    repo: &Repo,
    path: &str,
    item: &Item,
    o: &ListOptions,
    visible: &dyn Fn(&str) -> bool,
) -> Result<Value, ApiError> {
    let key = &repo.config.key;
    if !item.is_folder() {
        return Err(ApiError::bad_request(format!(
            "Expected a folder but found a file: {}",
            msg::repo_path(key, path)
        )));
    }
    let mut files = Vec::new();
    if o.root {
        files.push(
            json!({"uri": "/", "size": -1, "lastModified": iso(item.modified), "folder": true}),
        );
    }
    let prefix_len = if path.is_empty() { 0 } else { path.len() + 1 };
    let max = if o.deep {
        o.depth.unwrap_or(usize::MAX)
    } else {
        1
    };
    for (k, i) in repo.subtree(path) {
        if k.as_str() == path || !visible(k) {
            continue;
        }
        let rel = &k[prefix_len..];
        if rel.matches('/').count() + 1 > max || (i.is_folder() && !o.folders) {
            continue;
        }
        files.push(list_row(rel, i, o.md_timestamps));
    }
    Ok(json!({"uri": storage_uri(base, key, path), "created": iso(item.created), "files": files}))
}

fn list_row(rel: &str, i: &Item, md_timestamps: bool) -> Value {
    let mut v = Map::new();
    v.insert("uri".into(), json!(format!("/{rel}")));
    match &i.file {
        Some(f) => {
            v.insert("size".into(), json!(f.size));
            v.insert("lastModified".into(), json!(iso(i.modified)));
            v.insert("folder".into(), json!(false));
            v.insert("sha1".into(), json!(f.sha1));
            v.insert("sha2".into(), json!(f.sha256));
            if md_timestamps && !i.props.is_empty() {
                v.insert("mdTimestamps".into(), json!({"properties": iso(i.updated)}));
            }
        }
        None => {
            v.insert("size".into(), json!(-1));
            v.insert("lastModified".into(), json!(iso(i.modified)));
            v.insert("folder".into(), json!(true));
        }
    }
    Value::Object(v)
}
