//! Where a pull is served from: a local Docker repository's own tree, a remote's cache (filled
//! from its upstream v2 registry on a miss, through [`crate::repos::remote`]: the same upstream
//! client, single flight, misses, offline and hardFail rules, and the Docker token flow), or a
//! virtual's members in order, the first that has the manifest or blob winning.
//!
//! A remote's cache has the layout of a local repository: a manifest pulled by tag goes to
//! `<image>/<tag>/manifest.json` (`list.manifest.json` for lists and indexes), one pulled by
//! digest to `<image>/sha256__<hex>/`, and a blob beside the first cached manifest that names
//! it. A tag is asked upstream again after `retrievalCachePeriodSecs`; content by digest never.

use serde_json::json;

use super::registry::{manifest_props, Asker, Reg, Stored};
use super::{Code, Digest, RegistryError};
use crate::auth::{Action, Caller};
use crate::config::{PackageType, RepoClass, RepoConfig};
use crate::error::ApiError;
use crate::repos::remote::{self as generic, Outcome, Streaming, Want};
use crate::repos::{settings, upstream};
use crate::store::{FileData, Mutation, Props, Repo, State};

/// What a pull asks upstream for: every manifest type the registry stores.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The Docker repositories a request to `key` for `image` looks in, in order, with the
/// configuration of the remote ones.
fn members(state: &State, key: &str, image: &str) -> Vec<(String, Option<RepoConfig>)> {
    // `<remote>-cache` is what the remote holds: never asked upstream.
    let cache_only = state.cache_of(key).is_some();
    crate::repos::resolve::members(state, key, image)
        .into_iter()
        .filter(|r| r.config.package_type == PackageType::Docker)
        .map(|r| {
            let remote =
                (r.config.rclass == RepoClass::Remote && !cache_only).then(|| r.config.clone());
            (r.config.key.clone(), remote)
        })
        .collect()
}

/// The upstream URL of `rest` (`manifests/<reference>`, `blobs/<digest>`) of `image`: the
/// remote's URL (with or without a trailing `/v2`), then `/v2/<image>/<rest>`. Docker Hub's
/// official images live under `library/`, as Artifactory adds for one-component names.
fn v2_url(c: &RepoConfig, image: &str, rest: &str) -> String {
    let base = c.url.as_deref().unwrap_or("").trim_end_matches('/');
    let base = base.strip_suffix("/v2").unwrap_or(base);
    let hub = [
        "://registry-1.docker.io",
        "://index.docker.io",
        "://docker.io",
    ]
    .iter()
    .any(|h| base.ends_with(h));
    if hub && !image.contains('/') {
        format!("{base}/v2/library/{image}/{rest}")
    } else {
        format!("{base}/v2/{image}/{rest}")
    }
}

/// Whether the item at `path` of `key` may be read by `caller`.
fn readable(ask: Asker<'_>, state: &State, caller: &Caller, key: &str, path: &str) -> bool {
    ask.app.auth.may(state, caller, Action::Read, key, path)
}

/// A cached or local manifest of `image` in `repo`: what a pull serves and when it was last
/// fetched. `denied` is set when there is one the caller may not read.
fn cached_manifest(
    ask: Asker<'_>,
    state: &State,
    caller: &Caller,
    repo: &Repo,
    image: &str,
    reference: &str,
    denied: &mut bool,
) -> Option<(Stored, i64)> {
    let (path, item) = super::find_manifest(repo, image, reference)?;
    if !readable(ask, state, caller, &repo.config.key, &path) {
        *denied = true;
        return None;
    }
    Some((super::registry::stored(item, reference)?, item.updated))
}

/// The manifest of `image` by tag or digest, from the first member of `reg`'s repository that
/// has it or (a remote) can fetch it.
pub(crate) async fn find_manifest(
    ask: Asker<'_>,
    caller: &Caller,
    reg: &Reg,
    image: &str,
    reference: &str,
) -> Result<Stored, ApiError> {
    let app = ask.app;
    let by_digest = Digest::parse(reference).is_some();
    let unknown = || RegistryError::new(Code::ManifestUnknown).detail(json!({ "manifest": image }));
    let members = members(&app.store.read(), &reg.repo, image);
    let mut denied = false;
    // Where a fetched manifest would go: what the caller must be allowed to read there.
    let folder = super::join(
        image,
        &Digest::parse(reference).map_or_else(|| reference.to_string(), |d| d.file_name()),
    );
    for (key, remote) in members {
        let mut hidden = false;
        let cached = {
            let state = app.store.read();
            let repo = state.repo(&key);
            let found = repo.and_then(|r| {
                cached_manifest(ask, &state, caller, r, image, reference, &mut hidden)
            });
            // A remote would fetch it into that place.
            if remote.is_some() {
                hidden |= !readable(
                    ask,
                    &state,
                    caller,
                    &key,
                    &super::join(&folder, "manifest.json"),
                );
            }
            found
        };
        if hidden {
            // The caller may not read it here: neither the cache nor upstream answers for it.
            denied = true;
            continue;
        }
        let Some(c) = remote else {
            match cached {
                Some((s, _)) => return Ok(s),
                None => continue,
            }
        };
        let offline = settings::flag(&c, "offline");
        if let Some((s, updated)) = &cached {
            let period = settings::number(&c, "retrievalCachePeriodSecs").saturating_mul(1000);
            let fresh = app.config.clock.now_ms().saturating_sub(*updated) < period;
            if by_digest || fresh || offline {
                return Ok(s.clone());
            }
        }
        if offline {
            continue;
        }
        match fetch_manifest(ask, caller, &c, image, reference).await {
            Ok(Some(s)) => return Ok(s),
            // Gone upstream: a copy in the cache is still served, as for any remote file.
            Ok(None) => {
                if let Some((s, _)) = cached {
                    return Ok(s);
                }
            }
            Err(why) => {
                tracing::warn!("remote {}: {image}:{reference}: {why}", c.key);
                if let Some((s, _)) = cached {
                    return Ok(s);
                }
                if settings::flag(&c, "hardFail") {
                    return Err(upstream_failed(&c, &why));
                }
            }
        }
    }
    if denied {
        return Err(RegistryError::new(Code::Denied).into());
    }
    Err(unknown().into())
}

/// An upstream failure of a `hardFail` remote with nothing cached.
fn upstream_failed(c: &RepoConfig, why: &str) -> ApiError {
    RegistryError::new(Code::Unknown)
        .status(502)
        .message(format!(
            "Failed to retrieve resource from remote repository '{}': {why}",
            c.key
        ))
        .into()
}

/// Fetches a manifest from `c`'s upstream and caches it; `None` when upstream has none.
async fn fetch_manifest(
    ask: Asker<'_>,
    caller: &Caller,
    c: &RepoConfig,
    image: &str,
    reference: &str,
) -> Result<Option<Stored>, String> {
    let app = ask.app;
    let req = upstream::Request {
        head: false,
        url: v2_url(c, image, &format!("manifests/{reference}")),
        basic: generic::basic(c),
        headers: vec![("accept".into(), ACCEPT.into())],
        timeout: generic::timeout(c),
    };
    let resp = generic::send(app, c, req).await.map_err(|f| f.0)?;
    match resp.status {
        200 => {}
        404 | 410 => return Ok(None),
        s => return Err(format!("upstream answered {s}")),
    }
    let ct = upstream::header(&resp.headers, "content-type").map(str::to_string);
    let bytes = crate::app::read_small(resp.body, super::MAX_MANIFEST)
        .await
        .map_err(|e| format!("the manifest could not be read ({})", e.status))?;
    let m = super::parse_manifest(&bytes, ct.as_deref())
        .map_err(|e| format!("upstream sent a manifest the registry does not take: {e:?}"))?;
    let digest = Digest::sha256_of(&bytes);
    let asked = Digest::parse(reference);
    if let Some(d) = &asked {
        let actual = match d.algo {
            "sha256" => digest.hex.clone(),
            _ => {
                use sha2::Digest as _;
                hex::encode(sha2::Sha512::digest(&bytes))
            }
        };
        if d.hex != actual {
            return Err(format!("upstream sent other bytes than {d}"));
        }
    }
    let shown = asked.clone().unwrap_or_else(|| digest.clone());
    let folder = super::join(
        image,
        &match &asked {
            Some(d) => d.file_name(),
            None => reference.to_string(),
        },
    );
    let (name, other) = if m.list {
        ("list.manifest.json", "manifest.json")
    } else {
        ("manifest.json", "list.manifest.json")
    };
    let _pin = app.store.blobs.pin().await;
    let info = app
        .store
        .blobs
        .ingest_bytes(bytes)
        .await
        .map_err(|e| format!("the manifest was not stored: {e:?}"))?;
    let props = manifest_props(&m, reference, &shown, image, &info.sha256);
    let put = Mutation::PutFile {
        repo: c.key.clone(),
        path: super::join(&folder, name),
        file: FileData::of_blob(&info, "application/json"),
        props,
        now: app.config.clock.now_ms(),
        user: caller.name.clone(),
        stamp: Default::default(),
    };
    let (key, stale) = (c.key.clone(), super::join(&folder, other));
    app.store
        .transact(
            move |state| {
                // A tag that was a list and is an image now (or the reverse) keeps one manifest.
                let mut steps = Vec::new();
                if state.item(&key, &stale).is_some() {
                    steps.push(Mutation::Delete {
                        repo: key.clone(),
                        path: stale.clone(),
                    });
                }
                steps.push(put.clone());
                Ok::<_, ApiError>(Mutation::Batch { steps })
            },
            |_| (),
        )
        .await
        .map_err(|e| format!("the manifest was not cached: {e:?}"))?;
    Ok(Some(Stored {
        sha256: info.sha256,
        size: info.size,
        media_type: m.media_type,
        digest: shown.to_string(),
    }))
}

/// A blob as a pull gets it.
pub(crate) enum Blob {
    /// Stored (local, or in a remote's cache).
    Stored(FileData),
    /// Coming from upstream into a remote's cache as it streams to this client.
    Streaming(Streaming),
}

/// A stored blob of `image` in `repo` the caller may read (an exclude pattern may hide some tag
/// folders).
fn stored_blob(
    ask: Asker<'_>,
    state: &State,
    caller: &Caller,
    key: &str,
    image: &str,
    d: &Digest,
) -> Option<FileData> {
    let repo = state.repo(key)?;
    let name = format!("/{}", d.file_name());
    repo.subtree(image)
        .filter(|(k, i)| {
            k.ends_with(&name)
                && super::in_image(image, k)
                && !i.is_folder()
                && readable(ask, state, caller, key, k)
        })
        .find_map(|(_, i)| i.file.as_deref().cloned())
}

/// The blob `digest` of `image`, from the first member of `reg`'s repository that has it or (a
/// remote) can fetch it. `head`: a fetch is waited for, not streamed.
pub(crate) async fn find_blob(
    ask: Asker<'_>,
    caller: &Caller,
    reg: &Reg,
    image: &str,
    d: &Digest,
    head: bool,
) -> Result<Blob, ApiError> {
    let app = ask.app;
    let members = members(&app.store.read(), &reg.repo, image);
    for (key, remote) in members {
        if let Some(f) = stored_blob(ask, &app.store.read(), caller, &key, image, d) {
            return Ok(Blob::Stored(f));
        }
        let Some(c) = remote.filter(|c| !settings::flag(c, "offline")) else {
            continue;
        };
        if d.algo != "sha256" {
            continue;
        }
        let path = super::join(&blob_folder(app, &c.key, image, d), &d.file_name());
        if !readable(ask, &app.store.read(), caller, &key, &path) {
            continue;
        }
        let mut props = Props::default();
        props.add("sha256", &d.hex);
        let want = Want {
            path,
            url: v2_url(&c, image, &format!("blobs/{d}")),
            accept: None,
            sha256: Some(d.hex.clone()),
            props,
        };
        match generic::fetch(app, caller, &c, want, None, head).await? {
            (Some(s), _) => return Ok(Blob::Streaming(s)),
            (None, Outcome::Cached) => {
                if let Some(f) = stored_blob(ask, &app.store.read(), caller, &key, image, d) {
                    return Ok(Blob::Stored(f));
                }
            }
            (None, _) => {}
        }
    }
    Err(RegistryError::new(Code::BlobUnknown)
        .detail(json!({ "digest": d.to_string() }))
        .into())
}

/// Where a blob fetched for `image` goes in remote `key`'s cache: the folder of the first cached
/// image manifest that names it, else `<image>/_blobs` (a blob asked for before any manifest).
fn blob_folder(app: &crate::app::App, key: &str, image: &str, d: &Digest) -> String {
    let manifests: Vec<(String, String)> = {
        let state = app.store.read();
        let Some(repo) = state.repo(key) else {
            return super::join(image, "_blobs");
        };
        repo.subtree(image)
            .filter(|(k, i)| {
                k.ends_with("/manifest.json") && super::in_image(image, k) && !i.is_folder()
            })
            .filter_map(|(k, i)| {
                let folder = k.rsplit_once('/')?.0.to_string();
                Some((folder, i.file.as_ref()?.sha256.to_string()))
            })
            .collect()
    };
    manifests
        .into_iter()
        .find(|(_, sha256)| {
            std::fs::read(app.store.blobs.path(sha256))
                .ok()
                .and_then(|b| super::parse_manifest(&b, None).ok())
                .is_some_and(|m| m.blobs.contains(d))
        })
        .map(|(folder, _)| folder)
        .unwrap_or_else(|| super::join(image, "_blobs"))
}

/// The tags of `image` in every member of `reg`'s repository (a remote's: those in its cache)
/// that the caller may read, sorted, each once.
pub(crate) fn tags(ask: Asker<'_>, caller: &Caller, reg: &Reg, image: &str) -> Vec<String> {
    let state = ask.app.store.read();
    let mut all: Vec<String> = members(&state, &reg.repo, image)
        .into_iter()
        .filter_map(|(key, _)| state.repo(&key))
        .flat_map(|repo| {
            let key = repo.config.key.as_str();
            super::tags(repo, image)
                .into_iter()
                .filter(|t| readable(ask, &state, caller, key, &super::join(image, t)))
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The images of every member of `reg`'s repository, sorted, each once.
pub(crate) fn images(ask: Asker<'_>, caller: &Caller, reg: &Reg) -> Vec<String> {
    let state = ask.app.store.read();
    let mut all: Vec<String> = members(&state, &reg.repo, "")
        .into_iter()
        .filter_map(|(key, _)| state.repo(&key))
        .flat_map(|repo| {
            let key = repo.config.key.as_str();
            super::catalog(repo)
                .into_iter()
                .filter(|i| readable(ask, &state, caller, key, i))
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(url: &str) -> RepoConfig {
        RepoConfig {
            url: Some(url.to_string()),
            ..RepoConfig::new("r", RepoClass::Remote, PackageType::Docker)
        }
    }

    #[test]
    fn upstream_urls() {
        let hub = remote("https://registry-1.docker.io/");
        assert_eq!(
            v2_url(&hub, "alpine", "manifests/3"),
            "https://registry-1.docker.io/v2/library/alpine/manifests/3"
        );
        assert_eq!(
            v2_url(&hub, "grafana/grafana", "blobs/x"),
            "https://registry-1.docker.io/v2/grafana/grafana/blobs/x"
        );
        let other = remote("http://127.0.0.1:5000/v2");
        assert_eq!(
            v2_url(&other, "alpine", "manifests/3"),
            "http://127.0.0.1:5000/v2/alpine/manifests/3"
        );
        let jcr = remote("http://h/artifactory/api/docker/docker-local");
        assert_eq!(
            v2_url(&jcr, "a/b", "manifests/1"),
            "http://h/artifactory/api/docker/docker-local/v2/a/b/manifests/1"
        );
    }
}
