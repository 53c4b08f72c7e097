//! Checksums kept inline: a hex digest of at most `N` ASCII characters stored in the item itself
//! instead of in a heap string (three per file), readable as `&str`. Serialised as a plain string.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ASCII text of at most `N` bytes (a hex digest, or empty when not known yet).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexStr<const N: usize> {
    len: u8,
    buf: [u8; N],
}

/// A SHA-1 (40 hex digits).
pub type Sha1 = HexStr<40>;
/// An MD5 (32 hex digits).
pub type Md5 = HexStr<32>;
/// A SHA-256 (64 hex digits).
pub type Sha256 = HexStr<64>;

impl<const N: usize> HexStr<N> {
    /// `s` when it is ASCII and fits.
    pub fn new(s: &str) -> Option<Self> {
        if s.len() > N || !s.is_ascii() {
            return None;
        }
        let mut buf = [0u8; N];
        buf[..s.len()].copy_from_slice(s.as_bytes());
        Some(HexStr {
            len: s.len() as u8,
            buf,
        })
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }
}

impl<const N: usize> Default for HexStr<N> {
    fn default() -> Self {
        HexStr {
            len: 0,
            buf: [0u8; N],
        }
    }
}

/// Digests come from the server's own hashing (or were checked against it), so they always fit; a
/// text that does not is kept as empty ("not known") rather than cut.
impl<const N: usize> From<&str> for HexStr<N> {
    fn from(s: &str) -> Self {
        HexStr::new(s).unwrap_or_default()
    }
}

impl<const N: usize> From<&String> for HexStr<N> {
    fn from(s: &String) -> Self {
        HexStr::from(s.as_str())
    }
}

impl<const N: usize> From<String> for HexStr<N> {
    fn from(s: String) -> Self {
        HexStr::from(s.as_str())
    }
}

impl<const N: usize> Deref for HexStr<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> PartialEq<str> for HexStr<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for HexStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> PartialEq<String> for HexStr<N> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> fmt::Debug for HexStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for HexStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> Serialize for HexStr<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, const N: usize> Deserialize<'de> for HexStr<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        HexStr::new(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("not a digest of at most {N} characters: {s}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_back_as_text_and_misfits_are_refused() {
        let h = Sha1::from("a".repeat(40));
        assert_eq!(h, "a".repeat(40));
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            format!("\"{}\"", "a".repeat(40))
        );
        assert!(Sha1::default().is_empty());
        assert!(Sha1::new(&"a".repeat(41)).is_none() && Sha1::new("é").is_none());
        assert!(serde_json::from_str::<Md5>(&format!("\"{}\"", "b".repeat(33))).is_err());
        let back: Sha256 = serde_json::from_str(&format!("\"{}\"", "c".repeat(64))).unwrap();
        assert_eq!(back.len(), 64);
    }
}
