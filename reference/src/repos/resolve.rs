//! The one resolver: where a path of a local, remote or virtual repository comes from, as the
//! store holds it now. A local repository answers from its tree, a remote one from its cache (what
//! [`super::remote`] fetched), a virtual one from its members in order, depth first, each
//! repository visited once (so a cycle, which configuration refuses anyway, cannot loop), the
//! first hit winning. Include and exclude patterns of every repository on the way are enforced, as
//! Artifactory's `accepts` does: a path a member refuses is not looked for there, and a blacked-out
//! member is skipped.
//!
//! Fetching from upstream is not here (it is asynchronous and writes): retrieval asks
//! [`super::remote`] first, then resolves here.

use crate::auth::model::{ant_match, ant_prefix};
use crate::config::{RepoClass, RepoConfig};
use crate::store::{Item, Repo, State};

/// Whether `c`'s include and exclude patterns accept `path` (a folder: when something beneath it
/// could be accepted). The root is always accepted, and a checksum side file follows its file.
pub(crate) fn accepts(c: &RepoConfig, path: &str, folder: bool) -> bool {
    if path.is_empty() {
        return true;
    }
    let path = [".sha1", ".sha256", ".md5"]
        .iter()
        .find_map(|ext| path.strip_suffix(ext))
        .unwrap_or(path);
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let includes = list(&c.includes_pattern);
    let included = includes.is_empty()
        || includes.iter().any(|p| {
            if folder {
                ant_prefix(p, path)
            } else {
                ant_match(p, path)
            }
        });
    included && !list(&c.excludes_pattern).iter().any(|p| ant_match(p, path))
}

/// Whether `c` is blacked out (serves and takes nothing).
pub(crate) fn blacked_out(c: &RepoConfig) -> bool {
    c.rclass != RepoClass::Virtual && super::settings::flag(c, "blackedOut")
}

/// The repositories a request to `key` for `path` looks in, in order: `key` itself when it is
/// local or remote, a virtual repository's members (nested ones expanded) that accept the path.
pub(crate) fn members<'a>(state: &'a State, key: &str, path: &str) -> Vec<&'a Repo> {
    let mut out = Vec::new();
    collect(state, key, path, &mut Vec::new(), &mut out);
    out
}

fn collect<'a>(
    state: &'a State,
    key: &str,
    path: &str,
    seen: &mut Vec<String>,
    out: &mut Vec<&'a Repo>,
) {
    if seen.iter().any(|s| s == key) {
        return;
    }
    seen.push(key.to_string());
    let Some(r) = state.repo(key) else { return };
    // A folder path is accepted when anything beneath it could be.
    let folder = state.item(key, path).is_some_and(Item::is_folder);
    if !accepts(&r.config, path, folder) && !accepts(&r.config, path, true) {
        return;
    }
    match r.config.rclass {
        RepoClass::Virtual => {
            for m in &r.config.repositories {
                collect(state, m, path, seen, out);
            }
        }
        _ if blacked_out(&r.config) && seen.len() > 1 => {}
        _ => out.push(r),
    }
}

impl State {
    /// Finds `path` in `repo`; for a virtual repository, in its members in order (depth-first,
    /// each repository visited once), skipping members whose patterns refuse it.
    pub fn resolve<'a>(&'a self, repo: &str, path: &str) -> Option<(&'a Repo, &'a Item)> {
        members(self, repo, path).into_iter().find_map(|r| {
            let item = r.items.get(path)?;
            accepts(&r.config, path, item.is_folder()).then_some((r, item))
        })
    }

    /// Direct children of a folder as `(name, is_folder)`; for a virtual repository the union over
    /// its members (the first member holding a name decides whether it is a folder), each member
    /// showing only what its patterns accept.
    pub fn children_of(&self, repo: &str, path: &str) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = Vec::new();
        let virtual_patterns = self
            .repo(repo)
            .filter(|r| r.config.rclass == RepoClass::Virtual)
            .map(|r| &r.config);
        for r in members(self, repo, path) {
            if !r.items.get(path).is_some_and(Item::is_folder) {
                continue;
            }
            for (name, item) in r.children(path) {
                let child = if path.is_empty() {
                    name.to_string()
                } else {
                    format!("{path}/{name}")
                };
                let folder = item.is_folder();
                let shown = accepts(&r.config, &child, folder)
                    && virtual_patterns.is_none_or(|v| accepts(v, &child, folder));
                if shown && !out.iter().any(|(n, _)| n == name) {
                    out.push((name.to_string(), folder));
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PackageType;

    fn cfg(includes: &str, excludes: &str) -> RepoConfig {
        RepoConfig {
            includes_pattern: includes.into(),
            excludes_pattern: excludes.into(),
            ..RepoConfig::new("r", RepoClass::Local, PackageType::Generic)
        }
    }

    #[test]
    fn patterns_accept_as_artifactory_does() {
        let c = cfg("org/**,com/acme/*.jar", "**/*-SNAPSHOT*");
        assert!(accepts(&c, "", false));
        assert!(accepts(&c, "org/a/b.txt", false));
        assert!(accepts(&c, "org/a/b.txt.sha1", false));
        assert!(accepts(&c, "com/acme/x.jar", false));
        assert!(!accepts(&c, "com/acme/x.zip", false));
        assert!(accepts(&c, "com", true));
        assert!(!accepts(&c, "net", true));
        assert!(!accepts(&c, "org/a/b-SNAPSHOT.jar", false));
        assert!(accepts(&cfg("", ""), "anything", false));
    }
}
