//! Who is calling and what they may do. Identification reads Basic credentials; authorisation is the
//! one place every handler asks ([`Auth::authorize`]). Users, groups, permission targets, API keys and
//! tokens come in a later issue; until then administrators may do everything, other users may read, and
//! anonymous callers may read only when anonymous access is on.

use std::collections::BTreeMap;

use base64::Engine;
use warp::http::HeaderMap;

use crate::config::UserConfig;
use crate::http::error::ApiError;

/// The caller of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// User name (`anonymous` for anonymous callers).
    pub name: String,
    /// Administrator.
    pub admin: bool,
    /// No credentials were sent.
    pub anonymous: bool,
    /// Authenticated with an API key.
    pub api_key: bool,
}

impl Caller {
    /// The anonymous caller.
    pub fn anonymous() -> Caller {
        Caller {
            name: "anonymous".into(),
            admin: false,
            anonymous: true,
            api_key: false,
        }
    }
}

/// What a request wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read content or metadata.
    Read,
    /// Deploy (create or overwrite) content.
    Deploy,
    /// Delete or overwrite content.
    Delete,
    /// Change properties.
    Annotate,
    /// Server administration.
    Admin,
}

/// The user directory and the permission check.
#[derive(Debug)]
pub struct Auth {
    users: Vec<UserConfig>,
    anonymous_access: bool,
}

impl Auth {
    /// A directory of configured users.
    pub fn new(users: Vec<UserConfig>, anonymous_access: bool) -> Auth {
        Auth {
            users,
            anonymous_access,
        }
    }

    /// Whether anonymous access is on.
    pub fn anonymous_access(&self) -> bool {
        self.anonymous_access
    }

    /// Identifies the caller from `Authorization` (Basic user:password or user:API key) or the
    /// `X-JFrog-Art-Api` / `X-Api-Key` header. Wrong credentials are a 401 whatever the endpoint.
    pub fn identify(
        &self,
        headers: &HeaderMap,
        api_keys: &BTreeMap<String, String>,
    ) -> Result<Caller, ApiError> {
        let bad = || ApiError::unauthorized("Bad credentials");
        let header_key = ["x-jfrog-art-api", "x-api-key"]
            .iter()
            .find_map(|h| headers.get(*h));
        if let Some(key) = header_key {
            let key = key.to_str().map_err(|_| bad())?.trim();
            let (user, _) = api_keys
                .iter()
                .find(|(_, k)| same(k, key))
                .ok_or_else(bad)?;
            return self.caller_for(user, true).ok_or_else(bad);
        }
        let Some(value) = headers.get(warp::http::header::AUTHORIZATION) else {
            return Ok(Caller::anonymous());
        };
        let value = value.to_str().map_err(|_| bad())?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(bad());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let (user, secret) = decoded.split_once(':').ok_or_else(bad)?;
        let Some(u) = self.users.iter().find(|u| u.name == user) else {
            return Err(bad());
        };
        if same(&u.password, secret) {
            return self.caller_for(user, false).ok_or_else(bad);
        }
        match api_keys.get(user) {
            Some(k) if same(k, secret) => self.caller_for(user, true).ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    fn caller_for(&self, user: &str, api_key: bool) -> Option<Caller> {
        let u = self.users.iter().find(|u| u.name == user)?;
        Some(Caller {
            name: u.name.clone(),
            admin: u.admin,
            anonymous: false,
            api_key,
        })
    }

    /// Whether `caller` may do `action`. `forbidden` builds the 403 message for authenticated callers;
    /// anonymous callers get a 401 with the Basic challenge instead, as Artifactory does.
    pub fn authorize(
        &self,
        caller: &Caller,
        action: Action,
        forbidden: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        if caller.anonymous {
            if !self.anonymous_access {
                return Err(ApiError::unauthorized("Authentication is required"));
            }
            return match action {
                Action::Read => Ok(()),
                _ => Err(ApiError::unauthorized("Unauthorized")),
            };
        }
        if caller.admin || action == Action::Read {
            return Ok(());
        }
        Err(forbidden())
    }
}

/// Compares two secrets in time that depends only on their lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
