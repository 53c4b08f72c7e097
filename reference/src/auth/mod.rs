//! Who is calling and what they may do.
//!
//! [`Auth::identify`] reads the credentials of a request (Basic user:password, user:API key,
//! user:encrypted password or user:access token, `X-JFrog-Art-Api`/`X-Api-Key`, `Authorization: Bearer`)
//! and produces a [`Caller`]; [`Auth::check`] and [`Auth::check_admin`] are the one place every handler
//! asks whether a caller may do something, and they produce Artifactory's 401/403 distinctions.
//!
//! Passwords are stored as bcrypt hashes. Verifying one costs tens of milliseconds on purpose, so a
//! verified credential is remembered as a keyed SHA-256 digest bound to the stored hash: a changed
//! password, a deleted user or a restart invalidates it, and a wrong password never hits the cache.

pub(crate) mod admin;
pub(crate) mod api_keys;
pub mod crypto;
pub mod model;
pub mod token;
pub(crate) mod tokens;

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::RepoClass;
use crate::error::{ApiError, Challenge};
use crate::messages as msg;
use crate::store::{Mutation, State, Store};
use base64::Engine;
use model::{Act, Principal, Security, SecurityChange, User, PENDING_HASH};
use sha2::{Digest, Sha256};

/// Password checks that may wait for one user at once; more are refused without a check.
const MAX_WAITING_LOGINS: usize = 8;

/// A bcrypt hash of nothing anyone knows, checked for names no user has (the same cost as a real
/// check).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        bcrypt::hash(hex::encode(random), BCRYPT_COST).unwrap_or_default()
    })
}

/// bcrypt cost for stored passwords (2^10 rounds: about 50 ms per verification).
pub const BCRYPT_COST: u32 = 10;

/// The credentials a request presents (header values as text; one that is not text is empty, so it
/// matches nothing).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// `X-JFrog-Art-Api` (or the legacy `X-Api-Key`).
    pub api_key: Option<String>,
    /// `Authorization`.
    pub authorization: Option<String>,
}

/// How a caller authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// No credentials.
    Anonymous,
    /// Basic with the clear-text password.
    Password,
    /// Basic with the encrypted password.
    EncryptedPassword,
    /// An API key (Basic or header).
    ApiKey,
    /// An access token (Basic or Bearer).
    Token,
}

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
    /// How the caller authenticated.
    pub method: Method,
    /// Whose permissions apply.
    pub principal: Principal,
    /// The access token used, if any.
    pub token_id: Option<String>,
}

impl Caller {
    /// The anonymous caller.
    pub fn anonymous() -> Caller {
        Caller {
            name: "anonymous".into(),
            admin: false,
            anonymous: true,
            api_key: false,
            method: Method::Anonymous,
            principal: Principal {
                user: Some("anonymous".into()),
                groups: vec![],
                admin: false,
            },
            token_id: None,
        }
    }

    /// The server itself, as an administrator (`_system`): what seeding at start writes as.
    pub fn system() -> Caller {
        Caller::new(
            "_system",
            Method::Password,
            Principal {
                user: Some("_system".into()),
                groups: vec![],
                admin: true,
            },
            None,
        )
    }

    fn new(name: &str, method: Method, principal: Principal, token_id: Option<String>) -> Caller {
        Caller {
            name: name.to_string(),
            admin: principal.admin,
            anonymous: false,
            api_key: method == Method::ApiKey,
            method,
            principal,
            token_id,
        }
    }
}

/// What a request wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read content or metadata.
    Read,
    /// Deploy (create) content.
    Deploy,
    /// Delete or overwrite content.
    Delete,
    /// Change properties.
    Annotate,
    /// Manage (a build's promotion, for one).
    Manage,
}

impl Action {
    fn act(self) -> Act {
        match self {
            Action::Read => Act::Read,
            Action::Deploy => Act::Deploy,
            Action::Delete => Act::Delete,
            Action::Annotate => Act::Annotate,
            Action::Manage => Act::Manage,
        }
    }
}

/// Where an action happens.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// Repository key.
    pub repo: &'a str,
    /// Its class (for `ANY LOCAL` / `ANY REMOTE`).
    pub class: RepoClass,
    /// Path inside the repository (`""` is the root).
    pub path: &'a str,
    /// The path is a folder (include patterns relax so users can browse down).
    pub folder: bool,
}

/// Credential cache entry: the stored hash it was verified against and a keyed digest of the secret.
type Verified = (String, [u8; 32]);

/// Authentication and authorisation.
#[derive(Debug)]
pub struct Auth {
    /// Anonymous access: the start-up flag, then what the general configuration sets.
    anonymous_access: std::sync::atomic::AtomicBool,
    pepper: [u8; 32],
    cache: Mutex<HashMap<String, Verified>>,
    failures: Mutex<HashMap<String, u32>>,
    /// Per-user gates for slow password checks.
    gates: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    /// bcrypt checks running at once, over all users (one per core): failed logins cost the
    /// machine a bounded amount, whoever they name.
    verifying: tokio::sync::Semaphore,
    /// bcrypt checks made (tests count them).
    checks: std::sync::atomic::AtomicU64,
    /// Claims of tokens whose signature was verified, by keyed digest of the token. Expiry,
    /// revocation and the user's state are still checked on every use.
    verified_tokens: Mutex<HashMap<[u8; 32], token::Claims>>,
    /// The token signing key.
    pub keys: token::Keys,
}

impl Auth {
    /// Authentication for a store rooted at `root`.
    pub fn new(anonymous_access: bool, root: &std::path::Path) -> Auth {
        Auth {
            anonymous_access: anonymous_access.into(),
            pepper: rand::random(),
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            verifying: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            checks: Default::default(),
            verified_tokens: Mutex::new(HashMap::new()),
            keys: token::Keys::new(root),
        }
    }

    /// Whether anonymous access is on.
    pub fn anonymous_access(&self) -> bool {
        self.anonymous_access
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Turns anonymous access on or off (the general configuration).
    pub fn set_anonymous_access(&self, on: bool) {
        self.anonymous_access
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn digest(&self, user: &str, secret: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.pepper);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    /// Remembers that `secret` is `user`'s password while their stored hash is `hash`.
    pub fn remember(&self, user: &str, hash: &str, secret: &str) {
        let d = self.digest(user, secret);
        lock(&self.cache).insert(user.to_string(), (hash.to_string(), d));
    }

    /// Identifies the caller. Wrong credentials are a 401 `Bad credentials` whatever the endpoint; a
    /// locked or disabled user is a 403 by every method; failed logins count towards the lock policy.
    pub async fn identify(
        &self,
        store: &Store,
        presented: &Credentials,
        now_ms: i64,
    ) -> Result<Caller, ApiError> {
        let bad = || msg::bad_credentials();
        if let Some(key) = &presented.api_key {
            let key = key.trim();
            let state = store.read();
            let user = state
                .api_keys
                .iter()
                .fold(
                    None,
                    |found, (u, k)| if same(k, key) { Some(u) } else { found },
                )
                .ok_or_else(bad)?;
            let user = state.security.user(user).ok_or_else(bad)?;
            usable(&state.security, user)?;
            return Ok(Caller::new(
                &user.name,
                Method::ApiKey,
                state.security.principal_of(user),
                None,
            ));
        }
        let Some(value) = presented.authorization.as_deref() else {
            return Ok(Caller::anonymous());
        };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let t = rest.trim();
            if t.starts_with(DOCKER_TOKEN) {
                return self.docker_caller(store, t, now_ms);
            }
            return self.token_caller(store, t, None, now_ms).await;
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(bad());
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let (name, secret) = decoded.split_once(':').ok_or_else(bad)?;
        if token::looks_like_jwt(secret) {
            let r = self.token_caller(store, secret, Some(name), now_ms).await;
            if r.as_ref().is_err_and(|e| e.status == 401) {
                self.failed(store, name).await?;
            }
            return r;
        }
        let (user, api_key) = {
            let state = store.read();
            let user = state.security.user(name).cloned();
            let key = user
                .as_ref()
                .and_then(|u| state.api_keys.get(&u.name).cloned());
            (user, key)
        };
        let Some(user) = user else {
            // A name no user has costs what a wrong password costs: the answer's time must not
            // tell which users exist.
            let dummy = tokio::task::spawn_blocking(dummy_hash).await.unwrap_or("");
            self.bcrypt(secret, dummy).await;
            return Err(bad());
        };
        usable(&store.read().security, &user)?;
        // Fast path: a password verified before (no counting needed, the user was checked above).
        let method = match self.cached(&user, secret) {
            Some(m) => m,
            None => {
                // Slow path, one at a time per user: the lock state is checked again under the gate,
                // so parallel guesses cannot outrun the lock policy, and a guess made after the lock
                // is refused without being verified (its answer tells nothing).
                let gate = self.login_gate(&user.name);
                // Guesses queue per user; past a few, more are refused at once without a check
                // (nor counted), so a flood of wrong passwords cannot hold a user's own login
                // behind minutes of bcrypt.
                if std::sync::Arc::strong_count(&gate) > MAX_WAITING_LOGINS + 1 {
                    return Err(bad());
                }
                let _turn = gate.lock().await;
                {
                    let state = store.read();
                    let current = state.security.user(&user.name).ok_or_else(bad)?;
                    usable(&state.security, current)?;
                }
                let method = self
                    .check_secret(&user, api_key.as_deref(), secret, store)
                    .await;
                let Some(method) = method else {
                    self.failed(store, &user.name).await?;
                    return Err(bad());
                };
                method
            }
        };
        lock(&self.failures).remove(&user.name);
        let state = store.read();
        // The user may have been deleted or locked while the hash was checked.
        let user = state.security.user(&user.name).ok_or_else(bad)?;
        usable(&state.security, user)?;
        Ok(Caller::new(
            &user.name,
            method,
            state.security.principal_of(user),
            None,
        ))
    }

    fn cached(&self, user: &User, secret: &str) -> Option<Method> {
        if user.internal_password_disabled || user.password.is_empty() {
            return None;
        }
        let d = self.digest(&user.name, secret);
        lock(&self.cache)
            .get(&user.name)
            .is_some_and(|(h, cd)| h.as_str() == &*user.password && same_bytes(cd, &d))
            .then_some(Method::Password)
    }

    fn login_gate(&self, user: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        lock(&self.gates)
            .entry(user.to_string())
            .or_default()
            .clone()
    }

    async fn check_secret(
        &self,
        user: &User,
        api_key: Option<&str>,
        secret: &str,
        store: &Store,
    ) -> Option<Method> {
        if !user.internal_password_disabled && !user.password.is_empty() {
            let d = self.digest(&user.name, secret);
            let cached = lock(&self.cache)
                .get(&user.name)
                .is_some_and(|(h, cd)| h.as_str() == &*user.password && same_bytes(cd, &d));
            if cached {
                return Some(Method::Password);
            }
            if user.password != PENDING_HASH && self.bcrypt(secret, &user.password).await {
                self.remember(&user.name, &user.password, secret);
                return Some(Method::Password);
            }
        }
        if api_key.is_some_and(|k| same(k, secret)) {
            return Some(Method::ApiKey);
        }
        if secret.starts_with("AP") {
            let state = store.read();
            let sec = &state.security;
            let by_password = (!user.password.is_empty() && !user.internal_password_disabled)
                .then(|| encrypted_password(&sec.secret, &user.name, &user.password));
            let by_key = api_key.map(|k| encrypted_password(&sec.secret, &user.name, k));
            if [by_password, by_key]
                .iter()
                .flatten()
                .any(|e| same(e, secret))
            {
                return Some(Method::EncryptedPassword);
            }
        }
        None
    }

    /// One bcrypt check of `secret` against `hash`, off the async workers and within the machine-wide
    /// bound.
    async fn bcrypt(&self, secret: &str, hash: &str) -> bool {
        let Ok(_slot) = self.verifying.acquire().await else {
            return false;
        };
        self.checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (s, h) = (secret.to_string(), hash.to_string());
        tokio::task::spawn_blocking(move || bcrypt::verify(s, &h))
            .await
            .is_ok_and(|r| r.unwrap_or(false))
    }

    /// bcrypt checks made so far.
    #[cfg(test)]
    pub(crate) fn checks(&self) -> u64 {
        self.checks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts a failed login for `name`; locks the user when the policy says so. Administrators
    /// are never locked (their failures are logged): an unauthenticated client must not be able to
    /// lock out the only accounts that could unlock others.
    async fn failed(&self, store: &Store, name: &str) -> Result<(), ApiError> {
        let (policy, known) = {
            let s = store.read();
            (
                s.security.lock_policy.clone(),
                s.security.user(name).map(|u| (u.name.clone(), u.admin)),
            )
        };
        let Some((name, admin)) = known else {
            return Ok(());
        };
        let n = {
            let mut f = lock(&self.failures);
            let n = f.entry(name.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if policy.enabled && n >= policy.login_attempts.max(1) {
            lock(&self.failures).remove(&name);
            if admin {
                tracing::warn!(
                    "administrator '{name}' failed {n} logins; administrators are not locked"
                );
                return Ok(());
            }
            tracing::info!("user '{name}' locked after {n} failed logins");
            store
                .commit(Mutation::Security(SecurityChange::Lock { name }))
                .await
                .map_err(|_| ApiError::internal("could not record the lock"))?;
        }
        Ok(())
    }

    /// Forgets failed-login counts (unlock).
    pub fn reset_failures(&self, names: Option<&[String]>) {
        let mut f = lock(&self.failures);
        match names {
            Some(n) => n.iter().for_each(|n| {
                f.remove(n);
            }),
            None => f.clear(),
        }
    }

    async fn token_caller(
        &self,
        store: &Store,
        token: &str,
        basic_user: Option<&str>,
        now_ms: i64,
    ) -> Result<Caller, ApiError> {
        let bad = || msg::bad_credentials();
        let d = self.digest("\0token", token);
        let cached = lock(&self.verified_tokens).get(&d).cloned();
        let claims = match cached {
            Some(c) => c,
            None => {
                let signer = self
                    .keys
                    .existing(|| store.cipher())
                    .await
                    .map_err(ApiError::internal)?
                    .ok_or_else(bad)?;
                let claims = signer.verify(token).map_err(|_| bad())?;
                let mut cache = lock(&self.verified_tokens);
                if cache.len() >= 10_000 {
                    cache.clear();
                }
                cache.insert(d, claims.clone());
                claims
            }
        };
        let state = store.read();
        let sec = &state.security;
        let record = sec.tokens.get(&claims.jti).ok_or_else(bad)?;
        let issuer_ok =
            claims.iss == sec.service_id || claims.iss == token::access_id(&sec.service_id);
        if !issuer_ok || record.subject != claims.sub {
            return Err(bad());
        }
        if claims.exp.is_some_and(|e| e.saturating_mul(1000) <= now_ms) {
            return Err(bad());
        }
        let audience_ok = claims
            .aud
            .split_whitespace()
            .any(|a| a == sec.service_id || a == "jfrt@*" || a == "*@*" || a == "*");
        if !audience_ok {
            return Err(bad());
        }
        let name = claims.username().to_string();
        if basic_user.is_some_and(|u| !u.eq_ignore_ascii_case(&name)) {
            return Err(bad());
        }
        // A token issued for a user who did not exist keeps acting with its groups only, even if a
        // user of that name is created later.
        let user = if record.transient {
            None
        } else {
            sec.user(&name)
        };
        if let Some(u) = user {
            usable(sec, u)?;
        }
        let principal = token_principal(sec, user, &claims.scp);
        Ok(Caller::new(
            user.map_or(&name, |u| &u.name),
            Method::Token,
            principal,
            Some(claims.jti),
        ))
    }

    /// A registry bearer token for `user` (the Docker token endpoint): `jcrd.<user>.<expiry>.<mac>`, the
    /// MAC keyed by the instance secret. Short-lived and not listed with access tokens, as
    /// Artifactory's Docker tokens are not.
    pub fn docker_token(&self, secret: &str, user: &str, expires_s: i64) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let name = URL_SAFE_NO_PAD.encode(user);
        let mac = docker_mac(secret, &name, expires_s);
        format!("{DOCKER_TOKEN}{name}.{expires_s}.{mac}")
    }

    fn docker_caller(&self, store: &Store, token: &str, now_ms: i64) -> Result<Caller, ApiError> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bad = || msg::bad_credentials();
        let rest = token.strip_prefix(DOCKER_TOKEN).ok_or_else(bad)?;
        let mut parts = rest.split('.');
        let (Some(name), Some(exp), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let exp: i64 = exp.parse().map_err(|_| bad())?;
        let state = store.read();
        let sec = &state.security;
        if !same(mac, &docker_mac(&sec.secret, name, exp)) || exp.saturating_mul(1000) <= now_ms {
            return Err(bad());
        }
        let user = URL_SAFE_NO_PAD
            .decode(name)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        if user == "anonymous" {
            return Ok(Caller::anonymous());
        }
        let u = sec.user(&user).ok_or_else(bad)?;
        usable(sec, u)?;
        Ok(Caller::new(
            &u.name,
            Method::Token,
            sec.principal_of(u),
            None,
        ))
    }

    /// Whether `caller` may do `action` at `target`. Anonymous callers get a 401 with the Basic
    /// challenge (`Authentication is required` when anonymous access is off, `Unauthorized` when the
    /// anonymous user lacks the permission); authenticated callers get `forbidden()`.
    pub fn check(
        &self,
        state: &State,
        caller: &Caller,
        action: Action,
        target: Target<'_>,
        forbidden: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        self.gate(caller)?;
        if self.allows(state, caller, action, target) {
            return Ok(());
        }
        if caller.anonymous {
            return Err(msg::unauthorized());
        }
        Err(forbidden())
    }

    /// Checks `action` at `path` of `repo` for `caller` (see [`Auth::check`]). Folders (and the
    /// repository root) relax the include patterns so users can browse down to what they may read.
    /// A repository that does not exist is left to the caller's 404 (only the anonymous gate
    /// applies).
    pub fn require(
        &self,
        state: &State,
        caller: &Caller,
        action: Action,
        repo: &str,
        path: &str,
        forbidden: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        match target(state, repo, path, action) {
            Some(t) => self.check(state, caller, action, t, forbidden),
            None => self.gate(caller),
        }
    }

    /// [`Auth::require`] for a whole subtree (delete, recursive properties, copy and move): the
    /// caller needs `action` on `path` and on every file beneath it.
    pub fn require_tree(
        &self,
        state: &State,
        caller: &Caller,
        action: Action,
        repo: &str,
        path: &str,
        forbidden: impl Fn() -> ApiError,
    ) -> Result<(), ApiError> {
        self.require(state, caller, action, repo, path, &forbidden)?;
        let Some(r) = state.repo(repo) else {
            return Ok(());
        };
        for (k, i) in r.subtree(path) {
            if !i.is_folder() && !self.may(state, caller, action, repo, k) {
                return Err(forbidden());
            }
        }
        Ok(())
    }

    /// Whether `caller` may do `action` at `path` of `repo` (no error: listings filter with it).
    pub fn may(
        &self,
        state: &State,
        caller: &Caller,
        action: Action,
        repo: &str,
        path: &str,
    ) -> bool {
        target(state, repo, path, action).is_some_and(|t| self.allows(state, caller, action, t))
    }

    /// The permission test alone (listings use it to hide what the caller may not read).
    pub fn allows(&self, state: &State, caller: &Caller, action: Action, t: Target<'_>) -> bool {
        if caller.anonymous && !self.anonymous_access() {
            return false;
        }
        state.security.allows(
            &caller.principal,
            action.act(),
            t.repo,
            t.class,
            t.path,
            t.folder,
        )
    }

    /// Anonymous callers when anonymous access is off: 401 `Authentication is required`.
    pub fn gate(&self, caller: &Caller) -> Result<(), ApiError> {
        if caller.anonymous && !self.anonymous_access() {
            return Err(msg::authentication_required());
        }
        Ok(())
    }

    /// Admin-only endpoints: anonymous → 401, other users → `forbidden()`.
    pub fn check_admin(
        &self,
        caller: &Caller,
        forbidden: impl FnOnce() -> ApiError,
    ) -> Result<(), ApiError> {
        self.gate(caller)?;
        if caller.admin {
            return Ok(());
        }
        if caller.anonymous {
            return Err(msg::unauthorized());
        }
        Err(forbidden())
    }
}

/// The permission target of `path` in `repo` (`None` when the repository does not exist). Permissions
/// of a virtual repository are those of the member that holds the path (or of its default deployment
/// repository for new paths); folders relax the include patterns for reading only, so users can
/// browse down to what they may read.
fn target<'a>(state: &'a State, repo: &str, path: &'a str, action: Action) -> Option<Target<'a>> {
    let mut r = state.repo(repo)?;
    if r.config.rclass == RepoClass::Virtual {
        if let Some((member, _)) = state.resolve(repo, path) {
            r = member;
        } else if let Some(d) = r
            .config
            .default_deployment_repo
            .as_deref()
            .and_then(|d| state.repo(d))
        {
            r = d;
        }
    }
    let folder = action == Action::Read
        && (path.is_empty() || r.items.get(path).is_some_and(|i| i.is_folder()));
    Some(Target {
        repo: &r.config.key,
        class: r.config.rclass,
        path,
        folder,
    })
}

/// Prefix of registry bearer tokens (see [`Auth::docker_token`]).
pub const DOCKER_TOKEN: &str = "jcrd.";

fn docker_mac(secret: &str, name: &str, exp: i64) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let msg = format!("docker-token\0{name}\0{exp}");
    jsonwebtoken::crypto::sign(msg.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
        .unwrap_or_default()
}

/// Whether `user` may log in: a locked or disabled user gets a 403 that carries the Basic challenge,
/// as Artifactory's entry point sends it.
pub fn usable(sec: &Security, user: &User) -> Result<(), ApiError> {
    let refuse = |m: String| Err(ApiError::forbidden(m).challenge(Challenge::Basic));
    if sec.locked.contains(&user.name) {
        return refuse(format!("User {} is locked", user.name));
    }
    if user.disabled {
        return refuse(format!("User {} is disabled", user.name));
    }
    Ok(())
}

/// Splits a scope on spaces, keeping quoted group lists (`member-of-groups:"a,b c"`) whole.
pub fn scope_tokens(scope: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in scope.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The group names of a `member-of-groups:` / `applied-permissions/groups:` value.
pub fn scope_groups(value: &str) -> Vec<String> {
    value
        .trim_matches('"')
        .split(',')
        .map(|g| g.trim().trim_matches('"').to_string())
        .filter(|g| !g.is_empty())
        .collect()
}

/// What a token's scope grants: group scopes grant only those groups' permissions; `*`,
/// `applied-permissions/user` act as the user; the admin scopes make the token an administrator.
fn token_principal(sec: &Security, user: Option<&User>, scope: &str) -> Principal {
    let mut p = Principal {
        user: None,
        groups: vec![],
        admin: false,
    };
    let whole_user = |p: &mut Principal, with_admin: bool| {
        if let Some(u) = user {
            let full = sec.principal_of(u);
            p.user = full.user;
            p.groups.extend(full.groups);
            p.admin |= with_admin && full.admin;
        }
    };
    for t in scope_tokens(scope) {
        if let Some(g) = t.strip_prefix("member-of-groups:") {
            if g.trim_matches('"') == "*" {
                whole_user(&mut p, false);
            } else {
                p.groups.extend(scope_groups(g));
            }
        } else if let Some(g) = t.strip_prefix("applied-permissions/groups:") {
            p.groups.extend(scope_groups(g));
        } else if t == "applied-permissions/user" {
            whole_user(&mut p, true);
        } else if t == "applied-permissions/admin"
            || t == format!("{}:admin", sec.service_id)
            || t == "jfrt@*:admin"
        {
            p.admin = true;
        }
    }
    p.admin |= p
        .groups
        .iter()
        .any(|g| sec.groups.get(g).is_some_and(|g| g.admin_privileges));
    p
}

/// What a starting server commits so the store knows the instance and the configured principals:
/// on first start the service id, the instance secret, the `readers` group (joined automatically),
/// the `anonymous` user and the `Anything` permission target (readers and anonymous may read every
/// repository), as a fresh JCR has; then the configured groups, users and permission targets the store
/// does not know yet. Returns the changes and the `(user, password)` pairs still to be hashed.
pub fn seed(
    config: &crate::config::Config,
    sec: &Security,
) -> (Vec<SecurityChange>, Vec<(String, String)>) {
    use rand::distributions::{Alphanumeric, DistString};
    let mut out = Vec::new();
    let mut view = sec.clone();
    let mut push = |c: SecurityChange, view: &mut Security| {
        let _ = view.apply(&c);
        out.push(c);
    };
    if sec.service_id.is_empty() {
        let id: String = Alphanumeric
            .sample_string(&mut rand::thread_rng(), 26)
            .to_lowercase();
        push(
            SecurityChange::Instance {
                service_id: format!("jfrt@{id}"),
                secret: hex::encode(rand::random::<[u8; 32]>()).into(),
            },
            &mut view,
        );
        push(
            SecurityChange::PutGroup {
                group: model::Group {
                    name: "readers".into(),
                    description: "A group for read-only users".into(),
                    auto_join: true,
                    admin_privileges: false,
                },
                members: None,
            },
            &mut view,
        );
        push(
            SecurityChange::PutUser {
                user: User {
                    name: "anonymous".into(),
                    email: String::new(),
                    password: Default::default(),
                    admin: false,
                    profile_updatable: false,
                    disable_ui_access: true,
                    internal_password_disabled: true,
                    disabled: false,
                    groups: vec![],
                },
            },
            &mut view,
        );
        push(
            SecurityChange::PutPermission {
                permission: model::Permission {
                    name: "Anything".into(),
                    includes: "**".into(),
                    excludes: String::new(),
                    repositories: vec!["ANY".into()],
                    users: [("anonymous".to_string(), [Act::Read].into())].into(),
                    groups: [("readers".to_string(), [Act::Read].into())].into(),
                },
            },
            &mut view,
        );
    }
    for g in &config.groups {
        if !view.groups.contains_key(&g.name) {
            push(
                SecurityChange::PutGroup {
                    group: g.clone(),
                    members: None,
                },
                &mut view,
            );
        }
    }
    let mut pending = Vec::new();
    for u in &config.users {
        let name = u.name.to_lowercase();
        if view
            .users
            .get(&name)
            .is_some_and(|x| x.password != PENDING_HASH)
        {
            continue;
        }
        let groups = u.groups.clone().unwrap_or_else(|| view.auto_join_groups());
        push(
            SecurityChange::PutUser {
                user: User {
                    name: name.clone(),
                    email: u.email.clone().unwrap_or_default(),
                    password: PENDING_HASH.into(),
                    admin: u.admin,
                    profile_updatable: true,
                    disable_ui_access: false,
                    internal_password_disabled: false,
                    disabled: false,
                    groups,
                },
            },
            &mut view,
        );
        pending.push((name, u.password.clone()));
    }
    for p in &config.permissions {
        if view.permissions.contains_key(&p.name) {
            continue;
        }
        let acts = |letters: &String| -> std::collections::BTreeSet<Act> {
            letters
                .chars()
                .filter_map(|c| Act::parse(&c.to_string()))
                .collect()
        };
        push(
            SecurityChange::PutPermission {
                permission: model::Permission {
                    name: p.name.clone(),
                    includes: p.includes_pattern.clone(),
                    excludes: p.excludes_pattern.clone(),
                    repositories: p.repositories.clone(),
                    users: p
                        .users
                        .iter()
                        .map(|(k, v)| (k.to_lowercase(), acts(v)))
                        .collect(),
                    groups: p.groups.iter().map(|(k, v)| (k.clone(), acts(v))).collect(),
                },
            },
            &mut view,
        );
    }
    (out, pending)
}

/// The encrypted form of a password (or API key) that is accepted in its place: `AP` followed by a
/// keyed digest of the user and the stored secret, so it stops working when the password changes.
pub fn encrypted_password(instance_secret: &str, user: &str, basis: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(instance_secret.as_bytes());
    let msg = format!("encrypted-password\0{user}\0{basis}");
    let mac = jsonwebtoken::crypto::sign(msg.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
        .unwrap_or_default();
    let body: String = mac
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    format!("AP{body}")
}

/// Hashes a password with bcrypt on a blocking thread.
pub async fn hash_password(password: &str) -> Result<String, ApiError> {
    let p = password.to_string();
    tokio::task::spawn_blocking(move || bcrypt::hash(p, BCRYPT_COST))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> Credentials {
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Credentials {
            api_key: None,
            authorization: Some(format!("Basic {b}")),
        }
    }

    /// An application with the user `carol` whose password is stored hashed (configured users'
    /// hashes are computed by a job the tests do not start).
    async fn with_carol() -> crate::app::AppState {
        let app = crate::testing::app();
        let doc = serde_json::json!({"email": "carol@example.com", "password": "Carol-pw-1"});
        admin::put_user(&app, "carol", doc.as_object().unwrap(), true)
            .await
            .unwrap();
        app
    }

    /// A name no user has costs one bcrypt check, as a wrong password does; a remembered password
    /// costs none.
    #[tokio::test]
    async fn unknown_users_cost_what_wrong_passwords_cost() {
        let app = with_carol().await;
        let (auth, store) = (&app.auth, &app.store);
        let checks = || auth.checks();
        let start = checks();
        assert!(auth
            .identify(store, &basic("nobody", "x"), 0)
            .await
            .is_err());
        assert_eq!(checks() - start, 1, "unknown user");
        assert!(auth
            .identify(store, &basic("carol", "wrong"), 0)
            .await
            .is_err());
        assert_eq!(checks() - start, 2, "wrong password");
        assert!(auth
            .identify(store, &basic("carol", "Carol-pw-1"), 0)
            .await
            .is_ok());
        let after = checks();
        assert!(auth
            .identify(store, &basic("carol", "Carol-pw-1"), 0)
            .await
            .is_ok());
        assert_eq!(
            checks(),
            after,
            "a remembered password is not checked again"
        );
    }

    /// A flood of wrong passwords for one user runs only a bounded number of checks; the rest are
    /// refused at once.
    #[tokio::test]
    async fn a_flood_of_guesses_for_one_user_is_bounded() {
        let app = with_carol().await;
        let start = app.auth.checks();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..60 {
            let app = app.clone();
            set.spawn(async move {
                app.auth
                    .identify(&app.store, &basic("carol", &format!("guess-{i}")), 0)
                    .await
                    .is_err()
            });
        }
        while let Some(refused) = set.join_next().await {
            assert!(refused.unwrap());
        }
        let ran = app.auth.checks() - start;
        assert!(ran <= 30, "{ran} of 60 guesses were checked");
        assert!(ran >= 1);
    }

    #[test]
    fn scopes_split_on_spaces_outside_quotes() {
        assert_eq!(
            scope_tokens(r#"member-of-groups:"readers,test group" api:*"#),
            vec![r#"member-of-groups:"readers,test group""#, "api:*"]
        );
        assert_eq!(
            scope_groups(r#""readers,test group""#),
            vec!["readers", "test group"]
        );
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }

    #[test]
    fn encrypted_passwords_depend_on_user_and_basis() {
        let a = encrypted_password("s", "bob", "h1");
        assert!(a.starts_with("AP") && a.len() > 20);
        assert_eq!(a, encrypted_password("s", "bob", "h1"));
        assert_ne!(a, encrypted_password("s", "bob", "h2"));
        assert_ne!(a, encrypted_password("s", "alice", "h1"));
        assert_ne!(a, encrypted_password("t", "bob", "h1"));
    }
}
