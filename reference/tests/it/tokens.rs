//! Access tokens: `/api/security/token`, `/api/system/service_id` and `/access/api/v1/tokens`.

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

fn decode_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn create(s: &Srv, form: &[(&str, &str)]) -> (u16, Value) {
    let r = s
        .admin(Method::POST, "api/security/token")
        .form(form)
        .go()
        .await;
    let status = r.status().as_u16();
    (status, r.json())
}

async fn service_id(s: &Srv) -> String {
    s.get("api/system/service_id").await.text()
}

#[tokio::test]
async fn tokens_are_created_used_listed_refreshed_and_revoked() {
    let s = start_with(with_bob).await;
    let r = s.get("api/system/service_id").await;
    let (st, h, sid) = parts(r).await;
    assert_eq!(st, 200);
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    let id = sid.strip_prefix("jfrt@").unwrap();
    assert!(
        id.len() == 26
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{sid}"
    );
    s.deploy("generic-local/a.txt", "a").await;
    let (st, v) = create(
        &s,
        &[
            ("username", "bob"),
            ("scope", "member-of-groups:readers"),
            ("refreshable", "true"),
        ],
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "refresh_token",
            "expires_in",
            "scope",
            "token_type"
        ]
    );
    assert_eq!(v["expires_in"], 3600);
    assert_eq!(v["scope"], "member-of-groups:readers api:*");
    assert_eq!(v["token_type"], "Bearer");
    let token = v["access_token"].as_str().unwrap().to_string();
    let refresh = v["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(refresh.len(), 36);
    let head = decode_part(&token, 0);
    assert_eq!(
        (
            head["ver"].clone(),
            head["typ"].clone(),
            head["alg"].clone()
        ),
        (json!("2"), json!("JWT"), json!("RS256"))
    );
    assert!(head["kid"].is_string());
    let claims = decode_part(&token, 1);
    let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["sub", "scp", "aud", "iss", "exp", "iat", "jti"]);
    assert_eq!(claims["sub"], format!("{sid}/users/bob"));
    assert_eq!(claims["scp"], "member-of-groups:readers api:*");
    assert_eq!(
        (claims["aud"].clone(), claims["iss"].clone()),
        (json!(sid), json!(sid))
    );
    assert_eq!(claims["iat"], T0 / 1000);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    // Bearer and Basic user:token both authenticate; readers may read but not deploy.
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &token)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .basic(Method::GET, "generic-local/a.txt", "bob", &token)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .basic(Method::GET, "generic-local/a.txt", "admin", &token)
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
    let r = s
        .bearer(Method::PUT, "generic-local/b.txt", &token)
        .body("b")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "The user: 'bob' is not permitted to deploy 'b.txt' into 'generic-local:b.txt'.",
    )
    .await;
    // Admin lists it.
    let list: Value = s.get("api/security/token").await.json();
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(
        list,
        json!({"tokens": [{"token_id": jti, "issuer": sid, "subject": format!("{sid}/users/bob"),
            "issued_at": T0 / 1000, "expiry": T0 / 1000 + 3600, "refreshable": true}]})
    );
    let r = s
        .bearer(Method::GET, "api/security/token", &token)
        .go()
        .await;
    assert_rest_error(r, 403, "Forbidden").await;
    // Refresh with the pair alone: a new token, the old one stops working at once.
    let r = s
        .anon(Method::POST, "api/security/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("access_token", &token),
        ])
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json();
    let token2 = v["access_token"].as_str().unwrap().to_string();
    assert_ne!(token2, token);
    assert_eq!(v["scope"], "member-of-groups:readers api:*");
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &token)
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &token2)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    // The old refresh token is spent.
    let r = s
        .anon(Method::POST, "api/security/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("access_token", &token),
        ])
        .go()
        .await;
    let (st, _, body) = parts(r).await;
    assert_eq!((st, body.as_str()), (401, "{\n  \"error\" : \"invalid_grant\",\n  \"error_description\" : \"Invalid refresh token\"\n}"));
    // Revoke by token id, then by token.
    let jti2 = decode_part(&token2, 1)["jti"].as_str().unwrap().to_string();
    for (expect, form) in [
        ("Token revoked", [("token_id", jti2.as_str())]),
        ("Token not found", [("token_id", jti2.as_str())]),
        ("Token not found", [("token", token2.as_str())]),
    ] {
        let r = s
            .admin(Method::POST, "api/security/token/revoke")
            .form(&form)
            .go()
            .await;
        let (st, h, body) = parts(r).await;
        assert_eq!((st, body.as_str()), (200, expect));
        assert_eq!(header(&h, "content-type"), Some("text/plain"));
    }
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &token2)
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
}

#[tokio::test]
async fn token_errors_are_oauth_shaped() {
    let s = start_with(with_bob).await;
    let oauth = |code: &str, desc: &str| json!({"error": code, "error_description": desc});
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, Value);
    let cases: Vec<Case> = vec![
        (
            vec![("scope", "api:*")],
            400,
            oauth("invalid_request", "username is required"),
        ),
        (
            vec![("username", "bob"), ("expires_in", "-5")],
            400,
            oauth("invalid_request", "Invalid expires_in value: -5"),
        ),
        (
            vec![("username", "bob"), ("expires_in", "soon")],
            400,
            oauth("invalid_request", "Invalid expires_in value: soon"),
        ),
        (
            vec![("username", "bob"), ("scope", "foo")],
            400,
            oauth("invalid_scope", "Unaccepted scope: 'foo'"),
        ),
        (
            vec![("username", "ghost")],
            400,
            oauth("invalid_scope", "Insufficient scope: 'api:*'"),
        ),
        (
            vec![("username", "bob"), ("grant_type", "password")],
            400,
            oauth(
                "unsupported_grant_type",
                "Grant type is not supported: password",
            ),
        ),
        (
            vec![("username", "bob"), ("audience", "jfrt@other")],
            400,
            oauth(
                "invalid_request",
                "Only refreshable tokens with expiry can have custom audience",
            ),
        ),
        (
            vec![("grant_type", "refresh_token")],
            401,
            oauth("invalid_grant", "refresh token is required."),
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "x")],
            401,
            oauth("invalid_client", "access token is required."),
        ),
    ];
    for (form, status, body) in cases {
        let (st, v) = create(&s, &form).await;
        assert_eq!((st, &v), (status, &body), "{form:?}");
    }
    // A non-admin creates tokens only for themselves, without admin scope or long expiry.
    let bob = |form: &[(&str, &str)]| {
        s.basic(Method::POST, "api/security/token", "bob", "pw")
            .form(form)
            .go()
    };
    let r = bob(&[("username", "admin")]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>(),
        oauth(
            "unauthorized_client",
            "The user: 'bob' can only create user token(s) for themselves (requested: admin)"
        )
    );
    let sid = service_id(&s).await;
    let r = bob(&[("username", "bob"), ("scope", &format!("{sid}:admin"))]).await;
    assert_eq!(r.status(), 400);
    let r = bob(&[("username", "bob"), ("scope", "member-of-groups:admins")]).await;
    assert_eq!(
        r.json::<Value>(),
        oauth(
            "invalid_scope",
            "User 'bob' is not a member of group 'admins'"
        )
    );
    let r = bob(&[("username", "bob")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>()["scope"], "member-of-groups:readers api:*");
    // Revoke parameters; nothing was issued by the failed calls above except bob's one token.
    for (form, desc) in [
        (
            vec![("token", "a"), ("token_id", "b")],
            "token and token_id are mutually exclusive",
        ),
        (vec![], "token or token_id are required"),
    ] {
        let r = s
            .admin(Method::POST, "api/security/token/revoke")
            .form(&form)
            .go()
            .await;
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.json::<serde_json::Value>(),
            oauth("invalid_request", desc)
        );
    }
    let list: Value = s.get("api/security/token").await.json();
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
    let r = s
        .anon(Method::POST, "api/security/token")
        .form(&[("username", "bob")])
        .go()
        .await;
    assert_rest_error(r, 401, "Authentication is required").await;
}

#[tokio::test]
async fn expired_foreign_malformed_and_transient_tokens() {
    let s = start().await;
    let other = start().await;
    s.deploy("generic-local/a.txt", "a").await;
    let (_, v) = create(
        &s,
        &[
            ("username", "admin"),
            ("expires_in", "60"),
            ("scope", "member-of-groups:readers"),
        ],
    )
    .await;
    let short = v["access_token"].as_str().unwrap().to_string();
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &short)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    s.clock.advance(61_000);
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &short)
        .go()
        .await;
    assert_eq!(
        header(r.headers(), "www-authenticate"),
        Some("Basic realm=\"Artifactory Realm\"")
    );
    assert_rest_error(r, 401, "Bad credentials").await;
    // Signed by another instance's key.
    let (_, v) = create(
        &other,
        &[("username", "admin"), ("scope", "member-of-groups:readers")],
    )
    .await;
    let foreign = v["access_token"].as_str().unwrap().to_string();
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &foreign)
        .go()
        .await;
    assert_rest_error(r, 401, "Bad credentials").await;
    // Tampered and malformed.
    let (_, v) = create(
        &s,
        &[("username", "admin"), ("scope", "member-of-groups:readers")],
    )
    .await;
    let good = v["access_token"].as_str().unwrap().to_string();
    let mut parts_: Vec<String> = good.split('.').map(str::to_string).collect();
    let mut claims = decode_part(&good, 1);
    claims["scp"] = json!(format!("{}:admin api:*", service_id(&s).await));
    parts_[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = parts_.join(".");
    for bad in [forged.as_str(), "eyJ.abc.def", "not-a-token", ""] {
        let r = s.bearer(Method::GET, "generic-local/a.txt", bad).go().await;
        assert_rest_error(r, 401, "Bad credentials").await;
    }
    // A token for a user who does not exist acts with the groups of its scope.
    let (st, v) = create(
        &s,
        &[("username", "ghost"), ("scope", "member-of-groups:readers")],
    )
    .await;
    assert_eq!(st, 200);
    let ghost = v["access_token"].as_str().unwrap().to_string();
    let r = s
        .bearer(Method::GET, "generic-local/a.txt", &ghost)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .bearer(Method::PUT, "generic-local/g.txt", &ghost)
        .body("g")
        .go()
        .await;
    assert_rest_error(
        r,
        403,
        "The user: 'ghost' is not permitted to deploy 'g.txt' into 'generic-local:g.txt'.",
    )
    .await;
    // The admin scope makes a token an administrator; a group scope for the admin user does not.
    let sid = service_id(&s).await;
    let (_, v) = create(
        &s,
        &[("username", "ghost"), ("scope", &format!("{sid}:admin"))],
    )
    .await;
    let admin_token = v["access_token"].as_str().unwrap().to_string();
    let r = s
        .bearer(Method::GET, "api/storageinfo", &admin_token)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s.bearer(Method::GET, "api/storageinfo", &good).go().await;
    assert_rest_error(r, 403, "Forbidden").await;
    other.server.stop().await;
}

#[tokio::test]
async fn access_api_tokens_share_the_store() {
    let s = start_with(with_bob).await;
    s.deploy("generic-local/a.txt", "a").await;
    for prefix in ["/access/api/v1/tokens", "/artifactory/access/api/v1/tokens"] {
        let url = format!("http://{}{prefix}", s.server.addr());
        let r = s
            .client
            .post(&url)
            .basic_auth("bob", Some("pw"))
            .json(&json!({"description": "ci", "expires_in": 600}))
            .go()
            .await;
        assert_eq!(r.status(), 200, "{prefix}");
        let v: Value = r.json();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "token_id",
                "access_token",
                "expires_in",
                "scope",
                "token_type"
            ]
        );
        assert_eq!(
            (v["scope"].clone(), v["expires_in"].clone()),
            (json!("applied-permissions/user"), json!(600))
        );
        let token = v["access_token"].as_str().unwrap().to_string();
        let id = v["token_id"].as_str().unwrap().to_string();
        let claims = decode_part(&token, 1);
        assert_eq!(claims["jti"], id.as_str());
        assert_eq!(claims["aud"], "*@*");
        assert!(claims["iss"].as_str().unwrap().starts_with("jfac@"));
        // It acts as bob: reads, may not deploy.
        let r = s
            .bearer(Method::GET, "generic-local/a.txt", &token)
            .go()
            .await;
        assert_eq!(r.status(), 200);
        let me: Value = s
            .client
            .get(format!("{url}/me"))
            .bearer_auth(&token)
            .go()
            .await
            .json();
        assert_eq!(me["token_id"], id.as_str());
        assert_eq!(me["description"], "ci");
        let list: Value = s.client.get(&url).bearer_auth(&token).go().await.json();
        assert_eq!(list["tokens"].as_array().unwrap().len(), 1);
        // Also in the legacy list.
        let legacy: Value = s.get("api/security/token").await.json();
        assert!(legacy["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["token_id"] == id.as_str()));
        let r = s
            .client
            .delete(format!("{url}/{id}"))
            .basic_auth("bob", Some("pw"))
            .go()
            .await;
        assert_eq!(r.status(), 200);
        let r = s
            .client
            .delete(format!("{url}/{id}"))
            .basic_auth("bob", Some("pw"))
            .go()
            .await;
        assert_eq!(r.status(), 204);
        let r = s
            .bearer(Method::GET, "generic-local/a.txt", &token)
            .go()
            .await;
        assert_rest_error(r, 401, "Bad credentials").await;
        let r = s
            .client
            .get(format!("{url}/{id}"))
            .basic_auth("bob", Some("pw"))
            .go()
            .await;
        assert_eq!(r.status(), 404);
        assert_eq!(
            r.text(),
            r#"{"errors":[{"code":"NOT_FOUND","detail":"Not Found","message":"HTTP 404 Not Found"}]}"#
        );
    }
    let url = format!("http://{}/access/api/v1/tokens", s.server.addr());
    // Admin scope is for admins; refresh by refresh token alone.
    let r = s
        .client
        .post(&url)
        .basic_auth("bob", Some("pw"))
        .json(&json!({"scope": "applied-permissions/admin"}))
        .go()
        .await;
    assert_eq!(r.status(), 403);
    let v: Value = s
        .client
        .post(&url)
        .basic_auth("admin", Some("password"))
        .form(&[
            ("scope", "applied-permissions/admin"),
            ("refreshable", "true"),
        ])
        .go()
        .await
        .json();
    let admin_token = v["access_token"].as_str().unwrap().to_string();
    let r = s
        .bearer(Method::GET, "api/storageinfo", &admin_token)
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .post(&url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", v["refresh_token"].as_str().unwrap()),
        ])
        .go()
        .await;
    assert_eq!(r.status(), 200);
    let v2: Value = r.json();
    assert_ne!(v2["access_token"], v["access_token"]);
    let r = s
        .bearer(Method::GET, "api/storageinfo", &admin_token)
        .go()
        .await;
    assert_eq!(r.status(), 401);
    let r = s.client.get(&url).go().await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.text(),
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"Unauthorized"}]}"#
    );
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = {
        let s = start_with(|c| c.data_dir = Some(data.clone())).await;
        let (_, v) = create(
            &s,
            &[("username", "admin"), ("scope", "member-of-groups:readers")],
        )
        .await;
        s.server.stop().await;
        v["access_token"].as_str().unwrap().to_string()
    };
    let s = start_with(|c| c.data_dir = Some(data.clone())).await;
    let r = s.bearer(Method::GET, "api/repositories", &token).go().await;
    assert_eq!(r.status(), 200);
}
