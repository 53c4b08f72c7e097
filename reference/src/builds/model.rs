//! The build-info model: what AQL's build domains (and build lookups) read from a stored
//! build-info document.

use crate::value::scalar;
use serde_json::Value as Json;

use crate::search::aql_eval::parse_date;
use crate::store::Item;

/// A build promotion (a `statuses` entry of a build-info document).
#[derive(Clone, Debug, Default)]
pub struct Promotion {
    pub(crate) created: Option<i64>,
    pub(crate) created_by: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) repo: Option<String>,
    pub(crate) comment: Option<String>,
}

/// A module artifact or dependency.
#[derive(Clone, Debug, Default)]
pub struct Part {
    pub(crate) name: String,
    pub(crate) kind: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) sha1: Option<String>,
    pub(crate) md5: Option<String>,
}

/// A build module.
#[derive(Clone, Debug, Default)]
pub struct Module {
    pub(crate) name: String,
    pub(crate) props: Vec<(String, String)>,
    pub(crate) artifacts: Vec<Part>,
    pub(crate) deps: Vec<Part>,
}

/// One stored build (a build-info JSON document in [`BUILD_REPO`]).
#[derive(Clone, Debug, Default)]
pub struct Build {
    pub(crate) name: String,
    pub(crate) number: String,
    pub(crate) url: Option<String>,
    pub(crate) started: Option<i64>,
    pub(crate) created: i64,
    pub(crate) created_by: String,
    pub(crate) modified: i64,
    pub(crate) modified_by: String,
    pub(crate) props: Vec<(String, String)>,
    pub(crate) promotions: Vec<Promotion>,
    pub(crate) modules: Vec<Module>,
}

fn props_of(v: &Json) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl Build {
    /// Reads a build-info document stored as `item`; `None` when it is not one (no name or number).
    pub fn parse(doc: &Json, item: &Item) -> Option<Build> {
        let text = |v: &Json, k: &str| v.get(k).and_then(scalar);
        let part = |v: &Json, id: &str| Part {
            name: text(v, "name").or_else(|| text(v, id)).unwrap_or_default(),
            kind: text(v, "type"),
            scope: v.get("scopes").and_then(Json::as_array).map(|s| {
                s.iter()
                    .filter_map(scalar)
                    .collect::<Vec<String>>()
                    .join(",")
            }),
            sha1: text(v, "sha1"),
            md5: text(v, "md5"),
        };
        let list = |v: &Json, k: &str| v.get(k).and_then(Json::as_array).cloned();
        let modules = list(doc, "modules")
            .unwrap_or_default()
            .iter()
            .map(|m| Module {
                name: text(m, "id").unwrap_or_default(),
                props: m.get("properties").map(props_of).unwrap_or_default(),
                artifacts: list(m, "artifacts")
                    .unwrap_or_default()
                    .iter()
                    .map(|a| part(a, "name"))
                    .collect(),
                deps: list(m, "dependencies")
                    .unwrap_or_default()
                    .iter()
                    .map(|d| part(d, "id"))
                    .collect(),
            })
            .collect();
        let promotions = list(doc, "statuses")
            .unwrap_or_default()
            .iter()
            .map(|s| Promotion {
                created: text(s, "timestamp").and_then(|t| parse_date(&t)),
                created_by: text(s, "user"),
                user: text(s, "ciUser"),
                status: text(s, "status"),
                repo: text(s, "repository"),
                comment: text(s, "comment"),
            })
            .collect();
        Some(Build {
            name: text(doc, "name")?,
            number: text(doc, "number")?,
            url: text(doc, "url"),
            started: text(doc, "started").and_then(|t| parse_date(&t)),
            created: item.created,
            created_by: text(doc, "artifactoryPrincipal")
                .unwrap_or_else(|| item.created_by.to_string()),
            modified: item.modified,
            modified_by: item.modified_by.to_string(),
            props: doc.get("properties").map(props_of).unwrap_or_default(),
            promotions,
            modules,
        })
    }
}

/// The top-level fields of a build-info document in the order Artifactory's model prints them;
/// fields it does not know follow in the order they came.
const ORDER: &[&str] = &[
    "properties",
    "version",
    "name",
    "number",
    "type",
    "buildAgent",
    "agent",
    "started",
    "durationMillis",
    "principal",
    "artifactoryPrincipal",
    "artifactoryPluginVersion",
    "url",
    "parentName",
    "parentNumber",
    "vcsRevision",
    "vcsUrl",
    "vcs",
    "licenseControl",
    "buildRetention",
    "modules",
    "statuses",
    "issues",
    "governance",
    "buildDependencies",
];

/// `doc` with its top-level fields in Artifactory's order.
pub(crate) fn ordered(doc: &Json) -> Json {
    let Some(obj) = doc.as_object() else {
        return doc.clone();
    };
    let mut out = serde_json::Map::new();
    for k in ORDER {
        if let Some(v) = obj.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    for (k, v) in obj {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    Json::Object(out)
}
