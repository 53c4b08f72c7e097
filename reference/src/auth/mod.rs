//! Who is calling and what they may do. Identification reads Basic credentials; authorisation is the
//! one place every handler asks ([`Auth::authorize`]). Users, groups, permission targets, API keys and
//! tokens come in a later issue; until then administrators may do everything, other users may read, and
//! anonymous callers may read only when anonymous access is on.

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
}

impl Caller {
    /// The anonymous caller.
    pub fn anonymous() -> Caller {
        Caller {
            name: "anonymous".into(),
            admin: false,
            anonymous: true,
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

    /// Identifies the caller from `Authorization`. Wrong credentials are a 401 whatever the endpoint.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Some(value) = headers.get(warp::http::header::AUTHORIZATION) else {
            return Ok(Caller::anonymous());
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("Bad credentials"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(ApiError::unauthorized("Bad credentials"));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::unauthorized("Bad credentials"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| ApiError::unauthorized("Bad credentials"))?;
        match self
            .users
            .iter()
            .find(|u| u.name == user && u.password == password)
        {
            Some(u) => Ok(Caller {
                name: u.name.clone(),
                admin: u.admin,
                anonymous: false,
            }),
            None => Err(ApiError::unauthorized("Bad credentials")),
        }
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
