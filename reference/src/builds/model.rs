//! The build-info model: what AQL's build domains (and build lookups) read from a stored
//! build-info document.

use crate::value::scalar;
use serde_json::{Map, Value as Json};

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

/// The fields of each object of a build-info document in the order Artifactory's model (jfrog
/// build-info's `Build`, `Module`, `Artifact`, ... through Jackson: superclass fields first, then the
/// class's own, renamed ones last) prints them. Fields of the older model that JCR 7 still accepts
/// (`type`, `vcsRevision`, `vcsUrl`, `licenseControl`, `governance`) stand where that model had
/// them. Fields the model does not know follow in the order they came: Artifactory drops them, the
/// reference server keeps them (FIDELITY).
mod order {
    pub(super) const BUILD: &[&str] = &[
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
        "vcs",
        "vcsRevision",
        "vcsUrl",
        "parentBuildId",
        "licenseControl",
        "buildRetention",
        "runParameters",
        "modules",
        "statuses",
        "buildDependencies",
        "issues",
        "governance",
    ];
    pub(super) const MODULE: &[&str] = &[
        "properties",
        "type",
        "id",
        "repository",
        "md5",
        "sha1",
        "artifacts",
        "excludedArtifacts",
        "dependencies",
    ];
    pub(super) const ARTIFACT: &[&str] = &[
        "properties",
        "type",
        "sha1",
        "sha256",
        "md5",
        "name",
        "originalDeploymentRepo",
        "path",
    ];
    pub(super) const DEPENDENCY: &[&str] = &[
        "properties",
        "type",
        "sha1",
        "sha256",
        "md5",
        "id",
        "scopes",
        "requestedBy",
        "path",
    ];
    pub(super) const AGENT: &[&str] = &["name", "version"];
    pub(super) const VCS: &[&str] = &["revision", "message", "branch", "url"];
    pub(super) const STATUS: &[&str] = &[
        "status",
        "comment",
        "repository",
        "timestamp",
        "user",
        "ciUser",
        "timestampDate",
    ];
    pub(super) const RETENTION: &[&str] = &[
        "count",
        "minimumBuildDate",
        "deleteBuildArtifacts",
        "buildNumbersNotToBeDiscarded",
    ];
    pub(super) const ISSUES: &[&str] = &[
        "tracker",
        "aggregateBuildIssues",
        "aggregationBuildStatus",
        "affectedIssues",
    ];
    pub(super) const ISSUE: &[&str] = &["key", "url", "summary", "aggregated"];
    pub(super) const DEPENDENCY_BUILD: &[&str] = &["name", "number", "started", "url"];
}

/// `obj` with the fields in `order` first, nulls dropped (Jackson's NON_NULL), each value passed
/// through `nested` (which knows the kind of the field's objects).
fn arrange(obj: &Map<String, Json>, order: &[&str], nested: impl Fn(&str, &Json) -> Json) -> Json {
    let mut out = Map::new();
    let keys = order
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .chain(
            obj.keys()
                .map(String::as_str)
                .filter(|k| !order.contains(k)),
        );
    for k in keys {
        match obj.get(k) {
            None | Some(Json::Null) => {}
            Some(v) => {
                out.insert(k.to_string(), nested(k, v));
            }
        }
    }
    Json::Object(out)
}

/// Each object of an array arranged in `order` (other values as they are).
fn each(v: &Json, f: impl Fn(&Map<String, Json>) -> Json) -> Json {
    match v {
        Json::Array(a) => Json::Array(
            a.iter()
                .map(|x| x.as_object().map(&f).unwrap_or_else(|| x.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn flat(order: &'static [&'static str]) -> impl Fn(&Map<String, Json>) -> Json {
    move |o| arrange(o, order, |_, v| v.clone())
}

fn module(m: &Map<String, Json>) -> Json {
    arrange(m, order::MODULE, |k, v| match k {
        "artifacts" | "excludedArtifacts" => each(v, flat(order::ARTIFACT)),
        "dependencies" => each(v, flat(order::DEPENDENCY)),
        _ => v.clone(),
    })
}

fn status(s: &Map<String, Json>) -> Json {
    let mut s = s.clone();
    // A getter of the model: the timestamp as epoch ms.
    if let Some(ms) = s
        .get("timestamp")
        .and_then(Json::as_str)
        .and_then(parse_date)
    {
        s.entry("timestampDate").or_insert(Json::from(ms));
    }
    arrange(&s, order::STATUS, |_, v| v.clone())
}

/// `doc` as Artifactory prints a stored build: each object's fields in the model's order, nulls
/// left out, and the two values the model always has (`version`, `durationMillis`) present.
pub(crate) fn ordered(doc: &Json) -> Json {
    let Some(obj) = doc.as_object() else {
        return doc.clone();
    };
    let mut obj = obj.clone();
    obj.entry("version").or_insert(Json::from("1.0.1"));
    obj.entry("durationMillis").or_insert(Json::from(0));
    arrange(&obj, order::BUILD, |k, v| match (k, v) {
        ("buildAgent" | "agent", Json::Object(o)) => flat(order::AGENT)(o),
        ("vcs", _) => each(v, flat(order::VCS)),
        ("modules", _) => each(v, module),
        ("statuses", _) => each(v, status),
        ("buildRetention", Json::Object(o)) => flat(order::RETENTION)(o),
        ("buildDependencies", _) => each(v, flat(order::DEPENDENCY_BUILD)),
        ("issues", Json::Object(o)) => arrange(o, order::ISSUES, |k, v| match (k, v) {
            ("tracker", Json::Object(t)) => flat(order::AGENT)(t),
            ("affectedIssues", _) => each(v, flat(order::ISSUE)),
            _ => v.clone(),
        }),
        _ => v.clone(),
    })
}
