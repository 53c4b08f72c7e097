//! Secrets at rest (password hashes, API keys, the instance secret): a [`Secret`] serialises only
//! inside the journal's writing scope, and then sealed under the master key whenever key
//! encryption is on. Sealing is by construction, not by a list: a new mutation or state field that
//! holds a `Secret` is sealed with no code beside it, and one serialised anywhere else fails instead
//! of leaking.

use std::cell::RefCell;
use std::fmt;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::auth::crypto::{open_with, seal_with, Cipher};

/// A secret value. Reading it in memory is free (it derefs to `str`); writing it out happens only
/// in [`writing`], sealed when a cipher is given.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
}

impl std::ops::Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Secret {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Secret {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

/// What serialising a secret does on this thread now.
#[derive(Clone, Default)]
enum Mode {
    /// Outside the journal: refused.
    #[default]
    Closed,
    /// Writing the journal or the snapshot, sealed under the cipher when there is one.
    Write(Option<Cipher>),
    /// Reading them back, opened with the cipher when there is one.
    Read(Option<Cipher>),
}

thread_local! {
    static MODE: RefCell<Mode> = const { RefCell::new(Mode::Closed) };
}

/// Runs `f` with `mode`, restoring the previous one afterwards (also when `f` panics).
fn scoped<R>(mode: Mode, f: impl FnOnce() -> R) -> R {
    struct Restore(Mode);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = std::mem::take(&mut self.0);
            MODE.with(|m| *m.borrow_mut() = old);
        }
    }
    let old = MODE.with(|m| std::mem::replace(&mut *m.borrow_mut(), mode));
    let _restore = Restore(old);
    f()
}

/// Serialises secrets within `f`, sealed under `cipher` when there is one.
pub(crate) fn writing<R>(cipher: Option<&Cipher>, f: impl FnOnce() -> R) -> R {
    scoped(Mode::Write(cipher.cloned()), f)
}

/// Deserialises secrets within `f`, opened with `cipher` when there is one.
pub(crate) fn reading<R>(cipher: Option<&Cipher>, f: impl FnOnce() -> R) -> R {
    scoped(Mode::Read(cipher.cloned()), f)
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match MODE.with(|m| m.borrow().clone()) {
            Mode::Write(c) => s.serialize_str(&seal_with(c.as_ref(), &self.0)),
            _ => Err(S::Error::custom(
                "a secret is written only by the journal (store::secret::writing)",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        let text = String::deserialize(d)?;
        let cipher = match MODE.with(|m| m.borrow().clone()) {
            Mode::Read(c) => c,
            _ => None,
        };
        open_with(cipher.as_ref(), &text)
            .map(Secret)
            .map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Holder {
        name: String,
        key: Secret,
    }

    #[test]
    fn secrets_are_sealed_by_the_journal_scope_and_refused_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cipher::create(dir.path()).unwrap();
        let h = Holder {
            name: "carol".into(),
            key: Secret::new("AKCp8-the-key"),
        };
        // Outside the journal's scope a secret cannot be written at all.
        assert!(serde_json::to_string(&h).is_err());
        let plain = writing(None, || serde_json::to_string(&h)).unwrap();
        assert_eq!(plain, r#"{"name":"carol","key":"AKCp8-the-key"}"#);
        let sealed = writing(Some(&c), || serde_json::to_string(&h)).unwrap();
        assert!(!sealed.contains("the-key"), "{sealed}");
        assert!(sealed.contains(crate::auth::crypto::SEALED), "{sealed}");
        let back: Holder = reading(Some(&c), || serde_json::from_str(&sealed)).unwrap();
        assert_eq!(back, h);
        // Sealed text without the key does not read; plain text reads either way.
        assert!(reading(None, || serde_json::from_str::<Holder>(&sealed)).is_err());
        let back: Holder = reading(Some(&c), || serde_json::from_str(&plain)).unwrap();
        assert_eq!(back, h);
        assert_eq!(format!("{:?}", h.key), "Secret(<redacted>)");
    }
}
