//! Users, groups and permission targets (`/api/security/users|groups|permissions`), the user lock
//! policy, encrypted passwords and key encryption. Everything here is server-wide state, so every case
//! is `global`; names carry the run prefix and the ledger deletes them.

use serde_json::{json, Value};

use crate::case::{expect_text, Case, CaseFuture, Created, Ctx};
use crate::{check, Failure};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("security/users/lifecycle", users)
            .covers(["security.users.create", "security.users.get", "security.users.update", "security.users.list", "security.users.delete"])
            .global()
            .admin()
            .spec("Artifactory security API v1 (users); behaviour §1.5"),
        Case::new("security/groups/lifecycle", groups)
            .covers(["security.groups.create", "security.groups.get", "security.groups.update", "security.groups.list", "security.groups.delete"])
            .global()
            .admin()
            .spec("Artifactory security API v1 (groups)"),
        Case::new("security/permissions/enforced", permissions)
            .covers(["security.permissions.create", "security.permissions.get", "security.permissions.list", "security.permissions.delete"])
            .global()
            .admin()
            .spec("Artifactory security API v1 (permission targets); behaviour §1.5, §3.4, §5.3"),
        Case::new("security/lock-policy/lock-and-unlock", lock_policy)
            .covers(["security.lock-policy.get", "security.lock-policy.set", "security.locked-users", "security.unlock-user", "security.unlock-users", "security.unlock-all"])
            .global()
            .admin()
            .spec("jcr-rest-api.txt Configure/Retrieve User Lock Policy, Get Locked Out Users, Unlock...; behaviour §1.5"),
        Case::new("security/encrypted-password", encrypted_password)
            .covers(["security.encrypted-password"])
            .global()
            .admin()
            .spec("jcr-rest-api.txt Get User Encrypted Password; behaviour §11.3"),
        Case::new("system/key-encryption/round-trip", key_encryption)
            .covers(["system.encrypt", "system.decrypt"])
            .global()
            .admin()
            .spec("jcr-rest-api.txt Activate/Deactivate Key Encryption; behaviour §12"),
    ]
}

/// A user name under the run prefix.
fn name(c: &Ctx, what: &str) -> String {
    format!("{}-{what}", c.prefix).to_lowercase()
}

fn password() -> String {
    format!("Pw-{:016x}", rand::random::<u64>())
}

/// Creates a user (201) and records it for teardown.
pub(crate) async fn make_user(
    c: &Ctx,
    what: &str,
    groups: Option<&[&str]>,
) -> Result<(String, String), Failure> {
    let user = name(c, what);
    let pw = password();
    let mut doc = json!({"email": format!("{user}@example.com"), "password": pw});
    if let Some(g) = groups {
        doc["groups"] = json!(g);
    }
    let r = c
        .send(
            c.req("PUT", &format!("api/security/users/{user}"))
                .json(&doc),
        )
        .await?;
    if r.status == 404 || r.status == 405 {
        return Err(Failure::Skip(format!(
            "the target has no users API ({})",
            r.status
        )));
    }
    r.expect_status(201)?;
    if what == "user" {
        c.snap("security.users.create", &r)?;
    }
    c.created(Created::Security(format!("api/security/users/{user}")));
    if groups.is_some_and(|g| g.is_empty()) {
        // A new user with no groups joins the automatic ones (readers); clearing takes an update,
        // as the terraform provider does it.
        c.send(
            c.req("POST", &format!("api/security/users/{user}"))
                .json(&json!({"groups": []})),
        )
        .await?
        .expect_status(200)?;
    }
    Ok((user, pw))
}

/// A list of `{name, ...}` rows narrowed to the defaults and `mine`: the other rows named after
/// the run belong to other cases.
fn own_rows(list: &Value, mine: &str, prefix: &str) -> Value {
    let mut shown = list.clone();
    if let Some(a) = shown.as_array_mut() {
        a.retain(|x| {
            x["name"] == json!(mine) || !x["name"].as_str().unwrap_or("").starts_with(prefix)
        });
    }
    shown
}

fn users(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (user, pw) = make_user(&c, "user", None).await?;
        let r = c
            .send(c.req("GET", &format!("api/security/users/{user}")))
            .await?;
        r.expect_status(200)?;
        c.snap("security.users.get", &r)?;
        r.expect_content_type("application/vnd.org.jfrog.artifactory.security.User+json")?;
        let v = r.json()?;
        check!(v["name"] == json!(user), "name: {v}");
        check!(
            v["email"] == json!(format!("{user}@example.com")),
            "email: {v}"
        );
        for (field, kind) in [
            ("admin", "boolean"),
            ("profileUpdatable", "boolean"),
            ("internalPasswordDisabled", "boolean"),
            ("disableUIAccess", "boolean"),
            ("realm", "string"),
            ("lastLoggedInMillis", "number"),
        ] {
            let ok = match kind {
                "boolean" => v[field].is_boolean(),
                "string" => v[field].is_string(),
                _ => v[field].is_number(),
            };
            check!(ok, "{field} must be a {kind}: {v}");
        }
        check!(
            v.get("password").is_none() && !r.text().contains(&pw),
            "the password must never be returned"
        );
        // New users join the groups that are joined automatically (readers on a fresh JCR).
        check!(
            v["groups"]
                .as_array()
                .is_some_and(|g| g.contains(&json!("readers"))),
            "groups of a new user: {}",
            v["groups"]
        );
        let r = c
            .send(c.req("GET", "api/repositories").basic(&user, &pw))
            .await?;
        check!(r.status == 200, "the new user's login gave {}", r.status);
        let r = c
            .send(
                c.req("POST", &format!("api/security/users/{user}"))
                    .json(&json!({"email": format!("{user}@example.org")})),
            )
            .await?;
        r.expect_status(200)?;
        c.snap("security.users.update", &r)?;
        let v = c
            .send(c.req("GET", &format!("api/security/users/{user}")))
            .await?
            .json()?;
        check!(
            v["email"] == json!(format!("{user}@example.org")),
            "POST must update the email: {v}"
        );
        let r = c.send(c.req("GET", "api/security/users")).await?;
        r.expect_status(200)?;
        let list = r.json()?;
        c.snap_body(
            "security.users.list",
            None,
            &r,
            &own_rows(&list, &user, &c.prefix),
        )?;
        let row = list
            .as_array()
            .and_then(|a| a.iter().find(|u| u["name"] == json!(user)))
            .cloned()
            .unwrap_or(Value::Null);
        check!(
            row["uri"] == json!(format!("{}/api/security/users/{user}", c.base)),
            "list row: {row}"
        );
        let r = c
            .send(c.req("GET", "api/security/users").basic(&user, &pw))
            .await?;
        r.expect_rest_error(403, "Forbidden")?;
        c.snap("security.users.list", &r)?;
        let r = c
            .send(c.req("DELETE", &format!("api/security/users/{user}")))
            .await?;
        c.snap("security.users.delete", &r)?;
        expect_text(
            &r,
            200,
            &format!("User '{user}' has been removed successfully."),
        )?;
        let r = c
            .send(c.req("GET", &format!("api/security/users/{user}")))
            .await?;
        r.expect_rest_error(404, "Not Found")?;
        c.snap("security.users.get", &r)?;
        let r = c
            .send(c.req("GET", "api/repositories").basic(&user, &pw))
            .await?;
        r.expect_rest_error(401, "Bad credentials")
    })
}

fn groups(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let group = name(&c, "group");
        let path = format!("api/security/groups/{group}");
        let r = c
            .send(
                c.req("PUT", &path)
                    .json(&json!({"description": "conformance", "autoJoin": false})),
            )
            .await?;
        if r.status == 404 || r.status == 405 {
            return Err(Failure::Skip("the target has no groups API".into()));
        }
        r.expect_status(201)?;
        c.snap("security.groups.create", &r)?;
        c.created(Created::Security(path.clone()));
        let (user, _) = make_user(&c, "member", Some(&[group.as_str()])).await?;
        let r = c
            .send(c.req("GET", &format!("{path}?includeUsers=true")))
            .await?;
        r.expect_status(200)?;
        c.snap("security.groups.get", &r)?;
        r.expect_content_type("application/vnd.org.jfrog.artifactory.security.Group+json")?;
        let v = r.json()?;
        check!(
            v["name"] == json!(group)
                && v["description"] == json!("conformance")
                && v["autoJoin"] == json!(false)
                && v["adminPrivileges"] == json!(false),
            "group: {v}"
        );
        check!(
            v["userNames"] == json!([user]),
            "members: {}",
            v["userNames"]
        );
        let v = c.send(c.req("GET", &path)).await?.json()?;
        check!(
            v.get("userNames").is_none(),
            "userNames only with includeUsers: {v}"
        );
        let r = c
            .send(
                c.req("POST", &path)
                    .json(&json!({"description": "changed", "userNames": []})),
            )
            .await?;
        r.expect_status(200)?;
        c.snap("security.groups.update", &r)?;
        let v = c
            .send(c.req("GET", &format!("{path}?includeUsers=true")))
            .await?
            .json()?;
        check!(
            v["description"] == json!("changed") && v["userNames"] == json!([]),
            "after POST: {v}"
        );
        let r = c.send(c.req("GET", "api/security/groups")).await?;
        let list = r.json()?;
        c.snap_body(
            "security.groups.list",
            None,
            &r,
            &own_rows(&list, &group, &c.prefix),
        )?;
        check!(
            list.as_array().is_some_and(|a| a
                .iter()
                .any(|g| g == &json!({"name": group, "uri": format!("{}/{path}", c.base)}))),
            "the list lacks {group}"
        );
        let r = c.send(c.req("DELETE", &path)).await?;
        expect_text(
            &r,
            200,
            &format!("Group '{group}' has been removed successfully."),
        )?;
        c.snap("security.groups.delete", &r)?;
        let r = c.send(c.req("GET", &path)).await?;
        r.expect_rest_error(404, "Not Found")?;
        c.snap("security.groups.get", &r)
    })
}

fn permissions(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (user, pw) = make_user(&c, "scoped", Some(&[])).await?;
        let target = name(&c, "target");
        let path = format!("api/security/permissions/{target}");
        let includes = format!("{}/allowed/**", c.prefix);
        let r = c
            .send(c.req("PUT", &path).json(&json!({
                "includesPattern": includes,
                "repositories": [c.repo],
                "principals": {"users": {user.clone(): ["r", "w"]}}
            })))
            .await?;
        r.expect_status(201)?;
        c.snap("security.permissions.create", &r)?;
        c.created(Created::Security(path.clone()));
        let r = c.send(c.req("GET", &path)).await?;
        r.expect_status(200)?;
        c.snap("security.permissions.get", &r)?;
        r.expect_content_type(
            "application/vnd.org.jfrog.artifactory.security.PermissionTarget+json",
        )?;
        let v = r.json()?;
        check!(
            v["includesPattern"] == json!(includes)
                && v["excludesPattern"] == json!("")
                && v["repositories"] == json!([c.repo]),
            "target: {v}"
        );
        let mut acts: Vec<&str> = v["principals"]["users"][&user]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        acts.sort_unstable();
        check!(acts == ["r", "w"], "actions: {}", v["principals"]);
        let r = c.send(c.req("GET", "api/security/permissions")).await?;
        let list = r.json()?;
        c.snap_body(
            "security.permissions.list",
            None,
            &r,
            &own_rows(&list, &target, &c.prefix),
        )?;
        check!(
            list.as_array()
                .is_some_and(|a| a.iter().any(|p| p["name"] == json!(target))),
            "the list lacks {target}"
        );
        // Enforced: deploy inside the pattern, not outside; reads likewise; no overwrite without d.
        let inside = c.path("allowed/a.txt");
        let r = c
            .send(c.req("PUT", &inside).basic(&user, &pw).body(b"a"))
            .await?;
        r.expect_status(201)?;
        c.created(Created::Item(inside.clone()));
        let r = c
            .send(c.req("PUT", &inside).basic(&user, &pw).body(b"b"))
            .await?;
        r.expect_rest_error(
            403,
            &format!(
                "Not enough permissions to delete/overwrite artifact '{}:{}' (user: '{user}' needs DELETE permission).",
                c.repo,
                crate::case::in_repo(&inside)
            ),
        )?;
        let outside = c.path("other/b.txt");
        let r = c
            .send(c.req("PUT", &outside).basic(&user, &pw).body(b"b"))
            .await?;
        let rel = crate::case::in_repo(&outside);
        r.expect_rest_error(
            403,
            &format!(
                "The user: '{user}' is not permitted to deploy '{rel}' into '{}:{rel}'.",
                c.repo
            ),
        )?;
        c.deploy(&outside, b"b").await?;
        let r = c
            .send(
                c.req("GET", &format!("api/storage/{outside}"))
                    .basic(&user, &pw),
            )
            .await?;
        r.expect_status(403)?;
        check!(
            r.text()
                == format!(
                    "Request for '{}:{rel}' is forbidden for user: '{user}'.",
                    c.repo
                ),
            "storage 403 text: {}",
            r.text()
        );
        let r = c.send(c.req("GET", &inside).basic(&user, &pw)).await?;
        check!(
            r.status == 200,
            "reading inside the pattern gave {}",
            r.status
        );
        // The run's folder shows the user only the folder they may read.
        let v = c
            .send(
                c.req("GET", &format!("api/storage/{}/{}", c.repo, c.prefix))
                    .basic(&user, &pw),
            )
            .await?
            .json()?;
        check!(
            v["children"] == json!([{"uri": "/allowed", "folder": true}]),
            "children visible to the user: {}",
            v["children"]
        );
        let r = c.send(c.req("DELETE", &path)).await?;
        expect_text(
            &r,
            200,
            &format!("Permission Target '{target}' has been removed successfully."),
        )?;
        c.snap("security.permissions.delete", &r)?;
        let r = c.send(c.req("GET", &path)).await?;
        r.expect_rest_error(404, "Not Found")?;
        c.snap("security.permissions.get", &r)?;
        let r = c.send(c.req("GET", &inside).basic(&user, &pw)).await?;
        check!(
            r.status == 403,
            "after the target is gone, reading gave {}",
            r.status
        );
        Ok(())
    })
}

fn lock_policy(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let r = c.send(c.req("GET", "api/security/userLockPolicy")).await?;
        r.expect_status(200)?;
        let old = r.json()?;
        c.snap("security.lock-policy.get", &r)?;
        check!(
            old["enabled"].is_boolean() && old["loginAttempts"].is_number(),
            "policy: {old}"
        );
        let (user, pw) = make_user(&c, "lockable", None).await?;
        let set = |v: Value| c.req("PUT", "api/security/userLockPolicy").json(&v);
        let r = c
            .send(set(json!({"enabled": true, "loginAttempts": 0})))
            .await?;
        expect_text(&r, 400, "LoginAttempts must be between 1 - 100")?;
        c.snap("security.lock-policy.set", &r)?;
        let r = c
            .send(set(json!({"enabled": true, "loginAttempts": 2})))
            .await?;
        let result = async {
            expect_text(&r, 200, "UserLockPolicy was successfully updated")?;
            c.snap("security.lock-policy.set", &r)?;
            let lock = || async {
                for _ in 0..2 {
                    let r = c
                        .send(c.req("GET", "api/repositories").basic(&user, "wrong"))
                        .await?;
                    r.expect_rest_error(401, "Bad credentials")?;
                }
                let r = c
                    .send(c.req("GET", "api/repositories").basic(&user, &pw))
                    .await?;
                check!(
                    r.status == 403,
                    "a locked user must get 403 even with the right password, got {}",
                    r.status
                );
                let locked = c.send(c.req("GET", "api/security/lockedUsers")).await?;
                locked.expect_status(200)?;
                check!(
                    locked
                        .json()?
                        .as_array()
                        .is_some_and(|a| a.contains(&json!(user))),
                    "lockedUsers lacks {user}: {}",
                    locked.text()
                );
                Ok::<(), Failure>(())
            };
            lock().await?;
            let locked = c.send(c.req("GET", "api/security/lockedUsers")).await?;
            c.snap("security.locked-users", &locked)?;
            let r = c
                .send(c.req("POST", &format!("api/security/unlockUsers/{user}")))
                .await?;
            expect_text(
                &r,
                200,
                &format!("The user: '{user}' was successfully unlocked"),
            )?;
            c.snap("security.unlock-user", &r)?;
            let r = c
                .send(c.req("GET", "api/repositories").basic(&user, &pw))
                .await?;
            check!(r.status == 200, "after unlocking, login gave {}", r.status);
            lock().await?;
            let r = c
                .send(
                    c.req("POST", "api/security/unlockUsers")
                        .json(&json!([user])),
                )
                .await?;
            expect_text(&r, 200, "Specified users were successfully unlocked")?;
            c.snap("security.unlock-users", &r)?;
            lock().await?;
            let r = c.send(c.req("POST", "api/security/unlockAllUsers")).await?;
            expect_text(&r, 200, "All users were successfully unlocked")?;
            c.snap("security.unlock-all", &r)?;
            let r = c
                .send(c.req("GET", "api/repositories").basic(&user, &pw))
                .await?;
            check!(
                r.status == 200,
                "after unlocking all, login gave {}",
                r.status
            );
            Ok::<(), Failure>(())
        }
        .await;
        // Put the policy back whatever happened.
        c.send(set(old)).await?.expect_status(200)?;
        result
    })
}

fn encrypted_password(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let (user, pw) = make_user(&c, "enc", None).await?;
        let r = c
            .send(
                c.req("GET", "api/security/encryptedPassword")
                    .basic(&user, &pw),
            )
            .await?;
        r.expect_status(200)?;
        r.expect_content_type("text/plain")?;
        c.snap("security.encrypted-password", &r)?;
        let enc = r.text();
        check!(
            enc.starts_with("AP") && enc.len() > 20 && enc != pw,
            "encrypted password: {enc:?}"
        );
        let r = c
            .send(c.req("GET", "api/repositories").basic(&user, &enc))
            .await?;
        check!(
            r.status == 200,
            "the encrypted password must be accepted as a password, got {}",
            r.status
        );
        let r = c
            .send(c.req("GET", "api/security/encryptedPassword").anonymous())
            .await?;
        check!(r.status == 401, "anonymous: {}", r.status);
        c.snap_as("security.encrypted-password", "anonymous", &r)?;
        Ok(())
    })
}

fn key_encryption(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        let post = |what: &str| c.req("POST", &format!("api/system/{what}"));
        // Find out the current state without changing it for good: decrypt first.
        let r = c.send(post("decrypt")).await?;
        c.snap("system.decrypt", &r)?;
        let was_encrypted = match r.status {
            200 => true,
            409 => {
                expect_text(&r, 409, "Cannot decrypt without artifactory key file")?;
                false
            }
            other => return Err(Failure::Fail(format!("decrypt answered {other}"))),
        };
        let r = c.send(post("encrypt")).await?;
        r.expect_content_type("text/plain")?;
        expect_text(&r, 200, "DONE")?;
        c.snap("system.encrypt", &r)?;
        // Encrypting again is not an error.
        expect_text(&c.send(post("encrypt")).await?, 200, "DONE")?;
        let r = c
            .send(c.req("GET", &format!("api/storage/{}", c.repo)))
            .await?;
        check!(
            r.status == 200,
            "the run's credentials after encrypt: {}",
            r.status
        );
        if !was_encrypted {
            let r = c.send(post("decrypt")).await?;
            expect_text(&r, 200, "DONE")?;
            c.snap("system.decrypt", &r)?;
            let r = c.send(post("decrypt")).await?;
            expect_text(&r, 409, "Cannot decrypt without artifactory key file")?;
        }
        Ok(())
    })
}
