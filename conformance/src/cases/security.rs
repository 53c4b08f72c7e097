//! API keys. Creating, regenerating and revoking keys changes the credentials of the run's own user,
//! so these cases count as server-wide changes (`--allow-global`).

use serde_json::{json, Value};

use crate::case::{Case, CaseFuture, Ctx};
use crate::{check, Failure};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("security/api-key/lifecycle", lifecycle)
            .covers([
                "security.api-key.create",
                "security.api-key.get",
                "security.api-key.regenerate",
                "security.api-key.revoke",
            ])
            .global()
            .spec("jcr-rest-api.txt Create/Regenerate/Get/Revoke API Key; behaviour §11.1"),
        Case::new("security/api-key/admin-revocations", admin_revocations)
            .covers([
                "security.api-key.revoke-user",
                "security.api-key.revoke-all",
            ])
            .global()
            .admin()
            .spec("jcr-rest-api.txt Revoke User API Key, Revoke All API Keys; behaviour §11.1"),
    ]
}

fn body(r: &crate::case::Response) -> Result<Value, Failure> {
    r.expect_content_type("application/json")?;
    r.json()
}

/// The run's user name and its current `GET /api/security/apiKey` answer.
async fn user_and_key(c: &Ctx) -> Result<(String, Value), Failure> {
    let Some(user) = c.credentials.user().map(str::to_string) else {
        return Err(Failure::Skip("needs Basic credentials".into()));
    };
    let existing = body(
        c.send(c.req("GET", "api/security/apiKey"))
            .await?
            .expect_status(200)?,
    )?;
    Ok((user, existing))
}

fn lifecycle(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (user, existing) = user_and_key(&c).await?;
        if existing.get("apiKey").is_some() {
            // Never replace a key the user already has: check the refusal only.
            let r = c.send(c.req("POST", "api/security/apiKey")).await?;
            r.expect_status(400)?;
            c.snap("security.api-key.create", &r)?;
            check!(
                body(&r)? == json!({"error": format!("Api key already exists for user: {user}")}),
                "body: {}",
                r.text()
            );
            return Err(Failure::Skip(
                "the user already has an API key; left untouched".into(),
            ));
        }
        let r = c.send(c.req("POST", "api/security/apiKey")).await?;
        r.expect_status(201)?;
        c.snap("security.api-key.create", &r)?;
        let got = c.send(c.req("GET", "api/security/apiKey")).await?;
        c.snap("security.api-key.get", &got)?;
        // A second create is refused while the key exists.
        let again = c.send(c.req("POST", "api/security/apiKey")).await?;
        again.expect_status(400)?;
        c.snap("security.api-key.create", &again)?;
        let key = body(&r)?["apiKey"].as_str().unwrap_or("").to_string();
        check!(!key.is_empty(), "no apiKey in {}", r.text());
        let got = body(&c.send(c.req("GET", "api/security/apiKey")).await?)?;
        check!(got == json!({"apiKey": key}), "GET after create: {got}");
        let r = c
            .send(
                c.req("GET", &format!("api/storage/{}", c.repo))
                    .anonymous()
                    .header("X-JFrog-Art-Api", &key),
            )
            .await?;
        check!(
            r.status == 200,
            "X-JFrog-Art-Api with the new key gave {}",
            r.status
        );
        let r = c
            .send(
                c.req("PUT", "api/security/apiKey")
                    .anonymous()
                    .header("X-JFrog-Art-Api", &key),
            )
            .await?;
        r.expect_status(403)?;
        c.snap("security.api-key.regenerate", &r)?;
        check!(
            body(&r)?
                == json!({"error": "The use of apiKey as authentication is forbidden for this api call"}),
            "regenerate with a key: {}",
            r.text()
        );
        let r = c.send(c.req("PUT", "api/security/apiKey")).await?;
        r.expect_status(200)?;
        c.snap("security.api-key.regenerate", &r)?;
        let new_key = body(&r)?["apiKey"].as_str().unwrap_or("").to_string();
        check!(
            !new_key.is_empty() && new_key != key,
            "regenerate must give a new key"
        );
        let r = c.send(c.req("DELETE", "api/security/apiKey")).await?;
        r.expect_status(200)?;
        c.snap("security.api-key.revoke", &r)?;
        check!(
            body(&r)?
                == json!({"info": format!("Api key for user: '{user}' has been successfully revoked")}),
            "revoke: {}",
            r.text()
        );
        let r = c.send(c.req("GET", "api/security/apiKey")).await?;
        c.snap_as("security.api-key.get", "none", &r)?;
        let got = body(&r)?;
        check!(got == json!({}), "GET after revoke: {got}");
        let r = c
            .send(
                c.req("GET", &format!("api/storage/{}", c.repo))
                    .anonymous()
                    .header("X-JFrog-Art-Api", &new_key),
            )
            .await?;
        check!(
            r.status == 401,
            "a revoked key must be refused, got {}",
            r.status
        );
        Ok(())
    })
}

fn admin_revocations(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (user, existing) = user_and_key(&c).await?;
        if existing.get("apiKey").is_some() {
            return Err(Failure::Skip(
                "the user already has an API key; left untouched".into(),
            ));
        }
        c.send(c.req("POST", "api/security/apiKey"))
            .await?
            .expect_status(201)?;
        let r = c
            .send(c.req("DELETE", &format!("api/security/apiKey/{user}")))
            .await?;
        r.expect_status(200)?;
        c.snap("security.api-key.revoke-user", &r)?;
        check!(
            body(&r)?
                == json!({"info": format!("Api key for user: '{user}' has been successfully revoked")}),
            "revoke user: {}",
            r.text()
        );
        let r = c
            .send(c.req("DELETE", "api/security/apiKey?deleteAll=1"))
            .await?;
        r.expect_status(200)?;
        c.snap("security.api-key.revoke-all", &r)?;
        check!(
            body(&r)? == json!({"info": "All api keys have been successfully revoked"}),
            "revoke all: {}",
            r.text()
        );
        Ok(())
    })
}
