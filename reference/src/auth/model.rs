//! The security model: users, groups, permission targets, the user lock policy, issued access tokens,
//! and the one permission check ([`Security::allows`]). Plain data, no HTTP: changes arrive as
//! [`SecurityChange`]s through the store's journal like every other mutation.

use crate::store::Secret;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::config::RepoClass;

/// Marks a password hash that the background task has not computed yet (config-seeded users).
pub const PENDING_HASH: &str = "pending";

/// A user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name (stored in lower case: Artifactory user names are case-insensitive).
    pub name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// bcrypt hash of the password; empty when the internal password is disabled.
    pub password: Secret,
    /// Administrator.
    #[serde(default)]
    pub admin: bool,
    /// May update their own profile.
    #[serde(default = "yes")]
    pub profile_updatable: bool,
    /// May not use the UI.
    #[serde(default)]
    pub disable_ui_access: bool,
    /// Password logins are off (API keys and tokens still work).
    #[serde(default)]
    pub internal_password_disabled: bool,
    /// Login refused by every method.
    #[serde(default)]
    pub disabled: bool,
    /// Group names.
    #[serde(default)]
    pub groups: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// New users join it automatically.
    #[serde(default)]
    pub auto_join: bool,
    /// Members are administrators.
    #[serde(default)]
    pub admin_privileges: bool,
}

/// One permitted action of a permission target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Act {
    /// `x`: distribute (release bundles; kept, grants nothing here).
    Distribute,
    /// `mxm`: manage Xray metadata (kept, grants nothing here).
    XrayMeta,
    /// `r`: read and download.
    Read,
    /// `n`: annotate (properties).
    Annotate,
    /// `w`: deploy and cache.
    Deploy,
    /// `d`: delete and overwrite.
    Delete,
    /// `m`: manage (implies every other action).
    Manage,
}

impl Act {
    /// The letter Artifactory's v1 permission JSON uses.
    pub fn letter(self) -> &'static str {
        match self {
            Act::Distribute => "x",
            Act::XrayMeta => "mxm",
            Act::Read => "r",
            Act::Annotate => "n",
            Act::Deploy => "w",
            Act::Delete => "d",
            Act::Manage => "m",
        }
    }

    /// Parses a letter (or the v2 word).
    pub fn parse(s: &str) -> Option<Act> {
        Some(match s {
            "r" | "read" => Act::Read,
            "n" | "annotate" => Act::Annotate,
            "w" | "write" | "deploy" => Act::Deploy,
            "d" | "delete" => Act::Delete,
            "m" | "manage" => Act::Manage,
            "mxm" | "managedXrayMeta" => Act::XrayMeta,
            "x" | "distribute" => Act::Distribute,
            _ => return None,
        })
    }
}

/// A permission target: which repositories and paths, and who may do what there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// Name.
    pub name: String,
    /// Comma-separated Ant patterns of paths included (`**` = everything).
    pub includes: String,
    /// Comma-separated Ant patterns excluded.
    #[serde(default)]
    pub excludes: String,
    /// Repository keys, or `ANY`, `ANY LOCAL`, `ANY REMOTE`.
    pub repositories: Vec<String>,
    /// Actions per user.
    #[serde(default)]
    pub users: BTreeMap<String, BTreeSet<Act>>,
    /// Actions per group.
    #[serde(default)]
    pub groups: BTreeMap<String, BTreeSet<Act>>,
}

/// The user lock policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockPolicy {
    /// Whether users are locked after repeated failed logins.
    pub enabled: bool,
    /// Failed logins in a row that lock a user.
    pub login_attempts: u32,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            enabled: false,
            login_attempts: 5,
        }
    }
}

/// An access token this instance issued (the token itself is never kept, only its id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// `jti`.
    pub id: String,
    /// `sub`, e.g. `jfrt@…/users/bob`.
    pub subject: String,
    /// The user name the token acts for.
    pub username: String,
    /// Space-separated scope as issued.
    pub scope: String,
    /// Space-separated audience.
    pub audience: String,
    /// Epoch seconds.
    pub issued_at: i64,
    /// Epoch seconds; `None` never expires.
    pub expiry: Option<i64>,
    /// Seconds of validity asked for (0 = never).
    pub expires_in: u64,
    /// SHA-256 (hex) of the refresh token, when refreshable.
    pub refresh_hash: Option<String>,
    /// Free text (access API).
    #[serde(default)]
    pub description: String,
    /// Issued through the access API (`/access/api/v1/tokens`).
    #[serde(default)]
    pub access_api: bool,
    /// Issued for a user who did not exist (acts with its scope's groups only).
    #[serde(default)]
    pub transient: bool,
}

/// Everything security-related the store keeps.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Security {
    /// Users by (lower-case) name.
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    /// Groups by name.
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    /// Permission targets by name.
    #[serde(default)]
    pub permissions: BTreeMap<String, Permission>,
    /// The lock policy.
    #[serde(default)]
    pub lock_policy: LockPolicy,
    /// Locked-out users.
    #[serde(default)]
    pub locked: BTreeSet<String>,
    /// Issued tokens by id; revoking removes the record, which invalidates the token at once.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenRecord>,
    /// `jfrt@<26 lowercase alphanumerics>`.
    #[serde(default)]
    pub service_id: String,
    /// A random per-instance secret (hex) that encrypted passwords are derived with.
    #[serde(default)]
    pub secret: Secret,
}

/// A change to [`Security`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum SecurityChange {
    /// Set the service id and the instance secret (first start).
    Instance { service_id: String, secret: Secret },
    /// Create or replace a user.
    PutUser { user: User },
    /// Set a user's password hash (with `only_if_pending`, only while it is still being computed).
    SetPassword {
        name: String,
        hash: Secret,
        #[serde(default)]
        only_if_pending: bool,
    },
    /// Delete a user (with their API key and permission entries).
    DeleteUser { name: String },
    /// Create or replace a group; `members` replaces the member list when given.
    PutGroup {
        group: Group,
        members: Option<Vec<String>>,
    },
    /// Delete a group (and its memberships and permission entries).
    DeleteGroup { name: String },
    /// Create or replace a permission target.
    PutPermission { permission: Permission },
    /// Delete a permission target.
    DeletePermission { name: String },
    /// Set the lock policy.
    LockPolicy { policy: LockPolicy },
    /// Lock a user out.
    Lock { name: String },
    /// Unlock some users, or all when `None`.
    Unlock { names: Option<Vec<String>> },
    /// Record an issued token.
    AddToken { token: TokenRecord },
    /// Forget (revoke) tokens by id.
    RevokeTokens { ids: Vec<String> },
}

/// Why a security change was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityError {
    /// The named user, group or permission target does not exist.
    Missing(String),
}

/// Who a permission check is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user whose own permission entries apply (`None`: only groups, e.g. a group-scoped token).
    pub user: Option<String>,
    /// Groups whose permission entries apply.
    pub groups: Vec<String>,
    /// Administrators may do everything.
    pub admin: bool,
}

impl Security {
    /// Applies a change.
    pub fn apply(&mut self, c: &SecurityChange) -> Result<(), SecurityError> {
        match c {
            SecurityChange::Instance { service_id, secret } => {
                self.service_id = service_id.clone();
                self.secret = secret.clone();
            }
            SecurityChange::PutUser { user } => {
                self.users.insert(user.name.clone(), user.clone());
            }
            SecurityChange::SetPassword {
                name,
                hash,
                only_if_pending,
            } => {
                let u = self
                    .users
                    .get_mut(name)
                    .ok_or_else(|| SecurityError::Missing(name.clone()))?;
                if !*only_if_pending || u.password == PENDING_HASH {
                    u.password = hash.clone();
                }
            }
            SecurityChange::DeleteUser { name } => {
                self.users
                    .remove(name)
                    .ok_or_else(|| SecurityError::Missing(name.clone()))?;
                self.locked.remove(name);
                // Their tokens go with them.
                self.tokens
                    .retain(|_, t| t.transient || t.username != *name);
                for p in self.permissions.values_mut() {
                    p.users.remove(name);
                }
            }
            SecurityChange::PutGroup { group, members } => {
                self.groups.insert(group.name.clone(), group.clone());
                if let Some(members) = members {
                    for u in self.users.values_mut() {
                        let want = members.iter().any(|m| m.eq_ignore_ascii_case(&u.name));
                        let has = u.groups.contains(&group.name);
                        if want && !has {
                            u.groups.push(group.name.clone());
                        } else if !want && has {
                            u.groups.retain(|g| g != &group.name);
                        }
                    }
                }
            }
            SecurityChange::DeleteGroup { name } => {
                self.groups
                    .remove(name)
                    .ok_or_else(|| SecurityError::Missing(name.clone()))?;
                for u in self.users.values_mut() {
                    u.groups.retain(|g| g != name);
                }
                for p in self.permissions.values_mut() {
                    p.groups.remove(name);
                }
            }
            SecurityChange::PutPermission { permission } => {
                self.permissions
                    .insert(permission.name.clone(), permission.clone());
            }
            SecurityChange::DeletePermission { name } => {
                self.permissions
                    .remove(name)
                    .ok_or_else(|| SecurityError::Missing(name.clone()))?;
            }
            SecurityChange::LockPolicy { policy } => self.lock_policy = policy.clone(),
            SecurityChange::Lock { name } => {
                self.locked.insert(name.clone());
            }
            SecurityChange::Unlock { names: None } => self.locked.clear(),
            SecurityChange::Unlock { names: Some(n) } => {
                for name in n {
                    self.locked.remove(name);
                }
            }
            SecurityChange::AddToken { token } => {
                self.tokens.insert(token.id.clone(), token.clone());
            }
            SecurityChange::RevokeTokens { ids } => {
                for id in ids {
                    self.tokens.remove(id);
                }
            }
        }
        Ok(())
    }

    /// A user by name, case-insensitively.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users
            .get(name)
            .or_else(|| self.users.get(&name.to_lowercase()))
    }

    /// Names of the groups new users join automatically.
    pub fn auto_join_groups(&self) -> Vec<String> {
        self.groups
            .values()
            .filter(|g| g.auto_join)
            .map(|g| g.name.clone())
            .collect()
    }

    /// The principal of a user's own login: their entries, their groups, admin by flag or group.
    pub fn principal_of(&self, user: &User) -> Principal {
        let admin = user.admin
            || user
                .groups
                .iter()
                .any(|g| self.groups.get(g).is_some_and(|g| g.admin_privileges));
        Principal {
            user: Some(user.name.clone()),
            groups: user.groups.clone(),
            admin,
        }
    }

    /// Whether `who` may do `act` at `path` (no leading slash; `""` is the repository root) of a
    /// repository `repo` of class `class`. `folder` relaxes the include patterns for folders, so users
    /// can browse down to the paths they may read.
    pub fn allows(
        &self,
        who: &Principal,
        act: Act,
        repo: &str,
        class: RepoClass,
        path: &str,
        folder: bool,
    ) -> bool {
        if who.admin {
            return true;
        }
        self.permissions.values().any(|p| {
            p.grants(who, act) && p.covers_repo(repo, class) && p.covers_path(path, folder)
        })
    }

    /// Whether `who` may read anything at all in `repo` (repository listings).
    pub fn reads_repo(&self, who: &Principal, repo: &str, class: RepoClass) -> bool {
        self.allows(who, Act::Read, repo, class, "", true)
    }
}

impl Permission {
    fn grants(&self, who: &Principal, act: Act) -> bool {
        let has = |acts: &BTreeSet<Act>| acts.contains(&act) || acts.contains(&Act::Manage);
        who.user
            .as_ref()
            .and_then(|u| self.users.get(u))
            .is_some_and(has)
            || who
                .groups
                .iter()
                .any(|g| self.groups.get(g).is_some_and(has))
    }

    fn covers_repo(&self, repo: &str, class: RepoClass) -> bool {
        // Virtual repositories are never targets themselves: their members' permissions apply.
        class != RepoClass::Virtual
            && self.repositories.iter().any(|r| match r.as_str() {
                "ANY" => true,
                "ANY LOCAL" => class == RepoClass::Local,
                "ANY REMOTE" => class == RepoClass::Remote,
                key => key == repo,
            })
    }

    fn covers_path(&self, path: &str, folder: bool) -> bool {
        let included = patterns(&self.includes).any(|p| {
            if folder {
                ant_prefix(p, path)
            } else {
                ant_match(p, path)
            }
        });
        included && !patterns(&self.excludes).any(|p| ant_match(p, path))
    }
}

fn patterns(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|p| !p.is_empty())
}

fn segments(s: &str) -> Vec<&str> {
    s.split('/').filter(|s| !s.is_empty()).collect()
}

/// Ant path matching: `**` spans any number of segments, `*` and `?` match within one segment, a
/// pattern ending in `/` means `/**`.
pub fn ant_match(pattern: &str, path: &str) -> bool {
    let mut pat = segments(pattern);
    if pattern.ends_with('/') {
        pat.push("**");
    }
    match_segs(&pat, &segments(path))
}

/// Whether `pattern` could match `folder` or something beneath it.
pub fn ant_prefix(pattern: &str, folder: &str) -> bool {
    let mut pat = segments(pattern);
    if pattern.ends_with('/') {
        pat.push("**");
    }
    prefix_segs(&pat, &segments(folder))
}

/// Dynamic programming over (pattern position, path position): linear in their product whatever the
/// number of `**` (a back-tracking matcher is exponential on patterns like `**/a/**/a/**/b`).
fn match_segs(pat: &[&str], path: &[&str]) -> bool {
    // ok[j] = pattern[i..] matches path[j..], computed from the last pattern segment backwards.
    let mut ok = vec![false; path.len() + 1];
    ok[path.len()] = true;
    for p in pat.iter().rev() {
        let mut next = vec![false; path.len() + 1];
        if *p == "**" {
            // `**` matches zero or more segments: next[j] = ok[j] || next[j + 1].
            let mut any = false;
            for j in (0..=path.len()).rev() {
                any = any || ok[j];
                next[j] = any;
            }
        } else {
            for j in 0..path.len() {
                next[j] = ok[j + 1] && crate::wildcard::matches(p, path[j]);
            }
        }
        ok = next;
    }
    ok[0]
}

fn prefix_segs(pat: &[&str], path: &[&str]) -> bool {
    match (pat.split_first(), path.split_first()) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some((&"**", _)), _) => true,
        (Some((p, rest)), Some((s, tail))) => {
            crate::wildcard::matches(p, s) && prefix_segs(rest, tail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ant_patterns_match_like_artifactory() {
        assert!(ant_match("**", "a/b/c.jar"));
        assert!(ant_match("**", ""));
        assert!(ant_match("org/**", "org/acme/x.jar"));
        assert!(ant_match("org/", "org/acme/x.jar"));
        assert!(!ant_match("org/**", "com/acme/x.jar"));
        assert!(ant_match("**/*.jar", "a/b/c.jar"));
        assert!(ant_match("**/*.jar", "c.jar"));
        assert!(!ant_match("**/*.jar", "c.jar.md5"));
        assert!(ant_match("a/?/c", "a/b/c"));
        assert!(!ant_match("a/?/c", "a/bb/c"));
        assert!(ant_match("**/secret/**", "x/secret/y"));
        assert!(ant_prefix("org/acme/**", "org"));
        assert!(ant_prefix("org/acme/**", ""));
        assert!(!ant_prefix("org/acme/**", "com"));
        assert!(ant_prefix("**/*.jar", "anything/at/all"));
    }

    fn target(acts: &[Act], includes: &str, excludes: &str) -> Permission {
        Permission {
            name: "t".into(),
            includes: includes.into(),
            excludes: excludes.into(),
            repositories: vec!["libs".into()],
            users: BTreeMap::from([("bob".into(), acts.iter().copied().collect())]),
            groups: BTreeMap::new(),
        }
    }

    #[test]
    fn permissions_need_the_action_the_repository_and_the_path() {
        let mut s = Security::default();
        s.apply(&SecurityChange::PutPermission {
            permission: target(&[Act::Read, Act::Deploy], "org/**", "org/private/**"),
        })
        .unwrap();
        let bob = Principal {
            user: Some("bob".into()),
            groups: vec![],
            admin: false,
        };
        let l = RepoClass::Local;
        assert!(s.allows(&bob, Act::Read, "libs", l, "org/a.jar", false));
        assert!(s.allows(&bob, Act::Deploy, "libs", l, "org/a.jar", false));
        assert!(!s.allows(&bob, Act::Delete, "libs", l, "org/a.jar", false));
        assert!(!s.allows(&bob, Act::Read, "other", l, "org/a.jar", false));
        assert!(!s.allows(&bob, Act::Read, "libs", l, "com/a.jar", false));
        assert!(!s.allows(&bob, Act::Read, "libs", l, "org/private/k", false));
        assert!(s.allows(&bob, Act::Read, "libs", l, "", true));
        let admin = Principal {
            user: None,
            groups: vec![],
            admin: true,
        };
        assert!(s.allows(&admin, Act::Delete, "other", l, "x", false));
    }

    #[test]
    fn manage_implies_every_action_and_groups_count() {
        let mut s = Security::default();
        let mut p = target(&[], "**", "");
        p.groups
            .insert("devs".into(), BTreeSet::from([Act::Manage]));
        s.apply(&SecurityChange::PutPermission { permission: p })
            .unwrap();
        let dev = Principal {
            user: Some("carol".into()),
            groups: vec!["devs".into()],
            admin: false,
        };
        assert!(s.allows(&dev, Act::Delete, "libs", RepoClass::Local, "a", false));
        assert!(s.allows(&dev, Act::Annotate, "libs", RepoClass::Local, "a", false));
    }

    #[test]
    fn many_double_stars_stay_fast() {
        let pattern = "**/a/".repeat(40) + "b";
        let path = "a/".repeat(60) + "c";
        let t = std::time::Instant::now();
        assert!(!ant_match(&pattern, &path));
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }
}
