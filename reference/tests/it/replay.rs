//! Old data directories still load: the fixtures under `tests/fixtures/` were written by an earlier
//! version of the server (see `make-datadirs.sh`): a snapshot from a clean shutdown plus a journal of
//! later records that were never compacted. Starting on a copy must replay both and serve everything
//! they hold, secrets included, whether they were written in clear or sealed under the master key.

use jcr_reference::{Config, Server};
use reqwest::{Client, Method};
use serde_json::Value;

use crate::common::Go;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn answer(name: &str, file: &str) -> String {
    std::fs::read_to_string(fixture(name).join("answers").join(file))
        .unwrap()
        .trim()
        .to_string()
}

fn answer_json(name: &str, file: &str, field: &str) -> String {
    let v: Value = serde_json::from_str(&answer(name, file)).unwrap();
    v[field].as_str().unwrap().to_string()
}

struct Started {
    server: Server,
    client: Client,
}

impl Started {
    async fn start(data: &std::path::Path) -> Started {
        let config = Config {
            data_dir: Some(data.to_path_buf()),
            ..Config::ephemeral()
        };
        Started {
            server: Server::start(config)
                .await
                .expect("the old data directory loads"),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/{path}", self.server.url()))
    }

    async fn status_and_text(&self, rb: reqwest::RequestBuilder) -> (u16, String) {
        let r = rb.go().await;
        (r.status().as_u16(), r.text())
    }

    async fn admin_get(&self, path: &str) -> (u16, String) {
        self.status_and_text(
            self.req(Method::GET, path)
                .basic_auth("admin", Some("password")),
        )
        .await
    }
}

/// Everything the fixture's writes left behind, checked through HTTP.
async fn assert_fixture_state(name: &str, s: &Started) {
    // Content: a copy, a move (with its properties), a deleted file, an empty folder.
    assert_eq!(
        s.admin_get("generic-local/copied/second.txt").await,
        (200, "second file".into())
    );
    assert_eq!(
        s.admin_get("generic-local/a/second.txt").await,
        (200, "second file".into())
    );
    assert_eq!(
        s.admin_get("generic-local/moved/hello.txt").await,
        (200, "hello v0".into())
    );
    assert_eq!(s.admin_get("generic-local/a/b/hello.txt").await.0, 404);
    assert_eq!(s.admin_get("generic-local/doomed.txt").await.0, 404);
    let (st, body) = s
        .admin_get("api/storage/generic-local/moved/hello.txt?properties")
        .await;
    assert_eq!(st, 200, "{body}");
    let props: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        props["properties"],
        serde_json::json!({"kind": ["text"], "owner": ["ops"], "release": ["1.0", "1.1"], "team": ["core"]})
    );
    let (st, body) = s.admin_get("api/storage/generic-local/empty-folder").await;
    assert_eq!(st, 200, "{body}");
    // Security: users with their passwords, a group, a permission target.
    for (user, pw) in [("carol", "Carol-pw-1"), ("dave", "Dave-pw-1")] {
        let (st, body) = s
            .status_and_text(
                s.req(Method::GET, "api/security/apiKey")
                    .basic_auth(user, Some(pw)),
            )
            .await;
        assert_eq!(st, 200, "{name}: {user} logs in with the password: {body}");
    }
    let (st, body) = s.admin_get("api/security/permissions/carol-deploy").await;
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"carol\""), "{body}");
    let (st, body) = s.admin_get("api/security/groups/devs").await;
    assert_eq!(st, 200, "{body}");
    // API keys, written to the snapshot and to the journal.
    for (user, file) in [
        ("carol", "carol-api-key.json"),
        ("dave", "dave-api-key.json"),
    ] {
        let key = answer_json(name, file, "apiKey");
        let (st, body) = s
            .status_and_text(
                s.req(Method::GET, "api/security/apiKey")
                    .header("X-JFrog-Art-Api", &key),
            )
            .await;
        assert_eq!(st, 200, "{name}: {user}'s API key: {body}");
        assert!(body.contains(&key), "{body}");
    }
    // Access tokens: the signing key and the token records survive.
    for file in ["admin-token.json", "dave-token.json"] {
        let token = answer_json(name, file, "access_token");
        let (st, body) = s
            .status_and_text(s.req(Method::GET, "api/repositories").bearer_auth(&token))
            .await;
        assert_eq!(st, 200, "{name}: {file}: {body}");
    }
    // The Docker image pushed into the journal half, by tag, with the same digest.
    let digest = answer(name, "manifest-digest.txt");
    let r = s
        .client
        .get(format!(
            "http://{}/v2/docker-local/fixture/app/manifests/1.0",
            s.server.addr()
        ))
        .basic_auth("admin", Some("password"))
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok()),
        Some(format!("sha256:{digest}").as_str())
    );
}

#[rstest::rstest]
#[case("datadir-v0")]
#[case("datadir-v0-sealed")]
#[case("datadir-v1")]
#[case("datadir-v1-sealed")]
#[tokio::test]
async fn a_data_directory_written_by_an_earlier_format_still_loads(#[case] name: &str) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name).join("data"), dir.path());
    let s = Started::start(dir.path()).await;
    assert_fixture_state(name, &s).await;
    s.server.stop().await;
    // And again after this version has compacted it in its own format (format 3: a snapshot with
    // its format and generation and its items in sections, a journal whose header names the
    // generation it follows).
    let snapshot = std::fs::read(dir.path().join("meta/state.json")).unwrap();
    assert!(snapshot.starts_with(b"{\"format\":3,\"generation\":"));
    let journal = std::fs::read(dir.path().join("meta/journal.log")).unwrap();
    assert!(journal.starts_with(b"JCRJ\x03\x00\x00\x00"));
    assert_eq!(journal.len(), 16);
    let s = Started::start(dir.path()).await;
    assert_fixture_state(name, &s).await;
    s.server.stop().await;
}
