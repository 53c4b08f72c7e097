//! Artifacts: deploying a file, a file by checksum or a folder, deleting, and what a retrieve
//! resolves to. The checks that guard a write run inside [`crate::store::Store::transact`] with the
//! write, and an answer describes the item exactly as this request wrote it.

pub(crate) mod archive;
pub(crate) mod props;
pub(crate) mod views;

use crate::app::{App, Body};
use crate::auth::{Action, Caller};
use crate::config::RepoClass;
use crate::error::ApiError;
use crate::messages as msg;
use crate::store::blobs::is_hex;
use crate::store::{
    FileData, IngestError, Item, Mutation, Original, Props, Stamp, State, TreeError,
};

/// Checksums a client sent with a deploy (`X-Checksum-Sha1`, `-Md5`, `-Sha256`).
#[derive(Clone, Debug, Default)]
pub(crate) struct SentChecksums {
    pub sha1: Option<String>,
    pub md5: Option<String>,
    pub sha256: Option<String>,
}

impl SentChecksums {
    /// The named checksums, and `any` (`X-Checksum`) typed by its length where none was named.
    pub(crate) fn new(
        sha1: Option<&str>,
        md5: Option<&str>,
        sha256: Option<&str>,
        any: Option<&str>,
    ) -> SentChecksums {
        let clean = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        let mut s = SentChecksums {
            sha1: clean(sha1),
            md5: clean(md5),
            sha256: clean(sha256),
        };
        if let Some(v) = clean(any) {
            match v.len() {
                32 if s.md5.is_none() => s.md5 = Some(v),
                40 if s.sha1.is_none() => s.sha1 = Some(v),
                64 if s.sha256.is_none() => s.sha256 = Some(v),
                _ => {}
            }
        }
        s
    }

    fn original(&self) -> Option<Box<Original>> {
        let o = Original {
            sha1: self.sha1.clone(),
            md5: self.md5.clone(),
            sha256: self.sha256.clone(),
        };
        (o.sha1.is_some() || o.md5.is_some() || o.sha256.is_some()).then(|| Box::new(o))
    }

    /// The CLIENT checksum policy: any sent checksum must equal the computed one.
    fn verify(&self, repo: &str, path: &str, f: &FileData) -> Result<(), ApiError> {
        let (sha1, md5, sha256) = (f.sha1.hex(), f.md5.hex(), f.sha256.hex());
        let bad = |sent: &Option<String>, actual: &str| {
            sent.as_ref()
                .is_some_and(|s| !s.eq_ignore_ascii_case(actual))
        };
        if !(bad(&self.sha1, &sha1) || bad(&self.md5, &md5) || bad(&self.sha256, &sha256)) {
            return Ok(());
        }
        Err(msg::checksum_policy(
            repo,
            path,
            [
                ("SHA-1", self.sha1.as_deref(), &sha1),
                ("MD5", self.md5.as_deref(), &md5),
                ("SHA-256", self.sha256.as_deref(), &sha256),
            ],
        ))
    }
}

/// A deploy as the client asked for it.
#[derive(Debug)]
pub(crate) struct Deploy {
    /// The repository addressed (a virtual one deploys into its default deployment repository).
    pub repo: String,
    /// The path inside it (an archive entry's `!/` is part of the name).
    pub path: String,
    /// A folder (`PUT /repo/path/`).
    pub folder: bool,
    /// Matrix parameters, to become properties (checked here: keys must be valid).
    pub matrix: Vec<(String, String)>,
    /// Checksums sent with it.
    pub sent: SentChecksums,
    /// `X-Checksum-Deploy: true`: link existing content instead of reading a body.
    pub by_checksum: bool,
    /// Times and author the client supplied.
    pub stamp: Stamp,
}

/// What a deploy wrote.
#[derive(Debug)]
pub(crate) struct Deployed {
    /// The repository it went into (the deployment repository of a virtual one).
    pub repo: String,
    /// Its path.
    pub path: String,
    /// The item as this deploy committed it.
    pub item: Item,
}

/// Where a deploy to `key` goes: the key itself for a local repository, the default deployment
/// repository of a virtual one.
fn deploy_target(state: &State, key: &str) -> Result<String, ApiError> {
    let repo = state
        .repo(key)
        .ok_or_else(|| msg::no_local_repository(key))?;
    match repo.config.rclass {
        RepoClass::Local => Ok(key.to_string()),
        RepoClass::Remote => Err(msg::no_local_repository(key)),
        RepoClass::Virtual => match repo.config.default_deployment_repo.as_deref() {
            Some(d) if state.repo(d).is_some_and(|x| x.is_local()) => Ok(d.to_string()),
            _ => Err(msg::no_deployment_repository(key)),
        },
    }
}

fn deploy_conflict(repo: &str, t: TreeError) -> ApiError {
    match t {
        TreeError::Conflict(at) => msg::file_folder_conflict(repo, &at),
        TreeError::NoRepo(k) => msg::no_local_repository(&k),
        other => ApiError::internal(format!("{other:?}")),
    }
}

/// Overwriting a file needs delete permission (folders are merged into, not overwritten).
fn guard_overwrite(
    app: &App,
    state: &State,
    caller: &Caller,
    repo: &str,
    path: &str,
) -> Result<(), ApiError> {
    if state.item(repo, path).is_some_and(|i| !i.is_folder()) {
        app.auth
            .require(state, caller, Action::Delete, repo, path, || {
                msg::overwrite_forbidden(&caller.name, repo, path)
            })?;
    }
    Ok(())
}

/// Checks what a deploy may do before any byte is read; returns the repository it goes into and
/// the properties it sets.
fn admit(app: &App, caller: &Caller, d: &Deploy) -> Result<(String, Props), ApiError> {
    let state = app.store.read();
    let (key, path) = (d.repo.as_str(), d.path.as_str());
    let deploy = |repo: &str| {
        app.auth
            .require(&state, caller, Action::Deploy, repo, path, || {
                msg::deploy_forbidden(&caller.name, repo, path)
            })
    };
    deploy(key)?;
    let repo = deploy_target(&state, key)?;
    if repo != key {
        // Through a virtual repository: the deployment repository's permissions decide.
        deploy(&repo)?;
    }
    if path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.ends_with(":properties") || last.ends_with(":metadata"))
    {
        return Err(msg::old_metadata_notation(&repo, path));
    }
    let target = state.repo(&repo).map(|r| &r.config);
    if let Some(c) = target {
        if crate::repos::resolve::blacked_out(c) {
            return Err(msg::blacked_out(&repo, path));
        }
        if !crate::repos::resolve::accepts(c, path, d.folder) {
            return Err(msg::include_exclude(409, &repo, path));
        }
    }
    let mut props = Props::default();
    for (k, v) in &d.matrix {
        props::validate_key(k)?;
        props.add(k, v);
    }
    if !props.is_empty() {
        app.auth
            .require(&state, caller, Action::Annotate, &repo, path, || {
                msg::annotate_on_deploy_forbidden(&caller.name, &repo, path)
            })?;
    }
    // Checked again with the write; failing here saves reading a body for nothing.
    guard_overwrite(app, &state, caller, &repo, path)?;
    Ok((repo, props))
}

/// Deploys a file, a file by checksum or a folder.
pub(crate) async fn deploy(
    app: &App,
    caller: &Caller,
    d: Deploy,
    body: Body,
) -> Result<Deployed, ApiError> {
    let (repo, props) = admit(app, caller, &d)?;
    // Garbage collection waits while this deploy writes or reuses a blob and commits its item.
    let _pin = app.store.blobs.pin().await;
    if d.folder || d.path.is_empty() {
        let m = Mutation::MakeFolder {
            repo: repo.clone(),
            path: d.path.clone(),
            props,
            now: app.config.clock.now_ms(),
            user: caller.name.clone(),
            stamp: Default::default(),
        };
        return commit_and_read(app, &repo, &d.path, |_| Ok(m)).await;
    }
    let in_the_way = |app: &App| {
        if app
            .store
            .read()
            .item(&repo, &d.path)
            .is_some_and(Item::is_folder)
        {
            return Err(deploy_conflict(&repo, TreeError::Conflict(d.path.clone())));
        }
        Ok(())
    };
    let (file, mut props) = if d.by_checksum {
        let (file, props) = by_checksum(app, &repo, &d, props)?;
        in_the_way(app)?;
        (file, props)
    } else {
        // A folder in the way fails before the body is read.
        in_the_way(app)?;
        (ingest(app, &repo, &d, body).await?, props)
    };
    let package_type = app.store.read().repo(&repo).map(|r| r.config.package_type);
    let chart = match package_type.is_some_and(|pt| crate::helm::is_chart(pt, &d.path)) {
        // A chart is checked before it is committed, and described by its Chart.yaml.
        true => Some(crate::helm::check(app, &file.sha256.hex()).await?),
        false => None,
    };
    for (k, v) in chart.iter().flat_map(|c| c.properties()) {
        props.add(&k, &v);
    }
    let sha256 = file.sha256.hex().to_string();
    let put = Mutation::PutFile {
        repo: repo.clone(),
        path: d.path.clone(),
        file,
        props,
        now: app.config.clock.now_ms(),
        user: caller.name.clone(),
        stamp: d.stamp,
    };
    let done = commit_and_read(app, &repo, &d.path, |state| {
        guard_overwrite(app, state, caller, &repo, &d.path)?;
        Ok(put)
    })
    .await?;
    if let Some(c) = chart {
        app.helm.remember(&repo, &d.path, &sha256, c);
    }
    Ok(done)
}

/// Streams the body into the blob store and checks the checksums the client sent.
async fn ingest(app: &App, repo: &str, d: &Deploy, body: Body) -> Result<FileData, ApiError> {
    let info = app
        .store
        .blobs
        .ingest(body, app.config.max_upload)
        .await
        .map_err(|e| match e {
            IngestError::Body(m) => msg::body_unreadable(&m),
            IngestError::TooLarge => msg::too_large(),
            IngestError::Io(e) => ApiError::internal(e),
        })?;
    let file = FileData {
        size: info.size,
        sha1: info.sha1.into(),
        md5: info.md5.into(),
        sha256: info.sha256.into(),
        original: d.sent.original(),
        mime: crate::mime::for_name(&d.path).into(),
        stats: None,
    };
    d.sent.verify(repo, &d.path, &file)?;
    Ok(file)
}

/// Deploy by checksum: the content of an existing file with the SHA-1 or SHA-256 sent.
fn by_checksum(
    app: &App,
    repo: &str,
    d: &Deploy,
    mut props: Props,
) -> Result<(FileData, Props), ApiError> {
    let fail = |m: String| msg::checksum_deploy_failed(&m);
    let (sha1, sha256) = (d.sent.sha1.as_deref(), d.sent.sha256.as_deref());
    if sha1.is_none() && sha256.is_none() {
        return Err(fail(
            "no checksum header 'X-Checksum-Sha1/X-Checksum-Sha256' was found.".into(),
        ));
    }
    if let Some(s) = sha256.filter(|s| !is_hex(s, 64)) {
        return Err(fail(format!("Invalid SHA-256: {s}")));
    }
    if let Some(s) = sha1.filter(|s| sha256.is_none() && !is_hex(s, 40)) {
        return Err(fail(format!("Invalid SHA-1: {s}")));
    }
    let found = app.store.read().find_by_checksum(sha1, sha256).cloned();
    let Some(mut file) = found.filter(|f| app.store.blobs.contains(&f.sha256.hex())) else {
        return Err(match sha256 {
            Some(s) => fail(format!("No existing file with SHA-256: {s}")),
            None => fail(format!(
                "No existing file with SHA-1: {}",
                sha1.unwrap_or("")
            )),
        });
    };
    d.sent.verify(repo, &d.path, &file)?;
    if let Some(s) = sha256 {
        props.add("sha256", &s.to_ascii_lowercase());
    }
    file.original = d.sent.original();
    file.mime = crate::mime::for_name(&d.path).into();
    Ok((file, props))
}

/// Commits the mutation `check` names and returns the item at `repo:path` as it left it.
async fn commit_and_read(
    app: &App,
    repo: &str,
    path: &str,
    check: impl FnOnce(&State) -> Result<Mutation, ApiError>,
) -> Result<Deployed, ApiError> {
    let item = app
        .store
        .transact(check, |state| state.item(repo, path).cloned())
        .await
        .map_err(|r| ApiError::refused(r, |t| deploy_conflict(repo, t)))?;
    let item = item.ok_or_else(|| ApiError::internal("a committed item is missing"))?;
    Ok(Deployed {
        repo: repo.to_string(),
        path: path.to_string(),
        item,
    })
}

/// Deletes a file or a folder with everything in it.
pub(crate) async fn delete(
    app: &App,
    caller: &Caller,
    repo: &str,
    path: &str,
) -> Result<(), ApiError> {
    let check = |state: &State| {
        app.auth
            .require_tree(state, caller, Action::Delete, repo, path, || {
                msg::overwrite_forbidden(&caller.name, repo, path)
            })?;
        let r = state
            .repo(repo)
            .filter(|x| x.is_local())
            .ok_or_else(|| ApiError::empty(404))?;
        if path.is_empty() && !caller.admin {
            return Err(msg::delete_repository_content_forbidden(repo, &caller.name));
        }
        if !r.items.contains_key(path) {
            return Err(msg::nothing_to_delete(repo, path));
        }
        Ok(Mutation::Delete {
            repo: repo.to_string(),
            path: path.to_string(),
        })
    };
    app.store
        .transact(check, |_| ())
        .await
        .map_err(|r| ApiError::refused(r, |_| msg::nothing_to_delete(repo, path)))
}

/// What a retrieve of `repo:path` finds: the repository that holds it (a virtual repository's
/// member) and the item. `None` inside: nothing there.
pub(crate) fn lookup(
    app: &App,
    caller: &Caller,
    repo: &str,
    path: &str,
    forbidden: impl FnOnce() -> ApiError,
) -> Result<Option<(String, Item)>, ApiError> {
    let state = app.store.read();
    app.auth
        .require(&state, caller, Action::Read, repo, path, forbidden)?;
    let Some(r) = state.repo(repo) else {
        return Err(msg::no_such_repository(repo));
    };
    if r.config.rclass != RepoClass::Virtual {
        if crate::repos::resolve::blacked_out(&r.config) {
            return Err(msg::blacked_out(repo, path));
        }
        let folder = state.item(repo, path).is_some_and(Item::is_folder);
        if !crate::repos::resolve::accepts(&r.config, path, folder) {
            return Err(msg::include_exclude(404, repo, path));
        }
    }
    Ok(state
        .resolve(repo, path)
        .map(|(r, item)| (r.config.key.clone(), item.clone())))
}

/// Counts a download of `repo:path` (not waiting for the disk: statistics may lag a crash).
pub(crate) fn record_download(app: &App, caller: &Caller, repo: &str, path: &str) {
    let m = Mutation::Download {
        repo: repo.to_string(),
        path: path.to_string(),
        now: app.config.clock.now_ms(),
        user: caller.name.clone(),
    };
    if let Err(e) = app.store.commit_lazy(m) {
        tracing::warn!("could not record a download: {e:?}");
    }
}

/// `x.sha1|x.sha256|x.md5` of an existing file `x`: the checksum.
pub(crate) fn checksum_side_file(app: &App, repo: &str, path: &str) -> Option<String> {
    let state = app.store.read();
    [".sha1", ".sha256", ".md5"].iter().find_map(|ext| {
        let base = path.strip_suffix(ext)?;
        let (_, item) = state.resolve(repo, base)?;
        let f = item.file.as_ref()?;
        Some(match *ext {
            ".sha1" => f.sha1.hex().to_string(),
            ".sha256" => f.sha256.hex().to_string(),
            _ => f.md5.hex().to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{admin, app, app_with, body, caller, with_user};

    fn deploy_of(path: &str) -> Deploy {
        Deploy {
            repo: "generic-local".into(),
            path: path.into(),
            folder: false,
            matrix: vec![],
            sent: SentChecksums::default(),
            by_checksum: false,
            stamp: Stamp::default(),
        }
    }

    #[tokio::test]
    async fn a_deploy_answers_with_the_item_it_wrote() {
        let app = app();
        let a = admin(&app).await;
        let mut d = deploy_of("a/b.txt");
        d.matrix = vec![("team".into(), "core".into())];
        let done = deploy(&app, &a, d, body(b"hello")).await.unwrap();
        assert_eq!(
            (done.repo.as_str(), done.path.as_str()),
            ("generic-local", "a/b.txt")
        );
        let f = done.item.file.as_ref().unwrap();
        assert_eq!(f.size, 5);
        assert_eq!(
            f.sha1.hex().as_str(),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
        assert_eq!(done.item.props.first("team"), Some("core"));
        assert_eq!(done.item.created_by.as_str(), "admin");
        // The parent folder exists now; a file cannot go where it is.
        let e = deploy(&app, &a, deploy_of("a"), body(b"x"))
            .await
            .unwrap_err();
        assert_eq!(
            (e.status, e.message()),
            (
                409,
                "Cannot deploy to 'generic-local:a': a file and a folder cannot share a path."
            )
        );
    }

    #[tokio::test]
    async fn wrong_checksums_and_bad_keys_store_nothing() {
        let app = app();
        let a = admin(&app).await;
        let mut d = deploy_of("c.txt");
        d.sent = SentChecksums::new(Some(&"0".repeat(40)), None, None, None);
        let e = deploy(&app, &a, d, body(b"content")).await.unwrap_err();
        assert_eq!(e.status, 409);
        assert!(e.message().starts_with("Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact 'generic-local:c.txt'."), "{}", e.message());
        let mut d = deploy_of("d.txt");
        d.matrix = vec![("1bad".into(), "v".into())];
        assert_eq!(
            deploy(&app, &a, d, body(b"x")).await.unwrap_err().status,
            400
        );
        let state = app.store.read();
        assert!(
            state.item("generic-local", "c.txt").is_none()
                && state.item("generic-local", "d.txt").is_none()
        );
    }

    /// The overwrite check runs in the transaction: the state it sees is the one written to.
    #[tokio::test]
    async fn overwriting_needs_delete_permission_at_the_moment_of_the_write() {
        let app = app_with(|c| with_user(c, "writer", "generic-local", "rw"));
        let writer = caller(&app, "writer", "writer-pw").await;
        let a = admin(&app).await;
        deploy(&app, &writer, deploy_of("new.txt"), body(b"mine"))
            .await
            .unwrap();
        let e = deploy(&app, &writer, deploy_of("new.txt"), body(b"again"))
            .await
            .unwrap_err();
        assert_eq!((e.status, e.message()), (403, "Not enough permissions to delete/overwrite artifact 'generic-local:new.txt' (user: 'writer' needs DELETE permission)."));
        // Between a check made earlier and the write, a file appears: the write still refuses.
        let m = Mutation::PutFile {
            repo: "generic-local".into(),
            path: "raced.txt".into(),
            file: FileData {
                size: 1,
                sha1: "a".repeat(40).as_str().into(),
                md5: "b".repeat(32).as_str().into(),
                sha256: "c".repeat(64).as_str().into(),
                original: None,
                mime: "text/plain".into(),
                stats: None,
            },
            props: Props::default(),
            now: 1,
            user: "writer".into(),
            stamp: Stamp::default(),
        };
        deploy(&app, &a, deploy_of("raced.txt"), body(b"admin's"))
            .await
            .unwrap();
        let refused = commit_and_read(&app, "generic-local", "raced.txt", |state| {
            guard_overwrite(&app, state, &writer, "generic-local", "raced.txt")?;
            Ok(m)
        })
        .await
        .unwrap_err();
        assert_eq!(refused.status, 403);
        let state = app.store.read();
        assert_eq!(
            state
                .item("generic-local", "raced.txt")
                .unwrap()
                .created_by
                .as_str(),
            "admin"
        );
    }

    #[tokio::test]
    async fn deletes_check_every_file_and_the_root_is_for_admins() {
        let app = app_with(|c| with_user(c, "deleter", "generic-local", "rwd"));
        let a = admin(&app).await;
        let d = caller(&app, "deleter", "deleter-pw").await;
        deploy(&app, &a, deploy_of("f/x.txt"), body(b"x"))
            .await
            .unwrap();
        let e = delete(&app, &d, "generic-local", "").await.unwrap_err();
        assert_eq!(e.status, 403);
        let e = delete(&app, &d, "generic-local", "nothing")
            .await
            .unwrap_err();
        assert_eq!(
            (e.status, e.message()),
            (
                404,
                "Could not locate artifact 'generic-local:nothing' (Nothing to delete)."
            )
        );
        delete(&app, &d, "generic-local", "f").await.unwrap();
        assert!(app.store.read().item("generic-local", "f/x.txt").is_none());
    }

    #[tokio::test]
    async fn deploy_by_checksum_links_existing_content() {
        let app = app();
        let a = admin(&app).await;
        let done = deploy(&app, &a, deploy_of("orig.bin"), body(b"shared"))
            .await
            .unwrap();
        let sha1 = done.item.file.as_ref().unwrap().sha1.hex().to_string();
        let mut d = deploy_of("copy.bin");
        d.by_checksum = true;
        d.sent = SentChecksums::new(Some(&sha1), None, None, None);
        let linked = deploy(&app, &a, d, body(b"")).await.unwrap();
        assert_eq!(linked.item.file.as_ref().unwrap().sha1.hex().as_str(), sha1);
        let mut d = deploy_of("none.bin");
        d.by_checksum = true;
        d.sent = SentChecksums::new(Some(&"1".repeat(40)), None, None, None);
        let e = deploy(&app, &a, d, body(b"")).await.unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "Checksum deploy failed. No existing file with SHA-1: {}",
                "1".repeat(40)
            )
        );
    }
}
