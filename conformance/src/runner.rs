//! Runs the cases: filtering, flags (Disabled), time limits, outcomes, and teardown of everything the
//! run created, newest first, even after failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::case::{
    Case, Created, Ctx, Exchange, Failure, Outcome, SnapshotMode, SnapshotResult, Snapshots,
};
use crate::mask::Mask;
use crate::target::Target;

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Only cases whose id starts with this.
    pub filter: Option<String>,
    /// Only cases of this area.
    pub area: Option<String>,
    /// Time limit per case.
    pub case_timeout: Option<Duration>,
    /// Snapshot mode.
    pub snapshots: SnapshotMode,
    /// Seed of the property cases (random when `None`; the result reports it).
    pub seed: Option<u64>,
    /// Generated cases per property (default 32).
    pub prop_cases: Option<u32>,
    /// Run only shard `i` of `n` (1-based): of the cases the filters select, in catalogue order,
    /// those at positions `i-1`, `i-1+n`, ... (`merge` joins the shards' results).
    pub shard: Option<(usize, usize)>,
    /// Told of every case as it finishes (the console's progress or lines).
    pub progress: Option<Progress>,
}

/// What [`Progress`] calls: a finished case's result, how many have finished, how many will run.
pub type OnCase = dyn Fn(&CaseResult, usize, usize) + Send + Sync;

/// A callback told of each finished case.
#[derive(Clone)]
pub struct Progress(pub Arc<OnCase>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// The snapshots directory of this source tree.
pub fn default_snapshot_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots"))
}

/// The result of one case.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// Area.
    pub area: String,
    /// Endpoints covered.
    pub endpoints: Vec<String>,
    /// Spec reference.
    pub spec: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why (for anything but Pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Exchanges (kept for failures and errors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<Exchange>,
    /// The snapshots it took.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<SnapshotResult>,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// Unique id of the run (also the prefix of everything it wrote).
    pub run_id: String,
    /// Start, RFC 3339.
    pub started: String,
    /// Wall time of the whole run in milliseconds.
    pub duration_ms: u64,
    /// Case results in catalogue order.
    pub cases: Vec<CaseResult>,
    /// Teardown problems (paths that could not be removed).
    pub teardown_errors: Vec<String>,
    /// Seed the property cases used.
    pub seed: u64,
}

impl RunResult {
    /// Whether any case failed or errored.
    pub fn failed(&self) -> bool {
        self.cases.iter().any(|c| c.outcome >= Outcome::Fail)
    }

    /// The result of a case by id.
    pub fn case(&self, id: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.id == id)
    }
}

/// Why a case does not run under these flags.
fn disabled_reason(case: &Case, t: &Target) -> Option<String> {
    if case.writes && t.read_only {
        return Some("writes (read-only run)".into());
    }
    if case.writes && !t.allow_writes {
        return Some("writes (needs --allow-writes)".into());
    }
    if case.global && !t.allow_global {
        return Some("changes server-wide state (needs --allow-global)".into());
    }
    if case.anonymous && !t.anonymous_access {
        return Some("needs anonymous access (--anonymous-enabled)".into());
    }
    None
}

/// Runs the selected cases against `target`.
pub async fn run(target: &Target, cases: &[Case], opts: &RunOptions, mask: &Mask) -> RunResult {
    let started_at = Instant::now();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let run_id = format!(
        "jcrconf-{}-{:06x}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        rand::random::<u32>() & 0xff_ffff
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    let ledger: Arc<Mutex<Vec<Created>>> = Arc::default();
    let provenance = provenance(&client, target).await;
    let seed = opts.seed.unwrap_or_else(rand::random);
    let prop_cases = opts.prop_cases.unwrap_or(32);
    let captures = match &opts.snapshots {
        SnapshotMode::Off => Ok(Default::default()),
        SnapshotMode::Compare(d) | SnapshotMode::Review(d) | SnapshotMode::Update(d) => {
            crate::snapshot::captures(d)
        }
    };
    let (captures, capture_error) = match captures {
        Ok(c) => (c, None),
        Err(e) => (Default::default(), Some(e)),
    };
    let snapshots = Arc::new(Snapshots {
        mode: opts.snapshots.clone(),
        run_id: run_id.clone(),
        provenance,
        captures,
        taken: Default::default(),
    });
    let timeout = opts.case_timeout.unwrap_or(Duration::from_secs(60));
    let mut results = Vec::new();
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|case| {
            opts.filter
                .as_deref()
                .is_none_or(|f| case.id.starts_with(f))
                && opts.area.as_deref().is_none_or(|a| case.area == a)
        })
        .enumerate()
        .filter(|(position, _)| {
            !opts
                .shard
                .is_some_and(|(i, n)| n > 0 && position % n != i.saturating_sub(1))
        })
        .map(|(_, case)| case)
        .collect();
    let total = selected.len();
    let tell = |results: &Vec<CaseResult>| {
        if let (Some(p), Some(last)) = (&opts.progress, results.last()) {
            (p.0)(last, results.len(), total);
        }
    };
    for case in selected {
        let mut result = CaseResult {
            id: case.id.into(),
            area: case.area.into(),
            endpoints: case.endpoints.iter().map(|s| s.to_string()).collect(),
            spec: case.spec.into(),
            outcome: Outcome::Disabled,
            message: None,
            duration_ms: 0,
            transcript: vec![],
            snapshots: vec![],
        };
        if let Some(why) = disabled_reason(case, target) {
            result.message = Some(why);
            results.push(result);
            tell(&results);
            continue;
        }
        let ctx = Ctx {
            client: client.clone(),
            base: target.base_url.clone(),
            credentials: target.credentials.clone(),
            prefix: run_id.clone(),
            repo: target.repo.clone(),
            docker_repo: target.docker_repo.clone(),
            registry: target.registry.clone().unwrap_or_else(|| {
                format!("{}/api/docker/{}/v2", target.base_url, target.docker_repo)
            }),
            registry_given: target.registry.is_some(),
            transcript: Arc::default(),
            ledger: ledger.clone(),
            snapshots: snapshots.clone(),
            case_id: case.id.to_string(),
            snaps: Arc::default(),
            seed,
            prop_cases,
        };
        let transcript = ctx.transcript.clone();
        let snaps = ctx.snaps.clone();
        let t = Instant::now();
        let outcome = tokio::time::timeout(timeout, tokio::spawn((case.run)(ctx))).await;
        result.duration_ms = t.elapsed().as_millis() as u64;
        let (mut o, mut msg) = match outcome {
            Err(_) => (Outcome::Error, Some(format!("timed out after {timeout:?}"))),
            Ok(Err(join)) => (Outcome::Error, Some(format!("case panicked: {join}"))),
            Ok(Ok(Ok(()))) => (Outcome::Pass, None),
            Ok(Ok(Err(Failure::Fail(m)))) => (Outcome::Fail, Some(m)),
            Ok(Ok(Err(Failure::Error(m)))) => (Outcome::Error, Some(m)),
            Ok(Ok(Err(Failure::Skip(m)))) => (Outcome::Skip, Some(m)),
        };
        result.snapshots = std::mem::take(&mut *snaps.lock().expect("snaps"));
        // A case that passed fails on a snapshot that differs (from its accepted snapshot or its
        // capture) or was never accepted; every such snapshot is added to the case's message.
        let snapshot_failures: Vec<String> = result
            .snapshots
            .iter()
            .filter(|s| s.fails())
            .map(SnapshotResult::explain)
            .chain(capture_error.clone())
            .collect();
        if !snapshot_failures.is_empty() {
            let snapshots = snapshot_failures.join("\n");
            msg = Some(match msg {
                Some(m) => format!("{m}\n{snapshots}"),
                None => snapshots,
            });
            if o == Outcome::Pass {
                o = Outcome::Fail;
            }
        }
        result.outcome = o;
        result.message = msg.map(|m| mask.apply(&m));
        if o >= Outcome::Fail {
            result.transcript = transcript
                .lock()
                .expect("transcript")
                .iter()
                .map(|e| mask_exchange(e, mask))
                .collect();
        }
        results.push(result);
        tell(&results);
    }
    let teardown_errors = teardown(&client, target, &ledger).await;
    RunResult {
        run_id,
        started,
        duration_ms: started_at.elapsed().as_millis() as u64,
        cases: results,
        teardown_errors,
        seed,
    }
}

/// Which server snapshots are recorded against, and when.
async fn provenance(client: &reqwest::Client, t: &Target) -> serde_json::Value {
    let server = match t
        .credentials
        .apply(client.get(format!("{}/api/system/version", t.base_url)))
        .send()
        .await
    {
        Ok(r) => r
            .headers()
            .get("x-jfrog-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .to_string(),
        Err(_) => "unknown".into(),
    };
    let date = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    serde_json::json!({
        "kind": "recorded",
        "server": server,
        "target": if t.embedded { "embedded jcr-reference" } else { "live registry" },
        "recorded": date,
    })
}

fn mask_exchange(e: &Exchange, mask: &Mask) -> Exchange {
    Exchange {
        request: mask.apply(&e.request),
        request_headers: e
            .request_headers
            .iter()
            .map(|(k, v)| (k.clone(), mask.header(k, v)))
            .collect(),
        request_body: mask.apply(&e.request_body),
        status: e.status,
        response_headers: e
            .response_headers
            .iter()
            .map(|(k, v)| (k.clone(), mask.header(k, v)))
            .collect(),
        response_body: mask.apply(&e.response_body),
    }
}

/// Removes what the run created, newest first; the run's folder last.
async fn teardown(
    client: &reqwest::Client,
    t: &Target,
    ledger: &Mutex<Vec<Created>>,
) -> Vec<String> {
    let items: Vec<Created> = ledger.lock().expect("ledger").drain(..).rev().collect();
    let mut errors = Vec::new();
    let mut prefixes = Vec::new();
    for c in items {
        let url = match &c {
            Created::Item(p) => {
                if let Some((repo, rest)) = p.split_once('/') {
                    if let Some(first) = rest.split('/').next() {
                        let root = format!("{repo}/{first}");
                        if !prefixes.contains(&root) {
                            prefixes.push(root);
                        }
                    }
                }
                format!("{}/{p}", t.base_url)
            }
            Created::Repository(k) => format!("{}/api/repositories/{k}", t.base_url),
            Created::Security(p) => format!("{}/{p}", t.base_url),
            Created::Url(u) => u.clone(),
            Created::Token(id) => {
                let url = format!("{}/api/security/token/revoke", t.base_url);
                let req = t
                    .credentials
                    .apply(client.post(&url))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(format!("token_id={id}"));
                match req.send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => errors.push(format!("POST {url} (token {id}): {}", r.status())),
                    Err(e) => errors.push(format!("POST {url}: {e}")),
                }
                continue;
            }
        };
        match t.credentials.apply(client.delete(&url)).send().await {
            Ok(r)
                if r.status().is_success()
                    || r.status().as_u16() == 404
                    || r.status().as_u16() == 400 => {}
            Ok(r) => errors.push(format!("DELETE {url}: {}", r.status())),
            Err(e) => errors.push(format!("DELETE {url}: {e}")),
        }
    }
    for root in prefixes {
        let url = format!("{}/{root}", t.base_url);
        match t.credentials.apply(client.delete(&url)).send().await {
            Ok(r) if r.status().is_success() || r.status().as_u16() == 404 => {}
            Ok(r) => errors.push(format!("DELETE {url}: {}", r.status())),
            Err(e) => errors.push(format!("DELETE {url}: {e}")),
        }
    }
    errors
}
