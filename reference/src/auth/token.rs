//! Access tokens: RS256 JWTs signed with a per-instance RSA key kept in `<data>/security/token.key`
//! (sealed under the master key while key encryption is active). The key is generated on first use, so
//! start-up stays fast. Header and claims follow a real JCR 7 token:
//! `{"ver":"2","typ":"JWT","alg":"RS256","kid":…}` and `{"sub","scp","aud","iss","exp","iat","jti"}`.

use std::io;
use std::path::PathBuf;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::crypto::{open_with, seal_with, write_private, Cipher};

/// The claims of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `jfrt@<id>/users/<name>`.
    pub sub: String,
    /// Space-separated scope.
    pub scp: String,
    /// Space-separated audience.
    pub aud: String,
    /// Issuer (the service id).
    pub iss: String,
    /// Expiry, epoch seconds (absent for tokens that never expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Token id.
    pub jti: String,
}

impl Claims {
    /// The user name: what follows the last `/` of the subject.
    pub fn username(&self) -> &str {
        self.sub.rsplit('/').next().unwrap_or(&self.sub)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    ver: String,
    typ: String,
    alg: String,
    kid: String,
}

/// The signing key pair.
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(kid={})", self.kid)
    }
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not a JWT at all.
    Malformed,
    /// Signed by another key.
    Signature,
}

impl Signer {
    fn from_pem(pem: &str) -> io::Result<Signer> {
        let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| bad(e.to_string()))?;
        let der = key.to_pkcs1_der().map_err(|e| bad(e.to_string()))?;
        let public = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| bad(e.to_string()))?;
        let kid = hex::encode(&Sha256::digest(public.as_bytes())[..16]);
        Ok(Signer {
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_der(public.as_bytes()),
            kid,
        })
    }

    /// Signs `claims` into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header {
            ver: "2".into(),
            typ: "JWT".into(),
            alg: "RS256".into(),
            kid: self.kid.clone(),
        };
        let msg = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).expect("header serialises")),
            B64.encode(serde_json::to_vec(claims).expect("claims serialise"))
        );
        let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &self.encoding, Algorithm::RS256)
            .expect("RS256 signing with a valid key");
        format!("{msg}.{sig}")
    }

    /// Checks the signature and returns the claims (expiry, audience and revocation are the caller's).
    pub fn verify(&self, token: &str) -> Result<Claims, Refused> {
        let claims = peek(token).ok_or(Refused::Malformed)?;
        let (msg, sig) = token.rsplit_once('.').ok_or(Refused::Malformed)?;
        let header: Header = B64
            .decode(msg.split('.').next().unwrap_or(""))
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or(Refused::Malformed)?;
        if header.alg != "RS256" {
            return Err(Refused::Signature);
        }
        match jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &self.decoding, Algorithm::RS256) {
            Ok(true) => Ok(claims),
            _ => Err(Refused::Signature),
        }
    }
}

/// The Access service id that goes with an Artifactory service id (`jfrt@x` → `jfac@x`).
pub fn access_id(sid: &str) -> String {
    format!("jfac@{}", sid.split_once('@').map_or(sid, |(_, id)| id))
}

/// Decodes the claims without checking anything.
pub fn peek(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    serde_json::from_slice(&B64.decode(p).ok()?).ok()
}

/// Whether `s` has the shape of a JWT (so a Basic password is tried as a token).
pub fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.split('.').count() == 3
}

/// The instance's signing key, loaded or generated on first use.
#[derive(Debug)]
pub struct Keys {
    path: PathBuf,
    cell: OnceCell<Signer>,
    /// Held while key encryption is switched and while the key is first created, so a new key file
    /// is always written in the form the master key in force asks for.
    pub switch: tokio::sync::Mutex<()>,
}

impl Keys {
    /// Keys kept under `root/security/token.key`.
    pub fn new(root: &std::path::Path) -> Keys {
        Keys {
            path: root.join("security").join("token.key"),
            cell: OnceCell::new(),
            switch: tokio::sync::Mutex::new(()),
        }
    }

    /// The signer, if a key exists already (verification never creates one).
    pub async fn existing(
        &self,
        cipher: impl Fn() -> Option<Cipher>,
    ) -> io::Result<Option<&Signer>> {
        if let Some(s) = self.cell.get() {
            return Ok(Some(s));
        }
        if !self.path.exists() {
            return Ok(None);
        }
        self.get(cipher).await.map(Some)
    }

    /// The signer, generating and saving a new 2048-bit key the first time.
    pub async fn get(&self, cipher: impl Fn() -> Option<Cipher>) -> io::Result<&Signer> {
        let path = self.path.clone();
        self.cell
            .get_or_try_init(|| async move {
                let _switch = self.switch.lock().await;
                let cipher = cipher();
                tokio::task::spawn_blocking(move || load_or_create(&path, cipher.as_ref()))
                    .await
                    .map_err(io::Error::other)?
            })
            .await
    }

    /// Rewrites the key file from the `old` form to the `new` one after key encryption was switched.
    pub fn reseal(&self, old: Option<&Cipher>, new: Option<&Cipher>) -> io::Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&self.path)?;
        let pem = open_with(old, text.trim())?;
        write_private(&self.path, seal_with(new, &pem).as_bytes())
    }
}

fn load_or_create(path: &std::path::Path, cipher: Option<&Cipher>) -> io::Result<Signer> {
    match std::fs::read_to_string(path) {
        Ok(text) => Signer::from_pem(&open_with(cipher, text.trim())?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| io::Error::other(e.to_string()))?;
            write_private(path, seal_with(cipher, &pem).as_bytes())?;
            Signer::from_pem(&pem)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_verify_only_with_their_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::new(dir.path());
        assert!(keys.existing(|| None).await.unwrap().is_none());
        let signer = keys.get(|| None).await.unwrap();
        let claims = Claims {
            sub: "jfrt@x/users/bob".into(),
            scp: "member-of-groups:readers api:*".into(),
            aud: "jfrt@x".into(),
            iss: "jfrt@x".into(),
            exp: Some(10),
            iat: 5,
            jti: "id".into(),
        };
        let t = signer.sign(&claims);
        assert!(looks_like_jwt(&t));
        assert_eq!(signer.verify(&t).unwrap(), claims);
        assert_eq!(claims.username(), "bob");
        // A reloaded key verifies the same token; another key does not.
        let again = Keys::new(dir.path());
        assert!(again.get(|| None).await.unwrap().verify(&t).is_ok());
        let other_dir = tempfile::tempdir().unwrap();
        let other = Keys::new(other_dir.path());
        assert_eq!(
            other.get(|| None).await.unwrap().verify(&t),
            Err(Refused::Signature)
        );
        let mut tampered = t.clone();
        tampered.insert(t.len() / 2, 'A');
        assert!(signer.verify(&tampered).is_err());
        assert_eq!(signer.verify("abc"), Err(Refused::Malformed));
    }
}
