//! Secrets at rest. The journal and snapshot always seal their secrets (API keys, password hashes,
//! the instance secret) with AES-256-GCM: under the data key (`<data>/security/data.key`, made at
//! the first start) and, while key encryption (`POST /api/system/encrypt|decrypt`) is active, under
//! the master key (`security/master.key`), which then seals the token signing key file too. So a
//! copy of the data directory without its key files holds no credential. In memory secrets are
//! always plain; sealing happens where state meets the disk.

use std::io;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;

/// Prefix of a sealed value.
pub const SEALED: &str = "{aes}";

/// The master key, loaded from `<data>/security/master.key`.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
    /// Another key that opens what this one does not (the data key behind the master key, so
    /// values sealed before key encryption started still open).
    fallback: Option<Aes256Gcm>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

/// Where the master key lives under a data root.
pub fn master_key_path(root: &Path) -> PathBuf {
    root.join("security").join("master.key")
}

/// Where the data key lives under a data root.
pub fn data_key_path(root: &Path) -> PathBuf {
    root.join("security").join("data.key")
}

impl Cipher {
    /// Loads the master key if key encryption is active.
    pub fn load(root: &Path) -> io::Result<Option<Cipher>> {
        let path = master_key_path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = hex::decode(text.trim())
                    .ok()
                    .filter(|k| k.len() == 32)
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{} does not hold a 256-bit key", path.display()),
                        )
                    })?;
                Ok(Some(Cipher::from_key(&key)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a new master key file (mode 0600) and returns it.
    pub fn create(root: &Path) -> io::Result<Cipher> {
        let key: [u8; 32] = rand::random();
        let path = master_key_path(root);
        write_private(&path, hex::encode(key).as_bytes())?;
        Ok(Cipher::from_key(&key))
    }

    fn from_key(key: &[u8]) -> Cipher {
        Cipher {
            aead: Aes256Gcm::new_from_slice(key).expect("32-byte key"),
            fallback: None,
        }
    }

    /// The data key of `root` (`security/data.key`), created (mode 0600) when missing.
    pub fn data_key(root: &Path) -> io::Result<Cipher> {
        let path = data_key_path(root);
        match std::fs::read_to_string(&path) {
            Ok(text) => hex::decode(text.trim())
                .ok()
                .filter(|k| k.len() == 32)
                .map(|k| Cipher::from_key(&k))
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{} does not hold a 256-bit key", path.display()),
                    )
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                write_private(&path, hex::encode(key).as_bytes())?;
                Ok(Cipher::from_key(&key))
            }
            Err(e) => Err(e),
        }
    }

    /// This cipher, also opening what `other` sealed.
    pub fn falling_back_to(mut self, other: &Cipher) -> Cipher {
        self.fallback = Some(other.aead.clone());
        self
    }

    /// Seals a secret (already sealed values are returned unchanged).
    pub fn seal(&self, plain: &str) -> String {
        if plain.starts_with(SEALED) {
            return plain.to_string();
        }
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .expect("AES-GCM encryption does not fail for in-memory buffers");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!(
            "{SEALED}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    /// Opens a sealed value; plain values pass through.
    pub fn open(&self, text: &str) -> io::Result<String> {
        let Some(b64) = text.strip_prefix(SEALED) else {
            return Ok(text.to_string());
        };
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "a sealed secret does not open");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        if raw.len() < 12 {
            return Err(bad());
        }
        let (nonce, ct) = (Nonce::from_slice(&raw[..12]), &raw[12..]);
        let plain = match self.aead.decrypt(nonce, ct) {
            Ok(p) => p,
            Err(_) => self
                .fallback
                .as_ref()
                .and_then(|f| f.decrypt(nonce, ct).ok())
                .ok_or_else(bad)?,
        };
        String::from_utf8(plain).map_err(|_| bad())
    }
}

/// Opens `text` with `cipher`, failing clearly when a sealed value meets no key.
pub fn open_with(cipher: Option<&Cipher>, text: &str) -> io::Result<String> {
    match cipher {
        Some(c) => c.open(text),
        None if text.starts_with(SEALED) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the data directory holds encrypted secrets but no master key (security/master.key)",
        )),
        None => Ok(text.to_string()),
    }
}

/// Seals `text` when a cipher is active.
pub fn seal_with(cipher: Option<&Cipher>, text: &str) -> String {
    match cipher {
        Some(c) => c.seal(text),
        None => text.to_string(),
    }
}

/// Writes a file readable only by its owner: temp file, fsync, rename.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        crate::store::private::dir(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_and_plain_values_pass() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Cipher::load(dir.path()).unwrap().is_none());
        let c = Cipher::create(dir.path()).unwrap();
        let sealed = c.seal("AKCp8secret");
        assert!(sealed.starts_with(SEALED) && !sealed.contains("secret"));
        let again = Cipher::load(dir.path()).unwrap().unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "AKCp8secret");
        assert_eq!(again.open("plain").unwrap(), "plain");
        assert!(open_with(None, &sealed).is_err());
        let other = Cipher::create(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.open(&sealed).is_err());
    }
}
