//! A failing property reports its seed, the shrunk case and a curl command.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_property_reports_seed_shrunk_case_and_curl() {
    let target = Target::embedded(Config {
        faults: Faults {
            drop_folder_child: true,
            ..Faults::default()
        },
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let opts = RunOptions {
        filter: Some("properties/".into()),
        seed: Some(7),
        prop_cases: Some(16),
        ..RunOptions::default()
    };
    let r = run(
        &target,
        &cases::all(),
        &opts,
        &Mask::new(target.credentials.secrets()),
    )
    .await;
    assert_eq!(r.seed, 7);
    assert_eq!(r.cases[0].outcome, Outcome::Fail);
    let msg = r.cases[0].message.clone().unwrap();
    assert!(
        msg.starts_with("property failed (seed 7; rerun with --seed 7): "),
        "{msg}"
    );
    assert!(
        msg.contains("minimal failing input: [\n    Deploy { path: ["),
        "{msg}"
    );
    assert!(msg.contains("children of "), "{msg}");
    assert!(
        msg.contains("reproduce the last request: curl -sS -u \"admin:$JCR_PASSWORD\" -X GET '"),
        "{msg}"
    );
    assert!(msg.contains("/api/storage/generic-local/"), "{msg}");
    target.shutdown().await;
}
