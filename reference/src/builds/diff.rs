//! Builds diff (`?diff=<older>`): the artifacts, dependencies and properties of a build compared
//! with an older run, each classified new / updated / unchanged / removed (behaviour §10.3).
//! Artifacts and dependencies are matched by name (the dependency's `id` when it has no name)
//! across all modules and compared by checksum; properties by key and compared by value.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value as Json};

/// The four classes of one section, in the order Artifactory prints them.
#[derive(Debug, Default)]
pub(crate) struct Section {
    pub updated: Vec<Json>,
    pub unchanged: Vec<Json>,
    pub removed: Vec<Json>,
    pub new: Vec<Json>,
}

impl Section {
    fn to_json(&self) -> Json {
        json!({
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "new": self.new,
        })
    }
}

/// A whole diff.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    pub artifacts: Section,
    pub dependencies: Section,
    pub properties: Section,
}

impl Diff {
    /// The response document.
    pub(crate) fn to_json(&self) -> Json {
        json!({
            "artifacts": self.artifacts.to_json(),
            "dependencies": self.dependencies.to_json(),
            "properties": self.properties.to_json(),
        })
    }
}

/// One module artifact or dependency, with the module it belongs to.
struct File<'a> {
    name: String,
    module: &'a str,
    part: &'a Map<String, Json>,
}

fn files<'a>(doc: &'a Json, list: &str) -> Vec<File<'a>> {
    let mut out = Vec::new();
    for m in doc
        .get("modules")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let module = m.get("id").and_then(Json::as_str).unwrap_or("");
        for p in m
            .get(list)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_object)
        {
            let name = p
                .get("name")
                .or_else(|| p.get("id"))
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            out.push(File {
                name,
                module,
                part: p,
            });
        }
    }
    out
}

fn sum<'a>(p: &'a Map<String, Json>, k: &str) -> &'a str {
    p.get(k).and_then(Json::as_str).unwrap_or("")
}

/// The entry Artifactory prints for a file: name, its name in the other build when it differs,
/// module, type, checksums.
fn entry(f: &File<'_>, other: Option<&File<'_>>) -> Json {
    let mut e = Map::new();
    e.insert("name".into(), Json::String(f.name.clone()));
    if let Some(o) = other.filter(|o| o.name != f.name) {
        e.insert("diffName".into(), Json::String(o.name.clone()));
    }
    e.insert("module".into(), Json::String(f.module.to_string()));
    if let Some(t) = f.part.get("type").and_then(Json::as_str) {
        e.insert("type".into(), Json::String(t.to_string()));
    }
    for k in ["sha1", "md5"] {
        e.insert(k.into(), Json::String(sum(f.part, k).to_string()));
    }
    Json::Object(e)
}

fn same_content(a: &File<'_>, b: &File<'_>) -> bool {
    ["sha1", "sha256", "md5"].iter().all(|k| {
        let (x, y) = (sum(a.part, k), sum(b.part, k));
        x.is_empty() || y.is_empty() || x.eq_ignore_ascii_case(y)
    }) && ["sha1", "sha256", "md5"]
        .iter()
        .any(|k| !sum(a.part, k).is_empty() && !sum(b.part, k).is_empty())
}

fn compare_files(now: &Json, before: &Json, list: &str) -> Section {
    let (now, before) = (files(now, list), files(before, list));
    // By name, the first of each name (builds of thousands of files: no quadratic scan).
    let mut old: HashMap<&str, &File<'_>> = HashMap::with_capacity(before.len());
    for b in &before {
        old.entry(b.name.as_str()).or_insert(b);
    }
    let current: HashSet<&str> = now.iter().map(|f| f.name.as_str()).collect();
    let mut s = Section::default();
    for f in &now {
        match old.get(f.name.as_str()) {
            None => s.new.push(entry(f, None)),
            Some(b) if same_content(f, b) => s.unchanged.push(entry(f, Some(b))),
            Some(b) => s.updated.push(entry(f, Some(b))),
        }
    }
    for b in &before {
        if !current.contains(b.name.as_str()) {
            s.removed.push(entry(b, None));
        }
    }
    s
}

fn props(doc: &Json) -> Vec<(String, String)> {
    doc.get("properties")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let v = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn compare_props(now: &Json, before: &Json) -> Section {
    let (now, before) = (props(now), props(before));
    let mut s = Section::default();
    let row = |k: &str, v: &str| json!({"key": k, "value": v});
    for (k, v) in &now {
        match before.iter().find(|(bk, _)| bk == k) {
            None => s.new.push(row(k, v)),
            Some((_, bv)) if bv == v => s.unchanged.push(row(k, v)),
            Some((_, bv)) => s
                .updated
                .push(json!({"key": k, "value": v, "diffValue": bv})),
        }
    }
    for (k, v) in &before {
        if !now.iter().any(|(nk, _)| nk == k) {
            s.removed.push(row(k, v));
        }
    }
    s
}

/// Compares build document `now` with the older `before`.
pub(crate) fn compare(now: &Json, before: &Json) -> Diff {
    Diff {
        artifacts: compare_files(now, before, "artifacts"),
        dependencies: compare_files(now, before, "dependencies"),
        properties: compare_props(now, before),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_matched_by_name_and_compared_by_checksum() {
        let old = json!({"modules": [{"id": "m", "artifacts": [
            {"name": "a.jar", "sha1": "1", "md5": "x"},
            {"name": "b.jar", "sha1": "2", "md5": "y"},
            {"name": "gone.jar", "sha1": "3", "md5": "z"}
        ]}], "properties": {"k": "v", "old": "o", "same": "s"}});
        let new = json!({"modules": [{"id": "m", "artifacts": [
            {"name": "a.jar", "sha1": "1", "md5": "x"},
            {"name": "b.jar", "sha1": "9", "md5": "w"},
            {"name": "c.jar", "sha1": "4", "md5": "q", "type": "jar"}
        ]}], "properties": {"k": "v2", "same": "s", "fresh": "f"}});
        let d = compare(&new, &old).to_json();
        let names = |sec: &str, class: &str| -> Vec<String> {
            d[sec][class]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    e["name"]
                        .as_str()
                        .or(e["key"].as_str())
                        .unwrap()
                        .to_string()
                })
                .collect()
        };
        assert_eq!(names("artifacts", "unchanged"), ["a.jar"]);
        assert_eq!(names("artifacts", "updated"), ["b.jar"]);
        assert_eq!(names("artifacts", "new"), ["c.jar"]);
        assert_eq!(names("artifacts", "removed"), ["gone.jar"]);
        assert_eq!(d["artifacts"]["new"][0]["type"], "jar");
        assert_eq!(names("properties", "updated"), ["k"]);
        assert_eq!(d["properties"]["updated"][0]["diffValue"], "v");
        assert_eq!(names("properties", "unchanged"), ["same"]);
        assert_eq!(names("properties", "new"), ["fresh"]);
        assert_eq!(names("properties", "removed"), ["old"]);
        assert_eq!(d["dependencies"]["new"], json!([]));
    }
}
