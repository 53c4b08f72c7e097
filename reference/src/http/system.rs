//! `/api/system/*`: ping, version, system info, licenses, verify connection, garbage collection,
//! key encryption, the service id; the readiness and liveness probes, the router's health check
//! and the usage report.

use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::System;
use super::{json, read_small, respond, BodyStream, Req, REVISION, VERSION};
use crate::error::ApiError;

/// Answers a `/api/system/*` endpoint.
pub(crate) async fn handle(r: &Req, e: System, body: BodyStream) -> Result<Response, ApiError> {
    match e {
        System::Ping => ping(r).await,
        System::Version => version(),
        System::Gc => gc(r).await,
        System::Encrypt => key_encryption(r, true).await,
        System::Decrypt => key_encryption(r, false).await,
        System::ServiceId => super::tokens::service_id(r),
        System::Info => Ok(respond(StatusCode::OK, "text/plain", info(r))),
        System::Licenses | System::License => Ok(json(
            StatusCode::OK,
            "application/json",
            &json!({"type": EDITION, "validThrough": "", "licensedTo": ""}),
        )),
        System::LicensesInstall => install_license(body).await,
        System::VerifyConnection => verify_connection(r, body).await,
        System::Readiness => Ok(if writable(r).await {
            json(StatusCode::OK, "application/json", &json!({"code": "OK"}))
        } else {
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                "application/json",
                &json!({"code": "UNAVAILABLE", "message": FS_FAILED}),
            )
        }),
        System::Liveness => Ok(json(
            StatusCode::OK,
            "application/json",
            &json!({"code": "OK"}),
        )),
        System::RouterHealth => router_health(r),
        System::Usage => usage(body).await,
        System::UrlBase => url_base(r, body).await,
        System::Configuration => Ok(respond(StatusCode::OK, "application/xml", configuration(r))),
        System::ConfigurationSave => save_configuration(r, body).await,
        System::Tasks => Ok(tasks(r)),
        System::Sha2Start => sha2_start(r, body).await,
        System::Sha2Stop => {
            r.state
                .jobs
                .sha2_stop
                .store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(respond(
                StatusCode::OK,
                "text/plain",
                "Sha256 migration scheduled to stop successfully",
            ))
        }
        System::WebServer => Ok(json(StatusCode::OK, "application/json", &reverse_proxy(r))),
        System::WebServerSave => save_reverse_proxy(r, body).await,
        System::NginxSnippet => Ok(respond(
            StatusCode::OK,
            "text/plain",
            crate::system::reverse_proxy::nginx(&reverse_proxy(r)),
        )),
        System::Optimize => Ok(optimize(r)),
        System::ExportSettings => Ok(json(
            StatusCode::OK,
            "application/vnd.org.jfrog.artifactory.system.ExportSettings+json",
            &crate::system::export::example(&crate::system::export::root(&r.state)),
        )),
        System::ImportSettings => Ok(json(
            StatusCode::OK,
            "application/vnd.org.jfrog.artifactory.system.ImportSettings+json",
            &crate::system::import::example(&crate::system::export::root(&r.state)),
        )),
        System::Export => export(r, body).await,
        System::Import => import(r, body).await,
        System::ImportRepositories => import_repositories(r).await,
    }
}

/// A settings document (JSON): a body that does not parse is a 400 in the REST shape.
async fn settings_body(body: BodyStream) -> Result<Value, ApiError> {
    let bytes = read_small(body, 64 << 10).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the settings: {e}")))
}

/// Artifactory's answer to a path outside the export root: a 400 with its text.
fn invalid_dir(message: &'static str, why: String) -> ApiError {
    tracing::warn!("{message}: {why}");
    ApiError::text(400, message)
}

/// An import or export's answer: its progress lines, a 200, or a 500 when it met errors.
fn report(rep: crate::system::export::Report) -> Response {
    let status = if rep.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    respond(status, "text/plain", rep.text())
}

/// Runs `f` as the one import or export job (shown by `GET /api/tasks`), or answers 409 while
/// another runs.
async fn as_job<F>(r: &Req, f: F) -> Result<Response, ApiError>
where
    F: std::future::Future<Output = crate::system::export::Report> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = r.state.jobs.once_unless_running(
        "import-export",
        r.state.config.clock.now_ms(),
        || {},
        async move {
            let _ = tx.send(f.await);
        },
    );
    if !started {
        return Err(ApiError::new(
            409,
            "An import or export is already running; try again when it has finished",
        ));
    }
    let rep = rx
        .await
        .map_err(|_| ApiError::internal("the import or export job ended without a report"))?;
    Ok(report(rep))
}

/// `POST /api/export/system`.
async fn export(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    use crate::system::export;
    let doc = settings_body(body).await?;
    let s = export::ExportSettings::parse(&doc).map_err(ApiError::bad_request)?;
    let root = export::root(&r.state);
    let target = export::confine(&root, &s.path)
        .map_err(|why| invalid_dir(export::INVALID_EXPORT_DIR, why))?;
    let config_xml = configuration(r);
    let app = r.state.clone();
    let now = app.config.clock.now_ms();
    as_job(r, async move {
        tokio::task::spawn_blocking(move || export::export(&app, &s, &target, config_xml, now))
            .await
            .unwrap_or_else(|e| {
                let mut rep = export::Report::default();
                rep.error(format!("The export failed: {e}"));
                rep
            })
    })
    .await
}

/// The folder an import reads: the confined path, or a zip there extracted beside it (removed
/// when the returned guard drops).
async fn import_source(
    root: &std::path::Path,
    given: &str,
) -> Result<(std::path::PathBuf, Option<tempfile::TempDir>), ApiError> {
    use crate::system::export::{confine, INVALID_IMPORT_DIR};
    let path = confine(root, given).map_err(|why| invalid_dir(INVALID_IMPORT_DIR, why))?;
    if !path.is_file() {
        return Ok((path, None));
    }
    let root = root.to_path_buf();
    let zip = path.clone();
    let dir = tokio::task::spawn_blocking(move || crate::system::import::unzip(&zip, &root))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::bad_request)?;
    Ok((dir.path().to_path_buf(), Some(dir)))
}

/// `POST /api/import/system`.
async fn import(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    use crate::system::{export, import};
    let doc = settings_body(body).await?;
    let s = import::ImportSettings::parse(&doc).map_err(ApiError::bad_request)?;
    let (dir, guard) = import_source(&export::root(&r.state), &s.path).await?;
    let app = r.state.clone();
    let user = r.caller()?.name.clone();
    as_job(r, async move {
        let rep = import::system(&app, &s, &dir, &user).await;
        drop(guard);
        rep
    })
    .await
}

/// `POST /api/import/repositories?path=&repo=&metadata=&verbose=`.
async fn import_repositories(r: &Req) -> Result<Response, ApiError> {
    use crate::system::{export, import};
    let path = r.query.get("path").unwrap_or("").trim().to_string();
    if path.is_empty() {
        return Err(ApiError::bad_request(
            "You must provide a repository path to import from.",
        ));
    }
    let number = |name: &str, default: bool| -> Result<bool, ApiError> {
        match r.query.get(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v.parse::<i64>().map(|n| n == 1).map_err(|_| {
                ApiError::bad_request(format!("Parameter '{name}' must be 0 or 1, not '{v}'"))
            }),
        }
    };
    let s = import::ImportSettings {
        path: path.clone(),
        include_metadata: number("metadata", true)?,
        verbose: number("verbose", false)?,
        fail_on_error: false,
        fail_if_empty: true,
    };
    let repo = r
        .query
        .get("repo")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string);
    // This one refuses in the REST shape (Artifactory throws, where the system import answers
    // with a text entity).
    let (dir, guard) = import_source(&export::root(&r.state), &path)
        .await
        .map_err(|e| ApiError::bad_request(e.message().to_string()))?;
    if !dir.is_dir() {
        return Err(ApiError::text(
            400,
            format!("Directory {path} does not exist."),
        ));
    }
    let app = r.state.clone();
    let user = r.caller()?.name.clone();
    as_job(r, async move {
        let rep = import::repositories(&app, &s, &dir, repo.as_deref(), &user).await;
        drop(guard);
        rep
    })
    .await
}

/// The reverse proxy settings as `GET .../webServer` shows them: the saved ones, blanks filled
/// from the server's URL.
fn reverse_proxy(r: &Req) -> Value {
    let base = r.base_url();
    let url = reqwest::Url::parse(&base).ok();
    let host = url
        .as_ref()
        .and_then(|u| u.host_str())
        .unwrap_or("localhost")
        .to_string();
    let https = url.as_ref().is_some_and(|u| u.scheme() == "https");
    let port = url
        .as_ref()
        .and_then(|u| u.port_or_known_default())
        .unwrap_or(80);
    let context = r.state.ctx_path.trim_start_matches('/').to_string();
    let saved = r.state.store.read().reverse_proxy.clone();
    crate::system::reverse_proxy::ReverseProxy::shown(saved.as_ref(), &host, &context, https, port)
}

/// `GET /api/system/configuration`: `artifactory.config.xml` from the live configuration.
pub(crate) fn configuration(r: &Req) -> String {
    let saved = r.state.store.read().reverse_proxy.is_some();
    let proxy = saved.then(|| reverse_proxy(r));
    let state = r.state.store.read();
    crate::system::descriptor::render(&state, r.state.auth.anonymous_access(), proxy.as_ref())
}

/// `POST /api/system/configuration`: replaces the whole configuration at once, or, for a
/// document that does not parse, fit the schema or fit together, a 400 that changes nothing.
async fn save_configuration(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    if let Some(ct) = r.headers.get("content-type") {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(mime.is_empty() || mime == "application/xml" || mime == "text/xml") {
            return Err(ApiError::new(
                415,
                format!("The configuration is XML (application/xml), not '{mime}'"),
            ));
        }
    }
    let bytes = read_small(body, 16 << 20).await?;
    let user = r.caller()?.name.clone();
    crate::system::descriptor::save(&r.state, &bytes, &user)
        .await
        .map_err(|e| match e {
            crate::store::Refusal::Check(m) => ApiError::bad_request(m),
            crate::store::Refusal::Commit(c) => {
                ApiError::refused(crate::store::Refusal::Commit(c), |t| {
                    ApiError::bad_request(format!("{t:?}"))
                })
            }
        })?;
    Ok(respond(
        StatusCode::OK,
        "text/plain",
        "Reload of new configuration succeeded",
    ))
}

/// `POST /api/system/configuration/webServer` (admin): saves the settings; `201` with the key.
async fn save_reverse_proxy(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let bytes = read_small(body, 256 << 10).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))?;
    let proxy =
        crate::system::reverse_proxy::ReverseProxy::parse(&doc).map_err(ApiError::bad_request)?;
    for repo in &proxy.repos {
        let state = r.state.store.read();
        let docker = state
            .repo(&repo.repo)
            .is_some_and(|x| x.config.package_type == crate::config::PackageType::Docker);
        if !docker {
            return Err(ApiError::bad_request(format!(
                "Repository '{}' is not a Docker repository",
                repo.repo
            )));
        }
    }
    let key = proxy.key.clone();
    r.state
        .store
        .commit(crate::store::Mutation::SetReverseProxy { proxy })
        .await
        .map_err(|e| ApiError::internal(format!("{e:?}")))?;
    Ok(json(
        StatusCode::CREATED,
        "application/json",
        &json!({ "info": format!("Successfully update reverse proxy '{key}'") }),
    ))
}

/// `POST /api/system/migration/sha2/start` (admin): the SHA-256 migration as a background job
/// (`queryLimit` files a batch, `sleepIntervalMillis` between batches, as Artifactory's model has
/// them; stopped by `.../stop` between batches). This store addresses content by SHA-256, so every
/// file has one: the job checks that each file's blob is there under it and logs what it found.
async fn sha2_start(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let bytes = read_small(body, 64 << 10).await?;
    let doc: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))?
    };
    let number = |k: &str, default: u64| -> Result<u64, ApiError> {
        match doc.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| ApiError::bad_request(format!("Field '{k}' must be a number"))),
        }
    };
    let batch = number("queryLimit", 100)?.max(1) as usize;
    let sleep = number("sleepIntervalMillis", 5000)?;
    let jobs = &r.state.jobs;
    let stop = jobs.sha2_stop.clone();
    let app = r.state.clone();
    let reset = stop.clone();
    let started = jobs.once_unless_running("sha2-migration", app.config.clock.now_ms(), move || {
        reset.store(false, std::sync::atomic::Ordering::SeqCst);
    }, async move {
        use std::sync::atomic::Ordering;
        let files: Vec<(String, String, String)> = {
            let state = app.store.read();
            state
                .repos
                .iter()
                .flat_map(|(key, repo)| {
                    repo.items.iter().filter_map(move |(path, i)| {
                        let f = i.file.as_ref()?;
                        Some((key.clone(), path.to_string(), f.sha256.to_string()))
                    })
                })
                .collect()
        };
        let (mut checked, mut missing) = (0usize, 0usize);
        for chunk in files.chunks(batch) {
            if stop.load(Ordering::SeqCst) {
                tracing::info!("sha256 migration stopped after {checked} files");
                return;
            }
            for (repo, path, sha256) in chunk {
                checked += 1;
                if sha256.len() != 64 || !app.store.blobs.path(sha256).is_file() {
                    missing += 1;
                    tracing::warn!("sha256 migration: {repo}/{path} has no content under {sha256}");
                }
            }
            // The pause between batches, cut short by a stop.
            let until = tokio::time::Instant::now() + std::time::Duration::from_millis(sleep);
            while tokio::time::Instant::now() < until && !stop.load(Ordering::SeqCst) {
                tokio::time::sleep_until(
                    until.min(tokio::time::Instant::now() + std::time::Duration::from_millis(50)),
                )
                .await;
            }
        }
        tracing::info!(
            "sha256 migration finished: {checked} files checked, every one has its SHA-256, {missing} without content"
        );
    });
    if !started {
        return Ok(respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "Sha256 migration task is already running",
        ));
    }
    Ok(respond(
        StatusCode::OK,
        "text/plain",
        "Sha256 migration scheduled to start successfully",
    ))
}

/// `GET /api/tasks` (admin): the background jobs that have not ended, running or waiting for
/// their next run or work, as Artifactory's `BackgroundTask`s.
fn tasks(r: &Req) -> Response {
    let rows: Vec<Value> = r
        .state
        .jobs
        .tasks()
        .into_iter()
        .map(|t| {
            let (kind, description) = crate::jobs::describe(t.name);
            let state = if t.running_since.is_some() {
                "running"
            } else {
                "scheduled"
            };
            let mut v =
                json!({"id": t.id, "type": kind, "state": state, "description": description});
            if let Some(ms) = t.running_since {
                v["started"] = json!(crate::clock::iso(ms));
            }
            v
        })
        .collect();
    json(
        StatusCode::OK,
        "application/json",
        &json!({ "tasks": rows }),
    )
}

/// `POST /api/system/storage/optimize` (admin): compacts the journal into a new snapshot in the
/// background (this store's optimisation); `200` at once, as Artifactory schedules its own.
fn optimize(r: &Req) -> Response {
    let app = r.state.clone();
    let now = app.config.clock.now_ms();
    r.state.jobs.once("storage-optimize", now, async move {
        let store = app.clone();
        let done = tokio::task::spawn_blocking(move || store.store.checkpoint()).await;
        match done {
            Ok(Ok(())) => tracing::info!("storage optimization: the journal was compacted"),
            Ok(Err(e)) => tracing::warn!("storage optimization failed: {e}"),
            Err(e) => tracing::warn!("storage optimization failed: {e}"),
        }
    });
    super::empty(StatusCode::OK)
}

/// `PUT /api/system/configuration/baseUrl` (admin): the custom URL base every absolute URL in an
/// answer starts with from now on (kept across restarts); an empty body removes it. Checked as
/// Artifactory's `UrlValidator` checks it (http or https, with a host).
async fn url_base(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let bytes = read_small(body, 64 << 10).await?;
    let url = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request("The URL base is not UTF-8 text"))?;
    if !url.trim().is_empty() {
        crate::system::check_url(&url).map_err(ApiError::bad_request)?;
    }
    let m = crate::store::Mutation::SetUrlBase {
        url: url.trim().to_string(),
    };
    r.state.store.commit(m).await.map_err(|e| {
        tracing::error!("setting the URL base: {e:?}");
        ApiError::new(500, "Updating URL base has failed.")
    })?;
    *r.state.url_base.write().unwrap_or_else(|e| e.into_inner()) = url.trim().to_string();
    Ok(respond(
        StatusCode::OK,
        "text/plain",
        format!("URL base has been successfully updated to \"{url}\".\n"),
    ))
}

/// The edition a JFrog Container Registry reports for its licence.
const EDITION: &str = "JCR Edition";

/// `GET /api/system` (admin): the system information dump, as text. Its first lines are what
/// scripts wait for (` SYSTEM INFORMATION DUMP`); the groups hold this server's facts.
fn info(r: &Req) -> String {
    let app = &r.state;
    let config = &app.config;
    let (classes, summary) = {
        let state = app.store.read();
        let mut classes = [0usize; 3];
        for repo in state.repos.values() {
            classes[match repo.config.rclass {
                crate::config::RepoClass::Local => 0,
                crate::config::RepoClass::Remote => 1,
                crate::config::RepoClass::Virtual => 2,
            }] += 1;
        }
        drop(state);
        (classes, crate::system::storage_summary(app))
    };
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let binaries = &summary["binariesSummary"];
    let store = &summary["fileStoreSummary"];
    let data_dir = config
        .data_dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| format!("{} (temporary)", app.store.blobs.root().display()));
    let groups: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "Artifactory Information",
            vec![
                ("artifactory.version", VERSION.to_string()),
                ("artifactory.revision", REVISION.to_string()),
                ("artifactory.edition", EDITION.to_string()),
                ("artifactory.server.id", app.instance_id.clone()),
                (
                    "artifactory.service.id",
                    app.store.read().security.service_id.clone(),
                ),
                ("artifactory.context.path", app.ctx_path.clone()),
                ("artifactory.base.url", r.base_url()),
                ("artifactory.data.dir", data_dir),
            ],
        ),
        (
            "Repositories",
            vec![
                ("local", classes[0].to_string()),
                ("remote", classes[1].to_string()),
                ("virtual", classes[2].to_string()),
            ],
        ),
        (
            "Storage Information",
            vec![
                ("storage.type", text(&store["storageType"])),
                ("storage.directory", text(&store["storageDirectory"])),
                ("items.count", text(&binaries["itemsCount"])),
                ("artifacts.count", text(&binaries["artifactsCount"])),
                ("artifacts.size", text(&binaries["artifactsSize"])),
                ("binaries.count", text(&binaries["binariesCount"])),
                ("binaries.size", text(&binaries["binariesSize"])),
                ("disk.total", text(&store["totalSpace"])),
                ("disk.free", text(&store["freeSpace"])),
            ],
        ),
        (
            "Runtime Information",
            vec![
                (
                    "Number Of Processors",
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(1)
                        .to_string(),
                ),
                ("os.name", std::env::consts::OS.to_string()),
                ("os.arch", std::env::consts::ARCH.to_string()),
                ("process.id", std::process::id().to_string()),
                ("server.time", crate::clock::iso(config.clock.now_ms())),
            ],
        ),
    ];
    let mut out = String::from(" SYSTEM INFORMATION DUMP\n =======================\n");
    for (title, rows) in groups {
        out.push_str(&format!("\n {title}\n {}\n", "-".repeat(title.len())));
        for (k, v) in rows {
            out.push_str(&format!(" | {k:<50} | {v}\n"));
        }
    }
    out
}

/// `POST /api/system/licenses` (admin): the key or keys are read as Artifactory reads them (an
/// object with `licenseKey`, or an array of them), and refused: a JFrog Container Registry takes
/// no licence.
async fn install_license(body: BodyStream) -> Result<Response, ApiError> {
    let bytes = read_small(body, 1 << 20).await?;
    let keys: Vec<String> = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(o)) => o
            .get("licenseKey")
            .and_then(Value::as_str)
            .filter(|k| !k.trim().is_empty())
            .map(|k| vec![k.to_string()])
            .unwrap_or_default(),
        Ok(Value::Array(a)) => a
            .iter()
            .filter_map(|o| o.get("licenseKey").and_then(Value::as_str))
            .filter(|k| !k.trim().is_empty())
            .map(str::to_string)
            .collect(),
        Ok(other) => {
            return Err(ApiError::bad_request(format!(
                "Unable to add Artifactory license. Cannot read a license from {}",
                kind(&other)
            )))
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "Unable to add Artifactory license. {e}"
            )))
        }
    };
    if keys.is_empty() {
        return Err(ApiError::bad_request("No license key supplied."));
    }
    Err(ApiError::bad_request(
        "Cannot install license. Operation is not supported on Artifactory JCR",
    ))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `POST /api/system/verifyconnection` (admin): a `GET` of `endpoint` (with Basic credentials when
/// both are given) through the upstream client; `200` when it answers `200`, else `400` with what
/// it said.
async fn verify_connection(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let bytes = read_small(body, 64 << 10).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
    let endpoint = field("endpoint")
        .ok_or_else(|| ApiError::bad_request("Endpoint is required to verify connection."))?;
    let parsed = reqwest::Url::parse(&endpoint)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    if parsed.is_none() {
        return Err(ApiError::bad_request(format!(
            "Cannot parse the url {endpoint}"
        )));
    }
    let req = crate::repos::upstream::Request {
        head: false,
        url: endpoint.clone(),
        basic: field("username").zip(field("password")),
        headers: Vec::new(),
        timeout: std::time::Duration::from_secs(15),
    };
    let resp = r.state.remotes.send_raw(req).await.map_err(|f| {
        ApiError::bad_request(format!(
            "Could not verify connection to endpoint: {endpoint} --> {}",
            f.0
        ))
    })?;
    if resp.status != 200 {
        let text = read_small(resp.body, 64 << 10)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let tail = if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        };
        return Err(ApiError::bad_request(format!(
            "Received error from endpoint url: {endpoint} --> {}{tail}",
            resp.status
        )));
    }
    Ok(respond(
        StatusCode::OK,
        "application/json",
        "Successfully connected to endpoint",
    ))
}

/// `GET /router/api/v1/system/health` (no authentication): the router and its one service.
fn router_health(r: &Req) -> Result<Response, ApiError> {
    let node = r.state.instance_id.clone();
    let service = r.state.store.read().security.service_id.clone();
    Ok(json(
        StatusCode::OK,
        "application/json",
        &json!({
            "router": {"node_id": node, "state": "HEALTHY", "message": "OK"},
            "services": [
                {"service_id": service, "node_id": node, "state": "HEALTHY", "message": "OK"},
            ],
        }),
    ))
}

/// `POST /api/system/usage`: a client's usage report (jfrog-client-js sends one), read as JSON
/// and discarded.
async fn usage(body: BodyStream) -> Result<Response, ApiError> {
    let bytes = read_small(body, 1 << 20).await?;
    serde_json::from_slice::<Value>(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))?;
    Ok(super::empty(StatusCode::OK))
}

/// What ping says when the data directory cannot be written (Artifactory's `PingResource`).
const FS_FAILED: &str = "File system access failed";

/// `GET /api/system/ping`: `OK` as text, for anyone (ping.allowUnauthenticated), unless the credentials
/// sent are wrong; `500 File system access failed` when the store cannot write.
async fn ping(r: &Req) -> Result<Response, ApiError> {
    if !writable(r).await {
        tracing::error!("ping failed: the data directory cannot be written");
        return Ok(respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            FS_FAILED,
        ));
    }
    Ok(respond(StatusCode::OK, "text/plain", "OK"))
}

/// Whether the store can write (see [`crate::store::blobs::BlobStore::writable`]).
async fn writable(r: &Req) -> bool {
    let app = r.state.clone();
    tokio::task::spawn_blocking(move || app.store.blobs.writable())
        .await
        .unwrap_or(false)
}

/// `GET /api/system/version`: the add-ons that work here (a client that trusts the list must not
/// find one missing).
fn version() -> Result<Response, ApiError> {
    let body = serde_json::json!({
        "version": VERSION,
        "revision": REVISION,
        "addons": ["build", "docker", "helm", "properties", "rest", "search"],
    });
    Ok(json(
        StatusCode::OK,
        "application/vnd.org.jfrog.artifactory.system.Version+json",
        &body,
    ))
}

/// `POST /api/system/storage/gc` (admin): removes the blobs no item references; text/plain.
async fn gc(r: &Req) -> Result<Response, ApiError> {
    let (count, bytes) = r.state.store.gc().await.map_err(ApiError::internal)?;
    Ok(respond(
        StatusCode::OK,
        "text/plain",
        format!("Garbage collection finished: {count} binaries removed, {bytes} bytes freed."),
    ))
}

/// `POST /api/system/encrypt|decrypt` (admin): creates the master key and seals secrets at rest, or
/// opens them all and removes the key. Encrypting twice is not an error (the key is reused).
async fn key_encryption(r: &Req, on: bool) -> Result<Response, ApiError> {
    crate::system::key_encryption(&r.state, on).await?;
    Ok(respond(StatusCode::OK, "text/plain", "DONE"))
}
