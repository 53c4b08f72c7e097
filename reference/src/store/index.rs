//! Secondary indexes over the item tree, kept by [`super::State::apply`] so searches and deploy by
//! checksum look values up instead of scanning every item: SHA-1, SHA-256 and `(key, value)`
//! properties, each mapping to item ids; an id names a `(repository, path)` slot. Only files and
//! items with properties get an id. Indexes are never serialised: they are rebuilt after a snapshot
//! is read and then follow every mutation.
//!
//! Keys are 32-bit digests of the value (the first 8 hex digits of a checksum, a hash of a
//! property), so a lookup may return extra candidates (a few hundred pairs of a million files share
//! a key); callers compare the real values. 32 bits rather than 64 halve the maps' entries.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::sym::{Key, Sym};
use super::tree::Item;

/// Item ids by value key. Most values name one item, so the first id sits in a compact map (16 bytes
/// an entry); values shared by several items keep the others in an ordered set, so a value on
/// hundreds of thousands of files (a build name) stays cheap to add to and remove from.
#[derive(Clone, Debug, Default)]
struct Multi {
    first: HashMap<u32, u32, Mixed>,
    more: HashMap<u32, BTreeSet<u32>, Mixed>,
}

/// The keys are already digests (of a checksum or a property), evenly spread: one multiplication
/// spreads them over the hash's 64 bits, where SipHash would cost a start at a million items a
/// tenth of a second. Colliding keys share an entry anyway (`more`), whatever the hasher.
type Mixed = BuildHasherDefault<MixHasher>;

#[derive(Default)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (u64::from(n) ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Multi {
    /// Room for `n` more keys.
    fn reserve(&mut self, n: usize) {
        self.first.reserve(n);
    }

    fn add(&mut self, k: u32, id: u32) {
        match self.first.get(&k) {
            None => {
                self.first.insert(k, id);
            }
            Some(x) if *x == id => {}
            Some(_) => {
                self.more.entry(k).or_default().insert(id);
            }
        }
    }

    fn remove(&mut self, k: u32, id: u32) {
        if self.first.get(&k) == Some(&id) {
            match self.more.get_mut(&k).and_then(BTreeSet::pop_first) {
                Some(x) => self.first.insert(k, x),
                None => self.first.remove(&k),
            };
        } else if let Some(v) = self.more.get_mut(&k) {
            v.remove(&id);
        }
        if self.more.get(&k).is_some_and(BTreeSet::is_empty) {
            self.more.remove(&k);
        }
    }

    fn get(&self, k: u32) -> impl Iterator<Item = u32> + '_ {
        let more = self.more.get(&k).into_iter().flatten().copied();
        self.first.get(&k).copied().into_iter().chain(more)
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
    sha1: Multi,
    sha256: Multi,
    props: Multi,
}

/// The index key of a hex checksum (its first 8 digits), `None` when it is not hex.
fn checksum_key(hex: &str) -> Option<u32> {
    let head = hex.get(..8.min(hex.len()))?;
    if head.is_empty() {
        return None;
    }
    u32::from_str_radix(head, 16).ok()
}

/// Values are indexed lower-cased, so one lookup serves exact (AQL) and case-insensitive (property
/// search) matching.
fn prop_key(key: &str, value: &str) -> u32 {
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
    let x = h.finish();
    (x ^ (x >> 32)) as u32
}

impl Index {
    /// Room for `n` more indexed items (a start reindexing a snapshot grows nothing step by step).
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        self.sha1.reserve(n);
        self.sha256.reserve(n);
    }

    /// Indexes `item` at `(repo, key)` (giving it an id) when it is a file or has properties.
    pub fn add(&mut self, repo: &Sym, key: &Key, item: &mut Item) {
        item.id = 0;
        if item.file.is_none() && item.props.is_empty() {
            return;
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        if self.names.len() + name.len() > u32::MAX as usize && self.dead > 0 {
            self.compact_names();
        }
        // Past 4 GiB of names (offsets are 32-bit) a name is read from its path instead.
        let name = match u32::try_from(self.names.len() + name.len()) {
            Ok(_) => {
                self.names.push_str(name);
                ((self.names.len() - name.len()) as u32, name.len() as u32)
            }
            Err(_) => (u32::MAX, 0),
        };
        let slot = Slot {
            repo: repo.clone(),
            key: key.clone(),
            name,
        };
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
        self.values(item, |map, k| map.add(k, id));
    }

    /// Forgets `item` (before it changes or goes).
    pub fn remove(&mut self, item: &mut Item) {
        let id = std::mem::take(&mut item.id);
        if id == 0 {
            return;
        }
        self.values(item, |map, k| map.remove(k, id));
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
            if slot.name.0 == u32::MAX {
                continue;
            }
            let (at, len) = (slot.name.0 as usize, slot.name.1 as usize);
            let name = self.names.get(at..at + len).unwrap_or_default();
            match u32::try_from(names.len() + name.len()) {
                Ok(_) => {
                    slot.name.0 = names.len() as u32;
                    names.push_str(name);
                }
                Err(_) => slot.name = (u32::MAX, 0),
            }
        }
        self.names = names;
        self.dead = 0;
    }

    fn values(&mut self, item: &Item, mut f: impl FnMut(&mut Multi, u32)) {
        if let Some(file) = item.file.as_deref() {
            if let Some(k) = file.sha1.head() {
                f(&mut self.sha1, k);
            }
            if let Some(k) = file.sha256.head() {
                f(&mut self.sha256, k);
            }
        }
        for (k, v) in item.props.pairs() {
            f(&mut self.props, prop_key(k, v));
        }
    }

    fn slots_of<'a>(
        &'a self,
        map: &'a Multi,
        k: Option<u32>,
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        k.into_iter()
            .flat_map(|k| map.get(k))
            .filter_map(|id| self.slots.get(id as usize)?.as_ref())
            .map(|s| (s.repo.as_str(), s.key.as_str()))
    }

    /// Candidate `(repository, path)`s of files with this SHA-1 (compare the real value).
    pub fn by_sha1(&self, hex: &str) -> impl Iterator<Item = (&str, &str)> {
        self.slots_of(&self.sha1, checksum_key(hex))
    }

    /// Candidate `(repository, path)`s of files with this SHA-256.
    pub fn by_sha256(&self, hex: &str) -> impl Iterator<Item = (&str, &str)> {
        self.slots_of(&self.sha256, checksum_key(hex))
    }

    /// Candidate `(repository, path)`s of items with the property `key` = `value` (any case).
    pub fn by_prop(&self, key: &str, value: &str) -> impl Iterator<Item = (&str, &str)> {
        self.slots_of(&self.props, Some(prop_key(key, value)))
    }

    /// Indexed items (all files and the folders with properties) whose name `keep`s, as
    /// `(repository, path, name)`. Only the names are read until one is kept: they sit in one
    /// contiguous block, while reaching a path means a jump to its own allocation.
    pub fn named<'a: 'k, 'k>(
        &'a self,
        keep: impl Fn(&str) -> bool + 'k,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'k {
        self.slots.iter().flatten().filter_map(move |s| {
            let (at, len) = (s.name.0 as usize, s.name.1 as usize);
            let name = match self.names.get(at..at + len) {
                Some(n) if s.name.0 != u32::MAX => n,
                _ => s.key.rsplit('/').next().unwrap_or(&s.key),
            };
            keep(name).then(|| (s.repo.as_str(), s.key.as_str(), name))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tree::Item;

    #[test]
    fn shared_values_keep_every_id_and_vanish_when_empty() {
        let mut m = Multi::default();
        m.add(7, 3);
        m.add(7, 3);
        m.add(7, 5);
        m.add(7, 1);
        assert_eq!(m.get(7).collect::<Vec<_>>(), [3, 1, 5]);
        m.remove(7, 3);
        assert_eq!(m.get(7).collect::<Vec<_>>(), [1, 5]);
        // A value on many items: adding and removing stay cheap (not a shifting list).
        for id in 100..200_100 {
            m.add(8, id);
        }
        for id in 100..200_100 {
            m.remove(8, id);
        }
        assert_eq!(m.get(8).count(), 0);
        m.remove(7, 5);
        m.remove(7, 9);
        assert_eq!(m.get(7).collect::<Vec<_>>(), [1]);
        m.remove(7, 1);
        assert_eq!(m.get(7).count(), 0);
        assert!(m.first.is_empty() && m.more.is_empty());
        assert_eq!(checksum_key("ABCDEF0123456789ff"), Some(0xabcdef01));
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
        for (_, key, name) in index.named(|_| true) {
            assert!(key.ends_with(name) && name.len() == 44, "{key} {name}");
            live += 1;
        }
        assert_eq!(live, 10_000);
        assert_eq!(index.by_prop("k", "V").count(), 10_000);
    }
}
