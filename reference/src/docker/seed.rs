//! Docker images seeded from OCI image layouts (`--seed-images DIR`), pushed at start the way a
//! client pushes them: every blob a manifest names uploaded (and its digest checked), every
//! manifest of an index pushed by digest before the index, then each entry of the layout's
//! `index.json` by its tag (the `org.opencontainers.image.ref.name` annotation, as
//! `skopeo copy ... oci:<layout>:<tag>` writes it) or, without one, by digest.
//!
//! `DIR/<repository key>/<image name>/` is an image layout (`oci-layout`, `index.json`,
//! `blobs/<algorithm>/<hex>`); the image name may have several segments
//! (`DIR/docker-local/library/alpine/`). The repository must be a local Docker repository.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::registry::{Asker, Reg};
use super::{Digest, Manifest};
use crate::app::AppState;
use crate::auth::Caller;
use crate::config::PackageType;

/// The annotation that names a manifest of a layout's index.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What a seed pushed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Images (layouts) pushed.
    pub images: usize,
    /// Tags pushed.
    pub tags: usize,
    /// Manifests pushed (tagged or not, an index's included).
    pub manifests: usize,
    /// Blobs uploaded (each once per image).
    pub blobs: usize,
}

/// Pushes every image layout under `dir` (see the module documentation) as `_system`. The first
/// thing that cannot be pushed stops it, with a message naming the layout and what failed.
pub async fn images(app: &AppState, dir: &Path) -> Result<Seeded, String> {
    let mut seeded = Seeded::default();
    let mut repos = read_dir(dir)?;
    repos.sort();
    for repo_dir in repos.into_iter().filter(|p| is_real_dir(p)) {
        let key = name_of(&repo_dir);
        check_repo(app, &key)?;
        let mut layouts = Vec::new();
        find_layouts(&repo_dir, &mut layouts)?;
        layouts.sort();
        for layout in layouts {
            let image = layout
                .strip_prefix(&repo_dir)
                .map_err(|e| e.to_string())?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if !super::valid_name(&image) {
                return Err(format!(
                    "{}: '{image}' is not a valid image name",
                    layout.display()
                ));
            }
            let mut pusher = Pusher {
                app,
                reg: Reg {
                    repo: key.clone(),
                    prefix: format!("/v2/{key}"),
                },
                image,
                layout: layout.clone(),
                pushed: HashSet::new(),
            };
            pusher
                .push_layout(&mut seeded)
                .await
                .map_err(|e| format!("{}: {e}", layout.display()))?;
            seeded.images += 1;
        }
    }
    Ok(seeded)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::read_dir(dir)
        .and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| format!("{}: {e}", dir.display()))
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn check_repo(app: &AppState, key: &str) -> Result<(), String> {
    let state = app.store.read();
    match state.repo(key) {
        Some(r) if r.config.package_type == PackageType::Docker && r.is_local() => Ok(()),
        Some(_) => Err(format!(
            "folder {key}/ names repository '{key}', which is not a local Docker repository"
        )),
        None => Err(format!(
            "folder {key}/ names repository '{key}', which does not exist"
        )),
    }
}

/// A directory, not a link to one.
fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .map(|m| m.is_dir())
        .unwrap_or(false)
}

/// Folders under `dir` holding an `oci-layout` file (a layout's own folders are not searched).
/// Symbolic links are not followed.
fn find_layouts(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if dir.join("oci-layout").is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for p in read_dir(dir)? {
        if is_real_dir(&p) {
            find_layouts(&p, out)?;
        }
    }
    Ok(())
}

struct Pusher<'a> {
    app: &'a AppState,
    reg: Reg,
    image: String,
    layout: PathBuf,
    /// Blobs and manifests of this image pushed already (an index may share them).
    pushed: HashSet<String>,
}

impl Pusher<'_> {
    async fn push_layout(&mut self, seeded: &mut Seeded) -> Result<(), String> {
        let marker: Value = read_json(&self.layout.join("oci-layout"))?;
        if marker
            .get("imageLayoutVersion")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err("oci-layout has no imageLayoutVersion".into());
        }
        let index: Value = read_json(&self.layout.join("index.json"))?;
        let entries = index
            .get("manifests")
            .and_then(Value::as_array)
            .ok_or("index.json has no manifests")?;
        if entries.is_empty() {
            return Err("index.json lists no manifest".into());
        }
        for entry in entries {
            let digest = descriptor_digest(entry)?;
            let tag = entry
                .pointer(&format!("/annotations/{}", REF_NAME.replace('/', "~1")))
                .and_then(Value::as_str)
                .and_then(tag_of);
            if let Some(t) = &tag {
                if !super::usable_tag(t) {
                    return Err(format!("'{t}' is not a valid tag"));
                }
            }
            let media_type = entry.get("mediaType").and_then(Value::as_str);
            self.push_manifest(&digest, media_type, tag.as_deref(), seeded, 0)
                .await?;
            if tag.is_some() {
                seeded.tags += 1;
            }
        }
        Ok(())
    }

    /// Pushes the manifest `digest` of the layout (its blobs, or the manifests of an index,
    /// first) by `tag`, or by digest without one.
    async fn push_manifest(
        &mut self,
        digest: &Digest,
        media_type: Option<&str>,
        tag: Option<&str>,
        seeded: &mut Seeded,
        depth: usize,
    ) -> Result<(), String> {
        if depth > 4 {
            return Err("indexes nested more than four deep".into());
        }
        if tag.is_none() && !self.pushed.insert(digest.to_string()) {
            return Ok(());
        }
        let bytes = self.read_manifest(digest)?;
        let m: Manifest = super::parse_manifest(&bytes, media_type)
            .map_err(|e| format!("manifest {digest}: {}", e.message))?;
        for child in &m.children {
            Box::pin(self.push_manifest(child, None, None, seeded, depth + 1)).await?;
        }
        for blob in &m.blobs {
            if self.pushed.insert(blob.to_string()) {
                self.push_blob(blob).await?;
                seeded.blobs += 1;
            }
        }
        let caller = Ok(Caller::system());
        let ask = Asker {
            app: self.app,
            caller: &caller,
        };
        let reference = tag.map_or_else(|| digest.to_string(), str::to_string);
        let body = body_of(bytes.into());
        super::registry::put_manifest(
            ask,
            &self.reg,
            &self.image,
            &reference,
            body,
            Some(&m.media_type),
        )
        .await
        .map_err(|e| {
            format!(
                "pushing manifest {digest} as '{reference}': {}",
                e.message()
            )
        })?;
        seeded.manifests += 1;
        Ok(())
    }

    async fn push_blob(&self, d: &Digest) -> Result<(), String> {
        let path = self.blob_path(d);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| format!("blob {d} ({}): {e}", path.display()))?;
        let body: crate::app::Body =
            Box::pin(tokio_util::io::ReaderStream::with_capacity(file, 256 << 10));
        let caller = Ok(Caller::system());
        let ask = Asker {
            app: self.app,
            caller: &caller,
        };
        super::uploads::start(
            ask,
            &self.reg,
            &self.image,
            None,
            Some(&d.to_string()),
            body,
        )
        .await
        .map_err(|e| format!("uploading blob {d}: {}", e.message()))?;
        Ok(())
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        // The digest is parsed (algorithm and hex only), so the path stays in the layout.
        self.layout.join("blobs").join(d.algo).join(&d.hex)
    }

    /// A manifest of the layout, at most 4 MiB, checked against its digest (a blob's digest is
    /// checked by its upload).
    fn read_manifest(&self, d: &Digest) -> Result<Vec<u8>, String> {
        let path = self.blob_path(d);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| {
                f.take(super::MAX_MANIFEST as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(|e| format!("manifest {d} ({}): {e}", path.display()))?;
        if bytes.len() > super::MAX_MANIFEST {
            return Err(format!("manifest {d} is larger than 4 MiB"));
        }
        let actual = match d.algo {
            "sha256" => Digest::sha256_of(&bytes).hex,
            _ => {
                use sha2::Digest as _;
                hex::encode(sha2::Sha512::digest(&bytes))
            }
        };
        if actual != d.hex {
            return Err(format!(
                "manifest {d} does not have that digest ({}:{actual})",
                d.algo
            ));
        }
        Ok(bytes)
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", name_of(path)))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", name_of(path)))
}

fn descriptor_digest(entry: &Value) -> Result<Digest, String> {
    let d = entry
        .get("digest")
        .and_then(Value::as_str)
        .ok_or("an entry of index.json has no digest")?;
    Digest::parse(d).ok_or_else(|| format!("'{d}' is not a digest"))
}

/// The tag of a `ref.name`: the name itself, or what follows the last `:` of a full reference
/// (`docker.io/library/alpine:3.19`); none for a reference by digest (`alpine@sha256:...`).
fn tag_of(name: &str) -> Option<String> {
    if name.contains('@') {
        return None;
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    Some(match last.rsplit_once(':') {
        Some((_, tag)) => tag.to_string(),
        None => name.to_string(),
    })
}

fn body_of(bytes: bytes::Bytes) -> crate::app::Body {
    Box::pin(futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_of_reference_names() {
        let tag = |n: &str| super::tag_of(n);
        assert_eq!(tag("3.19").as_deref(), Some("3.19"));
        assert_eq!(tag("alpine:3.19").as_deref(), Some("3.19"));
        assert_eq!(
            tag("docker.io/library/alpine:3.19").as_deref(),
            Some("3.19")
        );
        assert_eq!(tag("localhost:5000/a/b:latest").as_deref(), Some("latest"));
        assert_eq!(tag("alpine@sha256:0123"), None);
    }
}
