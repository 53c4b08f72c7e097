//! What the test modules share: the imports, an embedded run with this repository's snapshots.

pub use jcr_conformance::case::SnapshotMode;
pub use jcr_conformance::mask::Mask;
pub use jcr_conformance::runner::default_snapshot_dir;
pub use jcr_conformance::{
    cases, catalogue, report, run, Credentials, Outcome, RunOptions, Target,
};
pub use jcr_reference::{Config, Faults, UserConfig};

/// Runs every case with the recorded snapshots of this repository.
pub async fn run_against(config: Config) -> (Target, jcr_conformance::RunResult) {
    let target = Target::embedded(config).await.unwrap();
    let mask = Mask::new(target.credentials.secrets());
    // A fixed seed keeps CI deterministic; the CLI draws a fresh one every run.
    let opts = RunOptions {
        snapshots: SnapshotMode::Compare(default_snapshot_dir()),
        seed: Some(20_261_125),
        ..RunOptions::default()
    };
    let result = run(&target, &cases::all(), &opts, &mask).await;
    (target, result)
}

pub fn outcome(r: &jcr_conformance::RunResult, id: &str) -> Outcome {
    r.case(id).unwrap_or_else(|| panic!("no case {id}")).outcome
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}
