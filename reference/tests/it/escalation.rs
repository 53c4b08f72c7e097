//! Ways a caller might get more than they were given: group-scoped tokens widening themselves,
//! subtree operations over paths the caller may not touch, tokens outliving their user, virtual
//! repositories, unlimited refreshes, parallel password guesses. Each test guards one.

use jcr_reference::{PackageType, RepoClass, RepoConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

async fn token(s: &Srv, form: &[(&str, &str)]) -> String {
    let r = s
        .admin(Method::POST, "api/security/token")
        .form(form)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    r.json::<Value>()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn group_scoped_tokens_cannot_widen_themselves() {
    let s = start_with(|c| {
        c.groups.push(jcr_reference::GroupConfig {
            name: "admins".into(),
            description: String::new(),
            auto_join: false,
            admin_privileges: true,
        });
        c.users.push(user("bob", None));
    })
    .await;
    let access = format!("http://{}/access/api/v1/tokens", s.server.addr());
    // A user may not name a group they are not in, in either API.
    let r = s
        .client
        .post(&access)
        .basic_auth("bob", Some("bob-pw"))
        .form(&[("scope", "applied-permissions/groups:admins")])
        .go()
        .await;
    assert_eq!(r.status(), 403);
    let r = s
        .basic(Method::POST, "api/security/token", "bob", "bob-pw")
        .form(&[
            ("username", "bob"),
            ("scope", "applied-permissions/groups:admins"),
        ])
        .go()
        .await;
    assert_eq!(
        r.json::<Value>()["error_description"],
        "User 'bob' is not a member of group 'admins'"
    );
    // An admin's readers-only token cannot mint a whole-user token or an API key.
    let narrow = token(
        &s,
        &[("username", "admin"), ("scope", "member-of-groups:readers")],
    )
    .await;
    for scope in ["applied-permissions/user", "member-of-groups:*"] {
        let r = s
            .basic(Method::POST, "api/security/token", "admin", &narrow)
            .form(&[("username", "admin"), ("scope", scope)])
            .go()
            .await;
        assert_eq!(r.status(), 400, "{scope}");
    }
    let r = s
        .client
        .post(&access)
        .bearer_auth(&narrow)
        .form(&[("scope", "applied-permissions/user")])
        .go()
        .await;
    assert_eq!(r.status(), 403);
    let r = s
        .bearer(Method::POST, "api/security/apiKey", &narrow)
        .go()
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(s.get("api/security/apiKey").await.text(), "{}");
    // Its default scope stays within its groups, and it is no admin.
    let r = s
        .basic(Method::POST, "api/security/token", "admin", &narrow)
        .form(&[("username", "admin")])
        .go()
        .await;
    let v: Value = r.json();
    assert_eq!(v["scope"], "member-of-groups:readers api:*");
    let r = s
        .bearer(Method::GET, "api/security/users", &narrow)
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
}

#[tokio::test]
async fn subtree_operations_need_the_permission_on_every_file() {
    let s = start_with(|c| {
        c.users.push(user("bob", Some(&[])));
        c.repositories.push(RepoConfig::new(
            "scratch",
            RepoClass::Local,
            PackageType::Generic,
        ));
        c.permissions.push(target(
            "pub",
            "generic-local",
            "org/public/**",
            &[("bob", "rwdn")],
        ));
        c.permissions
            .push(target("scratch", "scratch", "**", &[("bob", "rwdn")]));
    })
    .await;
    s.deploy("generic-local/org/public/a.txt", "a").await;
    s.deploy("generic-local/org/private/secret.txt", "s").await;
    let bob = |m: Method, p: &str| s.basic(m, p, "bob", "bob-pw");
    let r = bob(Method::DELETE, "generic-local/org").go().await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        s.get("api/storage/generic-local/org/private/secret.txt")
            .await
            .status(),
        200
    );
    let r = bob(Method::POST, "api/copy/generic-local/org?to=/scratch/x")
        .go()
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(s.get("api/storage/scratch/x").await.status(), 404);
    let r = bob(Method::PUT, "api/storage/generic-local/org?properties=k=v")
        .go()
        .await;
    assert_eq!(r.status(), 403);
    let props = s
        .get("api/storage/generic-local/org/private/secret.txt?properties")
        .await;
    assert_eq!(props.status(), 404, "no property may have been set");
    // Inside what bob may touch, the same operations work.
    assert_eq!(
        bob(
            Method::POST,
            "api/copy/generic-local/org/public?to=/scratch/p"
        )
        .go()
        .await
        .status(),
        200
    );
    assert_eq!(
        bob(Method::DELETE, "generic-local/org/public")
            .go()
            .await
            .status(),
        204
    );
    // Copying over an existing file needs delete at the destination.
    s.deploy("generic-local/org/public/b.txt", "b").await;
    let r = s
        .client
        .put(s.url("api/security/permissions/scratch"))
        .basic_auth("admin", Some("password"))
        .json(&json!({"repositories": ["scratch"], "principals": {"users": {"bob": ["r", "w"]}}}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    s.deploy("scratch/q/b.txt", "old").await;
    let r = bob(
        Method::POST,
        "api/copy/generic-local/org/public/b.txt?to=/scratch/q/b.txt",
    )
    .go()
    .await;
    assert_rest_error(
        r,
        403,
        "User doesn't have permissions to override 'scratch:q/b.txt'. Needs delete permissions.",
    )
    .await;
    assert_eq!(s.get("scratch/q/b.txt").await.text(), "old");
}

#[tokio::test]
async fn deleting_a_user_revokes_their_tokens() {
    let s = start_with(|c| c.users.push(user("bob", None))).await;
    let t = token(
        &s,
        &[("username", "bob"), ("scope", "applied-permissions/user")],
    )
    .await;
    assert_eq!(
        s.bearer(Method::GET, "api/repositories", &t)
            .go()
            .await
            .status(),
        200
    );
    assert_eq!(
        s.admin(Method::DELETE, "api/security/users/bob")
            .go()
            .await
            .status(),
        200
    );
    let r = s.bearer(Method::GET, "api/repositories", &t).go().await;
    assert_rest_error(r, 401, "Bad credentials").await;
    // A new user with the same name does not inherit anything.
    let r = s
        .admin(Method::PUT, "api/security/users/bob")
        .json(&json!({"email": "b@x.org", "password": "P-1", "admin": true}))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        s.bearer(Method::GET, "api/repositories", &t)
            .go()
            .await
            .status(),
        401
    );
    // A transient user's token keeps acting with its groups only, even once a real user appears.
    let ghost = token(
        &s,
        &[("username", "ghost"), ("scope", "member-of-groups:readers")],
    )
    .await;
    let r = s
        .admin(Method::PUT, "api/security/users/ghost")
        .json(&json!({"email": "g@x.org", "password": "P-1", "admin": true}))
        .go()
        .await;
    assert_eq!(r.status(), 201);
    let r = s.bearer(Method::GET, "api/storageinfo", &ghost).go().await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn virtual_repositories_use_their_members_permissions() {
    let s = start_with(|c| {
        c.users.push(user("bob", Some(&[])));
        c.repositories.push(RepoConfig::new(
            "other-local",
            RepoClass::Local,
            PackageType::Generic,
        ));
        c.repositories.push(RepoConfig {
            repositories: vec!["generic-local".into()],
            default_deployment_repo: Some("generic-local".into()),
            ..RepoConfig::new("virt", RepoClass::Virtual, PackageType::Generic)
        });
        c.permissions
            .push(target("other", "other-local", "**", &[("bob", "rw")]));
    })
    .await;
    s.deploy("generic-local/a.txt", "a").await;
    let r = s
        .basic(Method::PUT, "virt/b.txt", "bob", "bob-pw")
        .body("b")
        .go()
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(s.get("api/storage/generic-local/b.txt").await.status(), 404);
    let r = s
        .basic(Method::GET, "virt/a.txt", "bob", "bob-pw")
        .go()
        .await;
    assert_eq!(r.status(), 403);
    let r = s
        .admin(Method::PUT, "api/security/permissions/v")
        .json(&json!({"repositories": ["virt"], "principals": {"users": {"bob": ["r", "w"]}}}))
        .go()
        .await;
    assert_rest_error(
        r,
        400,
        "Permission targets are not supported for virtual repositories: 'virt'",
    )
    .await;
}

#[tokio::test]
async fn token_lifetimes_have_limits_and_huge_values_are_refused() {
    let s = start_with(|c| c.users.push(user("bob", None))).await;
    for v in ["9223372036854775807", "10000000000000000", "-1"] {
        let r = s
            .admin(Method::POST, "api/security/token")
            .form(&[("username", "bob"), ("expires_in", v)])
            .go()
            .await;
        assert_eq!(r.status(), 400, "{v}");
        assert_eq!(
            r.json::<Value>()["error_description"],
            format!("Invalid expires_in value: {v}")
        );
    }
    let r = s
        .basic(Method::POST, "api/security/token", "bob", "bob-pw")
        .form(&[("username", "bob"), ("refreshable", "true")])
        .go()
        .await;
    let v: Value = r.json();
    let (at, rt) = (
        v["access_token"].as_str().unwrap(),
        v["refresh_token"].as_str().unwrap(),
    );
    let r = s
        .anon(Method::POST, "api/security/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("access_token", at),
            ("expires_in", "0"),
        ])
        .go()
        .await;
    assert_eq!(r.status(), 400);
    let r = s
        .client
        .post(format!("http://{}/access/api/v1/tokens", s.server.addr()))
        .basic_auth("bob", Some("bob-pw"))
        .form(&[("expires_in", "0")])
        .go()
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_lock_policy() {
    let s = start_with(|c| c.users.push(user("bob", None))).await;
    let r = s
        .admin(Method::PUT, "api/security/userLockPolicy")
        .json(&json!({"enabled": true, "loginAttempts": 3}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let mut guesses = Vec::new();
    for i in 0..20 {
        // One of them is right; once locked, it must not be told apart.
        let pw = if i == 15 {
            "bob-pw".to_string()
        } else {
            format!("wrong-{i}")
        };
        guesses.push(s.basic(Method::GET, "api/repositories", "bob", &pw).send());
    }
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(unauthorized <= 3, "{statuses:?}");
    assert_eq!(
        unauthorized + ok + statuses.iter().filter(|s| **s == 403).count(),
        20
    );
    if ok == 0 {
        let locked: Value = s.get("api/security/lockedUsers").await.json();
        assert_eq!(locked, json!(["bob"]), "{statuses:?}");
    }
}

#[tokio::test]
async fn encrypted_password_stops_when_the_password_is_disabled() {
    let s = start_with(|c| c.users.push(user("bob", None))).await;
    let enc = s
        .basic(
            Method::GET,
            "api/security/encryptedPassword",
            "bob",
            "bob-pw",
        )
        .go()
        .await
        .text();
    assert_eq!(
        s.basic(Method::GET, "api/repositories", "bob", &enc)
            .go()
            .await
            .status(),
        200
    );
    let r = s
        .admin(Method::POST, "api/security/users/bob")
        .json(&json!({"internalPasswordDisabled": true}))
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .basic(Method::GET, "api/repositories", "bob", &enc)
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
}
