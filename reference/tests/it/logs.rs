//! Secrets never reach the log: the binary runs at debug level while clients authenticate every way,
//! fail, create users with passwords, API keys and tokens; its whole output is then searched.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::common::Go;

#[tokio::test]
async fn no_secret_is_ever_logged() {
    const BOB_PW: &str = "Bob-Secret-Pw-9";
    const WRONG_PW: &str = "Wrong-Secret-Pw-7";
    const NEW_PW: &str = "New-User-Pw-3";
    let mut child = Command::new(env!("CARGO_BIN_EXE_jcr-reference"))
        .args(["--bind", "127.0.0.1:0", "--user", &format!("bob:{BOB_PW}")])
        .env("JCR_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server printed Ready").unwrap();
        log.lock().unwrap().push_str(&line);
        if let Some(i) = line.find("Ready at ") {
            break line[i + 9..].split_whitespace().next().unwrap().to_string();
        }
    };
    let out = {
        let log = log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                let mut g = log.lock().unwrap();
                g.push_str(&l);
                g.push('\n');
            }
        })
    };
    let err = {
        let log = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&l);
            }
        })
    };
    let c = reqwest::Client::new();
    let get = |who: &str, pw: &str| {
        c.get(format!("{url}/api/repositories"))
            .basic_auth(who, Some(pw))
            .go()
    };
    assert_eq!(get("bob", BOB_PW).await.status(), 200);
    assert_eq!(get("bob", WRONG_PW).await.status(), 401);
    let key: Value = c
        .post(format!("{url}/api/security/apiKey"))
        .basic_auth("bob", Some(BOB_PW))
        .go()
        .await
        .json();
    let key = key["apiKey"].as_str().unwrap().to_string();
    let r = c
        .get(format!("{url}/api/repositories"))
        .header("X-JFrog-Art-Api", &key)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let enc = c
        .get(format!("{url}/api/security/encryptedPassword"))
        .basic_auth("bob", Some(BOB_PW))
        .go()
        .await
        .text();
    assert_eq!(get("bob", &enc).await.status(), 200);
    let t: Value = c
        .post(format!("{url}/api/security/token"))
        .basic_auth("admin", Some("password"))
        .form(&[("username", "bob"), ("refreshable", "true")])
        .go()
        .await
        .json();
    let token = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let r = c
        .get(format!("{url}/api/repositories"))
        .bearer_auth(&token)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = c
        .put(format!("{url}/api/security/users/carol"))
        .basic_auth("admin", Some("password"))
        .json(&json!({"email": "c@x.org", "password": NEW_PW}))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    // A failure inside a handler (bad JSON) is logged too, without the body.
    let r = c
        .put(format!("{url}/api/security/users/dave"))
        .basic_auth("admin", Some("password"))
        .body(format!("{{\"password\":\"{NEW_PW}\""))
        .go()
        .await;
    assert_eq!(r.status(), 400);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();
    out.join().unwrap();
    err.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("GET /artifactory/api/repositories 200"),
        "requests are logged: {log}"
    );
    assert!(log.contains("GET /artifactory/api/repositories 401"));
    for secret in [
        BOB_PW, WRONG_PW, NEW_PW, &key, &enc, &token, &refresh, "password",
    ] {
        assert!(!log.contains(secret), "'{secret}' is in the log:\n{log}");
    }
}
