//! The repositories list and the repository configuration API.

use serde_json::json;

use crate::case::{expect_field, Case, CaseFuture, Created, Ctx};
use crate::check;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("repositories/list/shape", list)
            .covers(["repositories.list"])
            .spec("jcr-rest-api.txt Get Repositories; behaviour §7"),
        Case::new("repositories/lifecycle", lifecycle)
            .covers([
                "repositories.create",
                "repositories.get",
                "repositories.update",
                "repositories.delete",
                "repositories.list",
            ])
            .writes()
            .admin()
            .spec("repository configuration API (terraform, jfrog-client-go)"),
        Case::new("repositories/create/duplicate-key", duplicate)
            .covers(["repositories.create"])
            .writes()
            .admin()
            .spec("create repository: 400 when the key exists"),
    ]
}

fn list(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/repositories")).await?;
        r.expect_status(200)?;
        let v = r.json()?;
        let mut shown = v.clone();
        if let Some(a) = shown.as_array_mut() {
            a.retain(|x| !x["key"].as_str().unwrap_or("").starts_with(&c.prefix));
        }
        c.snap_body("repositories.list", None, &r, &shown)?;
        let repos = v.as_array().cloned().unwrap_or_default();
        let mine = repos.iter().find(|x| x["key"] == json!(c.repo));
        check!(mine.is_some(), "'{}' is not listed", c.repo);
        let mine = mine.expect("checked");
        expect_field(mine, "type", &json!("LOCAL"))?;
        expect_field(mine, "url", &json!(format!("{}/{}", c.base, c.repo)))?;
        check!(mine["packageType"].is_string(), "packageType: {mine}");
        let order: Vec<usize> = repos
            .iter()
            .map(|x| {
                ["LOCAL", "REMOTE", "VIRTUAL", "DISTRIBUTION"]
                    .iter()
                    .position(|t| x["type"] == json!(t))
                    .unwrap_or(9)
            })
            .collect();
        check!(
            order.windows(2).all(|w| w[0] <= w[1]),
            "local repositories come first, then remote, then virtual"
        );
        let locals = c
            .send(c.req("GET", "api/repositories?type=local"))
            .await?
            .json()?;
        check!(
            locals
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x["type"] == "LOCAL")),
            "?type=local: {locals}"
        );
        Ok(())
    })
}

fn lifecycle(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let key = format!("{}-repo", c.prefix);
        let r = c
            .send(
                c.req("PUT", &format!("api/repositories/{key}"))
                    .json(&json!({"key": key, "rclass": "local", "packageType": "generic"})),
            )
            .await?;
        r.expect_status(200)?;
        c.snap("repositories.create", &r)?;
        let got = c
            .send(c.req("GET", &format!("api/repositories/{key}")))
            .await?;
        c.snap("repositories.get", &got)?;
        c.created(Created::Repository(key.clone()));
        check!(
            r.text()
                .starts_with(&format!("Successfully created repository '{key}'")),
            "create body: {}",
            r.text()
        );
        let v = c
            .send(c.req("GET", &format!("api/repositories/{key}")))
            .await?
            .json()?;
        expect_field(&v, "key", &json!(key))?;
        expect_field(&v, "rclass", &json!("local"))?;
        expect_field(&v, "packageType", &json!("generic"))?;
        let r = c
            .send(
                c.req("POST", &format!("api/repositories/{key}"))
                    .json(&json!({"description": "updated"})),
            )
            .await?;
        r.expect_status(200)?;
        c.snap("repositories.update", &r)?;
        let v = c
            .send(c.req("GET", &format!("api/repositories/{key}")))
            .await?
            .json()?;
        expect_field(&v, "description", &json!("updated"))?;
        let r = c
            .send(c.req("DELETE", &format!("api/repositories/{key}")))
            .await?;
        r.expect_status(200)?;
        c.snap("repositories.delete", &r)?;
        check!(
            r.text().starts_with(&format!(
                "Repository {key} and all its content have been removed successfully."
            )),
            "delete body: {}",
            r.text()
        );
        let r = c
            .send(c.req("GET", &format!("api/repositories/{key}")))
            .await?;
        c.snap("repositories.get", &r)?;
        check!(
            r.status == 400,
            "a deleted repository answers 400, got {}",
            r.status
        );
        Ok(())
    })
}

fn duplicate(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c
            .send(
                c.req(
                    "PUT",
                    &format!("api/repositories/{}", c.repo.to_uppercase()),
                )
                .json(&json!({"rclass": "local"})),
            )
            .await?;
        c.snap("repositories.create", &r)?;
        check!(r.status == 400, "expected 400, got {}", r.status);
        check!(
            r.text()
                .contains("Case insensitive repository key already exists"),
            "body: {}",
            r.text()
        );
        Ok(())
    })
}
