//! `/api/security/users|groups|permissions[/{name}]` (admin only), the user lock policy, locked users
//! and unlocking, and `/api/security/encryptedPassword`; the domain is [`crate::auth::admin`].
//! Shapes follow Artifactory's v1 security API: lists of `{name, uri}`, entities as pretty JSON,
//! deletions answered in text.

use serde_json::Value;
use warp::http::StatusCode;
use warp::reply::Response;

use super::endpoint::Security;
use super::{empty, json, read_small, respond, BodyStream, Req};
use crate::auth::admin::{self, Kind};
use crate::error::ApiError;
use crate::messages as msg;

/// Answers a users, groups, permission targets, locks or encrypted-password endpoint.
pub(crate) async fn handle(r: &Req, e: Security, body: BodyStream) -> Result<Response, ApiError> {
    use Security as S;
    match e {
        S::UsersList => Ok(list(r, Kind::User)),
        S::GroupsList => Ok(list(r, Kind::Group)),
        S::PermissionsList => Ok(list(r, Kind::Permission)),
        S::UserGet { name } => get(r, Kind::User, &name),
        S::GroupGet { name } => get(r, Kind::Group, &name),
        S::PermissionGet { name } => get(r, Kind::Permission, &name),
        S::UserCreate { name } => put(r, Kind::User, &name, true, body).await,
        S::UserUpdate { name } => put(r, Kind::User, &name, false, body).await,
        S::GroupCreate { name } => put(r, Kind::Group, &name, true, body).await,
        S::GroupUpdate { name } => put(r, Kind::Group, &name, false, body).await,
        S::PermissionPut { name } => put(r, Kind::Permission, &name, true, body).await,
        S::UserDelete { name } => delete(r, Kind::User, &name).await,
        S::GroupDelete { name } => delete(r, Kind::Group, &name).await,
        S::PermissionDelete { name } => delete(r, Kind::Permission, &name).await,
        S::LockPolicyGet => {
            let v = admin::lock_policy(&r.state.store.read());
            Ok(json(StatusCode::OK, "application/json", &v))
        }
        S::LockPolicySet => {
            let doc = read_json(body, 64 << 10).await?;
            admin::set_lock_policy(&r.state, &doc).await?;
            Ok(text("UserLockPolicy was successfully updated"))
        }
        S::LockedUsers => {
            let names: Vec<String> = r
                .state
                .store
                .read()
                .security
                .locked
                .iter()
                .cloned()
                .collect();
            Ok(json(StatusCode::OK, "application/json", &names))
        }
        S::UnlockUsers { name: Some(name) } => {
            admin::unlock(&r.state, Some(vec![name.to_lowercase()])).await?;
            Ok(text(format!(
                "The user: '{name}' was successfully unlocked"
            )))
        }
        S::UnlockUsers { name: None } => {
            admin::unlock(&r.state, Some(listed_names(body).await?)).await?;
            Ok(text("Specified users were successfully unlocked"))
        }
        S::UnlockAll => {
            admin::unlock(&r.state, None).await?;
            Ok(text("All users were successfully unlocked"))
        }
        S::EncryptedPassword => {
            let caller = r.require_user()?;
            Ok(text(admin::encrypted_password_of(&r.state, &caller)?))
        }
        _ => Err(msg::not_found()),
    }
}

/// The (lower-cased) user names of an unlock body: a JSON array, or nothing.
async fn listed_names(body: BodyStream) -> Result<Vec<String>, ApiError> {
    let bytes = read_small(body, 1 << 20).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let names: Vec<String> = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!("The body must be a JSON array of user names: {e}"))
    })?;
    Ok(names.iter().map(|n| n.to_lowercase()).collect())
}

fn text(body: impl Into<String>) -> Response {
    respond(StatusCode::OK, "text/plain", body.into())
}

/// The media types of a list and of one entity.
fn content_types(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::User => (
            "application/vnd.org.jfrog.artifactory.security.Users+json",
            "application/vnd.org.jfrog.artifactory.security.User+json",
        ),
        Kind::Group => (
            "application/vnd.org.jfrog.artifactory.security.Groups+json",
            "application/vnd.org.jfrog.artifactory.security.Group+json",
        ),
        Kind::Permission => (
            "application/vnd.org.jfrog.artifactory.security.PermissionTargets+json",
            "application/vnd.org.jfrog.artifactory.security.PermissionTarget+json",
        ),
    }
}

fn name(raw: &str) -> Result<String, ApiError> {
    admin::check_name(&super::path::decode(raw).map_err(|e| ApiError::bad_request(e.0))?)
}

fn list(r: &Req, kind: Kind) -> Response {
    let base = r.base_url();
    let uri = |n: &str| {
        format!(
            "{base}/api/security/{}/{}",
            kind.segment(),
            super::path::encode_path(n)
        )
    };
    let rows = admin::list(&r.state.store.read(), kind, uri);
    json(StatusCode::OK, content_types(kind).0, &rows)
}

fn get(r: &Req, kind: Kind, raw: &str) -> Result<Response, ApiError> {
    let name = name(raw)?;
    let with_members = r.query.flag("includeUsers", false);
    let v = admin::get(&r.state.store.read(), kind, &name, with_members)?;
    Ok(json(StatusCode::OK, content_types(kind).1, &v))
}

async fn read_json(body: BodyStream, limit: usize) -> Result<Value, ApiError> {
    let bytes = read_small(body, limit).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Could not parse the JSON body: {e}")))
}

async fn put(
    r: &Req,
    kind: Kind,
    raw: &str,
    replace: bool,
    body: BodyStream,
) -> Result<Response, ApiError> {
    let name = name(raw)?;
    let Value::Object(doc) = read_json(body, 1 << 20).await? else {
        return Err(ApiError::bad_request("The JSON body must be an object"));
    };
    let created = match kind {
        Kind::User => admin::put_user(&r.state, &name, &doc, replace).await?,
        Kind::Group => admin::put_group(&r.state, &name, &doc, replace).await?,
        Kind::Permission => admin::put_permission(&r.state, &name, &doc).await?,
    };
    Ok(empty(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }))
}

async fn delete(r: &Req, kind: Kind, raw: &str) -> Result<Response, ApiError> {
    let name = name(raw)?;
    let caller = r.caller()?.clone();
    Ok(text(admin::delete(&r.state, &caller, kind, &name).await?))
}
