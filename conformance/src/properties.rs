//! Property-based invariants, checked over HTTP against a small model of the registry: generated paths
//! (spaces, unicode, `%`, `;`, `!`, deep nesting, trailing slashes), contents (empty to a few MB) and
//! properties. Each generated case is a short sequence of operations under its own folder; after every
//! operation the target must agree with the model:
//!
//! - deploy then retrieve gives the same bytes;
//! - the checksums and size the storage API reports match the bytes;
//! - folder listings match what was deployed and deleted;
//! - properties given as matrix parameters round-trip;
//! - a deleted item answers 404 in the error shape.
//!
//! Seeded and reproducible: a failure reports the seed, the shrunk operations and a curl command.

use std::collections::{BTreeMap, BTreeSet};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::Value;

use crate::case::{digests, Ctx, Failure};

/// Everything but unreserved characters is percent-encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One operation of a generated case.
#[derive(Clone)]
pub enum Op {
    /// Deploy `content` at `path` (segments) with matrix `props`.
    Deploy {
        path: Vec<String>,
        content: Vec<u8>,
        props: Vec<(String, String)>,
    },
    /// Create a folder (PUT with a trailing slash).
    MakeDir { path: Vec<String> },
    /// Delete the item at the path of an earlier operation (index into the known paths).
    Delete { pick: usize },
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Deploy {
                path,
                content,
                props,
            } => {
                let shown = if content.len() <= 16 {
                    format!("{content:?}")
                } else {
                    format!("<{} bytes>", content.len())
                };
                write!(
                    f,
                    "Deploy {{ path: {path:?}, content: {shown}, props: {props:?} }}"
                )
            }
            Op::MakeDir { path } => write!(f, "MakeDir {{ path: {path:?} }}"),
            Op::Delete { pick } => write!(f, "Delete {{ pick: {pick} }}"),
        }
    }
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,8}",
        "[a-zA-Z0-9 %;!+=,()'@-]{1,10}",
        "[\\p{L}\\p{N}]{1,5}",
        "[a-z]{1,3}(\\.[a-z]{1,3}){1,2}",
    ]
    .prop_filter("no dot segments, no trailing '!'", |s| {
        s != "." && s != ".." && !s.ends_with('!') && s.trim() == s
    })
}

fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(segment(), 1..6)
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(any::<u8>(), 0..2048),
        1 => (0usize..3_000_000, any::<u8>()).prop_map(|(n, b)| (0..n).map(|i| b.wrapping_add((i % 251) as u8)).collect()),
    ]
}

fn props() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        ("[a-z][a-zA-Z0-9._-]{0,8}", "[a-zA-Z0-9 ./:é-]{0,10}"),
        0..3,
    )
}

/// A sequence of operations.
pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        5 => (path(), content(), props()).prop_map(|(path, content, props)| Op::Deploy { path, content, props }),
        1 => path().prop_map(|path| Op::MakeDir { path }),
        2 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
    ];
    prop::collection::vec(op, 1..6)
}

/// Properties as the model keeps them: keys sorted, values in order without duplicates.
type PropMap = BTreeMap<String, Vec<String>>;

/// The model: what exists under the case's folder.
#[derive(Default, Debug)]
struct Model {
    files: BTreeMap<String, (Vec<u8>, PropMap)>,
    dirs: BTreeSet<String>,
    known: Vec<String>,
}

impl Model {
    fn parents(p: &str) -> Vec<String> {
        let segs: Vec<&str> = p.split('/').collect();
        (1..segs.len()).map(|i| segs[..i].join("/")).collect()
    }

    /// Whether a file (or folder) may go at `p` without a file/folder clash.
    fn fits(&self, p: &str, folder: bool) -> bool {
        let parents_ok = Self::parents(p).iter().all(|q| !self.files.contains_key(q));
        let here_ok = if folder {
            !self.files.contains_key(p)
        } else {
            !self.dirs.contains(p)
        };
        parents_ok && here_ok
    }

    fn add_parents(&mut self, p: &str) {
        for q in Self::parents(p) {
            self.dirs.insert(q);
        }
    }

    fn remove(&mut self, p: &str) {
        let under = format!("{p}/");
        self.files.retain(|k, _| k != p && !k.starts_with(&under));
        self.dirs.retain(|k| k != p && !k.starts_with(&under));
    }

    fn children(&self, folder: &str) -> BTreeSet<(String, bool)> {
        let prefix = if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        };
        let direct = |k: &String| {
            k.strip_prefix(&prefix)
                .filter(|r| !r.is_empty() && !r.contains('/'))
                .map(str::to_string)
        };
        let files = self
            .files
            .keys()
            .filter_map(|k| direct(k).map(|n| (n, false)));
        let dirs = self
            .dirs
            .iter()
            .filter_map(|k| direct(k).map(|n| (n, true)));
        files.chain(dirs).collect()
    }
}

fn encode(segs: &[String]) -> String {
    segs.iter()
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

/// Runs the generated cases; returns a failure with the seed, the shrunk case and a curl command.
pub fn check(
    c: &Ctx,
    seed: u64,
    cases: u32,
    handle: &tokio::runtime::Handle,
) -> Result<(), Failure> {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    // Shrinking re-runs HTTP sequences; bound it in iterations and in time.
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 1024,
        max_shrink_time: 5_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let last_request = std::sync::Mutex::new(String::new());
    let result = runner.run(&ops(), |ops| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let root = c.path(&format!("prop/{n}"));
        let out = handle.block_on(apply(c, &root, &ops, &last_request));
        // Each case cleans up after itself; the run's teardown catches the rest.
        let _ = handle.block_on(c.send(c.req("DELETE", &root)));
        out
    });
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(Failure::Fail(format!(
            "property failed (seed {seed}; rerun with --seed {seed}): {e}\nreproduce the last request: {}",
            last_request.lock().map(|s| s.clone()).unwrap_or_default()
        ))),
    }
}

fn curl(c: &Ctx, method: &str, url_path: &str, body: Option<&[u8]>) -> String {
    let auth = match c.credentials.user() {
        Some(u) => format!("-u \"{u}:$JCR_PASSWORD\" "),
        None => String::new(),
    };
    let data = match body {
        Some(b) if b.len() <= 64 => format!(
            " --data-binary $'{}'",
            b.iter().map(|x| format!("\\x{x:02x}")).collect::<String>()
        ),
        Some(b) => format!(" --data-binary @file-of-{}-bytes", b.len()),
        None => String::new(),
    };
    format!("curl -sS {auth}-X {method} '{}/{url_path}'{data}", c.base)
}

async fn apply(
    c: &Ctx,
    root: &str,
    ops: &[Op],
    last: &std::sync::Mutex<String>,
) -> Result<(), TestCaseError> {
    let mut m = Model::default();
    let note = |s: String| {
        if let Ok(mut l) = last.lock() {
            *l = s;
        }
    };
    for op in ops {
        match op {
            Op::Deploy {
                path,
                content,
                props,
            } => {
                let rel = path.join("/");
                if !m.fits(&rel, false) {
                    continue;
                }
                let matrix: String = props
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            ";{}={}",
                            utf8_percent_encode(k, SEGMENT),
                            utf8_percent_encode(v, SEGMENT)
                        )
                    })
                    .collect();
                let url = format!("{root}/{}{matrix}", encode(path));
                note(curl(c, "PUT", &url, Some(content)));
                let r = c
                    .send(c.req("PUT", &url).body(content))
                    .await
                    .map_err(|e| fail(format!("{e:?}")))?;
                prop_assert_eq!(
                    r.status,
                    201,
                    "PUT {} answered {}: {}",
                    url,
                    r.status,
                    r.text()
                );
                let mut pm = PropMap::new();
                for (k, v) in props {
                    let vals = pm.entry(k.clone()).or_default();
                    if !vals.contains(v) {
                        vals.push(v.clone());
                    }
                }
                m.add_parents(&rel);
                m.files.insert(rel.clone(), (content.clone(), pm));
                m.known.push(rel);
            }
            Op::MakeDir { path } => {
                let rel = path.join("/");
                if !m.fits(&rel, true) {
                    continue;
                }
                let url = format!("{root}/{}/", encode(path));
                note(curl(c, "PUT", &url, None));
                let r = c
                    .send(c.req("PUT", &url))
                    .await
                    .map_err(|e| fail(format!("{e:?}")))?;
                prop_assert_eq!(r.status, 201, "PUT {} answered {}", url, r.status);
                m.add_parents(&rel);
                m.dirs.insert(rel.clone());
                m.known.push(rel);
            }
            Op::Delete { pick } => {
                if m.known.is_empty() {
                    continue;
                }
                let rel = m.known[pick % m.known.len()].clone();
                let segs: Vec<String> = rel.split('/').map(str::to_string).collect();
                let url = format!("{root}/{}", encode(&segs));
                let exists = m.files.contains_key(&rel) || m.dirs.contains(&rel);
                note(curl(c, "DELETE", &url, None));
                let r = c
                    .send(c.req("DELETE", &url))
                    .await
                    .map_err(|e| fail(format!("{e:?}")))?;
                prop_assert_eq!(
                    r.status,
                    if exists { 204 } else { 404 },
                    "DELETE {} answered {}",
                    url,
                    r.status
                );
                m.remove(&rel);
                let g = c
                    .send(c.req("GET", &format!("api/storage/{url}")))
                    .await
                    .map_err(|e| fail(format!("{e:?}")))?;
                prop_assert_eq!(g.status, 404, "deleted {} still answers {}", url, g.status);
                let v: Value = serde_json::from_slice(&g.body)
                    .map_err(|e| fail(format!("404 body is not JSON: {e}")))?;
                prop_assert_eq!(
                    &v["errors"][0]["status"],
                    &Value::from(404),
                    "404 error shape: {}",
                    v
                );
            }
        }
        verify(c, root, &m, &note).await?;
    }
    Ok(())
}

async fn verify(
    c: &Ctx,
    root: &str,
    m: &Model,
    note: &impl Fn(String),
) -> Result<(), TestCaseError> {
    for (rel, (content, props)) in &m.files {
        let segs: Vec<String> = rel.split('/').map(str::to_string).collect();
        let url = format!("{root}/{}", encode(&segs));
        note(curl(c, "GET", &url, None));
        let r = c
            .send(c.req("GET", &url))
            .await
            .map_err(|e| fail(format!("{e:?}")))?;
        prop_assert_eq!(r.status, 200, "GET {}", url);
        prop_assert!(
            r.body == *content,
            "GET {} returned {} bytes that differ from the {} deployed",
            url,
            r.body.len(),
            content.len()
        );
        let info = c
            .send(c.req("GET", &format!("api/storage/{url}")))
            .await
            .map_err(|e| fail(format!("{e:?}")))?;
        let v: Value = serde_json::from_slice(&info.body)
            .map_err(|e| fail(format!("file info is not JSON: {e}")))?;
        let (sha1, md5, sha256) = digests(content);
        prop_assert_eq!(
            &v["checksums"],
            &serde_json::json!({"sha1": sha1, "md5": md5, "sha256": sha256}),
            "checksums of {}",
            url
        );
        prop_assert_eq!(
            &v["size"],
            &Value::from(content.len().to_string()),
            "size of {}",
            url
        );
        let p = c
            .send(c.req("GET", &format!("api/storage/{url}?properties")))
            .await
            .map_err(|e| fail(format!("{e:?}")))?;
        if props.is_empty() {
            prop_assert_eq!(p.status, 404, "{} has no properties", url);
        } else {
            let pv: Value = serde_json::from_slice(&p.body)
                .map_err(|e| fail(format!("properties are not JSON: {e}")))?;
            prop_assert_eq!(
                &pv["properties"],
                &serde_json::to_value(props).unwrap_or_default(),
                "properties of {}",
                url
            );
        }
    }
    let mut folders: Vec<String> = m.dirs.iter().cloned().collect();
    folders.push(String::new());
    for f in folders {
        let url = if f.is_empty() {
            root.to_string()
        } else {
            format!(
                "{root}/{}",
                encode(&f.split('/').map(str::to_string).collect::<Vec<_>>())
            )
        };
        if f.is_empty() && m.files.is_empty() && m.dirs.is_empty() {
            continue;
        }
        note(curl(c, "GET", &format!("api/storage/{url}"), None));
        let r = c
            .send(c.req("GET", &format!("api/storage/{url}")))
            .await
            .map_err(|e| fail(format!("{e:?}")))?;
        prop_assert_eq!(r.status, 200, "folder info of {}", url);
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| fail(format!("folder info is not JSON: {e}")))?;
        let got: BTreeSet<(String, bool)> = v["children"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| {
                        Some((
                            x["uri"].as_str()?.trim_start_matches('/').to_string(),
                            x["folder"].as_bool()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        prop_assert_eq!(got, m.children(&f), "children of {}", url);
    }
    Ok(())
}
