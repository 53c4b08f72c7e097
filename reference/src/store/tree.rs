//! The item tree: repositories and, per repository, an ordered map of folders and files with their
//! metadata, properties and download statistics.
//!
//! Every change is a [`Mutation`] applied by [`State::apply`]; the same function serves live requests and
//! journal replay, so what is replayed after a restart is exactly what was acknowledged.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::hex::{Md5, Sha1, Sha256};
use super::index::Index;
use super::secret::Secret;
use super::sym::{Key, Sym};
use crate::auth::model::{Security, SecurityChange, SecurityError};
use crate::config::{RepoClass, RepoConfig};
use crate::events::Event;

/// Properties: keys sorted, values of a key in insertion order without duplicates. Stored flat as
/// `(key, value)` pairs (keys interned) because most items carry a handful; serialised as
/// `{"key":["v1","v2"]}`. Values are not interned: that saved about 100 bytes a file when values
/// repeat, but costs more for unique ones (digests, revisions), kept dead values in the shared table
/// until its next sweep, and doubled the time of a 2 520-row AQL property query at 1M files (glibc's
/// allocator went down its slow path far more often, for reasons not pinned down).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Props(Box<[(Sym, Box<str>)]>);

impl Props {
    fn span(&self, key: &str) -> std::ops::Range<usize> {
        let start = self.0.partition_point(|(k, _)| k.as_str() < key);
        let end = start + self.0[start..].partition_point(|(k, _)| k.as_str() == key);
        start..end
    }

    /// Properties from `(key, value)` pairs in one go (keys sorted, each key's values in the order
    /// given without repeats): `n log n` however many values a request carries.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Props {
        let mut all: Vec<(Sym, Box<str>)> = pairs
            .into_iter()
            .map(|(k, v)| (Sym::new(k.as_ref()), v.as_ref().into()))
            .collect();
        Props::settle(&mut all);
        Props(all.into_boxed_slice())
    }

    /// Sorts by key (stable, so values keep their order) and drops repeated pairs.
    fn settle(all: &mut Vec<(Sym, Box<str>)>) {
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let keep: Vec<bool> = {
            let mut seen = std::collections::HashSet::new();
            all.iter()
                .map(|(k, v)| seen.insert((k.as_str(), &**v)))
                .collect()
        };
        let mut keep = keep.into_iter();
        all.retain(|_| keep.next().unwrap_or(true));
        all.shrink_to_fit();
    }

    /// Adds `value` to `key` unless already present.
    pub fn add(&mut self, key: &str, value: &str) {
        let span = self.span(key);
        if self.0[span.clone()].iter().any(|(_, v)| &**v == value) {
            return;
        }
        let mut all = std::mem::take(&mut self.0).into_vec();
        all.insert(span.end, (Sym::new(key), value.into()));
        self.0 = all.into_boxed_slice();
    }

    /// Replaces the values of every key in `other` (other keys untouched).
    pub fn replace_keys(&mut self, other: &Props) {
        let mut all = std::mem::take(&mut self.0).into_vec();
        all.retain(|(k, _)| !other.contains_key(k));
        all.extend(other.0.iter().cloned());
        Props::settle(&mut all);
        self.0 = all.into_boxed_slice();
    }

    /// Removes a key and its values.
    pub fn remove(&mut self, key: &str) {
        let span = self.span(key);
        let mut all = std::mem::take(&mut self.0).into_vec();
        all.drain(span);
        self.0 = all.into_boxed_slice();
    }

    /// Whether there are no properties.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values of `key` (none when absent).
    pub fn get<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.0[self.span(key)].iter().map(|(_, v)| &**v)
    }

    /// The first value of `key`.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.get(key).next()
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        !self.span(key).is_empty()
    }

    /// Every `(key, value)` pair, keys sorted.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    /// The distinct keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let mut last: Option<&str> = None;
        self.0.iter().filter_map(move |(k, _)| {
            let k = k.as_str();
            (last != Some(k)).then(|| {
                last = Some(k);
                k
            })
        })
    }

    /// Every value of every key.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, v)| &**v)
    }

    /// Keys with their values, keys sorted.
    pub fn groups(&self) -> impl Iterator<Item = (&str, Vec<&str>)> {
        self.keys().map(|k| (k, self.get(k).collect()))
    }
}

impl Serialize for Props {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, vs) in self.groups() {
            m.serialize_entry(k, &vs)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Props {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Props, D::Error> {
        let map = BTreeMap::<String, Vec<String>>::deserialize(d)?;
        // A key recorded with no values (older journals) keeps one empty value, as it is set now.
        Ok(Props::from_pairs(map.iter().flat_map(|(k, vs)| {
            let empty = vs.is_empty().then_some("");
            vs.iter()
                .map(String::as_str)
                .chain(empty)
                .map(move |v| (k, v))
        })))
    }
}

/// Checksums the client sent at deploy time (each optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Original {
    /// Client-sent SHA-1.
    pub sha1: Option<String>,
    /// Client-sent MD5.
    pub md5: Option<String>,
    /// Client-sent SHA-256.
    pub sha256: Option<String>,
}

static NO_ORIGINAL: Original = Original {
    sha1: None,
    md5: None,
    sha256: None,
};

impl FileData {
    /// The checksums the client sent (all `None` when it sent none).
    pub fn original(&self) -> &Original {
        self.original.as_deref().unwrap_or(&NO_ORIGINAL)
    }
}

fn original_always<S: serde::Serializer>(
    o: &Option<Box<Original>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    o.as_deref().unwrap_or(&NO_ORIGINAL).serialize(s)
}

/// An `original` with no checksum is not stored.
fn original_or_none<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<Original>>, D::Error> {
    let o = Option::<Original>::deserialize(d)?;
    Ok(
        o.filter(|o| o.sha1.is_some() || o.md5.is_some() || o.sha256.is_some())
            .map(Box::new),
    )
}

/// What a file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileData {
    /// Size in bytes.
    pub size: u64,
    /// SHA-1 hex (empty until computed, for registry uploads).
    pub sha1: Sha1,
    /// MD5 hex (empty until computed).
    pub md5: Md5,
    /// SHA-256 hex (the blob address).
    pub sha256: Sha256,
    /// Checksums sent by the client (`None` when none were; written as an object of nulls, the
    /// form earlier versions read).
    #[serde(
        default,
        deserialize_with = "original_or_none",
        serialize_with = "original_always"
    )]
    pub original: Option<Box<Original>>,
    /// Mime type chosen from the extension.
    pub mime: Sym,
    /// Download statistics; `None` until the first download. Kept here rather than in `Item`
    /// because only files are downloaded, which keeps every tree entry 8 bytes smaller; written
    /// with the item, as before.
    #[serde(skip)]
    pub stats: Option<Box<Stats>>,
}

/// Download statistics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Number of downloads.
    pub downloads: u64,
    /// Epoch ms of the last download, 0 if never.
    pub last_downloaded: i64,
    /// Who downloaded last.
    pub last_downloaded_by: Option<Sym>,
}

static NO_STATS: Stats = Stats {
    downloads: 0,
    last_downloaded: 0,
    last_downloaded_by: None,
};

/// Statistics of an item never downloaded are not stored.
fn stats_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<Stats>>, D::Error> {
    let s = Option::<Stats>::deserialize(d)?;
    Ok(s.filter(|s| s.downloads > 0).map(Box::new))
}

/// A folder or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Epoch ms.
    pub created: i64,
    /// User name.
    pub created_by: Sym,
    /// Epoch ms.
    pub modified: i64,
    /// User name.
    pub modified_by: Sym,
    /// Epoch ms.
    pub updated: i64,
    /// Properties.
    pub props: Props,
    /// `None` for folders (boxed: most tree entries are folders, and a lean entry keeps scans fast).
    pub file: Option<Box<FileData>>,
    /// Index id (0: not indexed); see [`super::index`].
    pub id: u32,
}

/// How an item is written: its fields with the file's download statistics beside them, the layout
/// journals and snapshots have always had.
#[derive(Serialize)]
struct ItemOut<'a> {
    created: i64,
    created_by: &'a Sym,
    modified: i64,
    modified_by: &'a Sym,
    updated: i64,
    props: &'a Props,
    file: Option<&'a FileData>,
    stats: Option<&'a Stats>,
}

/// How an item is read (see [`ItemOut`]).
#[derive(Deserialize)]
struct ItemIn {
    created: i64,
    created_by: Sym,
    modified: i64,
    modified_by: Sym,
    updated: i64,
    props: Props,
    file: Option<Box<FileData>>,
    #[serde(default, deserialize_with = "stats_or_none")]
    stats: Option<Box<Stats>>,
}

impl Serialize for Item {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ItemOut {
            created: self.created,
            created_by: &self.created_by,
            modified: self.modified,
            modified_by: &self.modified_by,
            updated: self.updated,
            props: &self.props,
            file: self.file.as_deref(),
            stats: self.file.as_deref().and_then(|f| f.stats.as_deref()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        let i = ItemIn::deserialize(d)?;
        let mut file = i.file;
        // Folders are never downloaded; statistics recorded on one are dropped.
        if let Some(f) = file.as_mut() {
            f.stats = i.stats;
        }
        Ok(Item {
            created: i.created,
            created_by: i.created_by,
            modified: i.modified,
            modified_by: i.modified_by,
            updated: i.updated,
            props: i.props,
            file,
            id: 0,
        })
    }
}

impl Item {
    /// A new folder.
    pub fn folder(now: i64, user: &str) -> Item {
        let user = Sym::new(user);
        Item {
            created: now,
            created_by: user.clone(),
            modified: now,
            modified_by: user,
            updated: now,
            props: Props::default(),
            file: None,
            id: 0,
        }
    }

    /// Download statistics (zeros when never downloaded).
    pub fn stats(&self) -> &Stats {
        self.file
            .as_deref()
            .and_then(|f| f.stats.as_deref())
            .unwrap_or(&NO_STATS)
    }

    /// Whether this is a folder.
    pub fn is_folder(&self) -> bool {
        self.file.is_none()
    }
}

/// One repository: its configuration and its items keyed by relative path (`""` is the root folder).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Repo {
    /// Configuration.
    pub config: RepoConfig,
    /// Items by path without leading slash.
    #[serde(deserialize_with = "full_nodes")]
    pub items: BTreeMap<Key, Item>,
}

/// Reads a repository's items into a map built in one go, with full nodes. Inserting them one by
/// one, in the sorted order a snapshot holds them, leaves every node just over half full (each split
/// keeps 6 of 11 entries on the left), and nodes are most of an entry's memory.
fn full_nodes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<Key, Item>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<(Key, Item)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map of paths to items")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut all = Vec::with_capacity(m.size_hint().unwrap_or(0));
            while let Some(entry) = m.next_entry()? {
                all.push(entry);
            }
            Ok(all)
        }
    }
    // `collect` sorts (keeping the last of equal keys, as inserting would) and bulk-builds.
    Ok(d.deserialize_map(Entries)?.into_iter().collect())
}

/// A change to the state. Carries every value it needs (times, users, digests) so replay is exact.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// Create a repository.
    CreateRepo {
        config: RepoConfig,
        now: i64,
        user: String,
    },
    /// Replace a repository's configuration.
    UpdateRepo { config: RepoConfig },
    /// Delete a repository and all its content.
    DeleteRepo { key: String },
    /// Deploy a file (creating parent folders, overwriting an existing file).
    PutFile {
        repo: String,
        path: String,
        file: FileData,
        props: Props,
        now: i64,
        user: String,
        /// Times and author the client supplied (`X-Artifactory-Created`, `-Last-Modified`, `-Modified-By`).
        #[serde(default)]
        stamp: Stamp,
    },
    /// Create a folder (and its parents).
    MakeFolder {
        repo: String,
        path: String,
        props: Props,
        now: i64,
        user: String,
        /// Times and author kept from elsewhere (an import): set on the folder, new or not.
        #[serde(default, skip_serializing_if = "Stamp::is_empty")]
        stamp: Stamp,
    },
    /// Delete a file or folder (recursively).
    Delete { repo: String, path: String },
    /// Set property keys (replacing those keys' values) and remove others, in one step.
    EditProps {
        repo: String,
        path: String,
        set: Props,
        remove: Vec<String>,
        recursive: bool,
        now: i64,
    },
    /// Count a download.
    Download {
        repo: String,
        path: String,
        now: i64,
        user: String,
    },
    /// Set a file's download statistics as they were elsewhere (an import).
    SetStats {
        repo: String,
        path: String,
        downloads: u64,
        last_downloaded: i64,
        last_downloaded_by: Option<String>,
    },
    /// Set (create or replace) a user's API key.
    SetApiKey { user: String, key: Secret },
    /// Revoke one user's API key, or everyone's when `user` is `None`.
    RevokeApiKey { user: Option<String> },
    /// Users, groups, permission targets, lock policy, tokens.
    Security(SecurityChange),
    /// SHA-1 and MD5 computed after the fact for a blob stored with SHA-256 only (registry uploads):
    /// filled into every file with that content that lacks them.
    FillChecksums {
        sha256: String,
        sha1: String,
        md5: String,
    },
    /// Set (or, empty, remove) the custom URL base.
    SetUrlBase { url: String },
    /// Replace the whole general configuration (`POST /api/system/configuration`, a system import):
    /// repositories created, changed, removed and reordered, and the rest, in one step.
    SetConfiguration {
        descriptor: Box<crate::system::descriptor::Descriptor>,
        now: i64,
        user: String,
    },
    /// Save the reverse proxy settings.
    SetReverseProxy {
        proxy: crate::system::reverse_proxy::ReverseProxy,
    },
    /// The entries of an archive (indexed after deploy, by content).
    IndexArchive {
        sha256: String,
        entries: Vec<String>,
    },
    /// Several changes as one journal record (a Docker tag: its folder, manifest and blobs), applied in
    /// order; a step that no longer applies (its path already gone) is skipped.
    Batch { steps: Vec<Mutation> },
    /// Copy or move a subtree to another place.
    Transfer {
        src_repo: String,
        src_path: String,
        dst_repo: String,
        dst_path: String,
        mv: bool,
        now: i64,
        user: String,
    },
}

/// Item times and author supplied by the client on deploy (each optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Epoch ms for `created`.
    pub created: Option<i64>,
    /// Epoch ms for `lastModified`.
    pub modified: Option<i64>,
    /// User name for `modifiedBy`.
    pub modified_by: Option<String>,
}

impl Stamp {
    /// Whether it sets nothing.
    pub fn is_empty(&self) -> bool {
        *self == Stamp::default()
    }
}

/// Domain failures; the HTTP layer maps them to messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeError {
    /// No such repository.
    NoRepo(String),
    /// No such item.
    NoItem,
    /// A file stands where a folder is needed (or the reverse).
    Conflict(String),
    /// Repository key already taken.
    RepoExists,
}

/// All repositories, in configuration order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// Repositories by key, in creation order.
    pub repos: IndexMap<String, Repo>,
    /// API keys by user name.
    #[serde(default)]
    pub api_keys: BTreeMap<String, Secret>,
    /// Users, groups, permission targets, lock policy, issued tokens.
    #[serde(default)]
    pub security: Security,
    /// Checksums filled in after the fact, by SHA-256 (see [`Mutation::FillChecksums`]).
    #[serde(default)]
    pub filled: std::collections::HashMap<String, [String; 2]>,
    /// Entries of archives, by the archive's SHA-256 (the archive entries search).
    #[serde(default)]
    pub archives: std::collections::HashMap<String, Vec<String>>,
    /// The custom URL base (`PUT /api/system/configuration/baseUrl`; empty: none).
    #[serde(default)]
    pub url_base: String,
    /// The reverse proxy settings (`/api/system/configuration/webServer`), once saved.
    #[serde(default)]
    pub reverse_proxy: Option<crate::system::reverse_proxy::ReverseProxy>,
    /// The rest of the general configuration (`artifactory.config.xml`) and its revision.
    #[serde(default)]
    pub general: crate::system::descriptor::General,
    /// Checksum and property indexes (rebuilt on load, kept by [`State::apply`]).
    #[serde(skip)]
    pub index: Index,
    /// What applied mutations did, while recording is on (the live state of a store; not replay).
    #[serde(skip)]
    pub changes: Option<Vec<Event>>,
}

/// Splits `a/b/c` into its parents `["", "a", "a/b"]`.
fn parents(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut acc = String::new();
    let segs: Vec<&str> = path.split('/').collect();
    for seg in &segs[..segs.len().saturating_sub(1)] {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(seg);
        out.push(acc.clone());
    }
    out
}

/// Whether `child` is `path` or lies beneath it.
pub fn is_under(child: &str, path: &str) -> bool {
    path.is_empty()
        || child == path
        || (child.starts_with(path) && child.as_bytes()[path.len()] == b'/')
}

impl Repo {
    /// A new, empty repository with its root folder.
    pub fn new(config: RepoConfig, now: i64, user: &str) -> Repo {
        let mut items = BTreeMap::new();
        items.insert(Key::from(""), Item::folder(now, user));
        Repo { config, items }
    }

    /// Whether the repository holds deployed content (a local repository).
    pub fn is_local(&self) -> bool {
        self.config.rclass == RepoClass::Local
    }

    /// Direct children of the folder at `path`, as `(name, item)` in name order.
    pub fn children<'a>(&'a self, path: &str) -> Vec<(&'a str, &'a Item)> {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        self.from(&prefix)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k.is_empty() && !k[prefix.len()..].contains('/'))
            .map(|(k, v)| (&k[prefix.len()..], v))
            .collect()
    }

    /// Every item at or under `path` (the item itself first).
    pub fn subtree<'a>(&'a self, path: &'a str) -> impl Iterator<Item = (&'a Key, &'a Item)> + 'a {
        self.from(path)
            .take_while(move |(k, _)| k.starts_with(path))
            .filter(move |(k, _)| is_under(k, path))
    }

    /// Items from `start` on, in path order.
    pub fn from<'a>(&'a self, start: &str) -> std::collections::btree_map::Range<'a, Key, Item> {
        use std::ops::Bound;
        self.items
            .range::<str, _>((Bound::Included(start), Bound::Unbounded))
    }

    fn subtree_keys(&self, path: &str) -> Vec<Key> {
        self.subtree(path).map(|(k, _)| k.clone()).collect()
    }

    /// Makes sure every parent folder of `path` exists; fails when a file is in the way.
    fn ensure_parents(&mut self, path: &str, now: i64, user: &str) -> Result<(), TreeError> {
        for p in parents(path) {
            match self.items.get(p.as_str()) {
                Some(i) if i.is_folder() => {}
                Some(_) => return Err(TreeError::Conflict(p)),
                None => {
                    // A new folder has no properties: nothing to index.
                    self.items.insert(Key::from(p), Item::folder(now, user));
                }
            }
        }
        Ok(())
    }

    /// Sum of file sizes and counts of (files, folders) excluding the root.
    pub fn usage(&self) -> (u64, u64, u64) {
        let mut size = 0;
        let mut files = 0;
        let mut folders = 0;
        for (k, i) in &self.items {
            match &i.file {
                Some(f) => {
                    size += f.size;
                    files += 1;
                }
                None if !k.is_empty() => folders += 1,
                None => {}
            }
        }
        (size, files, folders)
    }
}

impl State {
    /// The repository with this key.
    pub fn repo(&self, key: &str) -> Option<&Repo> {
        self.repos
            .get(key)
            .or_else(|| self.repos.get(self.cache_of(key)?))
    }

    /// The remote repository whose cache `key` names (`<remote>-cache`, as Artifactory calls a
    /// remote's cache), when `key` is not a repository of its own.
    pub fn cache_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        if self.repos.contains_key(key) {
            return None;
        }
        let remote = key.strip_suffix("-cache")?;
        let r = self.repos.get(remote)?;
        (r.config.rclass == crate::config::RepoClass::Remote).then_some(remote)
    }

    /// The name searches give repository `key`'s items: a remote's are in its cache,
    /// `<key>-cache`, as Artifactory names them; any other repository's its key.
    pub fn shown_key<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        match self.repos.get(key) {
            Some(r) if r.config.rclass == crate::config::RepoClass::Remote => {
                std::borrow::Cow::Owned(format!("{key}-cache"))
            }
            _ => std::borrow::Cow::Borrowed(key),
        }
    }

    /// The item at `path` in `repo`.
    pub fn item(&self, repo: &str, path: &str) -> Option<&Item> {
        self.repo(repo)?.items.get(path)
    }

    /// The first stored file with this SHA-1 or SHA-256 (deploy by checksum), by the index.
    pub fn find_by_checksum(&self, sha1: Option<&str>, sha256: Option<&str>) -> Option<&FileData> {
        let (hits, want): (Vec<(&str, &str)>, &str) = match (sha256, sha1) {
            (Some(s), _) => (self.index.by_sha256(s).collect(), s),
            (None, Some(s)) => (self.index.by_sha1(s).collect(), s),
            (None, None) => return None,
        };
        hits.into_iter()
            .filter_map(|(r, k)| self.item(r, k)?.file.as_deref())
            .find(|f| match sha256 {
                Some(_) => f.sha256.hex().eq_ignore_ascii_case(want),
                None => f.sha1.hex().eq_ignore_ascii_case(want),
            })
    }

    /// Rebuilds every repository's map with full nodes (see [`full_nodes`]): entries added one at a
    /// time leave nodes about two-thirds full, and a long-running server does this when it writes a
    /// snapshot anyway. Entries are moved, not copied; the indexes stay valid.
    pub fn pack(&mut self) {
        for r in self.repos.values_mut() {
            r.items = std::mem::take(&mut r.items).into_iter().collect();
        }
    }

    /// Rebuilds the indexes from the tree (after a snapshot is read).
    pub fn reindex(&mut self) {
        self.index = Index::default();
        self.index
            .reserve(self.repos.values().map(|r| r.items.len()).sum());
        for r in self.repos.values_mut() {
            let repo = Sym::new(&r.config.key);
            for (k, item) in r.items.iter_mut() {
                self.index.add(&repo, k, item);
            }
        }
    }

    /// Repositories whose key equals `key` ignoring case.
    pub fn repo_ci(&self, key: &str) -> Option<&Repo> {
        self.repos
            .values()
            .find(|r| r.config.key.eq_ignore_ascii_case(key))
    }

    fn repo_mut(&mut self, key: &str) -> Result<&mut Repo, TreeError> {
        let key = self.cache_of(key).unwrap_or(key).to_string();
        self.repos
            .get_mut(&key)
            .ok_or_else(|| TreeError::NoRepo(key.to_string()))
    }

    /// Notes what a mutation did, when recording.
    fn record(&mut self, e: impl FnOnce() -> Event) {
        if let Some(c) = self.changes.as_mut() {
            c.push(e());
        }
    }

    /// Starts recording what mutations do ([`State::take_changes`] hands it over).
    pub(crate) fn record_changes(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    /// What the mutations applied since the last call did.
    pub(crate) fn take_changes(&mut self) -> Vec<Event> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Puts `item` at `path` (replacing what is there), keeping the indexes.
    fn put_item(&mut self, repo: &str, path: &str, mut item: Item) -> Result<(), TreeError> {
        if let Some(f) = &item.file {
            let (sha256, missing) = (f.sha256.to_string(), f.md5.is_empty());
            self.record(|| Event::FileWritten {
                repo: repo.to_string(),
                path: path.to_string(),
                sha256,
                checksums_missing: missing,
            });
        }
        let r = self
            .repos
            .get_mut(repo)
            .ok_or_else(|| TreeError::NoRepo(repo.to_string()))?;
        if let Some(old) = r.items.get_mut(path) {
            self.index.remove(old);
        }
        let key = Key::from(path);
        self.index.add(&Sym::new(repo), &key, &mut item);
        r.items.insert(key, item);
        Ok(())
    }

    /// Removes the item at `path`, keeping the indexes.
    fn remove_item(&mut self, repo: &str, path: &str) -> Option<Item> {
        let mut item = self.repos.get_mut(repo)?.items.remove(path)?;
        self.index.remove(&mut item);
        self.record(|| Event::Removed {
            repo: repo.to_string(),
            path: path.to_string(),
        });
        Some(item)
    }

    /// Changes the item at `path` in place, keeping the indexes.
    fn edit_item(
        &mut self,
        repo: &str,
        path: &str,
        f: impl FnOnce(&mut Item),
    ) -> Result<(), TreeError> {
        let r = self
            .repos
            .get_mut(repo)
            .ok_or_else(|| TreeError::NoRepo(repo.to_string()))?;
        let (key, item) = r
            .items
            .get_key_value(path)
            .map(|(k, _)| k.clone())
            .and_then(|k| r.items.get_mut(k.as_str()).map(|i| (k, i)))
            .ok_or(TreeError::NoItem)?;
        let mut old = item.clone();
        f(item);
        // Most edits (times, statistics, an equal property) leave the indexed values alone.
        let indexed = |i: &Item| (i.file.as_ref().map(|f| (f.sha1, f.sha256)), i.props.clone());
        if indexed(item) != indexed(&old) {
            self.index.remove(&mut old);
            self.index.add(&Sym::new(repo), &key, item);
        }
        Ok(())
    }

    /// Replaces the general configuration: refuses before changing anything if a repository
    /// would change class or type, then removes the repositories the configuration leaves out,
    /// creates and changes the others and puts them in its order.
    fn set_configuration(
        &mut self,
        d: &crate::system::descriptor::Descriptor,
        now: i64,
        user: &str,
    ) -> Result<(), TreeError> {
        let revision = self.general.revision;
        for c in &d.repos {
            if let Some(r) = self.repos.get(&c.key) {
                if r.config.rclass != c.rclass || r.config.package_type != c.package_type {
                    return Err(TreeError::Conflict(c.key.clone()));
                }
            }
        }
        let keep: std::collections::HashMap<&str, usize> = d
            .repos
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.as_str(), i))
            .collect();
        let gone: Vec<String> = self
            .repos
            .keys()
            .filter(|k| !keep.contains_key(k.as_str()))
            .cloned()
            .collect();
        for key in gone {
            self.apply(&Mutation::DeleteRepo { key })?;
        }
        for c in &d.repos {
            match self.repos.get_mut(&c.key) {
                Some(r) => r.config = c.clone(),
                None => self.apply(&Mutation::CreateRepo {
                    config: c.clone(),
                    now,
                    user: user.to_string(),
                })?,
            }
        }
        self.repos
            .sort_by_cached_key(|k, _| keep.get(k.as_str()).copied().unwrap_or(usize::MAX));
        self.url_base = d.url_base.clone();
        self.reverse_proxy = d.reverse_proxy.clone();
        self.security.lock_policy = d.lock_policy.clone();
        self.general = d.general.clone();
        self.general.revision = revision + 1;
        Ok(())
    }

    /// Validates and applies a mutation. On error nothing changed.
    pub fn apply(&mut self, m: &Mutation) -> Result<(), TreeError> {
        match m {
            Mutation::CreateRepo { config, now, user } => {
                if self.repo_ci(&config.key).is_some() {
                    return Err(TreeError::RepoExists);
                }
                let repo = Repo::new(config.clone(), *now, user);
                self.repos.insert(config.key.clone(), repo);
                self.general.revision += 1;
                Ok(())
            }
            Mutation::UpdateRepo { config } => {
                let repo = self.repo_mut(&config.key)?;
                repo.config = config.clone();
                self.general.revision += 1;
                Ok(())
            }
            Mutation::DeleteRepo { key } => {
                let mut gone = self
                    .repos
                    .shift_remove(key)
                    .ok_or_else(|| TreeError::NoRepo(key.clone()))?;
                for item in gone.items.values_mut() {
                    self.index.remove(item);
                }
                self.record(|| Event::RepoDeleted { key: key.clone() });
                self.general.revision += 1;
                // Virtual repositories forget the deleted member.
                for r in self.repos.values_mut() {
                    r.config.repositories.retain(|m| m != key);
                    if r.config.default_deployment_repo.as_deref() == Some(key) {
                        r.config.default_deployment_repo = None;
                    }
                }
                Ok(())
            }
            Mutation::PutFile {
                repo,
                path,
                file,
                props,
                now,
                user,
                stamp,
            } => {
                // A blob stored with SHA-256 only gets the checksums computed for it meanwhile.
                let mut file = file.clone();
                if file.md5.is_empty() {
                    if let Some([sha1, md5]) = self.filled.get(file.sha256.hex().as_str()) {
                        file.sha1 = sha1.into();
                        file.md5 = md5.into();
                    }
                }
                let r = self.repo_mut(repo)?;
                if path.is_empty() {
                    return Err(TreeError::Conflict(String::new()));
                }
                if let Some(existing) = r.items.get(path.as_str()) {
                    if existing.is_folder() {
                        return Err(TreeError::Conflict(path.clone()));
                    }
                }
                r.ensure_parents(path, *now, user)?;
                let created = r
                    .items
                    .get(path.as_str())
                    .map(|i| (i.created, i.created_by.clone()));
                let (created, created_by) = created.unwrap_or_else(|| (*now, Sym::new(user)));
                let item = Item {
                    created: stamp.created.unwrap_or(created),
                    created_by,
                    modified: stamp.modified.unwrap_or(*now),
                    modified_by: Sym::new(stamp.modified_by.as_deref().unwrap_or(user)),
                    updated: *now,
                    props: props.clone(),
                    file: Some(Box::new(FileData {
                        stats: None,
                        ..file
                    })),
                    id: 0,
                };
                self.put_item(repo, path, item)
            }
            Mutation::FillChecksums { sha256, sha1, md5 } => {
                let places: Vec<(String, String)> = self
                    .index
                    .by_sha256(sha256)
                    .map(|(r, k)| (r.to_string(), k.to_string()))
                    .collect();
                for (r, k) in places {
                    let _ = self.edit_item(&r, &k, |i| {
                        if let Some(f) = i.file.as_mut().filter(|f| f.sha256 == *sha256) {
                            if f.md5.is_empty() {
                                f.sha1 = sha1.into();
                                f.md5 = md5.into();
                            }
                        }
                    });
                }
                self.filled
                    .insert(sha256.clone(), [sha1.clone(), md5.clone()]);
                Ok(())
            }
            Mutation::SetUrlBase { url } => {
                self.url_base = url.clone();
                self.general.revision += 1;
                Ok(())
            }
            Mutation::SetReverseProxy { proxy } => {
                self.reverse_proxy = Some(proxy.clone());
                self.general.revision += 1;
                Ok(())
            }
            Mutation::SetConfiguration {
                descriptor,
                now,
                user,
            } => self.set_configuration(descriptor, *now, user),
            Mutation::IndexArchive { sha256, entries } => {
                self.archives.insert(sha256.clone(), entries.clone());
                Ok(())
            }
            Mutation::MakeFolder {
                repo,
                path,
                props,
                now,
                user,
                stamp,
            } => {
                let r = self.repo_mut(repo)?;
                if let Some(existing) = r.items.get(path.as_str()) {
                    if !existing.is_folder() {
                        return Err(TreeError::Conflict(path.clone()));
                    }
                }
                if !path.is_empty() {
                    r.ensure_parents(path, *now, user)?;
                }
                if !r.items.contains_key(path.as_str()) {
                    r.items.insert(Key::from(path), Item::folder(*now, user));
                }
                self.edit_item(repo, path, |item| {
                    item.props.replace_keys(props);
                    if let Some(c) = stamp.created {
                        item.created = c;
                    }
                    if let Some(m) = stamp.modified {
                        item.modified = m;
                    }
                    if let Some(by) = &stamp.modified_by {
                        item.modified_by = Sym::new(by);
                    }
                })
            }
            Mutation::Delete { repo, path } => {
                let r = self.repo_mut(repo)?;
                if !r.items.contains_key(path.as_str()) {
                    return Err(TreeError::NoItem);
                }
                for k in r.subtree_keys(path) {
                    if !k.is_empty() {
                        self.remove_item(repo, &k);
                    }
                }
                if path.is_empty() {
                    self.edit_item(repo, "", |root| root.props = Props::default())?;
                }
                Ok(())
            }
            Mutation::EditProps {
                repo,
                path,
                set,
                remove,
                recursive,
                now,
            } => {
                let r = self.repo_mut(repo)?;
                for k in targets(r, path, *recursive)? {
                    self.edit_item(repo, &k, |item| {
                        for key in remove {
                            item.props.remove(key);
                        }
                        item.props.replace_keys(set);
                        item.updated = *now;
                    })?;
                }
                Ok(())
            }
            Mutation::Download {
                repo,
                path,
                now,
                user,
            } => {
                let r = self.repo_mut(repo)?;
                let item = r.items.get_mut(path.as_str()).ok_or(TreeError::NoItem)?;
                // Only files are downloaded.
                let file = item.file.as_mut().ok_or(TreeError::NoItem)?;
                let stats = file.stats.get_or_insert_with(Box::default);
                stats.downloads += 1;
                stats.last_downloaded = *now;
                stats.last_downloaded_by = Some(Sym::new(user));
                Ok(())
            }
            Mutation::SetStats {
                repo,
                path,
                downloads,
                last_downloaded,
                last_downloaded_by,
            } => {
                let r = self.repo_mut(repo)?;
                let item = r.items.get_mut(path.as_str()).ok_or(TreeError::NoItem)?;
                let file = item.file.as_mut().ok_or(TreeError::NoItem)?;
                file.stats = (*downloads > 0).then(|| {
                    Box::new(Stats {
                        downloads: *downloads,
                        last_downloaded: *last_downloaded,
                        last_downloaded_by: last_downloaded_by.as_deref().map(Sym::new),
                    })
                });
                Ok(())
            }
            Mutation::SetApiKey { user, key } => {
                self.api_keys.insert(user.clone(), key.clone());
                Ok(())
            }
            Mutation::RevokeApiKey { user: Some(user) } => self
                .api_keys
                .remove(user)
                .map(|_| ())
                .ok_or(TreeError::NoItem),
            Mutation::RevokeApiKey { user: None } => {
                self.api_keys.clear();
                Ok(())
            }
            Mutation::Batch { steps } => {
                // A step the state has meanwhile made moot (a path already deleted by a concurrent
                // request) is skipped, the same way live and on replay, so memory and journal agree
                // and a batch never stops half-way.
                for m in steps {
                    if let Err(e) = self.apply(m) {
                        tracing::debug!("batch step skipped: {e:?}");
                    }
                }
                Ok(())
            }
            Mutation::Security(change) => {
                self.security
                    .apply(change)
                    .map_err(|SecurityError::Missing(_)| TreeError::NoItem)?;
                if let SecurityChange::DeleteUser { name } = change {
                    self.api_keys.remove(name);
                }
                Ok(())
            }
            Mutation::Transfer {
                src_repo,
                src_path,
                dst_repo,
                dst_path,
                mv,
                now,
                user,
            } => self.transfer(src_repo, src_path, dst_repo, dst_path, *mv, *now, user),
        }
    }

    /// Copies or moves a subtree (see [`Mutation::Transfer`]).
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &mut self,
        src_repo: &str,
        src_path: &str,
        dst_repo: &str,
        dst_path: &str,
        mv: bool,
        now: i64,
        user: &str,
    ) -> Result<(), TreeError> {
        let src = self
            .repos
            .get(src_repo)
            .ok_or_else(|| TreeError::NoRepo(src_repo.to_string()))?;
        if !src.items.contains_key(src_path) {
            return Err(TreeError::NoItem);
        }
        let moved: Vec<(String, Item)> = src
            .subtree(src_path)
            .map(|(k, v)| {
                (
                    k[src_path.len()..].trim_start_matches('/').to_string(),
                    v.clone(),
                )
            })
            .collect();
        let dst = self
            .repos
            .get(dst_repo)
            .ok_or_else(|| TreeError::NoRepo(dst_repo.to_string()))?;
        // Check for file/folder clashes before changing anything.
        for (rel, item) in &moved {
            let target = join(dst_path, rel);
            if let Some(existing) = dst.items.get(target.as_str()) {
                if existing.is_folder() != item.is_folder() {
                    return Err(TreeError::Conflict(target));
                }
            }
        }
        for p in parents(dst_path) {
            if dst.items.get(p.as_str()).is_some_and(|i| !i.is_folder()) {
                return Err(TreeError::Conflict(p));
            }
        }
        if mv && src_repo == dst_repo && is_under(dst_path, src_path) {
            return Err(TreeError::Conflict(dst_path.to_string()));
        }
        if mv {
            for k in self.repo_mut(src_repo)?.subtree_keys(src_path) {
                if !k.is_empty() {
                    self.remove_item(src_repo, &k);
                }
            }
        }
        let d = self.repo_mut(dst_repo)?;
        if !dst_path.is_empty() {
            d.ensure_parents(dst_path, now, user)?;
        }
        let by = Sym::new(user);
        for (rel, mut item) in moved {
            let target = join(dst_path, &rel);
            if !mv {
                item.created = now;
                item.created_by = by.clone();
                if let Some(f) = item.file.as_mut() {
                    f.stats = None;
                }
            }
            item.modified = now;
            item.modified_by = by.clone();
            item.updated = now;
            let folder_there = self
                .item(dst_repo, &target)
                .is_some_and(|existing| existing.is_folder());
            if folder_there && item.is_folder() {
                self.edit_item(dst_repo, &target, |existing| {
                    existing.props.replace_keys(&item.props)
                })?;
            } else {
                self.put_item(dst_repo, &target, item)?;
            }
        }
        Ok(())
    }
}

fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}/{rel}"),
    }
}

fn targets(r: &Repo, path: &str, recursive: bool) -> Result<Vec<Key>, TreeError> {
    let item = r.items.get(path).ok_or(TreeError::NoItem)?;
    if recursive && item.is_folder() {
        Ok(r.subtree_keys(path))
    } else {
        Ok(vec![Key::from(path)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PackageType;

    fn state() -> State {
        let mut s = State::default();
        let config = RepoConfig::new("r", RepoClass::Local, PackageType::Generic);
        s.apply(&Mutation::CreateRepo {
            config,
            now: 1,
            user: "admin".into(),
        })
        .unwrap();
        s
    }

    fn file(size: u64) -> FileData {
        FileData {
            size,
            sha1: "a".repeat(40).into(),
            md5: "b".repeat(32).into(),
            sha256: "c".repeat(64).into(),
            original: None,
            mime: "application/octet-stream".into(),
            stats: None,
        }
    }

    fn put(s: &mut State, path: &str) -> Result<(), TreeError> {
        s.apply(&Mutation::PutFile {
            repo: "r".into(),
            path: path.into(),
            file: file(3),
            props: Props::default(),
            now: 2,
            user: "admin".into(),
            stamp: Stamp::default(),
        })
    }

    /// Packing and a snapshot read back keep every entry and leave the indexes working.
    #[test]
    fn packed_and_restored_trees_hold_the_same_entries() {
        let mut s = state();
        for i in (0..300).rev() {
            put(&mut s, &format!("d{}/f{i}.txt", i % 7)).unwrap();
        }
        let before = s.repo("r").unwrap().items.clone();
        s.pack();
        assert!(s.repo("r").unwrap().items == before);
        assert_eq!(s.index.by_sha1(&"a".repeat(40)).count(), 300);
        let json = serde_json::to_vec(&s.repos).unwrap();
        let mut back = State {
            repos: serde_json::from_slice(&json).unwrap(),
            ..State::default()
        };
        back.reindex();
        // Index ids are given again in tree order, and are not written.
        let text = |r: &Repo| serde_json::to_string(&r.items).unwrap();
        assert_eq!(back.repo("r").map(text), s.repo("r").map(text));
        assert_eq!(back.index.by_sha1(&"a".repeat(40)).count(), 300);
        let bad = br#"{"r":{"config":null,"items":[1]}}"#;
        assert!(serde_json::from_slice::<IndexMap<String, Repo>>(bad).is_err());
    }

    /// Checksums sharing their index key (the first 8 hex digits) are told apart by their value.
    #[test]
    fn checksums_with_the_same_index_key_are_told_apart() {
        let mut s = state();
        for (name, tail) in [("one", "1"), ("two", "2")] {
            let sum = format!("abcdef01{}", tail.repeat(56));
            s.apply(&Mutation::PutFile {
                repo: "r".into(),
                path: name.into(),
                file: FileData {
                    sha1: sum[..40].into(),
                    sha256: sum.as_str().into(),
                    ..file(1)
                },
                props: Props::default(),
                now: 2,
                user: "admin".into(),
                stamp: Stamp::default(),
            })
            .unwrap();
        }
        let two = format!("abcdef01{}", "2".repeat(56));
        assert_eq!(s.index.by_sha256(&two).count(), 2);
        assert_eq!(s.index.by_sha1(&two[..40]).count(), 2);
        let found = s.find_by_checksum(None, Some(&two)).unwrap();
        assert_eq!(found.sha256, two);
        let found = s.find_by_checksum(Some(&two[..40]), None).unwrap();
        assert_eq!(found.sha256, two);
        assert!(s
            .find_by_checksum(Some(&"abcdef01".repeat(5)), None)
            .is_none());
    }

    #[test]
    fn deploy_creates_parents_and_children_are_direct() {
        let mut s = state();
        put(&mut s, "a/b/c.txt").unwrap();
        put(&mut s, "a/d.txt").unwrap();
        put(&mut s, "a-b.txt").unwrap();
        let r = s.repo("r").unwrap();
        let names: Vec<&str> = r.children("a").iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["b", "d.txt"]);
        let root: Vec<&str> = r.children("").iter().map(|(n, _)| *n).collect();
        assert_eq!(root, ["a", "a-b.txt"]);
        assert!(s.item("r", "a/b").unwrap().is_folder());
    }

    #[test]
    fn file_in_the_way_is_a_conflict_and_changes_nothing() {
        let mut s = state();
        put(&mut s, "a").unwrap();
        let before = s.repo("r").unwrap().items.len();
        assert_eq!(put(&mut s, "a/b"), Err(TreeError::Conflict("a".into())));
        assert_eq!(s.repo("r").unwrap().items.len(), before);
    }

    #[test]
    fn delete_is_recursive_and_prefix_safe() {
        let mut s = state();
        put(&mut s, "a/b/c").unwrap();
        put(&mut s, "ab/c").unwrap();
        s.apply(&Mutation::Delete {
            repo: "r".into(),
            path: "a".into(),
        })
        .unwrap();
        assert!(s.item("r", "a/b/c").is_none());
        assert!(s.item("r", "ab/c").is_some());
    }

    #[test]
    fn props_dedupe_and_sort() {
        let mut p = Props::default();
        p.add("z", "1");
        p.add("a", "2");
        p.add("a", "2");
        p.add("a", "1");
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"a":["2","1"],"z":["1"]}"#
        );
        let bulk = Props::from_pairs([("z", "1"), ("a", "2"), ("a", "2"), ("a", "1")]);
        assert_eq!(bulk, p);
        let mut q = Props::from_pairs([("a", "9"), ("b", "1")]);
        q.replace_keys(&Props::from_pairs([("a", "3"), ("a", "2"), ("c", "1")]));
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"{"a":["3","2"],"b":["1"],"c":["1"]}"#
        );
        // Older journals recorded a key without values; it reads back holding one empty value.
        let old: Props = serde_json::from_str(r#"{"k":[],"a":["x","x"]}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"a":["x"],"k":[""]}"#
        );
        // A file without client checksums is written with an object of nulls, as before.
        let f = serde_json::to_value(file(1)).unwrap();
        assert_eq!(
            f["original"],
            serde_json::json!({"sha1": null, "md5": null, "sha256": null})
        );
        let back: FileData = serde_json::from_value(f).unwrap();
        assert!(back.original.is_none());
        // Many values of one key are settled in one go, not one insertion at a time.
        let many = Props::from_pairs((0..100_000).map(|i| ("k", (i % 50_000).to_string())));
        assert_eq!(many.get("k").count(), 50_000);
    }

    /// Every `(repository, path)` whose file or properties hold `want`, by a full scan.
    fn scan(s: &State, want: &dyn Fn(&Item) -> bool) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = s
            .repos
            .values()
            .flat_map(|r| r.items.iter().map(move |(k, i)| (r, k, i)))
            .filter(|(_, _, i)| want(i))
            .map(|(r, k, _)| (r.config.key.clone(), k.to_string()))
            .collect();
        out.sort();
        out
    }

    /// What the indexes answer, checked against the real values as searches do.
    fn looked_up<'a>(
        s: &State,
        found: impl Iterator<Item = (&'a str, &'a str)>,
        want: &dyn Fn(&Item) -> bool,
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = found
            .filter(|(r, k)| s.item(r, k).is_some_and(want))
            .map(|(r, k)| (r.to_string(), k.to_string()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn indexes_agree_with_scans(s: &State) {
        for n in 0..3u8 {
            let sum = format!("{n:x}").repeat(64);
            let sha1 = |i: &Item| i.file.as_ref().is_some_and(|f| f.sha1 == sum[..40]);
            assert_eq!(
                looked_up(s, s.index.by_sha1(&sum[..40]), &sha1),
                scan(s, &sha1)
            );
            let sha256 = |i: &Item| i.file.as_ref().is_some_and(|f| f.sha256 == sum);
            assert_eq!(
                looked_up(s, s.index.by_sha256(&sum), &sha256),
                scan(s, &sha256)
            );
            for v in ["x", "y"] {
                let prop = |i: &Item| i.props.get("k").any(|h| h == v);
                assert_eq!(looked_up(s, s.index.by_prop("k", v), &prop), scan(s, &prop));
            }
        }
        let files = |i: &Item| !i.is_folder();
        let all = s
            .index
            .named(|_| true)
            .inspect(|(_, k, name)| assert!(k.ends_with(name)));
        let all = all.map(|(r, k, _)| (r, k));
        assert_eq!(looked_up(s, all, &files), scan(s, &files));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever the mutations, the indexes name exactly the items a scan finds, and a rebuild
        /// from the tree gives the same answers.
        #[test]
        fn indexes_follow_every_mutation(steps in proptest::collection::vec((0u8..8, 0u8..6, 0u8..3, 0u8..2), 1..40)) {
            let mut s = state();
            let other = RepoConfig::new("o", RepoClass::Local, PackageType::Generic);
            s.apply(&Mutation::CreateRepo { config: other.clone(), now: 1, user: "u".into() }).unwrap();
            let paths = ["a", "a/b", "a/b/c", "d", "d/e", "f"];
            for (op, p, n, v) in steps {
                let path = paths[p as usize].to_string();
                let sum = format!("{n:x}").repeat(64);
                let mut props = Props::default();
                props.add("k", ["x", "y"][v as usize]);
                let repo = if v == 0 { "r" } else { "o" }.to_string();
                let m = match op {
                    0 | 1 => Mutation::PutFile {
                        repo, path,
                        file: FileData { sha1: if op == 1 { Sha1::default() } else { sum[..40].into() },
                                         md5: Md5::default(), sha256: sum.as_str().into(), ..file(1) },
                        props, now: 2, user: "u".into(), stamp: Stamp::default(),
                    },
                    2 => Mutation::Delete { repo, path },
                    3 => Mutation::EditProps { repo, path, set: props, remove: vec![], recursive: v == 1, now: 3 },
                    4 => Mutation::EditProps { repo, path, set: Props::default(), remove: vec!["k".into()], recursive: true, now: 3 },
                    5 => Mutation::Transfer { src_repo: "r".into(), src_path: path, dst_repo: "o".into(),
                                              dst_path: paths[n as usize].into(), mv: v == 1, now: 4, user: "u".into() },
                    6 => Mutation::FillChecksums { sha256: sum.clone(), sha1: sum[..40].into(), md5: "m".into() },
                    _ => Mutation::MakeFolder { repo, path, props, now: 5, user: "u".into(), stamp: Stamp::default() },
                };
                let _ = s.apply(&m);
                indexes_agree_with_scans(&s);
            }
            s.apply(&Mutation::DeleteRepo { key: "o".into() }).unwrap();
            indexes_agree_with_scans(&s);
            let mut rebuilt = s.clone();
            rebuilt.reindex();
            indexes_agree_with_scans(&rebuilt);
        }
    }
}
