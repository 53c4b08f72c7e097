//! API keys: the endpoints and authenticating with a key.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn create_get_regenerate_revoke_own_key() {
    let s = start_with(with_bob).await;
    let bob = |m: Method, path: &str| {
        s.client
            .request(m, s.url(path))
            .basic_auth("bob", Some("pw"))
    };
    let r = bob(Method::GET, "api/security/apiKey").go().await;
    let (status, h, text) = parts(r).await;
    assert_eq!((status, text.as_str()), (200, "{}"));
    assert_eq!(header(&h, "content-type"), Some("application/json"));
    let r = bob(Method::POST, "api/security/apiKey").go().await;
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json();
    let key = v["apiKey"].as_str().unwrap().to_string();
    assert!(key.starts_with("AKCp8") && key.len() >= 73, "{key}");
    let r = bob(Method::POST, "api/security/apiKey").go().await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (400, r#"{"error":"Api key already exists for user: bob"}"#)
    );
    let r = bob(Method::GET, "api/security/apiKey").go().await;
    assert_eq!(r.text(), format!(r#"{{"apiKey":"{key}"}}"#));
    // The key authenticates as bob: as the Basic password and in X-JFrog-Art-Api.
    let r = s
        .client
        .get(s.url("api/repositories"))
        .basic_auth("bob", Some(&key))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .get(s.url("api/repositories"))
        .header("X-JFrog-Art-Api", &key)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .put(s.url("generic-local/x"))
        .header("X-JFrog-Art-Api", &key)
        .body("x")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "The user: 'bob' is not permitted to deploy 'x' into 'generic-local:x'.",
    )
    .await;
    // Regenerating with the key itself is forbidden; with the password it works and the old key dies.
    let r = s
        .client
        .put(s.url("api/security/apiKey"))
        .header("X-JFrog-Art-Api", &key)
        .go()
        .await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (
            403,
            r#"{"error":"The use of apiKey as authentication is forbidden for this api call"}"#
        )
    );
    let r = bob(Method::PUT, "api/security/apiKey").go().await;
    assert_eq!(r.status(), 200);
    let new_key = r.json::<serde_json::Value>()["apiKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_key, key);
    let r = s
        .client
        .get(s.url("api/repositories"))
        .header("X-JFrog-Art-Api", &key)
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
    let r = bob(Method::DELETE, "api/security/apiKey").go().await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (
            200,
            r#"{"info":"Api key for user: 'bob' has been successfully revoked"}"#
        )
    );
    let r = s
        .client
        .get(s.url("api/repositories"))
        .basic_auth("bob", Some(&new_key))
        .go()
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn admin_manages_other_users_keys_and_revokes_all() {
    let s = start_with(with_bob).await;
    let bob = |m: Method, path: &str| {
        s.client
            .request(m, s.url(path))
            .basic_auth("bob", Some("pw"))
    };
    bob(Method::POST, "api/security/apiKey").go().await;
    s.admin(Method::POST, "api/security/apiKey").go().await;
    let v: serde_json::Value = s.get("api/security/apiKey/bob").await.json();
    assert!(v["apiKey"].as_str().unwrap().starts_with("AKCp8"));
    let r = bob(Method::GET, "api/security/apiKey/admin").go().await;
    assert_eq!(r.status(), 403);
    let r = bob(Method::DELETE, "api/security/apiKey?deleteAll=1")
        .go()
        .await;
    assert_eq!(r.status(), 403);
    let r = s
        .admin(Method::DELETE, "api/security/apiKey/bob")
        .go()
        .await;
    assert_eq!(
        r.text(),
        r#"{"info":"Api key for user: 'bob' has been successfully revoked"}"#
    );
    assert_eq!(
        bob(Method::GET, "api/security/apiKey").go().await.text(),
        "{}"
    );
    let r = s
        .admin(Method::DELETE, "api/security/apiKey?deleteAll=1")
        .go()
        .await;
    assert_eq!(
        r.text(),
        r#"{"info":"All api keys have been successfully revoked"}"#
    );
    assert_eq!(s.get("api/security/apiKey").await.text(), "{}");
}

#[tokio::test]
async fn anonymous_and_bad_keys() {
    let s = start_with(|c| c.anonymous_access = true).await;
    let r = s.anon(Method::POST, "api/security/apiKey").go().await;
    assert_eq!(r.status(), 403);
    for m in [Method::GET, Method::PUT, Method::DELETE] {
        let r = s.anon(m, "api/security/apiKey").go().await;
        let (status, _, text) = parts(r).await;
        assert_eq!((status, text.as_str()), (200, ""));
    }
    let r = s
        .anon(Method::GET, "api/repositories")
        .header("X-JFrog-Art-Api", "AKCp8nope")
        .go()
        .await;
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        Some("Basic realm=\"Artifactory Realm\"")
    );
    assert_rest_error(r, 401, "Bad credentials").await;
    let s2 = start().await;
    let r = s2.anon(Method::GET, "api/security/apiKey").go().await;
    assert_rest_error(r, 401, "Authentication is required").await;
}

#[tokio::test]
async fn api_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = {
        let s = start_with(|c| c.data_dir = Some(data.clone())).await;
        let r = s.admin(Method::POST, "api/security/apiKey").go().await;
        let key = r.json::<serde_json::Value>()["apiKey"]
            .as_str()
            .unwrap()
            .to_string();
        s.server.stop().await;
        key
    };
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    let r = s
        .client
        .get(s.url("api/storage/generic-local"))
        .header("X-JFrog-Art-Api", &key)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        s.get("api/security/apiKey")
            .await
            .json::<serde_json::Value>(),
        json!({"apiKey": key})
    );
}
