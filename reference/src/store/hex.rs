//! Checksums kept inline and in binary: a digest is stored as its bytes in the item itself (20, 16
//! and 32 bytes instead of three heap strings, or twice that as text), and read as hex text through
//! [`Digest::hex`]. Serialised as the plain hex string, so journals and snapshots are unchanged.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A digest of `B` bytes written as `H` hex digits, or "not known yet" (empty text).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest<const B: usize, const H: usize> {
    known: bool,
    bytes: [u8; B],
}

/// A SHA-1.
pub type Sha1 = Digest<20, 40>;
/// An MD5.
pub type Md5 = Digest<16, 32>;
/// A SHA-256.
pub type Sha256 = Digest<32, 64>;

impl<const B: usize, const H: usize> Digest<B, H> {
    /// `s` when it is empty (not known) or exactly `H` hex digits (either case).
    pub fn new(s: &str) -> Option<Self> {
        if s.is_empty() {
            return Some(Digest::default());
        }
        if s.len() != H {
            return None;
        }
        let mut bytes = [0u8; B];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(Digest { known: true, bytes })
    }

    /// The digest as lower-case hex (empty when not known).
    pub fn hex(&self) -> HexStr<H> {
        let mut buf = [0u8; H];
        if !self.known {
            return HexStr { len: 0, buf };
        }
        // Cannot fail: the buffer holds exactly two digits per byte.
        let _ = hex::encode_to_slice(self.bytes, &mut buf);
        HexStr { len: H as u8, buf }
    }

    /// Whether the digest is not known yet.
    pub fn is_empty(&self) -> bool {
        !self.known
    }

    /// The first four bytes as a number (the value of the first 8 hex digits), `None` when not
    /// known.
    pub fn head(&self) -> Option<u32> {
        let mut b = [0u8; 4];
        let n = B.min(4);
        b[4 - n..].copy_from_slice(&self.bytes[..n]);
        self.known.then(|| u32::from_be_bytes(b))
    }
}

impl<const B: usize, const H: usize> Default for Digest<B, H> {
    fn default() -> Self {
        Digest {
            known: false,
            bytes: [0u8; B],
        }
    }
}

/// Digests come from the server's own hashing (or were checked against it), so they always fit; a
/// text that is not a digest is kept as empty ("not known") rather than guessed at.
impl<const B: usize, const H: usize> From<&str> for Digest<B, H> {
    fn from(s: &str) -> Self {
        Digest::new(s).unwrap_or_default()
    }
}

impl<const B: usize, const H: usize> From<&String> for Digest<B, H> {
    fn from(s: &String) -> Self {
        Digest::from(s.as_str())
    }
}

impl<const B: usize, const H: usize> From<String> for Digest<B, H> {
    fn from(s: String) -> Self {
        Digest::from(s.as_str())
    }
}

impl<const B: usize, const H: usize> PartialEq<str> for Digest<B, H> {
    fn eq(&self, other: &str) -> bool {
        self.hex().as_str() == other
    }
}

impl<const B: usize, const H: usize> PartialEq<&str> for Digest<B, H> {
    fn eq(&self, other: &&str) -> bool {
        self.hex().as_str() == *other
    }
}

impl<const B: usize, const H: usize> PartialEq<String> for Digest<B, H> {
    fn eq(&self, other: &String) -> bool {
        self.hex().as_str() == other
    }
}

impl<const B: usize, const H: usize> fmt::Debug for Digest<B, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.hex().as_str(), f)
    }
}

impl<const B: usize, const H: usize> fmt::Display for Digest<B, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

impl<const B: usize, const H: usize> Serialize for Digest<B, H> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.hex().as_str())
    }
}

impl<'de, const B: usize, const H: usize> Deserialize<'de> for Digest<B, H> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Digest::new(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a digest of {H} hex digits: {s}")))
    }
}

/// A digest's hex text, on the stack: reads as `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexStr<const N: usize> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> HexStr<N> {
    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }
}

impl<const N: usize> Deref for HexStr<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Debug for HexStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_kept_in_binary_and_read_back_as_lower_case_text() {
        let h = Sha1::from("a".repeat(40));
        assert_eq!(h, "a".repeat(40));
        assert_eq!(h.head(), Some(0xaaaa_aaaa));
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            format!("\"{}\"", "a".repeat(40))
        );
        assert_eq!(Sha1::from("AB".repeat(20)).hex().as_str(), "ab".repeat(20));
        assert_eq!(Md5::from("0f".repeat(16)).to_string(), "0f".repeat(16));
        assert!(Sha1::default().is_empty() && Sha1::default().hex().is_empty());
        assert_eq!(Sha1::default().head(), None);
        assert!(Sha1::from("").is_empty());
        // Not a digest: wrong length, not hex, not ASCII.
        for bad in [
            "a".repeat(41),
            "a".repeat(39),
            "g".repeat(40),
            "é".repeat(20),
        ] {
            assert!(Sha1::new(&bad).is_none(), "{bad}");
            assert!(Sha1::from(bad.as_str()).is_empty());
        }
        assert!(serde_json::from_str::<Md5>(&format!("\"{}\"", "b".repeat(33))).is_err());
        assert!(serde_json::from_str::<Md5>("\"\"").unwrap().is_empty());
        let back: Sha256 = serde_json::from_str(&format!("\"{}\"", "c".repeat(64))).unwrap();
        assert_eq!(back.hex().len(), 64);
        assert_eq!(std::mem::size_of::<Sha256>(), 33);
    }
}
