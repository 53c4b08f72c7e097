//! The fields of Artifactory's repository configuration JSON beyond the ones the configuration
//! holds as typed values: each class's list in the order a 7.x server writes them, with its
//! defaults. A field that is set keeps the value it was set to (typed as its default is); a field
//! Artifactory does not have here is kept as sent and returned after the known ones (see
//! FIDELITY "Repository configuration").

use serde_json::{json, Value};

use crate::config::{PackageType, RepoClass, RepoConfig};
use crate::error::ApiError;

/// The settings of `class`/`pt` repositories, in output order, with their defaults.
fn table(class: RepoClass, pt: PackageType) -> Vec<(&'static str, Value)> {
    let docker = pt == PackageType::Docker;
    let mut t = vec![
        ("repoLayoutRef", json!("simple-default")),
        ("enableDockerSupport", json!(docker)),
        ("dockerApiVersion", json!("V2")),
        ("blockPushingSchema1", json!(true)),
    ];
    match class {
        RepoClass::Local => t.extend([
            ("checksumPolicyType", json!("client-checksums")),
            ("handleReleases", json!(true)),
            ("handleSnapshots", json!(true)),
            ("maxUniqueSnapshots", json!(0)),
            ("maxUniqueTags", json!(0)),
            ("blackedOut", json!(false)),
            ("propertySets", json!([])),
            ("archiveBrowsingEnabled", json!(false)),
            ("xrayIndex", json!(false)),
            ("priorityResolution", json!(false)),
            ("cdnRedirect", json!(false)),
            ("downloadRedirect", json!(false)),
        ]),
        RepoClass::Remote => t.extend([
            ("username", json!("")),
            ("hardFail", json!(false)),
            ("offline", json!(false)),
            ("blackedOut", json!(false)),
            ("storeArtifactsLocally", json!(true)),
            ("socketTimeoutMillis", json!(15000)),
            ("localAddress", json!("")),
            ("retrievalCachePeriodSecs", json!(7200)),
            ("metadataRetrievalTimeoutSecs", json!(60)),
            ("missedRetrievalCachePeriodSecs", json!(1800)),
            ("unusedArtifactsCleanupPeriodHours", json!(0)),
            ("assumedOfflinePeriodSecs", json!(300)),
            ("shareConfiguration", json!(false)),
            ("synchronizeProperties", json!(false)),
            ("allowAnyHostAuth", json!(false)),
            ("enableCookieManagement", json!(false)),
            ("bypassHeadRequests", json!(false)),
            ("blockMismatchingMimeTypes", json!(true)),
            ("propertySets", json!([])),
            ("xrayIndex", json!(false)),
            ("priorityResolution", json!(false)),
            ("cdnRedirect", json!(false)),
            ("downloadRedirect", json!(false)),
            ("enableTokenAuthentication", json!(docker)),
            ("externalDependenciesEnabled", json!(false)),
        ]),
        RepoClass::Virtual => t.extend([
            (
                "artifactoryRequestsCanRetrieveRemoteArtifacts",
                json!(false),
            ),
            ("resolveDockerTagsByTimestamp", json!(false)),
            ("virtualRetrievalCachePeriodSecs", json!(600)),
        ]),
    }
    t
}

/// The default of setting `name` for `class`/`pt` repositories (`None`: not one of the known ones).
pub(crate) fn default_of(class: RepoClass, pt: PackageType, name: &str) -> Option<Value> {
    table(class, pt)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| d)
}

/// The fields the configuration holds typed (see [`crate::repos::config_json`]).
const TYPED: &[&str] = &[
    "key",
    "rclass",
    "packageType",
    "description",
    "notes",
    "includesPattern",
    "excludesPattern",
    "url",
    "password",
    "repositories",
    "defaultDeploymentRepo",
];

/// Whether `v` has the JSON type of `default`.
fn same_kind(v: &Value, default: &Value) -> bool {
    matches!(
        (v, default),
        (Value::Bool(_), Value::Bool(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::String(_), Value::String(_))
            | (Value::Array(_), Value::Array(_))
            | (Value::Object(_), Value::Object(_))
    )
}

/// Files the untyped fields of `doc` into `c.settings`, each known one checked against its
/// default's type (a `null` unsets it).
pub(crate) fn apply(
    c: &mut RepoConfig,
    doc: &serde_json::Map<String, Value>,
) -> Result<(), ApiError> {
    let table = table(c.rclass, c.package_type);
    for (name, v) in doc {
        if TYPED.contains(&name.as_str()) {
            continue;
        }
        if v.is_null() {
            c.settings.shift_remove(name);
            continue;
        }
        if let Some((_, default)) = table.iter().find(|(n, _)| n == name) {
            if !same_kind(v, default) {
                let kind = match default {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    Value::Array(_) => "an array",
                    _ => "an object",
                };
                return Err(ApiError::bad_request(format!(
                    "Field '{name}' must be {kind}"
                )));
            }
            if let (Value::Number(n), Value::Number(_)) = (v, default) {
                if n.as_i64().is_none_or(|n| n < 0) {
                    return Err(ApiError::bad_request(format!(
                        "Field '{name}' must be a whole number, 0 or more"
                    )));
                }
            }
        }
        c.settings.insert(name.clone(), v.clone());
    }
    Ok(())
}

/// The known settings of `c` in order, each as set or defaulted, then the unknown ones as sent.
pub(crate) fn render(c: &RepoConfig) -> Vec<(String, Value)> {
    let table = table(c.rclass, c.package_type);
    let mut out: Vec<(String, Value)> = table
        .iter()
        .map(|(n, d)| (n.to_string(), c.settings.get(*n).unwrap_or(d).clone()))
        .collect();
    for (n, v) in &c.settings {
        if !table.iter().any(|(t, _)| t == n) {
            out.push((n.clone(), v.clone()));
        }
    }
    out
}

/// A boolean setting of `c` (its default when unset).
pub(crate) fn flag(c: &RepoConfig, name: &str) -> bool {
    match c.settings.get(name) {
        Some(Value::Bool(b)) => *b,
        _ => table(c.rclass, c.package_type)
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, d)| d.as_bool())
            .unwrap_or(false),
    }
}

/// A numeric setting of `c` (its default when unset).
pub(crate) fn number(c: &RepoConfig, name: &str) -> i64 {
    match c.settings.get(name).and_then(Value::as_i64) {
        Some(n) => n,
        None => table(c.rclass, c.package_type)
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, d)| d.as_i64())
            .unwrap_or(0),
    }
}

/// The upstream user name of a remote repository.
pub(crate) fn username(c: &RepoConfig) -> &str {
    c.settings
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_keep_what_was_set_and_default_the_rest() {
        let mut c = RepoConfig::new("r", RepoClass::Remote, PackageType::Generic);
        let doc = json!({"offline": true, "retrievalCachePeriodSecs": 60, "futureField": {"a": 1}});
        apply(&mut c, doc.as_object().unwrap()).unwrap();
        assert!(flag(&c, "offline"));
        assert!(!flag(&c, "hardFail"));
        assert!(flag(&c, "storeArtifactsLocally"));
        assert_eq!(number(&c, "retrievalCachePeriodSecs"), 60);
        assert_eq!(number(&c, "missedRetrievalCachePeriodSecs"), 1800);
        let out = render(&c);
        assert_eq!(
            out.last().unwrap(),
            &("futureField".to_string(), json!({"a": 1}))
        );
        let bad = json!({"offline": "yes"});
        let e = apply(&mut c, bad.as_object().unwrap()).unwrap_err();
        assert_eq!(e.message(), "Field 'offline' must be a boolean");
        let bad = json!({"socketTimeoutMillis": -1});
        assert!(apply(&mut c, bad.as_object().unwrap()).is_err());
        apply(&mut c, json!({"offline": null}).as_object().unwrap()).unwrap();
        assert!(!flag(&c, "offline"));
    }
}
