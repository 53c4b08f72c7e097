//! Repositories list and configuration API.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn default_repositories_are_listed_local_first() {
    let s = start().await;
    let r = s.get("api/repositories").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/vnd.org.jfrog.artifactory.repositories.RepositoryDetailsList+json")
    );
    assert_eq!(header(&h, "cache-control"), Some("no-store"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let b = &s.base;
    assert_eq!(
        v,
        json!([
            {"key": "generic-local", "type": "LOCAL", "url": format!("{b}/generic-local"), "packageType": "Generic"},
            {"key": "docker-local", "type": "LOCAL", "url": format!("{b}/docker-local"), "packageType": "Docker"},
            {"key": "helm-local", "type": "LOCAL", "url": format!("{b}/helm-local"), "packageType": "Helm"},
            {"key": "artifactory-build-info", "description": "Build Info repository", "type": "LOCAL", "url": format!("{b}/artifactory-build-info"), "packageType": "Generic"},
        ])
    );
}

#[tokio::test]
async fn create_get_update_filter_delete() {
    let s = start().await;
    let r = s
        .admin(Method::PUT, "api/repositories/my-remote")
        .json(&json!({"key": "my-remote", "rclass": "remote", "packageType": "docker", "url": "https://registry-1.docker.io/"}))
        .go().await;
    let (status, h, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (200, "Successfully created repository 'my-remote' \n")
    );
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    let r = s
        .admin(Method::PUT, "api/repositories/My-Remote")
        .json(&json!({"rclass": "local"}))
        .go()
        .await;
    assert_rest_error(r, 400, "Case insensitive repository key already exists").await;
    let r = s.admin(Method::PUT, "api/repositories/virt").json(&json!({"rclass": "virtual", "packageType": "docker", "repositories": ["docker-local", "my-remote"], "defaultDeploymentRepo": "docker-local"})).go().await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = s.get("api/repositories?type=remote").await.json();
    assert_eq!(
        v,
        json!([{"key": "my-remote", "type": "REMOTE", "url": "https://registry-1.docker.io/", "packageType": "Docker"}])
    );
    let v: serde_json::Value = s.get("api/repositories?packageType=DOCKER").await.json();
    let keys: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["docker-local", "my-remote", "virt"]);
    assert_eq!(s.get("api/repositories?type=weird").await.text(), "[ ]");
    let r = s.get("api/repositories/virt").await;
    assert_eq!(
        header(r.headers(), "content-type"),
        Some("application/vnd.org.jfrog.artifactory.repositories.VirtualRepositoryConfiguration+json")
    );
    let v: serde_json::Value = r.json();
    assert_eq!(v["rclass"], "virtual");
    assert_eq!(v["repositories"], json!(["docker-local", "my-remote"]));
    assert_eq!(v["defaultDeploymentRepo"], "docker-local");
    let r = s
        .admin(Method::POST, "api/repositories/my-remote")
        .json(&json!({"description": "hub"}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = s.get("api/repositories/my-remote").await.json();
    assert_eq!(v["description"], "hub");
    assert_eq!(v["url"], "https://registry-1.docker.io/");
    let r = s
        .admin(Method::DELETE, "api/repositories/my-remote")
        .go()
        .await;
    let (status, _, text) = parts(r).await;
    assert_eq!(
        (status, text.as_str()),
        (
            200,
            "Repository my-remote and all its content have been removed successfully."
        )
    );
    // Virtual members forget the deleted repository.
    let v: serde_json::Value = s.get("api/repositories/virt").await.json();
    assert_eq!(v["repositories"], json!(["docker-local"]));
    assert_rest_error(
        s.get("api/repositories/my-remote").await,
        400,
        "Bad Request",
    )
    .await;
}

#[tokio::test]
async fn local_repository_configuration_json() {
    let s = start().await;
    let r = s.get("api/repositories/generic-local").await;
    let (status, h, text) = parts(r).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some(
            "application/vnd.org.jfrog.artifactory.repositories.LocalRepositoryConfiguration+json"
        )
    );
    assert!(
        text.starts_with("{\n  \"key\" : \"generic-local\",\n  \"packageType\" : \"generic\","),
        "{text}"
    );
    assert!(text.ends_with("  \"rclass\" : \"local\"\n}"), "{text}");
    assert!(text.contains("\"propertySets\" : [ ],"));
}

#[tokio::test]
async fn bad_repository_documents_are_400_and_create_nothing() {
    let s = start().await;
    for (key, body, msg) in [
        ("r1", "{not json".to_string(), None),
        (
            "r2",
            json!({"packageType": "generic"}).to_string(),
            Some("Repository rclass is mandatory"),
        ),
        (
            "r3",
            json!({"rclass": "local", "packageType": "maven"}).to_string(),
            Some("Unsupported package type: maven"),
        ),
        (
            "r4",
            json!({"rclass": "remote"}).to_string(),
            Some("Remote repository url is mandatory and must be an http(s) URL"),
        ),
        (
            "r5",
            json!({"rclass": "virtual", "repositories": ["nope"]}).to_string(),
            Some("Repository 'nope' does not exist or cannot be a member of 'r5'"),
        ),
        (
            "r6",
            json!({"key": "other", "rclass": "local"}).to_string(),
            Some("Repository key in the body ('other') does not match the URL ('r6')"),
        ),
        (
            "api",
            json!({"rclass": "local"}).to_string(),
            Some("Invalid repository key 'api'"),
        ),
    ] {
        let r = s
            .admin(Method::PUT, &format!("api/repositories/{key}"))
            .header("Content-Type", "application/json")
            .body(body)
            .go()
            .await;
        match msg {
            Some(m) => assert_rest_error(r, 400, m).await,
            None => assert_eq!(r.status(), 400),
        }
        assert_eq!(
            s.get(&format!("api/repositories/{key}")).await.status(),
            400
        );
    }
}

#[tokio::test]
async fn only_admins_manage_repositories() {
    let s = start_with(with_bob).await;
    let r = s
        .client
        .put(s.url("api/repositories/x"))
        .basic_auth("bob", Some("pw"))
        .json(&json!({"rclass": "local"}))
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
    let r = s
        .anon(Method::PUT, "api/repositories/x")
        .json(&json!({"rclass": "local"}))
        .go()
        .await;
    assert_rest_error(r, 401, "Authentication is required").await;
    let r = s
        .client
        .delete(s.url("api/repositories/generic-local"))
        .basic_auth("bob", Some("pw"))
        .go()
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(s.get("api/repositories/generic-local").await.status(), 200);
}
