//! Evaluating AQL over every domain (behaviour §9.2–9.6): items, properties, stats, archive entries
//! and the build domains (builds, build.properties, build.promotions, modules, module.properties,
//! artifacts, dependencies) over the build-info documents stored in `artifactory-build-info`.
//!
//! One model serves all of them: a row is an entity of some [`Kind`]; dotted fields (`stat.downloads`,
//! `archive.entry.name`, `artifact.module.build.name`, `item.@license`) walk from one entity to the
//! related ones, and a criterion on a related field holds when some related entity satisfies it
//! (`$ne`/`$nmatch`: when none has the value). Includes nest related rows as arrays named as
//! Artifactory names them (`properties`, `stats`, `archives`/`entries`, `artifacts`, `modules`,
//! `builds`, ...). Release bundles do not exist in JCR, so their domains find nothing.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value as Json};

use super::aql::{Dir, Op, Query, Term, Value};
use crate::builds::model::{Build, Module, Part, Promotion};
use crate::config::RepoClass;
use crate::store::{Item, State, Sym};

/// A kind of row (a domain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `items`.
    Item,
    /// `properties` (of items).
    Prop,
    /// `stats`.
    Stat,
    /// `archives`: an item whose entries are indexed.
    Archive,
    /// `archive.entries`.
    Entry,
    /// `builds`.
    Build,
    /// `build.properties`.
    BuildProp,
    /// `build.promotions`.
    Promo,
    /// `modules`.
    Module,
    /// `module.properties`.
    ModuleProp,
    /// `artifacts`.
    Artifact,
    /// `dependencies`.
    Dep,
    /// `releases` / `release_artifacts`: none exist in JCR.
    Release,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Str,
    Long,
    /// A 32-bit number (download counts), with its own message.
    Int,
    Date,
    FileType,
    List,
}

impl Kind {
    fn of_domain(domain: &str) -> Option<Kind> {
        Some(match domain {
            "items" => Kind::Item,
            "properties" => Kind::Prop,
            "stats" => Kind::Stat,
            "archive.entries" | "archives" => Kind::Entry,
            "builds" => Kind::Build,
            "build.properties" => Kind::BuildProp,
            "build.promotions" => Kind::Promo,
            "modules" => Kind::Module,
            "module.properties" => Kind::ModuleProp,
            "artifacts" => Kind::Artifact,
            "dependencies" => Kind::Dep,
            "releases" | "release_artifacts" => Kind::Release,
            _ => return None,
        })
    }

    /// Fields: name, returned by default, type.
    fn fields(self) -> &'static [(&'static str, bool, Ty)] {
        use Ty::*;
        match self {
            Kind::Item => &[
                ("repo", true, Str),
                ("path", true, Str),
                ("name", true, Str),
                ("type", true, FileType),
                ("size", true, Long),
                ("created", true, Date),
                ("created_by", true, Str),
                ("modified", true, Date),
                ("modified_by", true, Str),
                ("updated", true, Date),
                ("depth", false, Long),
                ("actual_md5", false, Str),
                ("actual_sha1", false, Str),
                ("original_md5", false, Str),
                ("original_sha1", false, Str),
                ("sha256", false, Str),
                ("virtual_repos", false, List),
            ],
            Kind::Prop | Kind::BuildProp | Kind::ModuleProp => {
                &[("key", true, Str), ("value", true, Str)]
            }
            Kind::Stat => &[
                ("downloaded", true, Date),
                ("downloads", true, Int),
                ("downloaded_by", true, Str),
                ("remote_downloaded", false, Date),
                ("remote_downloads", false, Int),
                ("remote_downloaded_by", false, Str),
                ("remote_origin", false, Str),
                ("remote_path", false, Str),
            ],
            Kind::Archive | Kind::Release => &[],
            Kind::Entry => &[("name", true, Str), ("path", true, Str)],
            Kind::Build => &[
                ("url", true, Str),
                ("name", true, Str),
                ("number", true, Str),
                ("started", true, Date),
                ("created", true, Date),
                ("created_by", true, Str),
                ("modified", true, Date),
                ("modified_by", true, Str),
            ],
            Kind::Promo => &[
                ("created", true, Date),
                ("created_by", true, Str),
                ("status", true, Str),
                ("repo", true, Str),
                ("comment", true, Str),
                ("user", true, Str),
            ],
            Kind::Module => &[("name", true, Str)],
            Kind::Artifact => &[
                ("name", true, Str),
                ("type", true, Str),
                ("sha1", false, Str),
                ("md5", false, Str),
            ],
            Kind::Dep => &[
                ("name", true, Str),
                ("scope", true, Str),
                ("type", true, Str),
                ("sha1", false, Str),
                ("md5", false, Str),
            ],
        }
    }

    fn field(self, name: &str) -> Option<(&'static str, Ty)> {
        self.fields()
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(n, _, t)| (*n, *t))
    }

    /// The related kind reached by one dotted step.
    fn hop(self, step: &str) -> Option<Kind> {
        Some(match (self, step) {
            (Kind::Item, "property") => Kind::Prop,
            (Kind::Item, "stat") => Kind::Stat,
            (Kind::Item, "archive") => Kind::Archive,
            (Kind::Item, "artifact") => Kind::Artifact,
            (Kind::Item, "dependency") => Kind::Dep,
            (Kind::Prop | Kind::Stat | Kind::Archive, "item") => Kind::Item,
            (Kind::Archive, "entry") => Kind::Entry,
            (Kind::Entry, "archive") => Kind::Archive,
            (Kind::Build, "property") => Kind::BuildProp,
            (Kind::Build, "promotion") => Kind::Promo,
            (Kind::Build, "module") => Kind::Module,
            (Kind::BuildProp | Kind::Promo | Kind::Module, "build") => Kind::Build,
            (Kind::Module, "property") => Kind::ModuleProp,
            (Kind::Module, "artifact") => Kind::Artifact,
            (Kind::Module, "dependency") => Kind::Dep,
            (Kind::ModuleProp | Kind::Artifact | Kind::Dep, "module") => Kind::Module,
            (Kind::Artifact | Kind::Dep, "item") => Kind::Item,
            _ => return None,
        })
    }

    /// Whether `@key` criteria apply (items, builds and modules carry properties).
    fn has_props(self) -> bool {
        matches!(self, Kind::Item | Kind::Build | Kind::Module)
    }

    /// The prefix of this kind's keys in result rows.
    fn prefix(self) -> &'static str {
        match self {
            Kind::Entry => "entry.",
            Kind::Build => "build.",
            Kind::BuildProp => "build.property.",
            Kind::Promo => "build.promotion.",
            Kind::Module => "module.",
            Kind::ModuleProp => "module.property.",
            Kind::Artifact => "artifact.",
            Kind::Dep => "dependency.",
            Kind::Release => "release.",
            _ => "",
        }
    }

    /// The name of the array nesting rows of this kind inside another row.
    fn array(self) -> &'static str {
        match self {
            Kind::Item => "items",
            Kind::Prop => "properties",
            Kind::Stat => "stats",
            Kind::Archive => "archives",
            Kind::Entry => "entries",
            Kind::Build => "builds",
            Kind::BuildProp => "build.properties",
            Kind::Promo => "build.promotions",
            Kind::Module => "modules",
            Kind::ModuleProp => "module.properties",
            Kind::Artifact => "artifacts",
            Kind::Dep => "dependencies",
            Kind::Release => "releases",
        }
    }
}

/// Whether answering `q` needs the build-info documents (a build domain, or a field or include that
/// steps into artifacts, dependencies, modules or builds).
pub fn needs_builds(q: &Query) -> bool {
    fn steps(f: &str) -> bool {
        f.split('@')
            .next()
            .unwrap_or("")
            .split('.')
            .any(|s| matches!(s, "artifact" | "dependency" | "module" | "build"))
    }
    fn terms(t: &[Term]) -> bool {
        t.iter().any(|t| match t {
            Term::Cmp { field, .. } => steps(field),
            Term::And(g) | Term::Or(g) | Term::Msp(g) => g.iter().any(|g| terms(g)),
        })
    }
    matches!(
        Kind::of_domain(&q.domain),
        Some(
            Kind::Build
                | Kind::BuildProp
                | Kind::Promo
                | Kind::Module
                | Kind::ModuleProp
                | Kind::Artifact
                | Kind::Dep
        )
    ) || terms(&q.criteria)
        || q.include.iter().flatten().any(|f| steps(f))
}

// ---------------------------------------------------------------------------------------------
// Entities.

#[derive(Clone, Copy)]
struct ItemRef<'a> {
    repo: &'a str,
    key: &'a str,
    item: &'a Item,
}

#[derive(Clone, Copy)]
enum E<'a> {
    Item(ItemRef<'a>),
    Prop(ItemRef<'a>, &'a str, &'a str),
    Stat(ItemRef<'a>),
    Archive(ItemRef<'a>),
    Entry(&'a str),
    Build(&'a Build),
    BuildProp(&'a Build, &'a (String, String)),
    Promo(&'a Build, &'a Promotion),
    Module(&'a Build, &'a Module),
    ModuleProp(&'a Build, &'a Module, &'a (String, String)),
    Artifact(&'a Build, &'a Module, &'a Part),
    Dep(&'a Build, &'a Module, &'a Part),
}

/// A field's value.
#[derive(Clone, Debug, PartialEq)]
enum V<'a> {
    S(Cow<'a, str>),
    N(i64),
    D(i64),
    L(Vec<String>),
}

fn split(key: &str) -> (&str, &str) {
    match key.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None if key.is_empty() => (".", "."),
        None => (".", key),
    }
}

/// What a query runs over: the tree, the builds, and relations computed when first needed.
struct Ctx<'a> {
    state: &'a State,
    builds: &'a [Arc<Build>],
    /// Virtual repositories by the local repositories they reach.
    virtuals: HashMap<&'a str, Vec<String>>,
    /// Whether the caller may see an item reached from another row (`true` for admins): rows
    /// joined by checksum or archive entry may lie in repositories the caller cannot read.
    see: &'a dyn Fn(&str, &str) -> bool,
    /// Build artifacts and dependencies by lower-case SHA-1.
    parts_by_sha1: OnceLock<HashMap<String, Vec<E<'a>>>>,
    by_entry: OnceLock<HashMap<&'a str, Vec<ItemRef<'a>>>>,
}

fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl<'a> Ctx<'a> {
    fn new(
        state: &'a State,
        builds: &'a [Arc<Build>],
        see: &'a dyn Fn(&str, &str) -> bool,
    ) -> Ctx<'a> {
        let mut virtuals: HashMap<&'a str, Vec<String>> = HashMap::new();
        for r in state.repos.values() {
            if r.config.rclass == RepoClass::Virtual {
                for m in members(state, &r.config.key) {
                    let m = state.cache_of(&m).unwrap_or(&m);
                    if let Some((k, _)) = state.repos.get_key_value(m) {
                        virtuals
                            .entry(k.as_str())
                            .or_default()
                            .push(r.config.key.clone());
                    }
                }
            }
        }
        Ctx {
            state,
            builds,
            virtuals,
            see,
            parts_by_sha1: OnceLock::new(),
            by_entry: OnceLock::new(),
        }
    }

    fn items(&self) -> impl Iterator<Item = ItemRef<'a>> + 'a {
        self.state.repos.values().flat_map(|r| {
            r.items.iter().map(move |(k, i)| ItemRef {
                repo: &r.config.key,
                key: k,
                item: i,
            })
        })
    }

    /// Visible files with this SHA-1 (by the checksum index), in repository then path order.
    fn items_with_sha1(&self, sha1: &str) -> Vec<ItemRef<'a>> {
        let state = self.state;
        let mut found: Vec<ItemRef<'a>> = state
            .index
            .by_sha1(sha1)
            .filter_map(|(repo, key)| {
                let item = state.item(repo, key)?;
                let f = item.file.as_deref()?;
                let visible = f.sha1.hex().eq_ignore_ascii_case(sha1) && (self.see)(repo, key);
                visible.then_some(ItemRef { repo, key, item })
            })
            .collect();
        found.sort_by_key(|i| (state.repos.get_index_of(i.repo), i.key));
        found
    }

    /// Build artifacts (or dependencies) with this SHA-1.
    fn parts_with_sha1(&self, sha1: &str, deps: bool) -> impl Iterator<Item = E<'a>> + '_ {
        let map = self.parts_by_sha1.get_or_init(|| {
            let mut m: HashMap<String, Vec<E<'a>>> = HashMap::new();
            for e in self.parts(false).chain(self.parts(true)) {
                if let E::Artifact(_, _, p) | E::Dep(_, _, p) = e {
                    if let Some(s) = &p.sha1 {
                        m.entry(lower(s)).or_default().push(e);
                    }
                }
            }
            m
        });
        map.get(&lower(sha1))
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(move |e| matches!(e, E::Dep(..)) == deps)
    }

    fn archives_with(&self, entry: &str) -> &[ItemRef<'a>] {
        let map = self.by_entry.get_or_init(|| {
            let mut m: HashMap<&'a str, Vec<ItemRef<'a>>> = HashMap::new();
            for i in self.items() {
                let Some(f) = i.item.file.as_deref() else {
                    continue;
                };
                for e in self
                    .state
                    .archives
                    .get(f.sha256.hex().as_str())
                    .into_iter()
                    .flatten()
                {
                    m.entry(e.as_str()).or_default().push(i);
                }
            }
            m
        });
        map.get(entry).map_or(&[], Vec::as_slice)
    }

    fn parts(&self, deps: bool) -> impl Iterator<Item = E<'a>> + 'a {
        self.builds.iter().flat_map(move |b| {
            b.modules.iter().flat_map(move |m| {
                let list = if deps { &m.deps } else { &m.artifacts };
                list.iter().map(move |p| {
                    if deps {
                        E::Dep(b, m, p)
                    } else {
                        E::Artifact(b, m, p)
                    }
                })
            })
        })
    }

    /// The entities `step` leads to from `e`.
    fn related(&self, e: E<'a>, to: Kind, out: &mut Vec<E<'a>>) {
        match (e, to) {
            (E::Item(i), Kind::Prop) => {
                out.extend(i.item.props.pairs().map(|(k, v)| E::Prop(i, k, v)))
            }
            (E::Item(i), Kind::Stat) if i.item.stats().downloads > 0 => out.push(E::Stat(i)),
            (E::Item(i), Kind::Archive) => {
                if let Some(f) = i.item.file.as_deref() {
                    if self.state.archives.contains_key(f.sha256.hex().as_str()) {
                        out.push(E::Archive(i));
                    }
                }
            }
            (E::Item(i), Kind::Artifact | Kind::Dep) => {
                if let Some(f) = i.item.file.as_deref().filter(|f| !f.sha1.is_empty()) {
                    out.extend(self.parts_with_sha1(&f.sha1.hex(), to == Kind::Dep));
                }
            }
            (E::Prop(i, _, _) | E::Stat(i) | E::Archive(i), Kind::Item) => out.push(E::Item(i)),
            (E::Archive(i), Kind::Entry) => {
                if let Some(f) = i.item.file.as_deref() {
                    let entries = self.state.archives.get(f.sha256.hex().as_str());
                    out.extend(entries.into_iter().flatten().map(|e| E::Entry(e)));
                }
            }
            (E::Entry(path), Kind::Archive) => out.extend(
                self.archives_with(path)
                    .iter()
                    .filter(|i| (self.see)(i.repo, i.key))
                    .map(|i| E::Archive(*i)),
            ),
            (E::Build(b), Kind::BuildProp) => {
                out.extend(b.props.iter().map(|p| E::BuildProp(b, p)))
            }
            (E::Build(b), Kind::Promo) => out.extend(b.promotions.iter().map(|p| E::Promo(b, p))),
            (E::Build(b), Kind::Module) => out.extend(b.modules.iter().map(|m| E::Module(b, m))),
            (E::BuildProp(b, _) | E::Promo(b, _) | E::Module(b, _), Kind::Build) => {
                out.push(E::Build(b))
            }
            (E::Module(b, m), Kind::ModuleProp) => {
                out.extend(m.props.iter().map(|p| E::ModuleProp(b, m, p)))
            }
            (E::Module(b, m), Kind::Artifact) => {
                out.extend(m.artifacts.iter().map(|a| E::Artifact(b, m, a)))
            }
            (E::Module(b, m), Kind::Dep) => out.extend(m.deps.iter().map(|d| E::Dep(b, m, d))),
            (E::ModuleProp(b, m, _) | E::Artifact(b, m, _) | E::Dep(b, m, _), Kind::Module) => {
                out.push(E::Module(b, m))
            }
            (E::Artifact(_, _, p) | E::Dep(_, _, p), Kind::Item) => {
                if let Some(sha1) = &p.sha1 {
                    out.extend(self.items_with_sha1(sha1).into_iter().map(E::Item));
                }
            }
            _ => {}
        }
    }

    fn value(&self, e: E<'a>, f: &str) -> Option<V<'a>> {
        let s = |x: &'a str| Some(V::S(Cow::Borrowed(x)));
        let opt = |x: &'a Option<String>| x.as_deref().map(|x| V::S(Cow::Borrowed(x)));
        match e {
            E::Item(r) => {
                let i = r.item;
                let file = i.file.as_deref();
                let hex = |x: &dyn std::fmt::Display| {
                    let x = x.to_string();
                    (!x.is_empty()).then_some(V::S(Cow::Owned(x)))
                };
                match f {
                    "repo" => Some(V::S(self.state.shown_key(r.repo))),
                    "path" => s(split(r.key).0),
                    "name" => s(split(r.key).1),
                    "type" => s(if i.is_folder() { "folder" } else { "file" }),
                    // Folders have size 0 in Artifactory's nodes table (and in its answers).
                    "size" => Some(V::N(file.map_or(0, |f| f.size) as i64)),
                    "created" => Some(V::D(i.created)),
                    "modified" => Some(V::D(i.modified)),
                    "updated" => Some(V::D(i.updated)),
                    "created_by" => s(&i.created_by),
                    "modified_by" => s(&i.modified_by),
                    "depth" => Some(V::N(
                        r.key.split('/').filter(|s| !s.is_empty()).count() as i64
                    )),
                    "actual_md5" => hex(&file?.md5),
                    "actual_sha1" => hex(&file?.sha1),
                    "sha256" => hex(&file?.sha256),
                    "original_md5" => opt(&file?.original().md5),
                    "original_sha1" => opt(&file?.original().sha1),
                    "virtual_repos" => {
                        Some(V::L(self.virtuals.get(r.repo).cloned().unwrap_or_default()))
                    }
                    _ => None,
                }
            }
            E::Prop(_, k, v) => match f {
                "key" => s(k),
                "value" => s(v),
                _ => None,
            },
            E::BuildProp(_, (k, v)) | E::ModuleProp(_, _, (k, v)) => match f {
                "key" => s(k),
                "value" => s(v),
                _ => None,
            },
            E::Stat(r) => {
                let st = r.item.stats();
                match f {
                    "downloaded" => Some(V::D(st.last_downloaded)),
                    "downloads" => Some(V::N(st.downloads as i64)),
                    "downloaded_by" => st.last_downloaded_by.as_deref().and_then(s),
                    _ => None,
                }
            }
            E::Archive(_) => None,
            E::Entry(p) => match (f, p.rsplit_once('/')) {
                ("name", Some((_, n))) => s(n),
                ("name", None) => s(p),
                ("path", Some((d, _))) => s(d),
                ("path", None) => s("."),
                _ => None,
            },
            E::Build(b) => match f {
                "url" => opt(&b.url),
                "name" => s(&b.name),
                "number" => s(&b.number),
                "started" => b.started.map(V::D),
                "created" => Some(V::D(b.created)),
                "created_by" => s(&b.created_by),
                "modified" => Some(V::D(b.modified)),
                "modified_by" => s(&b.modified_by),
                _ => None,
            },
            E::Promo(_, p) => match f {
                "created" => p.created.map(V::D),
                "created_by" => opt(&p.created_by),
                "status" => opt(&p.status),
                "repo" => opt(&p.repo),
                "comment" => opt(&p.comment),
                "user" => opt(&p.user),
                _ => None,
            },
            E::Module(_, m) => match f {
                "name" => s(&m.name),
                _ => None,
            },
            E::Artifact(_, _, p) | E::Dep(_, _, p) => match f {
                "name" => s(&p.name),
                "type" => opt(&p.kind),
                "scope" => opt(&p.scope),
                "sha1" => opt(&p.sha1),
                "md5" => opt(&p.md5),
                _ => None,
            },
        }
    }

    /// Property values of `key` (`*`: every value) on an entity that carries properties.
    fn props(&self, e: E<'a>, key: &str, out: &mut Vec<V<'a>>) {
        let v = |x: &'a str| V::S(Cow::Borrowed(x));
        match e {
            // Items are the hot path (searches over every file): no intermediate list.
            E::Item(r) if key == "*" => out.extend(r.item.props.values().map(v)),
            E::Item(r) if !key.contains(['*', '?']) => out.extend(r.item.props.get(key).map(v)),
            other => out.extend(
                prop_pairs(other)
                    .into_iter()
                    .filter(|(k, _)| key_names(key, k))
                    .map(|(_, x)| v(x)),
            ),
        }
    }
}

/// The properties of an entity that carries them (items, builds, modules) as `(key, value)` rows.
fn prop_pairs(e: E<'_>) -> Vec<(&str, &str)> {
    let own = match e {
        E::Item(r) => return r.item.props.pairs().collect(),
        E::Build(b) => &b.props,
        E::Module(_, m) => &m.props,
        _ => return Vec::new(),
    };
    own.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The local (and remote) repositories a virtual repository reaches, depth first, each once.
fn members(state: &State, key: &str) -> Vec<String> {
    fn walk(state: &State, key: &str, seen: &mut Vec<String>, out: &mut Vec<String>) {
        if seen.iter().any(|s| s == key) {
            return;
        }
        seen.push(key.to_string());
        let Some(r) = state.repos.get(key) else {
            return;
        };
        if r.config.rclass == RepoClass::Virtual {
            for m in &r.config.repositories {
                walk(state, m, seen, out);
            }
        } else {
            out.push(state.shown_key(key).into_owned());
        }
    }
    let mut out = Vec::new();
    walk(state, key, &mut Vec::new(), &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Criteria.

/// An evaluation failure: a plain-text 400 message.
#[derive(Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError(m.into()))
}

/// `3d`, `2weeks`, `10mi`, `1Days` → milliseconds (units in any case, as Joda's period parser).
fn period(v: &str) -> Option<i64> {
    let v = v.trim();
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().ok()?;
    let unit = v[digits.len()..].to_ascii_lowercase();
    let ms: i64 = match unit.as_str() {
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

/// Epoch milliseconds, or a date as Joda's `ISODateTimeFormat.dateOptionalTimeParser()` reads it
/// (what Artifactory's AQL uses): `yyyy[-MM[-dd]]` (years of 1 to 4 digits, months and days of 1 or
/// 2), then optionally `T` and `HH[:mm[:ss[.SSS]]]`, then an offset `Z`, `±HH`, `±HH:mm` or
/// `±HHmm`; without an offset the time is UTC (the server's zone).
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let (date, rest) = match s.find('T') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let num = |t: &str, max: usize| -> Option<u32> {
        (!t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let mut parts = date.split('-');
    let year = num(parts.next()?, 4)? as i32;
    let month = parts.next().map_or(Some(1), |m| num(m, 2))?;
    let day = parts.next().map_or(Some(1), |d| num(d, 2))?;
    if parts.next().is_some() {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let (mut clock, mut offset_s) = (time::Time::MIDNIGHT, 0i32);
    if let Some(rest) = rest {
        let at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
        let (t, zone) = rest.split_at(at);
        let (hms, frac) = match t.split_once(['.', ',']) {
            Some((a, f)) => (a, Some(f)),
            None => (t, None),
        };
        let mut f = hms.split(':');
        let h = num(f.next()?, 2)?;
        let m = f.next().map_or(Some(0), |m| num(m, 2))?;
        let sec = f.next().map_or(Some(0), |x| num(x, 2))?;
        if f.next().is_some() {
            return None;
        }
        let ms = match frac {
            Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{f:0<3}")[..3].parse().ok()?
            }
            Some(_) => return None,
            None => 0,
        };
        clock = time::Time::from_hms_milli(
            u8::try_from(h).ok()?,
            u8::try_from(m).ok()?,
            u8::try_from(sec).ok()?,
            ms,
        )
        .ok()?;
        offset_s = match zone {
            "" | "Z" => 0,
            z => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let digits = z[1..].replace(':', "");
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let (hh, mm) = match digits.len() {
                    2 => (num(&digits, 2)?, 0),
                    4 => (num(&digits[..2], 2)?, num(&digits[2..], 2)?),
                    _ => return None,
                };
                if hh > 23 || mm > 59 {
                    return None;
                }
                sign * (hh * 3600 + mm * 60) as i32
            }
        };
    }
    let t = time::PrimitiveDateTime::new(date, clock).assume_utc();
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64 - i64::from(offset_s) * 1000)
}

/// Where a field leads: the steps through related kinds, then the field or property.
#[derive(Clone, Debug)]
struct FieldPath {
    steps: Vec<Kind>,
    leaf: Leaf,
}

#[derive(Clone, Debug)]
enum Leaf {
    Field(&'static str, Ty),
    /// `@key` (`*`: any key).
    Prop(String),
    /// A kind named without a field (`stat`, `archive.entry`): only in includes.
    Whole,
    /// `*`: every field (includes).
    All,
}

fn resolve(from: Kind, signature: &str, in_include: bool) -> Option<FieldPath> {
    let mut kind = from;
    let mut steps = Vec::new();
    let mut rest = signature;
    loop {
        if let Some(key) = rest.strip_prefix('@') {
            if !kind.has_props() || key.is_empty() {
                return None;
            }
            return Some(FieldPath {
                steps,
                leaf: Leaf::Prop(key.to_string()),
            });
        }
        let (head, tail) = match rest.split_once('.') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        if let Some(next) = kind.hop(head) {
            kind = next;
            steps.push(next);
            match tail {
                Some(t) => rest = t,
                None if in_include => {
                    return Some(FieldPath {
                        steps,
                        leaf: Leaf::Whole,
                    })
                }
                None => return None,
            }
            continue;
        }
        if tail.is_some() {
            return None;
        }
        if head == "*" && in_include {
            return Some(FieldPath {
                steps,
                leaf: Leaf::All,
            });
        }
        let (name, ty) = kind.field(head)?;
        return Some(FieldPath {
            steps,
            leaf: Leaf::Field(name, ty),
        });
    }
}

/// A checked criterion, ready to test rows.
enum Check {
    Cmp {
        path: FieldPath,
        op: Op,
        value: Target,
    },
    Any(Vec<Vec<Check>>),
    All(Vec<Vec<Check>>),
    /// `$msp`: the property criteria inside hold for one and the same property.
    Same(Vec<Vec<Check>>),
    /// `type: any`.
    True,
}

#[derive(Debug)]
enum Target {
    Null,
    S(String),
    N(i64),
    D(i64),
}

struct Prep<'s> {
    kind: Kind,
    now: i64,
    state: &'s State,
    virtual_target: bool,
}

impl Prep<'_> {
    fn all(&mut self, terms: &[Term]) -> Result<Vec<Check>, EvalError> {
        terms.iter().map(|t| self.one(t)).collect()
    }

    fn groups(&mut self, groups: &[Vec<Term>]) -> Result<Vec<Vec<Check>>, EvalError> {
        groups.iter().map(|g| self.all(g)).collect()
    }

    fn one(&mut self, t: &Term) -> Result<Check, EvalError> {
        let (field, op, value) = match t {
            Term::And(g) => return Ok(Check::All(self.groups(g)?)),
            Term::Or(g) => return Ok(Check::Any(self.groups(g)?)),
            Term::Msp(g) => return Ok(Check::Same(self.groups(g)?)),
            Term::Cmp { field, op, value } => (field, *op, value),
        };
        let path = resolve(self.kind, field, false).ok_or_else(|| {
            EvalError(format!(
                "Unknown field '{field}' in the {} domain",
                domain_name(self.kind)
            ))
        })?;
        let text = match value {
            Value::Str(s) | Value::Num(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            // A property value is never NULL in Artifactory's tables: `null` there is the text
            // "null", with any comparator (OSS AqlPropertyOrientedSearchesTest).
            Value::Null if matches!(path.leaf, Leaf::Prop(_)) => "null".to_string(),
            Value::Null => {
                if !matches!(op, Op::Eq | Op::Ne) {
                    return err("Illegal syntax the 'null' values are allowed to use only with equals and not equals operators.");
                }
                return Ok(Check::Cmp {
                    path,
                    op,
                    value: Target::Null,
                });
            }
        };
        let ty = match path.leaf {
            Leaf::Field(_, ty) => ty,
            _ => Ty::Str,
        };
        if let (Op::Last | Op::Before, _) = (op, ty) {
            let p = period(&text)
                .ok_or_else(|| EvalError(format!("Invalid relative date format for: {text}")))?;
            let op = if op == Op::Last { Op::Gt } else { Op::Lt };
            return Ok(Check::Cmp {
                path,
                op,
                value: Target::D(self.now - p),
            });
        }
        let value = match ty {
            Ty::FileType => {
                if !matches!(text.as_str(), "file" | "folder" | "any") {
                    return err(format!(
                        "Invalid file type: {text}, valid types are : file, folder, any"
                    ));
                }
                if text == "any" && path.steps.is_empty() {
                    return Ok(Check::True);
                }
                Target::S(text)
            }
            Ty::Long => Target::N(
                text.parse()
                    .map_err(|_| EvalError(format!("AQL Expect long value but found:{text}")))?,
            ),
            Ty::Int => Target::N(
                text.parse::<i32>()
                    .map(i64::from)
                    .map_err(|_| EvalError(format!("AQL Expect integer value but found:{text}")))?,
            ),
            Ty::Date => Target::D(parse_date(&text).ok_or_else(|| {
                EvalError(format!(
                    "Invalid Date format: {text}, AQL expect ISODateTimeFormat or long number"
                ))
            })?),
            Ty::Str | Ty::List => Target::S(text),
        };
        // A virtual repository named as the repository stands for the repositories it reaches.
        if let (Kind::Item, true, Leaf::Field("repo", _), Op::Eq, Target::S(key)) =
            (self.kind, path.steps.is_empty(), &path.leaf, op, &value)
        {
            if self
                .state
                .repo(key)
                .is_some_and(|r| r.config.rclass == RepoClass::Virtual)
            {
                self.virtual_target = true;
                let groups = members(self.state, key)
                    .into_iter()
                    .map(|m| {
                        vec![Check::Cmp {
                            path: path.clone(),
                            op: Op::Eq,
                            value: Target::S(m),
                        }]
                    })
                    .collect();
                return Ok(Check::Any(groups));
            }
        }
        // `"@key":"*"` is "the key is set" and `{"$ne":"*"}` "it is not", whatever the values
        // (Artifactory's CriteriaEqualsKeyPropertyElement), as `$match`/`$nmatch` on `*` are.
        let op = match (&path.leaf, op, &value) {
            (Leaf::Prop(_), Op::Eq, Target::S(v)) if v == "*" => Op::Match,
            (Leaf::Prop(_), Op::Ne, Target::S(v)) if v == "*" => Op::NMatch,
            _ => op,
        };
        Ok(Check::Cmp { path, op, value })
    }
}

/// Whether a property criterion's key names `key`: equal, or a `*`/`?` pattern matching it (`@*`
/// is any key; Artifactory's CriteriaKeyPropertyElement).
fn key_names(pattern: &str, key: &str) -> bool {
    if pattern.contains(['*', '?']) {
        crate::wildcard::matches(pattern, key)
    } else {
        pattern == key
    }
}

/// Property tables: Artifactory joins them once per criterion (hence `$msp`).
fn is_prop_kind(k: Kind) -> bool {
    matches!(k, Kind::Prop | Kind::BuildProp | Kind::ModuleProp)
}

/// How many leading steps of a path are joined once for the whole query: those before the first
/// property table.
fn bound_len(steps: &[Kind]) -> usize {
    steps
        .iter()
        .position(|k| is_prop_kind(*k))
        .unwrap_or(steps.len())
}

/// The related domains a query joins (every prefix of every criterion's joined steps), parents
/// before children.
fn joins(checks: &[Check]) -> Vec<Vec<Kind>> {
    fn walk(c: &Check, out: &mut Vec<Vec<Kind>>) {
        match c {
            Check::Cmp { path, .. } => {
                for n in 1..=bound_len(&path.steps) {
                    let p = path.steps[..n].to_vec();
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
            Check::Any(g) | Check::All(g) | Check::Same(g) => {
                g.iter().flatten().for_each(|c| walk(c, out))
            }
            Check::True => {}
        }
    }
    let mut out = Vec::new();
    checks.iter().for_each(|c| walk(c, &mut out));
    out.sort_by_key(Vec::len);
    out
}

fn domain_name(k: Kind) -> &'static str {
    match k {
        Kind::Item => "items",
        Kind::Entry => "archive.entries",
        other => other.array(),
    }
}

fn compare(have: &V<'_>, want: &Target) -> Option<Ordering> {
    match (have, want) {
        (V::S(a), Target::S(b)) => Some((**a).cmp(b.as_str())),
        (V::N(a), Target::N(b)) | (V::D(a), Target::D(b)) => Some(a.cmp(b)),
        (V::N(a), Target::S(b)) => b.parse::<i64>().ok().map(|b| a.cmp(&b)),
        (V::S(a), Target::N(b)) => Some((**a).cmp(b.to_string().as_str())),
        (V::L(l), Target::S(b)) => Some(if l.iter().any(|x| x == b) {
            Ordering::Equal
        } else {
            Ordering::Less
        }),
        _ => None,
    }
}

fn test(op: Op, have: Option<&V<'_>>, want: &Target) -> bool {
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
            let pattern: Cow<'_, str> = match want {
                Target::S(s) => Cow::Borrowed(s),
                Target::N(n) | Target::D(n) => Cow::Owned(n.to_string()),
                Target::Null => Cow::Borrowed(""),
            };
            let hit = match have {
                V::S(s) => crate::wildcard::matches(&pattern, s),
                V::N(n) | V::D(n) => crate::wildcard::matches(&pattern, &n.to_string()),
                V::L(l) => l.iter().any(|x| crate::wildcard::matches(&pattern, x)),
            };
            hit == (op == Op::Match)
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

/// Several values (properties, related rows): `$ne`/`$nmatch` hold when no value has the positive
/// match, the others when one value does; none at all behaves as NULL.
fn test_many(op: Op, values: &[V<'_>], want: &Target) -> bool {
    if let Target::Null = want {
        return test(op, values.first(), want);
    }
    match op {
        Op::Ne | Op::NMatch => {
            let positive = if op == Op::Ne { Op::Eq } else { Op::Match };
            !values.iter().any(|v| test(positive, Some(v), want))
        }
        _ if values.is_empty() => test(op, None, want),
        _ => values.iter().any(|v| test(op, Some(v), want)),
    }
}

impl<'a> Ctx<'a> {
    fn reach(&self, e: E<'a>, steps: &[Kind]) -> Vec<E<'a>> {
        let mut now = vec![e];
        for k in steps {
            let mut next = Vec::new();
            for x in now {
                self.related(x, *k, &mut next);
            }
            now = next;
        }
        now
    }

    /// Whether `e` satisfies the criteria. Related domains are joined as Artifactory's SQL joins
    /// them: one related row (or none: all its fields NULL, as a left join gives) per domain for
    /// the whole query, so `artifact.module.build.name` and `artifact.module.build.number` are
    /// about the same build wherever they stand; `e` matches when some choice of rows satisfies
    /// every criterion.
    fn keeps(&self, checks: &[Check], joins: &[Vec<Kind>], e: &E<'a>) -> bool {
        self.keeps_with(checks, joins, e, &[])
    }

    /// [`Ctx::keeps`] with some related rows fixed: `pins` are `(join index, row)`.
    fn keeps_with(
        &self,
        checks: &[Check],
        joins: &[Vec<Kind>],
        e: &E<'a>,
        pins: &[(usize, E<'a>)],
    ) -> bool {
        let mut rows = Vec::with_capacity(joins.len());
        self.bind(checks, joins, *e, &mut rows, pins)
    }

    fn bind(
        &self,
        checks: &[Check],
        joins: &[Vec<Kind>],
        e: E<'a>,
        rows: &mut Vec<Option<E<'a>>>,
        pins: &[(usize, E<'a>)],
    ) -> bool {
        let Some(path) = joins.get(rows.len()) else {
            let env = Env { joins, rows };
            return checks.iter().all(|c| self.holds(c, e, &env, None));
        };
        let (last, parent) = path.split_last().expect("joins are not empty");
        let from = match parent {
            [] => Some(e),
            p => joins
                .iter()
                .position(|j| j == p)
                .and_then(|i| rows.get(i).copied().flatten()),
        };
        let mut candidates = Vec::new();
        if let Some(&(_, x)) = pins.iter().find(|(i, _)| *i == rows.len()) {
            // A pinned row was reached from its (pinned) parent, so it is one of its relations.
            candidates.push(x);
        } else if let Some(x) = from {
            self.related(x, *last, &mut candidates);
        }
        if candidates.is_empty() {
            rows.push(None);
            let ok = self.bind(checks, joins, e, rows, pins);
            rows.pop();
            return ok;
        }
        for x in candidates {
            rows.push(Some(x));
            let ok = self.bind(checks, joins, e, rows, pins);
            rows.pop();
            if ok {
                return true;
            }
        }
        false
    }

    /// Whether `c` holds for `e` with the related rows chosen in `env`; `pin` is the one property
    /// row an `$msp` group is tested against.
    fn holds(&self, c: &Check, e: E<'a>, env: &Env<'_, 'a>, pin: Option<Pin<'_>>) -> bool {
        match c {
            Check::True => true,
            Check::All(groups) => groups
                .iter()
                .all(|g| g.iter().all(|c| self.holds(c, e, env, pin))),
            Check::Any(groups) => groups
                .iter()
                .any(|g| g.iter().all(|c| self.holds(c, e, env, pin))),
            Check::Same(groups) => {
                let all = |p: Pin<'_>| {
                    groups
                        .iter()
                        .all(|g| g.iter().all(|c| self.holds(c, e, env, Some(p))))
                };
                let pairs = prop_pairs(e);
                if pairs.is_empty() {
                    // Without properties the left join gives one NULL row.
                    all(Pin::Null)
                } else {
                    pairs.iter().any(|&(k, v)| all(Pin::Row(k, v)))
                }
            }
            Check::Cmp { path, op, value } => {
                let n = bound_len(&path.steps);
                if n > 0 {
                    // A joined domain: the row chosen for it (none: NULL fields).
                    let x = env
                        .joins
                        .iter()
                        .position(|j| j[..] == path.steps[..n])
                        .and_then(|i| env.rows.get(i).copied().flatten());
                    let rest = &path.steps[n..];
                    if rest.is_empty() {
                        if let Leaf::Field(f, _) = &path.leaf {
                            return test(*op, x.and_then(|x| self.value(x, f)).as_ref(), value);
                        }
                    }
                    let mut vals = Vec::new();
                    if let Some(x) = x {
                        self.leaf_values(x, rest, &path.leaf, &mut vals);
                    }
                    return test_many(*op, &vals, value);
                }
                if let Some(pin) = pin {
                    // Inside `$msp` a property criterion is about the pinned row, as Artifactory's
                    // SQL has it (ComplexPropertyCriterion): `key = k and value <op> v` for the
                    // positive comparators, `key != k or value <op> v` (NULL counting as
                    // different) for `$ne`/`$nmatch`, so a row with another key, or the NULL row
                    // of an item without properties, satisfies a negative criterion.
                    match (&path.steps[..], &path.leaf) {
                        ([], Leaf::Prop(key)) => {
                            return match pin {
                                Pin::Row(k, v) if key_names(key, k) => {
                                    test(*op, Some(&V::S(Cow::Borrowed(v))), value)
                                }
                                _ => matches!(op, Op::Ne | Op::NMatch),
                            };
                        }
                        ([one], Leaf::Field(f, _)) if is_prop_kind(*one) => {
                            let have = match pin {
                                Pin::Row(k, v) => {
                                    Some(V::S(Cow::Borrowed(if *f == "key" { k } else { v })))
                                }
                                Pin::Null => None,
                            };
                            return test(*op, have.as_ref(), value);
                        }
                        _ => {}
                    }
                }
                if let ([], Leaf::Field(f, _)) = (&path.steps[..], &path.leaf) {
                    return test(*op, self.value(e, f).as_ref(), value);
                }
                // Properties: any value matches, `$ne`/`$nmatch` when none does.
                let mut vals = Vec::new();
                self.leaf_values(e, &path.steps, &path.leaf, &mut vals);
                test_many(*op, &vals, value)
            }
        }
    }

    /// The values of `leaf` on the rows `steps` lead to from `e`.
    fn leaf_values(&self, e: E<'a>, steps: &[Kind], leaf: &Leaf, out: &mut Vec<V<'a>>) {
        for x in self.reach(e, steps) {
            match leaf {
                Leaf::Field(f, _) => out.extend(self.value(x, f)),
                Leaf::Prop(key) => self.props(x, key, out),
                _ => {}
            }
        }
    }
}

/// The property row an `$msp` group is tested against: a row, or the NULL row a left join gives
/// an entity without properties.
#[derive(Clone, Copy)]
enum Pin<'p> {
    Row(&'p str, &'p str),
    Null,
}

/// The related rows chosen for one evaluation (see [`Ctx::keeps`]).
struct Env<'j, 'a> {
    joins: &'j [Vec<Kind>],
    rows: &'j [Option<E<'a>>],
}

fn mentions_type(terms: &[Term]) -> bool {
    terms.iter().any(|t| match t {
        Term::Cmp { field, .. } => field == "type",
        Term::And(g) | Term::Or(g) | Term::Msp(g) => g.iter().any(|g| mentions_type(g)),
    })
}

/// Items an index can name for a top-level equality on a checksum or a property (`None`: scan).
fn candidates<'s>(state: &'s State, checks: &[Check]) -> Option<Vec<(&'s str, &'s str)>> {
    checks.iter().find_map(|c| {
        let Check::Cmp {
            path,
            op: Op::Eq,
            value: Target::S(v),
        } = c
        else {
            return None;
        };
        if !path.steps.is_empty() {
            return None;
        }
        match &path.leaf {
            Leaf::Field("actual_sha1", _) => Some(state.index.by_sha1(v).collect()),
            Leaf::Field("sha256", _) => Some(state.index.by_sha256(v).collect()),
            Leaf::Prop(key) if !key.contains(['*', '?']) => {
                Some(state.index.by_prop(key, v).collect())
            }
            _ => None,
        }
    })
}

/// Repositories the top-level criteria confine an items query to (`repo` equal to a key, or to a
/// virtual repository's members), so only their trees are scanned.
fn repo_scope(checks: &[Check]) -> Option<Vec<String>> {
    let eq = |c: &Check| match c {
        Check::Cmp {
            path,
            op: Op::Eq,
            value: Target::S(k),
        } if path.steps.is_empty() && matches!(path.leaf, Leaf::Field("repo", _)) => {
            Some(k.clone())
        }
        _ => None,
    };
    checks.iter().find_map(|c| match c {
        Check::Any(groups) => groups
            .iter()
            .map(|g| match g.as_slice() {
                [one] => eq(one),
                _ => None,
            })
            .collect(),
        other => eq(other).map(|k| vec![k]),
    })
}

// ---------------------------------------------------------------------------------------------
// Output.

/// Which related rows an include shows. Artifactory selects included fields from the join aliases
/// its criteria use, so a related row appears only when the whole criteria hold with it; property
/// tables get an alias of their own per criterion, so every property row shows.
struct Narrow<'c, 'a> {
    checks: &'c [Check],
    joins: &'c [Vec<Kind>],
    /// The main row.
    root: E<'a>,
    /// The related kinds from the main row down to here.
    path: Vec<Kind>,
    /// The related rows chosen on the way: `(join index, row)`.
    pins: Vec<(usize, E<'a>)>,
}

impl<'c, 'a> Narrow<'c, 'a> {
    fn new(checks: &'c [Check], joins: &'c [Vec<Kind>], root: E<'a>) -> Self {
        Narrow {
            checks,
            joins,
            root,
            path: Vec::new(),
            pins: Vec::new(),
        }
    }

    /// The narrowing below `x`, a related row of kind `k`, or `None` when `x` is not shown.
    fn enter(&self, ctx: &Ctx<'a>, k: Kind, x: E<'a>) -> Option<Narrow<'c, 'a>> {
        let mut path = self.path.clone();
        path.push(k);
        let mut pins = self.pins.clone();
        if !is_prop_kind(k) {
            if let Some(j) = self.joins.iter().position(|p| *p == path) {
                pins.push((j, x));
                if !ctx.keeps_with(self.checks, self.joins, &self.root, &pins) {
                    return None;
                }
            }
        }
        Some(Narrow {
            checks: self.checks,
            joins: self.joins,
            root: self.root,
            path,
            pins,
        })
    }
}

/// What a row shows: its own fields, properties, and nested related rows.
#[derive(Debug, Default)]
struct Shape {
    fields: Vec<&'static str>,
    /// Property keys shown (`*` for all) as a nested `properties` array (items).
    prop_keys: Vec<String>,
    subs: Vec<(Kind, Shape)>,
}

impl Shape {
    fn defaults(kind: Kind) -> Shape {
        Shape {
            fields: kind
                .fields()
                .iter()
                .filter(|(_, d, _)| *d)
                .map(|(n, _, _)| *n)
                .collect(),
            ..Shape::default()
        }
    }

    fn sub(&mut self, kind: Kind) -> &mut Shape {
        let at = match self.subs.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                self.subs.push((kind, Shape::default()));
                self.subs.len() - 1
            }
        };
        &mut self.subs[at].1
    }

    fn add_field(&mut self, f: &'static str) {
        if !self.fields.contains(&f) {
            self.fields.push(f);
        }
    }
}

fn shape(kind: Kind, include: Option<&Vec<String>>) -> Result<Shape, EvalError> {
    let mut s = Shape::defaults(kind);
    let Some(list) = include else { return Ok(s) };
    let mut replaced = false;
    for f in list {
        let path = resolve(kind, f, true)
            .ok_or_else(|| EvalError(format!("Unknown field '{f}' in include")))?;
        if path.steps.is_empty() {
            match path.leaf {
                Leaf::Field(name, _) => {
                    if !replaced {
                        s.fields.clear();
                        replaced = true;
                    }
                    s.add_field(name);
                }
                Leaf::All => {
                    if !replaced {
                        s.fields.clear();
                        replaced = true;
                    }
                    for (n, _, _) in kind.fields() {
                        s.add_field(n);
                    }
                }
                Leaf::Prop(key) => s.prop_keys.push(key),
                Leaf::Whole => {}
            }
            continue;
        }
        // Fields of related kinds are added as nested rows.
        let last = path.steps.len() - 1;
        let mut at = &mut s;
        // An intermediate kind shows no fields of its own, only the nesting.
        for (i, k) in path.steps.iter().enumerate() {
            at = at.sub(*k);
            if i == last {
                match &path.leaf {
                    Leaf::Whole | Leaf::All => {
                        for (n, d, _) in k.fields() {
                            if *d || matches!(path.leaf, Leaf::All) {
                                at.add_field(n);
                            }
                        }
                    }
                    Leaf::Field(name, _) => at.add_field(name),
                    Leaf::Prop(key) => at.prop_keys.push(key.clone()),
                }
            }
        }
    }
    Ok(s)
}

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

impl<'a> Ctx<'a> {
    fn render(&self, kind: Kind, e: E<'a>, s: &Shape) -> Map<String, Json> {
        self.render_in(kind, e, s, None)
    }

    /// [`Ctx::render`], showing only the related rows `narrow` lets through.
    fn render_in(
        &self,
        kind: Kind,
        e: E<'a>,
        s: &Shape,
        narrow: Option<&Narrow<'_, 'a>>,
    ) -> Map<String, Json> {
        let mut out: Vec<(String, Json)> = Vec::with_capacity(s.fields.len() + s.subs.len() + 1);
        for f in &s.fields {
            let v = match self.value(e, f) {
                Some(V::S(x)) => Json::String(x.into_owned()),
                Some(V::N(n)) => json!(n),
                Some(V::D(ms)) => Json::String(crate::clock::iso(ms)),
                Some(V::L(l)) => json!(l),
                None => continue,
            };
            let name = match kind.prefix() {
                "" => f.to_string(),
                p => [p, f].concat(),
            };
            out.push((name, v));
        }
        if !s.prop_keys.is_empty() {
            let mut rows = Vec::new();
            let pairs = prop_pairs(e);
            let (name, prefix) = match kind {
                Kind::Build => ("build.properties", "build.property."),
                Kind::Module => ("module.properties", "module.property."),
                _ => ("properties", ""),
            };
            for (k, v) in pairs {
                if s.prop_keys.iter().any(|p| p == "*" || p == k) {
                    let mut m = Map::new();
                    m.insert(format!("{prefix}key"), json!(k));
                    m.insert(format!("{prefix}value"), json!(v));
                    rows.push(Json::Object(m));
                }
            }
            if !rows.is_empty() {
                out.push((name.to_string(), Json::Array(rows)));
            }
        }
        for (k, sub) in &s.subs {
            let mut related = Vec::new();
            self.related(e, *k, &mut related);
            let rows: Vec<Json> = related
                .into_iter()
                .filter_map(|x| {
                    let row = match narrow {
                        None => self.render_in(*k, x, sub, None),
                        Some(n) => self.render_in(*k, x, sub, Some(&n.enter(self, *k, x)?)),
                    };
                    // A related row with nothing to show (`include("archive.*")`: archives have
                    // no fields of their own) is not printed, as Artifactory prints none.
                    (!row.is_empty()).then_some(Json::Object(row))
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            // Property sub-rows of an item merge with `@key` includes under one array.
            if let Some((_, Json::Array(existing))) = out.iter_mut().find(|(n, _)| n == k.array()) {
                for r in rows {
                    if !existing.contains(&r) {
                        existing.push(r);
                    }
                }
                continue;
            }
            out.push((k.array().to_string(), Json::Array(rows)));
        }
        // Item fields in their fixed order, everything else alphabetically.
        out.sort_by(|(a, _), (b, _)| {
            let rank = |k: &str| {
                FIXED_ORDER
                    .iter()
                    .position(|f| *f == k)
                    .unwrap_or(usize::MAX)
            };
            rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
        });
        out.into_iter().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Running a query.

/// An answered query: its rows, and the offset and limit its `range` object reports.
pub struct Answer {
    /// The rows.
    pub rows: Rows,
    /// `offset(N)`, 0 when absent.
    pub offset: u64,
    /// `limit(N)`.
    pub limit: Option<u64>,
}

/// The rows of an answer.
pub enum Rows {
    /// Rows printed already (domains other than items, or item rows that may repeat).
    Printed(Vec<Map<String, Json>>),
    /// Item rows named by repository and path, printed a batch at a time so a query over a
    /// million files does not hold a million printed rows in memory.
    Items(ItemRows),
}

/// Item rows to print, in order (offset and limit applied).
pub struct ItemRows {
    shape: Shape,
    /// Repository, path, and the item's fingerprint when it was found.
    items: Vec<(Sym, Box<str>, u64)>,
}

/// What a row was found as: printing later leaves the row out when the item changed meanwhile
/// (redeployed, properties edited, replaced by a folder), so a streamed answer never shows a row
/// that no longer matches.
fn fingerprint(item: &Item) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    (item.created, item.modified, item.updated, item.is_folder()).hash(&mut h);
    if let Some(f) = item.file.as_deref() {
        (f.size, f.sha256).hash(&mut h);
    }
    for pair in item.props.pairs() {
        pair.hash(&mut h);
    }
    h.finish()
}

impl ItemRows {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Prints rows `at` against `state`. Rows deleted or changed meanwhile, or that the caller may
    /// no longer read (`see`, also applied to items reached from a row), are left out.
    pub fn print(
        &self,
        state: &State,
        builds: &[Arc<Build>],
        see: &dyn Fn(&str, &str) -> bool,
        at: std::ops::Range<usize>,
    ) -> Vec<Map<String, Json>> {
        let ctx = Ctx::new(state, builds, see);
        let end = at.end.min(self.items.len());
        self.items
            .get(at.start..end)
            .unwrap_or_default()
            .iter()
            .filter_map(|(repo, key, print)| {
                let item = state.item(repo, key)?;
                if fingerprint(item) != *print || !see(repo, key) {
                    return None;
                }
                let e = E::Item(ItemRef { repo, key, item });
                Some(ctx.render(Kind::Item, e, &self.shape))
            })
            .collect()
    }
}

/// A row's value for a sort field. A related field sorts by its first value: SQL would order one
/// row per related row, but those rows are merged into one, as Artifactory prints them.
fn sort_value<'a>(ctx: &Ctx<'a>, e: E<'a>, p: &FieldPath) -> Option<V<'a>> {
    let Leaf::Field(f, _) = &p.leaf else {
        return None;
    };
    if p.steps.is_empty() {
        return ctx.value(e, f);
    }
    let mut vals = Vec::new();
    ctx.leaf_values(e, &p.steps, &p.leaf, &mut vals);
    vals.into_iter().next()
}

/// The `range` object: `end_pos` and `total` are the rows printed (behaviour §9.6).
pub fn range(offset: u64, printed: usize, limit: Option<u64>) -> Json {
    let mut range = Map::new();
    range.insert("start_pos".into(), json!(offset));
    range.insert("end_pos".into(), json!(printed));
    range.insert("total".into(), json!(printed));
    if let Some(l) = limit {
        range.insert("limit".into(), json!(l));
    }
    Json::Object(range)
}

/// Runs a query. `builds` are the stored build-info documents (see [`needs_builds`]); `readable`
/// says which items the caller may see; non-admin callers get rows of the items domain only, and
/// must ask for repo, path and name.
pub fn run(
    state: &State,
    builds: &[Arc<Build>],
    q: &Query,
    now: i64,
    admin: bool,
    readable: impl Fn(&str, &str) -> bool,
) -> Result<Answer, EvalError> {
    let kind = Kind::of_domain(&q.domain)
        .ok_or_else(|| EvalError(format!("Unknown domain '{}'", q.domain)))?;
    if q.transitive {
        if kind != Kind::Item {
            return err("Transitive queries support only the items domain.");
        }
        if q.sort.is_some() || q.offset.is_some() {
            return err("Sort and offset are not supported in transitive queries.");
        }
    }
    let mut prep = Prep {
        kind,
        now,
        state,
        virtual_target: false,
    };
    let checks = prep.all(&q.criteria)?;
    let mut s = shape(kind, q.include.as_ref())?;
    let has = |s: &Shape, f: &str| s.fields.contains(&f);
    let core = ["repo", "path", "name"].iter().all(|f| has(&s, f));
    if kind == Kind::Item {
        if !admin && !core {
            return err(
                "For permissions reasons AQL demands the following fields: repo, path and name.",
            );
        }
        if has(&s, "virtual_repos") && !core {
            return err("When including virtual_repos field, the following fields are also required: repo, path and name.");
        }
        if prep.virtual_target && q.include.is_none() {
            s.add_field("virtual_repos");
        }
    }
    // Sort fields, each a field of the row or of a related domain the answer includes
    // (`include("stat.downloads").sort({"$desc":["stat.downloads"]})`, OSS AqlIncludeServiceTest).
    let mut sort_by: Vec<FieldPath> = Vec::new();
    if let Some((_, fields)) = &q.sort {
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].contains(f) {
                return err(
                    "Duplicate fields, all the fields in the sort section should be unique.",
                );
            }
            let shown = resolve(kind, f, false).filter(|p| match &p.leaf {
                Leaf::Field(name, _) => {
                    let mut at = Some(&s);
                    for k in &p.steps {
                        at = at.and_then(|x| x.subs.iter().find(|(sk, _)| sk == k).map(|(_, x)| x));
                    }
                    at.is_some_and(|x| has(x, name))
                }
                _ => false,
            });
            match shown {
                Some(p) => sort_by.push(p),
                None => {
                    return err("Only the result fields are allowed to use in the sort section.")
                }
            }
        }
    }
    let see = |repo: &str, key: &str| admin || readable(repo, key);
    let ctx = Ctx::new(state, builds, &see);
    let mut rows: Vec<E<'_>> = Vec::new();
    let joined = joins(&checks);
    // Other domains answer admins only (as Artifactory 6.20+ filters them for everyone else).
    if admin || kind == Kind::Item {
        let keep = |e: &_| ctx.keeps(&checks, &joined, e);
        match kind {
            Kind::Item => {
                let files_only = !mentions_type(&q.criteria);
                // A remote's cache named as `<key>-cache` is the remote's tree.
                let scope = repo_scope(&checks).map(|keys| {
                    keys.into_iter()
                        .map(|k| state.cache_of(&k).map(str::to_string).unwrap_or(k))
                        .collect::<Vec<_>>()
                });
                // Including only `@key` properties is also a criterion: Artifactory selects them
                // with the key in its WHERE clause, so items without any of the keys are not rows.
                let keys: Option<&[String]> = (!s.prop_keys.is_empty()
                    && !s.prop_keys.iter().any(|k| k == "*")
                    && !s.subs.iter().any(|(k, _)| *k == Kind::Prop))
                .then_some(&s.prop_keys);
                let wanted = |r: &str, item: &Item| {
                    !(files_only && item.is_folder())
                        && scope.as_ref().is_none_or(|s| s.iter().any(|x| x == r))
                        && keys.is_none_or(|ks| ks.iter().any(|k| item.props.contains_key(k)))
                };
                // Rows the caller may not read are dropped before the page is cut (Artifactory
                // cuts first; see FIDELITY), so the page does not reveal them.
                let mut consider = |repo, key, item| {
                    let e = E::Item(ItemRef { repo, key, item });
                    if wanted(repo, item) && keep(&e) && readable(repo, key) {
                        rows.push(e);
                    }
                };
                match candidates(state, &checks) {
                    // Looked up in an index, in the order of a scan (repository, then path).
                    Some(mut found) => {
                        found.sort_by_key(|(r, k)| (state.repos.get_index_of(*r), *k));
                        found.dedup();
                        for (repo, key) in found {
                            if let Some(item) = state.item(repo, key) {
                                consider(repo, key, item);
                            }
                        }
                    }
                    None => {
                        for r in state.repos.values() {
                            if scope.as_ref().is_none_or(|s| s.contains(&r.config.key)) {
                                for (key, item) in &r.items {
                                    consider(&r.config.key, key, item);
                                }
                            }
                        }
                    }
                }
            }
            Kind::Prop | Kind::Stat => {
                for i in ctx.items() {
                    let mut found = Vec::new();
                    ctx.related(E::Item(i), kind, &mut found);
                    rows.extend(found.into_iter().filter(keep));
                }
            }
            Kind::Entry => {
                let mut seen: Vec<&str> = Vec::new();
                for i in ctx.items() {
                    let Some(f) = i.item.file.as_deref() else {
                        continue;
                    };
                    seen.extend(
                        state
                            .archives
                            .get(f.sha256.hex().as_str())
                            .into_iter()
                            .flatten()
                            .map(String::as_str),
                    );
                }
                seen.sort_unstable();
                seen.dedup();
                rows.extend(seen.into_iter().map(E::Entry).filter(keep));
            }
            Kind::Build => rows.extend(builds.iter().map(|b| E::Build(b)).filter(keep)),
            Kind::BuildProp | Kind::Promo | Kind::Module => {
                for b in builds {
                    let mut found = Vec::new();
                    ctx.related(E::Build(b), kind, &mut found);
                    rows.extend(found.into_iter().filter(keep));
                }
            }
            Kind::ModuleProp => {
                for b in builds {
                    for m in &b.modules {
                        let mut found = Vec::new();
                        ctx.related(E::Module(b, m), kind, &mut found);
                        rows.extend(found.into_iter().filter(keep));
                    }
                }
            }
            Kind::Artifact | Kind::Dep => rows.extend(ctx.parts(kind == Kind::Dep).filter(keep)),
            Kind::Archive | Kind::Release => {}
        }
    }
    if let Some((dir, _)) = &q.sort {
        rows.sort_by(|a, b| {
            for f in &sort_by {
                let (x, y) = (sort_value(&ctx, *a, f), sort_value(&ctx, *b, f));
                let o = match (&x, &y) {
                    (Some(V::S(a)), Some(V::S(b))) => a.cmp(b),
                    (Some(V::N(a)), Some(V::N(b))) | (Some(V::D(a)), Some(V::D(b))) => a.cmp(b),
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    _ => Ordering::Equal,
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
    let limit = q.limit.map_or(usize::MAX, |l| l as usize);
    let answer = |rows| Answer {
        rows,
        offset: offset as u64,
        limit: q.limit,
    };
    // Rows carrying repo, path and name never repeat, so distinct has nothing to drop and the
    // page is known before printing; they are printed in batches unless nested rows need joins
    // (archive entries, build parts) better computed once.
    let simple = s
        .subs
        .iter()
        .all(|(k, sub)| matches!(k, Kind::Prop | Kind::Stat) && sub.subs.is_empty());
    if kind == Kind::Item && core && simple {
        let mut repo: Option<Sym> = None;
        let items = rows
            .iter()
            .skip(offset)
            .take(limit)
            .filter_map(|e| match e {
                E::Item(i) => {
                    let r = match &repo {
                        Some(r) if r.as_str() == i.repo => r.clone(),
                        _ => repo.insert(Sym::new(i.repo)).clone(),
                    };
                    Some((r, Box::from(i.key), fingerprint(i.item)))
                }
                _ => None,
            })
            .collect();
        return Ok(answer(Rows::Items(ItemRows { shape: s, items })));
    }
    let distinct = q.distinct != Some(false);
    let mut page: Vec<Map<String, Json>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut skipped = 0;
    for e in rows {
        if page.len() >= limit {
            break;
        }
        // Without related domains in the criteria there is nothing to narrow.
        let narrow = (!joined.is_empty()).then(|| Narrow::new(&checks, &joined, e));
        let row = ctx.render_in(kind, e, &s, narrow.as_ref());
        // Rows are distinct unless `.distinct(false)`: equal rendered rows count once.
        if distinct && !seen.insert(Json::Object(row.clone()).to_string()) {
            continue;
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        page.push(row);
    }
    Ok(answer(Rows::Printed(page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Dates come from clients: any text is read or refused, never a panic.
        #[test]
        fn any_text_is_a_date_or_not(t in "[0-9T:+\\-Z.,é€a]{0,30}") {
            let _ = parse_date(&t);
        }
    }

    #[test]
    fn periods_and_build_dates() {
        assert_eq!(period("3d"), Some(3 * 86_400_000));
        assert_eq!(period("2weeks"), Some(14 * 86_400_000));
        assert_eq!(period("1fortnight"), None);
        assert_eq!(period("1Days"), Some(86_400_000));
        assert_eq!(period("60Seconds"), period("1MI"));
        // Joda's dateOptionalTimeParser forms.
        let day = 86_400_000;
        assert_eq!(parse_date("1970-01-02"), Some(day));
        assert_eq!(parse_date("1970-01"), Some(0));
        // A bare number is epoch milliseconds, not a year.
        assert_eq!(parse_date("1970"), Some(1970));
        assert_eq!(parse_date("1970-1-2"), Some(day));
        assert_eq!(parse_date("1970-01-02T01"), Some(day + 3_600_000));
        assert_eq!(parse_date("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_date("1970-01-01T01:00:00+0100"), Some(0));
        assert_eq!(parse_date("1970-01-01T00:00:00-01"), Some(3_600_000));
        assert!(parse_date("12-12-12").is_some_and(|t| t < 0));
        for bad in [
            "1970-01-01T00:00+a€",
            "1970-01-01T00:00-€1",
            "",
            "1970-13",
            "1970-02-30",
            "1970-01-01T25",
            "1970-01-01T00:00:00+2400",
            "yesterday",
            "1970-01-01T",
            "1970--01",
            "é",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_date("1970-01-01T00:00:01.000+0000"), Some(1000));
        assert_eq!(parse_date("1970-01-01T01:00:01.000+0100"), Some(1000));
        assert_eq!(parse_date("1970-01-01T00:00:01.000Z"), Some(1000));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("€€"), None);
        assert_eq!(parse_date("2026-01-01T00:00:00.000+0€0"), None);
    }

    /// Rows printed after the query leave out items deleted or changed meanwhile.
    #[test]
    fn streamed_rows_skip_items_changed_since_the_query() {
        use crate::config::{PackageType, RepoClass, RepoConfig};
        use crate::store::{FileData, Mutation, Props, Stamp};
        let mut state = State::default();
        let config = RepoConfig::new("r", RepoClass::Local, PackageType::Generic);
        let create = Mutation::CreateRepo {
            config,
            now: 1,
            user: "u".into(),
        };
        state.apply(&create).unwrap();
        for name in ["a", "b", "c"] {
            let put = Mutation::PutFile {
                repo: "r".into(),
                path: name.into(),
                file: FileData {
                    size: 1,
                    sha1: Default::default(),
                    md5: Default::default(),
                    sha256: "0".repeat(64).as_str().into(),
                    original: None,
                    mime: "text/plain".into(),
                    stats: None,
                },
                props: Props::default(),
                now: 2,
                user: "u".into(),
                stamp: Stamp::default(),
            };
            state.apply(&put).unwrap();
        }
        let q = super::super::aql::parse(r#"items.find({"repo":"r"})"#).unwrap();
        let answer = run(&state, &[], &q, 0, true, |_, _| true).unwrap();
        let Rows::Items(items) = answer.rows else {
            panic!("item rows are streamed")
        };
        assert_eq!(items.len(), 3);
        let edit = Mutation::EditProps {
            repo: "r".into(),
            path: "a".into(),
            set: Props::from_pairs([("k", "v")]),
            remove: vec![],
            recursive: false,
            now: 2,
        };
        state.apply(&edit).unwrap();
        let delete = Mutation::Delete {
            repo: "r".into(),
            path: "b".into(),
        };
        state.apply(&delete).unwrap();
        let rows = items.print(&state, &[], &|_, _| true, 0..3);
        let names: Vec<&Json> = rows.iter().map(|r| &r["name"]).collect();
        assert_eq!(names, [&json!("c")]);
        let hidden = items.print(&state, &[], &|_, path| path != "c", 0..3);
        assert!(
            hidden.is_empty(),
            "rows the caller may no longer read are left out"
        );
    }

    #[test]
    fn dotted_fields_walk_related_kinds() {
        let p = resolve(Kind::Item, "artifact.module.build.name", false).unwrap();
        assert_eq!(p.steps, [Kind::Artifact, Kind::Module, Kind::Build]);
        assert!(matches!(p.leaf, Leaf::Field("name", Ty::Str)));
        let p = resolve(Kind::Item, "@docker.manifest", false).unwrap();
        assert!(matches!(p.leaf, Leaf::Prop(ref k) if k == "docker.manifest"));
        let p = resolve(Kind::Build, "module.dependency.item.@license", false).unwrap();
        assert_eq!(p.steps, [Kind::Module, Kind::Dep, Kind::Item]);
        assert!(resolve(Kind::Item, "stat", false).is_none());
        assert!(matches!(
            resolve(Kind::Item, "stat", true).unwrap().leaf,
            Leaf::Whole
        ));
        assert!(resolve(Kind::Prop, "@x", false).is_none());
        assert!(resolve(Kind::Item, "archive.entry.size", false).is_none());
    }
}
