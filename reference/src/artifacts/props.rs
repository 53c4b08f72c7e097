//! Properties: Artifactory's key rules and `KeyValueList` grammar, property-based resolution on
//! retrieve (`;k=v`, `;k+=v`), setting and removing properties (the storage API and the metadata
//! PATCH), and the SHA-256 back-fill of `POST /api/checksum/sha256`.

use crate::value::scalar;
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::{Action, Caller};
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::{Item, Mutation, Props, State, TreeError};

/// Checks a property key: starts with a letter, no whitespace or special characters.
pub(crate) fn validate_key(key: &str) -> Result<(), ApiError> {
    const FORBIDDEN: &str = ")(}{][*+^$\\/~`!@#%&<>;=,±§";
    let ok = key.chars().next().is_some_and(|c| c.is_alphabetic())
        && !key
            .chars()
            .any(|c| c.is_whitespace() || FORBIDDEN.contains(c));
    if ok {
        Ok(())
    } else {
        Err(msg::invalid_property_key(key))
    }
}

/// Parses Artifactory's `KeyValueList` grammar: pairs split by unescaped `|` or `;`, key and value by the
/// first unescaped `=`, values by unescaped `,`; `\` escapes the next character.
pub(crate) fn parse(s: &str) -> Result<Props, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in split_unescaped(s, &['|', ';']) {
        if pair.is_empty() {
            continue;
        }
        let mut kv = split_unescaped_once(&pair, '=');
        let key = unescape(&kv.remove(0));
        validate_key(&key)?;
        let values = match kv.pop() {
            Some(v) => split_unescaped(&v, &[','])
                .iter()
                .map(|x| unescape(x))
                .collect(),
            None => vec![String::new()],
        };
        pairs.extend(values.into_iter().map(|v| (key.clone(), v)));
    }
    Ok(Props::from_pairs(pairs))
}

fn split_unescaped(s: &str, seps: &[char]) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.last_mut().expect("non-empty").push(c);
            if let Some(n) = chars.next() {
                out.last_mut().expect("non-empty").push(n);
            }
        } else if seps.contains(&c) {
            out.push(String::new());
        } else {
            out.last_mut().expect("non-empty").push(c);
        }
    }
    out
}

fn split_unescaped_once(s: &str, sep: char) -> Vec<String> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            return vec![s[..i].to_string(), s[i + 1..].to_string()];
        }
    }
    vec![s.to_string()]
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Property-based resolution: `;k=v` conflicts when the item has `k` with other values; `;k+=v`
/// requires the item to have `k` (with exactly those values when given). `id` is `repo:path`.
pub(crate) fn check_matrix(
    matrix: &[(String, String)],
    item: &Item,
    id: &str,
) -> Result<(), ApiError> {
    let mut wanted: Vec<(String, bool, Vec<String>)> = Vec::new();
    for (k, v) in matrix {
        let (key, mandatory) = match k.strip_suffix('+') {
            Some(base) => (base.to_string(), true),
            None => (k.clone(), false),
        };
        match wanted.iter_mut().find(|(wk, _, _)| *wk == key) {
            Some(w) => {
                w.1 |= mandatory;
                w.2.push(v.clone());
            }
            None => wanted.push((key, mandatory, vec![v.clone()])),
        }
    }
    for (key, mandatory, values) in wanted {
        let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
        let conflict = if item.props.contains_key(&key) {
            !values.is_empty() && !values.iter().all(|v| item.props.get(&key).any(|h| h == v))
        } else {
            mandatory
        };
        if conflict {
            return Err(if mandatory {
                ApiError::not_found(format!(
                    "File '{id}' was found, but mandatory properties do not match."
                ))
            } else {
                msg::file_not_found()
            });
        }
    }
    Ok(())
}

fn tree_error(t: TreeError) -> ApiError {
    match t {
        TreeError::NoRepo(_) | TreeError::NoItem => msg::unable_to_find_item(),
        TreeError::Conflict(p) => ApiError::conflict(format!("Conflict at path '{p}'")),
        TreeError::RepoExists => {
            ApiError::bad_request("Case insensitive repository key already exists")
        }
    }
}

/// A change of properties on an item (and, when `recursive`, everything under it).
#[derive(Debug)]
pub(crate) struct Edit {
    pub repo: String,
    pub path: String,
    /// Keys to set, replacing their values.
    pub set: Props,
    /// Keys to remove.
    pub remove: Vec<String>,
    pub recursive: bool,
}

/// Sets and removes properties; the caller needs annotate on the item (and on every file under
/// it when recursive), checked with the write.
pub(crate) async fn edit(
    app: &App,
    caller: &Caller,
    e: Edit,
    forbidden: impl Fn() -> ApiError,
) -> Result<(), ApiError> {
    let check = |state: &State| {
        let (repo, path) = (e.repo.as_str(), e.path.as_str());
        if e.recursive {
            app.auth
                .require_tree(state, caller, Action::Annotate, repo, path, &forbidden)?;
        } else {
            app.auth
                .require(state, caller, Action::Annotate, repo, path, &forbidden)?;
        }
        if !state.repo(repo).is_some_and(|x| x.is_local()) {
            return Err(msg::unable_to_find_item());
        }
        Ok(Mutation::EditProps {
            repo: e.repo.clone(),
            path: e.path.clone(),
            set: e.set.clone(),
            remove: e.remove.clone(),
            recursive: e.recursive,
            now: app.config.clock.now_ms(),
        })
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, tree_error))
}

/// The `props` object of a metadata PATCH as (keys to set, keys to remove): `null` removes a key,
/// an array replaces its values (empty: one empty value), a scalar sets one.
pub(crate) fn patch(doc: &Value) -> Result<(Props, Vec<String>), ApiError> {
    let Some(props) = doc.get("props").and_then(Value::as_object) else {
        return Err(ApiError::text(400, "props or stats fields required"));
    };
    patch_props(props)
}

fn patch_props(props: &Map<String, Value>) -> Result<(Props, Vec<String>), ApiError> {
    let bad_value = |k: &str| {
        ApiError::bad_request(format!("Invalid value for property '{k}': expected a string, a number, a boolean, an array of those, or null"))
    };
    let mut set: Vec<(&str, String)> = Vec::new();
    let mut remove = Vec::new();
    for (k, v) in props {
        validate_key(k)?;
        match v {
            Value::Null => remove.push(k.clone()),
            Value::Array(vs) => {
                remove.push(k.clone());
                for x in vs {
                    set.push((k, scalar(x).ok_or_else(|| bad_value(k))?));
                }
                if vs.is_empty() {
                    // Properties are (key, value) rows: a key without values holds one empty value.
                    set.push((k, String::new()));
                }
            }
            other => set.push((k, scalar(other).ok_or_else(|| bad_value(k))?)),
        }
    }
    Ok((Props::from_pairs(set), remove))
}

/// `POST /api/checksum/sha256`: every file at or under `repo:path` gets `sha256=<its digest>`.
pub(crate) async fn fill_sha256(app: &App, repo: &str, path: &str) -> Result<(), ApiError> {
    let check = |state: &State| {
        let r = state.repo(repo).ok_or_else(msg::unable_to_find_item)?;
        if !r.items.contains_key(path) {
            return Err(msg::unable_to_find_item());
        }
        let now = app.config.clock.now_ms();
        // One step per file, in tree order.
        let steps = r
            .subtree(path)
            .filter_map(|(k, i)| {
                let f = i.file.as_ref()?;
                let mut set = Props::default();
                set.add("sha256", &f.sha256.hex());
                Some(Mutation::EditProps {
                    repo: repo.to_string(),
                    path: k.to_string(),
                    set,
                    remove: vec![],
                    recursive: false,
                    now,
                })
            })
            .collect();
        Ok(Mutation::Batch { steps })
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, tree_error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_list_grammar() {
        let p = parse(r"a=1,2,3;b=1\=1,2\,3|c=\;;e=").unwrap();
        assert_eq!(p.get("a").collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(p.get("b").collect::<Vec<_>>(), ["1=1", "2,3"]);
        assert_eq!(p.get("c").collect::<Vec<_>>(), [";"]);
        assert_eq!(p.get("e").collect::<Vec<_>>(), [""]);
        assert!(parse(r"b\=1=x").is_err(), "keys with '=' are invalid");
    }

    #[test]
    fn patches_set_replace_and_remove() {
        let doc = serde_json::json!({"props": {"a": "1", "b": [1, true], "c": null, "d": []}});
        let (set, remove) = patch(&doc).unwrap();
        assert_eq!(set.get("a").collect::<Vec<_>>(), ["1"]);
        assert_eq!(set.get("b").collect::<Vec<_>>(), ["1", "true"]);
        assert_eq!(set.get("d").collect::<Vec<_>>(), [""]);
        assert_eq!(remove, ["b", "c", "d"]);
        assert_eq!(patch(&serde_json::json!({})).unwrap_err().status, 400);
        assert_eq!(
            patch(&serde_json::json!({"props": {"a": {"x": 1}}}))
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn mandatory_properties_must_match() {
        let mut item = Item::folder(0, "u");
        item.props.add("os", "linux");
        let m = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(check_matrix(&m("os", "linux"), &item, "r:p").is_ok());
        assert_eq!(
            check_matrix(&m("os", "win"), &item, "r:p")
                .unwrap_err()
                .message(),
            "File not found."
        );
        assert!(check_matrix(&m("arch", "x"), &item, "r:p").is_ok());
        assert_eq!(
            check_matrix(&m("arch+", ""), &item, "r:p")
                .unwrap_err()
                .message(),
            "File 'r:p' was found, but mandatory properties do not match."
        );
    }
}
