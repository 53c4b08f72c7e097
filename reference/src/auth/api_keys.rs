//! API keys: created, shown, regenerated and revoked, the caller's own or (administrators)
//! another user's, answered in Artifactory's UI-feedback shapes (`{"apiKey":...}`, `{"info":...}`,
//! `{"error":...}`).

use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};

use super::{Caller, Method};
use crate::app::App;
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::Mutation;

/// What a request does with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyOp {
    Get,
    Create,
    Regenerate,
    /// `all`: every user's key (`?deleteAll=1`, administrators only).
    Revoke {
        all: bool,
    },
}

/// A reply: its status and compact JSON body (`None`: an empty body).
pub(crate) type KeyReply = (u16, Option<Value>);

/// A new key in the modern format: `AKCp8` followed by 68 letters and digits.
fn new_key() -> String {
    format!(
        "AKCp8{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 68)
    )
}

/// Does `op` for the caller's own key, or for `other`'s.
pub(crate) async fn run(
    app: &App,
    caller: &Caller,
    op: KeyOp,
    other: Option<&str>,
) -> Result<KeyReply, ApiError> {
    if caller.anonymous {
        if !app.auth.anonymous_access() {
            return Err(msg::authentication_required());
        }
        // Anonymous: creating is refused, the rest answers with nothing.
        return match op {
            KeyOp::Create => Err(msg::anonymous_api_key()),
            _ => Ok((200, None)),
        };
    }
    let mints = matches!(op, KeyOp::Create | KeyOp::Regenerate);
    // A token limited to groups may not mint a key that acts as the whole user.
    if mints && caller.method == Method::Token && caller.principal.user.is_none() {
        return Err(msg::group_token_mints_key());
    }
    if other.is_some() && !caller.admin {
        return Err(msg::others_api_key());
    }
    let target = other.unwrap_or(&caller.name).to_string();
    let existing = app.store.read().api_keys.get(&target).cloned();
    match op {
        KeyOp::Get => Ok((
            200,
            Some(match existing {
                Some(k) => json!({ "apiKey": &*k }),
                None => json!({}),
            }),
        )),
        KeyOp::Create => set(app, &target, 201, true).await,
        KeyOp::Regenerate if caller.api_key => Err(msg::api_key_regenerates_itself()),
        KeyOp::Regenerate => set(app, &target, 200, false).await,
        KeyOp::Revoke { all: true } if other.is_none() => {
            if !caller.admin {
                return Err(msg::revoke_all_keys_forbidden());
            }
            revoke(app, None).await?;
            let info = json!({ "info": "All api keys have been successfully revoked" });
            Ok((200, Some(info)))
        }
        KeyOp::Revoke { .. } => {
            if existing.is_some() {
                revoke(app, Some(target.clone())).await?;
            }
            let info = format!("Api key for user: '{target}' has been successfully revoked");
            Ok((200, Some(json!({ "info": info }))))
        }
    }
}

/// A new key for `user`; `create`: only when the user has none (checked with the write).
async fn set(app: &App, user: &str, status: u16, create: bool) -> Result<KeyReply, ApiError> {
    let key = new_key();
    let check = |state: &crate::store::State| {
        if create && state.api_keys.contains_key(user) {
            return Err(msg::api_key_exists(user));
        }
        Ok(Mutation::SetApiKey {
            user: user.to_string(),
            key: key.as_str().into(),
        })
    };
    app.store.transact(check, |_| ()).await.map_err(|r| {
        ApiError::refused(r, |t| {
            ApiError::internal(format!("storing an API key: {t:?}"))
        })
    })?;
    Ok((status, Some(json!({ "apiKey": key }))))
}

async fn revoke(app: &App, user: Option<String>) -> Result<(), ApiError> {
    app.store
        .commit(Mutation::RevokeApiKey { user })
        .await
        .map_err(|e| ApiError::internal(format!("revoking API keys: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, app};

    #[tokio::test]
    async fn keys_are_created_once_shown_regenerated_and_revoked() {
        let app = app();
        let a = admin(&app).await;
        let (st, v) = run(&app, &a, KeyOp::Create, None).await.unwrap();
        let key = v.unwrap()["apiKey"].as_str().unwrap().to_string();
        assert!(
            st == 201 && key.starts_with("AKCp8") && key.len() == 73,
            "{key}"
        );
        let e = run(&app, &a, KeyOp::Create, None).await.unwrap_err();
        assert_eq!(
            (e.status, e.message()),
            (400, "Api key already exists for user: admin")
        );
        let (_, v) = run(&app, &a, KeyOp::Get, None).await.unwrap();
        assert_eq!(v.unwrap()["apiKey"], key.as_str());
        let (_, v) = run(&app, &a, KeyOp::Regenerate, None).await.unwrap();
        assert_ne!(v.unwrap()["apiKey"], key.as_str());
        run(&app, &a, KeyOp::Revoke { all: false }, None)
            .await
            .unwrap();
        let (_, v) = run(&app, &a, KeyOp::Get, None).await.unwrap();
        assert_eq!(v.unwrap(), json!({}));
        // Anonymous callers, with anonymous access off, are asked to authenticate.
        let e = run(&app, &Caller::anonymous(), KeyOp::Get, None)
            .await
            .unwrap_err();
        assert_eq!((e.status, e.message()), (401, "Authentication is required"));
    }
}
