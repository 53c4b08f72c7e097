//! `/api/build*`: parse, call [`crate::builds`], render in Artifactory's shapes.

use crate::value::{field as text, scalar};
use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Builds;
use super::{empty, json, read_small, respond, BodyStream, Req};
use crate::builds::{self, promote, Deletion, Retention};
use crate::error::ApiError;

const BUILDS: &str = "application/vnd.org.jfrog.build.Builds+json";
const BY_NAME: &str = "application/vnd.org.jfrog.build.BuildsByName+json";
const INFO: &str = "application/vnd.org.jfrog.build.BuildInfo+json";
const DIFF: &str = "application/vnd.org.jfrog.build.BuildsDiff+json";

/// Answers a builds endpoint.
pub(crate) async fn handle(r: &Req, e: Builds, body: BodyStream) -> Result<Response, ApiError> {
    let caller = r.caller()?.clone();
    let app = &r.state;
    let base = format!("{}/api/build", r.base_url());
    let seg = builds::uri_segment;
    match e {
        Builds::List => {
            let rows: Vec<Value> = builds::list(app, &caller)
                .await?
                .into_iter()
                .map(|(name, last)| json!({"uri": format!("/{}", seg(&name)), "lastStarted": last}))
                .collect();
            Ok(json(
                StatusCode::OK,
                BUILDS,
                &json!({"builds": rows, "uri": base}),
            ))
        }
        Builds::Upload => {
            let bytes = read_small(body, builds::MAX_DOC).await?;
            builds::upload(app, &caller, &bytes).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Builds::Runs { name } => {
            let rows: Vec<Value> = builds::runs(app, &caller, &name)
                .await?
                .iter()
                .map(|r| json!({"uri": format!("/{}", seg(&r.number)), "started": builds::shown_start(r)}))
                .collect();
            let uri = format!("{base}/{}", seg(&name));
            Ok(json(
                StatusCode::OK,
                BY_NAME,
                &json!({"buildsNumbers": rows, "uri": uri}),
            ))
        }
        Builds::Info {
            name,
            number,
            started,
        } => {
            let run = builds::find(app, &caller, &name, &number, started.as_deref()).await?;
            let uri = format!("{base}/{}/{}", seg(&name), seg(&number));
            #[derive(serde::Serialize)]
            struct Info<'a> {
                #[serde(rename = "buildInfo")]
                build_info: &'a Value,
                uri: String,
            }
            let doc = Info {
                build_info: &run.doc,
                uri,
            };
            Ok(json(StatusCode::OK, INFO, &doc))
        }
        Builds::Diff {
            name,
            number,
            older,
        } => {
            let d = builds::diff(app, &caller, &name, &number, &older).await?;
            Ok(json(StatusCode::OK, DIFF, &d.to_json()))
        }
        Builds::Delete { name } => {
            let q = &r.query;
            let d = Deletion {
                name,
                numbers: q.list("buildNumbers"),
                all: q.flag("deleteAll", false),
                artifacts: q.flag("artifacts", false),
            };
            delete(r, &caller, d).await
        }
        Builds::DeleteMany => {
            let doc = read_doc(body).await?;
            let d = Deletion {
                name: text(&doc, "buildName").unwrap_or_default(),
                numbers: doc
                    .get("buildNumbers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(scalar).collect())
                    .unwrap_or_default(),
                all: flag(&doc, "deleteAll"),
                artifacts: flag(&doc, "deleteArtifacts"),
            };
            delete(r, &caller, d).await
        }
        Builds::Rename { name } => {
            let to = r.query.get("to").unwrap_or("").to_string();
            builds::rename(app, &caller, &name, &to).await?;
            Ok(respond(
                StatusCode::OK,
                "text/plain",
                format!("Build renaming of '{name}' to '{to}' was successfully started.\n"),
            ))
        }
        Builds::Retention { name } => {
            let bytes = read_small(body, 1 << 20).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Err(crate::messages::retention_count_not_positive());
            }
            let doc = parse_doc(&bytes)?;
            let ret = retention(&doc)?;
            if r.query.flag("async", false) {
                builds::retain_later(app, &caller, &name, ret).await?;
            } else {
                builds::retain(app, &caller, &name, &ret).await?;
            }
            Ok(empty(StatusCode::NO_CONTENT))
        }
        Builds::Promote { name, number } => {
            let doc = read_doc(body).await?;
            let p = promotion(&doc)?;
            let run = builds::find(app, &caller, &name, &number, None)
                .await
                .map_err(|_| crate::messages::promotion_no_build(&name, &number))?;
            let out = promote::promote(app, &caller, &run, &p).await?;
            Ok(outcome(&out, p.fail_fast))
        }
        Builds::Distribute { name, number } => {
            let doc = read_doc(body).await?;
            let d = distribution(&doc)?;
            let out = promote::distribute(app, &caller, &name, &number, &d).await?;
            let status = StatusCode::from_u16(out.status()).unwrap_or(StatusCode::OK);
            Ok(json(status, "application/json", &out.to_json()))
        }
    }
}

async fn delete(r: &Req, caller: &crate::auth::Caller, d: Deletion) -> Result<Response, ApiError> {
    builds::delete(&r.state, caller, &d).await?;
    let text = if d.all {
        format!("All '{}' builds have been deleted successfully.", d.name)
    } else {
        // "has" is Artifactory's.
        format!(
            "The following builds has been deleted successfully: {}.",
            d.numbers
                .iter()
                .map(|n| format!("'{}#{n}'", d.name))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(respond(StatusCode::OK, "text/plain", text))
}

/// A promotion's answer: its messages; 400 when it fails fast and an error or warning was
/// reported.
fn outcome(out: &promote::Outcome, fail_fast: bool) -> Response {
    let status = if fail_fast && out.failed() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let lines: Vec<Value> = out.messages.iter().map(|m| m.to_json()).collect();
    json(status, "application/json", &json!({"messages": lines}))
}

async fn read_doc(body: BodyStream) -> Result<Value, ApiError> {
    let bytes = read_small(body, 1 << 20).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    parse_doc(&bytes)
}

fn parse_doc(bytes: &[u8]) -> Result<Value, ApiError> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the request body: {e}")))?;
    if !doc.is_object() {
        return Err(ApiError::bad_request(
            "Could not parse the request body: expected a JSON object",
        ));
    }
    Ok(doc)
}

fn flag(doc: &Value, k: &str) -> bool {
    flag_or(doc, k, false)
}

fn flag_or(doc: &Value, k: &str, default: bool) -> bool {
    match doc.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => default,
    }
}

fn strings(doc: &Value, k: &str) -> Vec<String> {
    doc.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar).collect())
        .unwrap_or_default()
}

fn retention(doc: &Value) -> Result<Retention, ApiError> {
    let date = match doc.get("minimumBuildDate") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => Some(
            builds::parse_started(s)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid minimumBuildDate: {s}")))?,
        ),
        Some(_) => return Err(ApiError::bad_request("Invalid minimumBuildDate")),
    };
    // jfrog-client-go sends the count as a string.
    let count = match doc.get("count") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            scalar(v)
                .and_then(|c| c.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request(format!("Invalid retention count: {v}")))?,
        ),
    };
    Ok(Retention {
        count,
        minimum_date: date,
        keep: strings(doc, "buildNumbersNotToBeDiscarded"),
        delete_artifacts: flag(doc, "deleteBuildArtifacts"),
    })
}

fn promotion(doc: &Value) -> Result<promote::Promotion, ApiError> {
    let mut properties = Vec::new();
    if let Some(p) = doc.get("properties").and_then(Value::as_object) {
        for (k, v) in p {
            let values = match v {
                Value::Array(a) => a.iter().filter_map(scalar).collect(),
                other => scalar(other).into_iter().collect(),
            };
            properties.push((k.clone(), values));
        }
    }
    Ok(promote::Promotion {
        status: text(doc, "status"),
        comment: text(doc, "comment"),
        ci_user: text(doc, "ciUser"),
        // A blank timestamp (pyartifactory's default) is no timestamp: the promotion's time.
        timestamp: text(doc, "timestamp").filter(|t| !t.trim().is_empty()),
        dry_run: flag(doc, "dryRun"),
        source_repo: text(doc, "sourceRepo").filter(|s| !s.is_empty()),
        target_repo: text(doc, "targetRepo").filter(|s| !s.is_empty()),
        copy: flag(doc, "copy"),
        artifacts: flag_or(doc, "artifacts", true),
        dependencies: flag(doc, "dependencies"),
        scopes: strings(doc, "scopes"),
        properties,
        fail_fast: flag_or(doc, "failFast", true),
    })
}

fn distribution(doc: &Value) -> Result<promote::Distribution, ApiError> {
    Ok(promote::Distribution {
        target_repo: text(doc, "targetRepo").filter(|s| !s.is_empty()),
        source_repos: strings(doc, "sourceRepos"),
        dry_run: flag(doc, "dryRun"),
        override_existing: flag(doc, "overrideExistingFiles"),
        background: flag(doc, "async"),
    })
}
