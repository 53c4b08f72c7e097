//! The legacy searches (`/api/search/artifact|prop|usage|dates|creation`) as plain functions over the
//! state: each returns matching `(repository, path)` pairs in a stable order (repository order, then
//! path). Permission filtering and rendering are the HTTP layer's.

use crate::config::RepoClass;
use crate::store::{Item, State};

/// A hit.
pub type Hit<'a> = (&'a str, &'a str, &'a Item);

/// The repositories a search covers: the named ones (virtual ones expanded to their members), or
/// every local and remote repository.
pub fn scope(state: &State, repos: &[String]) -> Vec<String> {
    if repos.is_empty() {
        return state
            .repos
            .values()
            .filter(|r| r.config.rclass != RepoClass::Virtual)
            .map(|r| r.config.key.clone())
            .collect();
    }
    let mut out: Vec<String> = Vec::new();
    let add = |k: &str, out: &mut Vec<String>| {
        if !out.iter().any(|x| x == k) {
            out.push(k.to_string());
        }
    };
    for key in repos {
        match state.repo(key) {
            Some(r) if r.config.rclass == RepoClass::Virtual => {
                for m in &r.config.repositories {
                    if state.repo(m).is_some() {
                        add(m, &mut out);
                    }
                }
            }
            Some(r) => add(&r.config.key, &mut out),
            None => {}
        }
    }
    out
}

fn hits<'a>(
    state: &'a State,
    repos: &[String],
    mut keep: impl FnMut(&str, &Item) -> bool,
) -> Vec<Hit<'a>> {
    let mut out = Vec::new();
    for key in repos {
        let Some(r) = state.repo(key) else { continue };
        for (path, item) in &r.items {
            if !path.is_empty() && keep(path, item) {
                out.push((r.config.key.as_str(), path.as_str(), item));
            }
        }
    }
    out
}

/// Hits among `(repository, path)` candidates from an index, in the order of [`hits`]: scope order,
/// then path.
fn hits_among<'a>(
    state: &'a State,
    repos: &[String],
    candidates: impl Iterator<Item = (&'a str, &'a str)>,
    mut keep: impl FnMut(&str, &Item) -> bool,
) -> Vec<Hit<'a>> {
    let mut out: Vec<(usize, Hit<'a>)> = candidates
        .filter_map(|(r, path)| {
            let at = repos.iter().position(|x| x == r)?;
            let item = state.item(r, path)?;
            (!path.is_empty() && keep(path, item)).then_some((at, (r, path, item)))
        })
        .collect();
    out.sort_by(|a, b| (a.0, a.1 .1).cmp(&(b.0, b.1 .1)));
    out.dedup_by(|a, b| a.0 == b.0 && a.1 .1 == b.1 .1);
    out.into_iter().map(|(_, h)| h).collect()
}

/// Why a quick search term is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TermError {
    /// Empty.
    Empty,
    /// Nothing but wildcards.
    OnlyWildcards,
}

/// The pattern of a quick search: `*` added on each side unless the term already starts or ends with
/// a wildcard.
pub fn quick_pattern(term: &str) -> Result<String, TermError> {
    let term = term.trim();
    if term.is_empty() {
        return Err(TermError::Empty);
    }
    if term.chars().all(|c| c == '*' || c == '?') {
        return Err(TermError::OnlyWildcards);
    }
    let mut p = String::new();
    if !term.starts_with(['*', '?']) {
        p.push('*');
    }
    p.push_str(term);
    if !term.ends_with(['*', '?']) {
        p.push('*');
    }
    Ok(p)
}

/// Files whose name matches `pattern` (every file is in the index: its compact list is scanned
/// instead of the whole tree).
pub fn quick<'a>(state: &'a State, repos: &[String], pattern: &str) -> Vec<Hit<'a>> {
    let named = state
        .index
        .named(|name| crate::wildcard::matches_ci(pattern, name))
        .map(|(repo, path, _)| (repo, path));
    hits_among(state, repos, named, |_, item| !item.is_folder())
}

/// Items (files and folders) having every `(key, values)` criterion: the key with any of the values
/// (wildcards allowed; no value means any).
pub fn by_properties<'a>(
    state: &'a State,
    repos: &[String],
    criteria: &[(String, Vec<String>)],
) -> Vec<Hit<'a>> {
    let keep = |_: &str, item: &Item| {
        criteria.iter().all(|(k, wanted)| {
            item.props.contains_key(k)
                && (wanted.is_empty()
                    || wanted
                        .iter()
                        .any(|w| item.props.get(k).any(|h| crate::wildcard::matches_ci(w, h))))
        })
    };
    // A criterion with one value and no wildcard is looked up in the property index.
    let exact = criteria
        .iter()
        .find_map(|(k, wanted)| match wanted.as_slice() {
            [v] if !v.contains(['*', '?']) => Some((k, v)),
            _ => None,
        });
    match exact {
        Some((k, v)) => hits_among(state, repos, state.index.by_prop(k, v), keep),
        None => hits(state, repos, keep),
    }
}

/// Files not downloaded since `not_used_since` (never downloaded counts) and created before
/// `created_before`, ordered by last download.
pub fn not_used<'a>(
    state: &'a State,
    repos: &[String],
    not_used_since: i64,
    created_before: i64,
) -> Vec<Hit<'a>> {
    let mut out = hits(state, repos, |_, item| {
        !item.is_folder()
            && item.stats().last_downloaded < not_used_since
            && item.created < created_before
    });
    out.sort_by_key(|(_, _, i)| i.stats().last_downloaded);
    out
}

/// A date field of the date searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateField {
    /// `created`.
    Created,
    /// `lastModified`.
    LastModified,
    /// `lastDownloaded`.
    LastDownloaded,
}

impl DateField {
    /// Parses the query name.
    pub fn parse(s: &str) -> Option<DateField> {
        Some(match s.trim() {
            "created" => DateField::Created,
            "lastModified" => DateField::LastModified,
            "lastDownloaded" => DateField::LastDownloaded,
            _ => return None,
        })
    }

    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            DateField::Created => "created",
            DateField::LastModified => "lastModified",
            DateField::LastDownloaded => "lastDownloaded",
        }
    }

    /// The item's value (0 when never downloaded).
    pub fn of(self, i: &Item) -> i64 {
        match self {
            DateField::Created => i.created,
            DateField::LastModified => i.modified,
            DateField::LastDownloaded => i.stats().last_downloaded,
        }
    }
}

/// Files with any of `fields` within `[from, to]`.
pub fn dates<'a>(
    state: &'a State,
    repos: &[String],
    fields: &[DateField],
    from: i64,
    to: i64,
) -> Vec<Hit<'a>> {
    hits(state, repos, |_, item| {
        !item.is_folder()
            && fields.iter().any(|f| {
                let v = f.of(item);
                v > 0 && v >= from && v <= to
            })
    })
}

/// Archive entries whose file name matches `pattern`, grouped by entry path: `(entry, archives)`.
pub fn archive_entries<'a>(
    state: &'a State,
    repos: &[String],
    pattern: &str,
) -> Vec<(String, Vec<(&'a str, &'a str)>)> {
    let mut by_entry: std::collections::BTreeMap<String, Vec<(&'a str, &'a str)>> =
        std::collections::BTreeMap::new();
    for (repo, path, item) in hits(state, repos, |path, item| {
        !item.is_folder() && crate::artifacts::archive::is_archive(path)
    }) {
        let Some(f) = &item.file else { continue };
        let Some(entries) = state.archives.get(f.sha256.hex().as_str()) else {
            continue;
        };
        for e in entries {
            let name = e.rsplit('/').next().unwrap_or(e);
            if crate::wildcard::matches_ci(pattern, name) {
                by_entry.entry(e.clone()).or_default().push((repo, path));
            }
        }
    }
    by_entry.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_search_terms() {
        assert_eq!(quick_pattern("lib").unwrap(), "*lib*");
        assert_eq!(quick_pattern("*.jar").unwrap(), "*.jar*");
        assert_eq!(quick_pattern("lib?").unwrap(), "*lib?");
        assert_eq!(quick_pattern(" "), Err(TermError::Empty));
        assert_eq!(quick_pattern("*?*"), Err(TermError::OnlyWildcards));
        assert!(crate::wildcard::matches_ci("*LIB*", "my-lib-1.0.jar"));
        assert!(!crate::wildcard::matches_ci("*lib", "my-lib-1.0.jar"));
    }
}
