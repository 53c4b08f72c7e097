//! The storage API: `/api/storage/{repo}/{path}` (file and folder info, properties, stats, list,
//! lastModified), `/api/metadata/{repo}/{path}`, `/api/storageinfo`, `/api/checksum/sha256`,
//! `/api/copy` and `/api/move`; plus the JSON renderings of items that deploy responses share.

use serde_json::{json, Value};
use warp::http::{header, StatusCode};
use warp::reply::Response;

use super::endpoint::Storage;
use super::path::{self, RepoPath};
use super::{empty, json, read_small, set_header, BodyStream, Req};
use crate::artifacts::props;
use crate::artifacts::views;
use crate::auth::Action;
use crate::clock::http_date;
use crate::config::RepoClass;
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Item, Props};
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

/// `{"properties":{...},"uri":...}` for the keys asked (all when `only` is empty); 404 when none.
pub(crate) fn properties_response(
    base: &str,
    repo: &str,
    path: &str,
    item: &Item,
    only: &[String],
) -> Result<Response, ApiError> {
    let v = views::properties(base, repo, path, item, only)?;
    let mut r = json(StatusCode::OK, ITEM_PROPERTIES, &v);
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
    let found = state.resolve(&p.repo, &p.path);
    if view == View::Stats {
        let (_, item) = found.ok_or_else(|| ApiError::not_found("Unable to find item path"))?;
        let v = views::stats(&base, &p.repo, &p.path, item);
        return Ok(json(StatusCode::OK, STATS_INFO, &v));
    }
    // A virtual repository answers a missing item with a bare 404.
    let virtual_repo = state
        .repo(&p.repo)
        .is_some_and(|r| r.config.rclass == RepoClass::Virtual);
    let (repo, item) = found.ok_or_else(|| match virtual_repo {
        true => ApiError::empty(404),
        false => msg::unable_to_find_item(),
    })?;
    let visible = |c: &str| r.may(&state, Action::Read, &p.repo, c);
    match view {
        View::Properties => {
            properties_response(&base, &p.repo, &p.path, item, &r.query.list("properties"))
        }
        View::List if caller.anonymous => Err(msg::authenticated_only()),
        View::List => {
            let v = views::file_list(&base, repo, &p.path, item, &list_options(r), &visible)?;
            Ok(json(StatusCode::OK, FILE_LIST, &v))
        }
        View::LastModified => {
            let (v, at) = views::last_modified(&base, repo, &p.path, item)?;
            let mut resp = json(StatusCode::OK, LAST_MODIFIED, &v);
            set_header(&mut resp, header::LAST_MODIFIED, &http_date(at));
            Ok(resp)
        }
        _ if item.is_folder() => {
            let v = views::folder_info(&base, &p.repo, &state, &p.path, item, &visible);
            let mut resp = json(StatusCode::OK, FOLDER_INFO, &v);
            set_header(&mut resp, header::CACHE_CONTROL, "no-store");
            Ok(resp)
        }
        _ => Ok(json(
            StatusCode::OK,
            FILE_INFO,
            &views::file_info(
                &base,
                &p.repo,
                &p.path,
                item,
                (repo.config.rclass == RepoClass::Remote)
                    .then(|| crate::repos::remote::upstream_url(&repo.config, &p.path)),
            ),
        )),
    }
}

/// What `?list` is asked to show (`deep`, `depth`, `listFolders`, `mdTimestamps`,
/// `includeRootPath`).
fn list_options(r: &Req) -> views::ListOptions {
    let q = &r.query;
    views::ListOptions {
        deep: q.flag("deep", false),
        depth: q.get("depth").and_then(|d| d.parse().ok()),
        folders: q.flag("listFolders", false),
        md_timestamps: q.flag("mdTimestamps", false),
        root: q.flag("includeRootPath", false),
    }
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

// ---------- /api/storageinfo ----------

fn storage_info(r: &Req) -> Result<Response, ApiError> {
    let v = crate::system::storage_summary(&r.state);
    Ok(json(StatusCode::OK, "application/json", &v))
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
