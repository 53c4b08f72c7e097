//! Safety against live registries: writes need permission, read-only runs write nothing.

use crate::common::*;

#[tokio::test]
async fn live_targets_need_permission_to_write_and_read_only_runs_write_nothing() {
    let server = jcr_reference::Server::start(Config::ephemeral())
        .await
        .unwrap();
    let creds = Credentials::Basic {
        user: "admin".into(),
        password: "password".into(),
    };
    let target = Target::live(server.url(), creds.clone());
    let result = run(
        &target,
        &cases::all(),
        &RunOptions::default(),
        &Mask::default(),
    )
    .await;
    for c in &result.cases {
        let case = cases::all().into_iter().find(|x| x.id == c.id).unwrap();
        if case.writes {
            assert_eq!(c.outcome, Outcome::Disabled, "{}", c.id);
            assert_eq!(c.message.as_deref(), Some("writes (needs --allow-writes)"));
        } else if case.anonymous {
            assert_eq!(c.outcome, Outcome::Disabled, "{}", c.id);
        } else {
            assert_eq!(c.outcome, Outcome::Pass, "{}: {:?}", c.id, c.message);
        }
    }
    let mut ro = Target::live(server.url(), creds);
    ro.allow_writes = true;
    ro.read_only = true;
    let result = run(&ro, &cases::all(), &RunOptions::default(), &Mask::default()).await;
    assert!(result.cases.iter().any(|c| c.outcome == Outcome::Pass));
    // Nothing was written: the repository is still empty.
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/storage/generic-local", server.url()))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["children"], serde_json::json!([]));
    server.stop().await;
}
