//! Shared strings. [`Sym`] interns values that repeat across many items (user names, mime types,
//! property keys): one allocation per distinct text instead of one per item. [`Key`] is a path in a
//! repository's tree, shared (not interned) between the tree and its indexes. Both serialise as
//! plain strings, so journals and snapshots are unchanged.

use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The traits both shared-string types have; `$make` turns a `&str` into one.
macro_rules! shared_str {
    ($t:ident, $make:expr) => {
        impl $t {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl From<&str> for $t {
            fn from(s: &str) -> $t {
                $make(s)
            }
        }

        impl From<&String> for $t {
            fn from(s: &String) -> $t {
                $make(s.as_str())
            }
        }

        impl From<String> for $t {
            fn from(s: String) -> $t {
                $make(s.as_str())
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok($make(&*s))
            }
        }
    };
}

/// An interned, immutable string: one thin pointer (8 bytes; length and text sit in the one shared
/// allocation), cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(arcstr::ArcStr);

shared_str!(Sym, Sym::new);

/// A path in a repository's tree (one thin pointer, 8 bytes: the length sits in the shared
/// allocation; cheap to clone, not interned).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(arcstr::ArcStr);

shared_str!(Key, |s: &str| Key(arcstr::ArcStr::from(s)));

struct Table {
    set: HashSet<Sym>,
    /// Size at which the next sweep of unused entries runs.
    sweep_at: usize,
}

fn table() -> &'static Mutex<Table> {
    static T: OnceLock<Mutex<Table>> = OnceLock::new();
    T.get_or_init(|| {
        Mutex::new(Table {
            set: HashSet::new(),
            sweep_at: 1024,
        })
    })
}

thread_local! {
    /// The last texts this thread interned: most items repeat a handful (their user, their mime
    /// type), so a start reading a snapshot on every core seldom waits for the shared table.
    static RECENT: std::cell::RefCell<Vec<Sym>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many texts [`RECENT`] keeps.
const RECENT_LEN: usize = 8;

impl Sym {
    /// The shared copy of `s`.
    pub fn new(s: &str) -> Sym {
        if let Some(hit) = RECENT.with(|r| r.borrow().iter().find(|x| x.as_str() == s).cloned()) {
            return hit;
        }
        let a = Sym::shared(s);
        RECENT.with(|r| {
            let mut r = r.borrow_mut();
            if r.len() == RECENT_LEN {
                r.remove(0);
            }
            r.push(a.clone());
        });
        a
    }

    fn shared(s: &str) -> Sym {
        let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = t.set.get(s) {
            return a.clone();
        }
        if t.set.len() >= t.sweep_at {
            // Texts no item holds any more are dropped, so the table stays as large as what is in use.
            t.set
                .retain(|a| arcstr::ArcStr::strong_count(&a.0).is_none_or(|n| n > 1));
            t.sweep_at = (t.set.len() * 2).max(1024);
        }
        let a = Sym(arcstr::ArcStr::from(s));
        t.set.insert(a.clone());
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_share_one_allocation_and_unused_ones_are_swept() {
        let a = Sym::new("alice-sym-test");
        let b = Sym::from("alice-sym-test".to_string());
        assert!(arcstr::ArcStr::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "alice-sym-test");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"alice-sym-test\"");
        let c: Sym = serde_json::from_str("\"alice-sym-test\"").unwrap();
        assert!(arcstr::ArcStr::ptr_eq(&a.0, &c.0));
        drop((a, b, c));
        // Other tests share the table: add enough unused texts to pass the next sweep point
        // whatever they left in it.
        let n = table().lock().unwrap().sweep_at + 1;
        for i in 0..n {
            Sym::new(&format!("transient-{i}"));
        }
        let t = table().lock().unwrap();
        assert!(t.set.len() < n, "{} of {n}", t.set.len());
        assert!(!t.set.contains("alice-sym-test"));
    }
}
