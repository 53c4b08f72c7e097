//! `jcr-conformance`: run the cases (default), list them, or diff two runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Deserialize;
use serde_json::json;

use jcr_conformance::case::SnapshotMode;
use jcr_conformance::mask::Mask;
use jcr_conformance::report;
use jcr_conformance::{cases, catalogue, run, Credentials, RunOptions, Target};

#[derive(Parser, Debug)]
#[command(
    name = "jcr-conformance",
    version,
    about = "Conformance suite for JFrog Container Registry / Artifactory REST APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the cases (the default).
    Run(RunArgs),
    /// List the cases and the endpoint catalogue.
    List,
    /// Compare two results.json files: regressions, fixes, changes (exit 1 on a regression).
    Diff { old: PathBuf, new: PathBuf },
    /// Join the results.json files of a run's shards (`--shard i/n`) into one report set
    /// (exit 1 when a case failed).
    Merge {
        /// The shards' results.json files.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Where the merged reports go.
        #[arg(long, default_value = "reports")]
        reports: PathBuf,
    },
    /// Run the cases comparing snapshots (mismatches are written beside the accepted ones as
    /// `*.snap.new`); with --update, record them instead; `snapshot review` walks the pending ones.
    #[command(args_conflicts_with_subcommands = true)]
    Snapshot {
        #[command(subcommand)]
        action: Option<SnapshotAction>,
        /// Record the snapshots (against the embedded reference server unless --target is given).
        #[arg(long)]
        update: bool,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Subcommand, Debug)]
enum SnapshotAction {
    /// Walk the pending snapshots (`*.snap.new`) one by one: the JSON-path diff against the
    /// accepted snapshot, then accept (a), reject (r) or skip (s), read from standard input.
    Review {
        /// Snapshot directory (default: this source tree's snapshots/).
        #[arg(long, env = "JCR_CONFORMANCE_SNAPSHOTS")]
        snapshots: Option<PathBuf>,
        /// Accept every pending snapshot without asking.
        #[arg(long, conflicts_with = "reject_all")]
        accept_all: bool,
        /// Reject every pending snapshot without asking.
        #[arg(long)]
        reject_all: bool,
    },
}

/// Every option is also an environment variable with the `JCR_CONFORMANCE_` prefix and a key of the
/// config file; precedence: flags > environment > file.
#[derive(clap::Args, Debug, Default, Clone)]
struct RunArgs {
    /// Config file (TOML) with the keys below.
    #[arg(long, env = "JCR_CONFORMANCE_CONFIG")]
    config: Option<PathBuf>,
    /// Base URL of a live registry including the context path; default: an embedded reference server.
    #[arg(long, env = "JCR_CONFORMANCE_TARGET")]
    target: Option<String>,
    /// User for Basic authentication.
    #[arg(long, env = "JCR_CONFORMANCE_USER")]
    user: Option<String>,
    /// Password (or API key / token used as password).
    #[arg(long, env = "JCR_CONFORMANCE_PASSWORD")]
    password: Option<String>,
    /// Access token sent as Bearer.
    #[arg(long, env = "JCR_CONFORMANCE_TOKEN")]
    token: Option<String>,
    /// API key sent as X-JFrog-Art-Api.
    #[arg(long, env = "JCR_CONFORMANCE_API_KEY")]
    api_key: Option<String>,
    /// Allow cases that write (under a run-unique prefix) on a live target.
    #[arg(long, env = "JCR_CONFORMANCE_ALLOW_WRITES")]
    allow_writes: bool,
    /// Allow cases that change server-wide state on a live target.
    #[arg(long, env = "JCR_CONFORMANCE_ALLOW_GLOBAL")]
    allow_global: bool,
    /// Only cases that write nothing.
    #[arg(long, env = "JCR_CONFORMANCE_READ_ONLY")]
    read_only: bool,
    /// The target allows anonymous access (enables the cases that need it; the embedded server then
    /// starts with anonymous access on).
    #[arg(long, env = "JCR_CONFORMANCE_ANONYMOUS_ENABLED")]
    anonymous_enabled: bool,
    /// Local repository the cases write into (default generic-local).
    #[arg(long, env = "JCR_CONFORMANCE_REPO")]
    repo: Option<String>,
    /// Local Docker repository the registry cases write into (default docker-local).
    #[arg(long, env = "JCR_CONFORMANCE_DOCKER_REPO")]
    docker_repo: Option<String>,
    /// Registry URL the OCI distribution cases (docker/oci/) use: image names follow it
    /// (http://host:5000/v2 for a plain registry; default: the Docker repository's API path).
    #[arg(long, env = "JCR_CONFORMANCE_REGISTRY")]
    registry: Option<String>,
    /// Only cases whose id starts with this.
    #[arg(long)]
    filter: Option<String>,
    /// Only cases of this area.
    #[arg(long)]
    area: Option<String>,
    /// Snapshot directory (default: this source tree's snapshots/).
    #[arg(long, env = "JCR_CONFORMANCE_SNAPSHOTS")]
    snapshots: Option<PathBuf>,
    /// Do not compare snapshots.
    #[arg(long)]
    no_snapshots: bool,
    /// Seed of the property cases (printed with every run; reuse it to reproduce).
    #[arg(long, env = "JCR_CONFORMANCE_SEED")]
    seed: Option<u64>,
    /// Generated cases per property (default 32).
    #[arg(long, env = "JCR_CONFORMANCE_CASES")]
    cases: Option<u32>,
    /// The least outcome that fails the run: `fail` (fail and error, the default), `error` (errors
    /// only) or `skip` (skips too).
    #[arg(long, value_parser = parse_fail_on)]
    fail_on: Option<jcr_conformance::Outcome>,
    /// Run one shard of the selected cases, `i/n` (1-based; `merge` joins the shards' results).
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// The console: `progress` (one line of counts and elapsed time, updated as cases finish, then
    /// what did not pass), `lines` (one line per case as it finishes), `auto` (progress on a
    /// terminal, lines otherwise).
    #[arg(long, env = "JCR_CONFORMANCE_FORMAT", value_parser = ["auto", "progress", "lines"], default_value = "auto")]
    format: String,
    /// Where reports go (`<dir>/<run-id>/` and `<dir>/latest/`).
    #[arg(long, env = "JCR_CONFORMANCE_REPORTS", default_value = "reports")]
    reports: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    target: Option<String>,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    api_key: Option<String>,
    allow_writes: Option<bool>,
    allow_global: Option<bool>,
    read_only: Option<bool>,
    anonymous_enabled: Option<bool>,
    repo: Option<String>,
    docker_repo: Option<String>,
    registry: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::List) => list(),
        Some(Command::Diff { old, new }) => diff(&old, &new),
        Some(Command::Merge { shards, reports }) => merge(&shards, &reports),
        Some(Command::Run(args)) => run_cmd(args, false).await,
        Some(Command::Snapshot {
            action:
                Some(SnapshotAction::Review {
                    snapshots,
                    accept_all,
                    reject_all,
                }),
            ..
        }) => review(snapshots, accept_all, reject_all),
        Some(Command::Snapshot { update, run, .. }) => run_cmd(run, update).await,
        None => run_cmd(cli.run, false).await,
    }
}

fn list() -> ExitCode {
    println!("Cases:");
    for c in cases::all() {
        let mut flags = Vec::new();
        if c.writes {
            flags.push("writes");
        }
        if c.global {
            flags.push("global");
        }
        if c.admin {
            flags.push("admin");
        }
        println!(
            "  {:<48} {:<13} [{}] {}",
            c.id,
            c.area,
            flags.join(","),
            c.endpoints.join(" ")
        );
    }
    println!("\nEndpoints:");
    for e in catalogue::endpoints() {
        println!(
            "  {:<34} {:<6} {:<52} {}{}",
            e.id,
            e.method,
            e.path,
            e.auth,
            if e.reference {
                ""
            } else {
                "  (not in the reference server yet)"
            }
        );
    }
    ExitCode::SUCCESS
}

/// Whether `o` fails a run that fails on `fail_on` (a skip only when skips are asked for).
fn fails(o: jcr_conformance::Outcome, fail_on: Option<jcr_conformance::Outcome>) -> bool {
    use jcr_conformance::Outcome;
    match fail_on.unwrap_or(Outcome::Fail) {
        Outcome::Error => o == Outcome::Error,
        Outcome::Skip => o == Outcome::Skip || o >= Outcome::Fail,
        _ => o >= Outcome::Fail,
    }
}

fn parse_fail_on(s: &str) -> Result<jcr_conformance::Outcome, String> {
    use jcr_conformance::Outcome;
    match s {
        "fail" => Ok(Outcome::Fail),
        "error" => Ok(Outcome::Error),
        "skip" => Ok(Outcome::Skip),
        other => Err(format!("'{other}': fail, error or skip")),
    }
}

/// `i/n` with 1 <= i <= n.
fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}': a shard is i/n, as 2/4"))?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .map_err(|_| format!("'{s}': i is not a number"))?,
        n.trim()
            .parse()
            .map_err(|_| format!("'{s}': n is not a number"))?,
    );
    if i == 0 || i > n {
        return Err(format!("'{s}': i must be between 1 and n"));
    }
    Ok((i, n))
}

fn merge(shards: &[PathBuf], reports: &std::path::Path) -> ExitCode {
    let mut docs = Vec::new();
    for p in shards {
        match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => docs.push(v),
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                return ExitCode::from(2);
            }
        }
    }
    let all = cases::all();
    let order: Vec<&str> = all.iter().map(|c| c.id).collect();
    let (result, config) = match report::merge(&docs, &order) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let endpoints = catalogue::endpoints();
    match report::write_all(reports, &result, &endpoints, config) {
        Ok(dir) => println!(
            "{} cases from {} shards: {}",
            result.cases.len(),
            docs.len(),
            dir.display()
        ),
        Err(e) => {
            eprintln!("writing the reports: {e}");
            return ExitCode::from(2);
        }
    }
    if result.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn review(dir: Option<PathBuf>, accept_all: bool, reject_all: bool) -> ExitCode {
    use jcr_conformance::snapshot::{self, Verdict};
    let dir = dir.unwrap_or_else(jcr_conformance::runner::default_snapshot_dir);
    let all = match (accept_all, reject_all) {
        (true, _) => Some(Verdict::Accept),
        (_, true) => Some(Verdict::Reject),
        _ => None,
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    match snapshot::review(&dir, &mut input, &mut out, all) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn diff(old: &PathBuf, new: &PathBuf) -> ExitCode {
    let read = |p: &PathBuf| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let (o, n) = match (read(old), read(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let d = report::diff(&o, &n);
    for (title, rows) in [
        ("Regressed", &d.regressed),
        ("Fixed", &d.fixed),
        ("Changed", &d.changed),
    ] {
        println!("{title} ({}):", rows.len());
        for (id, a, b) in rows {
            println!("  {id}: {a} -> {b}");
        }
    }
    println!("Snapshots changed ({}):", d.snapshots.len());
    for (name, lines) in &d.snapshots {
        println!("  {name}");
        for l in lines {
            println!("    {l}");
        }
    }
    if d.regressed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

async fn run_cmd(args: RunArgs, update: bool) -> ExitCode {
    let file = match &args.config {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str::<FileConfig>(&t).map_err(|e| e.to_string()))
        {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => FileConfig::default(),
    };
    let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
    let target_url = pick(&args.target, &file.target);
    let credentials = match (
        pick(&args.token, &file.token),
        pick(&args.api_key, &file.api_key),
        pick(&args.user, &file.user),
    ) {
        (Some(t), _, _) => Credentials::Token(t),
        (None, Some(k), _) => Credentials::ApiKey(k),
        (None, None, Some(u)) => Credentials::Basic {
            user: u,
            password: pick(&args.password, &file.password).unwrap_or_default(),
        },
        _ => Credentials::None,
    };
    let mut target = match &target_url {
        Some(url) => {
            let mut t = Target::live(url, credentials);
            t.allow_writes = args.allow_writes || file.allow_writes.unwrap_or(false);
            t.allow_global = args.allow_global || file.allow_global.unwrap_or(false);
            t
        }
        None => match Target::embedded(jcr_reference::Config {
            anonymous_access: args.anonymous_enabled || file.anonymous_enabled.unwrap_or(false),
            ..jcr_reference::Config::ephemeral()
        })
        .await
        {
            Ok(t) => t,
            Err(e) => {
                eprintln!("cannot start the embedded reference server: {e}");
                return ExitCode::from(2);
            }
        },
    };
    target.read_only = args.read_only || file.read_only.unwrap_or(false);
    target.anonymous_access = args.anonymous_enabled || file.anonymous_enabled.unwrap_or(false);
    if let Some(r) = pick(&args.docker_repo, &file.docker_repo) {
        target.docker_repo = r;
    }
    target.registry =
        pick(&args.registry, &file.registry).map(|r| r.trim_end_matches('/').to_string());
    if let Some(r) = pick(&args.repo, &file.repo) {
        target.repo = r;
    }
    let mask = Mask::new(target.credentials.secrets());
    let dir = args
        .snapshots
        .clone()
        .unwrap_or_else(jcr_conformance::runner::default_snapshot_dir);
    let snapshots = match (update, args.no_snapshots) {
        (true, _) => SnapshotMode::Update(dir.clone()),
        (false, true) => SnapshotMode::Off,
        (false, false) => SnapshotMode::Review(dir.clone()),
    };
    let progress = match args.format.as_str() {
        "progress" => true,
        "lines" => false,
        _ => std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    let opts = RunOptions {
        progress: Some(console(progress)),
        filter: args.filter.clone(),
        area: args.area.clone(),
        case_timeout: None,
        snapshots,
        seed: args.seed,
        prop_cases: args.cases,
        shard: args.shard,
    };
    let all = cases::all();
    let result = run(&target, &all, &opts, &mask).await;
    let config = json!({
        "target": mask.apply(&target.base_url),
        "embedded": target.embedded,
        "credentials": target.credentials.kind(),
        "user": target.credentials.user(),
        "password": if matches!(target.credentials, Credentials::Basic { .. }) { Some("***") } else { None },
        "allow_writes": target.allow_writes,
        "allow_global": target.allow_global,
        "read_only": target.read_only,
        "anonymous_enabled": target.anonymous_access,
        "repo": target.repo,
        "docker_repo": target.docker_repo,
        "registry": target.registry.as_deref().map(|r| mask.apply(r)),
        "filter": opts.filter,
        "area": opts.area,
    });
    let endpoints = catalogue::endpoints();
    if progress {
        // The progress line is done; what did not pass, with why.
        println!();
        for c in result.cases.iter().filter(|c| {
            !matches!(
                c.outcome,
                jcr_conformance::Outcome::Pass | jcr_conformance::Outcome::Disabled
            )
        }) {
            println!("{}", case_line(c));
        }
    }
    let summary = report::results_json(&result, &endpoints, config.clone())["summary"].clone();
    println!(
        "\n{} passed, {} failed, {} errors, {} skipped, {} disabled in {:.1} s (seed {})",
        summary["pass"],
        summary["fail"],
        summary["error"],
        summary["skip"],
        summary["disabled"],
        result.duration_ms as f64 / 1000.0,
        result.seed
    );
    print_snapshots(&result, update, &dir);
    match report::write_all(&args.reports, &result, &endpoints, config) {
        Ok(dir) => println!("reports: {}", dir.display()),
        Err(e) => eprintln!("could not write reports to {}: {e}", args.reports.display()),
    }
    target.shutdown().await;
    let failing: Vec<_> = result
        .cases
        .iter()
        .filter(|c| fails(c.outcome, args.fail_on))
        .collect();
    // On GitHub Actions each failing case is an annotation of the job.
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        for c in &failing {
            let why = c
                .message
                .as_deref()
                .unwrap_or("")
                .replace('%', "%25")
                .replace('\n', "%0A");
            println!(
                "::error title=jcr-conformance {}::{} {}",
                c.id,
                c.outcome.as_str(),
                why
            );
        }
    }
    if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// One case as the console shows it: outcome, id, why.
fn case_line(c: &jcr_conformance::runner::CaseResult) -> String {
    format!(
        "{:<9} {}{}",
        c.outcome.as_str(),
        c.id,
        c.message
            .as_deref()
            .map(|m| format!("  ({m})"))
            .unwrap_or_default()
    )
}

/// The console's view of a run as cases finish: an updated line of counts on a terminal
/// (`progress`), or one line per case.
fn console(progress: bool) -> jcr_conformance::runner::Progress {
    use jcr_conformance::Outcome;
    use std::io::Write;
    let started = std::time::Instant::now();
    let counts = std::sync::Mutex::new([0usize; 5]);
    jcr_conformance::runner::Progress(std::sync::Arc::new(move |c, done, total| {
        if !progress {
            println!("{}", case_line(c));
            return;
        }
        let mut n = counts.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match c.outcome {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Error => 2,
            Outcome::Skip => 3,
            Outcome::Disabled => 4,
        };
        n[slot] += 1;
        let mut out = std::io::stdout();
        let _ = write!(
            out,
            "\r\x1b[2K[{done}/{total}] {} pass, {} fail, {} error, {} skip, {} disabled · {:.1} s  {}",
            n[0],
            n[1],
            n[2],
            n[3],
            n[4],
            started.elapsed().as_secs_f64(),
            c.id
        );
        let _ = out.flush();
    }))
}

/// What a run did to the snapshots: with --update what it recorded, otherwise what is pending.
fn print_snapshots(result: &jcr_conformance::RunResult, update: bool, dir: &std::path::Path) {
    use jcr_conformance::case::SnapStatus;
    let all: Vec<_> = result.cases.iter().flat_map(|c| &c.snapshots).collect();
    if update {
        let mut unchanged = 0;
        for s in &all {
            match s.status {
                SnapStatus::Added => println!("snapshot added: {}", s.name),
                SnapStatus::Updated => {
                    println!("snapshot updated: {}", s.name);
                    for l in &s.lines {
                        println!("  {l}");
                    }
                }
                _ => unchanged += 1,
            }
        }
        println!(
            "snapshots: {} recorded, {unchanged} unchanged, in {}",
            all.len() - unchanged,
            dir.display()
        );
        return;
    }
    let pending = all
        .iter()
        .filter(|s| matches!(s.status, SnapStatus::Mismatch | SnapStatus::Missing))
        .count();
    let captures = all.iter().filter(|s| !s.capture_lines.is_empty()).count();
    println!(
        "snapshots: {} compared, {pending} pending (*.snap.new in {}; `jcr-conformance snapshot review`), {captures} differ from their capture",
        all.len(),
        dir.display()
    );
}

#[cfg(test)]
mod tests {
    use super::{fails, parse_shard};
    use jcr_conformance::Outcome::*;

    #[test]
    fn fail_on_picks_the_outcomes_that_fail_a_run() {
        let failing = |on| {
            [Disabled, Skip, Pass, Fail, Error]
                .into_iter()
                .filter(|o| fails(*o, on))
                .collect::<Vec<_>>()
        };
        assert_eq!(failing(None), [Fail, Error]);
        assert_eq!(failing(Some(Fail)), [Fail, Error]);
        assert_eq!(failing(Some(Error)), [Error]);
        assert_eq!(failing(Some(Skip)), [Skip, Fail, Error]);
    }

    #[test]
    fn shards_are_i_of_n() {
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        for bad in ["0/4", "5/4", "2", "a/b", "1/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
