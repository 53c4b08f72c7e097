//! Access tokens: `/api/security/token` (create, refresh, list, revoke), `/api/system/service_id` and
//! the Access service's `/access/api/v1/tokens`. Tokens are server-wide state (`global`); every token
//! a case creates is revoked at teardown.

use base64::Engine;
use serde_json::{json, Value};

use crate::case::{expect_text, Case, CaseFuture, Created, Ctx, Response};
use crate::{check, Failure};

use super::accounts::make_user;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("security/token/lifecycle", lifecycle)
            .covers(["system.service-id", "security.token.create", "security.token.list", "security.token.refresh", "security.token.revoke"])
            .global()
            .admin()
            .spec("jcr-rest-api.txt Create Token, Refresh Token, Get Tokens, Revoke Token, Get Service ID; behaviour §11.2"),
        Case::new("security/token/errors", errors)
            .covers(["security.token.create", "security.token.revoke"])
            .global()
            .admin()
            .spec("behaviour §11.2 (OAuth-shaped errors)"),
        Case::new("security/access-tokens/lifecycle", access)
            .covers(["access.tokens.create", "access.tokens.list", "access.tokens.get", "access.tokens.revoke"])
            .global()
            .admin()
            .spec("JFrog Access API v1 tokens (jfrog-client-go, terraform)"),
    ]
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Result<Value, Failure> {
    let part = token
        .split('.')
        .nth(1)
        .ok_or_else(|| Failure::Fail(format!("not a JWT: {token:.20}...")))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| Failure::Fail(format!("JWT payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Failure::Fail(format!("JWT payload: {e}")))
}

fn oauth(r: &Response, status: u16, code: &str, description: &str) -> Result<(), Failure> {
    r.expect_status(status)?;
    r.expect_content_type("application/json")?;
    let v = r.json()?;
    check!(
        v == json!({"error": code, "error_description": description}),
        "expected the OAuth error {code} / {description:?}, got {v}"
    );
    Ok(())
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// A token list narrowed to the run's token `id` (a server holds others).
fn only_token(list: &Value, id: &str) -> Value {
    let mut list = list.clone();
    if let Some(a) = list["tokens"].as_array_mut() {
        a.retain(|t| t["token_id"] == json!(id));
    }
    list
}

fn lifecycle(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/system/service_id")).await?;
        r.expect_status(200)?;
        r.expect_content_type("text/plain")?;
        let sid = r.text();
        // The id is the instance's own; the snapshot keeps its form.
        c.snap_body(
            "system.service-id",
            None,
            &r,
            &json!(format!("jfrt@<{} characters>", sid.len().saturating_sub(5))),
        )?;
        check!(
            sid.starts_with("jfrt@") && sid.len() > 5,
            "service id: {sid:?}"
        );
        let (user, _) = make_user(&c, "tokens", None).await?;
        let r = c
            .send(c.req("POST", "api/security/token").form(&[
                ("username", user.as_str()),
                ("scope", "member-of-groups:readers"),
                ("refreshable", "true"),
            ]))
            .await?;
        r.expect_status(200)?;
        r.expect_content_type("application/json")?;
        c.snap("security.token.create", &r)?;
        let v = r.json()?;
        check!(
            keys(&v)
                == [
                    "access_token",
                    "refresh_token",
                    "expires_in",
                    "scope",
                    "token_type"
                ],
            "fields: {:?}",
            keys(&v)
        );
        check!(
            v["scope"] == json!("member-of-groups:readers api:*")
                && v["expires_in"] == json!(3600)
                && v["token_type"] == json!("Bearer"),
            "token reply: scope {}, expires_in {}, token_type {}",
            v["scope"],
            v["expires_in"],
            v["token_type"]
        );
        let token = v["access_token"].as_str().unwrap_or_default().to_string();
        let refresh = v["refresh_token"].as_str().unwrap_or_default().to_string();
        let cl = claims(&token)?;
        let id = cl["jti"].as_str().unwrap_or_default().to_string();
        c.created(Created::Token(id.clone()));
        check!(
            cl["sub"] == json!(format!("{sid}/users/{user}"))
                && cl["iss"] == json!(sid)
                && cl["scp"] == v["scope"],
            "claims: {cl}"
        );
        check!(
            cl["exp"]
                .as_i64()
                .zip(cl["iat"].as_i64())
                .map(|(e, i)| e - i)
                == Some(3600),
            "exp - iat must be expires_in: {cl}"
        );
        let r = c
            .send(c.req("GET", "api/repositories").bearer(&token))
            .await?;
        check!(r.status == 200, "Bearer token gave {}", r.status);
        let r = c
            .send(c.req("GET", "api/repositories").basic(&user, &token))
            .await?;
        check!(r.status == 200, "Basic user:token gave {}", r.status);
        let r = c
            .send(c.req("GET", "api/security/token").bearer(&token))
            .await?;
        check!(
            r.status == 403,
            "a non-admin listing tokens got {}",
            r.status
        );
        let list = c.send(c.req("GET", "api/security/token")).await?;
        list.expect_status(200)?;
        c.snap_body(
            "security.token.list",
            None,
            &list,
            &only_token(&list.json()?, &id),
        )?;
        let row = list.json()?["tokens"]
            .as_array()
            .and_then(|a| a.iter().find(|t| t["token_id"] == json!(id)).cloned())
            .unwrap_or(Value::Null);
        check!(
            row["subject"] == cl["sub"]
                && row["refreshable"] == json!(true)
                && row["issued_at"] == cl["iat"]
                && row["expiry"] == cl["exp"],
            "list row: {row}"
        );
        let r = c
            .send(c.req("POST", "api/security/token").anonymous().form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("access_token", token.as_str()),
            ]))
            .await?;
        r.expect_status(200)?;
        c.snap("security.token.refresh", &r)?;
        let token2 = r.json()?["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id2 = claims(&token2)?["jti"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        c.created(Created::Token(id2.clone()));
        check!(id2 != id, "a refresh must issue a new token");
        let r = c
            .send(c.req("GET", "api/repositories").bearer(&token2))
            .await?;
        check!(r.status == 200, "the refreshed token gave {}", r.status);
        let revoke = |form: Vec<(&'static str, String)>| {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.req("POST", "api/security/token/revoke").form(&f)
        };
        let r = c.send(revoke(vec![("token_id", id2.clone())])).await?;
        expect_text(&r, 200, "Token revoked")?;
        c.snap("security.token.revoke", &r)?;
        expect_text(
            &c.send(revoke(vec![("token_id", id2.clone())])).await?,
            200,
            "Token not found",
        )?;
        let r = c
            .send(c.req("GET", "api/repositories").bearer(&token2))
            .await?;
        r.expect_rest_error(401, "Bad credentials")?;
        Ok(())
    })
}

fn errors(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let create = |form: &[(&str, &str)]| c.req("POST", "api/security/token").form(form);
        type Expect<'a> = (&'a [(&'a str, &'a str)], u16, &'a str, &'a str);
        let cases: [Expect; 5] = [
            (
                &[("scope", "api:*")],
                400,
                "invalid_request",
                "username is required",
            ),
            (
                &[("username", "admin"), ("expires_in", "-5")],
                400,
                "invalid_request",
                "Invalid expires_in value: -5",
            ),
            (
                &[("username", "admin"), ("grant_type", "password")],
                400,
                "unsupported_grant_type",
                "Grant type is not supported: password",
            ),
            (
                &[("username", "admin"), ("scope", "no-such-scope")],
                400,
                "invalid_scope",
                "Unaccepted scope: 'no-such-scope'",
            ),
            (
                &[("grant_type", "refresh_token")],
                401,
                "invalid_grant",
                "refresh token is required.",
            ),
        ];
        for (i, (form, status, code, desc)) in cases.into_iter().enumerate() {
            let r = c.send(create(form)).await?;
            if i == 0 {
                c.snap("security.token.create", &r)?;
            }
            if r.status == 200 {
                if let Some(t) = r.json()?["access_token"].as_str() {
                    c.created(Created::Token(
                        claims(t)?["jti"].as_str().unwrap_or_default().to_string(),
                    ));
                }
            }
            oauth(&r, status, code, desc)?;
        }
        let revoke = |form: &[(&str, &str)]| c.req("POST", "api/security/token/revoke").form(form);
        oauth(
            &c.send(revoke(&[("token", "a"), ("token_id", "b")])).await?,
            400,
            "invalid_request",
            "token and token_id are mutually exclusive",
        )?;
        let r = c.send(revoke(&[])).await?;
        c.snap("security.token.revoke", &r)?;
        oauth(&r, 400, "invalid_request", "token or token_id are required")?;
        expect_text(
            &c.send(revoke(&[("token_id", "no-such-token-id")])).await?,
            200,
            "Token not found",
        )
    })
}

fn access(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (user, _) = make_user(&c, "access", None).await?;
        let url = format!("{}/access/api/v1/tokens", c.root());
        let r = c
            .send(c.req_url("POST", &url).json(&json!({
                "username": user,
                "scope": "applied-permissions/user",
                "expires_in": 600,
                "description": c.prefix,
            })))
            .await?;
        if r.status == 404 {
            return Err(Failure::Skip("the target has no Access token API".into()));
        }
        r.expect_status(200)?;
        c.snap("access.tokens.create", &r)?;
        let v = r.json()?;
        check!(
            keys(&v)
                == [
                    "token_id",
                    "access_token",
                    "expires_in",
                    "scope",
                    "token_type"
                ],
            "fields: {:?}",
            keys(&v)
        );
        let id = v["token_id"].as_str().unwrap_or_default().to_string();
        c.created(Created::Token(id.clone()));
        let token = v["access_token"].as_str().unwrap_or_default().to_string();
        let cl = claims(&token)?;
        check!(
            cl["jti"] == json!(id)
                && cl["scp"] == json!("applied-permissions/user")
                && cl["sub"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(&format!("/users/{user}"))),
            "claims: {cl}"
        );
        let r = c
            .send(c.req("GET", "api/repositories").bearer(&token))
            .await?;
        check!(r.status == 200, "the access token gave {}", r.status);
        let r = c.send(c.req_url("GET", &format!("{url}/{id}"))).await?;
        r.expect_status(200)?;
        c.snap("access.tokens.get", &r)?;
        let row = r.json()?;
        check!(
            row["token_id"] == json!(id)
                && row["description"] == json!(c.prefix)
                && row["refreshable"] == json!(false),
            "token: {row}"
        );
        let list = c.send(c.req_url("GET", &url)).await?;
        list.expect_status(200)?;
        c.snap_body(
            "access.tokens.list",
            None,
            &list,
            &only_token(&list.json()?, &id),
        )?;
        check!(
            list.json()?["tokens"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t["token_id"] == json!(id))),
            "the list lacks {id}"
        );
        let r = c.send(c.req_url("DELETE", &format!("{url}/{id}"))).await?;
        r.expect_status(200)?;
        c.snap("access.tokens.revoke", &r)?;
        let r = c.send(c.req_url("DELETE", &format!("{url}/{id}"))).await?;
        r.expect_status(204)?;
        c.snap("access.tokens.revoke", &r)?;
        let r = c.send(c.req_url("GET", &format!("{url}/{id}"))).await?;
        r.expect_status(404)?;
        c.snap("access.tokens.get", &r)?;
        check!(
            r.json()?["errors"][0]["code"] == json!("NOT_FOUND"),
            "404 body: {}",
            r.text()
        );
        let r = c
            .send(c.req("GET", "api/repositories").bearer(&token))
            .await?;
        check!(r.status == 401, "a revoked access token gave {}", r.status);
        Ok(())
    })
}
