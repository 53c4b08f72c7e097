//! Every background task, owned in one place with one shutdown: garbage collection and the Docker
//! uploads cleanup on a schedule; checksums computed after the fact and archive entries indexed,
//! fed by the store's after-commit events (and, at start, by what a restart found unfinished); the
//! bcrypt hashing of configured passwords, which a shutdown waits for.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::{JoinHandle, JoinSet};

use crate::app::AppState;
use crate::artifacts::archive;
use crate::events::Event;
use crate::store::Mutation;

/// What a shutdown does with a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Stopped at once (its work is redone or resumed at the next start).
    Abort,
    /// Waited for (stopping it could lose what it owes the store).
    Finish,
}

#[derive(Debug)]
struct Running {
    name: &'static str,
    ending: Ending,
    handle: JoinHandle<()>,
    activity: Arc<Activity>,
}

/// Whether a job is working now, and since when: what `GET /api/tasks` shows.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    id: String,
    /// Units of work under way (a periodic run, a queued item, a one-off job) and when the first
    /// of them started (epoch ms), changed together.
    state: Mutex<(usize, i64)>,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            id: format!("{:016X}", rand::random::<u64>()),
            ..Activity::default()
        })
    }

    /// Counts one unit of work from `now` until the guard drops.
    fn enter(self: &Arc<Self>, now: i64) -> Working {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0 == 0 {
            st.1 = now;
        }
        st.0 += 1;
        drop(st);
        Working(self.clone())
    }

    /// When it started working, while it is.
    fn running_since(&self) -> Option<i64> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (st.0 > 0).then_some(st.1)
    }
}

/// A unit of a job's work in progress.
struct Working(Arc<Activity>);

impl Drop for Working {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 = st.0.saturating_sub(1);
    }
}

/// A job as `GET /api/tasks` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskView {
    pub id: String,
    pub name: &'static str,
    /// Epoch ms it started working, when it is.
    pub running_since: Option<i64>,
}

/// The type and description `GET /api/tasks` gives a job: Artifactory's job class where this
/// server's job does that job's work, a name of this server's otherwise.
pub(crate) fn describe(name: &str) -> (&'static str, &'static str) {
    match name {
        "gc" => (
            "org.artifactory.storage.binstore.service.BinaryStoreGarbageCollectorJob",
            "Binaries garbage collection",
        ),
        "docker-uploads" => (
            "org.artifactory.repo.cleanup.DockerUploadsFolderCleanupJob",
            "Removes Docker uploads abandoned for a day",
        ),
        "checksums" => (
            "org.jfrog.reference.jobs.ChecksumsCalculationJob",
            "SHA-1 and MD5 of content stored with its SHA-256 only",
        ),
        "archive-index" => (
            "org.jfrog.reference.jobs.ArchiveIndexJob",
            "Indexes the entries of archives for the archive search",
        ),
        "seeded-passwords" => (
            "org.jfrog.reference.jobs.PasswordHashingJob",
            "Hashes the passwords of configured users",
        ),
        "build-retention" => (
            "org.jfrog.reference.jobs.BuildRetentionJob",
            "Asynchronous build retention",
        ),
        "build-distribution" => (
            "org.jfrog.reference.jobs.BuildDistributionJob",
            "Build distribution into a local repository",
        ),
        "sha2-migration" => (
            "org.artifactory.storage.jobs.migration.sha256.Sha256MigrationJob",
            "SHA-256 migration: checks that every file has its SHA-256",
        ),
        "storage-optimize" => (
            "org.jfrog.reference.jobs.StorageOptimizationJob",
            "Compacts the journal into a new snapshot",
        ),
        "import-export" => (
            "org.artifactory.repo.service.ImportJob",
            "System or repository import or export",
        ),
        _ => ("org.jfrog.reference.jobs.Job", "Background job"),
    }
}

/// The running jobs.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    running: Mutex<Vec<Running>>,
    /// The activity of each job by name (created before the job's future, which reports into it).
    activities: Mutex<Vec<(&'static str, Arc<Activity>)>>,
    /// Asks a running SHA-256 migration to stop after its current batch.
    pub(crate) sha2_stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Jobs {
    fn spawn(
        &self,
        name: &'static str,
        ending: Ending,
        f: impl Future<Output = ()> + Send + 'static,
    ) {
        let activity = self.activity(name);
        let handle = tokio::spawn(f);
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Running {
                name,
                ending,
                handle,
                activity,
            });
    }

    /// The activity a job named `name` reports into (a one-off job gets a new one each time).
    fn activity(&self, name: &'static str) -> Arc<Activity> {
        let mut all = self.activities.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, a)) = all.iter().find(|(n, _)| *n == name) {
            return a.clone();
        }
        let a = Activity::new();
        all.push((name, a.clone()));
        a
    }

    /// Starts `f` as an abortable one-off job named `name` unless one of that name is still
    /// running (checked and started under one lock, so two requests cannot both start it);
    /// `before` runs first when it starts. Whether it started.
    pub(crate) fn once_unless_running(
        &self,
        name: &'static str,
        now: i64,
        before: impl FnOnce(),
        f: impl Future<Output = ()> + Send + 'static,
    ) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|r| !r.handle.is_finished());
        if running.iter().any(|r| r.name == name) {
            return false;
        }
        before();
        running.push(one_off(name, now, Ending::Abort, f));
        true
    }

    /// The jobs that have not ended, in the order they started.
    pub(crate) fn tasks(&self) -> Vec<TaskView> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .filter(|r| !r.handle.is_finished())
            .map(|r| TaskView {
                id: r.activity.id.clone(),
                name: r.name,
                running_since: r.activity.running_since(),
            })
            .collect()
    }

    /// Runs `f` once in the background (work a request asked for, such as an asynchronous build
    /// retention); a shutdown waits for it. Finished jobs are forgotten as new ones start.
    pub(crate) fn once(
        &self,
        name: &'static str,
        now: i64,
        f: impl Future<Output = ()> + Send + 'static,
    ) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|r| !r.handle.is_finished());
        running.push(one_off(name, now, Ending::Finish, f));
    }

    /// Starts every job of `app`; `passwords` are configured (user, password) pairs to hash.
    pub(crate) fn start(app: &AppState, passwords: Vec<(String, String)>) {
        let jobs = &app.jobs;
        jobs.spawn(
            "seeded-passwords",
            Ending::Finish,
            hash_seeded_passwords(app.clone(), passwords),
        );
        if let Some(secs) = app.config.gc_interval_secs.filter(|s| *s > 0) {
            let a = app.clone();
            let act = jobs.activity("gc");
            jobs.spawn(
                "gc",
                Ending::Abort,
                every(Duration::from_secs(secs), move || {
                    let a = a.clone();
                    let working = act.enter(a.config.clock.now_ms());
                    async move {
                        let _working = working;
                        match a.store.gc().await {
                            Ok((n, bytes)) if n > 0 => tracing::info!(
                                "garbage collection removed {n} binaries ({bytes} bytes)"
                            ),
                            Ok(_) => {}
                            Err(e) => tracing::warn!("garbage collection failed: {e}"),
                        }
                    }
                }),
            );
        }
        // Abandoned Docker uploads go after a day, as Artifactory's `_uploads` cleanup job does.
        let a = app.clone();
        let act = jobs.activity("docker-uploads");
        jobs.spawn(
            "docker-uploads",
            Ending::Abort,
            every(Duration::from_secs(600), move || {
                let a = a.clone();
                let working = act.enter(a.config.clock.now_ms());
                async move {
                    let _working = working;
                    crate::docker::uploads::clean(&a).await
                }
            }),
        );
        // Subscribed here, before anything is served, so no write is missed.
        let feed_checksums = feed(app, |e| match e {
            Event::FileWritten {
                sha256,
                checksums_missing: true,
                ..
            } => Some(sha256.clone()),
            _ => None,
        });
        let act = jobs.activity("checksums");
        jobs.spawn(
            "checksums",
            Ending::Abort,
            checksums(app.clone(), feed_checksums, act),
        );
        let feed_archives = feed(app, |e| match e {
            Event::FileWritten { path, sha256, .. } if archive::is_archive(path) => {
                Some((sha256.clone(), path.clone()))
            }
            _ => None,
        });
        let act = jobs.activity("archive-index");
        jobs.spawn(
            "archive-index",
            Ending::Abort,
            archive_index(app.clone(), feed_archives, act),
        );
    }

    /// The names of the running jobs (what `GET /api/tasks` will list).
    #[cfg(test)]
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|r| r.name)
            .collect()
    }

    /// The one shutdown: jobs that owe the store something are waited for, the others stopped.
    pub(crate) async fn shutdown(&self) {
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        for r in running {
            match r.ending {
                Ending::Abort => r.handle.abort(),
                Ending::Finish => {
                    if let Err(e) = r.handle.await {
                        tracing::error!("job '{}' failed: {e}", r.name);
                    }
                }
            }
        }
    }
}

/// A one-off job, started: a task of its own, working from its start (`now`) to its end.
fn one_off(
    name: &'static str,
    now: i64,
    ending: Ending,
    f: impl Future<Output = ()> + Send + 'static,
) -> Running {
    let activity = Activity::new();
    let working = activity.enter(now);
    let handle = tokio::spawn(async move {
        let _working = working;
        f.await
    });
    Running {
        name,
        ending,
        handle,
        activity,
    }
}

/// Runs `f` every `period`, first after one period.
async fn every<F, Fut>(period: Duration, f: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tick.tick().await;
        f().await;
    }
}

/// A job's queue: the sender (for what a restart left unfinished) and the receiver.
type Feed<T> = (UnboundedSender<T>, UnboundedReceiver<T>);

/// Hands the events `pick` selects to a queue.
fn feed<T: Send + 'static>(
    app: &AppState,
    pick: impl Fn(&Event) -> Option<T> + Send + Sync + 'static,
) -> Feed<T> {
    let (tx, rx) = unbounded_channel();
    let events = tx.clone();
    app.store.events.subscribe(move |e| {
        if let Some(t) = pick(e) {
            let _ = events.send(t);
        }
    });
    (tx, rx)
}

/// Runs `work` for each key received, several at a time, each key once while it runs.
async fn work_on<K, Fut>(
    mut rx: UnboundedReceiver<K>,
    (activity, clock): (Arc<Activity>, crate::clock::Clock),
    work: impl Fn(K) -> Fut,
) where
    K: Clone + Eq + std::hash::Hash + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut set: JoinSet<K> = JoinSet::new();
    let mut busy: HashSet<K> = HashSet::new();
    loop {
        tokio::select! {
            next = rx.recv() => {
                let Some(k) = next else { break };
                if busy.insert(k.clone()) {
                    let fut = work(k.clone());
                    let working = activity.enter(clock.now_ms());
                    set.spawn(async move {
                        let _working = working;
                        fut.await;
                        k
                    });
                }
            }
            Some(done) = set.join_next(), if !set.is_empty() => {
                if let Ok(k) = done {
                    busy.remove(&k);
                }
            }
        }
    }
}

/// SHA-1 and MD5 of blobs uploaded with SHA-256 only (registry uploads), computed off the client's
/// critical path and filled into every file with that content.
async fn checksums(app: AppState, (tx, rx): Feed<String>, activity: Arc<Activity>) {
    // What a restart left without them.
    let pending: std::collections::BTreeSet<String> = app
        .store
        .read()
        .repos
        .values()
        .flat_map(|r| r.items.values())
        .filter_map(|i| i.file.as_ref())
        .filter(|f| f.md5.is_empty())
        .map(|f| f.sha256.to_string())
        .collect();
    for s in pending {
        let _ = tx.send(s);
    }
    let clock = app.config.clock.clone();
    work_on(rx, (activity, clock), move |sha256: String| {
        let app = app.clone();
        async move {
            if app.store.read().filled.contains_key(&sha256) {
                return;
            }
            match app.store.blobs.checksums(&sha256, app.busy.clone()).await {
                Ok((sha1, md5)) => {
                    let m = Mutation::FillChecksums { sha256, sha1, md5 };
                    if let Err(e) = app.store.commit(m).await {
                        tracing::warn!("recording checksums failed: {e:?}");
                    }
                }
                Err(e) => tracing::warn!("computing checksums of {sha256} failed: {e}"),
            }
        }
    })
    .await;
}

/// The entries of archives, indexed once per content for the archive entries search.
async fn archive_index(app: AppState, (tx, rx): Feed<(String, String)>, activity: Arc<Activity>) {
    // What a restart found without an index.
    let pending: Vec<(String, String)> = {
        let s = app.store.read();
        s.repos
            .values()
            .flat_map(|r| r.items.iter())
            .filter_map(|(path, i)| {
                let f = i.file.as_ref()?;
                (archive::is_archive(path) && !s.archives.contains_key(f.sha256.hex().as_str()))
                    .then(|| (f.sha256.to_string(), path.to_string()))
            })
            .collect()
    };
    for p in pending {
        let _ = tx.send(p);
    }
    // The bytes of entry names indexed so far, against the total cap.
    let total = {
        let s = app.store.read();
        let sum: usize = s.archives.values().flatten().map(String::len).sum();
        std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(sum))
    };
    let clock = app.config.clock.clone();
    work_on(rx, (activity, clock), move |(sha256, name): (String, String)| {
        let (app, total) = (app.clone(), total.clone());
        async move {
            if app.store.read().archives.contains_key(&sha256) {
                return;
            }
            let Ok(file) = app.store.blobs.open_blob(&sha256) else {
                return;
            };
            let shown = name.clone();
            let listed =
                tokio::task::spawn_blocking(move || archive::list_entries(file, &name)).await;
            use std::sync::atomic::Ordering::Relaxed;
            // An archive past the caps, or that does not open, indexes as empty (it is not
            // searched again); the artifact itself stays.
            let entries = match listed.unwrap_or(Err(archive::NotIndexed::Unreadable)) {
                Ok(e) => {
                    let bytes: usize = e.iter().map(String::len).sum();
                    if total.fetch_add(bytes, Relaxed) + bytes > archive::MAX_TOTAL_NAME_BYTES {
                        total.fetch_sub(bytes, Relaxed);
                        tracing::warn!(
                            "{shown}: entries not indexed: the archive index holds {} MiB of names already",
                            archive::MAX_TOTAL_NAME_BYTES >> 20
                        );
                        Vec::new()
                    } else {
                        e
                    }
                }
                Err(archive::NotIndexed::Unreadable) => Vec::new(),
                Err(why) => {
                    tracing::warn!("{shown}: entries not indexed: {why}");
                    Vec::new()
                }
            };
            let m = Mutation::IndexArchive { sha256, entries };
            if let Err(e) = app.store.commit_lazy(m) {
                tracing::warn!("indexing an archive failed: {e:?}");
            }
        }
    })
    .await;
}

/// Hashes the configured passwords and stores the hashes (unless changed meanwhile).
async fn hash_seeded_passwords(app: AppState, pending: Vec<(String, String)>) {
    for (name, password) in pending {
        let hash = match crate::auth::hash_password(&password).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("hashing the password of '{name}' failed: {e:?}");
                continue;
            }
        };
        let still_pending = app
            .store
            .read()
            .security
            .users
            .get(&name)
            .is_some_and(|u| u.password == crate::auth::model::PENDING_HASH);
        if !still_pending {
            continue;
        }
        let m = Mutation::Security(crate::auth::model::SecurityChange::SetPassword {
            name: name.clone(),
            hash: hash.clone().into(),
            only_if_pending: true,
        });
        // The cache learns the hash only once the store holds it: before, a login would find the
        // store still pending and the cache already past it, and be refused (a login between the
        // commit and this line is checked with bcrypt instead, slower but right).
        match app.store.commit(m).await {
            Ok(_) => {
                app.seed.settle_password(&name, &hash);
                app.auth.remember(&name, &hash, &password)
            }
            Err(e) => tracing::error!("storing the password hash of '{name}' failed: {e:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, UserConfig};

    #[tokio::test]
    async fn every_job_is_named_and_one_shutdown_stops_them_all() {
        let config = Config {
            users: vec![UserConfig::parse_flag("carol:carol-pw").unwrap()],
            ..Config::ephemeral()
        };
        let (app, pending) = crate::build_state(config).unwrap();
        Jobs::start(&app, pending);
        assert_eq!(
            app.jobs.names(),
            [
                "seeded-passwords",
                "gc",
                "docker-uploads",
                "checksums",
                "archive-index"
            ]
        );
        app.jobs.shutdown().await;
        assert!(app.jobs.names().is_empty());
        // The configured password was hashed before the shutdown returned.
        let hash = app.store.read().security.users["carol"].password.clone();
        assert!(hash.starts_with("$2"), "{}", &*hash);
    }
}
