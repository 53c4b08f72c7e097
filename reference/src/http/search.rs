//! `/api/search/artifact|prop|usage|dates|creation`: the legacy searches (domain in
//! [`crate::search::legacy`]) and AQL over every domain ([`crate::search::aql_eval`]). Results
//! list only what the caller may read; anonymous callers get at most 1000
//! (`artifactory.search.userQueryLimit`).

use std::sync::Arc;

use serde_json::{json, Map, Value};
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Search;
use super::{json, respond, AppState, BodyStream, Req};
use crate::artifacts::views::{file_info, storage_uri};
use crate::auth::Action;
use crate::clock::iso;
use crate::error::ApiError;
use crate::messages as msg;
use crate::search::aql_eval;
use crate::search::legacy::{self, DateField, Hit, TermError};
use crate::store::Item;

/// Most results an anonymous caller gets.
const ANONYMOUS_LIMIT: usize = 1000;

/// Answers a search endpoint.
pub(crate) async fn handle(r: &Req, e: Search, body: BodyStream) -> Result<Response, ApiError> {
    match e {
        Search::Aql => aql(r, body).await,
        Search::Artifact => quick(r),
        Search::Archive => archive(r),
        Search::Prop => prop(r),
        Search::Usage => usage(r),
        Search::Dates => dates(r),
        Search::Creation => creation(r),
    }
}

/// `POST /api/search/aql`: the query as the text/plain body (or the `query` form or query
/// parameter). Errors are plain-text 400s; results come in Artifactory's streamed frame.
async fn aql(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let caller = r.require_user()?;
    let bytes = super::read_small(body, 1 << 20).await?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let form = r
        .header("content-type")
        .is_some_and(|c| c.contains("x-www-form-urlencoded"));
    let query = if form {
        super::Query::parse(&text)
            .get("query")
            .unwrap_or("")
            .to_string()
    } else if text.trim().is_empty() {
        r.query.get("query").unwrap_or("").to_string()
    } else {
        text
    };
    if query.trim().is_empty() {
        return Err(ApiError::empty(400));
    }
    let q = match crate::search::aql::parse(query.trim()) {
        Ok(q) => q,
        Err(e) => return Err(ApiError::text(400, e.0)),
    };
    let builds = if aql_eval::needs_builds(&q) {
        load_builds(r).await
    } else {
        Vec::new()
    };
    let state = r.state.store.read();
    let run = aql_eval::run(&state, &builds, &q, r.now(), caller.admin, |repo, path| {
        r.may(&state, Action::Read, repo, path)
    });
    drop(state);
    let answer = match run {
        Ok(x) => x,
        Err(e) => return Err(ApiError::text(400, e.0)),
    };
    let rows = match answer.rows {
        aql_eval::Rows::Items(items) => {
            return Ok(stream_items(
                r,
                caller.clone(),
                builds,
                items,
                answer.offset,
                answer.limit,
            ))
        }
        aql_eval::Rows::Printed(rows) => rows,
    };
    // Artifactory streams this frame literally: rows pretty-printed, joined by commas.
    let rows: Vec<String> = rows.iter().map(super::json::pretty).collect();
    let out = format!(
        "{AQL_HEAD}{}{}",
        rows.join(","),
        aql_tail(answer.offset, rows.len(), answer.limit)
    );
    Ok(respond(StatusCode::OK, "application/json", out))
}

const AQL_HEAD: &str = "\n{\n\"results\" : [ ";

fn aql_tail(offset: u64, printed: usize, limit: Option<u64>) -> String {
    let range = aql_eval::range(offset, printed, limit);
    format!(" ],\n\"range\" : {}\n}}\n", super::json::pretty(&range))
}

/// Item rows printed a batch at a time under a short read lock each, as the client reads them:
/// memory stays flat however many rows a query returns, writers are not held up meanwhile, and no
/// thread waits on a slow client (each batch is printed on the blocking pool only when the body
/// asks for more). A batch that fails ends the body with an error, so the client sees a broken
/// answer rather than a short one.
fn stream_items(
    r: &Req,
    caller: crate::auth::Caller,
    builds: Vec<Arc<crate::builds::model::Build>>,
    items: aql_eval::ItemRows,
    offset: u64,
    limit: Option<u64>,
) -> Response {
    let job = Batches {
        shared: r.state.clone(),
        caller,
        builds: Arc::new(builds),
        items: Arc::new(items),
        next: None,
        printed: 0,
        offset,
        limit,
    };
    let body = futures_util::stream::unfold(Some(job), |job| async move { job?.next().await });
    let mut resp = warp::reply::Reply::into_response(warp::reply::stream(body));
    resp.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// The item rows of a streamed AQL answer, printed a batch at a time.
struct Batches {
    shared: AppState,
    caller: crate::auth::Caller,
    builds: Arc<Vec<Arc<crate::builds::model::Build>>>,
    items: Arc<aql_eval::ItemRows>,
    /// The first row of the next batch (`None`: the head is still to send).
    next: Option<usize>,
    printed: usize,
    offset: u64,
    limit: Option<u64>,
}

/// One piece of the body, and what is left to send (`None`: this was the last).
type Piece = (std::io::Result<bytes::Bytes>, Option<Batches>);

impl Batches {
    const SIZE: usize = 500;

    async fn next(mut self) -> Option<Piece> {
        let Some(start) = self.next else {
            self.next = Some(0);
            let head = bytes::Bytes::from_static(AQL_HEAD.as_bytes());
            return Some((Ok(head), Some(self)));
        };
        if start >= self.items.len() {
            let tail = aql_tail(self.offset, self.printed, self.limit);
            return Some((Ok(bytes::Bytes::from(tail)), None));
        }
        match self.print(start).await {
            Ok((text, n)) => {
                self.printed += n;
                self.next = Some(start + Self::SIZE);
                Some((Ok(bytes::Bytes::from(text)), Some(self)))
            }
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    }

    /// Prints the rows from `start` on the blocking pool, under a short read lock, leaving out
    /// what the caller may no longer read.
    async fn print(&self, start: usize) -> Result<(String, usize), tokio::task::JoinError> {
        let (shared, caller) = (self.shared.clone(), self.caller.clone());
        let (builds, items, printed) = (self.builds.clone(), self.items.clone(), self.printed);
        tokio::task::spawn_blocking(move || {
            let state = shared.store.read();
            let see = |repo: &str, path: &str| {
                caller.admin || shared.auth.may(&state, &caller, Action::Read, repo, path)
            };
            let rows = items.print(&state, &builds, &see, start..start + Self::SIZE);
            let mut text = String::new();
            for (i, row) in rows.iter().enumerate() {
                if printed + i > 0 {
                    text.push(',');
                }
                text.push_str(&super::json::pretty(row));
            }
            (text, rows.len())
        })
        .await
    }
}

/// The stored builds AQL's build domains read.
async fn load_builds(r: &Req) -> Vec<Arc<crate::builds::model::Build>> {
    let runs = r.state.builds.runs(&r.state.store).await;
    runs.iter().map(|run| run.view.clone()).collect()
}

fn repos(r: &Req) -> Vec<String> {
    r.query.list("repos")
}

/// Keeps what the caller may read, capped for anonymous callers.
fn readable<'a>(r: &Req, state: &crate::store::State, hits: Vec<Hit<'a>>) -> Vec<Hit<'a>> {
    let anonymous = r.caller().map(|c| c.anonymous).unwrap_or(true);
    hits.into_iter()
        .filter(|(repo, path, _)| r.may(state, Action::Read, repo, path))
        .take(if anonymous {
            ANONYMOUS_LIMIT
        } else {
            usize::MAX
        })
        .collect()
}

/// `X-Result-Detail: info` adds the storage info fields, `properties` the properties.
fn detailed(r: &Req, base: &str, repo: &str, path: &str, item: &Item) -> Value {
    let detail = r.headers.list("x-result-detail");
    let asks = |d: &str| detail.iter().any(|x| x.eq_ignore_ascii_case(d));
    let mut v = if asks("info") && !item.is_folder() {
        file_info(base, repo, path, item, None)
    } else {
        json!({ "uri": storage_uri(base, repo, path) })
    };
    if asks("properties") {
        let props: Map<String, Value> = item
            .props
            .groups()
            .map(|(k, vs)| (k.to_string(), json!(vs)))
            .collect();
        v["properties"] = Value::Object(props);
    }
    v
}

/// The plain-text 400 of a refused search term.
fn term_error(e: TermError) -> ApiError {
    let text = match e {
        TermError::Empty => msg::EMPTY_TERM,
        TermError::OnlyWildcards => msg::ONLY_WILDCARDS,
    };
    ApiError::text(400, text)
}

fn results(content_type: &str, rows: Vec<Value>) -> Response {
    json(StatusCode::OK, content_type, &json!({ "results": rows }))
}

fn quick(r: &Req) -> Result<Response, ApiError> {
    let pattern = match legacy::quick_pattern(r.query.get("name").unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return Err(term_error(e)),
    };
    let base = r.base_url();
    let state = r.state.store.read();
    let scope = legacy::scope(&state, &repos(r));
    let rows = readable(r, &state, legacy::quick(&state, &scope, &pattern))
        .into_iter()
        .map(|(repo, path, item)| detailed(r, &base, &state.shown_key(repo), path, item))
        .collect();
    Ok(results(
        "application/vnd.org.jfrog.artifactory.search.ArtifactSearchResult+json",
        rows,
    ))
}

fn archive(r: &Req) -> Result<Response, ApiError> {
    let caller = r.require_user()?;
    let pattern = match legacy::quick_pattern(r.query.get("name").unwrap_or("")) {
        // Archive entry names are matched as given (a class name is usually exact).
        Ok(_) => r.query.get("name").unwrap_or("").trim().to_string(),
        Err(e) => return Err(term_error(e)),
    };
    let base = r.base_url();
    let state = r.state.store.read();
    let scope = legacy::scope(&state, &repos(r));
    let limit = if caller.anonymous {
        ANONYMOUS_LIMIT
    } else {
        usize::MAX
    };
    let rows: Vec<Value> = legacy::archive_entries(&state, &scope, &pattern)
        .into_iter()
        .filter_map(|(entry, archives)| {
            let uris: Vec<String> = archives
                .into_iter()
                .filter(|(repo, path)| r.may(&state, Action::Read, repo, path))
                .map(|(repo, path)| storage_uri(&base, &state.shown_key(repo), path))
                .collect();
            (!uris.is_empty()).then(|| json!({"entry": entry, "archiveUris": uris}))
        })
        .take(limit)
        .collect();
    Ok(results(
        "application/vnd.org.jfrog.artifactory.search.ArchiveEntrySearchResult+json",
        rows,
    ))
}

fn prop(r: &Req) -> Result<Response, ApiError> {
    let criteria: Vec<(String, Vec<String>)> = r
        .query
        .0
        .iter()
        .filter(|(k, _)| k != "repos" && k != "properties" && !k.is_empty())
        .map(|(k, v)| {
            let values: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty() && *x != "*")
                .map(str::to_string)
                .collect();
            (k.clone(), values)
        })
        .collect();
    if criteria.is_empty() {
        return Err(msg::no_results());
    }
    let base = r.base_url();
    let state = r.state.store.read();
    let scope = legacy::scope(&state, &repos(r));
    let rows = readable(r, &state, legacy::by_properties(&state, &scope, &criteria))
        .into_iter()
        .map(|(repo, path, item)| detailed(r, &base, &state.shown_key(repo), path, item))
        .collect();
    Ok(results(
        "application/vnd.org.jfrog.artifactory.search.MetadataSearchResult+json",
        rows,
    ))
}

/// A date parameter: epoch milliseconds or an ISO 8601 timestamp.
fn date(r: &Req, name: &str, required: bool) -> Result<Option<i64>, ApiError> {
    let Some(v) = r.query.get(name).map(str::trim).filter(|v| !v.is_empty()) else {
        if required {
            return Err(ApiError::bad_request(format!(
                "'{name}' parameter cannot be empty!"
            )));
        }
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Iso8601::DEFAULT)
        .map(|t| Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| {
            ApiError::bad_request(format!(
                "Invalid value for '{name}': {v} (expected epoch milliseconds or an ISO 8601 date)"
            ))
        })
}

fn none_found(rows: &[Value]) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Err(msg::no_results());
    }
    Ok(())
}

fn usage(r: &Req) -> Result<Response, ApiError> {
    let since = date(r, "notUsedSince", true)?.unwrap_or(0);
    let before = date(r, "createdBefore", false)?.unwrap_or(since);
    let base = r.base_url();
    let state = r.state.store.read();
    let scope = legacy::scope(&state, &repos(r));
    let rows: Vec<Value> = readable(r, &state, legacy::not_used(&state, &scope, since, before))
        .into_iter()
        .map(|(repo, path, item)| {
            // Artifactory's `DownloadedEntry`: every field always, a file never downloaded showing
            // its creation as its last download; no remote downloads are counted here.
            let stats = item.stats();
            let last = if stats.last_downloaded > 0 {
                stats.last_downloaded
            } else {
                item.created
            };
            json!({
                "uri": storage_uri(&base, &state.shown_key(repo), path),
                "downloadCount": stats.downloads,
                "lastDownloaded": iso(last),
                "remoteDownloadCount": 0,
                "remoteLastDownloaded": iso(0),
            })
        })
        .collect();
    none_found(&rows)?;
    Ok(results(
        "application/vnd.org.jfrog.artifactory.search.ArtifactUsageResult+json",
        rows,
    ))
}

fn dates(r: &Req) -> Result<Response, ApiError> {
    let from = date(r, "from", true)?.unwrap_or(0);
    let to = date(r, "to", false)?.unwrap_or_else(|| r.now());
    let names = r.query.list("dateFields");
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "'dateFields' parameter cannot be empty!",
        ));
    }
    let fields = names
        .iter()
        .map(|n| {
            DateField::parse(n).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "Invalid date field '{n}' (expected created, lastModified or lastDownloaded)"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let base = r.base_url();
    let state = r.state.store.read();
    let scope = legacy::scope(&state, &repos(r));
    let rows: Vec<Value> = readable(r, &state, legacy::dates(&state, &scope, &fields, from, to))
        .into_iter()
        .map(|(repo, path, item)| {
            let mut v = json!({ "uri": storage_uri(&base, &state.shown_key(repo), path) });
            for f in &fields {
                let at = f.of(item);
                if at > 0 {
                    v[f.name()] = json!(iso(at));
                }
            }
            v
        })
        .collect();
    none_found(&rows)?;
    Ok(results(
        "application/vnd.org.jfrog.artifactory.search.ArtifactResult+json",
        rows,
    ))
}

fn creation(r: &Req) -> Result<Response, ApiError> {
    let from = date(r, "from", true)?.unwrap_or(0);
    let to = date(r, "to", false)?.unwrap_or_else(|| r.now());
    let base = r.base_url();
    let state = r.state.store.read();
    let scope = legacy::scope(&state, &repos(r));
    let fields = [DateField::Created];
    let rows: Vec<Value> = readable(r, &state, legacy::dates(&state, &scope, &fields, from, to))
        .into_iter()
        .map(|(repo, path, item)| {
            json!({ "uri": storage_uri(&base, &state.shown_key(repo), path), "created": iso(item.created) })
        })
        .collect();
    none_found(&rows)?;
    Ok(results(
        "application/vnd.org.jfrog.artifactory.search.ArtifactCreationResult+json",
        rows,
    ))
}
