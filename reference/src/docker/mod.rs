//! The Docker / OCI registry domain: names, tags and digests, manifests, Artifactory's layout of images
//! in a repository, and blob upload sessions. No HTTP here; `http::docker` renders it.
//!
//! Layout (as Artifactory stores images): each tag is a folder `<image>/<tag>/` holding `manifest.json`
//! (or `list.manifest.json` for lists and indexes) and a `sha256__<hex>` file per blob the manifest
//! references; a manifest pushed by digest lives in `<image>/sha256__<hex>/`; finished blob uploads not
//! yet referenced by a manifest wait in `<image>/_uploads/`. Blob content is stored once in the blob
//! store whatever the number of files naming it.

pub(crate) mod registry;
pub(crate) mod remote;
pub mod seed;
pub mod uploads;

use serde_json::Value;

use crate::store::{Item, Repo};

/// Docker schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Largest manifest accepted (the OCI specification's suggested limit).
pub const MAX_MANIFEST: usize = 4 << 20;
/// Folder of finished uploads awaiting a manifest.
pub const UPLOADS: &str = "_uploads";

/// Registry error codes of the distribution specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Blob unknown to registry.
    BlobUnknown,
    /// Blob upload invalid.
    BlobUploadInvalid,
    /// Blob upload unknown to registry.
    BlobUploadUnknown,
    /// Provided digest did not match uploaded content.
    DigestInvalid,
    /// Blob unknown to registry (referenced by a manifest).
    ManifestBlobUnknown,
    /// Manifest invalid.
    ManifestInvalid,
    /// Manifest unknown.
    ManifestUnknown,
    /// Invalid repository name.
    NameInvalid,
    /// Repository name not known to registry.
    NameUnknown,
    /// Provided length did not match content length.
    SizeInvalid,
    /// Authentication required.
    Unauthorized,
    /// Requested access to the resource is denied.
    Denied,
    /// The operation is unsupported.
    Unsupported,
    /// Unknown error (an upstream registry failed).
    Unknown,
}

impl Code {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::Unknown => "UNKNOWN",
        }
    }

    /// The HTTP status the specification gives the code.
    pub fn status(self) -> u16 {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => 404,
            Code::Unauthorized => 401,
            Code::Denied => 403,
            Code::Unsupported => 405,
            Code::Unknown => 500,
            _ => 400,
        }
    }

    /// The distribution registry's message (Artifactory's for an unknown manifest).
    pub fn message(self) -> &'static str {
        match self {
            Code::BlobUnknown | Code::ManifestBlobUnknown => "blob unknown to registry",
            Code::BlobUploadInvalid => "blob upload invalid",
            Code::BlobUploadUnknown => "blob upload unknown to registry",
            Code::DigestInvalid => "provided digest did not match uploaded content",
            Code::ManifestInvalid => "manifest invalid",
            Code::ManifestUnknown => "The named manifest is not known to the registry.",
            Code::NameInvalid => "invalid repository name",
            Code::NameUnknown => "repository name not known to registry",
            Code::SizeInvalid => "provided length did not match content length",
            Code::Unauthorized => "authentication required",
            Code::Denied => "requested access to the resource is denied",
            Code::Unsupported => "The operation is unsupported.",
            Code::Unknown => "unknown error",
        }
    }
}

/// A registry error: code, message, detail and status (416 for out-of-order chunks).
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryError {
    /// Code.
    pub code: Code,
    /// Message (the code's unless more is known).
    pub message: String,
    /// Detail object (`null` when none).
    pub detail: Value,
    /// HTTP status.
    pub status: u16,
}

impl RegistryError {
    /// The code with its usual message and status.
    pub fn new(code: Code) -> RegistryError {
        RegistryError {
            code,
            message: code.message().into(),
            detail: Value::Null,
            status: code.status(),
        }
    }

    /// With a detail object.
    pub fn detail(mut self, detail: Value) -> RegistryError {
        self.detail = detail;
        self
    }

    /// With another message.
    pub fn message(mut self, m: impl Into<String>) -> RegistryError {
        self.message = m.into();
        self
    }

    /// With another status.
    pub fn status(mut self, s: u16) -> RegistryError {
        self.status = s;
        self
    }
}

impl From<RegistryError> for crate::error::ApiError {
    /// The registry family; a 401 asks for a token at the root realm unless the handler names a
    /// scope.
    fn from(e: RegistryError) -> Self {
        let status = e.status;
        let out = crate::error::ApiError::registry(status, e.code.as_str(), e.message, e.detail);
        if status == 401 {
            out.challenge(crate::error::Challenge::Bearer(None))
        } else {
            out
        }
    }
}

/// A content digest: `sha256:<64 hex>` or `sha512:<128 hex>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    /// `sha256` or `sha512`.
    pub algo: &'static str,
    /// Lower-case hex.
    pub hex: String,
}

impl Digest {
    /// Parses `algo:hex`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Digest> {
        let (algo, hex) = s.split_once(':')?;
        let (algo, len) = match algo {
            "sha256" => ("sha256", 64),
            "sha512" => ("sha512", 128),
            _ => return None,
        };
        (hex.len() == len
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Digest {
            algo,
            hex: hex.to_string(),
        })
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest {
            algo: "sha256",
            hex: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }

    /// The file name Artifactory gives the blob: `sha256__<hex>`.
    pub fn file_name(&self) -> String {
        format!("{}__{}", self.algo, self.hex)
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algo, self.hex)
    }
}

/// Whether `name` is a valid image name (lower-case components separated by `/`, each
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`), at most 255 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__" or a run of "-", followed by an alphanumeric.
        let sep_len = match b[i] {
            b'.' => 1,
            b'_' if b.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => b[i..].iter().take_while(|&&x| x == b'-').count(),
            _ => return false,
        };
        i += sep_len;
        if !b.get(i).is_some_and(|&x| is_alnum(x)) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Whether `tag` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// What a registry request is about (the part after `/v2/<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /v2/`.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/token` (the token endpoint).
    Token,
    /// `<name>/tags/list`.
    Tags(String),
    /// `<name>/manifests/<reference>`.
    Manifest(String, String),
    /// `<name>/blobs/<digest>`.
    Blob(String, String),
    /// `<name>/blobs/uploads/`.
    StartUpload(String),
    /// `<name>/blobs/uploads/<uuid>`.
    Upload(String, String),
    /// `<name>/referrers/<digest>`.
    Referrers(String, String),
}

/// Parses the path after `/v2/` (already percent-decoded segments, empty ones dropped).
pub fn route(segs: &[&str]) -> Option<Route> {
    let n = segs.len();
    match segs {
        [] => return Some(Route::Base),
        ["_catalog"] => return Some(Route::Catalog),
        ["token"] => return Some(Route::Token),
        _ => {}
    }
    let name = |k: usize| segs[..n - k].join("/");
    if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Some(Route::Tags(name(2)));
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Some(Route::StartUpload(name(2)));
    }
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        return Some(Route::Upload(name(3), segs[n - 1].to_string()));
    }
    if n >= 3 && segs[n - 2] == "manifests" {
        return Some(Route::Manifest(name(2), segs[n - 1].to_string()));
    }
    if n >= 3 && segs[n - 2] == "blobs" {
        return Some(Route::Blob(name(2), segs[n - 1].to_string()));
    }
    if n >= 3 && segs[n - 2] == "referrers" {
        return Some(Route::Referrers(name(2), segs[n - 1].to_string()));
    }
    None
}

/// What a manifest says, as far as storing it needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Media type (from the document, else the `Content-Type` it was sent with).
    pub media_type: String,
    /// A manifest list or index (stored as `list.manifest.json`).
    pub list: bool,
    /// Blobs it references (config and layers) for image manifests.
    pub blobs: Vec<Digest>,
    /// Manifests it references (lists and indexes).
    pub children: Vec<Digest>,
    /// `subject` (referrers API).
    pub subject: Option<Digest>,
    /// `artifactType`, or the config media type of an artifact manifest.
    pub artifact_type: Option<String>,
    /// `annotations`.
    pub annotations: Value,
}

/// Parses and validates a manifest body. `content_type` is the request's `Content-Type`.
pub fn parse_manifest(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, RegistryError> {
    let invalid = |why: &str| {
        RegistryError::new(Code::ManifestInvalid).detail(serde_json::json!({ "reason": why }))
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| invalid(&e.to_string()))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("not a JSON object"))?;
    match obj.get("schemaVersion").and_then(Value::as_u64) {
        Some(2) => {}
        Some(1) => {
            return Err(RegistryError::new(Code::ManifestInvalid)
                .message("Docker schema 1 manifests are not supported")
                .detail(serde_json::json!({ "schemaVersion": 1 })))
        }
        _ => return Err(invalid("schemaVersion must be 2")),
    }
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or("").trim())
        .filter(|c| !c.is_empty());
    let declared = obj.get("mediaType").and_then(Value::as_str);
    let media_type = match (declared, ct) {
        (Some(d), _) => d.to_string(),
        (None, Some(c)) if c != "application/json" && c != "application/octet-stream" => {
            c.to_string()
        }
        _ if obj.contains_key("manifests") => OCI_INDEX.to_string(),
        _ => OCI_MANIFEST.to_string(),
    };
    if let (Some(d), Some(c)) = (declared, ct) {
        if c.starts_with("application/vnd.") && c != d {
            return Err(invalid("mediaType does not match Content-Type"));
        }
    }
    let digest_of = |v: &Value, what: &str| -> Result<Digest, RegistryError> {
        v.get("digest")
            .and_then(Value::as_str)
            .and_then(Digest::parse)
            .ok_or_else(|| invalid(&format!("{what} has no valid digest")))
    };
    let list = matches!(media_type.as_str(), DOCKER_LIST | OCI_INDEX);
    let (mut blobs, mut children) = (Vec::new(), Vec::new());
    if list {
        let ms = obj
            .get("manifests")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("an index needs a manifests array"))?;
        for m in ms {
            children.push(digest_of(m, "a manifest entry")?);
        }
    } else if matches!(media_type.as_str(), DOCKER_MANIFEST | OCI_MANIFEST) {
        let config = obj
            .get("config")
            .ok_or_else(|| invalid("an image manifest needs a config"))?;
        blobs.push(digest_of(config, "the config")?);
        let layers = obj
            .get("layers")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("an image manifest needs a layers array"))?;
        for l in layers {
            // Non-distributable layers with foreign URLs are not stored in the registry.
            if l.get("urls")
                .is_some_and(|u| u.as_array().is_some_and(|a| !a.is_empty()))
            {
                continue;
            }
            blobs.push(digest_of(l, "a layer")?);
        }
    } else {
        return Err(RegistryError::new(Code::ManifestInvalid)
            .message(format!("unsupported manifest media type: {media_type}")));
    }
    let subject = match obj.get("subject") {
        None | Some(Value::Null) => None,
        Some(s) => Some(digest_of(s, "the subject")?),
    };
    let config_type = obj
        .get("config")
        .and_then(|c| c.get("mediaType"))
        .and_then(Value::as_str);
    let artifact_type = obj
        .get("artifactType")
        .and_then(Value::as_str)
        .or(config_type.filter(|t| {
            !matches!(
                *t,
                "application/vnd.docker.container.image.v1+json"
                    | "application/vnd.oci.image.config.v1+json"
            )
        }))
        .map(str::to_string);
    Ok(Manifest {
        media_type,
        list,
        blobs,
        children,
        subject,
        artifact_type,
        annotations: obj.get("annotations").cloned().unwrap_or(Value::Null),
    })
}

/// `path/name`, or `name` at the root.
pub fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// The manifest file of a tag (or digest) folder, if there is one.
pub fn manifest_in<'a>(repo: &'a Repo, folder: &str) -> Option<(String, &'a Item)> {
    ["manifest.json", "list.manifest.json"]
        .iter()
        .find_map(|f| {
            let p = join(folder, f);
            repo.items
                .get_key_value(p.as_str())
                .filter(|(_, i)| !i.is_folder())
                .map(|(k, i)| (k.to_string(), i))
        })
}

/// Whether `key` is a file directly in a folder of `image` (`<image>/<folder>/<file>`), not in a nested
/// image (`<image>/<sub>/<tag>/...`).
pub fn in_image(image: &str, key: &str) -> bool {
    key.strip_prefix(image)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| rest.matches('/').count() == 1)
}

/// Whether a tag name may be used for a tag folder (not the uploads folder, not a digest folder).
pub fn usable_tag(tag: &str) -> bool {
    valid_tag(tag) && tag != UPLOADS && !tag.starts_with("sha256__") && !tag.starts_with("sha512__")
}

/// Finds a manifest of `image` by tag or by digest; returns its path and item.
pub fn find_manifest<'a>(
    repo: &'a Repo,
    image: &'a str,
    reference: &str,
) -> Option<(String, &'a Item)> {
    match Digest::parse(reference) {
        None => manifest_in(repo, &join(image, reference)),
        Some(d) => {
            // Any manifest file of the image whose content has this digest.
            repo.subtree(image)
                .filter(|(k, i)| {
                    (k.ends_with("/manifest.json") || k.ends_with("/list.manifest.json"))
                        && in_image(image, k)
                        && !i.is_folder()
                        && digest_matches(i, &d)
                })
                .map(|(k, i)| (k.to_string(), i))
                .next()
        }
    }
}

fn digest_matches(i: &Item, d: &Digest) -> bool {
    match d.algo {
        "sha256" => i.file.as_ref().is_some_and(|f| f.sha256 == d.hex),
        _ => i
            .props
            .get("docker.manifest.digest")
            .any(|x| x == d.to_string()),
    }
}

/// Finds a blob of `image` (in any tag folder or in `_uploads`).
pub fn find_blob<'a>(repo: &'a Repo, image: &'a str, d: &Digest) -> Option<(String, &'a Item)> {
    let suffix = format!("/{}", d.file_name());
    repo.subtree(image)
        .find(|(k, i)| k.ends_with(&suffix) && in_image(image, k) && !i.is_folder())
        .map(|(k, i)| (k.to_string(), i))
}

/// The tags of `image`: its child folders holding a manifest (digest folders excluded), sorted.
pub fn tags(repo: &Repo, image: &str) -> Vec<String> {
    let prefix = format!("{image}/");
    let mut out: Vec<String> = repo
        .from(&prefix)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(k, _)| {
            let rest = &k[prefix.len()..];
            let (tag, file) = rest.split_once('/')?;
            let is_manifest = file == "manifest.json" || file == "list.manifest.json";
            (is_manifest && usable_tag(tag)).then(|| tag.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every image of a repository (folders with at least one tag or digest manifest), sorted.
pub fn catalog(repo: &Repo) -> Vec<String> {
    let mut out: Vec<String> = repo
        .items
        .keys()
        .filter_map(|k| {
            let folder = k
                .strip_suffix("/manifest.json")
                .or_else(|| k.strip_suffix("/list.manifest.json"))?;
            let (image, _tag) = folder.rsplit_once('/')?;
            valid_name(image).then(|| image.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `n`/`last` pagination over a sorted list: the page and whether more follow.
pub fn page(all: Vec<String>, n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
    let start: Vec<String> = match last {
        Some(l) => all.into_iter().filter(|x| x.as_str() > l).collect(),
        None => all,
    };
    match n {
        Some(n) if start.len() > n => (start.into_iter().take(n).collect(), true),
        _ => (start, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags() {
        for ok in [
            "a",
            "library/ubuntu",
            "a/b/c/d",
            "my-app",
            "my__app",
            "a.b",
            "a--b",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "-a", "a-", "a_-b", "a..b", "ä", "a b",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_tag("latest") && valid_tag("_x") && valid_tag("v1.2.3-rc_1"));
        assert!(
            !valid_tag("") && !valid_tag(".x") && !valid_tag("a/b") && !valid_tag(&"a".repeat(129))
        );
    }

    #[test]
    fn routes_with_slashes_in_names() {
        assert_eq!(route(&[]), Some(Route::Base));
        assert_eq!(
            route(&["a", "b", "manifests", "latest"]),
            Some(Route::Manifest("a/b".into(), "latest".into()))
        );
        assert_eq!(
            route(&["a", "b", "c", "blobs", "uploads"]),
            Some(Route::StartUpload("a/b/c".into()))
        );
        assert_eq!(
            route(&["x", "blobs", "uploads", "u-1"]),
            Some(Route::Upload("x".into(), "u-1".into()))
        );
        assert_eq!(route(&["x", "tags", "list"]), Some(Route::Tags("x".into())));
        assert_eq!(route(&["x", "nope"]), None);
    }

    #[test]
    fn digests() {
        let d = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        assert_eq!(d.file_name(), format!("sha256__{}", "a".repeat(64)));
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_some());
        assert!(Digest::parse("sha256:abc").is_none());
        assert!(Digest::parse(&format!("sha256:{}", "A".repeat(64))).is_none());
        assert!(Digest::parse(&format!("md5:{}", "a".repeat(32))).is_none());
    }

    #[test]
    fn manifests_parse_and_refuse() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": d('a')},
            "layers": [{"mediaType": "x", "size": 1, "digest": d('b')}]
        });
        let p = parse_manifest(m.to_string().as_bytes(), None).unwrap();
        assert_eq!(p.blobs.len(), 2);
        assert!(!p.list && p.artifact_type.is_none());
        let idx = serde_json::json!({"schemaVersion": 2, "manifests": [{"digest": d('c'), "size": 1, "mediaType": OCI_MANIFEST}]});
        let p = parse_manifest(idx.to_string().as_bytes(), Some(OCI_INDEX)).unwrap();
        assert!(p.list && p.children.len() == 1);
        assert!(parse_manifest(b"{", None).is_err());
        assert!(parse_manifest(br#"{"schemaVersion":1}"#, None).is_err());
        let bad = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": "nope"}, "layers": []});
        assert_eq!(
            parse_manifest(bad.to_string().as_bytes(), None)
                .unwrap_err()
                .code,
            Code::ManifestInvalid
        );
    }

    #[test]
    fn pages() {
        let all: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            page(all.clone(), Some(2), None),
            (vec!["a".into(), "b".into()], true)
        );
        assert_eq!(
            page(all.clone(), Some(2), Some("b")),
            (vec!["c".into()], false)
        );
        assert_eq!(page(all, None, None).0.len(), 3);
    }
}
