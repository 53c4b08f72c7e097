//! Answers every endpoint shares: wrong credentials. Artifactory authenticates a request before it
//! routes it, so every endpoint of the catalogue, whatever it does and whatever rights it needs,
//! answers wrong Basic credentials with `401 Bad credentials` in its API's error shape and a
//! challenge (behaviour §1 "Wrong password → 401 ... Bad credentials"). Each answer is a snapshot,
//! so the error side of every endpoint is recorded, and a server whose error shape or challenge
//! differs on one route shows up route by route.

use crate::case::{Case, CaseFuture, Ctx, Failure};
use crate::catalogue::Endpoint;
use crate::check;

pub fn cases() -> Vec<Case> {
    vec![Case::new("errors/bad-credentials/every-endpoint", bad_credentials)
        .covers(["system.ping", "storage.file-info", "docker.v2.version"])
        .spec("behaviour §1 (wrong password → 401 Bad credentials); jcr-rest-api.txt Authentication")]
}

/// A concrete request path for an endpoint's template: placeholders get values under the run prefix
/// (nothing is created; the request is refused before it is routed).
pub fn concrete(e: &Endpoint, c: &Ctx) -> String {
    let docker = e.path.starts_with("/api/docker/");
    let image = format!("{}/img", c.prefix.to_lowercase());
    let zero = format!("sha256:{}", "0".repeat(64));
    let mut out = String::new();
    let mut rest = e.path.as_str();
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |i| start + i);
        let name = &rest[start + 1..end];
        let value = match name {
            "repo" | "key" if docker => c.docker_repo.clone(),
            "repo" | "key" => c.repo.clone(),
            "path" => format!("{}/bad-credentials.txt", c.prefix),
            "archive" => format!("{}/bad-credentials.zip", c.prefix),
            "entry" => "entry.txt".into(),
            "image" => image.clone(),
            "digest" => zero.clone(),
            "uuid" => "00000000-0000-0000-0000-000000000000".into(),
            "reference" => "latest".into(),
            "buildName" | "name" | "userName" | "username" | "newName" => c.prefix.clone(),
            "buildNumber" | "older" => "1".into(),
            "target" => format!("{}/{}/copy.txt", c.repo, c.prefix),
            _ => "1".into(),
        };
        out.push_str(&value);
        rest = &rest[(end + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

fn bad_credentials(c: Ctx) -> CaseFuture {
    Box::pin(async move {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        // A user that does not exist: no lock-out policy counts the attempts against a real one.
        let user = format!("{}-nobody", c.prefix);
        // Four at a time: a wrong password costs the server a hash, as a right one does.
        let answers: Vec<(Endpoint, String, crate::case::Response)> =
            stream::iter(crate::catalogue::endpoints())
                .map(|e| {
                    let (c, user) = (c.clone(), user.clone());
                    async move {
                        let path = concrete(&e, &c);
                        let req = match ["/access/", "/router/"]
                            .iter()
                            .find(|p| path.starts_with(*p))
                        {
                            Some(_) => c.req_url(&e.method, &format!("{}{path}", c.root())),
                            None => c.req(&e.method, &path),
                        };
                        let r = c.send(req.basic(&user, "wrong")).await?;
                        Ok::<_, Failure>((e, path, r))
                    }
                })
                .buffered(4)
                .try_collect()
                .await?;
        let mut wrong = Vec::new();
        for (e, path, r) in answers {
            // The Access API answers in its own shape and sends no challenge.
            let challenge = r.header("www-authenticate").is_some() || path.starts_with("/access/");
            if r.status != 401 || !challenge {
                wrong.push(format!("{} {} ({}): {}", e.method, path, e.id, r.status));
                continue;
            }
            c.snap_as(&e.id, "bad-credentials", &r)?;
        }
        check!(
            wrong.is_empty(),
            "not 401 with a challenge for wrong credentials:\n{}",
            wrong.join("\n")
        );
        Ok(())
    })
}
