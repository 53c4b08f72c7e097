//! Secondary indexes over the item tree, kept by [`super::State::apply`] so searches and deploy by
//! checksum look values up instead of scanning every item: SHA-1, SHA-256 and `(key, value)`
//! properties, each mapping to item ids; an id names a `(repository, path)` slot. Only files and
//! items with properties get an id. Indexes are never serialised: they are rebuilt after a snapshot
//! is read and then follow every mutation.
//!
//! Keys are 64-bit digests of the value (the first 16 hex digits of a checksum, a hash of a
//! property), so a lookup may return extra candidates; callers compare the real values.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::sym::{Key, Sym};
use super::tree::Item;

/// Item ids under one indexed value (most values have one item).
#[derive(Clone, Debug)]
enum Ids {
    One(u32),
    Many(Vec<u32>),
}

impl Ids {
    fn add(&mut self, id: u32) {
        match self {
            Ids::One(x) if *x != id => *self = Ids::Many(vec![id.min(*x), id.max(*x)]),
            Ids::One(_) => {}
            // Kept sorted: a popular value (a build name on thousands of files) stays cheap to edit.
            Ids::Many(v) => {
                if let Err(at) = v.binary_search(&id) {
                    v.insert(at, id)
                }
            }
        }
    }

    /// Removes `id`; true when nothing is left.
    fn remove(&mut self, id: u32) -> bool {
        match self {
            Ids::One(x) => *x == id,
            Ids::Many(v) => {
                if let Ok(at) = v.binary_search(&id) {
                    v.remove(at);
                }
                match v.as_slice() {
                    [] => true,
                    [one] => {
                        *self = Ids::One(*one);
                        false
                    }
                    _ => false,
                }
            }
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Ids::One(x) => std::slice::from_ref(x),
            Ids::Many(v) => v,
        }
    }
}

/// Where an id points: the repository, the path, and the name's place in the names arena.
#[derive(Clone, Debug)]
struct Slot {
    repo: Sym,
    key: Key,
    name: (u32, u32),
}

/// The indexes of one state.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Id → slot; id 0 is never used.
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// The names of indexed items, one after another, so a name search reads one contiguous block
    /// instead of one scattered path per item; space of removed names is reclaimed by compaction.
    names: String,
    dead: usize,
    sha1: HashMap<u64, Ids>,
    sha256: HashMap<u64, Ids>,
    props: HashMap<u64, Ids>,
}

/// The index key of a hex checksum (its first 16 digits), `None` when it is not hex.
fn checksum_key(hex: &str) -> Option<u64> {
    let head = hex.get(..16.min(hex.len()))?;
    if head.is_empty() {
        return None;
    }
    u64::from_str_radix(head, 16).ok()
}

/// Values are indexed lower-cased, so one lookup serves exact (AQL) and case-insensitive (property
/// search) matching.
fn prop_key(key: &str, value: &str) -> u64 {
    // A fixed hasher: the same value gives the same key for the life of the process.
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    if value.is_ascii() {
        for b in value.bytes() {
            h.write_u8(b.to_ascii_lowercase());
        }
    } else {
        h.write(value.to_lowercase().as_bytes());
    }
    h.finish()
}

fn put(map: &mut HashMap<u64, Ids>, k: u64, id: u32) {
    map.entry(k)
        .and_modify(|ids| ids.add(id))
        .or_insert(Ids::One(id));
}

fn take(map: &mut HashMap<u64, Ids>, k: u64, id: u32) {
    if map.get_mut(&k).is_some_and(|ids| ids.remove(id)) {
        map.remove(&k);
    }
}

impl Index {
    /// Indexes `item` at `(repo, key)` (giving it an id) when it is a file or has properties.
    pub fn add(&mut self, repo: &Sym, key: &Key, item: &mut Item) {
        item.id = 0;
        if item.file.is_none() && item.props.is_empty() {
            return;
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        let slot = Slot {
            repo: repo.clone(),
            key: key.clone(),
            name: (self.names.len() as u32, name.len() as u32),
        };
        self.names.push_str(name);
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                if self.slots.is_empty() {
                    self.slots.push(None);
                }
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        item.id = id;
        self.values(item, |map, k| put(map, k, id));
    }

    /// Forgets `item` (before it changes or goes).
    pub fn remove(&mut self, item: &mut Item) {
        let id = std::mem::take(&mut item.id);
        if id == 0 {
            return;
        }
        self.values(item, |map, k| take(map, k, id));
        if let Some(slot) = self.slots.get_mut(id as usize).and_then(Option::take) {
            self.free.push(id);
            self.dead += slot.name.1 as usize;
            if self.dead > (1 << 20) && self.dead > self.names.len() / 2 {
                self.compact_names();
            }
        }
    }

    fn compact_names(&mut self) {
        let mut names = String::with_capacity(self.names.len() - self.dead);
        for slot in self.slots.iter_mut().flatten() {
            let (at, len) = (slot.name.0 as usize, slot.name.1 as usize);
            slot.name.0 = names.len() as u32;
            names.push_str(&self.names[at..at + len]);
        }
        self.names = names;
        self.dead = 0;
    }

    fn values(&mut self, item: &Item, mut f: impl FnMut(&mut HashMap<u64, Ids>, u64)) {
        if let Some(file) = item.file.as_deref() {
            if let Some(k) = checksum_key(&file.sha1) {
                f(&mut self.sha1, k);
            }
            if let Some(k) = checksum_key(&file.sha256) {
                f(&mut self.sha256, k);
            }
        }
        for (k, v) in item.props.pairs() {
            f(&mut self.props, prop_key(k, v));
        }
    }

    fn slots_of<'a>(&'a self, ids: Option<&'a Ids>) -> impl Iterator<Item = (&'a str, &'a str)> {
        ids.map(Ids::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|id| self.slots.get(*id as usize)?.as_ref())
            .map(|s| (s.repo.as_str(), s.key.as_str()))
    }

    /// Candidate `(repository, path)`s of files with this SHA-1 (compare the real value).
    pub fn by_sha1(&self, hex: &str) -> impl Iterator<Item = (&str, &str)> {
        let ids = checksum_key(hex).and_then(|k| self.sha1.get(&k));
        self.slots_of(ids)
    }

    /// Candidate `(repository, path)`s of files with this SHA-256.
    pub fn by_sha256(&self, hex: &str) -> impl Iterator<Item = (&str, &str)> {
        let ids = checksum_key(hex).and_then(|k| self.sha256.get(&k));
        self.slots_of(ids)
    }

    /// Candidate `(repository, path)`s of items with the property `key` = `value` (any case).
    pub fn by_prop(&self, key: &str, value: &str) -> impl Iterator<Item = (&str, &str)> {
        self.slots_of(self.props.get(&prop_key(key, value)))
    }

    /// Every indexed item as `(repository, path, name)`: all files and the folders with properties.
    /// Reading only the names touches one contiguous block.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.slots.iter().flatten().map(|s| {
            let (at, len) = (s.name.0 as usize, s.name.1 as usize);
            (s.repo.as_str(), s.key.as_str(), &self.names[at..at + len])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tree::Item;

    #[test]
    fn id_lists_shrink_back_to_one_and_vanish() {
        let mut ids = Ids::One(3);
        ids.add(3);
        ids.add(5);
        ids.add(1);
        assert_eq!(ids.as_slice(), [1, 3, 5]);
        assert!(!ids.remove(1));
        assert!(!ids.remove(3));
        assert!(matches!(ids, Ids::One(5)));
        assert!(ids.remove(5));
        assert_eq!(checksum_key("ABCDEF0123456789ff"), Some(0xabcdef0123456789));
        assert_eq!(checksum_key(""), None);
        assert_eq!(checksum_key("not hex"), None);
    }

    #[test]
    fn names_survive_compaction() {
        let mut index = Index::default();
        let repo = Sym::new("r");
        let mut items: Vec<(Key, Item)> = (0..40_000)
            .map(|i| {
                let key = Key::from(format!("dir/{i:0>40}.bin"));
                let mut item = Item::folder(0, "u");
                item.props.add("k", "v");
                index.add(&repo, &key, &mut item);
                (key, item)
            })
            .collect();
        for (i, (_, item)) in items.iter_mut().enumerate() {
            if i % 4 != 0 {
                index.remove(item);
            }
        }
        // 1.76 MB of names, 1.32 MB of them removed: compacted once more than 1 MB and half were dead.
        assert!(index.names.len() < 800_000, "{}", index.names.len());
        let mut live = 0;
        for (_, key, name) in index.all() {
            assert!(key.ends_with(name) && name.len() == 44, "{key} {name}");
            live += 1;
        }
        assert_eq!(live, 10_000);
        assert_eq!(index.by_prop("k", "V").count(), 10_000);
    }
}
