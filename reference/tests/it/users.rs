//! Users, groups and permission targets through `/api/security/*`, the lock policy, encrypted
//! passwords and key encryption.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

fn text_of(status: u16, body: &str) -> (u16, String) {
    (status, body.to_string())
}

#[tokio::test]
async fn users_groups_and_permission_targets_round_trip() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "api/security/groups/devs")
        .json(&json!({"description": "Developers", "autoJoin": false}))
        .go()
        .await;
    let (st, _, body) = parts(r).await;
    assert_eq!((st, body.as_str()), (201, ""));
    let r = s
        .admin(Method::PUT, "api/security/users/Carol")
        .json(&json!({"email": "carol@example.com", "password": "Secret-1", "groups": ["devs", "nope"]}))
        .go().await;
    assert_eq!(r.status(), 201);
    let r = s.get("api/security/users/carol").await;
    let (st, h, body) = parts(r).await;
    assert_eq!(st, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.security.User+json")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({
            "name": "carol", "email": "carol@example.com", "admin": false,
            "profileUpdatable": true, "internalPasswordDisabled": false, "groups": ["devs"],
            "lastLoggedInMillis": 0, "realm": "internal", "offlineMode": false,
            "disableUIAccess": false, "watchManager": false, "reportsManager": false,
            "policyManager": false, "policyViewer": false, "status": "ENABLED"
        })
    );
    assert!(!body.contains("Secret-1") && !body.contains("password"));
    // Carol logs in with the password she was given, case-insensitively by name.
    let r = s
        .basic(Method::GET, "api/repositories", "CAROL", "Secret-1")
        .go()
        .await;
    assert_eq!(r.status(), 200);
    // POST is a partial update.
    let r = s
        .admin(Method::POST, "api/security/users/carol")
        .json(&json!({"email": "c@example.org"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = s.get("api/security/users/carol").await.json();
    assert_eq!(
        (v["email"].clone(), v["groups"].clone()),
        (json!("c@example.org"), json!(["devs"]))
    );
    let users: serde_json::Value = s.get("api/security/users").await.json();
    let base = &s.base;
    assert_eq!(
        users,
        json!([
            {"name": "admin", "uri": format!("{base}/api/security/users/admin"), "realm": "internal"},
            {"name": "anonymous", "uri": format!("{base}/api/security/users/anonymous"), "realm": "internal"},
            {"name": "carol", "uri": format!("{base}/api/security/users/carol"), "realm": "internal"},
        ])
    );
    let g: serde_json::Value = s
        .get("api/security/groups/devs?includeUsers=true")
        .await
        .json();
    assert_eq!(
        g,
        json!({"name": "devs", "description": "Developers", "autoJoin": false,
               "adminPrivileges": false, "realm": "internal", "userNames": ["carol"],
               "watchManager": false, "policyManager": false, "reportsManager": false})
    );
    let r = s
        .admin(Method::PUT, "api/security/permissions/dev-deploy")
        .json(&json!({
            "includesPattern": "org/**", "repositories": ["generic-local"],
            "principals": {"users": {"carol": ["r", "w"]}, "groups": {"devs": ["r", "n", "d"]}}
        }))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let r = s.get("api/security/permissions/dev-deploy").await;
    let (st, h, body) = parts(r).await;
    assert_eq!(st, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.security.PermissionTarget+json")
    );
    assert_eq!(
        body,
        "{\n  \"name\" : \"dev-deploy\",\n  \"includesPattern\" : \"org/**\",\n  \"excludesPattern\" : \"\",\n  \"repositories\" : [ \"generic-local\" ],\n  \"principals\" : {\n    \"users\" : {\n      \"carol\" : [ \"w\", \"r\" ]\n    },\n    \"groups\" : {\n      \"devs\" : [ \"d\", \"n\", \"r\" ]\n    }\n  }\n}"
    );
    let names: Vec<String> = s
        .get("api/security/permissions")
        .await
        .json::<Vec<serde_json::Value>>()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Anything", "dev-deploy"]);
    // The new target lets carol deploy under org/ and nowhere else.
    let r = s
        .basic(Method::PUT, "generic-local/org/a.txt", "carol", "Secret-1")
        .body("a")
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let r = s
        .basic(Method::PUT, "generic-local/com/a.txt", "carol", "Secret-1")
        .body("a")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "The user: 'carol' is not permitted to deploy 'com/a.txt' into 'generic-local:com/a.txt'.",
    )
    .await;
    for (path, label, name) in [
        (
            "api/security/permissions/dev-deploy",
            "Permission Target",
            "dev-deploy",
        ),
        ("api/security/users/carol", "User", "carol"),
        ("api/security/groups/devs", "Group", "devs"),
    ] {
        let r = s.admin(Method::DELETE, path).go().await;
        let (st, h, body) = parts(r).await;
        assert_eq!(
            text_of(st, &body),
            text_of(
                200,
                &format!("{label} '{name}' has been removed successfully.")
            )
        );
        assert_eq!(header(&h, "content-type"), Some("text/plain"));
        assert_rest_error(s.get(path).await, 404, "Not Found").await;
        assert_rest_error(s.admin(Method::DELETE, path).go().await, 404, "Not Found").await;
    }
    // Deleted means gone: carol's password no longer works.
    let r = s
        .basic(Method::GET, "api/repositories", "carol", "Secret-1")
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
}

#[tokio::test]
async fn security_api_is_admin_only() {
    let s = start_with(with_bob).await;
    for path in [
        "api/security/users",
        "api/security/users/bob",
        "api/security/groups",
        "api/security/permissions/Anything",
        "api/security/userLockPolicy",
        "api/security/lockedUsers",
    ] {
        let r = s.basic(Method::GET, path, "bob", "pw").go().await;
        assert_rest_error(r, 403, "Forbidden").await;
        let r = s.anon(Method::GET, path).go().await;
        let www = header(r.headers(), "www-authenticate").map(str::to_string);
        assert_eq!(www.as_deref(), Some("Basic realm=\"Artifactory Realm\""));
        assert_rest_error(r, 401, "Authentication is required").await;
    }
    let r = s
        .basic(Method::PUT, "api/security/users/eve", "bob", "pw")
        .json(&json!({"email": "e@x", "password": "p", "admin": true}))
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
    assert_rest_error(s.get("api/security/users/eve").await, 404, "Not Found").await;
}

#[tokio::test]
async fn bad_security_input_is_refused_and_changes_nothing() {
    let s = start().await;
    let before: serde_json::Value = s.get("api/security/users").await.json();
    let cases: Vec<(&str, Method, String, &str)> = vec![
        ("api/security/users/x", Method::PUT, "{not json".into(), ""),
        (
            "api/security/users/x",
            Method::PUT,
            r#"{"password":"p"}"#.into(),
            "Email is required",
        ),
        (
            "api/security/users/x",
            Method::PUT,
            r#"{"email":"x@y"}"#.into(),
            "Password is required",
        ),
        (
            "api/security/users/x",
            Method::PUT,
            r#"{"email":"nope","password":"p"}"#.into(),
            "Invalid email address 'nope'",
        ),
        (
            "api/security/users/...",
            Method::PUT,
            r#"{"email":"x@y","password":"p"}"#.into(),
            "Invalid name '...': names are at most 64 characters without '/' or control characters, and not only dots",
        ),
        (
            "api/security/users/a%2Fb",
            Method::PUT,
            r#"{"email":"x@y","password":"p"}"#.into(),
            "Invalid name 'a/b': names are at most 64 characters without '/' or control characters, and not only dots",
        ),
        (
            "api/security/users/x",
            Method::PUT,
            r#"{"email":"x@y","password":"p","admin":"yes"}"#.into(),
            "Field 'admin' must be a boolean",
        ),
        (
            "api/security/users/x",
            Method::PUT,
            "[1]".into(),
            "The JSON body must be an object",
        ),
        (
            "api/security/users/ghost",
            Method::POST,
            r#"{"email":"x@y"}"#.into(),
            "Not Found",
        ),
        (
            "api/security/permissions/p",
            Method::PUT,
            r#"{"repositories":["generic-local"],"principals":{"users":{"ghost":["r"]}}}"#.into(),
            "Permission target contains a reference to a non-existing user 'ghost'.",
        ),
        (
            "api/security/permissions/p",
            Method::PUT,
            r#"{"repositories":["generic-local"],"principals":{"groups":{"readers":["r","z"]}}}"#
                .into(),
            "Unknown permission action 'z'",
        ),
        (
            "api/security/permissions/p",
            Method::PUT,
            r#"{"repositories":["no-such-repo"]}"#.into(),
            "Permission target contains a reference to a non-existing repository 'no-such-repo'.",
        ),
        (
            "api/security/groups/g",
            Method::PUT,
            r#"{"autoJoin":true,"adminPrivileges":true}"#.into(),
            "Groups with admin privileges cannot be joined automatically",
        ),
    ];
    for (path, method, body, message) in cases {
        let r = s.admin(method.clone(), path).body(body.clone()).go().await;
        let (st, _, text) = parts(r).await;
        let want = if message == "Not Found" { 404 } else { 400 };
        assert_eq!(st, want, "{method} {path} {body}: {text}");
        if !message.is_empty() {
            assert_eq!(text, rest_error(want, message), "{method} {path} {body}");
        }
    }
    let r = s
        .admin(Method::DELETE, "api/security/users/admin")
        .go()
        .await;
    assert_rest_error(r, 400, "Users cannot delete themselves").await;
    let after: serde_json::Value = s.get("api/security/users").await.json();
    assert_eq!(before, after);
    assert_rest_error(s.get("api/security/permissions/p").await, 404, "Not Found").await;
    assert_rest_error(s.get("api/security/groups/g").await, 404, "Not Found").await;
}

#[tokio::test]
async fn lock_policy_locks_after_failed_logins_by_any_method() {
    let s = start_with(with_bob).await;
    let r = s.get("api/security/userLockPolicy").await;
    assert_eq!(
        r.text(),
        "{\n  \"enabled\" : false,\n  \"loginAttempts\" : 5\n}"
    );
    let r = s
        .admin(Method::PUT, "api/security/userLockPolicy")
        .json(&json!({"enabled": true, "loginAttempts": 101}))
        .go()
        .await;
    let (st, _, body) = parts(r).await;
    assert_eq!(
        text_of(st, &body),
        text_of(400, "LoginAttempts must be between 1 - 100")
    );
    let r = s
        .admin(Method::PUT, "api/security/userLockPolicy")
        .json(&json!({"enabled": true, "loginAttempts": 3}))
        .go()
        .await;
    let (st, _, body) = parts(r).await;
    assert_eq!(
        text_of(st, &body),
        text_of(200, "UserLockPolicy was successfully updated")
    );
    let key: serde_json::Value = s
        .basic(Method::POST, "api/security/apiKey", "bob", "pw")
        .go()
        .await
        .json();
    let key = key["apiKey"].as_str().unwrap().to_string();
    // Two wrong passwords, a success (which resets the count), then three failures by two methods.
    for pw in ["wrong1", "wrong2"] {
        let r = s
            .basic(Method::GET, "api/repositories", "bob", pw)
            .go()
            .await;
        assert_rest_error(r, 401, "Bad credentials").await;
    }
    let r = s
        .basic(Method::GET, "api/repositories", "bob", "pw")
        .go()
        .await;
    assert_eq!(r.status(), 200);
    for pw in [
        "wrong3",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        "AKCp8wrongkey",
    ] {
        let r = s
            .basic(Method::GET, "api/repositories", "bob", pw)
            .go()
            .await;
        assert_rest_error(r, 401, "Bad credentials").await;
    }
    // Locked: every method is refused with 403, even the right password and the API key.
    for req in [
        s.basic(Method::GET, "api/repositories", "bob", "pw"),
        s.basic(Method::GET, "api/repositories", "bob", &key),
        s.anon(Method::GET, "api/repositories")
            .header("X-JFrog-Art-Api", &key),
    ] {
        let r = req.go().await;
        assert_eq!(
            header(r.headers(), "www-authenticate"),
            Some("Basic realm=\"Artifactory Realm\"")
        );
        assert_rest_error(r, 403, "User bob is locked").await;
    }
    let locked: serde_json::Value = s.get("api/security/lockedUsers").await.json();
    assert_eq!(locked, json!(["bob"]));
    let status: serde_json::Value = s.get("api/security/users/bob").await.json();
    assert_eq!(status["status"], "LOCKED");
    let r = s
        .admin(Method::POST, "api/security/unlockUsers/bob")
        .go()
        .await;
    let (st, _, body) = parts(r).await;
    assert_eq!(
        text_of(st, &body),
        text_of(200, "The user: 'bob' was successfully unlocked")
    );
    let r = s
        .basic(Method::GET, "api/repositories", "bob", "pw")
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let locked: serde_json::Value = s.get("api/security/lockedUsers").await.json();
    assert_eq!(locked, json!([]));
    // A list and everyone.
    for _ in 0..3 {
        s.basic(Method::GET, "api/repositories", "bob", "x")
            .go()
            .await;
    }
    let r = s
        .admin(Method::POST, "api/security/unlockUsers")
        .json(&json!(["bob"]))
        .go()
        .await;
    assert_eq!(r.text(), "Specified users were successfully unlocked");
    for _ in 0..3 {
        s.basic(Method::GET, "api/repositories", "bob", "x")
            .go()
            .await;
    }
    let r = s
        .admin(Method::POST, "api/security/unlockAllUsers")
        .go()
        .await;
    assert_eq!(r.text(), "All users were successfully unlocked");
    let r = s
        .basic(Method::GET, "api/repositories", "bob", "pw")
        .go()
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn encrypted_password_stands_in_for_the_password() {
    let s = start_with(with_bob).await;
    let r = s
        .basic(Method::GET, "api/security/encryptedPassword", "bob", "pw")
        .go()
        .await;
    let (st, h, enc) = parts(r).await;
    assert_eq!(st, 200);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    // Not the password in clear (which is too short, at two letters, to look for inside the
    // random-looking text: that failed about once in a hundred runs).
    assert!(
        enc.starts_with("AP") && enc.len() > 20 && enc != "pw",
        "{enc}"
    );
    let r = s
        .basic(Method::GET, "api/repositories", "bob", &enc)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    // Asking again with the encrypted password gives the same value.
    let again = s
        .basic(Method::GET, "api/security/encryptedPassword", "bob", &enc)
        .go()
        .await
        .text();
    assert_eq!(again, enc);
    // Anonymous callers have none.
    let r = s
        .anon(Method::GET, "api/security/encryptedPassword")
        .go()
        .await;
    assert_rest_error(r, 401, "Authentication is required").await;
    // A new password invalidates the old encrypted one.
    let r = s
        .admin(Method::POST, "api/security/users/bob")
        .json(&json!({"password": "pw2"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .basic(Method::GET, "api/repositories", "bob", &enc)
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
    let r = s
        .basic(Method::GET, "api/repositories", "bob", "pw")
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
    let r = s
        .basic(Method::GET, "api/repositories", "bob", "pw2")
        .go()
        .await;
    assert_eq!(r.status(), 200);
}

/// Every file under `dir`, concatenated (for "this secret is not on disk" checks).
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_bytes(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn key_encryption_seals_secrets_at_rest_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (key, token) = {
        let s = start_with(|c| {
            c.data_dir = Some(data.clone());
            with_bob(c);
        })
        .await;
        let r = s.admin(Method::POST, "api/system/decrypt").go().await;
        let (st, _, body) = parts(r).await;
        assert_eq!(
            text_of(st, &body),
            text_of(409, "Cannot decrypt without artifactory key file")
        );
        let key: serde_json::Value = s
            .admin(Method::POST, "api/security/apiKey")
            .go()
            .await
            .json();
        let key = key["apiKey"].as_str().unwrap().to_string();
        let t: serde_json::Value = s
            .admin(Method::POST, "api/security/token")
            .form(&[("username", "bob"), ("expires_in", "0")])
            .go()
            .await
            .json();
        let token = t["access_token"].as_str().unwrap().to_string();
        let r = s
            .basic(Method::POST, "api/system/encrypt", "bob", "pw")
            .go()
            .await;
        assert_rest_error(r, 403, "Forbidden").await;
        for _ in 0..2 {
            // Twice: encrypting an encrypted instance is not an error.
            let r = s.admin(Method::POST, "api/system/encrypt").go().await;
            let (st, h, body) = parts(r).await;
            assert_eq!(text_of(st, &body), text_of(200, "DONE"));
            assert_eq!(header(&h, "content-type"), Some("text/plain"));
        }
        // Still usable while running.
        let r = s
            .anon(Method::GET, "api/repositories")
            .header("X-JFrog-Art-Api", &key)
            .go()
            .await;
        assert_eq!(r.status(), 200);
        s.server.stop().await;
        (key, token)
    };
    let disk = all_bytes(&data);
    assert!(
        !contains(&disk, &key),
        "the API key is on disk in the clear"
    );
    assert!(
        !contains(&disk, "$2b$"),
        "a password hash is on disk in the clear"
    );
    assert!(
        !contains(&disk, "PRIVATE KEY"),
        "the signing key is on disk in the clear"
    );
    // After a restart the master key opens everything: API key, password, token.
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    let ok = |r: Answer| async move { assert_eq!(r.status(), 200) };
    ok(s.anon(Method::GET, "api/repositories")
        .header("X-JFrog-Art-Api", &key)
        .go()
        .await)
    .await;
    ok(s.basic(Method::GET, "api/repositories", "bob", "pw")
        .go()
        .await)
    .await;
    ok(s.bearer(Method::GET, "api/repositories", &token).go().await).await;
    let r = s.admin(Method::POST, "api/system/decrypt").go().await;
    assert_eq!(r.text(), "DONE");
    s.server.stop().await;
    // Decrypted: the signing key file is plain again, the journal's secrets are under the data key.
    let disk = all_bytes(&data);
    assert!(contains(&disk, "PRIVATE KEY"));
    assert!(
        !contains(&disk, &key),
        "the API key is on disk in the clear"
    );
    assert!(!data.join("security/master.key").exists());
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    ok(s.anon(Method::GET, "api/repositories")
        .header("X-JFrog-Art-Api", &key)
        .go()
        .await)
    .await;
    ok(s.bearer(Method::GET, "api/repositories", &token).go().await).await;
    ok(s.basic(Method::GET, "api/repositories", "bob", "pw")
        .go()
        .await)
    .await;
}

/// Without key encryption too, the journal and snapshot hold no credential: a copy of the data
/// directory without its key files (`security/`) gives away no API key, password hash, refresh
/// token or instance secret, and a server will not start on it.
#[tokio::test]
async fn a_copy_of_the_data_directory_without_its_keys_holds_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start_with(|c| {
        c.data_dir = Some(data.clone());
        with_bob(c);
    })
    .await;
    let key: serde_json::Value = s
        .admin(Method::POST, "api/security/apiKey")
        .go()
        .await
        .json();
    let key = key["apiKey"].as_str().unwrap().to_string();
    let t: serde_json::Value = s
        .admin(Method::POST, "api/security/token")
        .form(&[
            ("username", "bob"),
            ("expires_in", "0"),
            ("refreshable", "true"),
        ])
        .go()
        .await
        .json();
    let refresh = t["refresh_token"].as_str().unwrap_or("").to_string();
    let encrypted: String = s
        .basic(Method::GET, "api/security/encryptedPassword", "bob", "pw")
        .go()
        .await
        .text();
    s.server.stop().await;
    let copy = dir.path().join("copy");
    copy_without_keys(&data, &copy);
    let disk = all_bytes(&copy);
    assert!(!contains(&disk, &key), "the API key");
    assert!(!contains(&disk, "$2b$"), "a password hash");
    assert!(
        refresh.is_empty() || !contains(&disk, &refresh),
        "the refresh token"
    );
    assert!(!contains(&disk, "PRIVATE KEY"), "the signing key");
    let state = std::fs::read_to_string(copy.join("meta/state.json")).unwrap();
    // The snapshot's first line is the state without items (format 3).
    let v: serde_json::Value = serde_json::from_str(state.lines().next().unwrap()).unwrap();
    let secret = v["security"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("{aes}"), "the instance secret: {secret}");
    assert!(!encrypted.is_empty());
    // The copy does not open without the keys: the server says so and stops.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&copy)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("a sealed secret does not open"), "{said}");
}

fn copy_without_keys(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if name == "security" {
            continue;
        }
        if p.is_dir() {
            copy_without_keys(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

/// `.` and `..` as user names, sent raw (URL libraries resolve them away before they leave).
#[tokio::test]
async fn dot_user_names_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start().await;
    for name in [".", ".."] {
        let body = r#"{"email":"x@y","password":"p"}"#;
        let req = format!(
            "PUT /artifactory/api/security/users/{name} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Basic YWRtaW46cGFzc3dvcmQ=\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut c = tokio::net::TcpStream::connect(s.server.addr())
            .await
            .unwrap();
        c.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{name}: {answer}");
        assert!(
            answer.contains(&format!("Invalid name '{name}'")),
            "{answer}"
        );
    }
    let users: serde_json::Value = s.get("api/security/users").await.json();
    assert!(!users.to_string().contains("\"name\":\".\""), "{users}");
}

/// An unauthenticated client cannot lock out an administrator: their failures are not counted
/// toward the lock (Artifactory's way back is an admin who can still log in).
#[tokio::test]
async fn the_lock_policy_does_not_lock_administrators() {
    let s = start_with(with_bob).await;
    let r = s
        .admin(Method::PUT, "api/security/userLockPolicy")
        .json(&json!({"enabled": true, "loginAttempts": 2}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    for i in 0..5 {
        let r = s
            .basic(
                Method::GET,
                "api/repositories",
                "admin",
                &format!("guess{i}"),
            )
            .go()
            .await;
        assert_rest_error(r, 401, "Bad credentials").await;
        let r = s
            .basic(Method::GET, "api/repositories", "bob", &format!("guess{i}"))
            .go()
            .await;
        // 401 until the lock, then the locked user's 403.
        assert!([401, 403].contains(&r.status().as_u16()), "{}", r.status());
    }
    assert_eq!(
        s.get("api/repositories").await.status(),
        200,
        "admin logs in"
    );
    let locked: serde_json::Value = s.get("api/security/lockedUsers").await.json();
    assert_eq!(locked, json!(["bob"]));
}
