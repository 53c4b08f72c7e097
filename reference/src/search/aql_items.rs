//! Evaluating AQL over the `items` domain: criteria on item fields, properties (`@key`, `@*`,
//! `property.key/value`) and download statistics (`stat.*`), then include, sort, offset and limit, and
//! the rows in Artifactory's output frame (behaviour §9.3–9.6). Other domains are refused honestly by
//! the endpoint until they are built.

use std::cmp::Ordering;

use serde_json::{json, Map, Value as Json};

use super::aql::{Dir, Op, Query, Term, Value};
use crate::store::{Item, State};

/// Item fields and whether they are returned by default, in the fixed order rows start with.
const FIELDS: [(&str, bool); 17] = [
    ("repo", true),
    ("path", true),
    ("name", true),
    ("type", true),
    ("size", true),
    ("created", true),
    ("created_by", true),
    ("modified", true),
    ("modified_by", true),
    ("updated", true),
    ("depth", false),
    ("actual_md5", false),
    ("actual_sha1", false),
    ("original_md5", false),
    ("original_sha1", false),
    ("sha256", false),
    ("id", false),
];

const FIXED_ORDER: [&str; 11] = [
    "repo",
    "path",
    "name",
    "type",
    "size",
    "created",
    "created_by",
    "modified",
    "modified_by",
    "updated",
    "depth",
];

/// A field's value for one item.
#[derive(Clone, Debug, PartialEq)]
enum V {
    S(String),
    N(i64),
    D(i64),
}

/// One candidate row.
pub struct Row<'a> {
    /// Repository key.
    pub repo: &'a str,
    /// Path in the repository (`""` for the root folder).
    pub key: &'a str,
    /// The item.
    pub item: &'a Item,
}

fn split(key: &str) -> (String, String) {
    match key.rsplit_once('/') {
        Some((p, n)) => (p.to_string(), n.to_string()),
        None if key.is_empty() => (".".into(), ".".into()),
        None => (".".into(), key.to_string()),
    }
}

fn field(row: &Row<'_>, f: &str) -> Option<V> {
    let i = row.item;
    let file = i.file.as_ref();
    let non_empty = |s: &str| (!s.is_empty()).then(|| V::S(s.to_string()));
    Some(match f {
        "repo" => V::S(row.repo.to_string()),
        "path" => V::S(split(row.key).0),
        "name" => V::S(split(row.key).1),
        "type" => V::S(if i.is_folder() { "folder" } else { "file" }.into()),
        "size" => V::N(file.map(|f| f.size as i64)?),
        "created" => V::D(i.created),
        "modified" => V::D(i.modified),
        "updated" => V::D(i.updated),
        "created_by" => V::S(i.created_by.clone()),
        "modified_by" => V::S(i.modified_by.clone()),
        "depth" => V::N(row.key.split('/').filter(|s| !s.is_empty()).count() as i64),
        "actual_md5" => non_empty(&file?.md5)?,
        "actual_sha1" => non_empty(&file?.sha1)?,
        "sha256" => non_empty(&file?.sha256)?,
        "original_md5" => V::S(file?.original.md5.clone()?),
        "original_sha1" => V::S(file?.original.sha1.clone()?),
        "stat.downloads" | "stat.downloaded" | "stat.downloaded_by" if i.stats.downloads == 0 => {
            return None
        }
        "stat.downloads" => V::N(i.stats.downloads as i64),
        "stat.downloaded" => V::D(i.stats.last_downloaded),
        "stat.downloaded_by" => V::S(i.stats.last_downloaded_by.clone()?),
        _ => return None,
    })
}

fn known_field(f: &str) -> bool {
    FIELDS.iter().any(|(n, _)| *n == f)
        || f.starts_with('@')
        || matches!(
            f,
            "stat.downloads"
                | "stat.downloaded"
                | "stat.downloaded_by"
                | "property.key"
                | "property.value"
        )
}

/// An evaluation failure: a plain-text 400 message.
#[derive(Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(m.into()))
}

/// `3d`, `2weeks`, `10mi` → milliseconds.
fn period(v: &str) -> Option<i64> {
    let v = v.trim();
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().ok()?;
    let unit = &v[digits.len()..];
    let ms: i64 = match unit {
        "ms" | "millis" => 1,
        "s" | "seconds" => 1_000,
        "mi" | "minutes" => 60_000,
        "d" | "days" => 86_400_000,
        "w" | "weeks" => 7 * 86_400_000,
        "mo" | "months" => 30 * 86_400_000,
        "y" | "years" => 365 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms)
}

fn parse_date(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Iso8601::DEFAULT)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A checked criterion, ready to test rows.
enum Check {
    Cmp {
        field: String,
        op: Op,
        value: Target,
    },
    Any(Vec<Vec<Check>>),
    All(Vec<Vec<Check>>),
}

enum Target {
    Null,
    S(String),
    N(i64),
    D(i64),
}

fn prepare(terms: &[Term], now: i64) -> Result<Vec<Check>, EvalError> {
    terms.iter().map(|t| prepare_one(t, now)).collect()
}

fn prepare_one(t: &Term, now: i64) -> Result<Check, EvalError> {
    match t {
        Term::And(groups) | Term::Msp(groups) => Ok(Check::All(
            groups
                .iter()
                .map(|g| prepare(g, now))
                .collect::<Result<_, _>>()?,
        )),
        Term::Or(groups) => Ok(Check::Any(
            groups
                .iter()
                .map(|g| prepare(g, now))
                .collect::<Result<_, _>>()?,
        )),
        Term::Cmp { field, op, value } => {
            if !known_field(field) {
                return err(format!("Unknown field '{field}' in the items domain"));
            }
            let text = match value {
                Value::Str(s) | Value::Num(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Null => None,
            };
            let Some(text) = text else {
                if !matches!(op, Op::Eq | Op::Ne) {
                    return err("Illegal syntax the 'null' values are allowed to use only with equals and not equals operators.");
                }
                return Ok(Check::Cmp {
                    field: field.clone(),
                    op: *op,
                    value: Target::Null,
                });
            };
            let (op, value) = match op {
                Op::Last | Op::Before => {
                    let p = period(&text).ok_or_else(|| {
                        EvalError(format!("Invalid relative date format for: {text}"))
                    })?;
                    let at = now - p;
                    (if *op == Op::Last { Op::Gt } else { Op::Lt }, Target::D(at))
                }
                _ => (*op, typed(field, &text)?),
            };
            Ok(Check::Cmp {
                field: field.clone(),
                op,
                value,
            })
        }
    }
}

fn typed(field: &str, text: &str) -> Result<Target, EvalError> {
    Ok(match field {
        "type" => {
            if !matches!(text, "file" | "folder" | "any") {
                return err(format!(
                    "Invalid file type: {text}, valid types are : file, folder, any"
                ));
            }
            Target::S(text.to_string())
        }
        "size" | "id" | "depth" | "stat.downloads" => Target::N(
            text.parse()
                .map_err(|_| EvalError(format!("AQL Expect long value but found:{text}")))?,
        ),
        "created" | "modified" | "updated" | "stat.downloaded" => Target::D(
            parse_date(text)
                .ok_or_else(|| EvalError(format!("Invalid date format for: {text}")))?,
        ),
        _ => Target::S(text.to_string()),
    })
}

fn compare(have: &V, want: &Target) -> Option<Ordering> {
    match (have, want) {
        (V::S(a), Target::S(b)) => Some(a.as_str().cmp(b.as_str())),
        (V::N(a), Target::N(b)) | (V::D(a), Target::D(b)) => Some(a.cmp(b)),
        (V::N(a), Target::S(b)) => b.parse::<i64>().ok().map(|b| a.cmp(&b)),
        (V::S(a), Target::N(b)) => Some(a.as_str().cmp(b.to_string().as_str())),
        _ => None,
    }
}

fn test(op: Op, have: Option<&V>, want: &Target) -> bool {
    if let Target::Null = want {
        return match op {
            Op::Eq => have.is_none(),
            _ => have.is_some(),
        };
    }
    let Some(have) = have else {
        // NULL matches `$ne` and `$nmatch` only.
        return matches!(op, Op::Ne | Op::NMatch);
    };
    match op {
        Op::Match | Op::NMatch => {
            let text = match have {
                V::S(s) => s.clone(),
                V::N(n) | V::D(n) => n.to_string(),
            };
            let pattern = match want {
                Target::S(s) => s.clone(),
                Target::N(n) | Target::D(n) => n.to_string(),
                Target::Null => String::new(),
            };
            crate::wildcard::matches(&pattern, &text) == (op == Op::Match)
        }
        _ => {
            let Some(o) = compare(have, want) else {
                return op == Op::Ne;
            };
            match op {
                Op::Eq => o == Ordering::Equal,
                Op::Ne => o != Ordering::Equal,
                Op::Gt => o == Ordering::Greater,
                Op::Gte => o != Ordering::Less,
                Op::Lt => o == Ordering::Less,
                _ => o != Ordering::Greater,
            }
        }
    }
}

fn holds(c: &Check, row: &Row<'_>) -> bool {
    match c {
        Check::All(groups) => groups.iter().all(|g| g.iter().all(|c| holds(c, row))),
        Check::Any(groups) => groups.iter().any(|g| g.iter().all(|c| holds(c, row))),
        Check::Cmp { field, op, value } => {
            let props = &row.item.props.0;
            if field == "type" {
                if let Target::S(t) = value {
                    if t == "any" {
                        return true;
                    }
                }
            }
            if let Some(key) = field.strip_prefix('@') {
                let values: Vec<V> = if key == "*" {
                    props.values().flatten().map(|v| V::S(v.clone())).collect()
                } else {
                    props
                        .get(key)
                        .map(|vs| vs.iter().map(|v| V::S(v.clone())).collect())
                        .unwrap_or_default()
                };
                return prop_test(*op, &values, value);
            }
            if field == "property.key" || field == "property.value" {
                let values: Vec<V> = if field == "property.key" {
                    props.keys().map(|k| V::S(k.clone())).collect()
                } else {
                    props.values().flatten().map(|v| V::S(v.clone())).collect()
                };
                return prop_test(*op, &values, value);
            }
            test(*op, self::field(row, field).as_ref(), value)
        }
    }
}

/// Properties are multi-valued: `$ne`/`$nmatch` hold when no value matches, the others when one does.
fn prop_test(op: Op, values: &[V], want: &Target) -> bool {
    match op {
        Op::Ne | Op::NMatch => {
            let positive = if op == Op::Ne { Op::Eq } else { Op::Match };
            !values.iter().any(|v| test(positive, Some(v), want))
        }
        _ if values.is_empty() => test(op, None, want),
        _ => values.iter().any(|v| test(op, Some(v), want)),
    }
}

fn mentions_type(terms: &[Term]) -> bool {
    terms.iter().any(|t| match t {
        Term::Cmp { field, .. } => field == "type",
        Term::And(g) | Term::Or(g) | Term::Msp(g) => g.iter().any(|g| mentions_type(g)),
    })
}

/// What a row shows.
struct Shape {
    fields: Vec<String>,
    all_props: bool,
    props: Vec<String>,
    stats: bool,
}

fn shape(include: Option<&Vec<String>>) -> Result<Shape, EvalError> {
    let defaults: Vec<String> = FIELDS
        .iter()
        .filter(|(_, d)| *d)
        .map(|(n, _)| n.to_string())
        .collect();
    let mut s = Shape {
        fields: defaults,
        all_props: false,
        props: vec![],
        stats: false,
    };
    let Some(list) = include else { return Ok(s) };
    let mut replaced = false;
    for f in list {
        let f = f.as_str();
        let mut primary = |name: &str, s: &mut Shape| {
            if !replaced {
                s.fields.clear();
                replaced = true;
            }
            if !s.fields.iter().any(|x| x == name) {
                s.fields.push(name.to_string());
            }
        };
        match f {
            "*" => {
                for (n, _) in FIELDS {
                    primary(n, &mut s);
                }
            }
            "property" | "property.*" | "property.key" | "property.value" => s.all_props = true,
            "stat" | "stat.*" | "stat.downloads" | "stat.downloaded" | "stat.downloaded_by" => {
                s.stats = true
            }
            f if f.starts_with('@') => s.props.push(f[1..].to_string()),
            f if FIELDS.iter().any(|(n, _)| *n == f) => primary(f, &mut s),
            other => return err(format!("Unknown field '{other}' in include")),
        }
    }
    Ok(s)
}

fn render(row: &Row<'_>, s: &Shape) -> Map<String, Json> {
    let mut out = Map::new();
    let mut rest: Vec<(String, Json)> = Vec::new();
    for f in &s.fields {
        let v = match field(row, f) {
            Some(V::S(x)) => json!(x),
            Some(V::N(n)) => json!(n),
            Some(V::D(ms)) => json!(crate::clock::iso(ms)),
            None => continue,
        };
        if FIXED_ORDER.contains(&f.as_str()) {
            out.insert(f.clone(), v);
        } else {
            rest.push((f.clone(), v));
        }
    }
    // Fixed fields in their order, the rest alphabetically.
    let mut ordered = Map::new();
    for k in FIXED_ORDER {
        if let Some(v) = out.remove(k) {
            ordered.insert(k.to_string(), v);
        }
    }
    let props = &row.item.props.0;
    let mut prop_rows = Vec::new();
    for (k, vs) in props {
        if s.all_props || s.props.iter().any(|p| p == k) {
            for v in vs {
                prop_rows.push(json!({"key": k, "value": v}));
            }
        }
    }
    if !prop_rows.is_empty() {
        rest.push(("properties".into(), Json::Array(prop_rows)));
    }
    if s.stats && row.item.stats.downloads > 0 {
        let st = &row.item.stats;
        let mut m = Map::new();
        m.insert(
            "downloaded".into(),
            json!(crate::clock::iso(st.last_downloaded)),
        );
        if let Some(by) = &st.last_downloaded_by {
            m.insert("downloaded_by".into(), json!(by));
        }
        m.insert("downloads".into(), json!(st.downloads));
        rest.push(("stats".into(), Json::Array(vec![Json::Object(m)])));
    }
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in rest {
        ordered.insert(k, v);
    }
    ordered
}

/// Runs an `items` query. `readable` says which rows the caller may see; `admin` lifts the rule that
/// results must carry repo, path and name.
pub fn run(
    state: &State,
    q: &Query,
    now: i64,
    admin: bool,
    readable: impl Fn(&str, &str) -> bool,
) -> Result<(Vec<Map<String, Json>>, Json), EvalError> {
    let checks = prepare(&q.criteria, now)?;
    let files_only = !mentions_type(&q.criteria);
    let s = shape(q.include.as_ref())?;
    if !admin
        && !["repo", "path", "name"]
            .iter()
            .all(|f| s.fields.iter().any(|x| x == f))
    {
        return err(
            "For permissions reasons AQL demands the following fields: repo, path and name.",
        );
    }
    if let Some((_, fields)) = &q.sort {
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].contains(f) {
                return err(
                    "Duplicate fields, all the fields in the sort section should be unique.",
                );
            }
            if !s.fields.contains(f) {
                return err("Only the result fields are allowed to use in the sort section.");
            }
        }
    }
    let mut rows: Vec<Row<'_>> = Vec::new();
    for r in state.repos.values() {
        for (key, item) in &r.items {
            let row = Row {
                repo: &r.config.key,
                key,
                item,
            };
            if files_only && item.is_folder() {
                continue;
            }
            if checks.iter().all(|c| holds(c, &row)) && readable(&r.config.key, key) {
                rows.push(row);
            }
        }
    }
    if let Some((dir, fields)) = &q.sort {
        rows.sort_by(|a, b| {
            for f in fields {
                let (x, y) = (field(a, f), field(b, f));
                let o = match (&x, &y) {
                    (Some(x), Some(y)) => match (x, y) {
                        (V::S(a), V::S(b)) => a.cmp(b),
                        (V::N(a), V::N(b)) | (V::D(a), V::D(b)) => a.cmp(b),
                        _ => Ordering::Equal,
                    },
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                let o = if *dir == Dir::Desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    let offset = q.offset.unwrap_or(0) as usize;
    let page: Vec<Map<String, Json>> = rows
        .iter()
        .skip(offset)
        .take(q.limit.map_or(usize::MAX, |l| l as usize))
        .map(|r| render(r, &s))
        .collect();
    let mut range = Map::new();
    range.insert("start_pos".into(), json!(offset));
    range.insert("end_pos".into(), json!(page.len()));
    range.insert("total".into(), json!(page.len()));
    if let Some(l) = q.limit {
        range.insert("limit".into(), json!(l));
    }
    Ok((page, Json::Object(range)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(period("3d"), Some(3 * 86_400_000));
        assert_eq!(period("2weeks"), Some(14 * 86_400_000));
        assert_eq!(period("1fortnight"), None);
    }
}
