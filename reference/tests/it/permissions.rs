//! The permission matrix: users × actions × repositories × endpoints, each outcome checked, and the
//! listings that hide what a user may not read.

use jcr_reference::{PackageType, RepoClass, RepoConfig};
use reqwest::Method;

use crate::common::*;

/// One request a caller makes, named for the table.
#[derive(Clone, Copy, Debug)]
enum Op {
    Download,
    FileInfo,
    Deploy,
    Overwrite,
    DeployWithProps,
    SetProps,
    PatchMetadata,
    Delete,
    DownloadOther,
    DeployOther,
    Copy,
    Move,
    StorageInfo,
}

const OPS: [Op; 13] = [
    Op::Download,
    Op::FileInfo,
    Op::Deploy,
    Op::Overwrite,
    Op::DeployWithProps,
    Op::SetProps,
    Op::PatchMetadata,
    Op::Delete,
    Op::DownloadOther,
    Op::DeployOther,
    Op::Copy,
    Op::Move,
    Op::StorageInfo,
];

async fn run(s: &Srv, who: Option<&str>, op: Op) -> u16 {
    let u = who.unwrap_or("anonymous");
    let (method, path, body): (Method, String, Option<&str>) = match op {
        Op::Download => (Method::GET, "team-local/f.txt".into(), None),
        Op::FileInfo => (Method::GET, "api/storage/team-local/f.txt".into(), None),
        Op::Deploy => (Method::PUT, format!("team-local/new-{u}.txt"), Some("n")),
        Op::Overwrite => (Method::PUT, format!("team-local/o-{u}.txt"), Some("o2")),
        Op::DeployWithProps => (Method::PUT, format!("team-local/p-{u}.txt;a=1"), Some("p")),
        Op::SetProps => (
            Method::PUT,
            "api/storage/team-local/f.txt?properties=x=1".into(),
            None,
        ),
        Op::PatchMetadata => (
            Method::PATCH,
            "api/metadata/team-local/f.txt".into(),
            Some(r#"{"props":{"y":"2"}}"#),
        ),
        Op::Delete => (Method::DELETE, format!("team-local/d-{u}.txt"), None),
        Op::DownloadOther => (Method::GET, "generic-local/f.txt".into(), None),
        Op::DeployOther => (Method::PUT, format!("generic-local/x-{u}.txt"), Some("x")),
        Op::Copy => (
            Method::POST,
            format!("api/copy/team-local/f.txt?to=/team-local/c-{u}.txt"),
            None,
        ),
        Op::Move => (
            Method::POST,
            format!("api/move/team-local/m-{u}.txt?to=/team-local/mv-{u}.txt"),
            None,
        ),
        Op::StorageInfo => (Method::GET, "api/storageinfo".into(), None),
    };
    let password = if u == "admin" {
        "password".to_string()
    } else {
        format!("{u}-pw")
    };
    let mut req = match who {
        Some(name) => s.basic(method, &path, name, &password),
        None => s.anon(method, &path),
    };
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    req.go().await.status().as_u16()
}

#[tokio::test]
async fn permission_matrix() {
    let s = start_with(|c| {
        c.anonymous_access = true;
        c.repositories.push(RepoConfig::new(
            "team-local",
            RepoClass::Local,
            PackageType::Generic,
        ));
        c.users.extend([
            user("reader", None),
            user("writer", Some(&[])),
            user("tagger", Some(&[])),
            user("deleter", Some(&[])),
            user("annotator", Some(&[])),
            user("nobody", Some(&[])),
        ]);
        c.permissions.push(target(
            "team",
            "team-local",
            "**",
            &[
                ("writer", "rw"),
                ("tagger", "rwn"),
                ("deleter", "rwd"),
                ("annotator", "rn"),
            ],
        ));
    })
    .await;
    let who = [
        "admin",
        "reader",
        "writer",
        "tagger",
        "deleter",
        "annotator",
        "nobody",
        "anonymous",
    ];
    s.deploy("team-local/f.txt", "f").await;
    s.deploy("generic-local/f.txt", "f").await;
    for u in who {
        s.deploy(&format!("team-local/d-{u}.txt"), "d").await;
        s.deploy(&format!("team-local/o-{u}.txt"), "o").await;
        s.deploy(&format!("team-local/m-{u}.txt"), "m").await;
    }
    // Expected status per user, in the order of OPS:
    // Download FileInfo Deploy Overwrite DeployWithProps SetProps PatchMetadata Delete
    // DownloadOther DeployOther Copy Move StorageInfo
    let expected: [(&str, [u16; 13]); 8] = [
        (
            "admin",
            [
                200, 200, 201, 201, 201, 204, 204, 204, 200, 201, 200, 200, 200,
            ],
        ),
        (
            "reader",
            [
                200, 200, 403, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403,
            ],
        ),
        (
            "writer",
            [
                200, 200, 201, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403,
            ],
        ),
        (
            "tagger",
            [
                200, 200, 201, 403, 201, 204, 204, 403, 403, 403, 200, 403, 403,
            ],
        ),
        (
            "deleter",
            [
                200, 200, 201, 201, 403, 403, 403, 204, 403, 403, 200, 200, 403,
            ],
        ),
        (
            "annotator",
            [
                200, 200, 403, 403, 403, 204, 204, 403, 403, 403, 403, 403, 403,
            ],
        ),
        (
            "nobody",
            [
                403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403, 403,
            ],
        ),
        (
            "anonymous",
            [
                200, 200, 401, 401, 401, 401, 401, 401, 200, 401, 401, 401, 401,
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (u, row) in expected {
        let caller = (u != "anonymous").then_some(u);
        for (op, want) in OPS.iter().zip(row) {
            let got = run(&s, caller, *op).await;
            if got != want {
                wrong.push(format!("{u} {op:?}: expected {want}, got {got}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // What the denied requests did not do.
    for u in ["reader", "writer", "annotator", "nobody", "anonymous"] {
        let r = s.get(&format!("api/storage/team-local/d-{u}.txt")).await;
        assert_eq!(r.status(), 200, "{u}'s denied delete removed the file");
        let r = s.get(&format!("team-local/o-{u}.txt")).await;
        assert_eq!(r.text(), "o", "{u}'s denied overwrite changed the file");
    }
    let r = s.get("api/storage/team-local/p-writer.txt").await;
    assert_eq!(
        r.status(),
        404,
        "a deploy refused for its properties stored the file"
    );
}

#[tokio::test]
async fn denials_say_who_and_what() {
    let s = start_with(|c| {
        c.anonymous_access = true;
        c.users.push(user("nobody", Some(&[])));
        c.users.push(user("writer", Some(&[])));
        c.permissions
            .push(target("w", "generic-local", "**", &[("writer", "rw")]));
    })
    .await;
    s.deploy("generic-local/f.txt", "f").await;
    let nobody = |m: Method, p: &str| s.basic(m, p, "nobody", "nobody-pw");
    let r = nobody(Method::GET, "generic-local/f.txt").go().await;
    assert_rest_error(
        r,
        403,
        "Download request for repo:path 'generic-local:f.txt' is forbidden for user 'nobody'.",
    )
    .await;
    let r = nobody(Method::GET, "api/storage/generic-local/f.txt")
        .go()
        .await;
    let (st, h, body) = parts(r).await;
    assert_eq!(st, 403);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    assert_eq!(
        body,
        "Request for 'generic-local:f.txt' is forbidden for user: 'nobody'."
    );
    let r = s
        .basic(Method::PUT, "generic-local/f.txt", "writer", "writer-pw")
        .body("x")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "Not enough permissions to delete/overwrite artifact 'generic-local:f.txt' (user: 'writer' needs DELETE permission).",
    )
    .await;
    let r = s
        .basic(Method::DELETE, "generic-local/f.txt", "writer", "writer-pw")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "Not enough permissions to delete/overwrite artifact 'generic-local:f.txt' (user: 'writer' needs DELETE permission).",
    )
    .await;
    let r = s
        .basic(
            Method::PATCH,
            "api/metadata/generic-local/f.txt",
            "writer",
            "writer-pw",
        )
        .body(r#"{"props":{"a":"b"}}"#)
        .go()
        .await;
    let (st, _, body) = parts(r).await;
    assert_eq!(
        (st, body.as_str()),
        (403, "Request for 'generic-local:f.txt' is forbidden for user: 'writer', You must have annotate permission on this path")
    );
    // Anonymous (access on) lacking deploy: 401 with the challenge and `Unauthorized`.
    let r = s
        .anon(Method::PUT, "generic-local/g.txt")
        .body("g")
        .go()
        .await;
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        Some("Basic realm=\"Artifactory Realm\"")
    );
    assert_rest_error(r, 401, "Unauthorized").await;
}

#[tokio::test]
async fn listings_show_only_what_the_caller_may_read() {
    let s = start_with(|c| {
        c.users.push(user("scoped", Some(&[])));
        c.repositories.push(RepoConfig::new(
            "other-local",
            RepoClass::Local,
            PackageType::Generic,
        ));
        c.permissions.push(target(
            "scoped",
            "generic-local",
            "team/**",
            &[("scoped", "r")],
        ));
    })
    .await;
    for p in ["team/a.txt", "team/sub/b.txt", "secret/c.txt", "top.txt"] {
        s.deploy(&format!("generic-local/{p}"), "x").await;
    }
    let get = |p: &str| s.basic(Method::GET, p, "scoped", "scoped-pw").go();
    let info: serde_json::Value = get("api/storage/generic-local").await.json();
    assert_eq!(
        info["children"],
        serde_json::json!([{"uri": "/team", "folder": true}])
    );
    let list: serde_json::Value = get("api/storage/generic-local?list&deep=1").await.json();
    let uris: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["uri"].as_str().unwrap())
        .collect();
    assert_eq!(uris, ["/team/a.txt", "/team/sub/b.txt"]);
    let html = get("generic-local/").await.text();
    assert!(html.contains("team/") && !html.contains("secret") && !html.contains("top.txt"));
    assert_eq!(get("generic-local/team/a.txt").await.status(), 200);
    assert_eq!(get("generic-local/top.txt").await.status(), 403);
    assert_eq!(get("generic-local/secret/c.txt").await.status(), 403);
    let repos: serde_json::Value = get("api/repositories").await.json();
    let keys: Vec<&str> = repos
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["generic-local"]);
}

/// The overwrite check and the write see the same state: a file created by someone else while a
/// deploy without delete permission streams its body is not overwritten by it.
#[tokio::test]
async fn a_deploy_without_delete_permission_cannot_overwrite_a_file_created_meanwhile() {
    let s = start_with(|c| {
        c.users.push(user("writer", Some(&[])));
        c.permissions
            .push(target("w", "generic-local", "**", &[("writer", "rw")]));
    })
    .await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let slow = s
        .basic(
            Method::PUT,
            "generic-local/race/x.txt",
            "writer",
            "writer-pw",
        )
        .body(body)
        .go();
    let slow = tokio::spawn(slow);
    tx.send(Ok(b"writer's first half, ".to_vec()))
        .await
        .unwrap();
    // The server has checked the writer's permissions and is reading the body when the file appears.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.deploy("generic-local/race/x.txt", "the admin's file")
        .await;
    tx.send(Ok(b"second half".to_vec())).await.unwrap();
    drop(tx);
    let r = slow.await.unwrap();
    assert_rest_error(
        r,
        403,
        "Not enough permissions to delete/overwrite artifact 'generic-local:race/x.txt' (user: 'writer' needs DELETE permission).",
    )
    .await;
    let r = s.get("generic-local/race/x.txt").await;
    assert_eq!(r.text(), "the admin's file");
}
