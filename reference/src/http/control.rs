//! The reference server's own control API, outside the JCR API: `/_reference/...` at the server
//! root, for administrators only. What tests of other projects need from a stand-in and a real JCR
//! does not offer:
//!
//! - `GET /_reference/requests[?limit=N&status=S]`: the last requests, newest first, with the
//!   nearest existing paths of every `404` (`nearMisses`); `DELETE` forgets them.
//! - `GET /_reference/clock`: the server's time; `POST` with `{"set": <ms or ISO-8601>,
//!   "advance": <ms>, "freeze": <bool>}` (applied in that order) moves it — tokens expire, AQL's
//!   relative times and retention follow.
//! - `POST /_reference/seed`: the current state becomes the seed; `POST /_reference/reset` puts
//!   it back (a server without a data directory is seeded with its start), moto's reset.
//! - `GET /_reference/faults`: the fault rules; `POST` adds one, `{"path": <prefix>, "method"?,
//!   "delayMs"?, "status"?, "drop"? (close the connection unanswered), "truncate"? (after the
//!   headers and that many body bytes), "times"?}`; `DELETE` (all) or
//!   `DELETE /_reference/faults/<id>` removes them.

use serde_json::{json, Map, Value};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use super::{empty, json as reply, BodyStream, Req};
use crate::error::ApiError;
use crate::messages as msg;

const JSON: &str = "application/json";

/// Answers a control request (`rest`: the path after `/_reference/`).
pub(crate) async fn handle(r: &Req, rest: &str, body: BodyStream) -> Result<Response, ApiError> {
    r.require_admin(|_| msg::forbidden())?;
    let known = ["requests", "clock", "faults", "seed", "reset"];
    if let Some(id) = rest.strip_prefix("faults/").filter(|i| !i.is_empty()) {
        return match (&r.method, id.parse::<u64>()) {
            (&Method::DELETE, Ok(id)) if r.state.faults.remove(Some(id)) => {
                Ok(empty(StatusCode::NO_CONTENT))
            }
            (&Method::DELETE, _) => Err(ApiError::not_found(format!("No fault rule {id}"))),
            _ => Err(ApiError::new(
                405,
                format!("{} is not allowed on /_reference/faults/{id}", r.method),
            )),
        };
    }
    match (&r.method, rest.trim_end_matches('/')) {
        (&Method::GET, "requests") => requests(r),
        (&Method::DELETE, "requests") => {
            r.state.requests.clear();
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (&Method::GET, "clock") => Ok(clock(r)),
        (&Method::POST, "clock") => set_clock(r, body).await,
        (&Method::GET, "faults") => Ok(reply(
            StatusCode::OK,
            JSON,
            &json!({"faults": r.state.faults.list()}),
        )),
        (&Method::POST, "faults") => add_fault(r, body).await,
        (&Method::POST, "seed") => Ok(reply(
            StatusCode::OK,
            JSON,
            &crate::requests::capture(&r.state),
        )),
        (&Method::POST, "reset") => match crate::requests::reset(&r.state) {
            Some(Ok(s)) => Ok(reply(StatusCode::OK, JSON, &s)),
            Some(Err(e)) => Err(ApiError::new(500, format!("The reset could not be written: {e}"))),
            None => Err(ApiError::conflict(
                "Nothing is seeded: POST /_reference/seed makes the current state the one a reset puts back (a server without a data directory seeds its start)",
            )),
        },
        (&Method::DELETE, "faults") => {
            r.state.faults.remove(None);
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (_, name) if known.contains(&name) => Err(ApiError::new(
            405,
            format!("{} is not allowed on /_reference/{name}", r.method),
        )),
        (_, name) => Err(ApiError::not_found(format!(
            "No control endpoint /_reference/{name}; there are: {}",
            known.map(|k| format!("/_reference/{k}")).join(", ")
        ))),
    }
}

fn requests(r: &Req) -> Result<Response, ApiError> {
    let limit = match r.query.get("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::bad_request(format!("limit '{l}' is not a positive number")))?
            .min(crate::requests::KEEP),
    };
    let status = match r.query.get("status") {
        None => None,
        Some(s) => Some(
            s.parse::<u16>()
                .map_err(|_| ApiError::bad_request(format!("status '{s}' is not a number")))?,
        ),
    };
    let logged = r.state.requests.newest(crate::requests::KEEP);
    let state = r.state.store.read();
    let rows: Vec<Value> = logged
        .into_iter()
        .filter(|l| status.is_none_or(|s| l.status == s))
        .take(limit)
        .map(|l| {
            let mut v = json!({
                "at": crate::clock::iso(l.at),
                "method": l.method,
                "path": l.path,
                "status": l.status,
                "durationMs": l.duration_ms,
                "caller": l.caller,
            });
            if l.status == 404 {
                v["nearMisses"] = json!(crate::requests::near_misses(
                    &state,
                    &r.state.ctx_path,
                    &l.path
                ));
            }
            v
        })
        .collect();
    Ok(reply(StatusCode::OK, JSON, &json!({ "requests": rows })))
}

fn clock(r: &Req) -> Response {
    let c = &r.state.config.clock;
    let now = c.now_ms();
    reply(
        StatusCode::OK,
        JSON,
        &json!({"now": now, "iso": crate::clock::iso(now), "frozen": c.is_frozen()}),
    )
}

async fn set_clock(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let bytes = super::read_small(body, 64 << 10).await?;
    let doc: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("The clock settings are not a JSON object: {e}"))
    })?;
    if let Some(k) = doc
        .keys()
        .find(|k| !["set", "advance", "freeze"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "Unknown clock setting '{k}': set, advance, freeze"
        )));
    }
    // Everything is checked before anything moves.
    let set = match doc.get("set") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => {
            Some(n.as_i64().ok_or_else(|| {
                ApiError::bad_request("set: epoch milliseconds must be an integer")
            })?)
        }
        Some(Value::String(s)) => Some(
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|e| ApiError::bad_request(format!("set: '{s}' is not ISO-8601: {e}")))?,
        ),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "set: expected epoch milliseconds or an ISO-8601 string, got {other}"
            )))
        }
    };
    let advance = match doc.get("advance") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            ApiError::bad_request(format!("advance: expected milliseconds, got {v}"))
        })?),
    };
    let freeze = match doc.get("freeze") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "freeze: expected true or false, got {other}"
            )))
        }
    };
    let c = &r.state.config.clock;
    if let Some(ms) = set {
        c.set(ms);
    }
    if let Some(ms) = advance {
        c.advance(ms);
    }
    match freeze {
        Some(true) => c.freeze(),
        Some(false) => c.resume(),
        None => {}
    }
    Ok(clock(r))
}

async fn add_fault(r: &Req, body: BodyStream) -> Result<Response, ApiError> {
    let bytes = super::read_small(body, 64 << 10).await?;
    let doc: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("The fault rule is not a JSON object: {e}")))?;
    let fields = [
        "path", "method", "delayMs", "status", "drop", "truncate", "times",
    ];
    if let Some(k) = doc.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unknown fault setting '{k}': {}",
            fields.join(", ")
        )));
    }
    let number = |k: &str| -> Result<Option<u64>, ApiError> {
        match doc.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("{k}: expected a number, got {v}"))),
        }
    };
    let path = match doc.get("path") {
        Some(Value::String(p)) if p.starts_with('/') => p.clone(),
        other => {
            return Err(ApiError::bad_request(format!(
                "path: expected the start of a request path ('/artifactory/api/storage/'), got {}",
                other.map_or("nothing".to_string(), Value::to_string)
            )))
        }
    };
    let method = match doc.get("method") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if Method::from_bytes(m.as_bytes()).is_ok() => {
            Some(m.to_ascii_uppercase())
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "method: expected an HTTP method, got {other}"
            )))
        }
    };
    let status = match number("status")? {
        None => None,
        Some(s) if (400..600).contains(&s) => Some(s as u16),
        Some(s) => {
            return Err(ApiError::bad_request(format!(
                "status: {s} is not an error status (400-599)"
            )))
        }
    };
    let drop = match doc.get("drop") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "drop: expected true or false, got {other}"
            )))
        }
    };
    let rule = crate::requests::FaultRule {
        id: 0,
        method,
        path,
        delay_ms: number("delayMs")?.map(|d| d.min(600_000)),
        status,
        drop,
        truncate: number("truncate")?,
        times: number("times")?.filter(|t| *t > 0),
    };
    if rule.delay_ms.is_none() && rule.status.is_none() && !rule.drop && rule.truncate.is_none() {
        return Err(ApiError::bad_request(
            "A fault rule needs one of delayMs, status, drop, truncate",
        ));
    }
    let rule = r.state.faults.add(rule);
    Ok(reply(StatusCode::CREATED, JSON, &rule))
}

/// Applies a fault rule to the answer of a request it matched (the status was answered instead of
/// the work already): `drop` closes the connection without an answer, `truncate` after the headers
/// and so many bytes of the body.
pub(crate) fn cut(rule: &crate::requests::FaultRule, resp: Response) -> Response {
    use futures_util::StreamExt;
    let cut = || std::io::Error::other("cut by a control API fault rule");
    let (parts, body) = resp.into_parts();
    if rule.drop {
        // Failing before anything is written: the server closes the connection unanswered.
        let stream = futures_util::stream::once(async move { Err::<bytes::Bytes, _>(cut()) });
        let (_, gone) = warp::reply::Reply::into_response(warp::reply::stream(stream)).into_parts();
        return Response::from_parts(parts, gone);
    }
    let Some(keep) = rule.truncate else {
        return Response::from_parts(parts, body);
    };
    let mut left = keep;
    let stream = http_body_util::BodyStream::new(body)
        .filter_map(|f| async move { f.ok().and_then(|f| f.into_data().ok()) })
        .map(move |chunk: bytes::Bytes| {
            let n = (chunk.len() as u64).min(left);
            left -= n;
            Ok::<_, std::io::Error>(chunk.slice(..n as usize))
        })
        .take_while(|c| {
            let more = c.as_ref().is_ok_and(|c| !c.is_empty());
            async move { more }
        })
        // Then, once what was kept has gone out, the connection ends before the promised length.
        .chain(futures_util::stream::once(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            Err(cut())
        }));
    let (_, cut) = warp::reply::Reply::into_response(warp::reply::stream(stream)).into_parts();
    Response::from_parts(parts, cut)
}
